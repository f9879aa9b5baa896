//! Small dense linear algebra over `f64` slices (row-major), with fixed reduction order so that
//! results do not depend on the thread count: Cholesky with stated damping, triangular solves,
//! conjugate gradient, and the rank statistics of the evaluation harness.

use super::error::{InfluenceError, Result};

/// Dot product, sequential left-to-right (a fixed reduction order).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four fixed lanes, combined in a fixed order: vectorisable yet deterministic.
    let mut acc = [0.0f64; 4];
    let chunks = a.len() / 4;
    for c in 0..chunks {
        let i = 4 * c;
        acc[0] += a[i] * b[i];
        acc[1] += a[i + 1] * b[i + 1];
        acc[2] += a[i + 2] * b[i + 2];
        acc[3] += a[i + 3] * b[i + 3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for i in 4 * chunks..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[inline]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Lower-triangular Cholesky factor of a symmetric positive-definite matrix, with the damping
/// that was needed to make it so.
#[derive(Clone, Debug)]
pub struct Cholesky {
    pub n: usize,
    pub l: Vec<f64>,
    /// Damping δ added to the diagonal (0 when the matrix was positive definite as given).
    pub damping: f64,
}

fn try_cholesky(a: &[f64], n: usize, damping: f64, rel_tol: f64) -> Option<Vec<f64>> {
    let max_diag = (0..n)
        .map(|i| a[i * n + i].abs())
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut d = a[j * n + j] + damping - dot(&l[j * n..j * n + j], &l[j * n..j * n + j]);
        if !d.is_finite() || d <= rel_tol * max_diag {
            return None;
        }
        d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let s = a[i * n + j] - dot(&l[i * n..i * n + j], &l[j * n..j * n + j]);
            l[i * n + j] = s / d;
        }
    }
    Some(l)
}

impl Cholesky {
    /// Factor `a` (n×n, symmetric). If a pivot falls below `1e-10 · max diag` the matrix is
    /// treated as singular and the smallest damping `δ = 1e-8 · mean diag · 10^j` (j = 0, 1, …)
    /// that makes it factorisable is added, up to `1e-2 · mean diag` (a matrix that needs more is
    /// not a near-singular PSD matrix and is an error); the damping used is reported in
    /// `self.damping`.
    pub fn factor(a: &[f64], n: usize) -> Result<Self> {
        Self::factor_with(a, n, 0.0)
    }

    /// As [`Cholesky::factor`], with an explicit minimum damping.
    pub fn factor_with(a: &[f64], n: usize, min_damping: f64) -> Result<Self> {
        if a.len() != n * n {
            return Err(super::error::invalid("matrix shape mismatch"));
        }
        if a.iter().any(|v| !v.is_finite()) {
            return Err(super::error::invalid("matrix has non-finite entries"));
        }
        const REL: f64 = 1e-10;
        if let Some(l) = try_cholesky(a, n, min_damping, REL) {
            return Ok(Self {
                n,
                l,
                damping: min_damping,
            });
        }
        let mean_diag =
            ((0..n).map(|i| a[i * n + i].abs()).sum::<f64>() / n.max(1) as f64).max(1e-300);
        let mut damping = (1e-8 * mean_diag).max(min_damping);
        for _ in 0..7 {
            if let Some(l) = try_cholesky(a, n, damping, REL) {
                return Ok(Self { n, l, damping });
            }
            damping *= 10.0;
        }
        Err(InfluenceError::NotPositiveDefinite { damping })
    }

    /// Solve `(A + δI) x = b` in place.
    pub fn solve_in_place(&self, b: &mut [f64]) {
        let n = self.n;
        let l = &self.l;
        for i in 0..n {
            let s = b[i] - dot(&l[i * n..i * n + i], &b[..i]);
            b[i] = s / l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = b[i];
            for k in i + 1..n {
                s -= l[k * n + i] * b[k];
            }
            b[i] = s / l[i * n + i];
        }
    }

    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let mut x = b.to_vec();
        self.solve_in_place(&mut x);
        x
    }

    /// The explicit inverse (symmetric), for precomputing index features.
    pub fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            self.solve_in_place(&mut e);
            for i in 0..n {
                inv[i * n + j] = e[i];
            }
        }
        inv
    }
}

/// Conjugate gradient for `(A + δI) x = b` with `A` given as a matrix-vector product.
/// Returns the solution and the number of iterations; errors if not converged.
pub fn conjugate_gradient(
    mut matvec: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    b: &[f64],
    damping: f64,
    tol: f64,
    max_iter: usize,
) -> Result<(Vec<f64>, usize)> {
    let n = b.len();
    let mut x = vec![0.0; n];
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rs = dot(&r, &r);
    let b_norm = rs.sqrt();
    if b_norm == 0.0 {
        return Ok((x, 0));
    }
    for it in 0..max_iter {
        if rs.sqrt() <= tol * b_norm {
            return Ok((x, it));
        }
        let mut ap = matvec(&p)?;
        axpy(damping, &p, &mut ap);
        let pap = dot(&p, &ap);
        if pap.is_nan() || pap <= 0.0 {
            return Err(InfluenceError::NotPositiveDefinite { damping });
        }
        let alpha = rs / pap;
        axpy(alpha, &p, &mut x);
        axpy(-alpha, &ap, &mut r);
        let rs_new = dot(&r, &r);
        let beta = rs_new / rs;
        for (pi, ri) in p.iter_mut().zip(&r) {
            *pi = ri + beta * *pi;
        }
        rs = rs_new;
    }
    if rs.sqrt() <= tol * b_norm {
        Ok((x, max_iter))
    } else {
        Err(InfluenceError::NoConvergence(format!(
            "conjugate gradient: relative residual {:.3e} after {max_iter} iterations",
            rs.sqrt() / b_norm
        )))
    }
}

/// Ranks (1-based) with ties given their average rank.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; `None` if either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

/// Spearman rank correlation (Pearson of average ranks); `None` if either side is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    pearson(&ranks(a), &ranks(b))
}

/// Area under the ROC curve of `scores` for the positives in `labels` (Mann–Whitney, ties
/// counted one half). `None` if there are no positives or no negatives.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let r = ranks(scores);
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let sum_pos: f64 = r
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l)
        .map(|(r, _)| *r)
        .sum();
    Some((sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos as f64 * n_neg as f64))
}
