//! The `openledger-attr` token subcommands: JSON out, clear errors and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn attr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openledger-attr"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: Output) -> Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fails(out: Output, message: &str) {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(message), "stderr {err:?} lacks {message:?}");
}

const CORPUS: &str = r#"{"token_ids": [1, 2, 3, 4, 2, 3], "contribution": {"datanet_id": 1, "version": 1, "content_hash": "0x1111111111111111111111111111111111111111111111111111111111111111"}}
{"token_ids": [2, 3, 5], "contribution": {"datanet_id": 1, "version": 1, "content_hash": "0x2222222222222222222222222222222222222222222222222222222222222222"}}
{"token_ids": [2, 3], "contribution": {"datanet_id": 2, "version": 1, "content_hash": "0x3333333333333333333333333333333333333333333333333333333333333333"}}
"#;

fn index(dir: &Path) -> String {
    let input = dir.join("docs.jsonl");
    std::fs::write(&input, CORPUS).unwrap();
    let idx = dir.join("idx");
    let stats = json(attr(&[
        "index",
        "--input",
        input.to_str().unwrap(),
        "--index",
        idx.to_str().unwrap(),
    ]));
    assert_eq!(stats["documents"], 3);
    assert_eq!(stats["tokens"], 14);
    assert_eq!(stats["shards"], 1);
    idx.to_str().unwrap().to_string()
}

#[test]
fn queries_print_reference_shaped_json() {
    let dir = tempfile::tempdir().unwrap();
    let idx = index(dir.path());
    let i = idx.as_str();
    assert_eq!(
        json(attr(&["count", "--index", i, "2", "3"])),
        serde_json::json!({"count": 4, "approx": false})
    );
    assert_eq!(json(attr(&["count", "--index", i]))["count"], 14);
    let p = json(attr(&["prob", "--index", i, "--cont", "5", "2", "3"]));
    assert_eq!(
        (
            p["prompt_cnt"].as_u64(),
            p["cont_cnt"].as_u64(),
            p["prob"].as_f64()
        ),
        (Some(4), Some(1), Some(0.25))
    );
    let n = json(attr(&["ntd", "--index", i, "--eos", "9", "2", "3"]));
    assert_eq!(n["result_by_token_id"]["9"]["cont_cnt"], 2);
    assert_eq!(n["result_by_token_id"]["4"]["cont_cnt"], 1);
    let ip = json(attr(&[
        "infgram-prob",
        "--index",
        i,
        "--cont",
        "3",
        "7",
        "1",
        "2",
    ]));
    assert_eq!(
        (ip["suffix_len"].as_u64(), ip["prob"].as_f64()),
        (Some(2), Some(1.0))
    );
    let ind = json(attr(&["infgram-ntd", "--index", i, "8", "5"]));
    assert_eq!(ind["suffix_len"], 1);
    let f = json(attr(&["find", "--index", i, "2", "3"]));
    assert_eq!(f["cnt"], 4);
    assert_eq!(f["segment_by_shard"].as_array().unwrap().len(), 1);
    let d = json(attr(&["doc", "--index", i, "--doc-ix", "1"]));
    assert_eq!(d["token_ids"], serde_json::json!([2, 3, 5]));
    assert!(d["metadata"].as_str().unwrap().contains("0x2222"));
    let c = json(attr(&["creativity", "--index", i, "1", "2", "3", "9"]));
    assert_eq!(c["rs"], serde_json::json!([3, 3, 3, 3]));
    let a = json(attr(&[
        "attribute",
        "--index",
        i,
        "--min-len",
        "2",
        "--max-cnt",
        "10",
        "9",
        "4",
        "2",
        "3",
        "5",
    ]));
    let span = &a["spans"][0];
    assert_eq!(
        (
            span["l"].as_u64(),
            span["r"].as_u64(),
            span["count"].as_u64()
        ),
        (Some(1), Some(4), Some(1))
    );
    assert!(span["unigram_logprob_sum"].as_f64().unwrap() < 0.0);
    assert_eq!(span["docs"][0]["s"], 0);
    let s = json(attr(&[
        "shares",
        "--index",
        i,
        "--min-len",
        "2",
        "--max-cnt",
        "10",
        "9",
        "4",
        "2",
        "3",
        "5",
    ]));
    assert_eq!(s["total_perbill"], 1_000_000_000);
    let total: u64 = s["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["perbill"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1_000_000_000);
    assert!(s["shares"][0]["content_hash"]
        .as_str()
        .unwrap()
        .starts_with("0x"));
}

#[test]
fn text_documents_with_a_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("tokenizer.json");
    std::fs::write(
        &tok,
        r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
            "pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
            "model":{"type":"WordLevel","vocab":{"[UNK]":0,"the":1,"cat":2,"sat":3,"on":4,"mat":5},"unk_token":"[UNK]"}}"#,
    )
    .unwrap();
    let input = dir.path().join("docs.jsonl");
    std::fs::write(
        &input,
        "{\"text\": \"the cat sat on the mat\"}\n{\"text\": \"the mat\"}\n",
    )
    .unwrap();
    let idx = dir.path().join("idx");
    let (i, t) = (idx.to_str().unwrap(), tok.to_str().unwrap());
    json(attr(&[
        "index",
        "--input",
        input.to_str().unwrap(),
        "--index",
        i,
        "--tokenizer",
        t,
    ]));
    assert_eq!(
        json(attr(&[
            "count",
            "--index",
            i,
            "--text",
            "the mat",
            "--tokenizer",
            t
        ]))["count"],
        2
    );
    assert_eq!(json(attr(&["count", "--index", i, "1", "5"]))["count"], 2);
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let idx = index(dir.path());
    let i = idx.as_str();
    fails(
        attr(&["count", "--index", "/nonexistent/index", "1"]),
        "missing index file",
    );
    fails(
        attr(&["count", "--index", i, "--token-width", "4", "1"]),
        "u32",
    );
    fails(
        attr(&["count", "--index", i, "--token-width", "3", "1"]),
        "token-width",
    );
    fails(
        attr(&["count", "--index", i, "70000"]),
        "does not fit in u16",
    );
    fails(
        attr(&["ntd", "--index", i, "--max-support", "0", "1"]),
        "max_support",
    );
    fails(
        attr(&["doc", "--index", i, "--doc-ix", "3"]),
        "out of range",
    );

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"token_ids\": [1]}\n{\"token_ids\": [1, 65535]}\n").unwrap();
    let out = dir.path().join("bad-idx");
    fails(
        attr(&[
            "index",
            "--input",
            bad.to_str().unwrap(),
            "--index",
            out.to_str().unwrap(),
        ]),
        "separator",
    );
    std::fs::write(&bad, "{\"token_ids\": [1]}\n{\"tokens\": [1]}\n").unwrap();
    fails(
        attr(&[
            "index",
            "--input",
            bad.to_str().unwrap(),
            "--index",
            out.to_str().unwrap(),
        ]),
        "line 2",
    );
    std::fs::write(&bad, "").unwrap();
    fails(
        attr(&[
            "index",
            "--input",
            bad.to_str().unwrap(),
            "--index",
            out.to_str().unwrap(),
        ]),
        "empty",
    );

    std::fs::write(Path::new(i).join("table.0"), b"\x01\x02").unwrap();
    fails(attr(&["count", "--index", i, "1"]), "truncated");
}
