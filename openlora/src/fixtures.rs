//! Tiny randomly initialised models and adapters written to disk, in the same formats as real
//! ones (HF safetensors directory, GGUF, PEFT adapter), so tests and benchmarks exercise the
//! real loaders.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use openledger_attribution_engine::lm::{Arch, LmConfig, TargetModule};

/// ChatML, as SmolLM2 and Qwen2 ship it.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Words of the tiny vocabulary after the three special tokens.
pub const WORDS: [&str; 45] = [
    "user", "assistant", "system", "hello", "world", "the", "a", "cat", "dog", "sat", "on", "mat", "data", "model",
    "open", "ledger", "token", "chain", "block", "reward", "is", "was", "and", "or", "not", "very", "good", "bad",
    "red", "blue", "green", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", ".", ",",
    "?", "!",
];

pub fn tiny_config() -> LmConfig {
    LmConfig {
        arch: Arch::Llama,
        vocab_size: 3 + WORDS.len(),
        hidden_size: 32,
        intermediate_size: 64,
        num_layers: 2,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: 8,
        rms_eps: 1e-5,
        rope_theta: 10_000.0,
        max_position: 96,
        rope_interleaved: false,
    }
}

/// Deterministic values in [-scale, scale).
fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn tensor(shape: (usize, usize), seed: u64, scale: f32) -> candle_core::Result<Tensor> {
    Tensor::from_vec(values(shape.0 * shape.1, seed, scale), shape, &Device::Cpu)
}

fn norm(n: usize, seed: u64) -> candle_core::Result<Tensor> {
    let v: Vec<f32> = values(n, seed, 0.2).into_iter().map(|x| 1.0 + x).collect();
    Tensor::from_vec(v, n, &Device::Cpu)
}

fn tokenizer_json() -> serde_json::Value {
    let specials = ["<unk>", "<|im_start|>", "<|im_end|>"];
    let mut vocab = serde_json::Map::new();
    for (i, t) in specials.iter().chain(WORDS.iter()).enumerate() {
        vocab.insert(t.to_string(), serde_json::json!(i));
    }
    let added: Vec<_> = specials
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    })
}

fn hf_tensors(cfg: &LmConfig, seed: u64) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut w = HashMap::new();
    let mut k = seed * 1000;
    let mut next = || {
        k += 1;
        k
    };
    w.insert("model.embed_tokens.weight".to_string(), tensor((cfg.vocab_size, cfg.hidden_size), next(), 1.0)?);
    w.insert("model.norm.weight".to_string(), norm(cfg.hidden_size, next())?);
    w.insert("lm_head.weight".to_string(), tensor((cfg.vocab_size, cfg.hidden_size), next(), 0.5)?);
    for l in 0..cfg.num_layers {
        w.insert(format!("model.layers.{l}.input_layernorm.weight"), norm(cfg.hidden_size, next())?);
        w.insert(format!("model.layers.{l}.post_attention_layernorm.weight"), norm(cfg.hidden_size, next())?);
        for m in TargetModule::ALL {
            let parent = if m.index() < 4 { "self_attn" } else { "mlp" };
            let shape = (cfg.out_features(m), cfg.in_features(m));
            let scale = 1.0 / (shape.1 as f32).sqrt() * 1.7;
            w.insert(format!("model.layers.{l}.{parent}.{}.weight", m.peft_name()), tensor(shape, next(), scale)?);
            if cfg.arch == Arch::Qwen2 && m.index() < 3 {
                // Seeded apart from the weights, so qwen2 and llama fixtures share every weight.
                let b = values(shape.0, seed * 1_000_003 + (l * 7 + m.index()) as u64, 0.1);
                w.insert(format!("model.layers.{l}.{parent}.{}.bias", m.peft_name()), Tensor::from_vec(b, shape.0, &Device::Cpu)?);
            }
        }
    }
    Ok(w)
}

fn write_tokenizer_files(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string())?;
    let tc = serde_json::json!({"chat_template": CHATML_TEMPLATE, "eos_token": "<|im_end|>", "bos_token": null});
    std::fs::write(dir.join("tokenizer_config.json"), tc.to_string())
}

fn to_io(e: candle_core::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A Hugging Face llama directory with random weights.
pub fn write_tiny_hf(dir: &Path, seed: u64) -> std::io::Result<LmConfig> {
    write_tiny_hf_arch(dir, seed, Arch::Llama)
}

/// A Hugging Face llama or qwen2 (q/k/v biases) directory with random weights.
pub fn write_tiny_hf_arch(dir: &Path, seed: u64, arch: Arch) -> std::io::Result<LmConfig> {
    let cfg = LmConfig { arch, ..tiny_config() };
    std::fs::create_dir_all(dir)?;
    let json = serde_json::json!({
        "model_type": if arch == Arch::Qwen2 { "qwen2" } else { "llama" }, "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size, "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads, "num_key_value_heads": cfg.num_kv_heads,
        "rms_norm_eps": cfg.rms_eps, "rope_theta": cfg.rope_theta,
        "max_position_embeddings": cfg.max_position, "tie_word_embeddings": false,
    });
    std::fs::write(dir.join("config.json"), json.to_string())?;
    let w = hf_tensors(&cfg, seed).map_err(to_io)?;
    candle_core::safetensors::save(&w, dir.join("model.safetensors")).map_err(to_io)?;
    write_tokenizer_files(dir)?;
    Ok(cfg)
}

/// The same random weights as [`write_tiny_hf`] with the same seed, as an F32 GGUF in
/// llama.cpp's layout (q/k rows permuted for interleaved RoPE), with `tokenizer.json` beside it.
pub fn write_tiny_gguf(dir: &Path, seed: u64) -> std::io::Result<std::path::PathBuf> {
    write_tiny_gguf_as(dir, seed, GgmlDType::F32)
}

/// [`write_tiny_gguf`] with the projections and the output layer stored as `dtype` (such as
/// `Q8_0` or `Q4_1`, as quantised GGUF files hold them); norms and embeddings stay F32.
pub fn write_tiny_gguf_as(dir: &Path, seed: u64, dtype: GgmlDType) -> std::io::Result<std::path::PathBuf> {
    let cfg = tiny_config();
    std::fs::create_dir_all(dir)?;
    let w = hf_tensors(&cfg, seed).map_err(to_io)?;
    let permute = |t: &Tensor, heads: usize| -> candle_core::Result<Tensor> {
        let (rows, cols) = t.dims2()?;
        t.reshape((heads, 2, rows / heads / 2, cols))?.transpose(1, 2)?.contiguous()?.reshape((rows, cols))
    };
    let mut q: Vec<(String, QTensor)> = Vec::new();
    let mut put = |name: String, t: &Tensor| -> candle_core::Result<()> {
        let matrix = t.rank() == 2 && name != "token_embd.weight";
        q.push((name, QTensor::quantize(t, if matrix { dtype } else { GgmlDType::F32 })?));
        Ok(())
    };
    let get = |n: &str| w.get(n).ok_or_else(|| std::io::Error::other(format!("fixture misses {n}")));
    put("token_embd.weight".into(), get("model.embed_tokens.weight")?).map_err(to_io)?;
    put("output_norm.weight".into(), get("model.norm.weight")?).map_err(to_io)?;
    put("output.weight".into(), get("lm_head.weight")?).map_err(to_io)?;
    let names = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];
    for l in 0..cfg.num_layers {
        put(format!("blk.{l}.attn_norm.weight"), get(&format!("model.layers.{l}.input_layernorm.weight"))?).map_err(to_io)?;
        put(format!("blk.{l}.ffn_norm.weight"), get(&format!("model.layers.{l}.post_attention_layernorm.weight"))?).map_err(to_io)?;
        for (m, name) in TargetModule::ALL.iter().zip(names) {
            let parent = if m.index() < 4 { "self_attn" } else { "mlp" };
            let t = get(&format!("model.layers.{l}.{parent}.{}.weight", m.peft_name()))?;
            let t = match m {
                TargetModule::Q => permute(t, cfg.num_heads).map_err(to_io)?,
                TargetModule::K => permute(t, cfg.num_kv_heads).map_err(to_io)?,
                _ => t.clone(),
            };
            put(format!("blk.{l}.{name}.weight"), &t).map_err(to_io)?;
        }
    }
    use gguf_file::Value as V;
    let md: Vec<(&str, V)> = vec![
        ("general.architecture", V::String("llama".into())),
        ("llama.embedding_length", V::U32(cfg.hidden_size as u32)),
        ("llama.feed_forward_length", V::U32(cfg.intermediate_size as u32)),
        ("llama.block_count", V::U32(cfg.num_layers as u32)),
        ("llama.attention.head_count", V::U32(cfg.num_heads as u32)),
        ("llama.attention.head_count_kv", V::U32(cfg.num_kv_heads as u32)),
        ("llama.attention.layer_norm_rms_epsilon", V::F32(cfg.rms_eps as f32)),
        ("llama.rope.freq_base", V::F32(cfg.rope_theta as f32)),
        ("llama.context_length", V::U32(cfg.max_position as u32)),
        ("llama.vocab_size", V::U32(cfg.vocab_size as u32)),
        ("tokenizer.chat_template", V::String(CHATML_TEMPLATE.into())),
    ];
    let path = dir.join("tiny.gguf");
    let mut f = std::fs::File::create(&path)?;
    let md_refs: Vec<(&str, &V)> = md.iter().map(|(k, v)| (*k, v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = q.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut f, &md_refs, &t_refs).map_err(to_io)?;
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string())?;
    Ok(path)
}

/// A PEFT adapter with random A and random (or zero) B on `targets` of every layer.
pub fn write_adapter(dir: &Path, cfg: &LmConfig, rank: usize, alpha: f64, targets: &[TargetModule], seed: u64, zero_b: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let names: Vec<&str> = targets.iter().map(|m| m.peft_name()).collect();
    let json = serde_json::json!({
        "peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": names,
        "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false, "task_type": "CAUSAL_LM",
    });
    std::fs::write(dir.join("adapter_config.json"), serde_json::to_string_pretty(&json)?)?;
    let mut w = HashMap::new();
    let mut k = seed * 7919;
    for l in 0..cfg.num_layers {
        for &m in targets {
            let parent = if m.index() < 4 { "self_attn" } else { "mlp" };
            let key = format!("base_model.model.model.layers.{l}.{parent}.{}", m.peft_name());
            k += 2;
            let a = tensor((rank, cfg.in_features(m)), k, 1.0 / (cfg.in_features(m) as f32).sqrt()).map_err(to_io)?;
            let b = if zero_b {
                Tensor::zeros((cfg.out_features(m), rank), candle_core::DType::F32, &Device::Cpu).map_err(to_io)?
            } else {
                tensor((cfg.out_features(m), rank), k + 1, 0.3).map_err(to_io)?
            };
            w.insert(format!("{key}.lora_A.weight"), a);
            w.insert(format!("{key}.lora_B.weight"), b);
        }
    }
    candle_core::safetensors::save(&w, dir.join("adapter_model.safetensors")).map_err(to_io)
}
