//! Proof of Attribution: the types `pallet-attribution` shares with the node, the native
//! engine's runtime interface ([`attribution_engine`]) the pallet's off-chain worker calls,
//! and the [`AttributionApi`] runtime API behind the node's `attribution_*` JSON-RPC methods.
//!
//! # Shares and digests
//! An attestor's result is a list of `(contribution, parts per billion)`, sorted by
//! contribution id with no repeats and no zero parts, at most `MaxShares` long, summing to
//! exactly [`SHARES_TOTAL`] — or empty when the output reproduces no data. Its digest is
//! [`result_digest`]: `blake2_256(SCALE(("openledger/attr", job, shares)))`, what attestors
//! agree on. [`apportion_top_k`] turns raw credits into such a list, in integer arithmetic,
//! so every honest node gets the same bits.

extern crate alloc;

use alloc::{string::String, vec::Vec};
use codec::{Codec, Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash as HashT};

#[cfg(feature = "std")]
use crate::datanets::as_string;
#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

use crate::datanets::{ContentHash, ContributionId, DatanetId, VersionNumber};
use crate::models::ModelId;
use crate::Hash;

/// Identifier of an inference record and of its attribution job (sequential from 0).
pub type JobId = u64;

/// What a complete list of shares sums to: one billion parts (a `Perbill`).
pub const SHARES_TOTAL: u32 = 1_000_000_000;

/// Domain separator of [`result_digest`].
const DIGEST_DOMAIN: &[u8] = b"openledger/attr";

/// The digest attestors agree on for `job`'s `shares`.
pub fn result_digest(job: JobId, shares: &[(ContributionId, u32)]) -> H256 {
    <BlakeTwo256 as HashT>::hash(&(DIGEST_DOMAIN, job, shares).encode())
}

/// Why a list of shares is not well-formed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SharesError {
    /// Not sorted by contribution id, or an id repeats.
    NotSorted,
    /// A contribution has zero parts.
    ZeroShare,
    /// Non-empty and not summing to [`SHARES_TOTAL`].
    WrongSum,
}

/// Checks the form of a list of shares (see the module docs); membership of the contributions
/// is the caller's to check.
pub fn check_shares(shares: &[(ContributionId, u32)]) -> Result<(), SharesError> {
    if shares.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(SharesError::NotSorted);
    }
    if shares.iter().any(|(_, parts)| *parts == 0) {
        return Err(SharesError::ZeroShare);
    }
    let sum: u64 = shares.iter().map(|(_, parts)| *parts as u64).sum();
    if !shares.is_empty() && sum != SHARES_TOTAL as u64 {
        return Err(SharesError::WrongSum);
    }
    Ok(())
}

/// Keeps the `k` largest positive credits (ties to the smaller contribution id) and scales
/// them to parts summing to exactly [`SHARES_TOTAL`] by largest remainder (ties again to the
/// smaller id). Sorted by contribution id; empty when no credit is positive or `k` is 0.
/// Repeated ids are summed first.
pub fn apportion_top_k(credits: &[(ContributionId, u128)], k: usize) -> Vec<(ContributionId, u32)> {
    let mut merged: Vec<(ContributionId, u128)> = Vec::with_capacity(credits.len());
    let mut sorted = credits.to_vec();
    sorted.sort_by_key(|(id, _)| *id);
    for (id, credit) in sorted {
        match merged.last_mut() {
            Some((last, sum)) if *last == id => *sum = sum.saturating_add(credit),
            _ => merged.push((id, credit)),
        }
    }
    merged.retain(|(_, credit)| *credit > 0);
    merged.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    merged.truncate(k);
    if merged.is_empty() {
        return Vec::new();
    }
    // Scale so that the total fits comfortably: parts are computed as credit * 10^9 / total,
    // which must not overflow u128.
    let max = merged.iter().map(|(_, c)| *c).max().unwrap_or(1);
    let shift = (128 - max.leading_zeros()).saturating_sub(80);
    let scaled: Vec<(ContributionId, u128)> = merged
        .iter()
        .map(|(id, c)| (*id, (c >> shift).max(1)))
        .collect();
    let total: u128 = scaled.iter().map(|(_, c)| *c).sum();
    let whole = SHARES_TOTAL as u128;
    let mut parts: Vec<(ContributionId, u32, u128)> = scaled
        .iter()
        .map(|(id, c)| (*id, (c * whole / total) as u32, c * whole % total))
        .collect();
    let given: u128 = parts.iter().map(|(_, p, _)| *p as u128).sum();
    let mut left = whole - given;
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        parts[b]
            .2
            .cmp(&parts[a].2)
            .then(parts[a].0.cmp(&parts[b].0))
    });
    for i in order {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    let mut shares: Vec<(ContributionId, u32)> = parts
        .into_iter()
        .filter(|(_, p, _)| *p > 0)
        .map(|(id, p, _)| (id, p))
        .collect();
    shares.sort_by_key(|(id, _)| *id);
    shares
}

/// How the engine attributes a model's outputs.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum EngineMethod {
    /// A language model (LoRA adapter on a base): maximal spans of the output tokens found in
    /// the suffix-array index of its datanet versions, tokenised by the base model's
    /// tokenizer (`tokenizer.json` whose blake2-256 is `tokenizer_hash`).
    TokenSpans { tokenizer_hash: Hash },
    /// A specialised model: gradient influence from its stored attribution index (whose
    /// `index.safetensors` has blake2-256 `index_hash`); the output holds the test example.
    GradientInfluence { index_hash: Hash },
}

/// A contribution the engine may credit: the version it is in and its content hash, by which
/// the node finds its bytes among its indexed transactions.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct CandidateContribution {
    pub id: ContributionId,
    pub datanet: DatanetId,
    pub version: VersionNumber,
    pub content_hash: ContentHash,
}

/// One attribution computation, as the off-chain worker hands it to the node.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct AttributionRequest {
    pub job: JobId,
    pub model: ModelId,
    pub method: EngineMethod,
    /// The model's datanet versions with their Merkle roots (the cache key of their index).
    pub versions: Vec<(DatanetId, VersionNumber, H256)>,
    /// Every contribution of those versions, in version then Merkle-leaf order.
    pub contributions: Vec<CandidateContribution>,
    /// blake2-256 of the output's bytes (token ids as little-endian u32), indexed in the
    /// block body of the inference record.
    pub output_hash: Hash,
    /// Number of output token ids.
    pub output_len: u32,
    /// Largest number of shares the result may have.
    pub max_shares: u32,
}

/// Why the node's engine could not compute an attribution.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum EngineError {
    /// No engine in this context (only off-chain workers have one).
    Unavailable,
    /// Bytes this node does not have among its indexed transactions (pruned, or not synced).
    MissingData(Hash),
    /// A tokenizer or attribution index this node does not have.
    MissingArtifact(Hash),
    /// The output or the data is not what the model's method expects.
    InvalidInput(String),
    /// The engine failed.
    Engine(String),
}

/// The native engine, as the node provides it to its off-chain workers.
#[cfg(not(substrate_runtime))]
pub trait Engine: Send + Sync {
    /// Computes the shares of `request`'s output (see [`apportion_top_k`] for their form).
    fn attribute(
        &self,
        request: AttributionRequest,
    ) -> Result<Vec<(ContributionId, u32)>, EngineError>;
}

#[cfg(not(substrate_runtime))]
sp_externalities::decl_extension! {
    /// The node's engine, registered only in off-chain worker externalities.
    pub struct AttributionEngineExt(alloc::sync::Arc<dyn Engine>);
}

#[cfg(not(substrate_runtime))]
use sp_externalities::ExternalitiesExt;

use sp_runtime_interface::pass_by::{AllocateAndReturnByCodec, PassFatPointerAndDecode};

/// Host functions of the native attribution engine. Every node's executor has them (the
/// runtime imports them); only off-chain workers have an engine behind them.
#[sp_runtime_interface::runtime_interface]
pub trait AttributionEngine {
    /// Computes the shares of an inference output; `Unavailable` outside off-chain workers.
    fn attribute(
        &mut self,
        request: PassFatPointerAndDecode<AttributionRequest>,
    ) -> AllocateAndReturnByCodec<Result<Vec<(ContributionId, u32)>, EngineError>> {
        match self.extension::<AttributionEngineExt>() {
            Some(engine) => engine.0.attribute(request),
            None => Err(EngineError::Unavailable),
        }
    }
}

/// Where an attribution job is.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub enum JobStatus {
    /// Waiting for a majority of its attestors (`round` 0, or 1 after one reassignment).
    Pending { round: u8 },
    /// A majority agreed on `digest`; the fee was distributed by its shares.
    Final { digest: H256 },
    /// No majority twice: the fee went back to the payer's credit.
    Refunded,
}

/// One attestor's result for a job.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct SubmittedResult<AccountId> {
    pub attestor: AccountId,
    pub digest: H256,
}

/// A job as the runtime API returns it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr, \
                       BlockNumber: Deserialize<'de>"
    ))
)]
pub struct JobInfo<AccountId, Balance, BlockNumber> {
    pub id: JobId,
    pub model: ModelId,
    pub payer: AccountId,
    /// Who recorded the inference (the payer itself or a gateway it approved).
    pub recorder: AccountId,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// blake2-256 of the output token ids (little-endian u32 bytes), indexed in the block body.
    pub output_hash: Hash,
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub fee: Balance,
    pub recorded_at: BlockNumber,
    pub deadline: BlockNumber,
    pub status: JobStatus,
    /// The attestors of the current round.
    pub attestors: Vec<AccountId>,
    /// Results posted in the current round (or the final one).
    pub results: Vec<SubmittedResult<AccountId>>,
}

/// One contribution's part of an inference: its share and the OPEN it was paid.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "Balance: core::fmt::Display",
        deserialize = "Balance: core::str::FromStr"
    ))
)]
pub struct ContributionPayout<Balance> {
    pub contribution: ContributionId,
    /// Parts per billion of the contributors' part of the fee.
    pub share: u32,
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub paid: Balance,
}

/// The final attribution of an inference.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr, \
                       BlockNumber: Deserialize<'de>"
    ))
)]
pub struct InferenceAttribution<AccountId, Balance, BlockNumber> {
    pub job: JobId,
    pub model: ModelId,
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub fee: Balance,
    pub digest: H256,
    pub finalized_at: BlockNumber,
    /// The attestors whose result made the majority (they share the attestors' part).
    pub attestors: Vec<AccountId>,
    pub contributions: Vec<ContributionPayout<Balance>>,
}

sp_api::decl_runtime_apis! {
    /// Read access to Proof of Attribution for the node's `attribution_*` JSON-RPC methods.
    pub trait AttributionApi<AccountId, Balance, BlockNumber> where
        AccountId: Codec,
        Balance: Codec,
        BlockNumber: Codec,
    {
        /// A job with its status and results.
        fn job(id: JobId) -> Option<JobInfo<AccountId, Balance, BlockNumber>>;
        /// The final attribution of an inference (`None` until its job is final).
        fn inference_attribution(id: JobId) -> Option<InferenceAttribution<AccountId, Balance, BlockNumber>>;
        /// A model's inferences in record order, from position `start`, at most `limit`
        /// (clamped to the pallet's page size).
        fn model_inferences(model: ModelId, start: u32, limit: u32) -> Vec<JobInfo<AccountId, Balance, BlockNumber>>;
        /// An account's prepaid inference credit.
        fn credit(who: AccountId) -> Balance;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_exactly_and_keeps_the_top_k() {
        let credits = [(5, 10u128), (1, 30), (9, 30), (3, 0), (7, 1)];
        let shares = apportion_top_k(&credits, 3);
        assert_eq!(
            shares.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![1, 5, 9]
        );
        assert_eq!(
            shares.iter().map(|(_, p)| *p as u64).sum::<u64>(),
            SHARES_TOTAL as u64
        );
        // 30 : 10 : 30 of 70: two units left over go to the largest remainders (id 5's, then
        // id 1's, which ties with id 9's and has the smaller id).
        assert_eq!(
            shares,
            vec![(1, 428_571_429), (5, 142_857_143), (9, 428_571_428)]
        );
        assert_eq!(check_shares(&shares), Ok(()));
    }

    #[test]
    fn apportion_merges_repeats_and_handles_huge_credits() {
        let shares = apportion_top_k(
            &[(2, u128::MAX / 2), (2, u128::MAX / 2), (4, u128::MAX / 4)],
            8,
        );
        assert_eq!(
            shares.iter().map(|(_, p)| *p as u64).sum::<u64>(),
            SHARES_TOTAL as u64
        );
        assert_eq!(shares[0].0, 2);
        assert!(shares[0].1 > 3 * shares[1].1);
        assert!(apportion_top_k(&[(1, 0)], 4).is_empty());
        assert!(apportion_top_k(&[(1, 5)], 0).is_empty());
    }

    #[test]
    fn shares_must_be_sorted_positive_and_complete() {
        assert_eq!(check_shares(&[]), Ok(()));
        assert_eq!(check_shares(&[(1, SHARES_TOTAL)]), Ok(()));
        assert_eq!(
            check_shares(&[(2, 500_000_000), (1, 500_000_000)]),
            Err(SharesError::NotSorted)
        );
        assert_eq!(
            check_shares(&[(1, 500_000_000), (1, 500_000_000)]),
            Err(SharesError::NotSorted)
        );
        assert_eq!(
            check_shares(&[(1, 0), (2, SHARES_TOTAL)]),
            Err(SharesError::ZeroShare)
        );
        assert_eq!(check_shares(&[(1, 1), (2, 2)]), Err(SharesError::WrongSum));
    }

    #[test]
    fn digest_binds_job_and_shares() {
        let shares = [(1, 600_000_000), (2, 400_000_000)];
        assert_eq!(result_digest(7, &shares), result_digest(7, &shares));
        assert_ne!(result_digest(7, &shares), result_digest(8, &shares));
        assert_ne!(
            result_digest(7, &shares),
            result_digest(7, &[(1, 400_000_000), (2, 600_000_000)])
        );
        assert_ne!(result_digest(7, &[]), result_digest(7, &shares));
    }
}
