//! Query latencies of the token index, for `scripts/bench-token-attribution` (which runs
//! infini-gram's engine on the same queries and prints both side by side).
//!
//! usage: cargo bench --bench token_bench -- INDEX_DIR QUERIES_OUT.json
//!
//! Samples queries from the index's own documents (deterministic), writes them to
//! QUERIES_OUT.json for the reference, times each query here after one warm-up pass, and
//! prints a JSON object of percentiles in microseconds.

use std::time::Instant;

use openledger_attribution_engine::token::*;
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `len` tokens from a random place of a random document (shorter if the document is).
fn sample(index: &Index, rng: &mut Rng, len: usize) -> Vec<u32> {
    loop {
        let doc = index
            .get_doc_by_ix(rng.below(index.total_doc_cnt()), u64::MAX)
            .unwrap();
        if doc.token_ids.len() < 2 {
            continue;
        }
        let start = rng.below(doc.token_ids.len() as u64) as usize;
        let end = (start + len).min(doc.token_ids.len());
        return doc.token_ids[start..end].to_vec();
    }
}

fn percentiles(mut us: Vec<f64>) -> Value {
    us.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    json!({"n": us.len(), "p50_us": p(0.5), "p99_us": p(0.99), "mean_us": us.iter().sum::<f64>() / us.len() as f64})
}

fn time<T>(reps: &[Vec<u32>], mut f: impl FnMut(&[u32]) -> T) -> Vec<f64> {
    for q in reps {
        std::hint::black_box(f(q)); // warm the page cache
    }
    reps.iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(f(q));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [dir, out] = &args[..] else {
        eprintln!("usage: token_bench INDEX_DIR QUERIES_OUT.json");
        return;
    };
    let width = std::env::var("TOKEN_WIDTH")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let width = TokenWidth::from_bytes(width).expect("TOKEN_WIDTH is 2 or 4");
    let index = Index::open(
        dir,
        OpenOptions {
            token_width: width,
            eos: 0,
        },
    )
    .expect("index opens");
    let mut rng = Rng(42);

    let counts: Vec<Vec<u32>> = (0..2000)
        .map(|i| sample(&index, &mut rng, 1 + i % 8))
        .collect();
    let prompts: Vec<Vec<u32>> = (0..300)
        .map(|_| {
            let mut p = sample(&index, &mut rng, 30);
            let k = p.len() - 1 - rng.below(3).min(p.len() as u64 - 1) as usize;
            p[k] = 1 + rng.below(60000) as u32; // a novel token: the infgram backs off
            p
        })
        .collect();
    // A 500-token "model output": corpus passages of 5..60 tokens mixed with novel tokens.
    let outputs: Vec<Vec<u32>> = (0..20)
        .map(|_| {
            let mut o = Vec::new();
            while o.len() < 500 {
                let len = 5 + rng.below(56) as usize;
                o.extend(sample(&index, &mut rng, len));
                o.push(1 + rng.below(60000) as u32);
            }
            o.truncate(500);
            o
        })
        .collect();
    let opts = AttributeOptions {
        min_len: 4,
        max_cnt: 1000,
        ..Default::default()
    };

    let _ = index.attribute(&outputs[0], &opts); // load unigram counts
    let count = percentiles(time(&counts, |q| index.count(q).unwrap()));
    let infgram = percentiles(time(&prompts, |q| {
        index
            .infgram_prob(&q[..q.len() - 1], q[q.len() - 1])
            .unwrap()
    }));
    let attribute = percentiles(time(&outputs, |q| index.attribute(q, &opts).unwrap()));
    let shares = percentiles(time(&outputs, |q| {
        index.attribute_shares(q, &opts).unwrap()
    }));
    let spans: usize = outputs
        .iter()
        .map(|o| index.attribute(o, &opts).unwrap().spans.len())
        .sum();

    let queries = json!({
        "count": counts, "infgram_prob": prompts, "attribute": outputs,
        "min_len": opts.min_len, "max_cnt": opts.max_cnt,
    });
    std::fs::write(out, queries.to_string()).expect("queries written");
    println!(
        "{}",
        json!({
            "count": count, "infgram_prob": infgram, "attribute_500": attribute, "shares_500": shares,
            "spans_per_output": spans as f64 / outputs.len() as f64,
        })
    );
}
