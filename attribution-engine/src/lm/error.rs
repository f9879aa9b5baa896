//! Errors of model and adapter loading. Every variant is a user-facing message: adapters and
//! bases come from outside, so nothing here panics on bad files.

#[derive(Debug, thiserror::Error)]
pub enum LmError {
    #[error("io error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid model: {0}")]
    Model(String),
    #[error("invalid adapter: {0}")]
    Adapter(String),
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, LmError>;

pub(crate) fn model_err(msg: impl Into<String>) -> LmError {
    LmError::Model(msg.into())
}

pub(crate) fn adapter_err(msg: impl Into<String>) -> LmError {
    LmError::Adapter(msg.into())
}

pub(crate) fn io_err(path: &std::path::Path, source: std::io::Error) -> LmError {
    LmError::Io {
        path: path.display().to_string(),
        source,
    }
}
