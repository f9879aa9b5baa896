//! PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors`, validated against
//! the base before use, and the low-rank term `y += (alpha/r) · B (A x)` applied row by row.

use std::collections::BTreeSet;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::config::LmConfig;
use super::error::{adapter_err, io_err, Result};
use half::f16;
use half::slice::HalfFloatSliceExt;

#[cfg(target_arch = "x86_64")]
use crate::simd::Isa;

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

/// One adapted projection: `A` (r × in, row-major) and `B` (out × r, in blocks of 16
/// outputs).
///
/// The weights are held as f16, as serving stacks hold adapters: with 16 sequences on 16
/// adapters a decode step reads every adapter's weights, and at f32 that memory traffic was a
/// quarter of the step. f16 keeps 11 significant bits over LoRA's magnitudes (an f32 file is
/// rounded to nearest; f16 files load exactly); weights beyond f16's range are rejected.
#[derive(Clone, Debug)]
pub struct LoraPair {
    pub rank: usize,
    pub in_features: usize,
    pub out_features: usize,
    pub scale: f32,
    a: Vec<f16>,
    /// `B` in blocks of 16 outputs: `[output / 16][rank][output % 16]`, the last block padded
    /// with zeros, so that a row's term reads `B` as one stream (rank-major `Bᵀ` is `rank`
    /// streams).
    b: Vec<f16>,
}

/// Outputs per block of [`LoraPair`]'s `B`.
const B_BLOCK: usize = 16;

impl LoraPair {
    /// Rounds `a` (rank × in, PEFT's `lora_A`) and `b` (out × rank, PEFT's `lora_B`) to f16;
    /// the caller has checked the range (values beyond ±65504 would become infinite).
    pub fn new(rank: usize, in_features: usize, out_features: usize, scale: f32, a: &[f32], b: &[f32]) -> Self {
        // The kernels index the weights by these dimensions without bounds checks.
        assert!(
            a.len() == rank * in_features && b.len() == out_features * rank,
            "LoRA weights do not match rank × in and out × rank"
        );
        let mut blocked = vec![0f32; out_features.div_ceil(B_BLOCK) * B_BLOCK * rank];
        for (o, row) in b.chunks_exact(rank.max(1)).enumerate() {
            for (r, &v) in row.iter().enumerate() {
                blocked[Self::b_index(rank, r, o)] = v;
            }
        }
        let half = |v: &[f32]| {
            let mut h = vec![f16::ZERO; v.len()];
            h.convert_from_f32_slice(v);
            h
        };
        Self {
            rank,
            in_features,
            out_features,
            scale,
            a: half(a),
            b: half(&blocked),
        }
    }

    /// `A[r][k]` as stored.
    pub fn a(&self, r: usize, k: usize) -> f32 {
        self.a[r * self.in_features + k].to_f32()
    }

    /// `Bᵀ[r][o]` (= `B[o][r]`) as stored.
    pub fn bt(&self, r: usize, o: usize) -> f32 {
        self.b[Self::b_index(self.rank, r, o)].to_f32()
    }

    /// Index of `B[o][r]` in `b`.
    fn b_index(rank: usize, r: usize, o: usize) -> usize {
        (o / B_BLOCK * rank + r) * B_BLOCK + o % B_BLOCK
    }

    /// Adds the low-rank term to `y` (rows × out) for inputs `x` (rows × in), row by row:
    /// `xa = scale · A x`, then `y += Σ_r xa_r Bᵀ_r`, each output's term one chain over the
    /// ranks in order from zero, then added. Each row is computed alone, so a row's term never
    /// depends on the other rows. The AVX2 kernels run when the CPU has AVX2, FMA and F16C,
    /// the scalar ones otherwise.
    pub fn apply(&self, x: &[f32], y: &mut [f32]) {
        let rows = x.chunks_exact(self.in_features).zip(y.chunks_exact_mut(self.out_features));
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() == Isa::Avx2Fma && is_x86_feature_detected!("f16c") {
            let mut xa = vec![0f32; self.rank];
            for (x, y) in rows {
                // SAFETY: the CPU supports AVX2, FMA and F16C; `x` is one row of `in_features`
                // inputs, `y` one of `out_features` outputs and `xa` holds `rank` factors.
                unsafe {
                    avx2::factor(self, x, &mut xa);
                    avx2::expand_add(self, &xa, y);
                }
            }
            return;
        }
        let mut xa = vec![0f32; self.rank];
        for (x, y) in rows {
            for (r, v) in xa.iter_mut().enumerate() {
                let mut sum = 0f32;
                for (k, &xv) in x.iter().enumerate() {
                    sum += xv * self.a(r, k);
                }
                *v = self.scale * sum;
            }
            for (o, yv) in y.iter_mut().enumerate() {
                let mut term = 0f32;
                for (r, &v) in xa.iter().enumerate() {
                    term += v * self.bt(r, o);
                }
                *yv += term;
            }
        }
    }

    fn bytes(&self) -> usize {
        (self.a.len() + self.b.len()) * std::mem::size_of::<f16>()
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // index loops over the const-size register groups read best
mod avx2 {
    use super::{LoraPair, B_BLOCK};
    use half::f16;
    use std::arch::x86_64::*;

    /// Ranks whose `A·x` run together: one accumulator register each, the input read once.
    const GROUP: usize = 8;

    /// Eight f16 values at `p` as f32 (exact).
    ///
    /// # Safety
    /// F16C; 8 readable values at `p`.
    #[target_feature(enable = "avx2,f16c")]
    #[inline]
    unsafe fn load8(p: *const f16) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }

    /// `xa = scale · A x` for one input row.
    ///
    /// # Safety
    /// AVX2, FMA and F16C; `x` has `in_features` values and `xa` `rank`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn factor(p: &LoraPair, x: &[f32], xa: &mut [f32]) {
        let mut r = 0;
        while r < p.rank {
            // SAFETY: AVX2, FMA and F16C (caller); ranks r.. exist.
            if p.rank - r >= GROUP {
                unsafe { project::<GROUP>(p, r, x, xa) };
                r += GROUP;
            } else {
                unsafe { project::<1>(p, r, x, xa) };
                r += 1;
            }
        }
    }

    /// `xa[r0 + j] = scale · A_{r0 + j} · x` for j < G.
    ///
    /// # Safety
    /// AVX2, FMA and F16C; ranks `r0..r0 + G` exist and `x` has `in_features` values.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn project<const G: usize>(p: &LoraPair, r0: usize, x: &[f32], xa: &mut [f32]) {
        let n = p.in_features;
        let rows: [&[f16]; G] = std::array::from_fn(|j| &p.a[(r0 + j) * n..(r0 + j + 1) * n]);
        let mut acc = [_mm256_setzero_ps(); G];
        let full = n / 8 * 8;
        for k in (0..full).step_by(8) {
            // SAFETY: k + 8 <= n for x and every row.
            unsafe {
                let xv = _mm256_loadu_ps(x.as_ptr().add(k));
                for j in 0..G {
                    acc[j] = _mm256_fmadd_ps(xv, load8(rows[j].as_ptr().add(k)), acc[j]);
                }
            }
        }
        for j in 0..G {
            let mut lanes = [0f32; 8];
            // SAFETY: 8 floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[j]) };
            let mut sum = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
                + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
            for k in full..n {
                sum += x[k] * rows[j][k].to_f32();
            }
            xa[r0 + j] = p.scale * sum;
        }
    }

    /// `y += Σ_r xa_r Bᵀ_r` for one row: blocks of 16 outputs two at a time, four registers
    /// of FMA chains over the ranks.
    ///
    /// # Safety
    /// AVX2, FMA and F16C; `y` has at most `out_features` values and `xa` `rank`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn expand_add(p: &LoraPair, xa: &[f32], y: &mut [f32]) {
        let mut blocks = y.chunks_mut(B_BLOCK).enumerate().peekable();
        while let Some((i, first)) = blocks.next() {
            // SAFETY: blocks i and i + 1 exist when their outputs do (the caller's contract).
            unsafe {
                match blocks.next() {
                    Some((_, second)) => {
                        let [t0, t1] = block_terms::<2>(p, xa, i);
                        add_block(first, t0);
                        add_block(second, t1);
                    }
                    None => add_block(first, block_terms::<1>(p, xa, i)[0]),
                }
            }
        }
    }

    /// The terms of `G` consecutive blocks from `block`: each output one FMA chain over the
    /// ranks, from zero.
    ///
    /// # Safety
    /// AVX2, FMA and F16C; the blocks exist and `xa` has `rank` values.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block_terms<const G: usize>(p: &LoraPair, xa: &[f32], block: usize) -> [[__m256; 2]; G] {
        let stride = p.rank * B_BLOCK;
        let mut acc = [[_mm256_setzero_ps(); 2]; G];
        for (r, &v) in xa.iter().enumerate() {
            let t = _mm256_set1_ps(v);
            for g in 0..G {
                // SAFETY: the caller's contract.
                unsafe {
                    let b = p.b.as_ptr().add((block + g) * stride + r * B_BLOCK);
                    acc[g][0] = _mm256_fmadd_ps(t, load8(b), acc[g][0]);
                    acc[g][1] = _mm256_fmadd_ps(t, load8(b.add(8)), acc[g][1]);
                }
            }
        }
        acc
    }

    /// `y += term` for a block's outputs (16, or fewer in the last block).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn add_block(y: &mut [f32], [lo, hi]: [__m256; 2]) {
        let mut term = [0f32; B_BLOCK];
        // SAFETY: `term` holds 16 floats.
        unsafe {
            _mm256_storeu_ps(term.as_mut_ptr(), lo);
            _mm256_storeu_ps(term.as_mut_ptr().add(8), hi);
        }
        for (yv, t) in y.iter_mut().zip(term) {
            *yv += t;
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
                safetensors::Dtype::F32 => {
                    let mut values = vec![0f32; data.len() / 4];
                    for (v, c) in values.iter_mut().zip(data.chunks_exact(4)) {
                        *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    }
                    values
                }
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
            // One branch-free pass (it vectorises), the message worked out only for a bad
            // tensor.
            let limit = f16::MAX.to_f32();
            if v.iter().fold(false, |bad, x| bad | (x.abs() > limit) | x.is_nan()) {
                return Err(adapter_err(if v.iter().any(|x| !x.is_finite()) {
                    format!("{key}: contains NaN or infinite values")
                } else {
                    format!(
                        "{key}: has values beyond ±65504, which the server's f16 adapter weights cannot hold"
                    )
                }));
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
                let pair = LoraPair::new(r, base.in_features(m), out, scale as f32, &a, &b);
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
    fn low_rank_term_matches_a_naive_product() {
        // Rank 11: a group of 8 and three single ranks; 20 inputs and 13 outputs leave tails.
        let (rank, inf, out, rows) = (11, 20, 13, 3);
        let val = |i: usize, seed: usize| ((i * 7919 + seed * 104729) % 201) as f32 / 100.0 - 1.0;
        let a: Vec<f32> = (0..rank * inf).map(|i| val(i, 1)).collect();
        let b: Vec<f32> = (0..out * rank).map(|i| val(i, 2)).collect();
        let p = LoraPair::new(rank, inf, out, 0.5, &a, &b);
        // Stored as given, rounded to f16: A row-major, B (out × rank) whatever its layout.
        for r in 0..rank {
            for k in 0..inf {
                assert_eq!(p.a(r, k), f16::from_f32(a[r * inf + k]).to_f32());
            }
            for o in 0..out {
                assert_eq!(p.bt(r, o), f16::from_f32(b[o * rank + r]).to_f32(), "B[{o}][{r}]");
            }
        }
        let x: Vec<f32> = (0..rows * inf).map(|i| val(i, 3)).collect();
        let start: Vec<f32> = (0..rows * out).map(|i| val(i, 4)).collect();
        let mut y = start.clone();
        p.apply(&x, &mut y);
        for i in 0..rows {
            for o in 0..out {
                let mut want = start[i * out + o] as f64;
                for r in 0..rank {
                    let xa: f64 = (0..inf).map(|k| x[i * inf + k] as f64 * p.a(r, k) as f64).sum();
                    want += 0.5 * xa * p.bt(r, o) as f64;
                }
                let got = y[i * out + o] as f64;
                assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "row {i} out {o}: {got} vs {want}");
            }
        }
        // Rows are independent: the last row alone gives the same bits.
        let mut alone = start[(rows - 1) * out..].to_vec();
        p.apply(&x[(rows - 1) * inf..], &mut alone);
        assert_eq!(alone[..], y[(rows - 1) * out..]);
    }

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
