//! Architecture hyper-parameters, read from GGUF metadata or a Hugging Face `config.json`.

use std::collections::HashMap;

use candle_core::quantized::gguf_file;

use super::error::{model_err, Result};

/// Model family. Both are pre-norm decoders with RMSNorm, RoPE, GQA and a SwiGLU MLP; qwen2
/// adds biases to the q/k/v projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Arch {
    Llama,
    Qwen2,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LmConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f64,
    pub rope_theta: f64,
    pub max_position: usize,
    /// llama.cpp permutes llama's q/k rows so that RoPE rotates adjacent pairs ("interleaved");
    /// Hugging Face weights rotate the two halves of each head. Adapters are always in the HF
    /// layout, so this also says whether their q/k `B` rows must be permuted.
    pub rope_interleaved: bool,
}

impl LmConfig {
    /// Output width of a projection (rows of its weight).
    pub fn out_features(&self, m: super::TargetModule) -> usize {
        use super::TargetModule::*;
        match m {
            Q => self.num_heads * self.head_dim,
            K | V => self.num_kv_heads * self.head_dim,
            O | Down => self.hidden_size,
            Gate | Up => self.intermediate_size,
        }
    }

    /// Input width of a projection (columns of its weight).
    pub fn in_features(&self, m: super::TargetModule) -> usize {
        use super::TargetModule::*;
        match m {
            Q | K | V | Up | Gate => self.hidden_size,
            O => self.num_heads * self.head_dim,
            Down => self.intermediate_size,
        }
    }

    fn validate(self) -> Result<Self> {
        let nonzero = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("max_position", self.max_position),
        ];
        if let Some((name, _)) = nonzero.iter().find(|(_, v)| *v == 0) {
            return Err(model_err(format!("{name} must be positive")));
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(model_err("num_heads must be a multiple of num_kv_heads"));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(model_err("head_dim must be even (RoPE)"));
        }
        Ok(self)
    }

    /// From GGUF metadata (`general.architecture` = llama or qwen2).
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self> {
        let md = &ct.metadata;
        let arch_name = md
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .ok_or_else(|| model_err("GGUF has no general.architecture"))?
            .clone();
        let arch = match arch_name.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            other => {
                return Err(model_err(format!(
                    "unsupported GGUF architecture {other:?}"
                )))
            }
        };
        let get_u = |key: &str| -> Result<usize> {
            let full = format!("{arch_name}.{key}");
            md.get(&full)
                .and_then(|v| v.to_u64().ok())
                .map(|v| v as usize)
                .ok_or_else(|| model_err(format!("GGUF metadata {full} missing or not an integer")))
        };
        let get_f = |key: &str, default: f64| -> f64 {
            md.get(&format!("{arch_name}.{key}"))
                .and_then(|v| v.to_f32().ok().map(f64::from).or_else(|| v.to_f64().ok()))
                .unwrap_or(default)
        };
        let hidden = get_u("embedding_length")?;
        let heads = get_u("attention.head_count")?;
        let kv_heads = get_u("attention.head_count_kv").unwrap_or(heads);
        let head_dim = get_u("attention.key_length").unwrap_or(hidden / heads.max(1));
        let vocab = match get_u("vocab_size") {
            Ok(v) => v,
            Err(_) => match md
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.to_vec().ok())
            {
                Some(tokens) => tokens.len(),
                None => ct
                    .tensor_infos
                    .get("token_embd.weight")
                    .map(|t| t.shape.dims()[0])
                    .ok_or_else(|| model_err("cannot determine vocab size"))?,
            },
        };
        Self {
            arch,
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: get_u("feed_forward_length")?,
            num_layers: get_u("block_count")?,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim,
            rms_eps: get_f("attention.layer_norm_rms_epsilon", 1e-6),
            rope_theta: get_f("rope.freq_base", 10_000.0),
            max_position: get_u("context_length").unwrap_or(2048),
            rope_interleaved: arch == Arch::Llama,
        }
        .validate()
    }

    /// From a Hugging Face `config.json` (`model_type` llama or qwen2).
    pub fn from_hf_json(json: &str) -> Result<Self> {
        let v: HashMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| model_err(format!("config.json: {e}")))?;
        let arch = match v.get("model_type").and_then(|m| m.as_str()) {
            Some("llama") => Arch::Llama,
            Some("qwen2") => Arch::Qwen2,
            other => return Err(model_err(format!("unsupported model_type {other:?}"))),
        };
        let get_u = |key: &str| -> Result<usize> {
            v.get(key)
                .and_then(|x| x.as_u64())
                .map(|x| x as usize)
                .ok_or_else(|| model_err(format!("config.json: {key} missing or not an integer")))
        };
        let get_f =
            |key: &str, default: f64| v.get(key).and_then(|x| x.as_f64()).unwrap_or(default);
        let hidden = get_u("hidden_size")?;
        let heads = get_u("num_attention_heads")?;
        Self {
            arch,
            vocab_size: get_u("vocab_size")?,
            hidden_size: hidden,
            intermediate_size: get_u("intermediate_size")?,
            num_layers: get_u("num_hidden_layers")?,
            num_heads: heads,
            num_kv_heads: get_u("num_key_value_heads").unwrap_or(heads),
            head_dim: get_u("head_dim").unwrap_or(hidden / heads.max(1)),
            rms_eps: get_f("rms_norm_eps", 1e-6),
            rope_theta: get_f("rope_theta", 10_000.0),
            max_position: get_u("max_position_embeddings").unwrap_or(2048),
            rope_interleaved: false,
        }
        .validate()
    }
}
