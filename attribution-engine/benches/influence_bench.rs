//! Speed of scoring from a stored projected attribution index: one test example against
//! 10,000 training examples (multinomial LR, 64 features, 10 classes: 650 parameters; TRAK,
//! k = 128). Synthetic Gaussian blobs (seeded). Prints one JSON line.
//! Run: `cargo bench --release -p openledger-attribution-engine --bench influence_bench`
//! (options after `--`: N_TRAIN K REPS ENSEMBLE; ENSEMBLE defaults to TRAK's ⌈p/k⌉).

use std::time::Instant;

use openledger_attribution_engine::influence::{
    index::AttributionIndex, rng::SplitMix64, Classifier, Dataset, Method, MethodOptions,
    ModelConfig,
};

fn blobs(n: usize, d: usize, k: usize, seed: u64) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| rng.normal() * 0.5).collect())
        .collect();
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        x.extend((0..d).map(|j| centres[c][j] + rng.normal()));
        y.push(c);
    }
    Dataset::new(x, y, Some((0..n as u64).map(|i| i / 10).collect()), d)
        .expect("valid synthetic data")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let k: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(128);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let ensemble: Option<usize> = args.get(3).and_then(|s| s.parse().ok());
    let (d, classes) = (64, 10);
    let train = blobs(n, d, classes, 1);
    let test = blobs(reps, d, classes, 2);
    let t0 = Instant::now();
    let mut model = Classifier::new(ModelConfig::logreg(classes, 1e-3), d).expect("model");
    model.train(&train).expect("training");
    let train_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut opts = MethodOptions::new(Method::Trak).projected(k, 0);
    opts.ensemble = ensemble;
    let index = AttributionIndex::build(&model, &train, &opts, None).expect("index");
    let build_s = t1.elapsed().as_secs_f64();
    let dir = std::env::temp_dir().join(format!("influence-bench-{}", std::process::id()));
    let dir = dir.to_str().expect("utf-8 temp dir").to_string();
    index.save(&dir).expect("save");
    let t2 = Instant::now();
    let index = AttributionIndex::load(&dir).expect("load");
    let load_s = t2.elapsed().as_secs_f64();
    // Warm-up, then time one test example at a time.
    let _ = index.score(&test.select(&[0])).expect("score");
    let mut times: Vec<f64> = (0..reps)
        .map(|j| {
            let one = test.select(&[j]);
            let t = Instant::now();
            let s = index.score(&one).expect("score");
            let el = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(s.len(), n);
            el
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    std::fs::remove_dir_all(&dir).ok();
    println!(
        "{{\"bench\":\"index_score_one\",\"n_train\":{n},\"params\":{},\"k\":{k},\"ensemble\":{},\"reps\":{reps},\"threads\":{},\
\"median_ms\":{:.3},\"p90_ms\":{:.3},\"max_ms\":{:.3},\"train_s\":{train_s:.2},\"index_build_s\":{build_s:.2},\"index_load_s\":{load_s:.3}}}",
        model.num_params(),
        index.meta.ensemble,
        rayon::current_num_threads(),
        pct(0.5),
        pct(0.9),
        pct(1.0)
    );
}
