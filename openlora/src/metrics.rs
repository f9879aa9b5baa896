//! Prometheus metrics: per-adapter requests, tokens and latency; adapter-cache hits, misses,
//! evictions and load time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (c, b) in self.counts.iter_mut().zip(BUCKETS) {
            if secs <= b {
                *c += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default, Clone)]
struct AdapterStats {
    requests: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Histogram,
    ttft: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    per_adapter: Mutex<BTreeMap<String, AdapterStats>>,
    load: Mutex<Histogram>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// Gauges read at scrape time.
pub struct Gauges {
    pub adapters_registered: usize,
    pub adapters_loaded: usize,
    pub adapter_resident_bytes: usize,
    pub adapter_budget_bytes: usize,
    pub running_requests: usize,
    pub waiting_requests: usize,
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A per-adapter counter of the Prometheus output: name, help text and its value.
type Counter = (&'static str, &'static str, fn(&AdapterStats) -> u64);

impl Metrics {
    pub fn cache_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn cache_eviction(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn adapter_loaded(&self, took: Duration) {
        self.load.lock().unwrap_or_else(|p| p.into_inner()).observe(took.as_secs_f64());
    }

    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// A finished request (`adapter` is the served model name).
    pub fn request_done(&self, adapter: &str, prompt: usize, completion: usize, latency: Duration, ttft: Option<Duration>) {
        let mut m = self.per_adapter.lock().unwrap_or_else(|p| p.into_inner());
        let s = m.entry(adapter.to_string()).or_default();
        s.requests += 1;
        s.prompt_tokens += prompt as u64;
        s.completion_tokens += completion as u64;
        s.latency.observe(latency.as_secs_f64());
        if let Some(t) = ttft {
            s.ttft.observe(t.as_secs_f64());
        }
    }

    pub fn request_failed(&self, adapter: &str) {
        let mut m = self.per_adapter.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(adapter.to_string()).or_default().errors += 1;
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let per = self.per_adapter.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let counters: [Counter; 4] = [
            ("openlora_requests_total", "Completed requests per model/adapter.", |s| s.requests),
            ("openlora_request_errors_total", "Requests that failed after being accepted.", |s| s.errors),
            ("openlora_prompt_tokens_total", "Prompt tokens processed.", |s| s.prompt_tokens),
            ("openlora_completion_tokens_total", "Completion tokens generated.", |s| s.completion_tokens),
        ];
        for (name, help, f) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (a, s) in &per {
                let _ = writeln!(out, "{name}{{adapter=\"{}\"}} {}", escape(a), f(s));
            }
        }
        for (name, help, pick) in [
            ("openlora_request_duration_seconds", "End-to-end request latency.", 0),
            ("openlora_time_to_first_token_seconds", "Time from arrival to the first generated token.", 1),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for (a, s) in &per {
                let h = if pick == 0 { &s.latency } else { &s.ttft };
                h.render(&mut out, name, &format!("adapter=\"{}\"", escape(a)));
            }
        }
        for (name, help, v) in [
            ("openlora_adapter_cache_hits_total", "Adapter lookups served from memory.", self.hits.load(Ordering::Relaxed)),
            ("openlora_adapter_cache_misses_total", "Adapter lookups that loaded from disk.", self.misses.load(Ordering::Relaxed)),
            ("openlora_adapter_cache_evictions_total", "Adapters evicted to stay within the memory budget.", self.evictions.load(Ordering::Relaxed)),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let name = "openlora_adapter_load_seconds";
        let _ = writeln!(out, "# HELP {name} Cold-load time of an adapter (read + validate).\n# TYPE {name} histogram");
        self.load.lock().unwrap_or_else(|p| p.into_inner()).render(&mut out, name, "");
        for (name, help, v) in [
            ("openlora_adapters_registered", "Registered adapters.", g.adapters_registered),
            ("openlora_adapters_loaded", "Adapters in memory.", g.adapters_loaded),
            ("openlora_adapter_resident_bytes", "Bytes of adapter weights in memory.", g.adapter_resident_bytes),
            ("openlora_adapter_budget_bytes", "Memory budget of the adapter cache.", g.adapter_budget_bytes),
            ("openlora_running_requests", "Requests in the running batch.", g.running_requests),
            ("openlora_waiting_requests", "Requests waiting for a batch slot.", g.waiting_requests),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}
