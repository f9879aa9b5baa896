//! Per-example gradients over candle `Var`s, Hessian-vector products and explicit Hessians.
//!
//! Two mechanisms compute the same per-example gradients:
//! - [`per_example_grads_generic`]: any list of `Var`s and any per-example scalar closure; one
//!   backward pass per example (works for every model, e.g. LoRA parameters of a language model).
//! - [`per_example_grads`]: the batched fast path for models made of affine layers: a zero
//!   "probe" `Var` is added to each layer's pre-activation, one backward pass of the summed
//!   scalars gives every example's pre-activation gradient `δᵢ`, and the weight gradient of
//!   example `i` is the outer product `δᵢ aᵢᵀ` (bias: `δᵢ`).

use candle_core::{DType, Tensor, Var};

use super::data::Dataset;
use super::error::{invalid, Result};
use super::linalg::dot;
use super::model::{Arch, Classifier, Target};

/// A row-major matrix of per-example vectors (n × p), f64.
#[derive(Clone, Debug, PartialEq)]
pub struct GradMatrix {
    pub n: usize,
    pub p: usize,
    pub data: Vec<f64>,
}

impl GradMatrix {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.p..(i + 1) * self.p]
    }
}

/// Flatten the gradients of `vars` (in order) out of a gradient store.
pub fn flatten_grads(grads: &candle_core::backprop::GradStore, vars: &[Var]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for v in vars {
        match grads.get(v.as_tensor()) {
            Some(g) => out.extend(g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?),
            None => out.extend(std::iter::repeat_n(0.0, v.as_tensor().elem_count())),
        }
    }
    Ok(out)
}

/// Generic per-example gradients: `scalar(i)` builds example `i`'s scalar from the `vars`; one
/// backward pass each. Rows are in example order.
pub fn per_example_grads_generic(
    vars: &[Var],
    n: usize,
    mut scalar: impl FnMut(usize) -> Result<Tensor>,
) -> Result<GradMatrix> {
    let p: usize = vars.iter().map(|v| v.as_tensor().elem_count()).sum();
    let mut data = Vec::with_capacity(n * p);
    for i in 0..n {
        let s = scalar(i)?;
        if s.elem_count() != 1 {
            return Err(invalid("per-example scalar must have one element"));
        }
        let grads = s.sum_all()?.backward()?;
        data.extend(flatten_grads(&grads, vars)?);
    }
    Ok(GradMatrix { n, p, data })
}

/// Per-example gradients of a classifier through the generic (one backward per example) path.
pub fn classifier_grads_generic(
    model: &Classifier,
    ds: &Dataset,
    target: Target,
) -> Result<GradMatrix> {
    let x = model.x_tensor(ds)?;
    let oh = model.y_onehot(ds)?;
    let vars = model.vars();
    per_example_grads_generic(&vars, ds.n, |i| {
        let xi = x.narrow(0, i, 1)?;
        let oi = oh.narrow(0, i, 1)?;
        Ok(model
            .per_example(&model.logits(&xi)?, &oi, target)?
            .sum_all()?)
    })
}

/// Batched per-example gradients (probe trick), in chunks of 512 examples.
pub fn per_example_grads(model: &Classifier, ds: &Dataset, target: Target) -> Result<GradMatrix> {
    let p = model.num_params();
    let x = model.x_tensor(ds)?;
    let oh = model.y_onehot(ds)?;
    let mut data = Vec::with_capacity(ds.n * p);
    const CHUNK: usize = 512;
    let mut start = 0;
    while start < ds.n {
        let len = CHUNK.min(ds.n - start);
        let xc = x.narrow(0, start, len)?;
        let oc = oh.narrow(0, start, len)?;
        let (logits, taps) = model.forward_probed(&xc, true)?;
        let s = model.per_example(&logits, &oc, target)?.sum_all()?;
        let grads = s.backward()?;
        let mut blocks = Vec::with_capacity(2 * taps.len());
        for (a, probe) in &taps {
            let probe = probe.as_ref().ok_or_else(|| invalid("probe missing"))?;
            let delta = match grads.get(probe.as_tensor()) {
                Some(g) => g.clone(),
                None => probe.as_tensor().zeros_like()?,
            };
            let gw = delta
                .unsqueeze(2)?
                .broadcast_mul(&a.unsqueeze(1)?)?
                .flatten_from(1)?;
            blocks.push(gw);
            blocks.push(delta);
        }
        let all = Tensor::cat(&blocks, 1)?.to_dtype(DType::F64)?;
        data.extend(all.flatten_all()?.to_vec1::<f64>()?);
        start += len;
    }
    Ok(GradMatrix { n: ds.n, p, data })
}

/// Full-batch objective gradient at flat parameters `theta` (the model's parameters are
/// restored afterwards).
pub fn objective_grad_at(
    model: &Classifier,
    x: &Tensor,
    oh: &Tensor,
    theta: &[f64],
) -> Result<Vec<f64>> {
    let saved = model.params()?;
    model.set_params(theta)?;
    let r = model.objective_grad(x, oh);
    model.set_params(&saved)?;
    Ok(r?.1)
}

/// Hessian-vector product of the training objective by central differences of the gradient
/// (generic over any model; step scaled to `v`).
pub fn hvp_fd(
    model: &Classifier,
    x: &Tensor,
    oh: &Tensor,
    theta: &[f64],
    v: &[f64],
) -> Result<Vec<f64>> {
    let nv = dot(v, v).sqrt();
    if nv == 0.0 {
        return Ok(vec![0.0; v.len()]);
    }
    let tn = dot(theta, theta).sqrt();
    let eps = 1e-5 * (1.0 + tn) / nv;
    let tp: Vec<f64> = theta.iter().zip(v).map(|(t, d)| t + eps * d).collect();
    let tm: Vec<f64> = theta.iter().zip(v).map(|(t, d)| t - eps * d).collect();
    let gp = objective_grad_at(model, x, oh, &tp)?;
    let gm = objective_grad_at(model, x, oh, &tm)?;
    Ok(gp
        .iter()
        .zip(&gm)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect())
}

/// Explicit Hessian of the training objective (p × p, row-major). Logistic regression: the
/// closed form (1/n) Σᵢ (diag pᵢ − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ + λ on weights; other models: p
/// finite-difference Hessian-vector products, symmetrised.
pub fn hessian(model: &Classifier, ds: &Dataset) -> Result<Vec<f64>> {
    let p = model.num_params();
    match model.cfg.arch {
        Arch::LogReg => {
            let (k, d) = (model.cfg.classes, ds.d);
            let probs = model.probabilities(ds)?;
            let dp = d + 1;
            let mut h = vec![0.0; p * p];
            // index of parameter (class a, feature j) with j == d meaning the bias
            let idx = |a: usize, j: usize| if j < d { a * d + j } else { k * d + a };
            let mut block = vec![0.0; dp * dp];
            let mut w = vec![0.0; ds.n];
            for a in 0..k {
                for b in a..k {
                    for i in 0..ds.n {
                        let pi = &probs[i * k..(i + 1) * k];
                        w[i] = pi[a] * (if a == b { 1.0 } else { 0.0 } - pi[b]);
                    }
                    block.iter_mut().for_each(|v| *v = 0.0);
                    let mut xt = vec![0.0; dp];
                    for (i, &wi) in w.iter().enumerate() {
                        xt[..d].copy_from_slice(ds.row(i));
                        xt[d] = 1.0;
                        for j in 0..dp {
                            let c = wi * xt[j];
                            let row = &mut block[j * dp..j * dp + j + 1];
                            for (l, r) in row.iter_mut().enumerate() {
                                *r += c * xt[l];
                            }
                        }
                    }
                    let inv_n = 1.0 / ds.n as f64;
                    for j in 0..dp {
                        for l in 0..=j {
                            let v = block[j * dp + l] * inv_n;
                            let (r1, c1) = (idx(a, j), idx(b, l));
                            let (r2, c2) = (idx(a, l), idx(b, j));
                            h[r1 * p + c1] = v;
                            h[c1 * p + r1] = v;
                            h[r2 * p + c2] = v;
                            h[c2 * p + r2] = v;
                        }
                    }
                }
            }
            let mask = model.penalised_mask();
            for (i, &m) in mask.iter().enumerate() {
                if m {
                    h[i * p + i] += model.cfg.lambda;
                }
            }
            Ok(h)
        }
        Arch::Mlp { .. } => {
            let x = model.x_tensor(ds)?;
            let oh = model.y_onehot(ds)?;
            let theta = model.params()?;
            let mut h = vec![0.0; p * p];
            let mut e = vec![0.0; p];
            for j in 0..p {
                e[j] = 1.0;
                let col = hvp_fd(model, &x, &oh, &theta, &e)?;
                e[j] = 0.0;
                for i in 0..p {
                    h[i * p + j] = col[i];
                }
            }
            for i in 0..p {
                for j in 0..i {
                    let s = 0.5 * (h[i * p + j] + h[j * p + i]);
                    h[i * p + j] = s;
                    h[j * p + i] = s;
                }
            }
            Ok(h)
        }
    }
}
