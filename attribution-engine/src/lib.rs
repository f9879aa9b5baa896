//! OpenLedger's Proof of Attribution engine (std only).
//!
//! - [`token`]: exact token (span) attribution for language models over infini-gram compatible
//!   suffix-array indexes.
//! - [`influence`]: gradient influence for small specialised models (candle).
//! - [`lm`]: the llama-family causal LM with LoRA adapters, shared by OpenLoRA serving.
//!
//! Both end in the same place: integer shares per datanet contribution that sum exactly to
//! 1,000,000,000 (a `Perbill`), ready to be posted on-chain.

pub mod influence;
pub mod lm;
mod simd;
pub mod token;
