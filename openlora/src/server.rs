//! Putting the pieces together: base, adapter store, scheduler, sink and HTTP router.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;


use crate::accounting::InferenceSink;
use crate::api::{router, AppState};
use crate::engine::{Engine, EngineParts};
use crate::error::{ApiError, Result};
use crate::metrics::Metrics;
use crate::store::AdapterStore;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub base: PathBuf,
    /// Served name of the base; defaults to the file stem / directory name.
    pub base_name: Option<String>,
    /// Every subdirectory with an `adapter_config.json` is registered under its name.
    pub adapters_dir: Option<PathBuf>,
    pub adapter_budget_bytes: usize,
    pub max_rank: usize,
    pub max_batch: usize,
    /// Context limit (prompt + completion); capped by the model's own.
    pub max_context: Option<usize>,
    pub api_keys: HashMap<String, String>,
    pub admin_key: Option<String>,
}

impl ServerConfig {
    pub fn new(base: PathBuf) -> Self {
        Self {
            base,
            base_name: None,
            adapters_dir: None,
            adapter_budget_bytes: 512 << 20,
            max_rank: 64,
            max_batch: 16,
            max_context: None,
            api_keys: HashMap::new(),
            admin_key: None,
        }
    }
}

/// Loads the base and registers the adapters; returns the shared state of the HTTP API.
pub fn build(cfg: &ServerConfig, sink: Arc<dyn InferenceSink>) -> Result<Arc<AppState>> {
    let (model, text) = crate::base::load_base(&cfg.base)?;
    let base_name = cfg.base_name.clone().unwrap_or_else(|| crate::base::default_name(&cfg.base));
    let metrics = Arc::new(Metrics::default());
    let store = Arc::new(AdapterStore::new(model.config.clone(), cfg.max_rank, cfg.adapter_budget_bytes, metrics.clone()));
    if let Some(dir) = &cfg.adapters_dir {
        store.register_dir(dir)?;
    }
    if store.contains(&base_name) {
        return Err(ApiError::internal(format!("an adapter is named like the base ({base_name})")));
    }
    let context_len = cfg.max_context.map_or(model.config.max_position, |m| m.min(model.config.max_position));
    let text = Arc::new(text);
    let engine = Engine::start(EngineParts {
        model: Arc::new(model),
        text: text.clone(),
        base_name: base_name.clone(),
        sink,
        metrics: metrics.clone(),
        max_batch: cfg.max_batch.max(1),
    });
    Ok(Arc::new(AppState::new(base_name, engine, store, text, metrics, cfg.api_keys.clone(), cfg.admin_key.clone(), context_len)))
}

/// Serves until the listener fails or `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Serves on `addr` from a background thread with its own runtime (tests, benchmarks,
/// embedding); returns the bound address (`127.0.0.1:0` picks a free port).
pub fn spawn(state: Arc<AppState>, addr: &str) -> std::io::Result<std::net::SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    std::thread::Builder::new().name("openlora-http".into()).spawn(move || {
        rt.block_on(async move {
            match tokio::net::TcpListener::from_std(std_listener) {
                Ok(listener) => {
                    if let Err(e) = serve(listener, state, std::future::pending()).await {
                        eprintln!("openlora: server stopped: {e}");
                    }
                }
                Err(e) => eprintln!("openlora: cannot listen: {e}"),
            }
        })
    })?;
    Ok(bound)
}
