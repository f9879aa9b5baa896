//! PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors`, validated against
//! the base before use, and the low-rank term `y += (alpha/r) · B (A x)` applied row by row.

use std::collections::BTreeSet;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::config::LmConfig;
use super::error::{adapter_err, io_err, Result};
use super::ops::{axpy, dot};
use crate::simd::avx2_build;

/// The projections an adapter may target (PEFT `target_modules` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetModule {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

impl TargetModule {
    pub const ALL: [TargetModule; 7] = [
        Self::Q,
        Self::K,
        Self::V,
        Self::O,
        Self::Gate,
        Self::Up,
        Self::Down,
    ];

    pub fn peft_name(self) -> &'static str {
        match self {
            Self::Q => "q_proj",
            Self::K => "k_proj",
            Self::V => "v_proj",
            Self::O => "o_proj",
            Self::Gate => "gate_proj",
            Self::Up => "up_proj",
            Self::Down => "down_proj",
        }
    }

    fn parent(self) -> &'static str {
        match self {
            Self::Q | Self::K | Self::V | Self::O => "self_attn",
            _ => "mlp",
        }
    }

    pub fn from_peft_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.peft_name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The subset of PEFT's `LoraConfig` that changes the maths; options that would change it in
/// ways this implementation does not support are rejected rather than ignored.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct LoraConfig {
    pub r: usize,
    pub lora_alpha: f64,
    pub target_modules: TargetModules,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(default)]
    pub bias: Option<String>,
    #[serde(default)]
    pub rank_pattern: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub alpha_pattern: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub peft_type: Option<String>,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
}

/// PEFT accepts a list of module names or a single regex string; only the list (or a plain
/// name) is supported here.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum TargetModules {
    List(Vec<String>),
    One(String),
}

impl LoraConfig {
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| adapter_err(format!("adapter_config.json: {e}")))
    }

    /// Scale of the low-rank term: alpha/r (alpha/√r with rsLoRA).
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Checks the options against what the model supports and returns the targeted modules.
    pub fn validate(&self, max_rank: usize) -> Result<BTreeSet<TargetModule>> {
        if let Some(t) = &self.peft_type {
            if t != "LORA" {
                return Err(adapter_err(format!("peft_type {t:?} is not LORA")));
            }
        }
        if self.r == 0 || self.r > max_rank {
            return Err(adapter_err(format!(
                "rank r={} outside 1..={max_rank}",
                self.r
            )));
        }
        if !self.lora_alpha.is_finite() {
            return Err(adapter_err("lora_alpha is not finite"));
        }
        if self.fan_in_fan_out {
            return Err(adapter_err(
                "fan_in_fan_out adapters (Conv1D bases) are not supported",
            ));
        }
        if self.use_dora {
            return Err(adapter_err("DoRA adapters are not supported"));
        }
        if let Some(b) = &self.bias {
            if b != "none" {
                return Err(adapter_err(format!(
                    "bias={b:?} is not supported (only \"none\")"
                )));
            }
        }
        for (name, pat) in [
            ("rank_pattern", &self.rank_pattern),
            ("alpha_pattern", &self.alpha_pattern),
        ] {
            if pat.as_ref().is_some_and(|m| !m.is_empty()) {
                return Err(adapter_err(format!("{name} is not supported")));
            }
        }
        let names: Vec<&str> = match &self.target_modules {
            TargetModules::List(v) => v.iter().map(String::as_str).collect(),
            TargetModules::One(s) => vec![s.as_str()],
        };
        let mut set = BTreeSet::new();
        for n in names {
            let m = TargetModule::from_peft_name(n).ok_or_else(|| {
                adapter_err(format!(
                    "target module {n:?} is not a projection of this model (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
                ))
            })?;
            set.insert(m);
        }
        if set.is_empty() {
            return Err(adapter_err("target_modules is empty"));
        }
        Ok(set)
    }
}

/// One adapted projection: `A` is r × in and `Bᵀ` is r × out, both row-major f32 (B is stored
/// transposed so that adding `B · (A x)` is r contiguous axpys over the output row).
#[derive(Clone, Debug)]
pub struct LoraPair {
    pub rank: usize,
    pub in_features: usize,
    pub out_features: usize,
    pub scale: f32,
    pub a: Vec<f32>,
    pub bt: Vec<f32>,
}

impl LoraPair {
    /// Adds the low-rank term to `y` (rows × out) for inputs `x` (rows × in), row by row:
    /// `y += Σ_j (scale · A_j·x) Bᵀ_j`, j in order.
    pub fn apply(&self, x: &[f32], y: &mut [f32]) {
        apply_pair(self, x, y)
    }

    fn bytes(&self) -> usize {
        (self.a.len() + self.bt.len()) * std::mem::size_of::<f32>()
    }
}

avx2_build! {
    /// [`LoraPair::apply`].
    fn apply_pair(p: &LoraPair, x: &[f32], y: &mut [f32]) {
        let mut xa = vec![0f32; p.rank];
        for (xr, yr) in x
            .chunks_exact(p.in_features)
            .zip(y.chunks_exact_mut(p.out_features))
        {
            for (v, a) in xa.iter_mut().zip(p.a.chunks_exact(p.in_features)) {
                *v = p.scale * dot(xr, a);
            }
            for (&v, bt) in xa.iter().zip(p.bt.chunks_exact(p.out_features)) {
                axpy(v, bt, yr);
            }
        }
    }
}

/// A validated adapter, ready to be applied to its base.
#[derive(Debug)]
pub struct LoraAdapter {
    pub rank: usize,
    pub scale: f64,
    pub targets: BTreeSet<TargetModule>,
    /// `layers[l][module.index()]`.
    pub layers: Vec<[Option<LoraPair>; 7]>,
    /// Resident size of the weights in bytes.
    pub bytes: usize,
}

/// Layer index and module of a PEFT tensor name such as
/// `base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight` (optionally with the
/// adapter name before `.weight`); `is_a` tells `lora_A` from `lora_B`.
fn parse_key(key: &str) -> Option<(usize, TargetModule, bool)> {
    let rest = &key[key.find("layers.")? + "layers.".len()..];
    let mut parts = rest.split('.');
    let layer: usize = parts.next()?.parse().ok()?;
    let parent = parts.next()?;
    let module = TargetModule::from_peft_name(parts.next()?)?;
    if module.parent() != parent {
        return None;
    }
    let is_a = match parts.next()? {
        "lora_A" => true,
        "lora_B" => false,
        _ => return None,
    };
    match (parts.next(), parts.next(), parts.next()) {
        (Some("weight"), None, None) | (Some(_), Some("weight"), None) => {
            Some((layer, module, is_a))
        }
        _ => None,
    }
}

/// Row order of llama.cpp's q/k permutation: GGUF row `g` holds HF row `perm[g]`.
fn rope_permutation(heads: usize, head_dim: usize) -> Vec<usize> {
    let half = head_dim / 2;
    let mut perm = Vec::with_capacity(heads * head_dim);
    for h in 0..heads {
        for i in 0..half {
            for part in 0..2 {
                perm.push(h * head_dim + part * half + i);
            }
        }
    }
    perm
}

impl LoraAdapter {
    /// Loads and validates a PEFT adapter directory against the base configuration.
    pub fn load_dir(dir: &Path, base: &LmConfig, max_rank: usize) -> Result<Self> {
        let cfg_path = dir.join("adapter_config.json");
        let json = std::fs::read_to_string(&cfg_path).map_err(|e| io_err(&cfg_path, e))?;
        let cfg = LoraConfig::from_json(&json)?;
        let weights_path = dir.join("adapter_model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| io_err(&weights_path, e))?;
        let bad = |e: &dyn std::fmt::Display| {
            adapter_err(format!(
                "adapter_model.safetensors is not a valid safetensors file: {e}"
            ))
        };
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(&e))?;
        let mut raw = Vec::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            // F32 (the common case) is decoded straight from the bytes: cold loads stay cheap.
            let values: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                other => {
                    let dtype = match other {
                        safetensors::Dtype::F16 => DType::F16,
                        safetensors::Dtype::BF16 => DType::BF16,
                        safetensors::Dtype::F64 => DType::F64,
                        d => return Err(adapter_err(format!("{name}: unsupported dtype {d:?}"))),
                    };
                    Tensor::from_raw_buffer(data, dtype, view.shape(), &Device::Cpu)
                        .and_then(|t| t.to_dtype(DType::F32)?.flatten_all()?.to_vec1())
                        .map_err(|e| bad(&e))?
                }
            };
            raw.push((name, view.shape().to_vec(), values));
        }
        Self::from_raw(&cfg, raw, base, max_rank)
    }

    /// Validates PEFT tensors (name → tensor) against the configuration and the base.
    pub fn from_tensors(
        cfg: &LoraConfig,
        tensors: std::collections::HashMap<String, Tensor>,
        base: &LmConfig,
        max_rank: usize,
    ) -> Result<Self> {
        let mut raw = Vec::with_capacity(tensors.len());
        for (name, t) in tensors {
            let dims = t.dims().to_vec();
            raw.push((
                name,
                dims,
                t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?,
            ));
        }
        Self::from_raw(cfg, raw, base, max_rank)
    }

    /// Validates PEFT tensors given as (name, shape, row-major f32 values).
    pub fn from_raw(
        cfg: &LoraConfig,
        tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
        base: &LmConfig,
        max_rank: usize,
    ) -> Result<Self> {
        let targets = cfg.validate(max_rank)?;
        let r = cfg.r;
        let scale = cfg.scale();
        let mut a_parts: Vec<[Option<Vec<f32>>; 7]> =
            (0..base.num_layers).map(|_| Default::default()).collect();
        let mut b_parts: Vec<[Option<Vec<f32>>; 7]> =
            (0..base.num_layers).map(|_| Default::default()).collect();
        for (key, dims, v) in tensors {
            let (layer, module, is_a) =
                parse_key(&key).ok_or_else(|| adapter_err(format!("unexpected tensor {key:?}")))?;
            if layer >= base.num_layers {
                return Err(adapter_err(format!(
                    "{key}: layer {layer} but the base has {} layers",
                    base.num_layers
                )));
            }
            if !targets.contains(&module) {
                return Err(adapter_err(format!(
                    "{key}: {} is not in target_modules",
                    module.peft_name()
                )));
            }
            let want = if is_a {
                (r, base.in_features(module))
            } else {
                (base.out_features(module), r)
            };
            if dims != [want.0, want.1] {
                return Err(adapter_err(format!(
                    "{key}: shape {:?} does not match the base (expected [{}, {}])",
                    dims, want.0, want.1
                )));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(adapter_err(format!(
                    "{key}: contains NaN or infinite values"
                )));
            }
            let slot = if is_a {
                &mut a_parts[layer][module.index()]
            } else {
                &mut b_parts[layer][module.index()]
            };
            *slot = Some(v);
        }
        let mut layers: Vec<[Option<LoraPair>; 7]> =
            (0..base.num_layers).map(|_| Default::default()).collect();
        let mut total = 0usize;
        for l in 0..base.num_layers {
            for m in TargetModule::ALL {
                let (a, b) = (a_parts[l][m.index()].take(), b_parts[l][m.index()].take());
                let (a, mut b) = match (a, b) {
                    (None, None) => continue,
                    (Some(a), Some(b)) => (a, b),
                    _ => {
                        return Err(adapter_err(format!(
                            "layer {l} {}: lora_A and lora_B must both be present",
                            m.peft_name()
                        )))
                    }
                };
                if base.rope_interleaved && matches!(m, TargetModule::Q | TargetModule::K) {
                    // The adapter's output rows are in HF order; the base's are permuted.
                    let heads = if m == TargetModule::Q {
                        base.num_heads
                    } else {
                        base.num_kv_heads
                    };
                    let perm = rope_permutation(heads, base.head_dim);
                    let hf = b;
                    b = perm
                        .iter()
                        .flat_map(|&src| hf[src * r..(src + 1) * r].iter().copied())
                        .collect();
                }
                let out = base.out_features(m);
                let mut bt = vec![0f32; r * out];
                for (o, row) in b.chunks_exact(r).enumerate() {
                    for (j, &v) in row.iter().enumerate() {
                        bt[j * out + o] = v;
                    }
                }
                let pair = LoraPair {
                    rank: r,
                    in_features: base.in_features(m),
                    out_features: out,
                    scale: scale as f32,
                    a,
                    bt,
                };
                total += pair.bytes();
                layers[l][m.index()] = Some(pair);
            }
        }
        if total == 0 {
            return Err(adapter_err("adapter has no LoRA tensors"));
        }
        Ok(Self {
            rank: r,
            scale,
            targets,
            layers,
            bytes: total,
        })
    }

    pub fn pair(&self, layer: usize, m: TargetModule) -> Option<&LoraPair> {
        self.layers.get(layer).and_then(|l| l[m.index()].as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peft_keys() {
        assert_eq!(
            parse_key("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"),
            Some((3, TargetModule::Q, true))
        );
        assert_eq!(
            parse_key("base_model.model.model.layers.12.mlp.down_proj.lora_B.default.weight"),
            Some((12, TargetModule::Down, false))
        );
        assert_eq!(
            parse_key("base_model.model.model.layers.1.mlp.q_proj.lora_A.weight"),
            None
        );
        assert_eq!(parse_key("base_model.model.lm_head.lora_A.weight"), None);
    }

    #[test]
    fn rope_permutation_matches_llama_cpp() {
        // llama.cpp: reshape(heads, 2, hd/2) then swap the last two axes.
        assert_eq!(rope_permutation(1, 4), vec![0, 2, 1, 3]);
        assert_eq!(rope_permutation(2, 4), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
