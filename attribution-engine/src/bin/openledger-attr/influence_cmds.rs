//! `openledger-attr` subcommands of the influence module: `influence`, `score-index`, `lds`,
//! `mislabel`. Every command prints JSON; the output depends only on the inputs (no timings),
//! whatever the thread count.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use openledger_attribution_engine::influence::{
    self as inf, index::AttributionIndex, Classifier, CsvColumns, Dataset, Method, MethodOptions,
    ModelConfig,
};

#[derive(Subcommand)]
pub enum InfluenceCommand {
    /// Train a model on a CSV and attribute each test row to the training rows / contributions.
    Influence(InfluenceArgs),
    /// Score test rows against an index written by `influence --save-index`.
    ScoreIndex(ScoreIndexArgs),
    /// Linear datamodeling score of one or more methods (retrains on random subsets).
    Lds(LdsArgs),
    /// Mislabel detection: flip a fraction of labels, rank by self-influence, report ROC AUC.
    Mislabel(MislabelArgs),
}

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Training CSV (numeric features, integer label column, optional contribution column).
    #[arg(long)]
    train: String,
    /// Model: `lr` (multinomial logistic regression) or `mlp` (one hidden tanh layer).
    #[arg(long, default_value = "lr")]
    model: String,
    /// MLP hidden width.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// L2 penalty λ on weights (objective: mean CE + λ/2 ‖W‖²).
    #[arg(long, default_value_t = 1e-3)]
    lambda: f64,
    /// Train in f32 instead of f64 (influence maths stays in f64).
    #[arg(long)]
    f32: bool,
    /// MLP: full-batch Adam steps and learning rate.
    #[arg(long, default_value_t = 500)]
    epochs: usize,
    #[arg(long, default_value_t = 0.01)]
    learning_rate: f64,
    /// Seed of the initialisation and of projections.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of classes (default: max training label + 1).
    #[arg(long)]
    classes: Option<usize>,
    /// Label column name.
    #[arg(long, default_value = "label")]
    label_column: String,
    /// Contribution-id column name (optional in the file; row index otherwise).
    #[arg(long, default_value = "contribution")]
    contribution_column: String,
    /// TRAK's λ in (ΦᵀΦ + λI)⁻¹ (default n·λ).
    #[arg(long)]
    trak_lambda: Option<f64>,
}

#[derive(Args)]
pub struct InfluenceArgs {
    #[command(flatten)]
    m: ModelArgs,
    /// Test CSV (same feature columns; the label is the prediction being explained).
    #[arg(long)]
    test: String,
    /// Method: if, tracin, trak, datainf.
    #[arg(long, default_value = "if")]
    method: String,
    /// Random projection dimension (unprojected if absent).
    #[arg(long)]
    k: Option<usize>,
    /// Number of independent projections averaged (needs --k; default: TRAK ⌈p/k⌉ up to 10,
    /// other methods 1).
    #[arg(long)]
    ensemble: Option<usize>,
    /// Write the n_test × n_train score matrix to this file (`.npy` or `.json`).
    #[arg(long)]
    out: Option<String>,
    /// Contributions listed per test example (largest shares first).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Also write the attribution index (model + projected training features) to this
    /// directory (needs --k).
    #[arg(long)]
    save_index: Option<String>,
}

#[derive(Args)]
pub struct ScoreIndexArgs {
    /// Index directory.
    #[arg(long)]
    index: String,
    /// Test CSV.
    #[arg(long)]
    test: String,
    #[arg(long, default_value = "label")]
    label_column: String,
    #[arg(long, default_value_t = 10)]
    top: usize,
    #[arg(long)]
    out: Option<String>,
}

#[derive(Args)]
pub struct LdsArgs {
    #[command(flatten)]
    m: ModelArgs,
    #[arg(long)]
    test: String,
    /// Comma-separated methods, each optionally projected: e.g. `if,trak,trak@128,tracin@128`.
    #[arg(long, default_value = "if,trak,tracin,datainf")]
    methods: String,
    /// Number of random subsets (retrains).
    #[arg(long, default_value_t = 100)]
    subsets: usize,
    /// Subset size as a fraction of the training set.
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Use only the first N test rows.
    #[arg(long)]
    max_test: Option<usize>,
}

#[derive(Args)]
pub struct MislabelArgs {
    #[command(flatten)]
    m: ModelArgs,
    /// Comma-separated methods (with optional @k projection).
    #[arg(long, default_value = "if,trak,tracin,datainf")]
    methods: String,
    /// Fraction of training labels flipped.
    #[arg(long, default_value_t = 0.1)]
    fraction: f64,
    /// Independent corruptions (seeds seed, seed + 1, …); the AUC is reported per seed and
    /// averaged.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

type R<T> = Result<T, String>;

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

fn cols(m: &ModelArgs) -> CsvColumns {
    CsvColumns {
        label: Some(m.label_column.clone()),
        contribution: m.contribution_column.clone(),
    }
}

fn config(m: &ModelArgs, classes: usize) -> R<ModelConfig> {
    let mut cfg = match m.model.as_str() {
        "lr" | "logreg" => ModelConfig::logreg(classes, m.lambda),
        "mlp" => {
            let mut c = ModelConfig::mlp(classes, m.hidden, m.lambda);
            c.epochs = m.epochs;
            c.learning_rate = m.learning_rate;
            c
        }
        other => return Err(format!("unknown model `{other}` (lr, mlp)")),
    };
    cfg.f64 = !m.f32;
    cfg.seed = m.seed;
    Ok(cfg)
}

/// Parse `name[@k[xE]]` method specs (projection dimension k, ensemble of E projections; without
/// `xE` the method's default ensemble).
fn parse_methods(
    spec: &str,
    seed: u64,
    trak_lambda: Option<f64>,
) -> R<Vec<(String, MethodOptions)>> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = || format!("bad projection in `{item}` (expected name@k or name@kxE)");
        let (name, proj) = match item.split_once('@') {
            Some((n, p)) => {
                let (k, ens) = match p.split_once('x') {
                    Some((k, e)) => (
                        k.parse::<usize>().map_err(|_| bad())?,
                        Some(e.parse::<usize>().map_err(|_| bad())?),
                    ),
                    None => (p.parse::<usize>().map_err(|_| bad())?, None),
                };
                (n, Some((k, ens)))
            }
            None => (item, None),
        };
        let method: Method = name.parse().map_err(e)?;
        let mut o = MethodOptions::new(method);
        o.trak_lambda = trak_lambda;
        if let Some((k, ens)) = proj {
            o = o.projected(k, seed);
            o.ensemble = ens;
        }
        out.push((item.to_string(), o));
    }
    if out.is_empty() {
        return Err("no methods given".into());
    }
    Ok(out)
}

fn train_model(m: &ModelArgs, train: &Dataset, classes: usize) -> R<(Classifier, Value)> {
    let mut model = Classifier::new(config(m, classes)?, train.d).map_err(e)?;
    let rep = model.train(train).map_err(e)?;
    let acc = model.accuracy(train).map_err(e)?;
    Ok((model, json!({ "report": rep, "train_accuracy": acc })))
}

fn write_scores(path: &str, n_test: usize, n_train: usize, data: &[f64]) -> R<()> {
    if path.ends_with(".npy") {
        inf::npy::write_f64_2d(path, n_test, n_train, data).map_err(e)
    } else {
        let rows: Vec<&[f64]> = data.chunks(n_train.max(1)).collect();
        let text =
            serde_json::to_string(&json!({ "n_test": n_test, "n_train": n_train, "scores": rows }))
                .map_err(e)?;
        std::fs::write(path, text).map_err(|err| format!("{path}: {err}"))
    }
}

fn shares_json(scores: &[f64], n_train: usize, contributions: &[u64], top: usize) -> R<Vec<Value>> {
    scores
        .chunks(n_train.max(1))
        .enumerate()
        .map(|(j, row)| {
            let s = inf::contribution_shares(row, contributions).map_err(e)?;
            Ok(json!({
                "test_row": j,
                "positive_parts_total": s.positive.iter().map(|p| p.1).sum::<u64>(),
                "positive": s.positive.iter().take(top).map(|(c, p)| json!({"contribution": c, "parts": p})).collect::<Vec<_>>(),
                "negative": s.negative.iter().take(top).map(|(c, p)| json!({"contribution": c, "parts": p})).collect::<Vec<_>>(),
                "positive_contributions": s.positive.len(),
                "negative_contributions": s.negative.len(),
                "positive_total": s.positive_total,
                "negative_total": s.negative_total,
                "quantisation_exp": s.scale_exp,
            }))
        })
        .collect()
}

fn influence(a: InfluenceArgs) -> R<Value> {
    let (train, test, st, classes) =
        inf::load_train_test(&a.m.train, &a.test, &cols(&a.m), a.m.classes).map_err(e)?;
    let (model, train_info) = train_model(&a.m, &train, classes)?;
    let mut opts = MethodOptions::new(a.method.parse().map_err(e)?);
    opts.trak_lambda = a.m.trak_lambda;
    if let Some(k) = a.k {
        opts = opts.projected(k, a.m.seed);
    }
    opts.ensemble = a.ensemble;
    let scores = inf::compute_scores(&model, &train, &test, &opts).map_err(e)?;
    if let Some(path) = &a.out {
        write_scores(path, scores.n_test, scores.n_train, &scores.data)?;
    }
    if let Some(dir) = &a.save_index {
        AttributionIndex::build(&model, &train, &opts, Some(st))
            .map_err(e)?
            .save(dir)
            .map_err(e)?;
    }
    Ok(json!({
        "command": "influence",
        "method": opts.method.name(),
        "projection_k": a.k,
        "ensemble": a.k.map(|_| opts.ensemble_size(model.num_params())),
        "model": model.cfg,
        "params": model.num_params(),
        "training": train_info,
        "n_train": train.n,
        "n_test": test.n,
        "solver": scores.solver,
        "damping": scores.damping,
        "damping_note": if scores.damping > 0.0 { "the Hessian/kernel was singular: this damping was added to its diagonal" } else { "no damping needed" },
        "method_lambda": scores.method_lambda,
        "scores_file": a.out,
        "index_dir": a.save_index,
        "shares": shares_json(&scores.data, train.n, &train.contributions, a.top)?,
    }))
}

fn score_index(a: ScoreIndexArgs) -> R<Value> {
    let idx = AttributionIndex::load(&a.index).map_err(e)?;
    let cols = CsvColumns {
        label: Some(a.label_column.clone()),
        contribution: "contribution".into(),
    };
    let raw = Dataset::from_csv(&a.test, &cols).map_err(e)?;
    let test = match &idx.meta.standardizer {
        Some(st) => st.apply(&raw).map_err(e)?,
        None => raw,
    };
    let scores = idx.score(&test).map_err(e)?;
    if let Some(path) = &a.out {
        write_scores(path, test.n, idx.meta.n, &scores)?;
    }
    Ok(json!({
        "command": "score-index",
        "method": idx.meta.method.name(),
        "k": idx.meta.k,
        "n_train": idx.meta.n,
        "n_test": test.n,
        "shares": shares_json(&scores, idx.meta.n, &idx.contributions, a.top)?,
    }))
}

fn lds(a: LdsArgs) -> R<Value> {
    let (train, mut test, _, classes) =
        inf::load_train_test(&a.m.train, &a.test, &cols(&a.m), a.m.classes).map_err(e)?;
    if let Some(mt) = a.max_test {
        let idx: Vec<usize> = (0..test.n.min(mt)).collect();
        test = test.select(&idx);
    }
    let methods = parse_methods(&a.methods, a.m.seed, a.m.trak_lambda)?;
    let (model, train_info) = train_model(&a.m, &train, classes)?;
    let lds_opts = inf::LdsOptions {
        subsets: a.subsets,
        alpha: a.alpha,
        seed: a.m.seed,
    };
    let retrains = inf::retrain_subsets(&model, &train, &test, &lds_opts).map_err(e)?;
    let mut results = serde_json::Map::new();
    for (name, opts) in &methods {
        let scores = inf::compute_scores(&model, &train, &test, opts).map_err(e)?;
        let l = inf::lds(&scores, &retrains).map_err(e)?;
        results.insert(
            name.clone(),
            json!({
                "lds": l.lds,
                "test_examples_used": l.test_examples_used,
                "damping": scores.damping,
                "solver": scores.solver,
                "ensemble": opts.projection.map(|_| opts.ensemble_size(model.num_params())),
            }),
        );
    }
    Ok(json!({
        "command": "lds",
        "model": model.cfg,
        "params": model.num_params(),
        "training": train_info,
        "n_train": train.n,
        "n_test": test.n,
        "subsets": a.subsets,
        "subset_size": (a.alpha * train.n as f64).floor() as usize,
        "retrains_not_converged": retrains.not_converged,
        "methods": results,
    }))
}

fn mislabel(a: MislabelArgs) -> R<Value> {
    let train = Dataset::from_csv(&a.m.train, &cols(&a.m)).map_err(e)?;
    let (train, _, _, classes) =
        inf::prepare(train.clone(), train, a.m.classes, &a.m.train, &a.m.train).map_err(e)?;
    let template = Classifier::new(config(&a.m, classes)?, train.d).map_err(e)?;
    if a.repeats == 0 {
        return Err("repeats must be ≥ 1".into());
    }
    let mut results = serde_json::Map::new();
    let mut flipped = 0;
    for (name, mo) in parse_methods(&a.methods, a.m.seed, a.m.trak_lambda)? {
        let mut aucs = Vec::with_capacity(a.repeats);
        for r in 0..a.repeats {
            let opts = inf::MislabelOptions {
                fraction: a.fraction,
                seed: a.m.seed.wrapping_add(r as u64),
            };
            let res = inf::mislabel_detection(&template, &train, &mo, &opts).map_err(e)?;
            flipped = res.flipped.len();
            aucs.push(res.auc);
        }
        let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
        results.insert(
            name,
            json!({ "auc": aucs[0], "mean_auc": mean, "aucs": aucs }),
        );
    }
    Ok(json!({
        "command": "mislabel",
        "model": template.cfg,
        "n_train": train.n,
        "flipped": flipped,
        "fraction": a.fraction,
        "repeats": a.repeats,
        "methods": results,
    }))
}

pub fn run(cmd: InfluenceCommand) -> Result<serde_json::Value, String> {
    match cmd {
        InfluenceCommand::Influence(a) => influence(a),
        InfluenceCommand::ScoreIndex(a) => score_index(a),
        InfluenceCommand::Lds(a) => lds(a),
        InfluenceCommand::Mislabel(a) => mislabel(a),
    }
}
