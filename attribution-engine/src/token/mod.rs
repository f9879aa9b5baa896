//! Exact token attribution over infini-gram compatible suffix arrays.
//!
//! A datanet snapshot's tokenised contributions become an index ([`IndexBuilder`]) whose
//! files are those of infini-gram (PyPI `infini-gram` 2.6.0, see [`layout`]): an index built
//! here is served by infini-gram's engine, and one built by infini-gram's indexer is served
//! here, with the same answers. [`Index`] answers infini-gram's queries (`count`, `prob`,
//! `ntd`, `infgram_prob`, `infgram_ntd`, `find`, document retrieval, `creativity`,
//! `attribute`) exactly, counting by binary search over memory-mapped suffix arrays.
//!
//! Proof of Attribution then maps the maximal spans of a model output to the contributions
//! whose documents contain them and turns them into `Perbill` shares ([`shares`] has the
//! formula).
//!
//! ```no_run
//! use openledger_attribution_engine::token::*;
//!
//! # fn main() -> Result<(), Error> {
//! let hash = ContentHash([7; 32]);
//! let docs = vec![Document::new(vec![1, 2, 3, 4])
//!     .with_contribution(Contribution { datanet_id: 1, version: 1, content_hash: hash })];
//! IndexBuilder::new("/tmp/idx", TokenWidth::U16).build(docs.into_iter().map(Ok))?;
//! let index = Index::open("/tmp/idx", OpenOptions { token_width: TokenWidth::U16, eos: 0 })?;
//! let opts = AttributeOptions { min_len: 2, max_cnt: 1000, ..Default::default() };
//! let (_spans, shares) = index.attribute_shares(&[9, 2, 3, 4], &opts)?;
//! assert_eq!(shares.total_perbill(), 1_000_000_000);
//! # Ok(()) }
//! ```
//!
//! Differences from the reference, each with a regression test: `ntd` keeps "end of shard"
//! and "separator" apart while counting (the reference miscounts a prompt that ends the
//! last document of a shard and also precedes a separator elsewhere); `creativity` and
//! `attribute` also look at the smallest suffix when a query sorts before every suffix of a
//! shard.

mod attribute;
mod build;
mod contribution;
mod corpus;
mod error;
mod index;
pub mod layout;
mod query;
mod samples;
pub mod shares;

pub use attribute::{
    AttributeOptions, AttributionDoc, AttributionResult, AttributionSpan, CreativityResult,
};
pub use build::{BuildStats, Document, IndexBuilder, DEFAULT_MAX_SHARD_BYTES};
pub use contribution::{ContentHash, Contribution};
pub use corpus::{read_jsonl, Tokenizer};
pub use error::{Error, Result};
pub use index::{FindResult, Index, OpenOptions};
pub use layout::TokenWidth;
pub use query::{
    CountResult, DistResult, DistTokenResult, DocResult, InfgramDistResult, InfgramProbResult,
    ProbResult,
};
pub use shares::{Share, Shares, PERBILL};

/// Builds the index of one datanet version from its contributions (`(contribution, tokens)`).
pub fn build_datanet_index(
    dir: impl Into<std::path::PathBuf>,
    width: TokenWidth,
    contributions: impl IntoIterator<Item = (Contribution, Vec<u32>)>,
) -> Result<BuildStats> {
    IndexBuilder::new(dir, width).build(
        contributions
            .into_iter()
            .map(|(c, tokens)| Ok(Document::new(tokens).with_contribution(c))),
    )
}
