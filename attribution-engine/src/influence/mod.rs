//! Gradient influence for small specialised models (Proof of Attribution, issue 5).
//!
//! For a prediction of a trained classifier, which training examples (datanet contributions)
//! pushed the model towards it, and by how much; quality measured, not assumed.
//!
//! - [`data`]: CSV loading (numeric features, integer label, optional contribution id) and
//!   standardisation with training statistics; bad input is a typed [`InfluenceError`].
//! - [`model`]: multinomial logistic regression and a one-hidden-layer MLP on candle `Var`s
//!   (f32 or f64), trained deterministically (L-BFGS to the optimum / seeded full-batch Adam).
//! - [`grads`]: per-example gradients over candle `Var`s (a generic one-backward-per-example
//!   path and a batched probe path for affine layers), Hessian-vector products, explicit
//!   Hessians.
//! - [`projection`]: seeded Johnson–Lindenstrauss projections (an exact isometry when k ≥ p).
//! - [`methods`]: exact influence functions (Cholesky or CG), TracIn, TRAK, DataInf and
//!   self-influence.
//! - [`loo`]: approximate leave-one-out self-influence (the example's own curvature removed
//!   from the Hessian) and the predicted leave-one-out loss, exact IF's mislabel score.
//! - [`shares`]: quantised, exact integer shares per contribution summing to 1,000,000,000
//!   (largest remainder, ties by contribution id), with negative influence reported apart.
//! - [`eval`]: linear datamodeling score (LDS) and mislabel-detection AUC.
//! - [`index`]: the attribution index stored next to the model (projected training features)
//!   and fast scoring from it.
//! - [`npy`]: `.npy` output of score matrices.
//!
//! Sign convention: a score is the estimated change of the test example's margin caused by
//! training on the example: positive helps the prediction, negative works against it.

pub mod data;
pub mod error;
pub mod eval;
pub mod grads;
pub mod index;
pub mod linalg;
pub mod loo;
pub mod methods;
pub mod model;
pub mod npy;
pub mod projection;
pub mod rng;
pub mod shares;

pub use data::{CsvColumns, Dataset, Standardizer};
pub use error::{InfluenceError, Result};
pub use eval::{
    lds, mislabel_detection, retrain_subsets, LdsOptions, LdsResult, MislabelOptions, Retrains,
};
pub use methods::{compute_scores, self_influence, Method, MethodOptions, Scores};
pub use model::{Arch, Classifier, ModelConfig, Target};
pub use shares::{contribution_shares, ContributionShares, PARTS};

/// Load a training CSV and a test CSV, check them against each other, and standardise both
/// with the training statistics. Returns (train, test, standardizer, classes); `classes`
/// defaults to max training label + 1.
pub fn load_train_test(
    train_csv: &str,
    test_csv: &str,
    cols: &CsvColumns,
    classes: Option<usize>,
) -> Result<(Dataset, Dataset, Standardizer, usize)> {
    let train = Dataset::from_csv(train_csv, cols)?;
    let test = Dataset::from_csv(test_csv, cols)?;
    prepare(train, test, classes, train_csv, test_csv)
}

/// As [`load_train_test`] for in-memory data sets.
pub fn prepare(
    train: Dataset,
    test: Dataset,
    classes: Option<usize>,
    train_name: &str,
    test_name: &str,
) -> Result<(Dataset, Dataset, Standardizer, usize)> {
    if test.d != train.d {
        return Err(InfluenceError::FeatureMismatch {
            what: test_name.into(),
            got: test.d,
            expected: train.d,
        });
    }
    let k = classes.unwrap_or_else(|| train.inferred_classes()).max(2);
    train.check_labels(k, train_name)?;
    test.check_labels(k, test_name)?;
    if k > train.n {
        return Err(InfluenceError::TooManyClasses {
            classes: k,
            rows: train.n,
        });
    }
    let st = Standardizer::fit(&train);
    let tr = st.apply(&train)?;
    let te = st.apply(&test)?;
    Ok((tr, te, st, k))
}
