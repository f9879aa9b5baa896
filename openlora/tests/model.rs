//! The model and LoRA maths on a tiny random model the tests write themselves (HF safetensors
//! and GGUF), and adapter validation.

use std::path::Path;

use openledger_attribution_engine::lm::{CausalLm, KvCache, LmConfig, LoraAdapter, SeqStep, TargetModule};
use candle_core::quantized::GgmlDType;
use openlora::fixtures::{write_adapter, write_tiny_gguf, write_tiny_gguf_as, write_tiny_hf, write_tiny_hf_arch};

const ALL: [TargetModule; 7] = TargetModule::ALL;

/// Greedy decode of `n` tokens, one sequence alone; returns every step's logits.
fn run_alone(m: &CausalLm, prompt: &[u32], adapter: Option<&LoraAdapter>, n: usize) -> Vec<Vec<f32>> {
    let mut cache = KvCache::new();
    let mut out = Vec::new();
    let mut tokens = prompt.to_vec();
    for _ in 0..n {
        let mut steps = [SeqStep { tokens: &tokens, cache: &mut cache, adapter }];
        let logits = m.forward(&mut steps).expect("forward").remove(0);
        let next = argmax(&logits);
        out.push(logits);
        tokens = vec![next];
    }
    out
}

fn argmax(v: &[f32]) -> u32 {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0 as u32
}

fn load_adapter(dir: &Path, cfg: &LmConfig) -> LoraAdapter {
    LoraAdapter::load_dir(dir, cfg, 64).expect("adapter loads")
}

#[test]
fn zero_b_adapter_reproduces_base_logits_exactly_and_nonzero_changes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_tiny_hf(&tmp.path().join("base"), 1).unwrap();
    let model = CausalLm::load_hf_dir(&tmp.path().join("base")).unwrap();
    write_adapter(&tmp.path().join("zero"), &cfg, 4, 8.0, &ALL, 3, true).unwrap();
    write_adapter(&tmp.path().join("live"), &cfg, 4, 8.0, &ALL, 3, false).unwrap();
    let zero = load_adapter(&tmp.path().join("zero"), &cfg);
    let live = load_adapter(&tmp.path().join("live"), &cfg);
    let prompt = [4u32, 7, 9, 12, 5];
    let base = run_alone(&model, &prompt, None, 6);
    assert_eq!(run_alone(&model, &prompt, Some(&zero), 6), base, "B = 0 must leave logits bit for bit unchanged");
    let adapted = run_alone(&model, &prompt, Some(&live), 6);
    let max_diff = adapted[0].iter().zip(&base[0]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max_diff > 1e-2, "a non-zero adapter must change the logits (max diff {max_diff})");
}

#[test]
fn gguf_layout_matches_hf_layout_with_and_without_adapter() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_tiny_hf(&tmp.path().join("hf"), 2).unwrap();
    let gguf = write_tiny_gguf(&tmp.path().join("gguf"), 2).unwrap();
    let hf = CausalLm::load_hf_dir(&tmp.path().join("hf")).unwrap();
    let (gg, _) = CausalLm::load_gguf(&gguf).unwrap();
    assert!(gg.config.rope_interleaved && !hf.config.rope_interleaved);
    write_adapter(&tmp.path().join("a"), &cfg, 8, 16.0, &[TargetModule::Q, TargetModule::K, TargetModule::V], 5, false).unwrap();
    let a_hf = load_adapter(&tmp.path().join("a"), &hf.config);
    let a_gg = load_adapter(&tmp.path().join("a"), &gg.config);
    let prompt = [3u32, 10, 20, 30, 40, 11];
    for (x, y) in [(run_alone(&hf, &prompt, None, 4), run_alone(&gg, &prompt, None, 4)), (run_alone(&hf, &prompt, Some(&a_hf), 4), run_alone(&gg, &prompt, Some(&a_gg), 4))] {
        for (sx, sy) in x.iter().zip(&y) {
            let d = sx.iter().zip(sy).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(d < 1e-3, "HF and GGUF (permuted q/k, interleaved RoPE) disagree by {d}");
        }
    }
}

#[test]
fn sequence_logits_do_not_depend_on_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    write_tiny_hf(&tmp.path().join("base"), 3).unwrap();
    let model = CausalLm::load_hf_dir(&tmp.path().join("base")).unwrap();
    assert_batch_invariance(&model, tmp.path());
}

#[test]
fn quantised_gguf_runs_the_integer_kernel_with_the_same_guarantees() {
    // Q8_0 and Q4_1 projections become the int8 kernel's 7-bit blocks (dense F32 ones go
    // through candle): batch invariance with mixed adapters, B = 0 exactness, and logits close
    // to the F32 file's.
    let tmp = tempfile::tempdir().unwrap();
    let dense = CausalLm::load_gguf(&write_tiny_gguf(&tmp.path().join("f32"), 4).unwrap()).unwrap().0;
    let prompt = [4u32, 7, 9, 12, 5];
    let reference = run_alone(&dense, &prompt, None, 4);
    for (dtype, tolerance) in [(GgmlDType::Q8_0, 0.03), (GgmlDType::Q4_1, 0.2)] {
        let dir = tmp.path().join(format!("{dtype:?}"));
        let (model, _) = CausalLm::load_gguf(&write_tiny_gguf_as(&dir, 4, dtype).unwrap()).unwrap();
        assert!(model.weight_bytes() < dense.weight_bytes(), "{dtype:?}: projections are not held as int8");
        assert_batch_invariance(&model, &dir);
        let cfg = &model.config;
        write_adapter(&dir.join("zero"), cfg, 4, 8.0, &ALL, 3, true).unwrap();
        let zero = load_adapter(&dir.join("zero"), cfg);
        let base = run_alone(&model, &prompt, None, 4);
        assert_eq!(run_alone(&model, &prompt, Some(&zero), 4), base, "{dtype:?}: B = 0 must leave logits bit for bit unchanged");
        // Teacher-forced by the greedy tokens of each: compare the first step only.
        let (got, want) = (&base[0], &reference[0]);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff < tolerance * scale, "{dtype:?}: logits differ from F32 by {diff} (scale {scale})");
    }
}

/// Four sequences (three adapters of different ranks and targets, one without) give the same
/// logits batched, with one joining late, as alone.
fn assert_batch_invariance(model: &CausalLm, dir: &Path) {
    let cfg = &model.config;
    let adapters: Vec<LoraAdapter> = (0..3)
        .map(|i| {
            let dir = dir.join(format!("a{i}"));
            let targets: &[TargetModule] = if i == 1 { &[TargetModule::Q, TargetModule::V] } else { &ALL };
            write_adapter(&dir, cfg, 2 + 2 * i, 8.0, targets, 10 + i as u64, false).unwrap();
            load_adapter(&dir, cfg)
        })
        .collect();
    let prompts: [&[u32]; 4] = [&[4, 5, 6], &[7, 8, 9, 10, 11, 12, 13], &[14], &[15, 16, 17, 18]];
    let which: [Option<usize>; 4] = [Some(0), None, Some(1), Some(2)];
    let steps = 5;
    let alone: Vec<_> = (0..4).map(|i| run_alone(model, prompts[i], which[i].map(|a| &adapters[a]), steps)).collect();
    // All four together, the last one joining two steps late (continuous batching).
    let mut caches: Vec<KvCache> = (0..4).map(|_| KvCache::new()).collect();
    let mut next: Vec<Vec<u32>> = prompts.iter().map(|p| p.to_vec()).collect();
    let mut got: Vec<Vec<Vec<f32>>> = vec![vec![]; 4];
    for step in 0..steps + 2 {
        let active: Vec<usize> = (0..4).filter(|&i| if i == 3 { step >= 2 } else { step < steps }).collect();
        let mut batch: Vec<SeqStep> = Vec::new();
        let mut order = Vec::new();
        for (i, (cache, toks)) in caches.iter_mut().zip(&next).enumerate() {
            if active.contains(&i) {
                order.push(i);
                batch.push(SeqStep { tokens: toks, cache, adapter: which[i].map(|a| &adapters[a]) });
            }
        }
        let logits = model.forward(&mut batch).unwrap();
        for (i, l) in order.into_iter().zip(logits) {
            next[i] = vec![argmax(&l)];
            got[i].push(l);
        }
    }
    for i in 0..4 {
        assert_eq!(got[i], alone[i], "sequence {i}: batched logits differ from alone");
    }
}

fn expect_adapter_error(dir: &Path, cfg: &LmConfig, needle: &str) {
    match LoraAdapter::load_dir(dir, cfg, 16) {
        Ok(_) => panic!("adapter in {} should be rejected ({needle})", dir.display()),
        Err(e) => assert!(e.to_string().contains(needle), "error {e:?} should mention {needle:?}"),
    }
}

#[test]
fn adapters_that_do_not_fit_the_base_are_rejected_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_tiny_hf(&tmp.path().join("base"), 4).unwrap();
    let dir = |n: &str| tmp.path().join(n);

    // Shapes from a wider base.
    let mut wide = cfg.clone();
    wide.hidden_size = 48;
    write_adapter(&dir("wide"), &wide, 4, 8.0, &ALL, 1, false).unwrap();
    expect_adapter_error(&dir("wide"), &cfg, "does not match the base");

    // More layers than the base.
    let mut deep = cfg.clone();
    deep.num_layers = 3;
    write_adapter(&dir("deep"), &deep, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    expect_adapter_error(&dir("deep"), &cfg, "layer 2");

    // Rank above the cap (16 in expect_adapter_error).
    write_adapter(&dir("rank"), &cfg, 32, 8.0, &[TargetModule::Q], 1, false).unwrap();
    expect_adapter_error(&dir("rank"), &cfg, "rank r=32");

    // Unknown target module in the config.
    write_adapter(&dir("target"), &cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    let c = std::fs::read_to_string(dir("target").join("adapter_config.json")).unwrap().replace("q_proj", "c_attn");
    std::fs::write(dir("target").join("adapter_config.json"), c).unwrap();
    expect_adapter_error(&dir("target"), &cfg, "c_attn");

    // Tensors for a module that target_modules does not list.
    write_adapter(&dir("extra"), &cfg, 4, 8.0, &[TargetModule::Q, TargetModule::V], 1, false).unwrap();
    let c = std::fs::read_to_string(dir("extra").join("adapter_config.json")).unwrap().replace("\"v_proj\"", "\"k_proj\"");
    std::fs::write(dir("extra").join("adapter_config.json"), c).unwrap();
    expect_adapter_error(&dir("extra"), &cfg, "not in target_modules");

    // NaN in B, and a weight beyond f16's range (adapters are held as f16).
    for (name, bad, message) in [("nan", f32::NAN, "NaN"), ("huge", 1.0e5, "65504")] {
        write_adapter(&dir(name), &cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
        let p = dir(name).join("adapter_model.safetensors");
        let mut t = candle_core::safetensors::load(&p, &candle_core::Device::Cpu).unwrap();
        let key = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight".to_string();
        let b = t[&key].clone();
        let mut v: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        v[3] = bad;
        t.insert(key, candle_core::Tensor::from_vec(v, b.dims(), &candle_core::Device::Cpu).unwrap());
        candle_core::safetensors::save(&t, &p).unwrap();
        expect_adapter_error(&dir(name), &cfg, message);
    }

    // A corrupt (truncated) safetensors file.
    write_adapter(&dir("corrupt"), &cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    let p = dir("corrupt").join("adapter_model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    expect_adapter_error(&dir("corrupt"), &cfg, "not a valid safetensors file");

    // Unsupported PEFT options are refused, not silently ignored.
    write_adapter(&dir("dora"), &cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    let c = std::fs::read_to_string(dir("dora").join("adapter_config.json")).unwrap().replace("\"bias\": \"none\"", "\"use_dora\": true");
    std::fs::write(dir("dora").join("adapter_config.json"), c).unwrap();
    expect_adapter_error(&dir("dora"), &cfg, "DoRA");

    // Malformed config JSON.
    write_adapter(&dir("json"), &cfg, 4, 8.0, &[TargetModule::Q], 1, false).unwrap();
    std::fs::write(dir("json").join("adapter_config.json"), "{\"r\": 4,").unwrap();
    expect_adapter_error(&dir("json"), &cfg, "adapter_config.json");
}

#[test]
fn adapter_scale_follows_alpha_over_r() {
    // y = base + (alpha/r)·B(Ax): doubling alpha doubles the change in a projection's output.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_tiny_hf(&tmp.path().join("base"), 5).unwrap();
    write_adapter(&tmp.path().join("a1"), &cfg, 4, 4.0, &[TargetModule::Down], 9, false).unwrap();
    write_adapter(&tmp.path().join("a2"), &cfg, 4, 8.0, &[TargetModule::Down], 9, false).unwrap();
    let a1 = load_adapter(&tmp.path().join("a1"), &cfg);
    let a2 = load_adapter(&tmp.path().join("a2"), &cfg);
    assert_eq!(a1.scale, 1.0);
    assert_eq!(a2.scale, 2.0);
    let (p1, p2) = (a1.pair(0, TargetModule::Down).unwrap(), a2.pair(0, TargetModule::Down).unwrap());
    let x: Vec<f32> = (0..cfg.intermediate_size).map(|i| (i as f32 * 0.37).sin()).collect();
    let (mut y1, mut y2) = (vec![0f32; cfg.hidden_size], vec![0f32; cfg.hidden_size]);
    p1.apply(&x, &mut y1);
    p2.apply(&x, &mut y2);
    // Reference: plain f64 maths on the same matrices.
    for o in 0..cfg.hidden_size {
        let mut acc = 0f64;
        for j in 0..4 {
            let xa: f64 = (0..cfg.intermediate_size).map(|i| p1.a(j, i) as f64 * x[i] as f64).sum();
            acc += p1.bt(j, o) as f64 * xa;
        }
        assert!((y1[o] as f64 - acc).abs() < 1e-4, "row {o}: {} vs {acc}", y1[o]);
        assert!((y2[o] as f64 - 2.0 * acc).abs() < 2e-4);
    }
}

#[test]
fn qwen2_with_qkv_biases_loads_and_takes_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_tiny_hf_arch(&tmp.path().join("qwen"), 6, openledger_attribution_engine::lm::Arch::Qwen2).unwrap();
    let model = CausalLm::load_hf_dir(&tmp.path().join("qwen")).unwrap();
    assert_eq!(model.config.arch, openledger_attribution_engine::lm::Arch::Qwen2);
    // The llama loader of the same weights would ignore the biases: the outputs must differ.
    let llama_dir = tmp.path().join("llama");
    write_tiny_hf(&llama_dir, 6).unwrap();
    let llama = CausalLm::load_hf_dir(&llama_dir).unwrap();
    let prompt = [5u32, 6, 7];
    let base = run_alone(&model, &prompt, None, 3);
    assert_ne!(base, run_alone(&llama, &prompt, None, 3), "q/k/v biases must be applied");
    write_adapter(&tmp.path().join("z"), &cfg, 4, 8.0, &ALL, 1, true).unwrap();
    write_adapter(&tmp.path().join("a"), &cfg, 4, 8.0, &ALL, 1, false).unwrap();
    assert_eq!(run_alone(&model, &prompt, Some(&load_adapter(&tmp.path().join("z"), &cfg)), 3), base);
    assert_ne!(run_alone(&model, &prompt, Some(&load_adapter(&tmp.path().join("a"), &cfg)), 3), base);
}
