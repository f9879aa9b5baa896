//! The base causal LM and its batched forward pass.
//!
//! Quantised (GGUF) projections are held as 7-bit blocks and multiplied, with their inputs
//! quantised to 8 bits, by [`Int8Matrix`]'s integer kernel; dense (safetensors) weights are
//! wrapped as F32 `QTensor`s, for which candle's CPU kernel computes every output element as
//! one dot product of an input row with a weight row. Either way a row's result is the same
//! whatever else is in the batch.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::config::{Arch, LmConfig};
use super::error::{io_err, model_err, Result};
use super::attention::{attend, Heads, KvCache, SeqAttention};
use super::int8::{Int8Matrix, Product, QuantizedRows};
use super::pool::{run_jobs, Job};
use super::ops::{add_assign, rms_norm_rows, silu_mul_rows, Rope};
use super::lora::{LoraAdapter, LoraPair, TargetModule};

/// A projection `y = x Wᵀ (+ b)`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Weight,
    bias: Option<Vec<f32>>,
}

#[derive(Debug, Clone)]
enum Weight {
    Int8(Arc<Int8Matrix>),
    Dense(Arc<QTensor>),
}

impl Linear {
    /// A GGUF tensor: quantised types become 7-bit blocks of [`Int8Matrix`] (finer than the 4-,
    /// 5- and 6-bit GGUF quantisations, one bit coarser than Q8_0); F32/F16/BF16 stay dense.
    fn from_gguf(weight: QTensor, bias: Option<Tensor>) -> Result<Self> {
        let dense = matches!(
            weight.dtype(),
            GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16
        );
        let w = weight.dequantize(&Device::Cpu)?;
        if !dense {
            let (rows, cols) = w.dims2()?;
            let values = w.flatten_all()?.to_vec1::<f32>()?;
            if let Some(q) = Int8Matrix::quantize(&values, rows, cols) {
                return Ok(Self {
                    weight: Weight::Int8(Arc::new(q)),
                    bias: bias.as_ref().map(to_vec).transpose()?,
                });
            }
        }
        Self::dense(&w, bias)
    }

    fn dense(w: &Tensor, bias: Option<Tensor>) -> Result<Self> {
        let q = QTensor::quantize(&w.to_dtype(DType::F32)?, GgmlDType::F32)?;
        Ok(Self {
            weight: Weight::Dense(Arc::new(q)),
            bias: bias.as_ref().map(to_vec).transpose()?,
        })
    }

    /// x: m rows × in → m rows × out.
    pub fn forward(&self, x: &[f32], m: usize) -> Result<Vec<f32>> {
        let mut y = match &self.weight {
            Weight::Int8(w) => w.matmul_t(x, m),
            Weight::Dense(w) => dense_product(w, x, m)?,
        };
        self.add_bias(&mut y);
        Ok(y)
    }

    fn add_bias(&self, y: &mut [f32]) {
        if let Some(b) = &self.bias {
            for row in y.chunks_exact_mut(b.len()) {
                add_assign(row, b);
            }
        }
    }

    /// (out, in) of the weight.
    fn dims(&self) -> Vec<usize> {
        match &self.weight {
            Weight::Dense(w) => w.shape().dims().to_vec(),
            Weight::Int8(w) => vec![w.rows(), w.cols()],
        }
    }

    /// Bytes of the stored weight.
    pub fn weight_bytes(&self) -> usize {
        match &self.weight {
            Weight::Dense(w) => w.storage_size_in_bytes(),
            Weight::Int8(w) => w.bytes(),
        }
    }
}

/// A base projection of [`CausalLm::project`]: an int8 product whose work items join the
/// dispatch, or a dense one candle has already computed.
enum Base<'a> {
    Pending(Product<'a>),
    Done(Vec<f32>),
}

/// `x Wᵀ` through candle's CPU kernel (one dot product per output element).
fn dense_product(w: &QTensor, x: &[f32], m: usize) -> Result<Vec<f32>> {
    let k = x.len() / m.max(1);
    let xt = Tensor::from_slice(x, (m, k), &Device::Cpu)?;
    to_vec(&xt.apply_op1_no_bwd(w)?)
}

#[derive(Debug)]
struct Layer {
    attn_norm: Vec<f32>,
    proj: [Linear; 7],
    ffn_norm: Vec<f32>,
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
    /// vocab × hidden, row-major.
    embed: Vec<f32>,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    lm_head: Linear,
    rope: Rope,
    device: Device,
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
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
    pub fn load_gguf(path: &Path) -> Result<(Self, gguf_file::Content)> {
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
        let norm = to_vec(&get("output_norm.weight")?.dequantize(&device)?)?;
        let lm_head = match ct.tensor_infos.contains_key("output.weight") {
            true => Linear::from_gguf(get("output.weight")?, None)?,
            false => Linear::from_gguf(embed_q, None)?,
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
                proj.push(Linear::from_gguf(w, bias)?);
            }
            layers.push(Layer {
                attn_norm: to_vec(&get(&format!("blk.{l}.attn_norm.weight"))?.dequantize(&device)?)?,
                proj: proj.try_into().map_err(|_| model_err("projection count"))?,
                ffn_norm: to_vec(&get(&format!("blk.{l}.ffn_norm.weight"))?.dequantize(&device)?)?,
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
        let norm = to_vec(&take("model.norm.weight")?)?;
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
                attn_norm: to_vec(&take(&format!("model.layers.{l}.input_layernorm.weight"))?)?,
                proj: proj.try_into().map_err(|_| model_err("projection count"))?,
                ffn_norm: to_vec(&take(&format!(
                    "model.layers.{l}.post_attention_layernorm.weight"
                ))?)?,
            });
        }
        Self::assemble(cfg, embed, layers, norm, lm_head, device)
    }

    fn assemble(
        cfg: LmConfig,
        embed: Tensor,
        layers: Vec<Layer>,
        norm: Vec<f32>,
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
        let hidden = [cfg.hidden_size];
        if norm.len() != cfg.hidden_size {
            return Err(model_err("final norm does not match the hidden size"));
        }
        if lm_head.dims() != [cfg.vocab_size, cfg.hidden_size] {
            return Err(model_err(format!(
                "output projection shape {:?}, expected [{}, {}]",
                lm_head.dims(),
                cfg.vocab_size,
                cfg.hidden_size
            )));
        }
        for (l, layer) in layers.iter().enumerate() {
            if [layer.attn_norm.len()] != hidden || [layer.ffn_norm.len()] != hidden {
                return Err(model_err(format!(
                    "layer {l}: norm weights do not match the hidden size"
                )));
            }
            for m in TargetModule::ALL {
                let want = [cfg.out_features(m), cfg.in_features(m)];
                let proj = &layer.proj[m.index()];
                let got = proj.dims();
                if proj.bias.as_ref().is_some_and(|b| b.len() != want[0]) {
                    return Err(model_err(format!(
                        "layer {l} {}: bias does not match {} outputs",
                        m.peft_name(),
                        want[0]
                    )));
                }
                if got != want {
                    return Err(model_err(format!(
                        "layer {l} {}: shape {got:?}, expected {want:?}",
                        m.peft_name()
                    )));
                }
            }
        }
        let rope = Rope::new(
            cfg.head_dim,
            cfg.rope_theta,
            cfg.max_position,
            cfg.rope_interleaved,
        );
        Ok(Self {
            embed: to_vec(&embed)?,
            config: cfg,
            layers,
            norm,
            lm_head,
            rope,
            device,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Approximate resident bytes of the base weights.
    pub fn weight_bytes(&self) -> usize {
        let dense = |v: &[f32]| std::mem::size_of_val(v);
        dense(&self.embed)
            + dense(&self.norm)
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

    /// Projections of `x` (rows × in) by several modules sharing that input (q, k and v; gate
    /// and up; or one alone), in module order: the base projections for the whole batch and
    /// each adapter's low-rank term on its own rows, as work items of one pool dispatch.
    ///
    /// An adapter's term is computed into its own buffer from zero and then added to the base
    /// output, so it does not matter which of them finishes first.
    fn project<const N: usize>(
        &self,
        layer: usize,
        modules: [TargetModule; N],
        x: &[f32],
        segs: &[(usize, usize, Option<&LoraAdapter>)],
    ) -> Result<[Vec<f32>; N]> {
        let inf = self.config.in_features(modules[0]);
        let rows = x.len() / inf;
        let linears: Vec<&Linear> = modules
            .iter()
            .map(|m| &self.layers[layer].proj[m.index()])
            .collect();
        // Dense bases go through candle, which has its own dispatch; int8 ones join this one,
        // sharing one quantisation of the input.
        let quantized = OnceCell::new();
        let mut bases = Vec::with_capacity(N);
        for linear in &linears {
            bases.push(match &linear.weight {
                Weight::Int8(w) => {
                    let q = quantized.get_or_init(|| QuantizedRows::new(x, rows, inf));
                    Base::Pending(Product::new(w, q))
                }
                Weight::Dense(w) => Base::Done(dense_product(w, x, rows)?),
            });
        }
        // The adapters' terms: (module position, first row, rows, pair) for every sequence with
        // an adapter on that module; one zeroed buffer (rows × out) per adapted module, each
        // term writing its own rows.
        let spans: Vec<(usize, usize, usize, &LoraPair)> = modules
            .iter()
            .enumerate()
            .flat_map(|(i, &m)| {
                segs.iter()
                    .filter_map(move |&(off, n, a)| Some((i, off, n, a?.pair(layer, m)?)))
            })
            .collect();
        let mut buffers: Vec<Vec<f32>> = modules
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                let adapted = spans.iter().any(|s| s.0 == i);
                vec![0f32; if adapted { rows * self.config.out_features(m) } else { 0 }]
            })
            .collect();
        let mut terms = Vec::with_capacity(spans.len());
        let mut rest: Vec<(&mut [f32], usize)> = buffers.iter_mut().map(|b| (b.as_mut_slice(), 0)).collect();
        for &(i, off, n, pair) in &spans {
            // `rest[i]` holds module i's buffer from row `at` on; spans come in row order.
            let out = self.config.out_features(modules[i]);
            let (tail, at) = std::mem::take(&mut rest[i]);
            let (_, tail) = tail.split_at_mut((off - at) * out);
            let (mine, tail) = tail.split_at_mut(n * out);
            rest[i] = (tail, off + n);
            terms.push((off, n, pair, Mutex::new(mine)));
        }
        // The adapters' terms first: they are the larger items, and cheap panels last keep
        // the threads' finishing times close.
        let mut jobs: Vec<Job<'_>> = vec![(
            terms.len(),
            Box::new(|r: Range<usize>| {
                for (off, n, pair, term) in &terms[r] {
                    if let Ok(mut term) = term.lock() {
                        pair.apply(&x[off * inf..(off + n) * inf], &mut term);
                    }
                }
            }),
        )];
        for base in &bases {
            if let Base::Pending(p) = base {
                // SAFETY: `run_jobs` hands every item to exactly one call.
                jobs.push((p.items(), Box::new(|r| unsafe { p.run(r) })));
            }
        }
        run_jobs(&jobs);
        drop(jobs);
        let mut outputs: Vec<Vec<f32>> = bases
            .into_iter()
            .zip(&linears)
            .map(|(base, linear)| {
                let mut y = match base {
                    Base::Pending(p) => p.finish(),
                    Base::Done(y) => y,
                };
                linear.add_bias(&mut y);
                y
            })
            .collect();
        drop(terms);
        for (i, off, n, _) in spans {
            let out = self.config.out_features(modules[i]);
            let rows = off * out..(off + n) * out;
            add_assign(&mut outputs[i][rows.clone()], &buffers[i][rows]);
        }
        outputs
            .try_into()
            .map_err(|_| model_err("a projection group lost an output"))
    }

    /// One step for a batch of sequences; returns the logits of each sequence's last new
    /// position (vocab floats per sequence), in input order.
    pub fn forward(&self, steps: &mut [SeqStep<'_>]) -> Result<Vec<Vec<f32>>> {
        let cfg = &self.config;
        let hidden = cfg.hidden_size;
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let mut segs = Vec::with_capacity(steps.len());
        let mut rows = 0;
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
            segs.push((rows, s.tokens.len(), s.adapter));
            rows += s.tokens.len();
        }
        let mut x = Vec::with_capacity(rows * hidden);
        for s in steps.iter() {
            for &t in s.tokens {
                x.extend_from_slice(&self.embed[t as usize * hidden..][..hidden]);
            }
        }
        let heads = Heads {
            heads: cfg.num_heads,
            kv_heads: cfg.num_kv_heads,
            head_dim: cfg.head_dim,
        };
        let (q_width, kv_width) = (
            cfg.num_heads * cfg.head_dim,
            cfg.num_kv_heads * cfg.head_dim,
        );
        let eps = cfg.rms_eps as f32;
        for s in steps.iter_mut() {
            s.cache
                .layers
                .resize_with(self.layers.len(), Default::default);
        }
        for (l, layer) in self.layers.iter().enumerate() {
            let h = rms_norm_rows(&x, &layer.attn_norm, eps);
            let [mut q, mut k, v] = self.project(
                l,
                [TargetModule::Q, TargetModule::K, TargetModule::V],
                &h,
                &segs,
            )?;
            for (s, &(off, t, _)) in steps.iter_mut().zip(&segs) {
                for i in 0..t {
                    let pos = s.cache.len + i;
                    self.rope
                        .apply(&mut q[(off + i) * q_width..][..q_width], pos);
                    self.rope
                        .apply(&mut k[(off + i) * kv_width..][..kv_width], pos);
                }
                s.cache.layers[l].append(
                    &k[off * kv_width..(off + t) * kv_width],
                    &v[off * kv_width..(off + t) * kv_width],
                    heads,
                );
            }
            let seqs: Vec<SeqAttention<'_>> = steps
                .iter()
                .zip(&segs)
                .map(|(s, &(row, new, _))| SeqAttention {
                    row,
                    new,
                    cache: &s.cache.layers[l],
                })
                .collect();
            let attn = attend(&q, &seqs, heads);
            let [o] = self.project(l, [TargetModule::O], &attn, &segs)?;
            add_assign(&mut x, &o);
            let h = rms_norm_rows(&x, &layer.ffn_norm, eps);
            let [mut gate, up] =
                self.project(l, [TargetModule::Gate, TargetModule::Up], &h, &segs)?;
            silu_mul_rows(&mut gate, &up, cfg.intermediate_size);
            let [down] = self.project(l, [TargetModule::Down], &gate, &segs)?;
            add_assign(&mut x, &down);
        }
        let mut last = Vec::with_capacity(steps.len() * hidden);
        for (s, &(off, t, _)) in steps.iter_mut().zip(&segs) {
            s.cache.len += t;
            last.extend_from_slice(&x[(off + t - 1) * hidden..][..hidden]);
        }
        let last = rms_norm_rows(&last, &self.norm, eps);
        let logits = self.lm_head.forward(&last, steps.len())?;
        Ok(logits
            .chunks_exact(cfg.vocab_size)
            .map(<[f32]>::to_vec)
            .collect())
    }
}
