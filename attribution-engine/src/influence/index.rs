//! The attribution index stored next to the model: the model's parameters (and TracIn
//! checkpoints), the training side of a method in projected form (`n × q` f32), the examples'
//! contribution ids and the projection seed. Scoring a test example computes its projected
//! margin gradient and takes `n` dot products: no training data or Hessian is needed at
//! inference time.
//!
//! Files in the index directory: `model.safetensors` (flat parameters `params` and
//! `checkpoint.<c>`, f64), `index.safetensors` (`features` f32 n × q, `contributions` i64) and
//! `meta.json`. Indexable methods: TRAK, TracIn and exact IF with the explicit Hessian.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;

use super::data::{Dataset, Standardizer};
use super::error::{invalid, InfluenceError, Result};
use super::grads::{per_example_grads, GradMatrix};
use super::methods::{features, Method, MethodOptions};
use super::model::{Classifier, ModelConfig, Target};
use super::projection::Projector;
use crate::simd::avx2_build;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct IndexMeta {
    pub format: u32,
    pub method: Method,
    pub k: usize,
    pub seed: u64,
    pub params: usize,
    pub d: usize,
    pub n: usize,
    /// Width of a feature row (k times the number of TracIn checkpoints).
    pub q: usize,
    pub model: ModelConfig,
    pub standardizer: Option<Standardizer>,
    pub damping: f64,
    pub checkpoint_weights: Vec<f64>,
    /// Projections averaged (seeds seed, seed + 1, …).
    pub ensemble: usize,
}

pub struct AttributionIndex {
    pub meta: IndexMeta,
    /// n × q, row-major.
    pub features: Vec<f32>,
    pub contributions: Vec<u64>,
    pub model: Classifier,
    projectors: Vec<Projector>,
}

fn projectors(meta: &IndexMeta) -> Result<Vec<Projector>> {
    (0..meta.ensemble)
        .map(|e| Projector::new(meta.params, meta.k, meta.seed.wrapping_add(e as u64)))
        .collect()
}

impl AttributionIndex {
    /// Build from a trained model and its (standardised) training set. `opts.projection` must
    /// be set.
    pub fn build(
        model: &Classifier,
        train: &Dataset,
        opts: &MethodOptions,
        standardizer: Option<Standardizer>,
    ) -> Result<Self> {
        let (k, seed) = opts
            .projection
            .ok_or_else(|| invalid("an index needs a projection dimension k"))?;
        if opts.method == Method::DataInf {
            return Err(invalid(
                "DataInf applies its inverse on the test side and cannot be indexed",
            ));
        }
        if opts.method == Method::If && model.num_params() > opts.max_explicit_params {
            return Err(invalid(
                "exact IF needs the explicit Hessian to be indexed (too many parameters)",
            ));
        }
        let m = model.to_f64()?;
        let probe = train.select(&[0]);
        let f = features(&m, train, &probe, opts, Target::Margin)?;
        let meta = IndexMeta {
            format: 1,
            method: opts.method,
            k,
            seed,
            params: m.num_params(),
            d: m.d,
            n: train.n,
            q: f.train.p,
            model: m.cfg.clone(),
            standardizer,
            damping: f.damping,
            checkpoint_weights: m.checkpoints.iter().map(|c| c.1).collect(),
            ensemble: opts.ensemble_size(m.num_params()),
        };
        Ok(Self {
            projectors: projectors(&meta)?,
            meta,
            features: f.train.data.iter().map(|&v| v as f32).collect(),
            contributions: train.contributions.clone(),
            model: m,
        })
    }

    pub fn save(&self, dir: &str) -> Result<()> {
        let io = |source| InfluenceError::Io {
            path: dir.into(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let dev = Device::Cpu;
        let mut model_t: HashMap<String, Tensor> = HashMap::new();
        let p = self.model.params()?;
        model_t.insert("params".into(), Tensor::from_vec(p.clone(), p.len(), &dev)?);
        for (c, (theta, _)) in self.model.checkpoints.iter().enumerate() {
            model_t.insert(
                format!("checkpoint.{c}"),
                Tensor::from_slice(theta, theta.len(), &dev)?,
            );
        }
        candle_core::safetensors::save(&model_t, format!("{dir}/model.safetensors"))?;
        let mut idx_t: HashMap<String, Tensor> = HashMap::new();
        idx_t.insert(
            "features".into(),
            Tensor::from_slice(&self.features, (self.meta.n, self.meta.q), &dev)?,
        );
        let c: Vec<i64> = self.contributions.iter().map(|&c| c as i64).collect();
        idx_t.insert(
            "contributions".into(),
            Tensor::from_vec(c, self.meta.n, &dev)?,
        );
        candle_core::safetensors::save(&idx_t, format!("{dir}/index.safetensors"))?;
        let meta = serde_json::to_string_pretty(&self.meta).map_err(|e| invalid(e.to_string()))?;
        std::fs::write(format!("{dir}/meta.json"), meta).map_err(io)
    }

    pub fn load(dir: &str) -> Result<Self> {
        let bad = |m: String| InfluenceError::Index {
            path: dir.into(),
            message: m,
        };
        let meta_path = format!("{dir}/meta.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|source| InfluenceError::Io {
            path: meta_path,
            source,
        })?;
        let meta: IndexMeta =
            serde_json::from_str(&text).map_err(|e| bad(format!("meta.json: {e}")))?;
        if meta.format != 1 {
            return Err(bad(format!("unsupported format {}", meta.format)));
        }
        let dev = Device::Cpu;
        let mt = candle_core::safetensors::load(format!("{dir}/model.safetensors"), &dev)?;
        let it = candle_core::safetensors::load(format!("{dir}/index.safetensors"), &dev)?;
        let get = |m: &HashMap<String, Tensor>, k: &str| {
            m.get(k)
                .cloned()
                .ok_or_else(|| bad(format!("missing tensor `{k}`")))
        };
        let mut model = Classifier::new(meta.model.clone(), meta.d)?;
        let params = get(&mt, "params")?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        if params.len() != model.num_params() || params.len() != meta.params {
            return Err(bad(
                "parameter count does not match the model configuration".into(),
            ));
        }
        model.set_params(&params)?;
        for (c, w) in meta.checkpoint_weights.iter().enumerate() {
            let theta = get(&mt, &format!("checkpoint.{c}"))?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?;
            if theta.len() != meta.params {
                return Err(bad(format!("checkpoint {c} has the wrong length")));
            }
            model.checkpoints.push((theta, *w));
        }
        let features = get(&it, "features")?;
        if features.dims() != [meta.n, meta.q] {
            return Err(bad(format!(
                "features have shape {:?}, meta says {} × {}",
                features.dims(),
                meta.n,
                meta.q
            )));
        }
        let features = features
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let contributions: Vec<u64> = get(&it, "contributions")?
            .to_dtype(DType::I64)?
            .to_vec1::<i64>()?
            .into_iter()
            .map(|c| c as u64)
            .collect();
        if contributions.len() != meta.n {
            return Err(bad("contribution ids do not match n".into()));
        }
        if meta.ensemble == 0 {
            return Err(bad("ensemble size 0".into()));
        }
        let expected_q = meta.ensemble
            * match meta.method {
                Method::TracIn => meta.k * meta.checkpoint_weights.len(),
                _ => meta.k,
            };
        if expected_q != meta.q {
            return Err(bad("feature width does not match the method".into()));
        }
        if meta.q == 0 {
            return Err(bad("feature width 0".into()));
        }
        Ok(Self {
            projectors: projectors(&meta)?,
            meta,
            features,
            contributions,
            model,
        })
    }

    /// Projected test-side features (n_test × q) for already standardised test rows.
    pub fn test_features(&self, test: &Dataset) -> Result<GradMatrix> {
        test.check_labels(self.meta.model.classes, "test set")?;
        if test.d != self.meta.d {
            return Err(InfluenceError::FeatureMismatch {
                what: "test set".into(),
                got: test.d,
                expected: self.meta.d,
            });
        }
        // Margin gradients at each point the method looks at (TracIn: every checkpoint).
        let grads = match self.meta.method {
            Method::TracIn => {
                // A private model per checkpoint: the index's own model is never mutated, so
                // `score` can be called from several threads at once.
                let mut gs = Vec::new();
                for (theta, eta) in &self.model.checkpoints {
                    let ck = Classifier::new(self.model.cfg.clone(), self.model.d)?;
                    ck.set_params(theta)?;
                    gs.push((per_example_grads(&ck, test, Target::Margin)?, eta.sqrt()));
                }
                gs
            }
            _ => vec![(per_example_grads(&self.model, test, Target::Margin)?, 1.0)],
        };
        let e = 1.0 / (self.projectors.len() as f64).sqrt();
        let mut parts = Vec::new();
        for proj in &self.projectors {
            for (g, s) in &grads {
                let pg = proj.project_rows(g)?;
                parts.push(pg.data.iter().map(|v| v * s * e).collect::<Vec<f64>>());
            }
        }
        let k = self.meta.k;
        let mut data = Vec::with_capacity(test.n * self.meta.q);
        for j in 0..test.n {
            for part in &parts {
                data.extend_from_slice(&part[j * k..(j + 1) * k]);
            }
        }
        Ok(GradMatrix {
            n: test.n,
            p: self.meta.q,
            data,
        })
    }

    /// Scores (n_test × n) of standardised test rows.
    pub fn score(&self, test: &Dataset) -> Result<Vec<f64>> {
        let t = self.test_features(test)?;
        let q = self.meta.q;
        let mut out = Vec::with_capacity(t.n * self.meta.n);
        for j in 0..t.n {
            let tj: Vec<f32> = t.row(j).iter().map(|&v| v as f32).collect();
            // Blocks of 512 training rows in parallel; every score is one fixed-order dot product.
            let blocks: Vec<Vec<f64>> = self
                .features
                .par_chunks(q * 512)
                .map(|block| dot_rows(&tj, block))
                .collect();
            for b in blocks {
                out.extend(b);
            }
        }
        Ok(out)
    }
}

avx2_build! {
    /// `u · row` for every row of `rows` (row-major, `u.len()` wide).
    fn dot_rows(u: &[f32], rows: &[f32]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() / u.len().max(1));
        for r in rows.chunks_exact(u.len()) {
            out.push(dot_f32(u, r));
        }
        out
    }
}

/// f32 dot product with eight fixed lanes, accumulated in f64 at the end (fixed order).
#[inline(always)]
fn dot_f32(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f32; 8];
    let (xs, ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = xs.remainder().iter().zip(ys.remainder());
    // Fixed-size lanes: no bounds checks in the loop, so it compiles to SIMD.
    for (x, y) in xs.zip(ys) {
        let (x, y): (&[f32; 8], &[f32; 8]) = (x.try_into().expect("8 lanes"), y.try_into().expect("8 lanes"));
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f64 = acc.iter().map(|&v| v as f64).sum();
    for (x, y) in tail {
        s += (x * y) as f64;
    }
    s
}
