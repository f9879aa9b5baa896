//! With the real SmolLM2-135M-Instruct GGUF that `scripts/setup` unpacks (skipped, with the
//! reason printed, when it is absent). Run in release: `cargo test --release -p openlora`.

mod common;

use std::path::PathBuf;

use common::{post, start};
use openledger_attribution_engine::lm::{CausalLm, KvCache, LoraAdapter, SeqStep, TargetModule};
use openlora::fixtures::write_adapter;
use openlora::server::ServerConfig;
use serde_json::json;

fn gguf() -> Option<PathBuf> {
    let p = std::env::var_os("OPENLORA_SMOLLM2").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    });
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} not found (run scripts/setup)", p.display());
        None
    }
}

fn argmax(v: &[f32]) -> u32 {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0 as u32
}

#[test]
fn smollm2_answers_a_chat_prompt_sensibly() {
    let Some(path) = gguf() else { return };
    let mut cfg = ServerConfig::new(path);
    cfg.base_name = Some("smollm2".into());
    let s = start(&cfg);
    let r = post(s.addr, "/v1/chat/completions", None, &json!({
        "model": "smollm2", "temperature": 0, "max_tokens": 24,
        "messages": [{"role": "user", "content": "Write a haiku about the sea."}]
    }));
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    // A coherent answer on topic (a broken forward pass produces unrelated or repeated tokens).
    let lower = text.to_lowercase();
    assert!(lower.contains("sea") || lower.contains("ocean") || lower.contains("wave"), "unexpected answer: {text:?}");
    // SmolLM2's tokenizer splits digits one by one.
    assert_eq!(s.state.text.encode("2026", false).unwrap().len(), 4);
}

#[test]
fn smollm2_lora_zero_b_is_exact_and_batches_are_invariant() {
    let Some(path) = gguf() else { return };
    let (model, _) = CausalLm::load_gguf(&path).unwrap();
    let cfg = model.config.clone();
    let tmp = tempfile::tempdir().unwrap();
    let ad = |name: &str, seed: u64, zero: bool, t: &[TargetModule]| {
        write_adapter(&tmp.path().join(name), &cfg, 8, 16.0, t, seed, zero).unwrap();
        LoraAdapter::load_dir(&tmp.path().join(name), &cfg, 64).unwrap()
    };
    let zero = ad("zero", 1, true, &TargetModule::ALL);
    let live: Vec<LoraAdapter> = (0..3).map(|i| ad(&format!("l{i}"), 10 + i, false, &[TargetModule::Q, TargetModule::K, TargetModule::V, TargetModule::O])).collect();
    let prompt: Vec<u32> = vec![1, 9690, 198, 2683, 314, 253, 5356, 30, 2, 198, 1, 520, 9531, 198];
    let decode = |adapter: Option<&LoraAdapter>, n: usize| -> (Vec<u32>, Vec<f32>) {
        let mut cache = KvCache::new();
        let mut toks = prompt.clone();
        let mut out = vec![];
        let mut first = vec![];
        for i in 0..n {
            let l = model.forward(&mut [SeqStep { tokens: &toks, cache: &mut cache, adapter }]).unwrap().remove(0);
            if i == 0 {
                first = l.clone();
            }
            let t = argmax(&l);
            out.push(t);
            toks = vec![t];
        }
        (out, first)
    };
    let (base_toks, base_logits) = decode(None, 8);
    let (z_toks, z_logits) = decode(Some(&zero), 8);
    assert_eq!(z_logits, base_logits, "zero-B adapter must reproduce the base logits exactly");
    assert_eq!(z_toks, base_toks);
    let (_, l_logits) = decode(Some(&live[0]), 1);
    assert!(l_logits.iter().zip(&base_logits).any(|(a, b)| (a - b).abs() > 1e-3));
    // Alone vs. together in one batch, each with its own adapter (and one without).
    let which: [Option<&LoraAdapter>; 4] = [None, Some(&live[0]), Some(&live[1]), Some(&live[2])];
    let alone: Vec<Vec<u32>> = which.iter().map(|a| decode(*a, 8).0).collect();
    let mut caches: Vec<KvCache> = (0..4).map(|_| KvCache::new()).collect();
    let mut next: Vec<Vec<u32>> = vec![prompt.clone(); 4];
    let mut got: Vec<Vec<u32>> = vec![vec![]; 4];
    for _ in 0..8 {
        let mut steps: Vec<SeqStep> = caches.iter_mut().zip(&next).zip(which).map(|((c, t), a)| SeqStep { tokens: t, cache: c, adapter: a }).collect();
        let logits = model.forward(&mut steps).unwrap();
        for (i, l) in logits.iter().enumerate() {
            let t = argmax(l);
            got[i].push(t);
            next[i] = vec![t];
        }
    }
    assert_eq!(got, alone);
}
