//! Tokenizer, chat template and stop tokens of the base model, from `tokenizer.json` /
//! `tokenizer_config.json` or from GGUF metadata.

use std::collections::BTreeSet;
use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::Tokenizer;

use crate::error::{ApiError, Result};

pub struct TextModel {
    pub tokenizer: Tokenizer,
    /// Jinja chat template (Hugging Face convention), if the model ships one.
    pub chat_template: Option<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    /// Token ids that end a generation.
    pub stop_ids: BTreeSet<u32>,
}

/// Special tokens that end a turn in common chat formats (ChatML, llama 3, phi).
const END_OF_TURN: [&str; 5] = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "</s>"];

fn token_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(str::to_string),
        _ => None,
    }
}

impl TextModel {
    fn finish(tokenizer: Tokenizer, chat_template: Option<String>, bos: Option<String>, eos: Option<String>, mut stop_ids: BTreeSet<u32>) -> Self {
        for t in END_OF_TURN.iter().copied().chain(eos.as_deref()) {
            if let Some(id) = tokenizer.token_to_id(t) {
                stop_ids.insert(id);
            }
        }
        Self { tokenizer, chat_template, bos_token: bos, eos_token: eos, stop_ids }
    }

    /// `tokenizer.json` (required) plus `tokenizer_config.json` and `generation_config.json`
    /// (optional) from a directory.
    pub fn from_hf_dir(dir: &Path) -> Result<Self> {
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| ApiError::internal(format!("{}/tokenizer.json: {e}", dir.display())))?;
        let read_json = |name: &str| -> Option<serde_json::Value> {
            let s = std::fs::read_to_string(dir.join(name)).ok()?;
            serde_json::from_str(&s).ok()
        };
        let tc = read_json("tokenizer_config.json").unwrap_or(serde_json::Value::Null);
        let template = tc.get("chat_template").and_then(|t| t.as_str()).map(str::to_string);
        let bos = tc.get("bos_token").and_then(token_text);
        let eos = tc.get("eos_token").and_then(token_text);
        let mut stop = BTreeSet::new();
        if let Some(gc) = read_json("generation_config.json") {
            match gc.get("eos_token_id") {
                Some(serde_json::Value::Number(n)) => stop.extend(n.as_u64().map(|x| x as u32)),
                Some(serde_json::Value::Array(a)) => stop.extend(a.iter().filter_map(|x| x.as_u64()).map(|x| x as u32)),
                _ => {}
            }
        }
        Ok(Self::finish(tokenizer, template, bos, eos, stop))
    }

    /// From GGUF metadata; a `tokenizer.json` next to the GGUF file takes precedence.
    pub fn from_gguf(path: &Path, ct: &gguf_file::Content) -> Result<Self> {
        let md = &ct.metadata;
        let template = md.get("tokenizer.chat_template").and_then(|v| v.to_string().ok()).cloned();
        let tokens = md.get("tokenizer.ggml.tokens").and_then(|v| v.to_vec().ok());
        let token_at = |key: &str| -> Option<String> {
            let id = md.get(key)?.to_u64().ok()? as usize;
            tokens?.get(id)?.to_string().ok().cloned()
        };
        let bos = token_at("tokenizer.ggml.bos_token_id");
        let eos = token_at("tokenizer.ggml.eos_token_id");
        let mut stop = BTreeSet::new();
        if let Some(id) = md.get("tokenizer.ggml.eos_token_id").and_then(|v| v.to_u64().ok()) {
            stop.insert(id as u32);
        }
        let sidecar = path.parent().map(|d| d.join("tokenizer.json"));
        let tokenizer = match sidecar.filter(|p| p.exists()) {
            Some(p) => Tokenizer::from_file(&p).map_err(|e| ApiError::internal(format!("{}: {e}", p.display())))?,
            None => {
                let mut t = Tokenizer::from_gguf(ct).map_err(|e| ApiError::internal(format!("tokenizer from GGUF: {e}")))?;
                let pre = md.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok());
                if pre.map(String::as_str) == Some("smollm") {
                    // SmolLM's reference tokenizer splits digits one by one before the byte-level
                    // BPE; the generic GGUF rebuild does not.
                    use tokenizers::pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence};
                    let seq = Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]);
                    t.with_pre_tokenizer(Some(seq));
                }
                t
            }
        };
        Ok(Self::finish(tokenizer, template, bos, eos, stop))
    }

    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        self.tokenizer
            .encode(text, add_special)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| ApiError::bad_request(format!("cannot tokenize the prompt: {e}")))
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        // Decoding never fails for ids produced by the model; an error yields no text.
        self.tokenizer.decode(ids, true).unwrap_or_default()
    }

    /// Renders the chat template with `add_generation_prompt`.
    pub fn render_chat(&self, messages: &[crate::api::ChatMessage]) -> Result<String> {
        let template = self
            .chat_template
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("this model has no chat template; use /v1/completions"))?;
        let mut env = minijinja::Environment::new();
        env.add_function("raise_exception", |msg: String| -> std::result::Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg))
        });
        env.add_template("chat", template)
            .map_err(|e| ApiError::internal(format!("chat template: {e}")))?;
        let tmpl = env.get_template("chat").map_err(|e| ApiError::internal(format!("chat template: {e}")))?;
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
        })
        .map_err(|e| ApiError::bad_request(format!("chat template rejected the messages: {e}")))
    }
}

/// Incremental detokenisation: emits text only once it is complete UTF-8, so streamed chunks
/// concatenate to exactly the non-streamed text.
#[derive(Default)]
pub struct Detokenizer {
    ids: Vec<u32>,
    emitted: usize,
}

impl Detokenizer {
    pub fn push(&mut self, text: &TextModel, id: u32) -> String {
        self.ids.push(id);
        let full = text.decode(&self.ids);
        if full.ends_with('\u{FFFD}') || full.len() < self.emitted || !full.is_char_boundary(self.emitted) {
            return String::new();
        }
        let delta = full[self.emitted..].to_string();
        self.emitted = full.len();
        delta
    }

    /// Whatever is left (an incomplete character at the end is emitted as decoded).
    pub fn finish(&mut self, text: &TextModel) -> String {
        let full = text.decode(&self.ids);
        if full.len() <= self.emitted || !full.is_char_boundary(self.emitted) {
            return String::new();
        }
        let delta = full[self.emitted..].to_string();
        self.emitted = full.len();
        delta
    }

    pub fn text(&self, text: &TextModel) -> String {
        text.decode(&self.ids)
    }
}
