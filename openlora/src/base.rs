//! Loading the base model and its tokenizer from a local path (no network).

use std::path::Path;

use openledger_attribution_engine::lm::CausalLm;

use crate::error::{ApiError, Result};
use crate::text::TextModel;

/// A GGUF file, a directory holding exactly one GGUF file, or a Hugging Face directory
/// (`config.json`, `*.safetensors`, `tokenizer.json`).
pub fn load_base(path: &Path) -> Result<(CausalLm, TextModel)> {
    let gguf = if path.is_file() {
        Some(path.to_path_buf())
    } else if path.join("config.json").exists() {
        None
    } else {
        let found: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        match found.as_slice() {
            [one] => Some(one.clone()),
            [] => return Err(ApiError::internal(format!("{}: neither config.json nor a .gguf file", path.display()))),
            _ => return Err(ApiError::internal(format!("{}: several .gguf files; name one", path.display()))),
        }
    };
    match gguf {
        Some(file) => {
            let (model, ct) = CausalLm::load_gguf(&file).map_err(|e| ApiError::internal(e.to_string()))?;
            let text = TextModel::from_gguf(&file, &ct)?;
            Ok((model, text))
        }
        None => {
            let model = CausalLm::load_hf_dir(path).map_err(|e| ApiError::internal(e.to_string()))?;
            let text = TextModel::from_hf_dir(path)?;
            Ok((model, text))
        }
    }
}

/// The served name of a base loaded from `path`: the file stem or directory name.
pub fn default_name(path: &Path) -> String {
    let p = if path.is_file() { path.file_stem() } else { path.file_name() };
    p.and_then(|s| s.to_str()).unwrap_or("base").to_string()
}
