//! Typed errors of the influence engine: bad input is reported, never a panic.

use thiserror::Error;

/// Everything that can go wrong in the influence engine.
#[derive(Debug, Error)]
pub enum InfluenceError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("CSV {file}: {message}")]
    Csv { file: String, message: String },
    #[error("CSV {file}, line {line}, column `{column}`: cell `{cell}` is not a number")]
    NonNumeric {
        file: String,
        line: usize,
        column: String,
        cell: String,
    },
    #[error("CSV {file}, line {line}, column `{column}`: value {value} is not finite")]
    NonFinite {
        file: String,
        line: usize,
        column: String,
        value: String,
    },
    #[error("CSV {file}, line {line}: label `{label}` is not a non-negative integer")]
    BadLabel {
        file: String,
        line: usize,
        label: String,
    },
    #[error("label {label} on line {line} of {file} is out of range (expected an integer in 0..{classes})")]
    LabelOutOfRange {
        file: String,
        line: usize,
        label: String,
        classes: usize,
    },
    #[error(
        "{classes} classes but only {rows} training rows: need at least as many rows as classes"
    )]
    TooManyClasses { classes: usize, rows: usize },
    #[error("feature count mismatch: {what} has {got} features, the model expects {expected}")]
    FeatureMismatch {
        what: String,
        got: usize,
        expected: usize,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("matrix is not positive definite even with damping {damping:e}")]
    NotPositiveDefinite { damping: f64 },
    #[error("optimisation did not converge: {0}")]
    NoConvergence(String),
    #[error("index file {path}: {message}")]
    Index { path: String, message: String },
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, InfluenceError>;

pub(crate) fn invalid(msg: impl Into<String>) -> InfluenceError {
    InfluenceError::InvalidArgument(msg.into())
}
