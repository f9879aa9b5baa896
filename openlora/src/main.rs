//! `openlora`: serve a base model and its LoRA adapters over an OpenAI-compatible API.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use openlora::accounting::{InferenceSink, JsonlSink, MemorySink};
use openlora::server::{build, serve, ServerConfig};

#[derive(Parser, Debug)]
#[command(name = "openlora", about = "Many LoRA adapters on one base model, OpenAI-compatible API")]
struct Cli {
    /// Base model: a GGUF file, or a Hugging Face directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    base: PathBuf,
    /// Name the base is served under (default: file stem / directory name).
    #[arg(long)]
    base_name: Option<String>,
    /// Directory whose subdirectories are PEFT adapters, registered under their names.
    #[arg(long)]
    adapters: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Memory budget of the adapter cache, in MiB.
    #[arg(long, default_value_t = 512)]
    adapter_cache_mib: usize,
    /// Largest accepted adapter rank.
    #[arg(long, default_value_t = 64)]
    max_rank: usize,
    /// Most sequences in one batch.
    #[arg(long, default_value_t = 16)]
    max_batch: usize,
    /// Context limit (prompt + completion), capped by the model's.
    #[arg(long)]
    max_context: Option<usize>,
    /// API key as KEY=ACCOUNT (repeatable). Without any, the API is open (account `anonymous`).
    #[arg(long = "api-key")]
    api_keys: Vec<String>,
    /// File of API keys, one KEY=ACCOUNT per line.
    #[arg(long)]
    api_keys_file: Option<PathBuf>,
    /// Admin key for /admin/adapters (or the OPENLORA_ADMIN_KEY environment variable).
    #[arg(long)]
    admin_key: Option<String>,
    /// Append one inference record per completed request to this JSON-lines file.
    #[arg(long)]
    records: Option<PathBuf>,
}

fn parse_keys(items: impl Iterator<Item = String>, keys: &mut HashMap<String, String>) -> Result<(), String> {
    for item in items {
        let item = item.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        let (k, a) = item.split_once('=').ok_or_else(|| format!("API key entry without '=': {item:?}"))?;
        keys.insert(k.trim().to_string(), a.trim().to_string());
    }
    Ok(())
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("openlora: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let mut keys = HashMap::new();
    parse_keys(cli.api_keys.into_iter(), &mut keys)?;
    if let Some(f) = &cli.api_keys_file {
        let s = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        parse_keys(s.lines().map(str::to_string), &mut keys)?;
    }
    let mut cfg = ServerConfig::new(cli.base);
    cfg.base_name = cli.base_name;
    cfg.adapters_dir = cli.adapters;
    cfg.adapter_budget_bytes = cli.adapter_cache_mib << 20;
    cfg.max_rank = cli.max_rank;
    cfg.max_batch = cli.max_batch;
    cfg.max_context = cli.max_context;
    cfg.api_keys = keys;
    cfg.admin_key = cli.admin_key.or_else(|| std::env::var("OPENLORA_ADMIN_KEY").ok()).filter(|k| !k.is_empty());
    let sink: Arc<dyn InferenceSink> = match &cli.records {
        Some(p) => Arc::new(JsonlSink::open(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Arc::new(MemorySink::default()),
    };
    let state = build(&cfg, sink).map_err(|e| e.message)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cli.listen).await.map_err(|e| format!("{}: {e}", cli.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!("openlora: serving {} with {} adapter(s) on http://{addr}", state.base_name, state.store.list().len());
        serve(listener, state, shutdown_signal()).await.map_err(|e| e.to_string())
    })
}
