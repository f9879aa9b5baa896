//! The OpenAI-compatible HTTP API (axum).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{Completion, Engine, Event, GenParams, GenRequest};
use crate::error::{ApiError, Result};
use crate::metrics::{Gauges, Metrics};
use crate::store::AdapterStore;
use crate::text::TextModel;

/// Default completion length when the request gives none.
const DEFAULT_MAX_TOKENS: usize = 256;

pub struct AppState {
    pub base_name: String,
    pub engine: Engine,
    pub store: Arc<AdapterStore>,
    pub text: Arc<TextModel>,
    pub metrics: Arc<Metrics>,
    /// API key → account. Empty: no authentication (every caller is `anonymous`).
    pub api_keys: HashMap<String, String>,
    /// Key for the /admin endpoints; `None` disables them.
    pub admin_key: Option<String>,
    pub context_len: usize,
    pub created: u64,
    next_id: AtomicU64,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base_name: String,
        engine: Engine,
        store: Arc<AdapterStore>,
        text: Arc<TextModel>,
        metrics: Arc<Metrics>,
        api_keys: HashMap<String, String>,
        admin_key: Option<String>,
        context_len: usize,
    ) -> Self {
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self { base_name, engine, store, text, metrics, api_keys, admin_key, context_len, created, next_id: AtomicU64::new(0) }
    }

    fn request_id(&self, prefix: &str) -> String {
        format!("{prefix}-{:x}{:06x}", self.created, self.next_id.fetch_add(1, Ordering::Relaxed))
    }
}

type AppStateRef = Arc<AppState>;

pub fn router(state: AppStateRef) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/admin/adapters", get(admin_list).post(admin_register))
        .route("/admin/adapters/{id}", axum::routing::delete(admin_unregister))
        .route("/admin/adapters/{id}/load", post(admin_load))
        .route("/admin/adapters/{id}/unload", post(admin_unload))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::bad_request("method not allowed on this endpoint").with_status(StatusCode::METHOD_NOT_ALLOWED)
        })
        .with_state(state)
}

impl ApiError {
    fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim)
}

/// The account behind the request's API key.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String> {
    if state.api_keys.is_empty() {
        return Ok("anonymous".to_string());
    }
    let key = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`")
    })?;
    state.api_keys.get(key).cloned().ok_or_else(|| ApiError::unauthorized("incorrect API key provided"))
}

fn authorize_admin(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let Some(admin) = &state.admin_key else {
        return Err(ApiError::forbidden("admin endpoints are disabled (no admin key configured)"));
    };
    match bearer(headers) {
        None => Err(ApiError::unauthorized("missing admin key: send `Authorization: Bearer <key>`")),
        Some(k) if k == admin => Ok(()),
        Some(_) => Err(ApiError::unauthorized("incorrect admin key provided")),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_data() { "invalid request" } else { "malformed JSON body" };
        ApiError::bad_request(format!("{what}: {e}"))
    })
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(s): State<AppStateRef>) -> impl IntoResponse {
    let adapters = s.store.list();
    let g = Gauges {
        adapters_registered: adapters.len(),
        adapters_loaded: adapters.iter().filter(|a| a.loaded).count(),
        adapter_resident_bytes: s.store.resident_bytes(),
        adapter_budget_bytes: s.store.budget_bytes(),
        running_requests: s.engine.stats.running.load(Ordering::Relaxed),
        waiting_requests: s.engine.stats.waiting.load(Ordering::Relaxed),
    };
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render(&g))
}

async fn models(State(s): State<AppStateRef>, headers: HeaderMap) -> Result<Json<serde_json::Value>> {
    authenticate(&s, &headers)?;
    let mut data = vec![json!({
        "id": s.base_name, "object": "model", "created": s.created, "owned_by": "openledger",
        "root": s.base_name, "parent": null,
    })];
    for a in s.store.list() {
        data.push(json!({
            "id": a.id, "object": "model", "created": s.created, "owned_by": "openledger",
            "root": s.base_name, "parent": s.base_name,
        }));
    }
    Ok(Json(json!({"object": "list", "data": data})))
}

/// `prompt`: a string, a one-element list of strings, or a list of token ids.
#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct CompletionRequest {
    model: String,
    prompt: Prompt,
    #[serde(flatten)]
    common: Common,
}

#[derive(Deserialize)]
struct Common {
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f32>,
    seed: Option<u64>,
    #[serde(default)]
    stream: bool,
    stop: Option<Stop>,
    n: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    content: Option<Content>,
}

/// A chat message as the chat template sees it.
#[derive(Serialize, Debug, Clone)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<InMessage>,
    #[serde(flatten)]
    common: Common,
}

struct Prepared {
    id: String,
    model: String,
    prompt_ids: Vec<u32>,
    params: GenParams,
    stream: bool,
    started: Instant,
}

fn prepare(s: &AppState, model: &str, prompt_ids: Vec<u32>, c: Common, prefix: &str, started: Instant) -> Result<Prepared> {
    if c.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only n=1 is supported").with_param("n"));
    }
    if prompt_ids.is_empty() {
        return Err(ApiError::bad_request("the prompt is empty").with_param("prompt"));
    }
    let temperature = c.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::bad_request("temperature must be between 0 and 2").with_param("temperature"));
    }
    let room = s.context_len.saturating_sub(prompt_ids.len());
    let max_tokens = match c.max_tokens.or(c.max_completion_tokens) {
        Some(0) => return Err(ApiError::bad_request("max_tokens must be at least 1").with_param("max_tokens")),
        Some(m) if m > room => {
            return Err(ApiError::bad_request(format!(
                "This model's maximum context length is {} tokens. However, you requested {} tokens ({} in the prompt, {m} for the completion).",
                s.context_len,
                prompt_ids.len() + m,
                prompt_ids.len()
            ))
            .with_param("max_tokens")
            .with_code("context_length_exceeded"))
        }
        Some(m) => m,
        None if room == 0 => {
            return Err(ApiError::bad_request(format!("the prompt fills the whole context ({} tokens)", s.context_len))
                .with_code("context_length_exceeded"))
        }
        None => DEFAULT_MAX_TOKENS.min(room),
    };
    let stop = match c.stop {
        None => vec![],
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    let stop: Vec<String> = stop.into_iter().filter(|s| !s.is_empty()).collect();
    if stop.len() > 4 {
        return Err(ApiError::bad_request("at most 4 stop sequences").with_param("stop"));
    }
    Ok(Prepared {
        id: s.request_id(prefix),
        model: model.to_string(),
        prompt_ids,
        params: GenParams { max_tokens, temperature, seed: c.seed.unwrap_or(0), stop },
        stream: c.stream,
        started,
    })
}

/// Unknown model → 404; adapter files broken → 422; all of it before anything is generated.
async fn resolve_adapter(s: &AppStateRef, model: &str) -> Result<Option<crate::store::PinnedAdapter>> {
    if model == s.base_name {
        return Ok(None);
    }
    if !s.store.contains(model) {
        return Err(ApiError::unknown_model(model));
    }
    let store = s.store.clone();
    let id = model.to_string();
    tokio::task::spawn_blocking(move || store.acquire(&id))
        .await
        .map_err(|e| ApiError::internal(format!("adapter load task failed: {e}")))?
        .map(Some)
}

fn usage(c: &Completion) -> serde_json::Value {
    json!({
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "total_tokens": c.prompt_tokens + c.completion_tokens,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Chat,
}

async fn completions(State(s): State<AppStateRef>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let started = Instant::now();
    let account = authenticate(&s, &headers)?;
    let req: CompletionRequest = parse_json(&body)?;
    let prompt_ids = match req.prompt {
        Prompt::Text(t) => s.text.encode(&t, true)?,
        Prompt::Texts(v) if v.len() == 1 => s.text.encode(&v[0], true)?,
        Prompt::Texts(_) => return Err(ApiError::bad_request("only one prompt per request is supported").with_param("prompt")),
        Prompt::Tokens(ids) => {
            let vocab = s.text.tokenizer.get_vocab_size(true).max(1);
            if let Some(bad) = ids.iter().find(|&&i| i as usize >= vocab) {
                return Err(ApiError::bad_request(format!("token id {bad} is outside the vocabulary")).with_param("prompt"));
            }
            ids
        }
    };
    let p = prepare(&s, &req.model, prompt_ids, req.common, "cmpl", started)?;
    generate(s, account, p, Kind::Text).await
}

async fn chat_completions(State(s): State<AppStateRef>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let started = Instant::now();
    let account = authenticate(&s, &headers)?;
    let req: ChatRequest = parse_json(&body)?;
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty").with_param("messages"));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in req.messages {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "developer" | "tool") {
            return Err(ApiError::bad_request(format!("unknown role {:?}", m.role)).with_param("messages"));
        }
        let content = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut out = String::new();
                for p in parts {
                    if p.kind != "text" {
                        return Err(ApiError::bad_request(format!("content part type {:?} is not supported", p.kind)).with_param("messages"));
                    }
                    out.push_str(p.text.as_deref().unwrap_or_default());
                }
                out
            }
        };
        let role = if m.role == "developer" { "system".to_string() } else { m.role };
        messages.push(ChatMessage { role, content });
    }
    let rendered = s.text.render_chat(&messages)?;
    let prompt_ids = s.text.encode(&rendered, false)?;
    let p = prepare(&s, &req.model, prompt_ids, req.common, "chatcmpl", started)?;
    generate(s, account, p, Kind::Chat).await
}

async fn generate(s: AppStateRef, account: String, p: Prepared, kind: Kind) -> Result<Response> {
    let adapter = match resolve_adapter(&s, &p.model).await {
        Ok(a) => a,
        Err(e) => {
            if e.status != StatusCode::NOT_FOUND {
                s.metrics.request_failed(&p.model);
            }
            return Err(e);
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    s.engine.submit(GenRequest {
        request_id: p.id.clone(),
        model: p.model.clone(),
        account,
        prompt_ids: p.prompt_ids,
        params: p.params,
        adapter,
        events: tx,
        arrived: p.started,
    })?;
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(s.created, |d| d.as_secs());
    if p.stream {
        return Ok(stream_response(rx, p.id, p.model, created, kind).into_response());
    }
    let mut text = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Token { text: t } => text.push_str(&t),
            Event::Error(e) => return Err(e),
            Event::Done(c) => {
                let choice = match kind {
                    Kind::Text => json!({"index": 0, "text": text, "logprobs": null, "finish_reason": c.finish_reason}),
                    Kind::Chat => json!({"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": c.finish_reason}),
                };
                let object = if kind == Kind::Text { "text_completion" } else { "chat.completion" };
                return Ok(Json(json!({
                    "id": p.id, "object": object, "created": created, "model": p.model,
                    "choices": [choice], "usage": usage(&c),
                }))
                .into_response());
            }
        }
    }
    Err(ApiError::internal("the scheduler dropped the request"))
}

fn stream_response(
    rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    id: String,
    model: String,
    created: u64,
    kind: Kind,
) -> Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>> {
    let object = if kind == Kind::Text { "text_completion" } else { "chat.completion.chunk" };
    let chunk = move |delta: Option<&str>, finish: Option<&str>, first: bool| -> serde_json::Value {
        let choice = match kind {
            Kind::Text => json!({"index": 0, "text": delta.unwrap_or_default(), "logprobs": null, "finish_reason": finish}),
            Kind::Chat => {
                let mut d = serde_json::Map::new();
                if first {
                    d.insert("role".into(), json!("assistant"));
                }
                if let Some(t) = delta {
                    d.insert("content".into(), json!(t));
                }
                json!({"index": 0, "delta": d, "logprobs": null, "finish_reason": finish})
            }
        };
        json!({"id": id, "object": object, "created": created, "model": model, "choices": [choice]})
    };
    // State: receiver, whether the role chunk was sent, queued events, finished.
    let init = (rx, false, std::collections::VecDeque::<SseEvent>::new(), false);
    let stream = futures::stream::unfold(init, move |(mut rx, mut first_sent, mut queue, mut done)| {
        let chunk = chunk.clone();
        async move {
            loop {
                if let Some(ev) = queue.pop_front() {
                    return Some((Ok(ev), (rx, first_sent, queue, done)));
                }
                if done {
                    return None;
                }
                match rx.recv().await {
                    Some(Event::Token { text }) => {
                        if text.is_empty() && first_sent {
                            continue;
                        }
                        let c = chunk(Some(&text), None, !first_sent);
                        first_sent = true;
                        queue.push_back(SseEvent::default().data(c.to_string()));
                    }
                    Some(Event::Done(c)) => {
                        let mut last = chunk(if first_sent { None } else { Some("") }, Some(c.finish_reason), !first_sent);
                        if kind == Kind::Text {
                            last["choices"][0]["text"] = json!("");
                        }
                        queue.push_back(SseEvent::default().data(last.to_string()));
                        let mut u = chunk(None, None, false);
                        u["choices"] = json!([]);
                        u["usage"] = usage(&c);
                        queue.push_back(SseEvent::default().data(u.to_string()));
                        queue.push_back(SseEvent::default().data("[DONE]"));
                        done = true;
                    }
                    Some(Event::Error(e)) => {
                        queue.push_back(SseEvent::default().data(e.body().to_string()));
                        done = true;
                    }
                    None => {
                        let e = ApiError::internal("the scheduler dropped the request");
                        queue.push_back(SseEvent::default().data(e.body().to_string()));
                        done = true;
                    }
                }
            }
        }
    });
    Sse::new(stream)
}

#[derive(Deserialize)]
struct RegisterRequest {
    id: String,
    path: PathBuf,
    /// Load (and fully validate) now rather than on first use; default true.
    load: Option<bool>,
}

async fn admin_list(State(s): State<AppStateRef>, headers: HeaderMap) -> Result<Json<serde_json::Value>> {
    authorize_admin(&s, &headers)?;
    Ok(Json(json!({"object": "list", "data": s.store.list(), "resident_bytes": s.store.resident_bytes(), "budget_bytes": s.store.budget_bytes()})))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

async fn admin_register(State(s): State<AppStateRef>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    authorize_admin(&s, &headers)?;
    let req: RegisterRequest = parse_json(&body)?;
    if req.id == s.base_name {
        return Err(ApiError::conflict("an adapter cannot take the base model's name").with_param("id"));
    }
    let store = s.store.clone();
    let info = blocking(move || {
        store.register(&req.id, &req.path)?;
        if req.load.unwrap_or(true) {
            // A registration whose weights do not validate is rolled back: nothing half-usable
            // stays in the model list.
            return store.load(&req.id).inspect_err(|_| {
                let _ = store.unregister(&req.id);
            });
        }
        store.list().into_iter().find(|a| a.id == req.id).ok_or_else(|| ApiError::internal("registration vanished"))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn admin_load(State(s): State<AppStateRef>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<serde_json::Value>> {
    authorize_admin(&s, &headers)?;
    let store = s.store.clone();
    let info = blocking(move || store.load(&id)).await?;
    Ok(Json(json!(info)))
}

async fn admin_unload(State(s): State<AppStateRef>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<serde_json::Value>> {
    authorize_admin(&s, &headers)?;
    let was_loaded = s.store.unload(&id)?;
    Ok(Json(json!({"id": id, "unloaded": was_loaded})))
}

async fn admin_unregister(State(s): State<AppStateRef>, headers: HeaderMap, Path(id): Path<String>) -> Result<Json<serde_json::Value>> {
    authorize_admin(&s, &headers)?;
    s.store.unregister(&id)?;
    Ok(Json(json!({"id": id, "deleted": true})))
}
