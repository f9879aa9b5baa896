//! Rewards: what `pallet-rewards` records of every fee it splits, as its runtime API
//! ([`RewardsApi`]) returns it to the node's `rewards_*` JSON-RPC methods (JSON with named
//! fields, balances as decimal strings).

extern crate alloc;

use alloc::vec::Vec;
use codec::{Codec, Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

#[cfg(feature = "std")]
use crate::datanets::as_string;
#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

use crate::datanets::ContributionId;
use crate::models::ModelId;

/// An account's rewards: lifetime totals by source, what it claimed and what it can claim.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Default, Encode, Decode, DecodeWithMemTracking, TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "Balance: core::fmt::Display",
        deserialize = "Balance: core::str::FromStr"
    ))
)]
pub struct AccountRewards<Balance> {
    /// Earned as the owner of models.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub as_owner: Balance,
    /// Earned by contributions the attribution credited.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub as_contributor: Balance,
    /// Earned by computing attributions.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub as_attestor: Balance,
    /// Paid out by `claim` so far.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub claimed: Balance,
    /// Earned and not claimed yet.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub unclaimed: Balance,
}

/// What one contribution earned ("what did my data earn").
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr"
    ))
)]
pub struct ContributionRewards<AccountId, Balance> {
    pub contribution: ContributionId,
    /// Its contributor (who was paid), if the contribution exists.
    pub contributor: Option<AccountId>,
    /// Total paid to its contributor for it.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub earned: Balance,
    /// How many distributions credited it.
    pub payouts: u32,
}

/// Fees distributed for one model.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Default, Encode, Decode, DecodeWithMemTracking, TypeInfo,
    MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "Balance: core::fmt::Display",
        deserialize = "Balance: core::str::FromStr"
    ))
)]
pub struct ModelRewards<Balance> {
    /// Sum of the fees distributed.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub fees: Balance,
    /// Number of distributions.
    pub distributions: u32,
}

/// The protocol treasury: a pallet account anyone can watch.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr"
    ))
)]
pub struct TreasuryInfo<AccountId, Balance> {
    pub account: AccountId,
    /// Its free balance.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub balance: Balance,
    /// Sum of every account's unclaimed rewards (held by the rewards pot, not the treasury).
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub unclaimed_rewards: Balance,
}

sp_api::decl_runtime_apis! {
    /// Read access to rewards for the node's `rewards_*` JSON-RPC methods.
    pub trait RewardsApi<AccountId, Balance> where
        AccountId: Codec,
        Balance: Codec,
    {
        /// An account's rewards (all zero if it never earned any).
        fn account(who: AccountId) -> AccountRewards<Balance>;
        /// What each of `contributions` earned, in the order asked (the runtime answers at most
        /// its page size).
        fn contributions(contributions: Vec<ContributionId>) -> Vec<ContributionRewards<AccountId, Balance>>;
        /// Fees distributed for `model`.
        fn model(model: ModelId) -> ModelRewards<Balance>;
        /// The treasury's account and balance.
        fn treasury() -> TreasuryInfo<AccountId, Balance>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_json_has_named_fields_and_string_balances() {
        let r = AccountRewards::<u128> {
            as_owner: 1,
            as_contributor: u128::MAX,
            as_attestor: 3,
            claimed: 4,
            unclaimed: 5,
        };
        let json = serde_json::to_string(&r).expect("serializable");
        assert!(json.contains(&format!("\"asContributor\":\"{}\"", u128::MAX)), "{json}");
        assert!(json.contains("\"unclaimed\":\"5\""), "{json}");
        let back: AccountRewards<u128> = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, r);

        let owner = sp_runtime::AccountId32::new([2u8; 32]);
        let c = ContributionRewards { contribution: 9, contributor: Some(owner.clone()), earned: 7u128, payouts: 2 };
        let json = serde_json::to_string(&c).expect("serializable");
        assert!(json.contains(&format!("\"contributor\":\"{owner}\"")), "{json}");
        assert!(json.contains("\"earned\":\"7\""), "{json}");
        assert!(json.contains("\"payouts\":2"), "{json}");
    }
}
