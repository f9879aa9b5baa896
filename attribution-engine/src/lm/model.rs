//! The base causal LM and its batched forward pass.
//!
//! Projections are `QTensor`s: quantised GGUF weights stay quantised, dense (safetensors)
//! weights are wrapped as F32 `QTensor`s. candle's CPU kernel for those computes every output
//! element as one dot product of an input row with a weight row, the same code whatever the
//! number of rows, which is what makes the batch invariant. K-quant types take a different
//! (repacked) kernel for multi-row inputs on x86, so they are converted to Q8_0 at load.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::config::{Arch, LmConfig};
use super::error::{io_err, model_err, Result};
use super::lora::{LoraAdapter, TargetModule};

/// How to hold the base weights.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Convert every quantised projection to Q8_0 (candle has AVX2 kernels for Q8_0 but not
    /// for e.g. Q4_1): faster decode, more memory, a slightly different (finer) quantisation.
    pub requantize_q8_0: bool,
}

/// A projection `y = x Wᵀ (+ b)`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Arc<QTensor>,
    bias: Option<Tensor>,
}

impl Linear {
    fn new(weight: QTensor, bias: Option<Tensor>, opts: &LoadOptions) -> Result<Self> {
        let dtype = weight.dtype();
        let k = weight.shape().dims().last().copied().unwrap_or(0);
        let keep = match dtype {
            GgmlDType::F32 | GgmlDType::Q8_0 => true,
            GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
                !opts.requantize_q8_0
            }
            _ => false,
        };
        let weight = if keep {
            weight
        } else {
            let dense = weight.dequantize(&Device::Cpu)?;
            let target = if matches!(dtype, GgmlDType::F16 | GgmlDType::BF16) || k % 32 != 0 {
                GgmlDType::F32
            } else {
                GgmlDType::Q8_0
            };
            QTensor::quantize(&dense, target)?
        };
        Ok(Self {
            weight: Arc::new(weight),
            bias,
        })
    }

    fn dense(w: &Tensor, bias: Option<Tensor>) -> Result<Self> {
        let q = QTensor::quantize(&w.to_dtype(DType::F32)?, GgmlDType::F32)?;
        Ok(Self {
            weight: Arc::new(q),
            bias: bias.map(|b| b.to_dtype(DType::F32)).transpose()?,
        })
    }

    /// x: rows × in → rows × out.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.contiguous()?.apply_op1_no_bwd(self.weight.as_ref())?;
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// Bytes of the stored weight.
    pub fn weight_bytes(&self) -> usize {
        self.weight.storage_size_in_bytes()
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Tensor,
    proj: [Linear; 7],
    ffn_norm: Tensor,
}

/// Per-sequence key/value cache: one (K, V) pair per layer, `[1, kv_heads, len, head_dim]`,
/// in buffers that grow by [`KV_CHUNK`] positions (appending never copies the whole cache).
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<Option<candle_nn::kv_cache::KvCache>>,
    len: usize,
}

const KV_CHUNK: usize = 128;

impl KvCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One sequence's part of a batched step: new tokens (the prompt on the first step, one token
/// afterwards), its cache and its adapter.
pub struct SeqStep<'a> {
    pub tokens: &'a [u32],
    pub cache: &'a mut KvCache,
    pub adapter: Option<&'a LoraAdapter>,
}

#[derive(Debug)]
pub struct CausalLm {
    pub config: LmConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

fn rope_tables(cfg: &LmConfig, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1f32 / (cfg.rope_theta as f32).powf(2.0 * i as f32 / cfg.head_dim as f32))
        .collect();
    let inv = Tensor::from_vec(inv, (1, half), device)?;
    let pos = Tensor::arange(0u32, cfg.max_position as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((cfg.max_position, 1))?;
    let freqs = pos.broadcast_mul(&inv)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

const PROJ_GGUF: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
];

impl CausalLm {
    /// Loads a llama/qwen2 GGUF file. Returns the GGUF content too (tokenizer, chat template).
    pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<(Self, gguf_file::Content)> {
        let device = Device::Cpu;
        let mut file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
        let ct = gguf_file::Content::read(&mut file)
            .map_err(|e| model_err(format!("{}: not a GGUF file: {e}", path.display())))?;
        let cfg = LmConfig::from_gguf(&ct)?;
        let mut get = |name: &str| -> Result<QTensor> {
            ct.tensor(&mut file, name, &device)
                .map_err(|e| model_err(format!("GGUF tensor {name}: {e}")))
        };
        let embed_q = get("token_embd.weight")?;
        let embed = embed_q.dequantize(&device)?;
        let norm = get("output_norm.weight")?.dequantize(&device)?;
        let lm_head = match ct.tensor_infos.contains_key("output.weight") {
            true => Linear::new(get("output.weight")?, None, opts)?,
            false => Linear::new(embed_q, None, opts)?,
        };
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for l in 0..cfg.num_layers {
            let mut proj = Vec::with_capacity(7);
            for (i, name) in PROJ_GGUF.iter().enumerate() {
                let w = get(&format!("blk.{l}.{name}.weight"))?;
                let bias = if cfg.arch == Arch::Qwen2 && i < 3 {
                    Some(get(&format!("blk.{l}.{name}.bias"))?.dequantize(&device)?)
                } else {
                    None
                };
                proj.push(Linear::new(w, bias, opts)?);
            }
            layers.push(Layer {
                attn_norm: get(&format!("blk.{l}.attn_norm.weight"))?.dequantize(&device)?,
                proj: proj.try_into().map_err(|_| model_err("projection count"))?,
                ffn_norm: get(&format!("blk.{l}.ffn_norm.weight"))?.dequantize(&device)?,
            });
        }
        let model = Self::assemble(cfg, embed, layers, norm, lm_head, device)?;
        Ok((model, ct))
    }

    /// Loads a Hugging Face llama/qwen2 directory: `config.json` and `*.safetensors`.
    pub fn load_hf_dir(dir: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let cfg_path = dir.join("config.json");
        let json = std::fs::read_to_string(&cfg_path).map_err(|e| io_err(&cfg_path, e))?;
        let cfg = LmConfig::from_hf_json(&json)?;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io_err(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(model_err(format!(
                "no .safetensors files in {}",
                dir.display()
            )));
        }
        let mut w: HashMap<String, Tensor> = HashMap::new();
        for f in &files {
            let t = candle_core::safetensors::load(f, &device)
                .map_err(|e| model_err(format!("{}: {e}", f.display())))?;
            w.extend(t);
        }
        let mut take = |name: &str| -> Result<Tensor> {
            w.remove(name)
                .ok_or_else(|| model_err(format!("missing tensor {name}")))?
                .to_dtype(DType::F32)
                .map_err(Into::into)
        };
        let embed = take("model.embed_tokens.weight")?;
        let norm = take("model.norm.weight")?;
        let lm_head = match take("lm_head.weight") {
            Ok(t) => Linear::dense(&t, None)?,
            Err(_) => Linear::dense(&embed, None)?,
        };
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for l in 0..cfg.num_layers {
            let mut proj = Vec::with_capacity(7);
            for (i, m) in TargetModule::ALL.iter().enumerate() {
                let base = format!(
                    "model.layers.{l}.{}.{}",
                    if i < 4 { "self_attn" } else { "mlp" },
                    m.peft_name()
                );
                let bias = if cfg.arch == Arch::Qwen2 && i < 3 {
                    Some(take(&format!("{base}.bias"))?)
                } else {
                    None
                };
                proj.push(Linear::dense(&take(&format!("{base}.weight"))?, bias)?);
            }
            layers.push(Layer {
                attn_norm: take(&format!("model.layers.{l}.input_layernorm.weight"))?,
                proj: proj.try_into().map_err(|_| model_err("projection count"))?,
                ffn_norm: take(&format!("model.layers.{l}.post_attention_layernorm.weight"))?,
            });
        }
        Self::assemble(cfg, embed, layers, norm, lm_head, device)
    }

    fn assemble(
        cfg: LmConfig,
        embed: Tensor,
        layers: Vec<Layer>,
        norm: Tensor,
        lm_head: Linear,
        device: Device,
    ) -> Result<Self> {
        if embed.dims() != [cfg.vocab_size, cfg.hidden_size] {
            return Err(model_err(format!(
                "embedding shape {:?} does not match vocab {} × hidden {}",
                embed.dims(),
                cfg.vocab_size,
                cfg.hidden_size
            )));
        }
        for (l, layer) in layers.iter().enumerate() {
            for m in TargetModule::ALL {
                let want = [cfg.out_features(m), cfg.in_features(m)];
                let got = layer.proj[m.index()].weight.shape().dims().to_vec();
                if got != want {
                    return Err(model_err(format!(
                        "layer {l} {}: shape {got:?}, expected {want:?}",
                        m.peft_name()
                    )));
                }
            }
        }
        let (cos, sin) = rope_tables(&cfg, &device)?;
        Ok(Self {
            config: cfg,
            embed,
            layers,
            norm,
            lm_head,
            cos,
            sin,
            device,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Approximate resident bytes of the base weights.
    pub fn weight_bytes(&self) -> usize {
        let dense = |t: &Tensor| t.elem_count() * 4;
        dense(&self.embed)
            + self.lm_head.weight_bytes()
            + self
                .layers
                .iter()
                .map(|l| {
                    l.proj.iter().map(Linear::weight_bytes).sum::<usize>()
                        + dense(&l.attn_norm)
                        + dense(&l.ffn_norm)
                })
                .sum::<usize>()
    }

    fn project(
        &self,
        layer: usize,
        m: TargetModule,
        x: &Tensor,
        x_rows: &mut Option<Vec<f32>>,
        segs: &[(usize, usize, Option<&LoraAdapter>)],
    ) -> Result<Tensor> {
        let y = self.layers[layer].proj[m.index()].forward(x)?;
        let pairs: Vec<_> = segs
            .iter()
            .filter_map(|&(off, n, a)| a.and_then(|a| a.pair(layer, m)).map(|p| (off, n, p)))
            .collect();
        if pairs.is_empty() {
            return Ok(y);
        }
        // The base projection ran once for the whole batch; each adapter adds its low-rank
        // term to its own rows only.
        if x_rows.is_none() {
            *x_rows = Some(x.flatten_all()?.to_vec1::<f32>()?);
        }
        let xv = x_rows.as_deref().unwrap_or_default();
        let (rows, out) = y.dims2()?;
        let inf = self.config.in_features(m);
        let mut yv = y.flatten_all()?.to_vec1::<f32>()?;
        for (off, n, p) in pairs {
            p.apply(
                &xv[off * inf..(off + n) * inf],
                &mut yv[off * out..(off + n) * out],
            );
        }
        Ok(Tensor::from_vec(yv, (rows, out), &self.device)?)
    }

    fn rope(&self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let t = x.dim(2)?;
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        Ok(if self.config.rope_interleaved {
            candle_nn::rotary_emb::rope_i(x, &cos, &sin)?
        } else {
            candle_nn::rotary_emb::rope(x, &cos, &sin)?
        })
    }

    /// One step for a batch of sequences; returns the logits of each sequence's last new
    /// position (vocab floats per sequence), in input order.
    pub fn forward(&self, steps: &mut [SeqStep<'_>]) -> Result<Vec<Vec<f32>>> {
        let cfg = &self.config;
        let mut segs = Vec::with_capacity(steps.len());
        let mut all_tokens = Vec::new();
        for s in steps.iter() {
            if s.tokens.is_empty() {
                return Err(model_err("empty step"));
            }
            if s.cache.len + s.tokens.len() > cfg.max_position {
                return Err(model_err(format!(
                    "sequence longer than the context ({})",
                    cfg.max_position
                )));
            }
            if let Some(&bad) = s.tokens.iter().find(|&&t| t as usize >= cfg.vocab_size) {
                return Err(model_err(format!("token id {bad} outside the vocabulary")));
            }
            segs.push((all_tokens.len(), s.tokens.len(), s.adapter));
            all_tokens.extend_from_slice(s.tokens);
        }
        let n = all_tokens.len();
        let ids = Tensor::from_vec(all_tokens, n, &self.device)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        let (nh, nkv, hd) = (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
        let eps = cfg.rms_eps as f32;
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, eps)?;
            let mut h_rows = None;
            let q = self.project(l, TargetModule::Q, &h, &mut h_rows, &segs)?;
            let k = self.project(l, TargetModule::K, &h, &mut h_rows, &segs)?;
            let v = self.project(l, TargetModule::V, &h, &mut h_rows, &segs)?;
            let mut outs = Vec::with_capacity(steps.len());
            for (s, &(off, t, _)) in steps.iter_mut().zip(&segs) {
                let pos = s.cache.len;
                let heads = |z: &Tensor, nh: usize| -> Result<Tensor> {
                    Ok(z.narrow(0, off, t)?
                        .reshape((1, t, nh, hd))?
                        .transpose(1, 2)?
                        .contiguous()?)
                };
                let qs = self.rope(&heads(&q, nh)?, pos)?;
                let ks = self.rope(&heads(&k, nkv)?, pos)?;
                let vs = heads(&v, nkv)?;
                if s.cache.layers.len() < self.layers.len() {
                    s.cache.layers.resize_with(self.layers.len(), || None);
                }
                let cache = s.cache.layers[l]
                    .get_or_insert_with(|| candle_nn::kv_cache::KvCache::new(2, KV_CHUNK));
                let (kf, vf) = cache.append(&ks, &vs)?;
                let total = pos + t;
                let rep = nh / nkv;
                let expand = |z: &Tensor| -> Result<Tensor> {
                    Ok(if rep == 1 {
                        z.contiguous()?
                    } else {
                        z.unsqueeze(2)?
                            .expand((1, nkv, rep, total, hd))?
                            .reshape((1, nh, total, hd))?
                    })
                };
                let (kf, vf) = (expand(&kf)?, expand(&vf)?);
                let att = (qs.matmul(&kf.t()?.contiguous()?)? * (1.0 / (hd as f64).sqrt()))?;
                let att = if t > 1 {
                    let mask: Vec<f32> = (0..t)
                        .flat_map(|i| {
                            (0..total)
                                .map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })
                        })
                        .collect();
                    att.broadcast_add(&Tensor::from_vec(mask, (t, total), &self.device)?)?
                } else {
                    att
                };
                let att = candle_nn::ops::softmax_last_dim(&att)?;
                let o = att
                    .matmul(&vf.contiguous()?)?
                    .transpose(1, 2)?
                    .reshape((t, nh * hd))?;
                outs.push(o);
            }
            let attn = Tensor::cat(&outs, 0)?;
            let mut a_rows = None;
            let o = self.project(l, TargetModule::O, &attn, &mut a_rows, &segs)?;
            x = (x + o)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, eps)?;
            let mut h_rows = None;
            let gate = self.project(l, TargetModule::Gate, &h, &mut h_rows, &segs)?;
            let up = self.project(l, TargetModule::Up, &h, &mut h_rows, &segs)?;
            let act = (candle_nn::ops::silu(&gate)? * up)?;
            let mut act_rows = None;
            let down = self.project(l, TargetModule::Down, &act, &mut act_rows, &segs)?;
            x = (x + down)?;
        }
        for (s, &(_, t, _)) in steps.iter_mut().zip(&segs) {
            s.cache.len += t;
        }
        let last: Vec<u32> = segs
            .iter()
            .map(|&(off, t, _)| (off + t - 1) as u32)
            .collect();
        let nseq = last.len();
        let last = Tensor::from_vec(last, nseq, &self.device)?;
        let x = x.index_select(&last, 0)?;
        let x = candle_nn::ops::rms_norm(&x, &self.norm, eps)?;
        let logits = self.lm_head.forward(&x)?;
        Ok(logits.to_vec2::<f32>()?)
    }
}
