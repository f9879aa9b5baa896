//! Evaluation harness: linear datamodeling score (LDS) against retraining on random subsets,
//! and mislabel detection (ROC AUC of the predicted leave-one-out loss or self-influence).
//! These are the numbers every quality claim about the engine quotes.

use rayon::prelude::*;

use super::data::Dataset;
use super::error::{invalid, Result};
use super::linalg::{roc_auc, spearman};
use super::methods::{leave_one_out, self_influence, Method, MethodOptions, Scores};
use super::model::{Arch, Classifier};
use super::rng::SplitMix64;

/// LDS settings: `subsets` random subsets of size ⌊alpha·n⌋, drawn with `seed`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LdsOptions {
    pub subsets: usize,
    pub alpha: f64,
    pub seed: u64,
}

impl Default for LdsOptions {
    fn default() -> Self {
        Self {
            subsets: 100,
            alpha: 0.5,
            seed: 0,
        }
    }
}

/// Retraining outcomes: the subsets and the retrained models' margins on the test set.
#[derive(Clone, Debug)]
pub struct Retrains {
    pub subsets: Vec<Vec<usize>>,
    /// `margins[s][j]`: margin of test example j under the model retrained on subset s.
    pub margins: Vec<Vec<f64>>,
    /// Subsets whose training did not reach the gradient tolerance.
    pub not_converged: usize,
}

/// Draw the subsets and retrain on each (in parallel; each retrain is deterministic and
/// results are collected in subset order). Logistic regression is warm-started from the full
/// model's optimum (the optimum is unique, so only the time changes); the MLP is retrained
/// from the same seeded initialisation as the full model.
pub fn retrain_subsets(
    full: &Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &LdsOptions,
) -> Result<Retrains> {
    if opts.subsets < 2 {
        return Err(invalid("LDS needs at least 2 subsets"));
    }
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(invalid("alpha must be in (0, 1)"));
    }
    let size = (opts.alpha * train.n as f64).floor() as usize;
    if size < full.cfg.classes {
        return Err(invalid(format!(
            "subsets of {size} rows are too small for {} classes",
            full.cfg.classes
        )));
    }
    let subsets: Vec<Vec<usize>> = (0..opts.subsets)
        .map(|s| SplitMix64::stream(opts.seed, s as u64).subset(train.n, size))
        .collect();
    let warm = full.params()?;
    let results: Vec<Result<(Vec<f64>, bool)>> = subsets
        .par_iter()
        .map(|idx| {
            let sub = train.select(idx);
            let mut m = Classifier::new(full.cfg.clone(), full.d)?;
            if full.cfg.arch == Arch::LogReg {
                m.set_params(&warm)?;
            }
            let rep = m.train(&sub)?;
            Ok((m.margins(test)?, rep.converged))
        })
        .collect();
    let mut margins = Vec::with_capacity(subsets.len());
    let mut not_converged = 0;
    for r in results {
        let (m, c) = r?;
        margins.push(m);
        not_converged += usize::from(!c);
    }
    Ok(Retrains {
        subsets,
        margins,
        not_converged,
    })
}

/// LDS of a score matrix against retraining outcomes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LdsResult {
    /// Mean Spearman correlation over test examples with a defined correlation.
    pub lds: f64,
    pub per_test: Vec<Option<f64>>,
    pub test_examples_used: usize,
}

pub fn lds(scores: &Scores, retrains: &Retrains) -> Result<LdsResult> {
    if retrains.margins.iter().any(|m| m.len() != scores.n_test) {
        return Err(invalid(
            "retrained margins do not match the scored test set",
        ));
    }
    let per_test: Vec<Option<f64>> = (0..scores.n_test)
        .map(|j| {
            let row = scores.row(j);
            let pred: Vec<f64> = retrains
                .subsets
                .iter()
                .map(|s| s.iter().map(|&i| row[i]).sum::<f64>())
                .collect();
            let actual: Vec<f64> = retrains.margins.iter().map(|m| m[j]).collect();
            spearman(&pred, &actual)
        })
        .collect();
    let used: Vec<f64> = per_test.iter().flatten().copied().collect();
    if used.is_empty() {
        return Err(invalid(
            "LDS undefined: every test example has constant scores or margins",
        ));
    }
    Ok(LdsResult {
        lds: used.iter().sum::<f64>() / used.len() as f64,
        test_examples_used: used.len(),
        per_test,
    })
}

/// Mislabel-detection settings.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MislabelOptions {
    pub fraction: f64,
    pub seed: u64,
}

impl Default for MislabelOptions {
    fn default() -> Self {
        Self {
            fraction: 0.1,
            seed: 0,
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct MislabelResult {
    pub auc: f64,
    pub flipped: Vec<usize>,
    pub n: usize,
    /// The ranking score of every example (see [`mislabel_scores`]).
    pub scores: Vec<f64>,
}

/// Suspicion score of every training example, higher = more likely mislabelled. Exact IF
/// (unprojected): the predicted leave-one-out loss `ℓᵢ + sᵢ` (see [`loo`](super::loo)), the
/// loss the example would have if the model had not seen it. Other methods: their
/// self-influence, which has no calibrated loss scale to add the loss to.
pub fn mislabel_scores(
    model: &Classifier,
    train: &Dataset,
    method: &MethodOptions,
) -> Result<Vec<f64>> {
    if method.method == Method::If && method.projection.is_none() {
        Ok(leave_one_out(model, train, method)?.loo_loss())
    } else {
        self_influence(model, train, method)
    }
}

/// Flip `fraction` of the labels (each to a uniformly drawn other class).
pub fn flip_labels(
    train: &Dataset,
    classes: usize,
    opts: &MislabelOptions,
) -> Result<(Dataset, Vec<usize>)> {
    if !(opts.fraction > 0.0 && opts.fraction < 1.0) {
        return Err(invalid("fraction must be in (0, 1)"));
    }
    if classes < 2 {
        return Err(invalid("need at least 2 classes"));
    }
    let count = ((opts.fraction * train.n as f64).round() as usize).max(1);
    let mut rng = SplitMix64::stream(opts.seed, 0xF11B);
    let flipped = rng.subset(train.n, count);
    let mut ds = train.clone();
    for &i in &flipped {
        ds.y[i] = (ds.y[i] + 1 + rng.below(classes as u64 - 1) as usize) % classes;
    }
    Ok((ds, flipped))
}

/// Train on the corrupted set and rank training examples by [`mislabel_scores`].
pub fn mislabel_detection(
    template: &Classifier,
    train: &Dataset,
    method: &MethodOptions,
    opts: &MislabelOptions,
) -> Result<MislabelResult> {
    let (noisy, flipped) = flip_labels(train, template.cfg.classes, opts)?;
    let mut m = Classifier::new(template.cfg.clone(), template.d)?;
    m.train(&noisy)?;
    let scores = mislabel_scores(&m, &noisy, method)?;
    let mut is_flipped = vec![false; train.n];
    for &i in &flipped {
        is_flipped[i] = true;
    }
    let auc = roc_auc(&scores, &is_flipped).ok_or_else(|| invalid("AUC undefined"))?;
    Ok(MislabelResult {
        auc,
        flipped,
        n: train.n,
        scores,
    })
}
