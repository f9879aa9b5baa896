//! The scheduler: continuous batching on a dedicated thread. Each step runs one forward pass
//! over every running sequence (new ones contribute their whole prompt, the others one
//! token); sequences join as slots free up and leave as soon as they finish.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openledger_attribution_engine::lm::{CausalLm, KvCache, SeqStep};

use crate::accounting::{InferenceRecord, InferenceSink};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::PinnedAdapter;
use crate::text::{Detokenizer, TextModel};

#[derive(Debug, Clone)]
pub struct GenParams {
    pub max_tokens: usize,
    /// 0 means greedy.
    pub temperature: f32,
    pub seed: u64,
    pub stop: Vec<String>,
}

pub enum Event {
    /// A generated token and the text it completes (possibly empty mid-character).
    Token { text: String },
    Done(Completion),
    Error(ApiError),
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub finish_reason: &'static str,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub output_ids: Vec<u32>,
}

pub struct GenRequest {
    pub request_id: String,
    /// Served model name (base name or adapter id), for metrics.
    pub model: String,
    pub account: String,
    pub prompt_ids: Vec<u32>,
    pub params: GenParams,
    pub adapter: Option<PinnedAdapter>,
    pub events: tokio::sync::mpsc::UnboundedSender<Event>,
    pub arrived: Instant,
}

struct Running {
    req: GenRequest,
    cache: KvCache,
    output: Vec<u32>,
    detok: Detokenizer,
    text: String,
    rng: u64,
    first_token: Option<Duration>,
}

#[derive(Default)]
pub struct EngineStats {
    pub running: AtomicUsize,
    pub waiting: AtomicUsize,
}

pub struct Engine {
    tx: mpsc::Sender<GenRequest>,
    pub stats: Arc<EngineStats>,
}

pub struct EngineParts {
    pub model: Arc<CausalLm>,
    pub text: Arc<TextModel>,
    pub base_name: String,
    pub sink: Arc<dyn InferenceSink>,
    pub metrics: Arc<Metrics>,
    pub max_batch: usize,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Greedy (first maximum) or temperature sampling from the request's own RNG, so the choice
/// depends only on the request's logits and seed.
fn sample(logits: &[f32], temperature: f32, rng: &mut u64) -> u32 {
    let argmax = logits
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) })
        .0;
    if temperature <= 0.0 {
        return argmax as u32;
    }
    let max = logits[argmax];
    let weights: Vec<f64> = logits.iter().map(|&l| (((l - max) / temperature) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = (splitmix(rng) >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    argmax as u32
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Engine {
    pub fn start(parts: EngineParts) -> Self {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(EngineStats::default());
        let st = stats.clone();
        std::thread::Builder::new()
            .name("openlora-scheduler".into())
            .spawn(move || run(parts, rx, st))
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("openlora: cannot start the scheduler thread: {e}"));
        Self { tx, stats }
    }

    pub fn submit(&self, req: GenRequest) -> Result<(), ApiError> {
        self.stats.waiting.fetch_add(1, Ordering::Relaxed);
        self.tx.send(req).map_err(|_| {
            self.stats.waiting.fetch_sub(1, Ordering::Relaxed);
            ApiError::internal("the scheduler has stopped")
        })
    }
}

fn finish(parts: &EngineParts, mut r: Running, reason: &'static str) {
    let completion = Completion {
        finish_reason: reason,
        prompt_tokens: r.req.prompt_ids.len(),
        completion_tokens: r.output.len(),
        output_ids: r.output,
    };
    let record = InferenceRecord {
        request_id: r.req.request_id.clone(),
        created: now_secs(),
        base_model: parts.base_name.clone(),
        adapter_id: r.req.adapter.as_ref().map(|a| a.id().to_string()),
        account: r.req.account.clone(),
        prompt_tokens: completion.prompt_tokens,
        completion_tokens: completion.completion_tokens,
        output_token_ids: completion.output_ids.clone(),
        finish_reason: reason.to_string(),
    };
    if let Err(e) = parts.sink.record(&record) {
        eprintln!("openlora: inference record {} not written: {e}", record.request_id);
    }
    parts.metrics.request_done(
        &r.req.model,
        completion.prompt_tokens,
        completion.completion_tokens,
        r.req.arrived.elapsed(),
        r.first_token,
    );
    // Unpin before the caller hears back, so a client that unloads right after its response
    // never finds the adapter still in use.
    drop(r.req.adapter.take());
    let _ = r.req.events.send(Event::Done(completion));
}

fn run(parts: EngineParts, rx: mpsc::Receiver<GenRequest>, stats: Arc<EngineStats>) {
    let mut waiting: VecDeque<GenRequest> = VecDeque::new();
    let mut running: Vec<Running> = Vec::new();
    loop {
        if running.is_empty() && waiting.is_empty() {
            match rx.recv() {
                Ok(r) => waiting.push_back(r),
                Err(_) => return,
            }
        }
        while let Ok(r) = rx.try_recv() {
            waiting.push_back(r);
        }
        // Requests whose client went away free their slot (and adapter pin) right away.
        waiting.retain(|r| !r.events.is_closed());
        running.retain(|r| !r.req.events.is_closed());
        while running.len() < parts.max_batch {
            let Some(req) = waiting.pop_front() else { break };
            let rng = req.params.seed;
            running.push(Running { req, cache: KvCache::new(), output: Vec::new(), detok: Detokenizer::default(), text: String::new(), rng, first_token: None });
        }
        stats.waiting.store(waiting.len(), Ordering::Relaxed);
        stats.running.store(running.len(), Ordering::Relaxed);
        if running.is_empty() {
            continue;
        }
        let logits = {
            let mut steps: Vec<SeqStep<'_>> = running
                .iter_mut()
                .map(|r| {
                    let tokens: &[u32] = if r.cache.is_empty() { &r.req.prompt_ids } else { &r.output[r.output.len() - 1..] };
                    SeqStep { tokens, cache: &mut r.cache, adapter: r.req.adapter.as_ref().map(|a| a.adapter()) }
                })
                .collect();
            parts.model.forward(&mut steps)
        };
        let logits = match logits {
            Ok(l) => l,
            Err(e) => {
                for r in running.drain(..) {
                    parts.metrics.request_failed(&r.req.model);
                    let _ = r.req.events.send(Event::Error(ApiError::internal(format!("model error: {e}"))));
                }
                continue;
            }
        };
        let mut still = Vec::with_capacity(running.len());
        for (mut r, l) in running.drain(..).zip(logits) {
            let id = sample(&l, r.req.params.temperature, &mut r.rng);
            r.output.push(id);
            r.first_token.get_or_insert_with(|| r.req.arrived.elapsed());
            let is_stop_id = parts.text.stop_ids.contains(&id);
            let mut delta = if is_stop_id { String::new() } else { r.detok.push(&parts.text, id) };
            let mut reason = None;
            if !delta.is_empty() && !r.req.params.stop.is_empty() {
                // Text already streamed stays streamed: a stop string that starts inside it
                // ends the generation without taking those characters back.
                let before = r.text.len();
                let joined = format!("{}{}", r.text, delta);
                if let Some(cut) = r.req.params.stop.iter().filter_map(|s| joined.find(s.as_str())).min() {
                    delta = joined[before.min(cut)..cut.max(before)].to_string();
                    reason = Some("stop");
                }
            }
            if is_stop_id {
                reason = Some("stop");
            } else if reason.is_none() && r.output.len() >= r.req.params.max_tokens {
                delta.push_str(&r.detok.finish(&parts.text));
                reason = Some("length");
            }
            r.text.push_str(&delta);
            if !delta.is_empty() || reason.is_none() {
                let _ = r.req.events.send(Event::Token { text: delta });
            }
            match reason {
                Some(reason) => finish(&parts, r, reason),
                None => still.push(r),
            }
        }
        running = still;
    }
}
