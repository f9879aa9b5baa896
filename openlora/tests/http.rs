//! The HTTP API over real HTTP (127.0.0.1:0) with a tiny random model and PEFT adapters.

mod common;

use std::path::Path;

use common::{post, request, start, TestServer};
use openledger_attribution_engine::lm::TargetModule;
use openlora::fixtures::{write_adapter, write_tiny_hf};
use openlora::server::ServerConfig;
use serde_json::json;

const KEY: &str = "sk-test";
const ADMIN: &str = "admin-secret";
const BASE: &str = "tiny";

fn setup(tmp: &Path, adapters: usize) -> ServerConfig {
    let cfg = write_tiny_hf(&tmp.join("tiny"), 7).unwrap();
    let dir = tmp.join("adapters");
    for i in 0..adapters {
        write_adapter(&dir.join(format!("ad{i}")), &cfg, 4, 8.0, &TargetModule::ALL, 100 + i as u64, false).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = ServerConfig::new(tmp.join("tiny"));
    c.adapters_dir = Some(dir);
    c.api_keys.insert(KEY.into(), "acct-alice".into());
    c.admin_key = Some(ADMIN.into());
    c
}

fn completion(s: &TestServer, model: &str, prompt: &str, max_tokens: usize) -> serde_json::Value {
    let r = post(s.addr, "/v1/completions", Some(KEY), &json!({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn assert_error(r: &common::Response, status: u16, needle: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    let v = r.json();
    let msg = v["error"]["message"].as_str().unwrap_or_else(|| panic!("OpenAI error shape expected: {}", r.body));
    assert!(v["error"]["type"].is_string(), "{}", r.body);
    assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
}

#[test]
fn models_lists_base_and_adapters_with_lineage() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&setup(tmp.path(), 2));
    let v = request(s.addr, "GET", "/v1/models", Some(KEY), None).json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["id"], BASE);
    assert_eq!(data[0]["parent"], serde_json::Value::Null);
    for (i, m) in data[1..].iter().enumerate() {
        assert_eq!(m["id"], format!("ad{i}"));
        assert_eq!(m["parent"], BASE);
        assert_eq!(m["root"], BASE);
    }
    assert_eq!(request(s.addr, "GET", "/health", None, None).json()["status"], "ok");
}

#[test]
fn completions_and_chat_return_usage_and_records() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&setup(tmp.path(), 1));
    let v = completion(&s, "ad0", "the cat sat on the mat", 5);
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["usage"]["prompt_tokens"], 6);
    assert_eq!(v["usage"]["total_tokens"].as_u64().unwrap(), 6 + v["usage"]["completion_tokens"].as_u64().unwrap());
    assert!(v["choices"][0]["text"].is_string());

    let r = post(s.addr, "/v1/chat/completions", Some(KEY), &json!({"model": BASE, "messages": [{"role": "user", "content": "hello world"}], "max_tokens": 4, "temperature": 0}));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    // ChatML: <|im_start|> user hello world <|im_end|> <|im_start|> assistant
    assert_eq!(c["usage"]["prompt_tokens"], 7);

    let recs = s.sink.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].adapter_id.as_deref(), Some("ad0"));
    assert_eq!(recs[0].account, "acct-alice");
    assert_eq!(recs[0].prompt_tokens, 6);
    assert_eq!(recs[0].output_token_ids.len(), recs[0].completion_tokens);
    assert_eq!(recs[0].request_id, v["id"]);
    assert_eq!(recs[1].adapter_id, None);
    assert_eq!(recs[1].completion_tokens as u64, c["usage"]["completion_tokens"].as_u64().unwrap());
}

#[test]
fn same_prompt_same_tokens_alone_and_in_a_mixed_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&setup(tmp.path(), 4));
    let models = [BASE, "ad0", "ad1", "ad2", "ad3"];
    let prompts = ["the cat sat on the mat", "open ledger reward", "one two three four five six", "red"];
    // Alone, one request at a time.
    let mut alone = std::collections::HashMap::new();
    for m in models {
        for p in prompts {
            alone.insert((m, p), completion(&s, m, p, 12)["choices"][0]["text"].as_str().unwrap().to_string());
        }
    }
    let distinct: std::collections::HashSet<_> = models.iter().map(|m| alone[&(*m, prompts[0])].clone()).collect();
    assert!(distinct.len() > 1, "adapters should change the output");
    // All twenty at once: they share batches, mixing adapters and prompt lengths.
    let handles: Vec<_> = models
        .iter()
        .flat_map(|m| prompts.iter().map(move |p| (*m, *p)))
        .map(|(m, p)| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let r = post(addr, "/v1/completions", Some(KEY), &json!({"model": m, "prompt": p, "max_tokens": 12, "temperature": 0}));
                assert_eq!(r.status, 200, "{}", r.body);
                (m, p, r.json()["choices"][0]["text"].as_str().unwrap().to_string())
            })
        })
        .collect();
    for h in handles {
        let (m, p, text) = h.join().unwrap();
        assert_eq!(text, alone[&(m, p)], "{m} / {p:?}: batched output differs from alone");
    }
}

#[test]
fn streaming_gives_the_same_text_as_non_streaming() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&setup(tmp.path(), 1));
    for (path, model) in [("/v1/completions", "ad0"), ("/v1/chat/completions", BASE), ("/v1/chat/completions", "ad0")] {
        let mut body = if path.contains("chat") {
            json!({"model": model, "messages": [{"role": "user", "content": "hello the dog"}], "max_tokens": 10, "temperature": 0})
        } else {
            json!({"model": model, "prompt": "hello the dog", "max_tokens": 10, "temperature": 0})
        };
        let plain = post(s.addr, path, Some(KEY), &body).json();
        body["stream"] = json!(true);
        let r = post(s.addr, path, Some(KEY), &body);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.headers.to_ascii_lowercase().contains("text/event-stream"));
        let data = r.sse_data();
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<serde_json::Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        let usage = &chunks.last().unwrap()["usage"];
        assert_eq!(usage, &plain["usage"], "final usage chunk");
        let mut text = String::new();
        let mut finish = None;
        for c in &chunks[..chunks.len() - 1] {
            let ch = &c["choices"][0];
            let piece = if path.contains("chat") { ch["delta"]["content"].as_str() } else { ch["text"].as_str() };
            text.push_str(piece.unwrap_or(""));
            if !ch["finish_reason"].is_null() {
                finish = ch["finish_reason"].as_str().map(str::to_string);
            }
        }
        let (want_text, want_finish) = if path.contains("chat") {
            (plain["choices"][0]["message"]["content"].as_str().unwrap(), plain["choices"][0]["finish_reason"].as_str())
        } else {
            (plain["choices"][0]["text"].as_str().unwrap(), plain["choices"][0]["finish_reason"].as_str())
        };
        assert_eq!(text, want_text, "{path} {model}");
        assert_eq!(finish.as_deref(), want_finish);
    }
}

#[test]
fn every_bad_request_gets_the_right_4xx_and_the_server_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = setup(tmp.path(), 1);
    let base_cfg = openlora::fixtures::tiny_config();
    // An adapter registered at startup whose weights are corrupt: found out on first use.
    let broken = tmp.path().join("adapters").join("broken");
    write_adapter(&broken, &base_cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    std::fs::write(broken.join("adapter_model.safetensors"), b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    let s = start(&cfg);
    let a = s.addr;
    let ok = json!({"model": "ad0", "prompt": "hello", "max_tokens": 3});

    assert_error(&post(a, "/v1/completions", None, &ok), 401, "missing API key");
    assert_error(&post(a, "/v1/completions", Some("sk-wrong"), &ok), 401, "incorrect API key");
    assert_error(&request(a, "GET", "/v1/models", Some("sk-wrong"), None), 401, "incorrect API key");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "nope", "prompt": "hello"})), 404, "does not exist");
    assert_error(&request(a, "POST", "/v1/completions", Some(KEY), Some("{\"model\": \"ad0\", \"prompt\": ")), 400, "malformed JSON");
    assert_error(&request(a, "POST", "/v1/chat/completions", Some(KEY), Some("not json")), 400, "malformed JSON");
    assert_error(&post(a, "/v1/chat/completions", Some(KEY), &json!({"model": "ad0"})), 400, "messages");
    assert_error(&post(a, "/v1/chat/completions", Some(KEY), &json!({"model": "ad0", "messages": []})), 400, "messages must not be empty");
    assert_error(&post(a, "/v1/chat/completions", Some(KEY), &json!({"model": "ad0", "messages": [{"role": "wizard", "content": "x"}]})), 400, "unknown role");
    let r = post(a, "/v1/completions", Some(KEY), &json!({"model": "ad0", "prompt": "hello", "max_tokens": 96}));
    assert_error(&r, 400, "maximum context length is 96");
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "ad0", "prompt": "hello", "max_tokens": 0})), 400, "at least 1");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "ad0", "prompt": [999999]})), 400, "outside the vocabulary");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "ad0", "prompt": "hello", "n": 3})), 400, "n=1");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "ad0", "prompt": "hello", "temperature": 9})), 400, "temperature");
    assert_error(&post(a, "/v1/completions", Some(KEY), &json!({"model": "broken", "prompt": "hello"})), 422, "not a valid safetensors file");
    assert_error(&request(a, "GET", "/v1/nothing", Some(KEY), None), 404, "no such endpoint");
    assert_error(&request(a, "GET", "/v1/completions", Some(KEY), None), 405, "method not allowed");

    // Admin: wrong key, then adapters that do not match the base.
    let reg = |id: &str, path: &Path| json!({"id": id, "path": path});
    assert_error(&post(a, "/admin/adapters", Some(KEY), &reg("x", &broken)), 401, "incorrect admin key");
    assert_error(&post(a, "/admin/adapters", None, &reg("x", &broken)), 401, "missing admin key");
    let mut wide = base_cfg.clone();
    wide.hidden_size = 40;
    write_adapter(&tmp.path().join("wide"), &wide, 4, 8.0, &[TargetModule::V], 1, false).unwrap();
    assert_error(&post(a, "/admin/adapters", Some(ADMIN), &reg("wide", &tmp.path().join("wide"))), 422, "does not match the base");
    assert_error(&post(a, "/admin/adapters", Some(ADMIN), &reg("corrupt", &broken)), 422, "not a valid safetensors file");
    assert_error(&post(a, "/admin/adapters", Some(ADMIN), &reg("missing", &tmp.path().join("nowhere"))), 422, "adapter_config.json");
    assert_error(&post(a, "/admin/adapters", Some(ADMIN), &reg("ad0", &broken)), 409, "already registered");
    assert_error(&post(a, "/admin/adapters", Some(ADMIN), &reg("bad id!", &broken)), 400, "invalid adapter id");
    // Failed registrations leave nothing behind.
    let ids: Vec<String> = request(a, "GET", "/v1/models", Some(KEY), None).json()["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![BASE, "ad0", "broken"]);

    // Everyone else is still served.
    let v = completion(&s, "ad0", "hello", 3);
    assert_eq!(v["usage"]["prompt_tokens"], 1);
    let m = request(a, "GET", "/metrics", None, None).body;
    assert!(m.contains("openlora_requests_total{adapter=\"ad0\"} 1"), "{m}");
    assert!(m.contains("openlora_request_errors_total{adapter=\"broken\"} 1"), "{m}");
}

#[test]
fn admin_registers_loads_unloads_and_removes_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(&setup(tmp.path(), 0));
    let cfg = openlora::fixtures::tiny_config();
    let dir = tmp.path().join("new");
    write_adapter(&dir, &cfg, 8, 16.0, &[TargetModule::Q, TargetModule::V], 42, false).unwrap();
    let r = post(s.addr, "/admin/adapters", Some(ADMIN), &json!({"id": "fresh", "path": dir}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["loaded"], true);
    // rank 8 on q (32×32) and v (16×32), two layers: (8·32 + 32·8 + 8·32 + 16·8)·2 f16 values.
    assert_eq!(r.json()["resident_bytes"], (8 * 32 + 32 * 8 + 8 * 32 + 16 * 8) * 2 * 2);
    completion(&s, "fresh", "hello", 2);
    let r = request(s.addr, "POST", "/admin/adapters/fresh/unload", Some(ADMIN), None);
    assert_eq!(r.json()["unloaded"], true, "{}", r.body);
    assert_eq!(s.state.store.resident_bytes(), 0);
    completion(&s, "fresh", "hello", 2); // reloads on use
    let r = request(s.addr, "DELETE", "/admin/adapters/fresh", Some(ADMIN), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_error(&post(s.addr, "/v1/completions", Some(KEY), &json!({"model": "fresh", "prompt": "hello"})), 404, "does not exist");
    assert_error(&request(s.addr, "DELETE", "/admin/adapters/fresh", Some(ADMIN), None), 404, "does not exist");
    let m = request(s.addr, "GET", "/metrics", None, None).body;
    assert!(m.contains("openlora_adapter_cache_misses_total 2"), "{m}");
    assert!(m.contains("openlora_adapter_cache_hits_total 1"), "{m}");
}

#[test]
fn concurrent_requests_over_a_small_adapter_cache_evict_and_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = setup(tmp.path(), 5);
    let one = openledger_attribution_engine::lm::LoraAdapter::load_dir(&tmp.path().join("adapters/ad0"), &openlora::fixtures::tiny_config(), 64).unwrap().bytes;
    cfg.adapter_budget_bytes = 2 * one;
    let s = start(&cfg);
    let handles: Vec<_> = (0..15)
        .map(|i| {
            let addr = s.addr;
            std::thread::spawn(move || {
                let r = post(addr, "/v1/completions", Some(KEY), &json!({"model": format!("ad{}", i % 5), "prompt": "the dog", "max_tokens": 8, "temperature": 0}));
                assert!(r.status == 200 || r.status == 503, "{} {}", r.status, r.body);
                if r.status == 503 {
                    assert_eq!(r.json()["error"]["code"], "overloaded");
                }
                r.status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(statuses.contains(&200));
    assert!(s.state.store.resident_bytes() <= 2 * one);
    // Once the burst is over every adapter can be served again, one at a time.
    for i in 0..5 {
        completion(&s, &format!("ad{i}"), "the dog", 2);
    }
    assert!(s.state.metrics.evictions() >= 3);
    assert!(s.state.store.list().iter().all(|a| a.pins == 0));
}
