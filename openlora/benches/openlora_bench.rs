//! OpenLoRA benchmark on the SmolLM2 GGUF (run through `scripts/bench-openlora`).
//!
//! Measures: decode tokens/s of the base alone vs. 1, 10 and 100 distinct rank-8 adapters in
//! mixed batches at the same batch size; adapter cold-load p50; resident memory per cached
//! adapter vs. file size; time to first token and aggregate throughput of 16 concurrent
//! requests on 16 adapters over real HTTP; single-stream decode tokens/s.
//! Prints a human-readable report and one JSON line (`RESULT {...}`) for scripts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openledger_attribution_engine::lm::{CausalLm, KvCache, LoraAdapter, SeqStep, TargetModule};
use openlora::accounting::MemorySink;
use openlora::fixtures::write_adapter;
use openlora::server::{build, spawn, ServerConfig};
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn argmax(v: &[f32]) -> u32 {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0 as u32
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Decode time of one batch (`b` seeds its prompts), sequence j on adapter `which[j]`, over
/// `steps` steps; the prefill is not timed.
fn decode_batch(model: &CausalLm, which: &[Option<&LoraAdapter>], b: usize, steps: usize, prompt_len: usize) -> Duration {
    let mut decode_time = Duration::ZERO;
    let mut caches: Vec<KvCache> = which.iter().map(|_| KvCache::new()).collect();
    let mut next: Vec<Vec<u32>> = (0..which.len()).map(|j| (0..prompt_len).map(|k| (100 + 37 * j + 11 * k + b) as u32).collect()).collect();
    for step in 0..=steps {
        let started = Instant::now();
        let mut s: Vec<SeqStep> = caches.iter_mut().zip(&next).zip(which).map(|((c, t), a)| SeqStep { tokens: t, cache: c, adapter: *a }).collect();
        let logits = model.forward(&mut s).expect("forward");
        if step > 0 {
            decode_time += started.elapsed();
        }
        next = logits.iter().map(|l| vec![argmax(l)]).collect();
    }
    decode_time
}

fn single_stream(model: &CausalLm, prompt: &[u32], n: usize) -> f64 {
    let mut cache = KvCache::new();
    let l = model.forward(&mut [SeqStep { tokens: prompt, cache: &mut cache, adapter: None }]).expect("prefill");
    let mut t = vec![argmax(&l[0])];
    let started = Instant::now();
    for _ in 0..n {
        let l = model.forward(&mut [SeqStep { tokens: &t, cache: &mut cache, adapter: None }]).expect("decode");
        t = vec![argmax(&l[0])];
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let gguf = std::env::var_os("OPENLORA_BENCH_GGUF").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    if !gguf.exists() {
        println!("SKIPPED: {} not found (run scripts/setup)", gguf.display());
        return;
    }
    let batch = env_usize("OPENLORA_BENCH_BATCH", 16);
    let steps = env_usize("OPENLORA_BENCH_STEPS", 16);
    // Short prompts: the throughput runs time decode steps, the prefill is overhead.
    let prompt_len = env_usize("OPENLORA_BENCH_PROMPT", 4);
    let single_n = env_usize("OPENLORA_BENCH_SINGLE_TOKENS", 128);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("base {}, {threads} threads", gguf.display());
    let (model, _) = CausalLm::load_gguf(&gguf).expect("load GGUF");
    let cfg = model.config.clone();

    // Adapters: rank 8 on every projection (the heaviest LoRA layout).
    let tmp = tempfile::tempdir().expect("tempdir");
    let n_adapters = 100;
    for i in 0..n_adapters {
        write_adapter(&tmp.path().join(format!("ad{i:03}")), &cfg, 8, 16.0, &TargetModule::ALL, i as u64 + 1, false).expect("write adapter");
    }
    let file_bytes = std::fs::metadata(tmp.path().join("ad000/adapter_model.safetensors")).map(|m| m.len()).unwrap_or(0);
    let rss_before = rss_bytes();
    let mut load_ms = Vec::new();
    let mut adapters = Vec::new();
    for i in 0..n_adapters {
        let started = Instant::now();
        adapters.push(LoraAdapter::load_dir(&tmp.path().join(format!("ad{i:03}")), &cfg, 64).expect("load adapter"));
        load_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let rss_per_adapter = rss_bytes().saturating_sub(rss_before) / n_adapters;
    // 100 more with PEFT's default layout for llama: rank 8 on q_proj and v_proj; their loads
    // give the cold-load time of that layout.
    let mut qv_ms = Vec::new();
    let mut qv_adapters = Vec::new();
    for i in 0..n_adapters {
        let d = tmp.path().join(format!("qv{i:03}"));
        write_adapter(&d, &cfg, 8, 16.0, &[TargetModule::Q, TargetModule::V], 1000 + i as u64, false).expect("write adapter");
        let started = Instant::now();
        qv_adapters.push(LoraAdapter::load_dir(&d, &cfg, 64).expect("load adapter"));
        qv_ms.push(started.elapsed().as_secs_f64() * 1e3);
        std::fs::remove_dir_all(&d).expect("cleanup");
    }
    let qv_p50 = p50(qv_ms);
    let adapter_bytes = adapters[0].bytes;
    let cold_p50 = p50(load_ms);
    println!("adapter rank 8 x 7 modules x {} layers: file {file_bytes} B, weights in memory {adapter_bytes} B, RSS growth per cached adapter {rss_per_adapter} B", cfg.num_layers);
    println!("adapter cold load (read + validate, file in page cache) p50: {cold_p50:.2} ms (rank 8, all 7 projections), {qv_p50:.2} ms (rank 8, q_proj + v_proj)");

    // Decode tokens/s per adapter layout. The layouts take turns batch by batch, each batch
    // starting the round at a different layout, so a drift in the machine's speed (a shared
    // host's neighbours) or the cache state left by the previous layout weighs on all of them
    // alike; two passes over the 100 adapters.
    let batches = 2 * n_adapters.div_ceil(batch);
    type Assign<'a> = Box<dyn Fn(usize, usize) -> Option<&'a LoraAdapter> + 'a>;
    let layouts: [(&str, Assign<'_>); 5] = [
        ("base only", Box::new(|_, _| None)),
        ("1 adapter", Box::new(|_, _| Some(&adapters[0]))),
        ("10 adapters", Box::new(|b, j| Some(&adapters[(b * batch + j) % 10]))),
        ("100 adapters", Box::new(|b, j| Some(&adapters[(b * batch + j) % n_adapters]))),
        ("100 q+v", Box::new(|b, j| Some(&qv_adapters[(b * batch + j) % n_adapters]))),
    ];
    let mut times: [Vec<Duration>; 5] = Default::default();
    for b in 0..batches {
        for k in 0..layouts.len() {
            let k = (b + k) % layouts.len();
            let which: Vec<Option<&LoraAdapter>> = (0..batch).map(|j| (layouts[k].1)(b, j)).collect();
            times[k].push(decode_batch(&model, &which, b, steps, prompt_len));
        }
    }
    let tps = times.each_ref().map(|t| (batches * batch * steps) as f64 / t.iter().sum::<Duration>().as_secs_f64());
    let [tps_base, tps_1, tps_10, tps_100, tps_100_qv] = tps;
    // Each round's own ratio (base batch time / layout batch time, measured within seconds of
    // each other), then the median over rounds: a round the neighbours slowed weighs no more
    // than any other, where in the ratio of totals it weighs by its length.
    let round_ratios: [f64; 5] = std::array::from_fn(|k| {
        p50(times[0].iter().zip(&times[k]).map(|(b, t)| b.as_secs_f64() / t.as_secs_f64()).collect())
    });
    println!("decode throughput, batch {batch}, {batches} batches x {steps} steps (ratio of totals; median of the rounds' own ratios):");
    for (((name, _), v), round) in layouts.iter().zip(tps).zip(round_ratios) {
        println!("  {name:<13} {v:8.1} tokens/s  ({:5.1} % of base; {:5.1} % per round)", 100.0 * v / tps_base, 100.0 * round);
    }
    println!("  (rank 8 on all 7 projections, the heaviest layout; \"100 q+v\": rank 8 on q_proj and v_proj, PEFT's default)");

    let prompt: Vec<u32> = vec![1, 9690, 198, 2683, 314, 253, 5356, 30, 2, 198, 1, 4093, 198, 7398, 253, 1977, 2004, 563, 1345, 30, 2, 198, 1, 520, 9531, 198];
    let single = single_stream(&model, &prompt, single_n);
    println!("single-stream decode, {single_n} tokens: {single:.1} tokens/s");
    drop(layouts);
    drop(adapters);
    drop(qv_adapters);
    drop(model);

    // Over HTTP: time to first token and 16 concurrent requests on 16 adapters.
    let mut sc = ServerConfig::new(gguf.clone());
    sc.base_name = Some("smollm2".into());
    sc.adapters_dir = Some(tmp.path().to_path_buf());
    sc.max_batch = 16;
    sc.admin_key = Some("bench-admin".into());
    let state = build(&sc, Arc::new(MemorySink::default())).expect("server");
    let addr = spawn(state, "127.0.0.1:0").expect("server starts");
    let chat = |model: &str, max_tokens: usize, stream: bool| {
        json!({"model": model, "temperature": 0, "max_tokens": max_tokens, "stream": stream,
               "messages": [{"role": "user", "content": "Write a short story about a robot who learns to paint."}]})
        .to_string()
    };
    // Warm the adapters used below so TTFT measures serving, not the first load.
    for i in 0..16 {
        let r = openlora::client::request(addr, "POST", &format!("/admin/adapters/ad{i:03}/load"), Some("bench-admin"), None).expect("load");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut ttfts = Vec::new();
    for i in 0..5 {
        let (ttft, r) = openlora::client::request_timed(addr, "/v1/chat/completions", None, &chat(&format!("ad{i:03}"), 8, true)).expect("request");
        assert_eq!(r.status, 200, "{}", r.body);
        ttfts.push(ttft.as_secs_f64() * 1e3);
    }
    let ttft_p50 = p50(ttfts);
    println!("time to first token (chat prompt, streamed, one request at a time) p50 {ttft_p50:.1} ms");
    let max_tokens = env_usize("OPENLORA_BENCH_CONCURRENT_TOKENS", 64);
    let started = Instant::now();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let body = chat(&format!("ad{i:03}"), max_tokens, false);
            std::thread::spawn(move || {
                let r = openlora::client::request(addr, "POST", "/v1/chat/completions", None, Some(&body)).expect("request");
                r.json()["usage"]["completion_tokens"].as_u64().unwrap_or(0)
            })
        })
        .collect();
    let generated: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    let aggregate = generated as f64 / started.elapsed().as_secs_f64();
    println!("16 concurrent requests on 16 adapters over HTTP: {generated} tokens, {aggregate:.1} tokens/s aggregate (prefill included)");
    let result = json!({
        "threads": threads, "batch": batch,
        "tps_base": tps_base, "tps_1_adapter": tps_1, "tps_10_adapters": tps_10, "tps_100_adapters": tps_100,
        "ratio_100_vs_base": tps_100 / tps_base, "tps_100_qv_adapters": tps_100_qv, "ratio_100_qv_vs_base": tps_100_qv / tps_base,
        "round_ratio_100_vs_base": round_ratios[3], "round_ratio_100_qv_vs_base": round_ratios[4],
        "cold_load_p50_ms": cold_p50, "cold_load_qv_p50_ms": qv_p50, "adapter_file_bytes": file_bytes, "adapter_resident_bytes": adapter_bytes,
        "rss_per_adapter_bytes": rss_per_adapter, "ttft_p50_ms": ttft_p50,
        "single_stream_tps": single, "concurrent16_aggregate_tps": aggregate,
    });
    println!("RESULT {result}");
}
