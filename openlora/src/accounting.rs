//! Inference records: every completed request yields one, handed to a pluggable sink. The
//! on-chain sink (`attribution.record_inference`) plugs in here once the pallet exists.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// What was served, to whom, and what it produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InferenceRecord {
    /// The response id returned to the caller (`cmpl-…` / `chatcmpl-…`).
    pub request_id: String,
    /// Unix time (seconds) at completion.
    pub created: u64,
    /// The base model's name.
    pub base_model: String,
    /// The adapter that served the request, `None` for the base alone.
    pub adapter_id: Option<String>,
    /// The account the API key belongs to.
    pub account: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub output_token_ids: Vec<u32>,
    pub finish_reason: String,
}

pub trait InferenceSink: Send + Sync {
    /// Called once per completed request, from the scheduler thread: keep it short.
    fn record(&self, record: &InferenceRecord) -> std::io::Result<()>;
}

/// Appends one JSON object per line to a file.
pub struct JsonlSink {
    file: Mutex<std::fs::File>,
}

impl JsonlSink {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file: Mutex::new(file) })
    }
}

impl InferenceSink for JsonlSink {
    fn record(&self, record: &InferenceRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        // One write per record so concurrent appenders never interleave inside a line.
        self.file.lock().unwrap_or_else(|p| p.into_inner()).write_all(&line)
    }
}

/// Keeps records in memory (tests, embedding).
#[derive(Default)]
pub struct MemorySink {
    records: Mutex<Vec<InferenceRecord>>,
}

impl MemorySink {
    pub fn records(&self) -> Vec<InferenceRecord> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl InferenceSink for MemorySink {
    fn record(&self, record: &InferenceRecord) -> std::io::Result<()> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).push(record.clone());
        Ok(())
    }
}
