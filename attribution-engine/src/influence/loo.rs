//! Approximate leave-one-out (ALO) self-influence: how much an example's own loss would rise if
//! it were left out of training, predicted by one Newton step on the leave-one-out objective
//! `L(θ) − ℓᵢ(θ)/n` from the trained optimum θ̂ (the removal, ε = −1/n, that influence
//! functions linearise).
//!
//! The plain estimate `(1/n) gᵢᵀ H⁻¹ gᵢ` takes the Hessian H of the full objective, which still
//! holds the example's own curvature `Hᵢ/n`: a flipped label that the model bends to fit is
//! partly "explained" by itself. Without it the step is `Δθᵢ = (1/n) (H − Hᵢ/n)⁻¹ gᵢ`.
//! `Hᵢ = VᵢVᵢᵀ` has rank ≤ K (classes): `Vᵢ = Jᵢᵀ Bᵢ` with `Jᵢ` the logit Jacobian (K × p) and
//! `Bᵢ = diag √pᵢ − pᵢ √pᵢᵀ` (`BᵢBᵢᵀ = diag pᵢ − pᵢpᵢᵀ`, the softmax curvature), so Woodbury
//! needs only H⁻¹ and a K × K solve:
//!
//! `Δθᵢ = (H⁻¹gᵢ + H⁻¹Vᵢ (nI − C)⁻¹ b) / n`, `b = VᵢᵀH⁻¹gᵢ`, `C = VᵢᵀH⁻¹Vᵢ`.
//!
//! The self-influence `sᵢ` is the cross-entropy at the moved logits `zᵢ + JᵢΔθᵢ` minus the loss
//! at θ̂. Its first-order term is `gᵢᵀΔθᵢ = (1/n) gᵢᵀ (H − Hᵢ/n)⁻¹ gᵢ`; evaluating the loss
//! itself keeps its curvature along the step, which matters for the badly fitted examples
//! (a flipped label's loss rises far more than linearly). For logistic regression `VᵢVᵢᵀ` is
//! the example's exact Hessian and this is the classic approximate leave-one-out of a GLM; for
//! the MLP it is the Gauss–Newton part of it.
//!
//! `ℓᵢ(θ̂) + sᵢ` is the predicted leave-one-out loss, the score exact IF ranks mislabelled
//! examples by: a flipped label is badly fitted even with itself in the training set (high
//! loss) and fitted at all only because it is there (high sᵢ); either signal alone also flags
//! correct examples that are merely hard or of high leverage.

use rayon::prelude::*;

use super::data::Dataset;
use super::error::Result;
use super::grads::{per_example_grads, GradMatrix};
use super::linalg::{dot, Cholesky};
use super::model::{Classifier, Target};

/// Per training example: its loss at θ̂ and the predicted rise of that loss if it is left out.
#[derive(Clone, Debug, PartialEq)]
pub struct LooEstimate {
    pub loss: Vec<f64>,
    pub self_influence: Vec<f64>,
}

impl LooEstimate {
    /// Predicted leave-one-out loss `ℓᵢ(θ̂) + sᵢ`.
    pub fn loo_loss(&self) -> Vec<f64> {
        self.loss
            .iter()
            .zip(&self.self_influence)
            .map(|(l, s)| l + s)
            .collect()
    }
}

/// How H⁻¹ (the full objective's inverse Hessian) is applied.
pub enum InverseHessian<'a> {
    /// Explicit inverse (p × p, row-major, symmetric): examples run in parallel.
    Explicit(&'a [f64]),
    /// Any solver, e.g. conjugate gradient on finite-difference HVPs (which set the model's
    /// parameters, so examples run one after the other).
    Solver(&'a mut dyn FnMut(&[f64]) -> Result<Vec<f64>>),
}

/// Leave-one-out estimates of every training example of a model trained on `train`.
pub fn loo_self_influence(
    model: &Classifier,
    train: &Dataset,
    inv: InverseHessian,
) -> Result<LooEstimate> {
    let k = model.cfg.classes;
    let g = per_example_grads(model, train, Target::Loss)?;
    let jac: Vec<GradMatrix> = (0..k)
        .map(|c| per_example_grads(model, train, Target::Logit(c)))
        .collect::<Result<_>>()?;
    let probs = model.probabilities(train)?;
    let n = train.n;
    let loss: Vec<f64> = (0..n)
        .map(|i| -probs[i * k + train.y[i]].max(f64::MIN_POSITIVE).ln())
        .collect();
    let example = |i: usize| Example {
        g: g.row(i),
        jac: jac.iter().map(|j| j.row(i)).collect(),
        p: &probs[i * k..(i + 1) * k],
        y: train.y[i],
    };
    let self_influence = match inv {
        InverseHessian::Explicit(h_inv) => {
            let p = g.p;
            let apply = |v: &[f64]| -> Result<Vec<f64>> {
                Ok((0..p).map(|r| dot(&h_inv[r * p..(r + 1) * p], v)).collect())
            };
            (0..n)
                .into_par_iter()
                .map(|i| example(i).loo_rise(n, apply))
                .collect::<Result<Vec<_>>>()?
        }
        InverseHessian::Solver(solve) => (0..n)
            .map(|i| example(i).loo_rise(n, &mut *solve))
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(LooEstimate {
        loss,
        self_influence,
    })
}

/// One training example: loss gradient, logit Jacobian rows, probabilities, label.
struct Example<'a> {
    g: &'a [f64],
    jac: Vec<&'a [f64]>,
    p: &'a [f64],
    y: usize,
}

impl Example<'_> {
    /// Columns `v_m = √p_m (∇z_m − Σ_c p_c ∇z_c)` of `Vᵢ = Jᵢᵀ Bᵢ` (`VᵢVᵢᵀ = Jᵢᵀ(diag p − ppᵀ)Jᵢ`).
    fn gauss_newton_factor(&self) -> Vec<Vec<f64>> {
        let mut mean = vec![0.0; self.g.len()];
        for (c, row) in self.jac.iter().enumerate() {
            for (m, v) in mean.iter_mut().zip(row.iter()) {
                *m += self.p[c] * v;
            }
        }
        self.jac
            .iter()
            .enumerate()
            .map(|(m, row)| {
                let s = self.p[m].sqrt();
                row.iter().zip(&mean).map(|(a, b)| s * (a - b)).collect()
            })
            .collect()
    }

    /// Rise of the example's loss at the leave-one-out step (see the module docs).
    fn loo_rise(&self, n: usize, mut apply: impl FnMut(&[f64]) -> Result<Vec<f64>>) -> Result<f64> {
        let v = self.gauss_newton_factor();
        let k = v.len();
        let hg = apply(self.g)?;
        let hv: Vec<Vec<f64>> = v.iter().map(|c| apply(c)).collect::<Result<_>>()?;
        let b: Vec<f64> = v.iter().map(|c| dot(c, &hg)).collect();
        let mut m = vec![0.0; k * k];
        for r in 0..k {
            for c in 0..k {
                // Symmetrised: C is symmetric up to the solver's rounding.
                let crc = 0.5 * (dot(&v[r], &hv[c]) + dot(&v[c], &hv[r]));
                m[r * k + c] = if r == c { n as f64 - crc } else { -crc };
            }
        }
        let x = Cholesky::factor(&m, k)?.solve(&b);
        // Δθ = (H⁻¹g + H⁻¹V (nI − C)⁻¹ b) / n
        let mut step = hg;
        for (xm, hvm) in x.iter().zip(&hv) {
            super::linalg::axpy(*xm, hvm, &mut step);
        }
        step.iter_mut().for_each(|s| *s /= n as f64);
        // Cross-entropy at the moved logits, from log-probabilities (shift-invariant).
        let moved: Vec<f64> = self
            .jac
            .iter()
            .zip(self.p)
            .map(|(row, p)| p.max(f64::MIN_POSITIVE).ln() + dot(row, &step))
            .collect();
        let top = moved.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = top + moved.iter().map(|z| (z - top).exp()).sum::<f64>().ln();
        let loss = -self.p[self.y].max(f64::MIN_POSITIVE).ln();
        Ok(lse - moved[self.y] - loss)
    }
}
