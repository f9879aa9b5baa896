//! Attribution methods. Every method is written as a pair of feature matrices, one row per
//! test example (`T`) and one per training example (`U`), such that
//! `score(test j, train i) = ⟨T_j, U_i⟩`: the estimated increase of test example j's margin
//! caused by training on example i (positive: i pushed the model towards its prediction;
//! negative: harmful). With a projection P, both sides are projected.
//!
//! - Exact influence functions: `T = ∇f(z)`, `U_i = −H⁻¹∇ℓ_i` with the explicit Hessian and a
//!   Cholesky factor when p ≤ `max_explicit_params`; otherwise `T = H⁻¹∇f(z)` by conjugate
//!   gradient on Hessian-vector products and `U_i = −∇ℓ_i`. Damping is added only if the
//!   Hessian is singular and is reported.
//! - TracIn: `Σ_c η_c ⟨∇f(z; θ_c), −∇ℓ_i(θ_c)⟩` over the stored checkpoints.
//! - TRAK: φ = (projected) margin gradients, `U_i = (ΦᵀΦ + λI)⁻¹ φ_i (1 − p_i)` with `p_i` the
//!   probability of the true class, `T = φ(z)`; λ defaults to n·λ_model.
//! - DataInf: per layer l, `(H_l + λ_l I)⁻¹ ≈ (1/(nλ_l)) Σ_i (I − g_i g_iᵀ/(λ_l + ‖g_i‖²))`,
//!   λ_l = 0.1 · mean ‖g_i‖² over the layer, applied on the test side.
//!
//! f(z) is the multiclass margin and ℓ the cross-entropy (see [`Target`]). All maths is in f64
//! on an f64 copy of the model; reductions have a fixed order, so results do not depend on the
//! thread count.

use rayon::prelude::*;

use super::data::Dataset;
use super::error::{invalid, InfluenceError, Result};
use super::grads::{hessian, hvp_fd, per_example_grads, GradMatrix};
use super::linalg::{conjugate_gradient, dot, Cholesky};
use super::loo::{loo_self_influence, InverseHessian, LooEstimate};
use super::model::{Classifier, Target};
use super::projection::Projector;

/// Attribution method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    If,
    TracIn,
    Trak,
    DataInf,
}

impl Method {
    pub const ALL: [Method; 4] = [Method::If, Method::TracIn, Method::Trak, Method::DataInf];

    pub fn name(&self) -> &'static str {
        match self {
            Method::If => "if",
            Method::TracIn => "tracin",
            Method::Trak => "trak",
            Method::DataInf => "datainf",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = InfluenceError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "if" | "exact" | "influence" => Ok(Method::If),
            "tracin" => Ok(Method::TracIn),
            "trak" => Ok(Method::Trak),
            "datainf" => Ok(Method::DataInf),
            other => Err(invalid(format!(
                "unknown method `{other}` (if, tracin, trak, datainf)"
            ))),
        }
    }
}

/// Options of a scoring run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MethodOptions {
    pub method: Method,
    /// Random projection (k, seed); `None`: unprojected gradients.
    pub projection: Option<(usize, u64)>,
    /// TRAK's λ (default n·λ_model, or 1e-6 · mean diag of ΦᵀΦ when λ_model = 0).
    pub trak_lambda: Option<f64>,
    /// DataInf's λ_l as a multiple of the layer's mean squared gradient norm.
    pub datainf_scale: f64,
    /// Largest parameter count for the explicit Hessian (exact IF) or the unprojected TRAK
    /// kernel; above it IF uses conjugate gradient and TRAK requires a projection.
    pub max_explicit_params: usize,
    pub cg_tol: f64,
    pub cg_max_iter: usize,
    /// Number of independent projections (seeds `seed`, `seed + 1`, …) whose scores are
    /// averaged (TRAK's ensembling; for a convex model the trained model is unique, so the
    /// ensemble is over projections). `None`: the method's default, see
    /// [`MethodOptions::ensemble_size`].
    pub ensemble: Option<usize>,
}

/// Upper bound of TRAK's default ensemble size (index width and scoring time grow with it).
pub const MAX_DEFAULT_ENSEMBLE: usize = 10;

impl MethodOptions {
    pub fn new(method: Method) -> Self {
        Self {
            method,
            projection: None,
            trak_lambda: None,
            datainf_scale: 0.1,
            max_explicit_params: 4096,
            cg_tol: 1e-10,
            cg_max_iter: 2000,
            ensemble: None,
        }
    }

    /// Projections averaged for a model with `params` parameters. An explicit `ensemble` wins.
    /// TRAK's default is ⌈p/k⌉ (at most [`MAX_DEFAULT_ENSEMBLE`]): one k-dimensional JL
    /// projection of a kernel inverse is noisy (digits, p = 650: LDS 0.49 at k = 128 against
    /// 0.56 unprojected), averaging independent ones cuts the noise as TRAK's own ensembles do,
    /// and with ⌈p/k⌉ members the stored width E·k stays about p, no more than the gradient
    /// itself. k ≥ p gives 1: a single projection is then an exact isometry. Other methods: 1
    /// (TracIn and DataInf are linear in the projection, so averaging only widens it).
    pub fn ensemble_size(&self, params: usize) -> usize {
        match (self.ensemble, self.projection) {
            (Some(e), _) => e,
            (None, Some((k, _))) if self.method == Method::Trak && k > 0 => {
                params.div_ceil(k).clamp(1, MAX_DEFAULT_ENSEMBLE)
            }
            _ => 1,
        }
    }

    pub fn projected(mut self, k: usize, seed: u64) -> Self {
        self.projection = Some((k, seed));
        self
    }
}

/// Test-side and train-side features of a method (score = row dot product).
#[derive(Clone, Debug)]
pub struct Features {
    pub test: GradMatrix,
    pub train: GradMatrix,
    /// Damping added to a singular Hessian / kernel (0 if none was needed).
    pub damping: f64,
    /// How the inverse was applied ("cholesky", "cg", "closed-form", "none").
    pub solver: String,
    /// Regularisation the method used on top of the model's (TRAK's λ, DataInf's λ_l).
    pub method_lambda: Vec<f64>,
}

fn check(model: &Classifier, train: &Dataset, test: &Dataset) -> Result<()> {
    for (what, ds) in [("training set", train), ("test set", test)] {
        if ds.d != model.d {
            return Err(InfluenceError::FeatureMismatch {
                what: what.into(),
                got: ds.d,
                expected: model.d,
            });
        }
        ds.check_labels(model.cfg.classes, what)?;
    }
    if train.n == 0 {
        return Err(invalid("empty training set"));
    }
    Ok(())
}

fn map_rows(g: &GradMatrix, f: impl Fn(&[f64]) -> Vec<f64> + Sync) -> GradMatrix {
    let rows: Vec<Vec<f64>> = (0..g.n).into_par_iter().map(|i| f(g.row(i))).collect();
    let p = rows.first().map_or(g.p, |r| r.len());
    GradMatrix {
        n: g.n,
        p,
        data: rows.concat(),
    }
}

fn project(proj: &Option<Projector>, g: GradMatrix) -> Result<GradMatrix> {
    match proj {
        Some(p) => p.project_rows(&g),
        None => Ok(g),
    }
}

fn concat_cols(parts: &[GradMatrix]) -> GradMatrix {
    let n = parts[0].n;
    let p: usize = parts.iter().map(|g| g.p).sum();
    let mut data = Vec::with_capacity(n * p);
    for i in 0..n {
        for g in parts {
            data.extend_from_slice(g.row(i));
        }
    }
    GradMatrix { n, p, data }
}

/// Cholesky factor of the training objective's explicit Hessian. Non-convex models (MLP) away
/// from a strict minimum have an indefinite Hessian: damped with 1e-3 … 1 × mean |diag|
/// (reported in `damping`).
fn hessian_factor(m: &Classifier, train: &Dataset) -> Result<Cholesky> {
    let p = m.num_params();
    let h = hessian(m, train)?;
    match Cholesky::factor(&h, p) {
        Err(InfluenceError::NotPositiveDefinite { .. }) => {
            let mean_diag = (0..p).map(|i| h[i * p + i].abs()).sum::<f64>() / p as f64;
            (0..4)
                .find_map(|j| Cholesky::factor_with(&h, p, mean_diag * 1e-3 * 10f64.powi(j)).ok())
                .ok_or(InfluenceError::NotPositiveDefinite { damping: mean_diag })
        }
        r => r,
    }
}

/// Compute both feature sides. `test_target` is [`Target::Margin`] for attribution and
/// [`Target::Loss`] for self-influence.
pub fn features(
    model: &Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &MethodOptions,
    test_target: Target,
) -> Result<Features> {
    check(model, train, test)?;
    let e = opts.ensemble_size(model.num_params());
    if e == 0 {
        return Err(invalid("ensemble size must be ≥ 1"));
    }
    if e > 1 {
        let (k, seed) = opts
            .projection
            .ok_or_else(|| invalid("an ensemble needs a projection (k)"))?;
        let mut parts = Vec::with_capacity(e);
        for i in 0..e {
            let mut o = opts.clone();
            o.ensemble = Some(1);
            o.projection = Some((k, seed.wrapping_add(i as u64)));
            parts.push(features(model, train, test, &o, test_target)?);
        }
        let s = 1.0 / (e as f64).sqrt();
        let scale = |g: GradMatrix| map_rows(&g, |r| r.iter().map(|v| v * s).collect());
        let test_side = scale(concat_cols(
            &parts.iter().map(|f| f.test.clone()).collect::<Vec<_>>(),
        ));
        let train_side = scale(concat_cols(
            &parts.iter().map(|f| f.train.clone()).collect::<Vec<_>>(),
        ));
        return Ok(Features {
            test: test_side,
            train: train_side,
            damping: parts.iter().map(|f| f.damping).fold(0.0, f64::max),
            solver: parts[0].solver.clone(),
            method_lambda: parts.iter().flat_map(|f| f.method_lambda.clone()).collect(),
        });
    }
    let m = model.to_f64()?;
    let p = m.num_params();
    let proj = match opts.projection {
        Some((k, seed)) => Some(Projector::new(p, k, seed)?),
        None => None,
    };
    match opts.method {
        Method::If => {
            let g = per_example_grads(&m, train, Target::Loss)?;
            let ft = per_example_grads(&m, test, test_target)?;
            if p <= opts.max_explicit_params {
                let chol = hessian_factor(&m, train)?;
                let u = map_rows(&g, |r| chol.solve(r).into_iter().map(|v| -v).collect());
                Ok(Features {
                    test: project(&proj, ft)?,
                    train: project(&proj, u)?,
                    damping: chol.damping,
                    solver: "cholesky".into(),
                    method_lambda: vec![],
                })
            } else {
                let x = m.x_tensor(train)?;
                let oh = m.y_onehot(train)?;
                let theta = m.params()?;
                let mut damping = 0.0;
                // CG needs a positive-definite operator: on failure, damp and redo every test
                // example with the same damping.
                let rows = loop {
                    let mut rows = Vec::with_capacity(ft.n * p);
                    let mut failed = false;
                    for j in 0..ft.n {
                        let r = conjugate_gradient(
                            |v| hvp_fd(&m, &x, &oh, &theta, v),
                            ft.row(j),
                            damping,
                            opts.cg_tol.max(1e-8),
                            opts.cg_max_iter,
                        );
                        match r {
                            Ok((s, _)) => rows.extend(s),
                            Err(InfluenceError::NotPositiveDefinite { .. }) if damping < 1.0 => {
                                failed = true;
                                break;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    if !failed {
                        break rows;
                    }
                    damping = if damping == 0.0 {
                        m.cfg.lambda.max(1e-4)
                    } else {
                        damping * 10.0
                    };
                };
                let t = GradMatrix {
                    n: ft.n,
                    p,
                    data: rows,
                };
                let u = map_rows(&g, |r| r.iter().map(|v| -v).collect());
                Ok(Features {
                    test: project(&proj, t)?,
                    train: project(&proj, u)?,
                    damping,
                    solver: "cg".into(),
                    method_lambda: vec![],
                })
            }
        }
        Method::TracIn => {
            if m.checkpoints.is_empty() {
                return Err(invalid(
                    "TracIn needs training checkpoints: train the model first",
                ));
            }
            let mut tp = Vec::new();
            let mut up = Vec::new();
            let final_params = m.params()?;
            for (theta, eta) in &m.checkpoints {
                m.set_params(theta)?;
                let s = eta.sqrt();
                let g = per_example_grads(&m, train, Target::Loss)?;
                let ft = per_example_grads(&m, test, test_target)?;
                tp.push(project(
                    &proj,
                    map_rows(&ft, |r| r.iter().map(|v| s * v).collect()),
                )?);
                up.push(project(
                    &proj,
                    map_rows(&g, |r| r.iter().map(|v| -s * v).collect()),
                )?);
            }
            m.set_params(&final_params)?;
            Ok(Features {
                test: concat_cols(&tp),
                train: concat_cols(&up),
                damping: 0.0,
                solver: "none".into(),
                method_lambda: vec![],
            })
        }
        Method::Trak => {
            let phi = project(&proj, per_example_grads(&m, train, Target::Margin)?)?;
            let ft = project(&proj, per_example_grads(&m, test, test_target)?)?;
            let q = phi.p;
            if q > opts.max_explicit_params {
                return Err(invalid(format!(
                    "TRAK kernel of dimension {q} exceeds {}: use a projection (k)",
                    opts.max_explicit_params
                )));
            }
            let mut kernel = vec![0.0; q * q];
            for i in 0..phi.n {
                let r = phi.row(i);
                for a in 0..q {
                    let ra = r[a];
                    let row = &mut kernel[a * q..a * q + a + 1];
                    for (b, v) in row.iter_mut().enumerate() {
                        *v += ra * r[b];
                    }
                }
            }
            for a in 0..q {
                for b in 0..a {
                    kernel[b * q + a] = kernel[a * q + b];
                }
            }
            let lambda = match opts.trak_lambda {
                Some(l) => l,
                None if m.cfg.lambda > 0.0 => train.n as f64 * m.cfg.lambda,
                None => 1e-6 * (0..q).map(|a| kernel[a * q + a]).sum::<f64>() / q as f64,
            };
            if !lambda.is_finite() || lambda < 0.0 {
                return Err(invalid("TRAK lambda must be finite and ≥ 0"));
            }
            for a in 0..q {
                kernel[a * q + a] += lambda;
            }
            let chol = Cholesky::factor(&kernel, q)?;
            let probs = m.probabilities(train)?;
            let k = m.cfg.classes;
            let qw: Vec<f64> = (0..train.n)
                .map(|i| 1.0 - probs[i * k + train.y[i]])
                .collect();
            let rows: Vec<Vec<f64>> = (0..phi.n)
                .into_par_iter()
                .map(|i| {
                    chol.solve(phi.row(i))
                        .into_iter()
                        .map(|v| v * qw[i])
                        .collect()
                })
                .collect();
            Ok(Features {
                test: ft,
                train: GradMatrix {
                    n: phi.n,
                    p: q,
                    data: rows.concat(),
                },
                damping: chol.damping,
                solver: "cholesky".into(),
                method_lambda: vec![lambda],
            })
        }
        Method::DataInf => {
            let g = project(&proj, per_example_grads(&m, train, Target::Loss)?)?;
            let ft = project(&proj, per_example_grads(&m, test, test_target)?)?;
            let blocks = if proj.is_some() {
                vec![(0, g.p)]
            } else {
                m.layer_blocks()
            };
            let n = g.n as f64;
            let mut lambdas = Vec::new();
            let mut weights = Vec::new(); // per block, per example: 1/(λ + ‖g‖²)
            for &(off, len) in &blocks {
                let norms: Vec<f64> = (0..g.n)
                    .map(|i| {
                        let r = &g.row(i)[off..off + len];
                        dot(r, r)
                    })
                    .collect();
                let mut lam = opts.datainf_scale * norms.iter().sum::<f64>() / n;
                if lam.is_nan() || lam <= 0.0 {
                    lam = 1e-12;
                }
                weights.push(norms.iter().map(|s| 1.0 / (lam + s)).collect::<Vec<f64>>());
                lambdas.push(lam);
            }
            let t = map_rows(&ft, |v| {
                let mut out = vec![0.0; v.len()];
                for (b, &(off, len)) in blocks.iter().enumerate() {
                    let vb = &v[off..off + len];
                    let mut acc = vec![0.0; len];
                    for (i, w) in weights[b].iter().enumerate() {
                        let gi = &g.row(i)[off..off + len];
                        let c = dot(gi, vb) * w;
                        for (a, x) in acc.iter_mut().zip(gi) {
                            *a += c * x;
                        }
                    }
                    for j in 0..len {
                        out[off + j] = (vb[j] - acc[j] / n) / lambdas[b];
                    }
                }
                out
            });
            let u = map_rows(&g, |r| r.iter().map(|v| -v).collect());
            Ok(Features {
                test: t,
                train: u,
                damping: 0.0,
                solver: "closed-form".into(),
                method_lambda: lambdas,
            })
        }
    }
}

/// Score matrix (n_test × n_train, row-major) from features.
pub fn score_matrix(f: &Features) -> Vec<f64> {
    let rows: Vec<Vec<f64>> = (0..f.test.n)
        .into_par_iter()
        .map(|j| {
            let t = f.test.row(j);
            (0..f.train.n).map(|i| dot(t, f.train.row(i))).collect()
        })
        .collect();
    rows.concat()
}

/// Scores of every (test, train) pair.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scores {
    pub method: Method,
    pub n_test: usize,
    pub n_train: usize,
    /// n_test × n_train, row-major.
    pub data: Vec<f64>,
    pub damping: f64,
    pub solver: String,
    pub method_lambda: Vec<f64>,
}

impl Scores {
    pub fn row(&self, j: usize) -> &[f64] {
        &self.data[j * self.n_train..(j + 1) * self.n_train]
    }
}

/// Attribution scores of `test` against `train` for a trained model.
pub fn compute_scores(
    model: &Classifier,
    train: &Dataset,
    test: &Dataset,
    opts: &MethodOptions,
) -> Result<Scores> {
    let f = features(model, train, test, opts, Target::Margin)?;
    Ok(Scores {
        method: opts.method,
        n_test: test.n,
        n_train: train.n,
        data: score_matrix(&f),
        damping: f.damping,
        solver: f.solver,
        method_lambda: f.method_lambda,
    })
}

/// Self-influence of every training example (the method's estimate of how much an example's
/// own loss depends on training on it; large values flag mislabelled or atypical data).
///
/// Exact IF (unprojected) gives the leave-one-out estimate of [`loo`](super::loo): the rise of
/// the example's loss when it is removed, its own curvature taken out of the Hessian. Projected
/// IF gives the plain `(1/n) (Pgᵢ)ᵀ P H⁻¹gᵢ`, also in loss units. Other methods: `−⟨Tᵢ, Uᵢ⟩` on
/// their own scale.
pub fn self_influence(
    model: &Classifier,
    train: &Dataset,
    opts: &MethodOptions,
) -> Result<Vec<f64>> {
    if opts.method == Method::If && opts.projection.is_none() {
        return Ok(leave_one_out(model, train, opts)?.self_influence);
    }
    let f = features(model, train, train, opts, Target::Loss)?;
    let scale = if opts.method == Method::If {
        1.0 / train.n as f64
    } else {
        1.0
    };
    Ok((0..train.n)
        .map(|i| -scale * dot(f.test.row(i), f.train.row(i)))
        .collect())
}

/// Leave-one-out loss estimates of every training example from the exact Hessian (explicit
/// inverse up to `max_explicit_params`, conjugate gradient on HVPs above).
pub fn leave_one_out(
    model: &Classifier,
    train: &Dataset,
    opts: &MethodOptions,
) -> Result<LooEstimate> {
    check(model, train, train)?;
    let m = model.to_f64()?;
    if m.num_params() <= opts.max_explicit_params {
        let h_inv = hessian_factor(&m, train)?.inverse();
        return loo_self_influence(&m, train, InverseHessian::Explicit(&h_inv));
    }
    let x = m.x_tensor(train)?;
    let oh = m.y_onehot(train)?;
    let theta = m.params()?;
    let (tol, iters) = (opts.cg_tol.max(1e-8), opts.cg_max_iter);
    let mut solve = |v: &[f64]| {
        conjugate_gradient(|u| hvp_fd(&m, &x, &oh, &theta, u), v, 0.0, tol, iters).map(|r| r.0)
    };
    loo_self_influence(&m, train, InverseHessian::Solver(&mut solve))
}
