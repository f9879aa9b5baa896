//! The one error type of the token attribution module.

use std::path::PathBuf;

use super::layout::TokenWidth;

/// Everything that can go wrong building, opening or querying a token index.
///
/// Bad input is always reported here, never as a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the corpus is empty: an index needs at least one document")]
    EmptyCorpus,
    #[error(
        "document {doc} contains token {token}, which is the document separator of {width} \
         (token ids must be below {width_max})",
        width_max = width.separator()
    )]
    SeparatorToken {
        doc: u64,
        token: u64,
        width: TokenWidth,
    },
    #[error("token {token} does not fit in {width} (maximum {max})", max = width.separator())]
    TokenTooWide { token: u64, width: TokenWidth },
    #[error("{0}: no index here (no tokenized.N files)")]
    NoShards(PathBuf),
    #[error("{path}: missing index file")]
    MissingFile { path: PathBuf },
    #[error("{path}: corrupt or truncated index file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: this index does not have {expected}-token width: {reason}")]
    WidthMismatch {
        path: PathBuf,
        expected: TokenWidth,
        reason: String,
    },
    #[error("shard {shard} out of range: the index has {shards} shards")]
    ShardOutOfRange { shard: usize, shards: usize },
    #[error("rank {rank} out of range: shard {shard} has {tok_cnt} suffixes")]
    RankOutOfRange {
        shard: usize,
        rank: u64,
        tok_cnt: u64,
    },
    #[error("pointer {ptr} is not a token offset inside shard {shard} ({ds_size} bytes)")]
    BadPointer {
        shard: usize,
        ptr: u64,
        ds_size: u64,
    },
    #[error("document {doc_ix} out of range: the index has {doc_cnt} documents")]
    DocOutOfRange { doc_ix: u64, doc_cnt: u64 },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("input line {line}: {reason}")]
    BadInput { line: usize, reason: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("suffix array construction failed: {0}")]
    SuffixArray(String),
    #[error("document {doc_ix} has no contribution in its metadata (index not built by openledger-attr?)")]
    MissingContribution { doc_ix: u64 },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile { path }
        } else {
            Error::Io { path, source }
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
