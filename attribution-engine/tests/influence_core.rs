//! Tests of the gradient-influence engine (issue 5): gradients, exact influence against
//! leave-one-out retraining, projections, shares, determinism, evaluation harness, bad input.

use openledger_attribution_engine::influence::{
    self as inf,
    grads::{classifier_grads_generic, per_example_grads},
    linalg::{pearson, spearman, Cholesky},
    model::Target,
    rng::SplitMix64,
    Classifier, CsvColumns, Dataset, InfluenceError, Method, MethodOptions, ModelConfig,
};

/// Gaussian blobs: k classes, centres on a scaled simplex, unit noise (overlapping classes).
fn blobs(n: usize, d: usize, k: usize, sep: f64, seed: u64) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| rng.normal() * sep).collect())
        .collect();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % k;
        for centre in &centres[c] {
            x.push(centre + rng.normal());
        }
        y.push(c);
    }
    let contributions = (0..n as u64).map(|i| i / 3).collect();
    Dataset::new(x, y, Some(contributions), d).unwrap()
}

fn trained(cfg: ModelConfig, train: &Dataset) -> Classifier {
    let mut m = Classifier::new(cfg, train.d).unwrap();
    m.train(train).unwrap();
    m
}

/// Per-example gradient (flat) of example i by central finite differences of its scalar.
fn fd_grad(model: &Classifier, ds: &Dataset, i: usize, target: Target) -> Vec<f64> {
    let one = ds.select(&[i]);
    let x = model.x_tensor(&one).unwrap();
    let oh = model.y_onehot(&one).unwrap();
    let theta = model.params().unwrap();
    let eval = |t: &[f64]| -> f64 {
        model.set_params(t).unwrap();
        let s = model
            .per_example(&model.logits(&x).unwrap(), &oh, target)
            .unwrap();
        s.sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let h = 1e-6;
    let g = (0..theta.len())
        .map(|j| {
            let mut tp = theta.clone();
            tp[j] += h;
            let mut tm = theta.clone();
            tm[j] -= h;
            (eval(&tp) - eval(&tm)) / (2.0 * h)
        })
        .collect();
    model.set_params(&theta).unwrap();
    g
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn per_example_gradients_match_finite_differences() {
    let ds = blobs(30, 4, 3, 1.5, 1);
    for cfg in [ModelConfig::logreg(3, 1e-3), {
        let mut c = ModelConfig::mlp(3, 5, 1e-3);
        c.epochs = 50;
        c
    }] {
        let m = trained(cfg, &ds);
        for target in [Target::Loss, Target::Margin] {
            let fast = per_example_grads(&m, &ds, target).unwrap();
            let generic = classifier_grads_generic(&m, &ds, target).unwrap();
            assert_eq!(fast.p, m.num_params());
            assert!(
                max_abs_diff(&fast.data, &generic.data) < 1e-12,
                "probe path != generic path"
            );
            let mut largest = 0.0f64;
            for i in [0, 7, 29] {
                let fd = fd_grad(&m, &ds, i, target);
                let err = max_abs_diff(fast.row(i), &fd);
                assert!(err < 1e-6, "{target:?} example {i}: max error {err}");
                largest = fd.iter().fold(largest, |a, v| a.max(v.abs()));
            }
            assert!(largest > 1e-3, "gradients should not all vanish");
        }
    }
}

#[test]
fn full_batch_gradient_matches_per_example_mean_plus_penalty() {
    let ds = blobs(24, 3, 2, 1.0, 2);
    let m = trained(ModelConfig::logreg(2, 1e-2), &ds);
    let x = m.x_tensor(&ds).unwrap();
    let oh = m.y_onehot(&ds).unwrap();
    let (_, g) = m.objective_grad(&x, &oh).unwrap();
    // At the optimum the full gradient vanishes.
    assert!(
        g.iter().all(|v| v.abs() < 1e-7),
        "not at the optimum: {g:?}"
    );
    let pe = per_example_grads(&m, &ds, Target::Loss).unwrap();
    let theta = m.params().unwrap();
    let mask = m.penalised_mask();
    for j in 0..pe.p {
        let mean: f64 = (0..pe.n).map(|i| pe.row(i)[j]).sum::<f64>() / pe.n as f64;
        let reg = if mask[j] { 1e-2 * theta[j] } else { 0.0 };
        assert!((mean + reg).abs() < 1e-7);
    }
}

#[test]
fn explicit_hessian_matches_finite_differences() {
    let ds = blobs(30, 3, 3, 1.0, 3);
    let m = trained(ModelConfig::logreg(3, 1e-2), &ds);
    let p = m.num_params();
    let h = inf::grads::hessian(&m, &ds).unwrap();
    let x = m.x_tensor(&ds).unwrap();
    let oh = m.y_onehot(&ds).unwrap();
    let theta = m.params().unwrap();
    for j in [0, 4, p - 1] {
        let mut e = vec![0.0; p];
        e[j] = 1.0;
        let col = inf::grads::hvp_fd(&m, &x, &oh, &theta, &e).unwrap();
        let exact: Vec<f64> = (0..p).map(|i| h[i * p + j]).collect();
        assert!(max_abs_diff(&col, &exact) < 1e-6);
    }
}

#[test]
fn exact_influence_predicts_leave_one_out_retraining() {
    let train = blobs(60, 3, 3, 1.2, 4);
    let test = blobs(6, 3, 3, 1.2, 5);
    let cfg = ModelConfig::logreg(3, 1e-2);
    let m = trained(cfg.clone(), &train);
    let scores = inf::compute_scores(&m, &train, &test, &MethodOptions::new(Method::If)).unwrap();
    let base = m.margins(&test).unwrap();
    // Leave-one-out retraining for every training example.
    let mut actual = vec![vec![0.0; train.n]; test.n];
    for i in 0..train.n {
        let idx: Vec<usize> = (0..train.n).filter(|&j| j != i).collect();
        let mut r = Classifier::new(cfg.clone(), train.d).unwrap();
        r.set_params(&m.params().unwrap()).unwrap();
        r.train(&train.select(&idx)).unwrap();
        let mm = r.margins(&test).unwrap();
        for (row, (b, m)) in actual.iter_mut().zip(base.iter().zip(&mm)) {
            row[i] = b - m; // effect of including i
        }
    }
    for (j, row) in actual.iter().enumerate() {
        let r = pearson(scores.row(j), row).unwrap();
        assert!(r > 0.95, "test {j}: correlation with leave-one-out {r}");
    }
    // Same through conjugate gradient on Hessian-vector products.
    let mut cg = MethodOptions::new(Method::If);
    cg.max_explicit_params = 0;
    let s2 = inf::compute_scores(&m, &train, &test, &cg).unwrap();
    assert_eq!(s2.solver, "cg");
    let scale = scores.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(max_abs_diff(&scores.data, &s2.data) < 1e-4 * scale);
}

#[test]
fn projection_with_k_at_least_p_reproduces_unprojected_scores() {
    let train = blobs(40, 3, 3, 1.0, 6);
    let test = blobs(5, 3, 3, 1.0, 7);
    let m = trained(ModelConfig::logreg(3, 1e-3), &train);
    let p = m.num_params();
    for method in [Method::If, Method::Trak, Method::TracIn] {
        let full = inf::compute_scores(&m, &train, &test, &MethodOptions::new(method)).unwrap();
        // The default ensemble (TRAK: ⌈p/k⌉ = 1 here) and an explicit one: every member is an
        // isometry, so their average is exact too.
        for (k, ensemble) in [(p, None), (p + 7, None), (p, Some(3))] {
            let mut opts = MethodOptions::new(method).projected(k, 42);
            opts.ensemble = ensemble;
            assert_eq!(opts.ensemble_size(p), ensemble.unwrap_or(1));
            let proj = inf::compute_scores(&m, &train, &test, &opts).unwrap();
            let scale = full.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            let err = max_abs_diff(&full.data, &proj.data);
            assert!(
                err < 1e-8 * scale,
                "{method:?} k={k} ensemble {ensemble:?}: error {err} (scale {scale})"
            );
        }
        // A small k only approximates.
        let small = inf::compute_scores(
            &m,
            &train,
            &test,
            &MethodOptions::new(method).projected(3, 42),
        )
        .unwrap();
        assert!(max_abs_diff(&full.data, &small.data) > 0.0);
    }
    // Below p, TRAK averages ⌈p/k⌉ projections by default (capped); other methods use one.
    assert_eq!(
        MethodOptions::new(Method::Trak)
            .projected(5, 0)
            .ensemble_size(p),
        p.div_ceil(5)
    );
    assert_eq!(
        MethodOptions::new(Method::Trak)
            .projected(1, 0)
            .ensemble_size(p),
        inf::methods::MAX_DEFAULT_ENSEMBLE
    );
    assert_eq!(
        MethodOptions::new(Method::TracIn)
            .projected(5, 0)
            .ensemble_size(p),
        1
    );
}

#[test]
fn shares_sum_exactly_and_follow_the_rounding_rule() {
    let mut rng = SplitMix64::new(9);
    for trial in 0..50 {
        let n = 1 + rng.below(300) as usize;
        let scores: Vec<f64> = (0..n)
            .map(|_| rng.normal() * 10f64.powi(trial % 7 - 3))
            .collect();
        let contrib: Vec<u64> = (0..n).map(|_| rng.below(40)).collect();
        let s = inf::contribution_shares(&scores, &contrib).unwrap();
        if !s.positive.is_empty() {
            assert_eq!(s.positive.iter().map(|p| p.1).sum::<u64>(), inf::PARTS);
        }
        if !s.negative.is_empty() {
            assert_eq!(s.negative.iter().map(|p| p.1).sum::<u64>(), inf::PARTS);
        }
    }
    // Three equal contributions: 333,333,334 with the extra part to the smallest id.
    let s = inf::contribution_shares(&[1.0, 1.0, 1.0, -0.5], &[7, 3, 5, 9]).unwrap();
    assert_eq!(
        s.positive,
        vec![(3, 333_333_334), (5, 333_333_333), (7, 333_333_333)]
    );
    assert_eq!(s.negative, vec![(9, inf::PARTS)]);
    // Examples of one contribution add up; a contribution whose examples cancel gets nothing.
    let s = inf::contribution_shares(&[3.0, 1.0, 2.0, 2.0, -2.0], &[1, 1, 2, 3, 3]).unwrap();
    assert_eq!(s.positive, vec![(1, 666_666_667), (2, 333_333_333)]);
    assert!(s.negative.is_empty());
    assert!(inf::contribution_shares(&[f64::NAN], &[0]).is_err());
    assert!(inf::contribution_shares(&[1.0, 2.0], &[0]).is_err());
}

fn run_pipeline() -> (Vec<f64>, Vec<f64>, Vec<f64>, inf::ContributionShares, f64) {
    let train = blobs(90, 4, 3, 1.0, 11);
    let test = blobs(6, 4, 3, 1.0, 12);
    let m = trained(ModelConfig::logreg(3, 1e-3), &train);
    let a = inf::compute_scores(
        &m,
        &train,
        &test,
        &MethodOptions::new(Method::If).projected(8, 1),
    )
    .unwrap();
    let mut b = inf::compute_scores(&m, &train, &test, &MethodOptions::new(Method::Trak)).unwrap();
    // TRAK's default ensemble (p = 15, k = 6: three projections) and the leave-one-out losses.
    let ensemble = MethodOptions::new(Method::Trak).projected(6, 4);
    assert_eq!(ensemble.ensemble_size(m.num_params()), 3);
    b.data.extend(
        inf::compute_scores(&m, &train, &test, &ensemble)
            .unwrap()
            .data,
    );
    let loo = inf::methods::leave_one_out(&m, &train, &MethodOptions::new(Method::If)).unwrap();
    b.data.extend(loo.loo_loss());
    let mut mc = ModelConfig::mlp(3, 6, 1e-3);
    mc.epochs = 60;
    let mlp = trained(mc, &train);
    let c = inf::compute_scores(
        &mlp,
        &train,
        &test,
        &MethodOptions::new(Method::TracIn).projected(16, 2),
    )
    .unwrap();
    let sh = inf::contribution_shares(a.row(0), &train.contributions).unwrap();
    let retr = inf::retrain_subsets(
        &m,
        &train,
        &test,
        &inf::LdsOptions {
            subsets: 8,
            alpha: 0.5,
            seed: 3,
        },
    )
    .unwrap();
    let l = inf::lds(&a, &retr).unwrap().lds;
    (a.data, b.data, c.data, sh, l)
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(run_pipeline)
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one.0, three.0);
    assert_eq!(one.1, three.1);
    assert_eq!(one.2, three.2);
    assert_eq!(one.3, three.3);
    assert_eq!(one.4.to_bits(), three.4.to_bits());
}

#[test]
fn lds_harness_measures_high_quality_for_exact_influence() {
    let train = blobs(80, 3, 3, 1.0, 13);
    let test = blobs(9, 3, 3, 1.0, 14);
    let m = trained(ModelConfig::logreg(3, 1e-2), &train);
    let retr = inf::retrain_subsets(
        &m,
        &train,
        &test,
        &inf::LdsOptions {
            subsets: 30,
            alpha: 0.5,
            seed: 0,
        },
    )
    .unwrap();
    assert_eq!(retr.not_converged, 0);
    let s = inf::compute_scores(&m, &train, &test, &MethodOptions::new(Method::If)).unwrap();
    let l = inf::lds(&s, &retr).unwrap();
    assert!(l.lds > 0.7, "exact IF LDS {}", l.lds);
    // A score matrix unrelated to the data scores near zero.
    let mut rng = SplitMix64::new(5);
    let mut noise = s.clone();
    noise.data.iter_mut().for_each(|v| *v = rng.normal());
    let ln = inf::lds(&noise, &retr).unwrap();
    assert!(
        ln.lds < 0.4 && ln.lds < l.lds - 0.3,
        "random scores LDS {}",
        ln.lds
    );
}

#[test]
fn self_influence_finds_flipped_labels() {
    let train = blobs(150, 4, 3, 2.0, 15);
    let m = Classifier::new(ModelConfig::logreg(3, 1e-2), 4).unwrap();
    for method in [Method::If, Method::TracIn, Method::DataInf, Method::Trak] {
        let r = inf::mislabel_detection(
            &m,
            &train,
            &MethodOptions::new(method),
            &inf::MislabelOptions::default(),
        )
        .unwrap();
        assert_eq!(r.flipped.len(), 15);
        assert!(r.auc > 0.85, "{method:?}: AUC {}", r.auc);
    }
}

#[test]
fn leave_one_out_self_influence_predicts_retraining_loss() {
    // Overlapping classes with a few flipped labels, so some examples have high leverage.
    let mut train = blobs(45, 2, 3, 1.5, 21);
    for i in [0, 7, 20] {
        train.y[i] = (train.y[i] + 1) % 3;
    }
    let lambda = 1e-2;
    let m = trained(ModelConfig::logreg(3, lambda), &train);
    let opts = MethodOptions::new(Method::If);
    let est = inf::methods::leave_one_out(&m, &train, &opts).unwrap();
    assert_eq!(
        inf::self_influence(&m, &train, &opts).unwrap(),
        est.self_influence
    );
    // The plain estimate (1/n) gᵀH⁻¹g keeps the example's own curvature in H.
    let mut projected = MethodOptions::new(Method::If).projected(m.num_params(), 1);
    projected.ensemble = Some(1);
    let plain = inf::self_influence(&m, &train, &projected).unwrap();
    let n = train.n;
    // Leave-one-out objective L − ℓᵢ/n, i.e. the mean over n − 1 rows with λ·(n − 1)/n.
    let mut cfg = ModelConfig::logreg(3, lambda * (n - 1) as f64 / n as f64);
    cfg.gtol = 1e-11;
    let mut actual = Vec::with_capacity(n);
    for i in 0..n {
        let idx: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        let mut r = Classifier::new(cfg.clone(), train.d).unwrap();
        r.set_params(&m.params().unwrap()).unwrap();
        r.train(&train.select(&idx)).unwrap();
        let p = r.probabilities(&train.select(&[i])).unwrap();
        actual.push(-p[train.y[i]].ln() - est.loss[i]);
    }
    let r = pearson(&est.self_influence, &actual).unwrap();
    assert!(r > 0.99, "correlation with leave-one-out retraining {r}");
    let err = |pred: &[f64]| {
        pred.iter()
            .zip(&actual)
            .map(|(p, a)| (p - a).abs())
            .sum::<f64>()
    };
    // One Newton step undershoots the largest changes; the corrected step is still the closer.
    assert!(
        err(&est.self_influence) < err(&plain),
        "corrected {} vs plain {}",
        err(&est.self_influence),
        err(&plain)
    );
    let (rank, rank_plain) = (
        spearman(&est.self_influence, &actual).unwrap(),
        spearman(&plain, &actual).unwrap(),
    );
    assert!(
        rank > rank_plain && rank > 0.98,
        "rank correlation: corrected {rank}, plain {rank_plain}"
    );
    // Removing an example raises its own loss, most for the flipped ones.
    assert!(est.self_influence.iter().all(|&s| s > 0.0));
    let loo = est.loo_loss();
    let top = loo
        .iter()
        .filter(|&&v| v >= loo[0].min(loo[7]).min(loo[20]))
        .count();
    assert!(
        top <= 6,
        "flipped labels rank among the highest predicted LOO losses ({top})"
    );
}

#[test]
fn singular_hessian_is_damped_and_reported() {
    // Unpenalised biases of a softmax model: the Hessian is singular along "all biases equal".
    let train = blobs(30, 2, 3, 1.0, 16);
    let m = trained(ModelConfig::logreg(3, 1e-2), &train);
    let p = m.num_params();
    let h = inf::grads::hessian(&m, &train).unwrap();
    let c = Cholesky::factor(&h, p).unwrap();
    assert!(c.damping > 0.0);
    let s = inf::compute_scores(
        &m,
        &train,
        &train.select(&[0, 1]),
        &MethodOptions::new(Method::If),
    )
    .unwrap();
    assert!(s.damping > 0.0 && s.data.iter().all(|v| v.is_finite()));
    // A matrix that cannot be made positive definite errors out.
    assert!(matches!(
        Cholesky::factor(&[-1.0, 0.0, 0.0, -1.0], 2),
        Err(InfluenceError::NotPositiveDefinite { .. })
    ));
}

#[test]
fn f32_models_agree_with_f64() {
    let train = blobs(60, 3, 3, 1.0, 17);
    let test = blobs(4, 3, 3, 1.0, 18);
    let m64 = trained(ModelConfig::logreg(3, 1e-2), &train);
    let mut c32 = ModelConfig::logreg(3, 1e-2);
    c32.f64 = false;
    let m32 = trained(c32, &train);
    let a = inf::compute_scores(&m64, &train, &test, &MethodOptions::new(Method::If)).unwrap();
    let b = inf::compute_scores(&m32, &train, &test, &MethodOptions::new(Method::If)).unwrap();
    for j in 0..test.n {
        assert!(pearson(a.row(j), b.row(j)).unwrap() > 0.99);
    }
}

#[test]
fn stored_index_reproduces_direct_scores() {
    let train = blobs(70, 4, 3, 1.0, 19);
    let test = blobs(5, 4, 3, 1.0, 20);
    let m = trained(ModelConfig::logreg(3, 1e-3), &train);
    let dir = std::env::temp_dir().join(format!("influence-index-test-{}", std::process::id()));
    let dir = dir.to_str().unwrap().to_string();
    for method in [Method::Trak, Method::TracIn, Method::If] {
        let opts = MethodOptions::new(method).projected(10, 77);
        let direct = inf::compute_scores(&m, &train, &test, &opts).unwrap();
        inf::index::AttributionIndex::build(&m, &train, &opts, None)
            .unwrap()
            .save(&dir)
            .unwrap();
        let idx = inf::index::AttributionIndex::load(&dir).unwrap();
        assert_eq!(idx.contributions, train.contributions);
        let s = idx.score(&test).unwrap();
        let scale = direct.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(max_abs_diff(&s, &direct.data) < 1e-4 * scale, "{method:?}");
    }
    // Ensembles of projections, and an MLP with TracIn checkpoints.
    let mut mc = ModelConfig::mlp(3, 5, 1e-3);
    mc.epochs = 40;
    let mlp = trained(mc, &train);
    for (model, method) in [(&m, Method::Trak), (&mlp, Method::TracIn)] {
        let mut opts = MethodOptions::new(method).projected(6, 5);
        opts.ensemble = Some(3);
        let direct = inf::compute_scores(model, &train, &test, &opts).unwrap();
        inf::index::AttributionIndex::build(model, &train, &opts, None)
            .unwrap()
            .save(&dir)
            .unwrap();
        let s = inf::index::AttributionIndex::load(&dir)
            .unwrap()
            .score(&test)
            .unwrap();
        let scale = direct.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(
            max_abs_diff(&s, &direct.data) < 1e-4 * scale,
            "{method:?} ensemble"
        );
    }
    assert!(inf::index::AttributionIndex::build(
        &m,
        &train,
        &MethodOptions::new(Method::DataInf).projected(4, 1),
        None
    )
    .is_err());
    assert!(inf::index::AttributionIndex::build(
        &m,
        &train,
        &MethodOptions::new(Method::Trak),
        None
    )
    .is_err());
    assert!(inf::index::AttributionIndex::load("/nonexistent/influence-index").is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn npy_round_trip() {
    let path = std::env::temp_dir().join(format!("influence-npy-{}.npy", std::process::id()));
    let path = path.to_str().unwrap();
    let data: Vec<f64> = (0..12).map(|v| v as f64 * 0.5 - 1.0).collect();
    inf::npy::write_f64_2d(path, 3, 4, &data).unwrap();
    let bytes = std::fs::read(path).unwrap();
    assert_eq!((bytes.len() - 12 * 8) % 64, 0);
    assert_eq!(inf::npy::read_f64_2d(path).unwrap(), (3, 4, data));
    std::fs::remove_file(path).ok();
}

#[test]
fn bad_input_gives_clear_errors() {
    let cols = CsvColumns::default();
    let parse = |t: &str| Dataset::from_csv_str(t, "t.csv", &cols);
    assert!(matches!(
        parse("a,b,label\n1,x,0\n"),
        Err(InfluenceError::NonNumeric { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,NaN,0\n"),
        Err(InfluenceError::NonFinite { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,inf,0\n"),
        Err(InfluenceError::NonFinite { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,2,-1\n"),
        Err(InfluenceError::BadLabel { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,2,0.5\n"),
        Err(InfluenceError::BadLabel { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,2,cat\n"),
        Err(InfluenceError::BadLabel { .. })
    ));
    assert!(matches!(
        parse("a,b,label\n1,2\n"),
        Err(InfluenceError::Csv { .. })
    ));
    assert!(matches!(
        parse("a,b,c\n1,2,3\n"),
        Err(InfluenceError::Csv { .. })
    ));
    assert!(matches!(parse(""), Err(InfluenceError::Csv { .. })));
    let ok = parse("a,b,label,contribution\n1,2,0,5\n3,4,1,5\n5,6,1,6\n").unwrap();
    assert_eq!(
        (ok.n, ok.d, ok.contributions.clone()),
        (3, 2, vec![5, 5, 6])
    );
    // More classes than rows.
    let tiny = parse("a,label\n1,0\n2,4\n").unwrap();
    assert!(matches!(
        inf::prepare(tiny.clone(), tiny.clone(), None, "train", "test"),
        Err(InfluenceError::TooManyClasses { .. })
    ));
    // Test label out of the training range; mismatched feature counts.
    let train = parse("a,b,label\n1,2,0\n3,4,1\n5,6,1\n").unwrap();
    let bad_label = parse("a,b,label\n1,2,2\n").unwrap();
    assert!(matches!(
        inf::prepare(train.clone(), bad_label, None, "tr", "te"),
        Err(InfluenceError::LabelOutOfRange { .. })
    ));
    let three = parse("a,b,c,label\n1,2,3,0\n").unwrap();
    assert!(matches!(
        inf::prepare(train.clone(), three.clone(), None, "tr", "te"),
        Err(InfluenceError::FeatureMismatch { .. })
    ));
    let m = trained(ModelConfig::logreg(2, 1e-3), &train);
    assert!(matches!(
        inf::compute_scores(&m, &train, &three, &MethodOptions::new(Method::If)),
        Err(InfluenceError::FeatureMismatch { .. })
    ));
    assert!(Classifier::new(ModelConfig::logreg(1, 1e-3), 2).is_err());
    assert!(Classifier::new(ModelConfig::logreg(2, f64::NAN), 2).is_err());
    assert!("bogus".parse::<Method>().is_err());
    assert!(inf::retrain_subsets(
        &m,
        &train,
        &train,
        &inf::LdsOptions {
            subsets: 5,
            alpha: 1.5,
            seed: 0
        }
    )
    .is_err());
    // Zero-variance feature columns standardise without dividing by zero.
    let c = parse("a,b,label\n1,7,0\n2,7,1\n3,7,1\n").unwrap();
    let (tr, _, _, _) = inf::prepare(c.clone(), c, None, "a", "b").unwrap();
    assert!(tr.x.iter().all(|v| v.is_finite()));
}
