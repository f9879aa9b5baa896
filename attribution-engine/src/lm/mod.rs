//! Llama-family causal language model (llama, qwen2) with per-sequence LoRA adapters, shared
//! by serving (OpenLoRA) and, later, adapter training and influence.
//!
//! - [`config::LmConfig`]: architecture hyper-parameters from GGUF metadata or `config.json`.
//! - [`model::CausalLm`]: the base model (quantised or dense weights) and a batched forward
//!   pass in which every sequence has its own KV cache and optional adapter.
//! - [`int8::Int8Matrix`]: quantised projections and their batch kernel.
//! - [`lora::LoraAdapter`]: PEFT adapters, validated against the base, held as f16.
//! - `pool`: work items on candle's thread pool, several jobs per dispatch.
//!
//! Batch invariance is a design constraint: every operation is either row-wise with a fixed
//! reduction order (projections, norms, the LoRA term) or per sequence (attention), so a
//! sequence's logits do not depend on what else is in the batch.

pub mod attention;
pub mod config;
pub mod error;
pub mod int8;
pub mod lora;
pub mod model;
pub(crate) mod ops;
mod pool;

pub use config::{Arch, LmConfig};
pub use error::{LmError, Result};
pub use lora::{LoraAdapter, LoraConfig, TargetModule};
pub use attention::KvCache;
pub use model::{CausalLm, SeqStep};
