//! End-to-end tests of `openledger-attr influence | score-index | lds | mislabel` on the
//! bundled data sets (small runs; the full evaluations live in scripts/bench-influence).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_openledger-attr"))
}

fn data(name: &str) -> String {
    format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("influence-cli-{}-{name}", std::process::id()))
        .to_str()
        .unwrap()
        .to_string()
}

fn run_ok(args: &[&str], threads: &str) -> serde_json::Value {
    let out = bin()
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn influence_writes_scores_and_exact_shares_deterministically() {
    let npy = tmp("scores.npy");
    let idx = tmp("index");
    let args = [
        "influence",
        "--train",
        &data("iris_train.csv"),
        "--test",
        &data("iris_test.csv"),
        "--method",
        "trak",
        "--k",
        "8",
        "--out",
        &npy,
        "--save-index",
        &idx,
    ];
    let a = run_ok(&args, "1");
    let b = run_ok(&args, "2");
    assert_eq!(a, b, "output must not depend on the thread count");
    assert_eq!(a["n_train"], 120);
    let shares = a["shares"].as_array().unwrap();
    assert_eq!(shares.len(), 30);
    for s in shares {
        assert_eq!(s["positive_parts_total"], 1_000_000_000u64);
    }
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(bytes.len() % 64, (30 * 120 * 8) % 64);
    // Scoring from the stored index gives the same top contributions.
    let c = run_ok(
        &[
            "score-index",
            "--index",
            &idx,
            "--test",
            &data("iris_test.csv"),
        ],
        "2",
    );
    // (f32 index features: the same contributions lead, parts may differ in the last digits)
    for j in 0..30 {
        assert_eq!(
            c["shares"][j]["positive"][0]["contribution"],
            a["shares"][j]["positive"][0]["contribution"]
        );
    }
    std::fs::remove_file(&npy).ok();
    std::fs::remove_dir_all(&idx).ok();
}

#[test]
fn lds_and_mislabel_commands_report_quality() {
    let l = run_ok(
        &[
            "lds",
            "--train",
            &data("iris_train.csv"),
            "--test",
            &data("iris_test.csv"),
            "--methods",
            "if,trak@4x2",
            "--subsets",
            "12",
            "--max-test",
            "10",
        ],
        "2",
    );
    assert_eq!(l["subset_size"], 60);
    assert!(l["methods"]["if"]["lds"].as_f64().unwrap() > 0.5);
    assert!(l["methods"]["trak@4x2"]["lds"].as_f64().is_some());
    let m = run_ok(
        &[
            "mislabel",
            "--train",
            &data("wine_train.csv"),
            "--methods",
            "if",
        ],
        "2",
    );
    assert_eq!(m["flipped"], 14);
    assert!(m["methods"]["if"]["auc"].as_f64().unwrap() > 0.9);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let bad = tmp("bad.csv");
    std::fs::write(&bad, "a,b,label\n1,oops,0\n2,3,1\n").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "influence".into(),
            "--train".into(),
            bad.clone(),
            "--test".into(),
            data("iris_test.csv"),
        ],
        vec![
            "influence".into(),
            "--train".into(),
            data("iris_train.csv"),
            "--test".into(),
            data("wine_test.csv"),
        ],
        vec![
            "influence".into(),
            "--train".into(),
            data("iris_train.csv"),
            "--test".into(),
            data("iris_test.csv"),
            "--method".into(),
            "nope".into(),
        ],
        vec![
            "lds".into(),
            "--train".into(),
            data("iris_train.csv"),
            "--test".into(),
            data("iris_test.csv"),
            "--methods".into(),
            "trak@x".into(),
        ],
        vec![
            "influence".into(),
            "--train".into(),
            "/nonexistent.csv".into(),
            "--test".into(),
            data("iris_test.csv"),
        ],
    ];
    for args in cases {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_file(&bad).ok();
}
