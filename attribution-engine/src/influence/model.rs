//! The models to attribute: multinomial logistic regression and a one-hidden-layer (tanh) MLP
//! classifier, written with candle `Var`s (CPU, f32 or f64), and their deterministic training.
//!
//! Objective: mean cross-entropy + (λ/2)·‖W‖² over weight matrices only (biases are not
//! penalised). Logistic regression is trained to the optimum with full-batch L-BFGS; the MLP
//! with full-batch Adam from a seeded initialisation. Both are deterministic.
//!
//! Parameter layout (the flat vector every method works with): for each layer in order, its
//! weight matrix (out × in, row-major) then its bias (out).

use candle_core::{DType, Device, Tensor, Var, D};

use super::data::Dataset;
use super::error::{invalid, InfluenceError, Result};
use super::rng::SplitMix64;

/// Model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    /// Multinomial logistic regression.
    LogReg,
    /// One hidden tanh layer of the given width.
    Mlp { hidden: usize },
}

/// Training configuration.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    pub arch: Arch,
    pub classes: usize,
    /// L2 penalty λ on weights (objective adds λ/2·‖W‖²).
    pub lambda: f64,
    /// `true` for f64, `false` for f32 (influence maths always runs in f64).
    pub f64: bool,
    /// Seed of the initialisation (MLP).
    pub seed: u64,
    /// L-BFGS: maximum iterations and gradient tolerance (max-norm).
    pub max_iter: usize,
    pub gtol: f64,
    /// MLP: Adam steps (full batch) and learning rate.
    pub epochs: usize,
    pub learning_rate: f64,
    /// Number of checkpoints kept for TracIn (evenly spaced over training, the last is the
    /// final model).
    pub checkpoints: usize,
}

impl ModelConfig {
    pub fn logreg(classes: usize, lambda: f64) -> Self {
        Self {
            arch: Arch::LogReg,
            classes,
            lambda,
            f64: true,
            seed: 0,
            max_iter: 2000,
            gtol: 1e-9,
            epochs: 0,
            learning_rate: 0.0,
            checkpoints: 5,
        }
    }

    pub fn mlp(classes: usize, hidden: usize, lambda: f64) -> Self {
        Self {
            arch: Arch::Mlp { hidden },
            classes,
            lambda,
            f64: true,
            seed: 0,
            max_iter: 0,
            gtol: 0.0,
            epochs: 500,
            learning_rate: 0.01,
            checkpoints: 5,
        }
    }

    pub fn dtype(&self) -> DType {
        if self.f64 {
            DType::F64
        } else {
            DType::F32
        }
    }

    fn validate(&self, d: usize) -> Result<()> {
        if self.classes < 2 {
            return Err(invalid("need at least 2 classes"));
        }
        if !self.lambda.is_finite() || self.lambda < 0.0 {
            return Err(invalid("lambda must be finite and ≥ 0"));
        }
        if d == 0 {
            return Err(invalid("need at least one feature"));
        }
        if let Arch::Mlp { hidden } = self.arch {
            if hidden == 0 {
                return Err(invalid("MLP hidden width must be ≥ 1"));
            }
            if self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
                return Err(invalid("MLP learning rate must be > 0"));
            }
        }
        Ok(())
    }
}

/// One affine layer `z = a·Wᵀ + b`.
#[derive(Clone, Debug)]
pub struct Layer {
    pub w: Var,
    pub b: Var,
    pub fan_in: usize,
    pub fan_out: usize,
}

/// A layer's input and, when probing, the zero probe added to its pre-activation.
pub type Tap = (Tensor, Option<Var>);

/// A trained (or trainable) classifier.
#[derive(Clone, Debug)]
pub struct Classifier {
    pub cfg: ModelConfig,
    pub d: usize,
    pub layers: Vec<Layer>,
    /// TracIn checkpoints: (flat parameters, weight), oldest first.
    pub checkpoints: Vec<(Vec<f64>, f64)>,
    device: Device,
}

/// Which per-example scalar a gradient is taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Cross-entropy loss ℓ(z) of the example (without the regulariser).
    Loss,
    /// Multiclass margin f(z) = logit_y − logsumexp_{k≠y} logit_k (TRAK's target).
    Margin,
    /// Logit of class c (rows of the logit Jacobian, for the per-example Gauss–Newton factor).
    Logit(usize),
}

/// Outcome of training.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainReport {
    pub iterations: usize,
    pub objective: f64,
    pub grad_max_norm: f64,
    pub converged: bool,
}

const MASK: f64 = 1e4;

impl Classifier {
    /// A fresh model for `d` features: LR starts at zero, the MLP from a seeded
    /// N(0, 1/fan_in) initialisation.
    pub fn new(cfg: ModelConfig, d: usize) -> Result<Self> {
        cfg.validate(d)?;
        let device = Device::Cpu;
        let dims: Vec<(usize, usize)> = match cfg.arch {
            Arch::LogReg => vec![(d, cfg.classes)],
            Arch::Mlp { hidden } => vec![(d, hidden), (hidden, cfg.classes)],
        };
        let mut rng = SplitMix64::stream(cfg.seed, 1);
        let mut layers = Vec::new();
        for (fan_in, fan_out) in dims {
            let w: Vec<f64> = match cfg.arch {
                Arch::LogReg => vec![0.0; fan_in * fan_out],
                Arch::Mlp { .. } => {
                    let s = 1.0 / (fan_in as f64).sqrt();
                    (0..fan_in * fan_out).map(|_| rng.normal() * s).collect()
                }
            };
            let w = Tensor::from_vec(w, (fan_out, fan_in), &device)?.to_dtype(cfg.dtype())?;
            let b = Tensor::zeros(fan_out, cfg.dtype(), &device)?;
            layers.push(Layer {
                w: Var::from_tensor(&w)?,
                b: Var::from_tensor(&b)?,
                fan_in,
                fan_out,
            });
        }
        Ok(Self {
            cfg,
            d,
            layers,
            checkpoints: Vec::new(),
            device,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Trainable parameters in layout order.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()])
            .collect()
    }

    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.fan_out * (l.fan_in + 1)).sum()
    }

    /// Parameter blocks (offset, length), one per layer (weight and bias together): the
    /// "layers" of DataInf.
    pub fn layer_blocks(&self) -> Vec<(usize, usize)> {
        let mut off = 0;
        self.layers
            .iter()
            .map(|l| {
                let len = l.fan_out * (l.fan_in + 1);
                let r = (off, len);
                off += len;
                r
            })
            .collect()
    }

    /// `true` for every flat parameter that is penalised (weights), `false` for biases.
    pub fn penalised_mask(&self) -> Vec<bool> {
        let mut m = Vec::with_capacity(self.num_params());
        for l in &self.layers {
            m.extend(std::iter::repeat_n(true, l.fan_out * l.fan_in));
            m.extend(std::iter::repeat_n(false, l.fan_out));
        }
        m
    }

    /// Flat parameters (f64).
    pub fn params(&self) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(self.num_params());
        for v in self.vars() {
            out.extend(
                v.as_tensor()
                    .flatten_all()?
                    .to_dtype(DType::F64)?
                    .to_vec1::<f64>()?,
            );
        }
        Ok(out)
    }

    pub fn set_params(&self, p: &[f64]) -> Result<()> {
        if p.len() != self.num_params() {
            return Err(invalid(format!(
                "{} parameters given, model has {}",
                p.len(),
                self.num_params()
            )));
        }
        let mut off = 0;
        for v in self.vars() {
            let shape = v.as_tensor().shape().clone();
            let len = shape.elem_count();
            let t = Tensor::from_slice(&p[off..off + len], shape, &self.device)?
                .to_dtype(self.cfg.dtype())?;
            v.set(&t)?;
            off += len;
        }
        Ok(())
    }

    /// A copy in f64 with the same parameters (influence maths runs on it).
    pub fn to_f64(&self) -> Result<Self> {
        let mut cfg = self.cfg.clone();
        cfg.f64 = true;
        let mut m = Self::new(cfg, self.d)?;
        m.set_params(&self.params()?)?;
        m.checkpoints = self.checkpoints.clone();
        Ok(m)
    }

    /// Feature tensor (n × d) in the model's dtype.
    pub fn x_tensor(&self, ds: &Dataset) -> Result<Tensor> {
        if ds.d != self.d {
            return Err(InfluenceError::FeatureMismatch {
                what: "data set".into(),
                got: ds.d,
                expected: self.d,
            });
        }
        Ok(Tensor::from_slice(&ds.x, (ds.n, ds.d), &self.device)?.to_dtype(self.cfg.dtype())?)
    }

    /// One-hot labels (n × K) in the model's dtype.
    pub fn y_onehot(&self, ds: &Dataset) -> Result<Tensor> {
        ds.check_labels(self.cfg.classes, "data set")?;
        let k = self.cfg.classes;
        let mut oh = vec![0.0f64; ds.n * k];
        for (i, &y) in ds.y.iter().enumerate() {
            oh[i * k + y] = 1.0;
        }
        Ok(Tensor::from_vec(oh, (ds.n, k), &self.device)?.to_dtype(self.cfg.dtype())?)
    }

    /// Logits, optionally adding a zero "probe" `Var` to every layer's pre-activation: the
    /// gradient of a sum of per-example scalars w.r.t. a probe is the per-example gradient
    /// w.r.t. that pre-activation (each example only touches its own row). Returns the logits and,
    /// per layer, (layer input, probe).
    pub fn forward_probed(&self, x: &Tensor, probe: bool) -> Result<(Tensor, Vec<Tap>)> {
        let n = x.dim(0)?;
        let mut a = x.clone();
        let mut taps = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (li, l) in self.layers.iter().enumerate() {
            let mut z = a
                .matmul(&l.w.as_tensor().t()?)?
                .broadcast_add(l.b.as_tensor())?;
            let pv = if probe {
                let pv = Var::zeros((n, l.fan_out), self.cfg.dtype(), &self.device)?;
                z = (z + pv.as_tensor())?;
                Some(pv)
            } else {
                None
            };
            taps.push((a.clone(), pv));
            a = if li == last { z } else { z.tanh()? };
        }
        Ok((a, taps))
    }

    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_probed(x, false)?.0)
    }

    /// Per-example scalars (n) of `target` from logits.
    pub fn per_example(&self, logits: &Tensor, onehot: &Tensor, target: Target) -> Result<Tensor> {
        Ok(match target {
            Target::Loss => {
                let ls = candle_nn::ops::log_softmax(logits, D::Minus1)?;
                (ls * onehot)?.sum(D::Minus1)?.neg()?
            }
            Target::Margin => {
                let zy = (logits * onehot)?.sum(D::Minus1)?;
                let other = (logits - (onehot * MASK)?)?;
                let m = other.max_keepdim(D::Minus1)?.detach();
                let lse = (other
                    .broadcast_sub(&m)?
                    .exp()?
                    .sum_keepdim(D::Minus1)?
                    .log()?
                    + m)?
                    .squeeze(1)?;
                (zy - lse)?
            }
            Target::Logit(c) => logits.narrow(1, c, 1)?.squeeze(1)?,
        })
    }

    /// The training objective as a tensor: mean CE + λ/2 ‖W‖².
    pub fn objective(&self, x: &Tensor, onehot: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)? as f64;
        let ce = self
            .per_example(&self.logits(x)?, onehot, Target::Loss)?
            .sum_all()?;
        let mut obj = (ce / n)?;
        if self.cfg.lambda > 0.0 {
            for l in &self.layers {
                obj = (obj + (l.w.as_tensor().sqr()?.sum_all()? * (self.cfg.lambda / 2.0))?)?;
            }
        }
        Ok(obj)
    }

    /// Objective value and flat gradient at the current parameters.
    pub fn objective_grad(&self, x: &Tensor, onehot: &Tensor) -> Result<(f64, Vec<f64>)> {
        let obj = self.objective(x, onehot)?;
        let grads = obj.backward()?;
        let mut g = Vec::with_capacity(self.num_params());
        for v in self.vars() {
            let gv = grads
                .get(v.as_tensor())
                .ok_or_else(|| invalid("missing gradient"))?;
            g.extend(gv.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        }
        let val = obj.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        Ok((val, g))
    }

    /// Multiclass margins of every example of `ds`.
    pub fn margins(&self, ds: &Dataset) -> Result<Vec<f64>> {
        let x = self.x_tensor(ds)?;
        let oh = self.y_onehot(ds)?;
        let m = self.per_example(&self.logits(&x)?, &oh, Target::Margin)?;
        Ok(m.to_dtype(DType::F64)?.to_vec1::<f64>()?)
    }

    /// Class probabilities (n × K, row-major).
    pub fn probabilities(&self, ds: &Dataset) -> Result<Vec<f64>> {
        let x = self.x_tensor(ds)?;
        let p = candle_nn::ops::softmax_last_dim(&self.logits(&x)?.to_dtype(DType::F64)?)?;
        Ok(p.flatten_all()?.to_vec1::<f64>()?)
    }

    /// Accuracy on `ds`.
    pub fn accuracy(&self, ds: &Dataset) -> Result<f64> {
        let k = self.cfg.classes;
        let p = self.probabilities(ds)?;
        let correct = (0..ds.n)
            .filter(|&i| {
                let row = &p[i * k..(i + 1) * k];
                let arg = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                arg == ds.y[i]
            })
            .count();
        Ok(correct as f64 / ds.n.max(1) as f64)
    }

    /// Train on `ds` from the current parameters (LR: L-BFGS to the optimum; MLP: Adam).
    pub fn train(&mut self, ds: &Dataset) -> Result<TrainReport> {
        if ds.n < self.cfg.classes {
            return Err(InfluenceError::TooManyClasses {
                classes: self.cfg.classes,
                rows: ds.n,
            });
        }
        let x = self.x_tensor(ds)?;
        let oh = self.y_onehot(ds)?;
        match self.cfg.arch {
            Arch::LogReg => self.train_lbfgs(&x, &oh),
            Arch::Mlp { .. } => self.train_adam(&x, &oh),
        }
    }

    fn train_lbfgs(&mut self, x: &Tensor, oh: &Tensor) -> Result<TrainReport> {
        let mut iterates = Vec::new();
        let mut f = |p: &[f64]| -> Result<(f64, Vec<f64>)> {
            self.set_params(p)?;
            self.objective_grad(x, oh)
        };
        let p0 = self.params()?;
        let gtol = if self.cfg.f64 {
            self.cfg.gtol
        } else {
            self.cfg.gtol.max(1e-5)
        };
        let (p, report) = lbfgs(&mut f, p0, self.cfg.max_iter, gtol, &mut iterates)?;
        self.set_params(&p)?;
        let c = self.cfg.checkpoints.max(1);
        let t = iterates.len();
        self.checkpoints = (1..=c)
            .map(|j| (iterates[(j * t).div_ceil(c).max(1) - 1].clone(), 1.0))
            .collect();
        Ok(report)
    }

    fn train_adam(&mut self, x: &Tensor, oh: &Tensor) -> Result<TrainReport> {
        use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
        let params = ParamsAdamW {
            lr: self.cfg.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut opt = AdamW::new(self.vars(), params)?;
        let epochs = self.cfg.epochs.max(1);
        let c = self.cfg.checkpoints.max(1).min(epochs);
        let mut ckpts = Vec::new();
        let mut last = 0.0;
        for e in 1..=epochs {
            let obj = self.objective(x, oh)?;
            last = obj.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !last.is_finite() {
                return Err(InfluenceError::NoConvergence(
                    "Adam: objective is not finite".into(),
                ));
            }
            opt.backward_step(&obj)?;
            if (e * c).is_multiple_of(epochs) {
                ckpts.push((self.params()?, self.cfg.learning_rate));
            }
        }
        self.checkpoints = ckpts;
        let (_, g) = self.objective_grad(x, oh)?;
        Ok(TrainReport {
            iterations: epochs,
            objective: last,
            grad_max_norm: g.iter().fold(0.0f64, |m, v| m.max(v.abs())),
            converged: true,
        })
    }
}

/// An objective: value and gradient at a point.
pub type ValueAndGradient<'a> = dyn FnMut(&[f64]) -> Result<(f64, Vec<f64>)> + 'a;

/// L-BFGS (memory 10) with a backtracking Armijo line search; stops when the max-norm of the
/// gradient is ≤ `gtol`, or when no further decrease is possible at machine precision (then
/// `converged` says whether the gradient is still small, ≤ 1000·gtol).
pub fn lbfgs(
    f: &mut ValueAndGradient,
    mut x: Vec<f64>,
    max_iter: usize,
    gtol: f64,
    iterates: &mut Vec<Vec<f64>>,
) -> Result<(Vec<f64>, TrainReport)> {
    use super::linalg::dot;
    const M: usize = 10;
    let (mut fx, mut g) = f(&x)?;
    if !fx.is_finite() {
        return Err(InfluenceError::NoConvergence(
            "objective is not finite at the start".into(),
        ));
    }
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let gmax = |g: &[f64]| g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut it = 0;
    iterates.push(x.clone());
    while it < max_iter && gmax(&g) > gtol {
        it += 1;
        // Two-loop recursion.
        let mut q = g.clone();
        let k = s_hist.len();
        let mut alphas = vec![0.0; k];
        for j in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            alphas[j] = rho * dot(&s_hist[j], &q);
            super::linalg::axpy(-alphas[j], &y_hist[j], &mut q);
        }
        let gamma = if k > 0 {
            dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1.0 / dot(&g, &g).sqrt().max(1e-300)
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for j in 0..k {
            let rho = 1.0 / dot(&y_hist[j], &s_hist[j]);
            let beta = rho * dot(&y_hist[j], &q);
            super::linalg::axpy(alphas[j] - beta, &s_hist[j], &mut q);
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&g, &dir);
        if slope.is_nan() || slope >= 0.0 {
            dir = g.iter().map(|v| -v).collect();
            slope = dot(&g, &dir);
            s_hist.clear();
            y_hist.clear();
        }
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&dir).map(|(a, d)| a + step * d).collect();
            let (fn_, gn) = f(&xn)?;
            if fn_.is_finite() && fn_ <= fx + 1e-4 * step * slope {
                accepted = Some((xn, fn_, gn));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fn_, gn)) = accepted else {
            break; // no decrease possible at machine precision
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 * dot(&y, &y).max(1e-300) {
            if s_hist.len() == M {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let stalled = (fx - fn_).abs() <= 1e-16 * fx.abs().max(1.0) && gmax(&gn) <= 1e3 * gtol;
        x = xn;
        fx = fn_;
        g = gn;
        iterates.push(x.clone());
        if stalled {
            break;
        }
    }
    let gm = gmax(&g);
    Ok((
        x,
        TrainReport {
            iterations: it,
            objective: fx,
            grad_max_norm: gm,
            converged: gm <= 1e3 * gtol,
        },
    ))
}
