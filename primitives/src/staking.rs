//! Staking: the roles staked accounts play, read access to them ([`StakingInspect`]) and
//! slashing ([`Slash`]) for other pallets, and the fee distribution the attribution pallet
//! hands to the rewards pallet ([`DistributeFee`]).

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::{DispatchError, Perbill};

use serde::{Deserialize, Serialize};

use crate::datanets::ContributionId;
use crate::models::ModelId;

/// A role an account can declare; its bonded stake backs all of its roles at once. Serde
/// without std: genesis stakers list their roles.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Encode, Decode, DecodeWithMemTracking,
    TypeInfo, MaxEncodedLen, Serialize, Deserialize,
)]
pub enum Role {
    /// Candidate for the block-producing authority set.
    Validator,
    /// Computes attribution jobs in its node's off-chain worker.
    Attestor,
    /// Curates datanets.
    Curator,
}

/// Why a stake is slashed (kept in the slash record and its events).
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum SlashReason {
    /// An attestor's result disagreed with the quorum.
    AttributionDissent,
    /// An attestor missed a job's deadline.
    AttributionTimeout,
    /// A validator equivocated.
    Equivocation,
    /// Decided by governance.
    Governance,
}

/// Read access to stakes and roles.
pub trait StakingInspect<AccountId, Balance> {
    /// Bonded stake (unbonding funds excluded).
    fn stake(who: &AccountId) -> Balance;
    /// Whether `who` declared `role` and its stake meets the role's minimum.
    fn has_role(who: &AccountId, role: Role) -> bool;
    /// Every account that currently qualifies as an attestor, in a deterministic order
    /// (by account id).
    fn attestors() -> Vec<AccountId>;
}

/// Slashing, for the pallets that detect misbehaviour.
pub trait Slash<AccountId, Balance> {
    /// Schedules a slash of `fraction` of `who`'s stake (bonded and unbonding) for `reason`;
    /// `reporter`, if any, gets the configured reporter share when the slash is applied.
    /// Returns the amount the slash will take at current stake.
    fn slash(
        who: &AccountId,
        fraction: Perbill,
        reason: SlashReason,
        reporter: Option<AccountId>,
    ) -> Result<Balance, DispatchError>;
}

/// Pays out an inference fee once its attribution is final.
pub trait DistributeFee<AccountId, Balance> {
    /// Splits `fee`, held by `payer` (e.g. an escrow account), by `model`'s fee split: the
    /// contributors' part by `shares` (contribution → parts per billion, summing to exactly
    /// 10^9, or empty when nothing was attributed), the attestors' part equally among
    /// `attestors`. Every unit of `fee` is moved; nothing is moved on error. Returns what each
    /// contribution of `shares` was paid, in the order of `shares`.
    fn distribute(
        payer: &AccountId,
        fee: Balance,
        model: ModelId,
        shares: &[(ContributionId, u32)],
        attestors: &[AccountId],
    ) -> Result<Vec<(ContributionId, Balance)>, DispatchError>;
}
