//! The adapter store: adapters registered by id, loaded on first use, kept in an LRU cache
//! bounded by a memory budget, pinned while requests use them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use openledger_attribution_engine::lm::{LmConfig, LoraAdapter, LoraConfig};

use crate::error::{ApiError, Result};
use crate::metrics::Metrics;

struct Entry {
    path: PathBuf,
    loaded: Option<Arc<LoraAdapter>>,
    pins: usize,
    last_used: u64,
    file_bytes: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    clock: u64,
    resident: usize,
}

/// Public view of one registered adapter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterInfo {
    pub id: String,
    pub path: String,
    pub loaded: bool,
    pub pins: usize,
    pub resident_bytes: usize,
    pub file_bytes: u64,
}

pub struct AdapterStore {
    base: LmConfig,
    max_rank: usize,
    budget_bytes: usize,
    inner: Mutex<Inner>,
    // One load at a time: a second request for the same adapter waits and then finds it loaded
    // instead of reading the files twice.
    load_lock: Mutex<()>,
    metrics: Arc<Metrics>,
}

/// An adapter in use: it cannot be evicted until this is dropped.
pub struct PinnedAdapter {
    id: String,
    adapter: Arc<LoraAdapter>,
    store: Arc<AdapterStore>,
}

impl PinnedAdapter {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn adapter(&self) -> &LoraAdapter {
        &self.adapter
    }

    pub fn arc(&self) -> &Arc<LoraAdapter> {
        &self.adapter
    }
}

impl Drop for PinnedAdapter {
    fn drop(&mut self) {
        let mut inner = self.store.lock();
        if let Some(e) = inner.entries.get_mut(&self.id) {
            e.pins = e.pins.saturating_sub(1);
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
}

impl AdapterStore {
    pub fn new(base: LmConfig, max_rank: usize, budget_bytes: usize, metrics: Arc<Metrics>) -> Self {
        Self { base, max_rank, budget_bytes, inner: Mutex::new(Inner::default()), load_lock: Mutex::new(()), metrics }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent (every update is a
        // single assignment), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an adapter directory under `id` after checking its configuration (the weights
    /// are read and fully validated on first use, or by [`Self::load`]).
    pub fn register(&self, id: &str, path: &Path) -> Result<()> {
        if !valid_id(id) {
            return Err(ApiError::bad_request(format!("invalid adapter id {id:?}")).with_param("id"));
        }
        let cfg_path = path.join("adapter_config.json");
        let json = std::fs::read_to_string(&cfg_path)
            .map_err(|e| ApiError::invalid_adapter(format!("{}: {e}", cfg_path.display())))?;
        LoraConfig::from_json(&json)
            .and_then(|c| c.validate(self.max_rank))
            .map_err(|e| ApiError::invalid_adapter(e.to_string()))?;
        let file_bytes = std::fs::metadata(path.join("adapter_model.safetensors"))
            .map_err(|e| ApiError::invalid_adapter(format!("{}/adapter_model.safetensors: {e}", path.display())))?
            .len();
        let mut inner = self.lock();
        if inner.entries.contains_key(id) {
            return Err(ApiError::conflict(format!("adapter {id:?} is already registered")));
        }
        inner.entries.insert(id.to_string(), Entry { path: path.to_path_buf(), loaded: None, pins: 0, last_used: 0, file_bytes });
        Ok(())
    }

    /// Registers every subdirectory of `dir` that holds an `adapter_config.json`, by its name.
    pub fn register_dir(&self, dir: &Path) -> Result<usize> {
        let rd = std::fs::read_dir(dir).map_err(|e| ApiError::internal(format!("{}: {e}", dir.display())))?;
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("adapter_config.json").exists()).collect();
        paths.sort();
        for p in &paths {
            let id = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            self.register(&id, p)?;
        }
        Ok(paths.len())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().entries.contains_key(id)
    }

    /// Removes an adapter that no request uses.
    pub fn unregister(&self, id: &str) -> Result<()> {
        self.unload(id)?;
        self.lock().entries.remove(id);
        Ok(())
    }

    /// Drops an adapter's weights from memory (it stays registered); false if it was not loaded.
    pub fn unload(&self, id: &str) -> Result<bool> {
        let mut inner = self.lock();
        let e = inner.entries.get_mut(id).ok_or_else(|| ApiError::unknown_model(id))?;
        if e.pins > 0 {
            return Err(ApiError::conflict(format!("adapter {id:?} is in use by {} request(s)", e.pins)));
        }
        let freed = e.loaded.take().map_or(0, |a| a.bytes);
        inner.resident -= freed;
        Ok(freed > 0)
    }

    /// Loads (if needed) and validates an adapter without keeping it pinned.
    pub fn load(self: &Arc<Self>, id: &str) -> Result<AdapterInfo> {
        drop(self.acquire(id)?);
        self.list().into_iter().find(|a| a.id == id).ok_or_else(|| ApiError::unknown_model(id))
    }

    /// Pins an adapter, loading it on a miss and evicting least-recently-used unpinned
    /// adapters to stay within the memory budget.
    pub fn acquire(self: &Arc<Self>, id: &str) -> Result<PinnedAdapter> {
        if let Some(p) = self.try_pin(id)? {
            self.metrics.cache_hit();
            return Ok(p);
        }
        let _loading = self.load_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = self.try_pin(id)? {
            self.metrics.cache_hit();
            return Ok(p);
        }
        self.metrics.cache_miss();
        let path = self.lock().entries.get(id).map(|e| e.path.clone()).ok_or_else(|| ApiError::unknown_model(id))?;
        let started = Instant::now();
        let adapter = LoraAdapter::load_dir(&path, &self.base, self.max_rank)
            .map_err(|e| ApiError::invalid_adapter(format!("adapter {id:?}: {e}")))?;
        self.metrics.adapter_loaded(started.elapsed());
        let adapter = Arc::new(adapter);
        let mut inner = self.lock();
        if adapter.bytes > self.budget_bytes {
            return Err(ApiError::overloaded(format!(
                "adapter {id:?} needs {} bytes, more than the whole adapter cache ({} bytes)",
                adapter.bytes, self.budget_bytes
            )));
        }
        while inner.resident + adapter.bytes > self.budget_bytes {
            let victim = inner
                .entries
                .iter()
                .filter(|(k, e)| e.loaded.is_some() && e.pins == 0 && k.as_str() != id)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else {
                return Err(ApiError::overloaded("adapter cache is full and every cached adapter is in use; retry later"));
            };
            if let Some(e) = inner.entries.get_mut(&victim) {
                let freed = e.loaded.take().map_or(0, |a| a.bytes);
                inner.resident -= freed;
                self.metrics.cache_eviction();
            }
        }
        inner.clock += 1;
        let clock = inner.clock;
        let e = inner.entries.get_mut(id).ok_or_else(|| ApiError::unknown_model(id))?;
        e.loaded = Some(adapter.clone());
        e.pins += 1;
        e.last_used = clock;
        inner.resident += adapter.bytes;
        Ok(PinnedAdapter { id: id.to_string(), adapter, store: self.clone() })
    }

    fn try_pin(self: &Arc<Self>, id: &str) -> Result<Option<PinnedAdapter>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let e = inner.entries.get_mut(id).ok_or_else(|| ApiError::unknown_model(id))?;
        Ok(e.loaded.clone().map(|adapter| {
            e.pins += 1;
            e.last_used = clock;
            PinnedAdapter { id: id.to_string(), adapter, store: self.clone() }
        }))
    }

    /// Bytes of adapter weights in memory.
    pub fn resident_bytes(&self) -> usize {
        self.lock().resident
    }

    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    pub fn list(&self) -> Vec<AdapterInfo> {
        let inner = self.lock();
        let mut v: Vec<AdapterInfo> = inner
            .entries
            .iter()
            .map(|(id, e)| AdapterInfo {
                id: id.clone(),
                path: e.path.display().to_string(),
                loaded: e.loaded.is_some(),
                pins: e.pins,
                resident_bytes: e.loaded.as_ref().map_or(0, |a| a.bytes),
                file_bytes: e.file_bytes,
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}
