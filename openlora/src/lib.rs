//! OpenLoRA: one base model in memory, many LoRA adapters, requests for different adapters in
//! the same batch, behind an OpenAI-compatible HTTP API.
//!
//! - [`base`]: loading the base (GGUF or Hugging Face safetensors) with its tokenizer.
//! - [`store`]: the adapter store (LRU under a memory budget, pinning).
//! - [`engine`]: the continuous-batching scheduler.
//! - [`api`]: the HTTP API; [`metrics`]: Prometheus text; [`accounting`]: inference records.
//! - [`fixtures`]: tiny random models and adapters, for tests and benchmarks.

pub mod accounting;
pub mod api;
pub mod base;
pub mod client;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod metrics;
pub mod server;
pub mod store;
pub mod text;
