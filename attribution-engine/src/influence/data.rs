//! Tabular data: CSV with numeric feature columns, an integer label column and an optional
//! contribution-id column; standardisation with training statistics.

use super::error::{invalid, InfluenceError, Result};

/// A labelled tabular data set (row-major features).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `n × d` features, row-major.
    pub x: Vec<f64>,
    /// Labels in `0..classes`.
    pub y: Vec<usize>,
    /// Datanet contribution id of each row (the row index when the CSV has none).
    pub contributions: Vec<u64>,
    pub n: usize,
    pub d: usize,
    pub feature_names: Vec<String>,
}

/// Which columns of a CSV play which role.
#[derive(Clone, Debug)]
pub struct CsvColumns {
    /// Name of the label column (default `label`; the last column if absent and `None`).
    pub label: Option<String>,
    /// Name of the contribution-id column (default `contribution`, optional in the file).
    pub contribution: String,
}

impl Default for CsvColumns {
    fn default() -> Self {
        Self {
            label: Some("label".into()),
            contribution: "contribution".into(),
        }
    }
}

impl Dataset {
    /// Build from in-memory rows, validating shapes and values.
    pub fn new(
        x: Vec<f64>,
        y: Vec<usize>,
        contributions: Option<Vec<u64>>,
        d: usize,
    ) -> Result<Self> {
        if d == 0 {
            return Err(invalid("data set needs at least one feature"));
        }
        if !x.len().is_multiple_of(d) || x.len() / d != y.len() {
            return Err(invalid(format!(
                "{} feature values for {} rows of {d} features",
                x.len(),
                y.len()
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(InfluenceError::NonFinite {
                file: "<memory>".into(),
                line: i / d,
                column: format!("f{}", i % d),
                value: x[i].to_string(),
            });
        }
        let n = y.len();
        let contributions = match contributions {
            Some(c) if c.len() != n => {
                return Err(invalid("contribution ids do not match the row count"))
            }
            Some(c) => c,
            None => (0..n as u64).collect(),
        };
        Ok(Self {
            x,
            y,
            contributions,
            n,
            d,
            feature_names: (0..d).map(|j| format!("f{j}")).collect(),
        })
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.d..(i + 1) * self.d]
    }

    /// Number of classes implied by the labels (max + 1).
    pub fn inferred_classes(&self) -> usize {
        self.y.iter().copied().max().map_or(0, |m| m + 1)
    }

    /// The rows listed in `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Self {
        let mut x = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Self {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            contributions: idx.iter().map(|&i| self.contributions[i]).collect(),
            n: idx.len(),
            d: self.d,
            feature_names: self.feature_names.clone(),
        }
    }

    /// Check labels against a class count.
    pub fn check_labels(&self, classes: usize, what: &str) -> Result<()> {
        if let Some(i) = self.y.iter().position(|&l| l >= classes) {
            return Err(InfluenceError::LabelOutOfRange {
                file: what.into(),
                line: i + 2,
                label: self.y[i].to_string(),
                classes,
            });
        }
        Ok(())
    }

    /// Read a CSV file (header row, comma separated).
    pub fn from_csv(path: &str, cols: &CsvColumns) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| InfluenceError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_csv_str(&text, path, cols)
    }

    /// Parse CSV text; `file` names it in errors.
    pub fn from_csv_str(text: &str, file: &str, cols: &CsvColumns) -> Result<Self> {
        let csv_err = |m: String| InfluenceError::Csv {
            file: file.into(),
            message: m,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| csv_err("empty file".into()))?;
        let names: Vec<String> = header
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect();
        let label_idx = match &cols.label {
            Some(l) => names
                .iter()
                .position(|n| n == l)
                .ok_or_else(|| csv_err(format!("no label column `{l}` in header")))?,
            None => names.len() - 1,
        };
        let contrib_idx = names.iter().position(|n| *n == cols.contribution);
        let feat_idx: Vec<usize> = (0..names.len())
            .filter(|&j| j != label_idx && Some(j) != contrib_idx)
            .collect();
        if feat_idx.is_empty() {
            return Err(csv_err("no feature columns".into()));
        }
        let d = feat_idx.len();
        let (mut x, mut y, mut contributions) = (Vec::new(), Vec::new(), Vec::new());
        for (ln, line) in lines {
            let line_no = ln + 1;
            let cells: Vec<&str> = line
                .split(',')
                .map(|s| s.trim().trim_matches('"'))
                .collect();
            if cells.len() != names.len() {
                return Err(csv_err(format!(
                    "line {line_no} has {} cells, the header has {}",
                    cells.len(),
                    names.len()
                )));
            }
            for &j in &feat_idx {
                let v: f64 = cells[j].parse().map_err(|_| InfluenceError::NonNumeric {
                    file: file.into(),
                    line: line_no,
                    column: names[j].clone(),
                    cell: cells[j].into(),
                })?;
                if !v.is_finite() {
                    return Err(InfluenceError::NonFinite {
                        file: file.into(),
                        line: line_no,
                        column: names[j].clone(),
                        value: cells[j].into(),
                    });
                }
                x.push(v);
            }
            let lab = cells[label_idx];
            let label: usize = parse_int(lab).ok_or_else(|| InfluenceError::BadLabel {
                file: file.into(),
                line: line_no,
                label: lab.into(),
            })?;
            y.push(label);
            if let Some(c) = contrib_idx {
                let id: u64 = cells[c].parse().map_err(|_| InfluenceError::NonNumeric {
                    file: file.into(),
                    line: line_no,
                    column: names[c].clone(),
                    cell: cells[c].into(),
                })?;
                contributions.push(id);
            }
        }
        if y.is_empty() {
            return Err(csv_err("no data rows".into()));
        }
        let mut ds = Self::new(x, y, contrib_idx.map(|_| contributions), d)?;
        ds.feature_names = feat_idx.iter().map(|&j| names[j].clone()).collect();
        Ok(ds)
    }
}

/// Integer labels: `3`, or a float with no fractional part such as `3.0`.
fn parse_int(s: &str) -> Option<usize> {
    if let Ok(v) = s.parse::<usize>() {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1e15).then_some(f as usize)
}

/// Per-feature standardisation `(x − mean) / std` with training statistics
/// (constant features keep std 1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Standardizer {
    pub fn fit(ds: &Dataset) -> Self {
        let (n, d) = (ds.n as f64, ds.d);
        let mut mean = vec![0.0; d];
        for i in 0..ds.n {
            for (m, v) in mean.iter_mut().zip(ds.row(i)) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for i in 0..ds.n {
            for ((s, v), m) in var.iter_mut().zip(ds.row(i)).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        let std = var.iter().map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-12 {
                sd
            } else {
                1.0
            }
        });
        Self {
            mean,
            std: std.collect(),
        }
    }

    pub fn apply(&self, ds: &Dataset) -> Result<Dataset> {
        if ds.d != self.mean.len() {
            return Err(InfluenceError::FeatureMismatch {
                what: "data set".into(),
                got: ds.d,
                expected: self.mean.len(),
            });
        }
        let mut out = ds.clone();
        for i in 0..ds.n {
            for j in 0..ds.d {
                out.x[i * ds.d + j] = (ds.x[i * ds.d + j] - self.mean[j]) / self.std[j];
            }
        }
        Ok(out)
    }
}
