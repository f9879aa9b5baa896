//! # OpenLedger rewards pallet
//!
//! Splits every inference fee, exactly and publicly, between everyone in the model's supply
//! chain, and lets them claim what they earned.
//!
//! ## The split ([`DistributeFee::distribute`])
//!
//! Called by the attribution pallet when a job is final, with the fee, the model and the
//! attribution shares (contribution → parts per billion). With `F` the fee and the model's
//! [`FeeSplit`] `(owner, contributors, attestors, treasury)` in parts per billion, in integers
//! only (`Perbill::mul_floor`, i.e. `⌊F · p / 10^9⌋`, computed without overflow):
//!
//! ```text
//! owner_part       = ⌊F · owner / 10^9⌋                       → the model's owner
//! contributors_part= ⌊F · contributors / 10^9⌋
//!   contributor_i  = ⌊contributors_part · share_i / 10^9⌋      → contribution i's contributor
//! attestors_part   = ⌊F · attestors / 10^9⌋
//!   attestor_j     = ⌊attestors_part / k⌋                      → each of the k attestors
//! treasury         = F − owner_part − Σ contributor_i − Σ attestor_j
//! ```
//!
//! **Rounding rule: every remainder goes to the treasury.** Each floor loses less than one
//! unit, so the treasury receives its own share plus the rounding dust, and the parts sum to
//! exactly `F` (no unit created or lost). With no attribution (empty shares) the contributors'
//! part, and with no attestors the attestors' part, go to the treasury too.
//!
//! Checked before anything moves (named errors, no funds moved): the model exists
//! ([`Error::UnknownModel`]), its split is complete, the shares sum to exactly 10^9
//! ([`Error::SharesNotComplete`]), no contribution or attestor is listed twice, every
//! contribution exists, and the payer can pay `F`.
//!
//! ## Accrual and claims
//!
//! The treasury's part is transferred to the treasury account (the pallet account of
//! [`Config::TreasuryPalletId`]); everything else is transferred to the rewards *pot* (the
//! pallet account of [`Config::PalletId`]) and accrued per account in [`Unclaimed`]. [`Pallet::claim`] pays an account's
//! whole unclaimed amount from the pot in one transfer: constant work per call, however many
//! distributions credited the account. Lifetime totals per account (by source), per
//! contribution ("what did my data earn") and per model stay in state for dApps
//! ([`openledger_primitives::rewards::RewardsApi`]). Both pallet accounts are created at
//! genesis with the existential deposit, so any amount can be paid into them. Invariant
//! (`try_state`): the pot holds at least the sum of unclaimed rewards ([`TotalUnclaimed`]).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use alloc::{collections::btree_set::BTreeSet, vec::Vec};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{Inspect, Mutate},
        tokens::{Fortitude, Preservation},
    },
    PalletId,
};
use frame_system::pallet_prelude::*;
use sp_runtime::{
    traits::{AccountIdConversion, Saturating, Zero},
    Perbill,
};

use openledger_primitives::{
    datanets::{ContributionId, DatanetInspect},
    models::{FeeSplit, ModelId, ModelInspect},
    rewards::{AccountRewards, ContributionRewards, ModelRewards, TreasuryInfo},
    staking::DistributeFee,
};

pub use pallet::*;
pub use weights::WeightInfo;

/// Balance type of the pallet's currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// One billion: the parts of a `Perbill` and the sum attribution shares must reach.
pub const BILLION: u32 = 1_000_000_000;

/// Where an accrued reward came from.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo,
    MaxEncodedLen,
)]
pub enum RewardSource {
    /// Owner of the model.
    ModelOwner,
    /// Contributor of this contribution.
    Contribution(ContributionId),
    /// Attestor of the job.
    Attestation,
}

/// A computed split: who gets what. Sums to the fee exactly.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Split<AccountId, Balance> {
    pub owner: (AccountId, Balance),
    pub contributors: Vec<(ContributionId, AccountId, Balance)>,
    pub attestors: Vec<(AccountId, Balance)>,
    /// The treasury's own share plus every rounding remainder.
    pub treasury: Balance,
}

/// Splits `fee` by `split` and `shares` (already validated: `split` complete, shares summing
/// to 10^9) between `owner`, the contributors (`shares[i]` paid to `contributors[i]`) and
/// `attestors`, per the rounding rule of the module docs. Integer arithmetic only.
pub fn compute_split<AccountId: Clone, Balance>(
    fee: Balance,
    split: &FeeSplit,
    owner: &AccountId,
    shares: &[(ContributionId, u32)],
    contributors: &[AccountId],
    attestors: &[AccountId],
) -> Split<AccountId, Balance>
where
    Balance: sp_runtime::traits::AtLeast32BitUnsigned + Copy,
{
    let owner_part = split.owner.mul_floor(fee);
    let mut paid = owner_part;

    let mut to_contributors = Vec::with_capacity(shares.len());
    let contributors_part = split.contributors.mul_floor(fee);
    for ((contribution, parts), who) in shares.iter().zip(contributors) {
        let amount = Perbill::from_parts(*parts).mul_floor(contributors_part);
        paid = paid.saturating_add(amount);
        to_contributors.push((*contribution, who.clone(), amount));
    }

    let mut to_attestors = Vec::with_capacity(attestors.len());
    if let Ok(k) = u32::try_from(attestors.len()) {
        if k > 0 {
            let each = split.attestors.mul_floor(fee) / Balance::from(k);
            for who in attestors {
                paid = paid.saturating_add(each);
                to_attestors.push((who.clone(), each));
            }
        }
    }
    // Every part above is a floor of a share of `fee` and the shares sum to at most one, so
    // `paid <= fee`: the subtraction never saturates.
    Split {
        owner: (owner.clone(), owner_part),
        contributors: to_contributors,
        attestors: to_attestors,
        treasury: fee.saturating_sub(paid),
    }
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency fees are paid in.
        type Currency: Mutate<Self::AccountId>;

        /// The model registry: owner and fee split of a model.
        type Models: ModelInspect<Self::AccountId, BalanceOf<Self>>;

        /// The datanets: contribution → contributor.
        type Datanets: DatanetInspect<Self::AccountId, BlockNumberFor<Self>>;

        /// The rewards pot (unclaimed rewards wait there) is this pallet id's account.
        #[pallet::constant]
        type PalletId: Get<PalletId>;

        /// The treasury is this pallet id's account.
        #[pallet::constant]
        type TreasuryPalletId: Get<PalletId>;

        /// Most attributed contributions in one distribution.
        #[pallet::constant]
        type MaxShares: Get<u32>;

        /// Most attestors in one distribution.
        #[pallet::constant]
        type MaxAttestors: Get<u32>;

        /// Most contributions one runtime API call reports on.
        #[pallet::constant]
        type MaxPageSize: Get<u32>;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;

        /// Creates models and contributions for the benchmarks.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: crate::benchmarking::BenchmarkHelper<
            Self::AccountId,
            BalanceOf<Self>,
        >;
    }

    /// Earned and not yet claimed, per account.
    #[pallet::storage]
    pub type Unclaimed<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

    /// Sum of [`Unclaimed`]: what the pot owes.
    #[pallet::storage]
    pub type TotalUnclaimed<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

    /// Lifetime totals per account (the `unclaimed` field is kept in [`Unclaimed`]).
    #[pallet::storage]
    pub type Earnings<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, AccountRewards<BalanceOf<T>>, ValueQuery>;

    /// What each contribution earned its contributor, and in how many distributions.
    #[pallet::storage]
    pub type ContributionEarnings<T: Config> =
        StorageMap<_, Twox64Concat, ContributionId, (BalanceOf<T>, u32), ValueQuery>;

    /// Fees distributed per model.
    #[pallet::storage]
    pub type ModelFees<T: Config> =
        StorageMap<_, Twox64Concat, ModelId, ModelRewards<BalanceOf<T>>, ValueQuery>;

    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        #[serde(skip)]
        pub _config: core::marker::PhantomData<T>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            // Both accounts must exist before amounts below the existential deposit can be paid
            // into them (the chain spec may endow them; otherwise mint the minimum).
            let ed = T::Currency::minimum_balance();
            for account in [Pallet::<T>::treasury_account(), Pallet::<T>::pot_account()] {
                if T::Currency::balance(&account) < ed {
                    let _ = T::Currency::set_balance(&account, ed);
                }
            }
        }
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// `fee` for `model`, paid by `payer`, was split; the parts sum to `fee`.
        FeeDistributed {
            model: ModelId,
            payer: T::AccountId,
            fee: BalanceOf<T>,
            owner: BalanceOf<T>,
            contributors: BalanceOf<T>,
            attestors: BalanceOf<T>,
            /// The treasury's share plus every rounding remainder.
            treasury: BalanceOf<T>,
        },
        /// `amount` was accrued to `who`, claimable.
        RewardAccrued { who: T::AccountId, amount: BalanceOf<T>, model: ModelId, source: RewardSource },
        /// `who` claimed `amount`.
        Claimed { who: T::AccountId, amount: BalanceOf<T> },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The caller has nothing to claim.
        NothingToClaim,
        /// No model with this id.
        UnknownModel,
        /// The model's fee split does not sum to 100 %.
        InvalidFeeSplit,
        /// The attribution shares do not sum to exactly 10^9 parts.
        SharesNotComplete,
        /// A contribution appears twice in the shares.
        DuplicateContribution,
        /// A contribution in the shares does not exist.
        UnknownContribution,
        /// More shares than `MaxShares`.
        TooManyShares,
        /// An attestor appears twice.
        DuplicateAttestor,
        /// More attestors than `MaxAttestors`.
        TooManyAttestors,
        /// The payer cannot pay the fee.
        InsufficientBalance,
        /// The pot cannot pay the claim (it holds less than it owes; a bug).
        PotInsufficient,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }

        fn integrity_test() {
            assert!(T::MaxShares::get() > 0, "MaxShares must be positive");
            assert!(T::MaxPageSize::get() > 0, "MaxPageSize must be positive");
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Pay the caller everything it earned and has not claimed yet (one transfer).
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::claim())]
        pub fn claim(origin: OriginFor<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let amount = Unclaimed::<T>::get(&who);
            ensure!(!amount.is_zero(), Error::<T>::NothingToClaim);
            // The pot keeps its existential deposit: it is nobody's reward.
            T::Currency::transfer(&Self::pot_account(), &who, amount, Preservation::Preserve)
                .map_err(|e| match e {
                    DispatchError::Token(sp_runtime::TokenError::FundsUnavailable) =>
                        Error::<T>::PotInsufficient.into(),
                    e => e,
                })?;
            Unclaimed::<T>::remove(&who);
            TotalUnclaimed::<T>::mutate(|t| *t = t.saturating_sub(amount));
            Earnings::<T>::mutate(&who, |e| e.claimed = e.claimed.saturating_add(amount));
            Self::deposit_event(Event::Claimed { who, amount });
            Ok(())
        }
    }
}

impl<T: Config> Pallet<T> {
    /// The treasury: the account of `TreasuryPalletId`.
    pub fn treasury_account() -> T::AccountId {
        T::TreasuryPalletId::get().into_account_truncating()
    }

    /// The pot unclaimed rewards wait in: the account of `PalletId`.
    pub fn pot_account() -> T::AccountId {
        T::PalletId::get().into_account_truncating()
    }

    /// Validates a distribution and computes its split; moves nothing.
    pub fn plan(
        payer: &T::AccountId,
        fee: BalanceOf<T>,
        model: ModelId,
        shares: &[(ContributionId, u32)],
        attestors: &[T::AccountId],
    ) -> Result<Split<T::AccountId, BalanceOf<T>>, DispatchError> {
        let m = T::Models::model(model).ok_or(Error::<T>::UnknownModel)?;
        ensure!(m.fee_split.is_complete(), Error::<T>::InvalidFeeSplit);
        ensure!(shares.len() <= T::MaxShares::get() as usize, Error::<T>::TooManyShares);
        ensure!(attestors.len() <= T::MaxAttestors::get() as usize, Error::<T>::TooManyAttestors);
        if !shares.is_empty() {
            let total: u64 = shares.iter().map(|(_, p)| u64::from(*p)).sum();
            ensure!(total == u64::from(BILLION), Error::<T>::SharesNotComplete);
        }
        let mut seen = BTreeSet::new();
        ensure!(shares.iter().all(|(c, _)| seen.insert(*c)), Error::<T>::DuplicateContribution);
        let mut seen = BTreeSet::new();
        ensure!(attestors.iter().all(|a| seen.insert(a)), Error::<T>::DuplicateAttestor);
        let contributors = shares
            .iter()
            .map(|(c, _)| T::Datanets::contributor(*c).ok_or(Error::<T>::UnknownContribution))
            .collect::<Result<Vec<_>, _>>()?;
        ensure!(
            T::Currency::reducible_balance(payer, Preservation::Expendable, Fortitude::Polite) >=
                fee,
            Error::<T>::InsufficientBalance
        );
        Ok(compute_split(fee, &m.fee_split, &m.owner, shares, &contributors, attestors))
    }

    fn accrue(who: &T::AccountId, amount: BalanceOf<T>, model: ModelId, source: RewardSource) {
        if amount.is_zero() {
            return;
        }
        Unclaimed::<T>::mutate(who, |u| *u = u.saturating_add(amount));
        Earnings::<T>::mutate(who, |e| {
            let slot = match source {
                RewardSource::ModelOwner => &mut e.as_owner,
                RewardSource::Contribution(_) => &mut e.as_contributor,
                RewardSource::Attestation => &mut e.as_attestor,
            };
            *slot = slot.saturating_add(amount);
        });
        if let RewardSource::Contribution(c) = source {
            ContributionEarnings::<T>::mutate(c, |(earned, payouts)| {
                *earned = earned.saturating_add(amount);
                *payouts = payouts.saturating_add(1);
            });
        }
        Self::deposit_event(Event::RewardAccrued { who: who.clone(), amount, model, source });
    }

    /// Runtime API: an account's rewards.
    pub fn api_account(who: T::AccountId) -> AccountRewards<BalanceOf<T>> {
        AccountRewards { unclaimed: Unclaimed::<T>::get(&who), ..Earnings::<T>::get(&who) }
    }

    /// Runtime API: what the given contributions earned (at most `MaxPageSize` of them).
    pub fn api_contributions(
        contributions: Vec<ContributionId>,
    ) -> Vec<ContributionRewards<T::AccountId, BalanceOf<T>>> {
        contributions
            .into_iter()
            .take(T::MaxPageSize::get() as usize)
            .map(|c| {
                let (earned, payouts) = ContributionEarnings::<T>::get(c);
                ContributionRewards {
                    contribution: c,
                    contributor: T::Datanets::contributor(c),
                    earned,
                    payouts,
                }
            })
            .collect()
    }

    /// Runtime API: fees distributed for a model.
    pub fn api_model(model: ModelId) -> ModelRewards<BalanceOf<T>> {
        ModelFees::<T>::get(model)
    }

    /// Runtime API: the treasury.
    pub fn api_treasury() -> TreasuryInfo<T::AccountId, BalanceOf<T>> {
        let account = Self::treasury_account();
        TreasuryInfo {
            balance: T::Currency::balance(&account),
            account,
            unclaimed_rewards: TotalUnclaimed::<T>::get(),
        }
    }

    /// Checks that the unclaimed amounts add up and that the pot can pay them all.
    #[cfg(any(test, feature = "try-runtime", feature = "std"))]
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let mut sum = BalanceOf::<T>::zero();
        for (who, amount) in Unclaimed::<T>::iter() {
            ensure!(!amount.is_zero(), "zero unclaimed entry kept");
            let e = Earnings::<T>::get(&who);
            let earned = e.as_owner.saturating_add(e.as_contributor).saturating_add(e.as_attestor);
            ensure!(earned == e.claimed.saturating_add(amount), "earned != claimed + unclaimed");
            sum = sum.saturating_add(amount);
        }
        ensure!(sum == TotalUnclaimed::<T>::get(), "TotalUnclaimed differs from the sum");
        ensure!(
            T::Currency::reducible_balance(
                &Self::pot_account(),
                Preservation::Preserve,
                Fortitude::Polite
            ) >= sum,
            "the pot cannot pay every unclaimed reward"
        );
        Ok(())
    }
}

impl<T: Config> DistributeFee<T::AccountId, BalanceOf<T>> for Pallet<T> {
    fn distribute(
        payer: &T::AccountId,
        fee: BalanceOf<T>,
        model: ModelId,
        shares: &[(ContributionId, u32)],
        attestors: &[T::AccountId],
    ) -> Result<Vec<(ContributionId, BalanceOf<T>)>, DispatchError> {
        let split = Self::plan(payer, fee, model, shares, attestors)?;
        let to_pot = fee.saturating_sub(split.treasury);
        // All or nothing: a failed transfer rolls back everything done so far.
        frame_support::storage::with_storage_layer(|| -> Result<Vec<_>, DispatchError> {
            if !to_pot.is_zero() {
                T::Currency::transfer(payer, &Self::pot_account(), to_pot, Preservation::Expendable)?;
            }
            if !split.treasury.is_zero() {
                T::Currency::transfer(
                    payer,
                    &Self::treasury_account(),
                    split.treasury,
                    Preservation::Expendable,
                )?;
            }
            TotalUnclaimed::<T>::mutate(|t| *t = t.saturating_add(to_pot));
            let (owner, owner_part) = &split.owner;
            Self::accrue(owner, *owner_part, model, RewardSource::ModelOwner);
            let mut contributors = BalanceOf::<T>::zero();
            for (c, who, amount) in &split.contributors {
                contributors = contributors.saturating_add(*amount);
                Self::accrue(who, *amount, model, RewardSource::Contribution(*c));
            }
            let mut attestors_total = BalanceOf::<T>::zero();
            for (who, amount) in &split.attestors {
                attestors_total = attestors_total.saturating_add(*amount);
                Self::accrue(who, *amount, model, RewardSource::Attestation);
            }
            ModelFees::<T>::mutate(model, |m| {
                m.fees = m.fees.saturating_add(fee);
                m.distributions = m.distributions.saturating_add(1);
            });
            Self::deposit_event(Event::FeeDistributed {
                model,
                payer: payer.clone(),
                fee,
                owner: *owner_part,
                contributors,
                attestors: attestors_total,
                treasury: split.treasury,
            });
            Ok(split.contributors.iter().map(|(c, _, amount)| (*c, *amount)).collect())
        })
    }
}
