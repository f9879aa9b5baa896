//! # OpenLedger staking pallet
//!
//! Who secures and attests on OpenLedger, and what they put at stake for it.
//!
//! ## Bonding (fungible holds)
//!
//! [`Pallet::bond`] puts OPEN on hold under [`HoldReason::Staking`] (never reserves or locks).
//! An account's *ledger* has an `active` part (its stake, which backs its roles) and up to
//! [`Config::MaxUnlockingChunks`] *unbonding* chunks. [`Pallet::unbond`] moves active funds to
//! a chunk that matures [`Config::UnbondingPeriod`] blocks later (chunks maturing at the same
//! block merge); [`Pallet::rebond`] moves unbonding funds back to active (newest chunks first);
//! [`Pallet::withdraw_unbonded`] releases the hold on every mature chunk. Unbonding funds stay
//! on hold, so they can still be slashed. Invariant (checked by `try_state`): the balance on
//! hold for staking of every account equals its ledger's total (active + unbonding), and the
//! sum over all ledgers equals [`TotalBonded`].
//!
//! ## Roles
//!
//! An account declares roles ([`Role::Validator`], [`Role::Attestor`], [`Role::Curator`]);
//! its single active stake backs all of them. Declaring needs the role's minimum stake
//! ([`Config::MinValidatorStake`], …); unbonding below the minimum of a declared role is
//! refused (drop the role first). Slashing can still push a stake below a minimum: the role
//! stays declared but [`StakingInspect::has_role`] answers `false` until the stake is topped up.
//!
//! ## Validator selection
//!
//! The pallet is `pallet-session`'s `SessionManager`. When session `i` is planned, the
//! validator candidates whose session keys are registered (`session.setKeys`) and whose stake
//! meets the validator minimum are ranked by stake, highest first, ties broken by account id
//! (lowest first), and the first [`ValidatorCount`] (sorted by account id, so that only a
//! change of membership changes the authorities) become the authority set of session `i`
//! (pallet-session queues it one session ahead, so a new candidate authors from the session
//! after the next boundary). If no candidate qualifies, the current set stays.
//!
//! ## Slashing
//!
//! Other pallets slash through [`Slash`]: a fraction of the account's stake (active and
//! unbonding) is computed when the slash is reported and recorded as pending; it is applied
//! [`Config::SlashDeferDuration`] blocks later, in `on_initialize`, unless
//! [`Config::AdminOrigin`] cancels it with [`Pallet::cancel_slash`] first. Applying takes the
//! amount (at most what is still held) from active first, then from the newest unbonding
//! chunks, pays [`Config::ReporterShare`] of it to the reporter (if any and if the reporter's
//! account can receive it) and the rest to [`Config::Treasury`]. The defer duration must be
//! shorter than the unbonding period (`integrity_test`), so funds unbonding when a slash is
//! reported are still held when it is applied.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use alloc::vec::Vec;
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{self, Balanced, BalancedHold, Inspect, InspectHold, MutateHold},
        tokens::Precision,
        Imbalance, ValidatorRegistration,
    },
    BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use scale_info::TypeInfo;
use sp_runtime::{
    traits::{Saturating, Zero},
    Perbill,
};

pub use openledger_primitives::staking::{Role, Slash, SlashReason, StakingInspect};

pub use pallet::*;
pub use weights::WeightInfo;

/// Balance type of the pallet's currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Identifier of a reported slash (sequential from 0).
pub type SlashId = u32;

/// Funds on their way out: released once `until` is reached.
#[derive(
    Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen, DecodeWithMemTracking,
)]
pub struct UnlockChunk<Balance, BlockNumber> {
    pub value: Balance,
    /// First block at which the chunk may be withdrawn.
    pub until: BlockNumber,
}

/// An account's bonded funds.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct StakingLedger<T: Config> {
    /// The stake: backs the account's roles and ranks it for validator selection.
    pub active: BalanceOf<T>,
    /// Unbonding chunks, oldest first (ascending `until`).
    pub unlocking: BoundedVec<UnlockChunk<BalanceOf<T>, BlockNumberFor<T>>, T::MaxUnlockingChunks>,
}

impl<T: Config> StakingLedger<T> {
    /// Active plus unbonding: what is on hold for the account.
    pub fn total(&self) -> BalanceOf<T> {
        self.unlocking
            .iter()
            .fold(self.active, |acc, c| acc.saturating_add(c.value))
    }

    /// Unbonding funds only.
    pub fn unbonding(&self) -> BalanceOf<T> {
        self.total().saturating_sub(self.active)
    }

    /// Takes up to `amount` from active first, then from the newest chunks; returns what was
    /// taken.
    fn take(&mut self, amount: BalanceOf<T>) -> BalanceOf<T> {
        let from_active = amount.min(self.active);
        self.active = self.active.saturating_sub(from_active);
        let mut left = amount.saturating_sub(from_active);
        while !left.is_zero() {
            let Some(last) = self.unlocking.last_mut() else { break };
            let part = left.min(last.value);
            last.value = last.value.saturating_sub(part);
            left = left.saturating_sub(part);
            if last.value.is_zero() {
                self.unlocking.pop();
            }
        }
        amount.saturating_sub(left)
    }
}

/// A reported slash, applied at `apply_at` unless cancelled.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct PendingSlash<T: Config> {
    pub who: T::AccountId,
    /// `fraction` of the account's total bond when the slash was reported.
    pub amount: BalanceOf<T>,
    pub fraction: Perbill,
    pub reason: SlashReason,
    pub reporter: Option<T::AccountId>,
    pub apply_at: BlockNumberFor<T>,
}

/// The roles an account declared, sorted, without duplicates.
pub type RolesOf = BoundedVec<Role, ConstU32<3>>;

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    /// Reasons this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// Bonded (active or unbonding) stake.
        #[codec(index = 0)]
        Staking,
    }

    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency stakes are held in.
        type Currency: Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + Balanced<Self::AccountId>
            + InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + BalancedHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The overarching hold reason.
        type RuntimeHoldReason: From<HoldReason>;

        /// Whether an account has registered session keys (pallet-session): only such
        /// candidates are selected, so the chain never hands authorship to keyless accounts.
        type ValidatorRegistration: ValidatorRegistration<Self::AccountId>;

        /// May cancel pending slashes and set the validator count (governance).
        type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

        /// Receives slashed funds (minus the reporter's share).
        type Treasury: Get<Self::AccountId>;

        /// Smallest non-zero active stake (no dust ledgers).
        #[pallet::constant]
        type MinimumBond: Get<BalanceOf<Self>>;

        /// Stake needed to be a validator candidate.
        #[pallet::constant]
        type MinValidatorStake: Get<BalanceOf<Self>>;

        /// Stake needed to be an attestor.
        #[pallet::constant]
        type MinAttestorStake: Get<BalanceOf<Self>>;

        /// Stake needed to be a curator.
        #[pallet::constant]
        type MinCuratorStake: Get<BalanceOf<Self>>;

        /// Blocks between `unbond` and the funds becoming withdrawable.
        #[pallet::constant]
        type UnbondingPeriod: Get<BlockNumberFor<Self>>;

        /// Most unbonding chunks per account.
        #[pallet::constant]
        type MaxUnlockingChunks: Get<u32>;

        /// Most validator candidates (bounds the work of a session change).
        #[pallet::constant]
        type MaxCandidates: Get<u32>;

        /// Most attestors.
        #[pallet::constant]
        type MaxAttestors: Get<u32>;

        /// Largest validator set (the consensus pallets' `MaxAuthorities`).
        #[pallet::constant]
        type MaxValidators: Get<u32>;

        /// Blocks between a slash being reported and applied: governance's window to cancel it.
        #[pallet::constant]
        type SlashDeferDuration: Get<BlockNumberFor<Self>>;

        /// Most slashes applied in one block.
        #[pallet::constant]
        type MaxSlashesPerBlock: Get<u32>;

        /// Share of an applied slash paid to its reporter.
        #[pallet::constant]
        type ReporterShare: Get<Perbill>;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;
    }

    /// Bonded funds per account.
    #[pallet::storage]
    pub type Ledger<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, StakingLedger<T>>;

    /// Sum of every ledger's total (active + unbonding).
    #[pallet::storage]
    pub type TotalBonded<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

    /// Declared roles per account.
    #[pallet::storage]
    pub type Roles<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, RolesOf, ValueQuery>;

    /// Accounts that declared the validator role, sorted by account id.
    #[pallet::storage]
    pub type Candidates<T: Config> =
        StorageValue<_, BoundedVec<T::AccountId, T::MaxCandidates>, ValueQuery>;

    /// Accounts that declared the attestor role, sorted by account id.
    #[pallet::storage]
    pub type Attestors<T: Config> =
        StorageValue<_, BoundedVec<T::AccountId, T::MaxAttestors>, ValueQuery>;

    /// How many validators a session selects (the N of top-N).
    #[pallet::storage]
    pub type ValidatorCount<T> = StorageValue<_, u32, ValueQuery>;

    /// Id of the next reported slash.
    #[pallet::storage]
    pub type NextSlashId<T> = StorageValue<_, SlashId, ValueQuery>;

    /// Reported slashes not applied or cancelled yet.
    #[pallet::storage]
    pub type PendingSlashes<T: Config> = StorageMap<_, Twox64Concat, SlashId, PendingSlash<T>>;

    /// Slashes due at a block.
    #[pallet::storage]
    pub type SlashQueue<T: Config> = StorageMap<
        _,
        Twox64Concat,
        BlockNumberFor<T>,
        BoundedVec<SlashId, T::MaxSlashesPerBlock>,
        ValueQuery,
    >;

    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// `(account, bond, roles)`: bonded from the account's genesis balance.
        pub stakers: Vec<(T::AccountId, BalanceOf<T>, Vec<Role>)>,
        /// The N of top-N validator selection.
        pub validator_count: u32,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            assert!(
                self.validator_count <= T::MaxValidators::get(),
                "genesis validator_count above MaxValidators"
            );
            ValidatorCount::<T>::put(self.validator_count);
            for (who, amount, roles) in &self.stakers {
                Pallet::<T>::do_bond(who, *amount).expect("genesis staker can bond its stake");
                for role in roles {
                    Pallet::<T>::do_declare_role(who, *role)
                        .expect("genesis staker meets its roles' minimum stakes");
                }
            }
        }
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// `amount` more is bonded (on hold) and active.
        Bonded { who: T::AccountId, amount: BalanceOf<T> },
        /// `amount` left the active stake; withdrawable from block `until`.
        Unbonded { who: T::AccountId, amount: BalanceOf<T>, until: BlockNumberFor<T> },
        /// `amount` of unbonding funds is active again.
        Rebonded { who: T::AccountId, amount: BalanceOf<T> },
        /// Mature unbonding funds were released from hold.
        Withdrawn { who: T::AccountId, amount: BalanceOf<T> },
        /// The account declared a role.
        RoleDeclared { who: T::AccountId, role: Role },
        /// The account dropped a role (itself, or because its whole bond is gone).
        RoleDropped { who: T::AccountId, role: Role },
        /// A slash was reported; it is applied at `apply_at` unless cancelled.
        SlashReported {
            id: SlashId,
            who: T::AccountId,
            amount: BalanceOf<T>,
            fraction: Perbill,
            reason: SlashReason,
            reporter: Option<T::AccountId>,
            apply_at: BlockNumberFor<T>,
        },
        /// Governance cancelled a pending slash.
        SlashCancelled { id: SlashId, who: T::AccountId, amount: BalanceOf<T> },
        /// A slash was applied: `amount` taken, `to_reporter` to the reporter and `to_treasury`
        /// to the treasury (anything neither could receive was burned).
        Slashed {
            id: SlashId,
            who: T::AccountId,
            amount: BalanceOf<T>,
            reporter: Option<T::AccountId>,
            to_reporter: BalanceOf<T>,
            to_treasury: BalanceOf<T>,
        },
        /// The validators of session `session` (sorted by account id).
        ValidatorsSelected { session: u32, validators: Vec<T::AccountId> },
        /// The number of validators per session changed.
        ValidatorCountSet { count: u32 },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The amount is zero.
        ZeroAmount,
        /// The free balance cannot cover the bond.
        InsufficientBalance,
        /// The active stake would be non-zero but below `MinimumBond`.
        BelowMinimumBond,
        /// The account has no bond.
        NotBonded,
        /// Unbonding more than the active stake.
        InsufficientBond,
        /// Too many unbonding chunks: withdraw or rebond first.
        TooManyUnlockingChunks,
        /// Rebonding more than is unbonding.
        InsufficientUnbonding,
        /// Nothing is unbonding.
        NothingUnbonding,
        /// Unbonding funds are not withdrawable yet.
        StillUnbonding,
        /// The remaining stake would be below the minimum of a declared role: drop it first.
        StakeBacksRole,
        /// The stake is below the role's minimum.
        InsufficientStakeForRole,
        /// The role is already declared.
        RoleAlreadyDeclared,
        /// The role is not declared.
        RoleNotDeclared,
        /// The validator candidate list is full.
        TooManyCandidates,
        /// The attestor list is full.
        TooManyAttestors,
        /// No pending slash with this id.
        SlashNotFound,
        /// No more slashes can be scheduled for the block they would be due at.
        TooManySlashes,
        /// Above `MaxValidators`.
        TooManyValidators,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(n: BlockNumberFor<T>) -> Weight {
            let due = SlashQueue::<T>::take(n);
            let count = due.len() as u32;
            for id in due {
                Self::apply_slash(id);
            }
            T::WeightInfo::apply_slashes(count)
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }

        fn integrity_test() {
            assert!(
                T::SlashDeferDuration::get() < T::UnbondingPeriod::get(),
                "slashes must be applied while the funds unbonding at report time are held"
            );
            assert!(T::MaxValidators::get() > 0, "MaxValidators must be positive");
            assert!(T::MaxUnlockingChunks::get() > 0, "MaxUnlockingChunks must be positive");
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Bond `amount` more of the caller's free balance (put on hold, added to the stake).
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::bond())]
        pub fn bond(origin: OriginFor<T>, #[pallet::compact] amount: BalanceOf<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::do_bond(&who, amount)
        }

        /// Start unbonding `amount` of the stake; it can be withdrawn `UnbondingPeriod` blocks
        /// from now.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::unbond())]
        pub fn unbond(
            origin: OriginFor<T>,
            #[pallet::compact] amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
            ensure!(amount <= ledger.active, Error::<T>::InsufficientBond);
            let active = ledger.active.saturating_sub(amount);
            ensure!(
                active.is_zero() || active >= T::MinimumBond::get(),
                Error::<T>::BelowMinimumBond
            );
            ensure!(
                Roles::<T>::get(&who).iter().all(|r| active >= Self::min_stake(*r)),
                Error::<T>::StakeBacksRole
            );
            let until =
                frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
            match ledger.unlocking.last_mut() {
                Some(chunk) if chunk.until == until => {
                    chunk.value = chunk.value.saturating_add(amount)
                },
                _ => ledger
                    .unlocking
                    .try_push(UnlockChunk { value: amount, until })
                    .map_err(|_| Error::<T>::TooManyUnlockingChunks)?,
            }
            ledger.active = active;
            Ledger::<T>::insert(&who, ledger);
            Self::deposit_event(Event::Unbonded { who, amount, until });
            Ok(())
        }

        /// Make `amount` of the unbonding funds active again, newest chunks first.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::rebond())]
        pub fn rebond(
            origin: OriginFor<T>,
            #[pallet::compact] amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
            ensure!(!ledger.unlocking.is_empty(), Error::<T>::NothingUnbonding);
            ensure!(amount <= ledger.unbonding(), Error::<T>::InsufficientUnbonding);
            let active = ledger.active.saturating_add(amount);
            ensure!(active >= T::MinimumBond::get(), Error::<T>::BelowMinimumBond);
            // Take from the chunks only: `take` empties active first, so park it aside.
            let previous = core::mem::take(&mut ledger.active);
            ledger.take(amount);
            ledger.active = previous.saturating_add(amount);
            Ledger::<T>::insert(&who, ledger);
            Self::deposit_event(Event::Rebonded { who, amount });
            Ok(())
        }

        /// Release every mature unbonding chunk of the caller from hold.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::withdraw_unbonded())]
        pub fn withdraw_unbonded(origin: OriginFor<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut ledger = Ledger::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
            ensure!(!ledger.unlocking.is_empty(), Error::<T>::NothingUnbonding);
            let now = frame_system::Pallet::<T>::block_number();
            let mut amount = BalanceOf::<T>::zero();
            ledger.unlocking.retain(|c| {
                if c.until <= now {
                    amount = amount.saturating_add(c.value);
                    false
                } else {
                    true
                }
            });
            ensure!(!amount.is_zero(), Error::<T>::StillUnbonding);
            let released = T::Currency::release(
                &HoldReason::Staking.into(),
                &who,
                amount,
                Precision::Exact,
            )?;
            TotalBonded::<T>::mutate(|t| *t = t.saturating_sub(released));
            Self::store_ledger(&who, ledger);
            Self::deposit_event(Event::Withdrawn { who, amount: released });
            Ok(())
        }

        /// Declare `role`, backed by the caller's stake (which must meet the role's minimum).
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::declare_role())]
        pub fn declare_role(origin: OriginFor<T>, role: Role) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::do_declare_role(&who, role)
        }

        /// Drop `role`.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::drop_role())]
        pub fn drop_role(origin: OriginFor<T>, role: Role) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut roles = Roles::<T>::get(&who);
            let pos = roles.binary_search(&role).map_err(|_| Error::<T>::RoleNotDeclared)?;
            roles.remove(pos);
            Self::remove_from_list(&who, role);
            if roles.is_empty() {
                Roles::<T>::remove(&who);
            } else {
                Roles::<T>::insert(&who, roles);
            }
            Self::deposit_event(Event::RoleDropped { who, role });
            Ok(())
        }

        /// Cancel a pending slash (governance, during the defer window).
        #[pallet::call_index(6)]
        #[pallet::weight(T::WeightInfo::cancel_slash())]
        pub fn cancel_slash(origin: OriginFor<T>, id: SlashId) -> DispatchResult {
            T::AdminOrigin::ensure_origin(origin)?;
            let slash = PendingSlashes::<T>::take(id).ok_or(Error::<T>::SlashNotFound)?;
            SlashQueue::<T>::mutate(slash.apply_at, |q| q.retain(|i| *i != id));
            Self::deposit_event(Event::SlashCancelled { id, who: slash.who, amount: slash.amount });
            Ok(())
        }

        /// Set how many validators each session selects (governance).
        #[pallet::call_index(7)]
        #[pallet::weight(T::WeightInfo::set_validator_count())]
        pub fn set_validator_count(origin: OriginFor<T>, count: u32) -> DispatchResult {
            T::AdminOrigin::ensure_origin(origin)?;
            ensure!(count <= T::MaxValidators::get(), Error::<T>::TooManyValidators);
            ValidatorCount::<T>::put(count);
            Self::deposit_event(Event::ValidatorCountSet { count });
            Ok(())
        }
    }
}

impl<T: Config> Pallet<T> {
    /// The minimum stake of `role`.
    pub fn min_stake(role: Role) -> BalanceOf<T> {
        match role {
            Role::Validator => T::MinValidatorStake::get(),
            Role::Attestor => T::MinAttestorStake::get(),
            Role::Curator => T::MinCuratorStake::get(),
        }
    }

    fn do_bond(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
        ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
        let mut ledger = Ledger::<T>::get(who).unwrap_or(StakingLedger {
            active: Zero::zero(),
            unlocking: Default::default(),
        });
        ledger.active = ledger.active.saturating_add(amount);
        ensure!(ledger.active >= T::MinimumBond::get(), Error::<T>::BelowMinimumBond);
        let reason = HoldReason::Staking.into();
        ensure!(T::Currency::can_hold(&reason, who, amount), Error::<T>::InsufficientBalance);
        T::Currency::hold(&reason, who, amount).map_err(|_| Error::<T>::InsufficientBalance)?;
        TotalBonded::<T>::mutate(|t| *t = t.saturating_add(amount));
        Ledger::<T>::insert(who, ledger);
        Self::deposit_event(Event::Bonded { who: who.clone(), amount });
        Ok(())
    }

    fn do_declare_role(who: &T::AccountId, role: Role) -> DispatchResult {
        let ledger = Ledger::<T>::get(who).ok_or(Error::<T>::NotBonded)?;
        ensure!(ledger.active >= Self::min_stake(role), Error::<T>::InsufficientStakeForRole);
        let mut roles = Roles::<T>::get(who);
        let pos = match roles.binary_search(&role) {
            Ok(_) => return Err(Error::<T>::RoleAlreadyDeclared.into()),
            Err(pos) => pos,
        };
        // Three roles, three slots: the insert cannot fail, but stay panic-free.
        roles.try_insert(pos, role).map_err(|_| Error::<T>::RoleAlreadyDeclared)?;
        match role {
            Role::Validator => Candidates::<T>::try_mutate(|list| Self::insert_sorted(list, who))
                .map_err(|_| Error::<T>::TooManyCandidates)?,
            Role::Attestor => Attestors::<T>::try_mutate(|list| Self::insert_sorted(list, who))
                .map_err(|_| Error::<T>::TooManyAttestors)?,
            Role::Curator => {},
        }
        Roles::<T>::insert(who, roles);
        Self::deposit_event(Event::RoleDeclared { who: who.clone(), role });
        Ok(())
    }

    fn insert_sorted<S: Get<u32>>(
        list: &mut BoundedVec<T::AccountId, S>,
        who: &T::AccountId,
    ) -> Result<(), ()> {
        match list.binary_search(who) {
            Ok(_) => Ok(()),
            Err(pos) => list.try_insert(pos, who.clone()).map_err(|_| ()),
        }
    }

    fn remove_from_list(who: &T::AccountId, role: Role) {
        match role {
            Role::Validator => Candidates::<T>::mutate(|l| l.retain(|a| a != who)),
            Role::Attestor => Attestors::<T>::mutate(|l| l.retain(|a| a != who)),
            Role::Curator => {},
        }
    }

    /// Stores `ledger`, or removes it (and every role it backed) once nothing is bonded.
    fn store_ledger(who: &T::AccountId, ledger: StakingLedger<T>) {
        if !ledger.total().is_zero() {
            Ledger::<T>::insert(who, ledger);
            return;
        }
        Ledger::<T>::remove(who);
        for role in Roles::<T>::take(who) {
            Self::remove_from_list(who, role);
            Self::deposit_event(Event::RoleDropped { who: who.clone(), role });
        }
    }

    /// Schedules a slash of `fraction` of `who`'s total bond.
    pub fn do_slash(
        who: &T::AccountId,
        fraction: Perbill,
        reason: SlashReason,
        reporter: Option<T::AccountId>,
    ) -> Result<BalanceOf<T>, DispatchError> {
        let ledger = Ledger::<T>::get(who).ok_or(Error::<T>::NotBonded)?;
        let amount = fraction.mul_floor(ledger.total());
        if amount.is_zero() {
            return Ok(amount);
        }
        let id = NextSlashId::<T>::get();
        let next = id.checked_add(1).ok_or(Error::<T>::TooManySlashes)?;
        let apply_at =
            frame_system::Pallet::<T>::block_number().saturating_add(T::SlashDeferDuration::get());
        SlashQueue::<T>::try_mutate(apply_at, |q| q.try_push(id))
            .map_err(|_| Error::<T>::TooManySlashes)?;
        NextSlashId::<T>::put(next);
        PendingSlashes::<T>::insert(
            id,
            PendingSlash::<T> {
                who: who.clone(),
                amount,
                fraction,
                reason,
                reporter: reporter.clone(),
                apply_at,
            },
        );
        Self::deposit_event(Event::SlashReported {
            id,
            who: who.clone(),
            amount,
            fraction,
            reason,
            reporter,
            apply_at,
        });
        Ok(amount)
    }

    /// Applies pending slash `id` (no-op if it was cancelled).
    fn apply_slash(id: SlashId) {
        let Some(slash) = PendingSlashes::<T>::take(id) else { return };
        let who = slash.who;
        let mut taken = BalanceOf::<T>::zero();
        let (mut to_reporter, mut to_treasury) = (Zero::zero(), Zero::zero());
        if let Some(mut ledger) = Ledger::<T>::get(&who) {
            let wanted = ledger.take(slash.amount);
            let (credit, _missing) =
                T::Currency::slash(&HoldReason::Staking.into(), &who, wanted);
            taken = credit.peek();
            TotalBonded::<T>::mutate(|t| *t = t.saturating_sub(taken));
            Self::store_ledger(&who, ledger);

            let share = match &slash.reporter {
                Some(_) => T::ReporterShare::get().mul_floor(taken),
                None => Zero::zero(),
            };
            let (for_reporter, mut rest) = credit.split(share);
            if let Some(reporter) = &slash.reporter {
                let amount = for_reporter.peek();
                match T::Currency::resolve(reporter, for_reporter) {
                    Ok(()) => to_reporter = amount,
                    // The reporter cannot receive it (e.g. below the existential deposit).
                    Err(back) => rest = rest.merge(back),
                }
            }
            let amount = rest.peek();
            // If even the treasury cannot receive it, dropping the credit burns it.
            if T::Currency::resolve(&T::Treasury::get(), rest).is_ok() {
                to_treasury = amount;
            }
        }
        Self::deposit_event(Event::Slashed {
            id,
            who,
            amount: taken,
            reporter: slash.reporter,
            to_reporter,
            to_treasury,
        });
    }

    /// The top `ValidatorCount` qualifying candidates (registered session keys, stake at least
    /// `MinValidatorStake`) ranked by stake descending, then account id ascending; returned
    /// sorted by account id.
    pub fn select_validators() -> Vec<T::AccountId> {
        let min = T::MinValidatorStake::get();
        let mut ranked: Vec<(BalanceOf<T>, T::AccountId)> = Candidates::<T>::get()
            .into_iter()
            .filter(|who| T::ValidatorRegistration::is_registered(who))
            .filter_map(|who| {
                let stake = Ledger::<T>::get(&who)?.active;
                (stake >= min).then_some((stake, who))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let n = ValidatorCount::<T>::get().min(T::MaxValidators::get()) as usize;
        let mut selected: Vec<T::AccountId> = ranked.into_iter().take(n).map(|(_, who)| who).collect();
        // Canonical order: a session changes the authorities only when the membership changes.
        selected.sort();
        selected
    }

    /// Checks the pallet's invariants: every ledger's total is exactly what is on hold for
    /// staking, their sum is `TotalBonded`, chunks are ordered, the role lists agree with the
    /// roles map, and every pending slash is queued once.
    #[cfg(any(test, feature = "try-runtime", feature = "std"))]
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let reason: T::RuntimeHoldReason = HoldReason::Staking.into();
        let mut sum = BalanceOf::<T>::zero();
        for (who, ledger) in Ledger::<T>::iter() {
            ensure!(
                T::Currency::balance_on_hold(&reason, &who) == ledger.total(),
                "staking hold differs from the ledger's total"
            );
            ensure!(!ledger.total().is_zero(), "empty ledger kept");
            ensure!(
                ledger.unlocking.windows(2).all(|w| w[0].until < w[1].until),
                "unbonding chunks out of order"
            );
            sum = sum.saturating_add(ledger.total());
        }
        ensure!(sum == TotalBonded::<T>::get(), "TotalBonded differs from the sum of ledgers");
        for (who, roles) in Roles::<T>::iter() {
            ensure!(Ledger::<T>::contains_key(&who), "roles without a bond");
            ensure!(roles.windows(2).all(|w| w[0] < w[1]), "roles unsorted or duplicated");
            ensure!(
                roles.contains(&Role::Validator) == Candidates::<T>::get().contains(&who),
                "candidate list disagrees with roles"
            );
            ensure!(
                roles.contains(&Role::Attestor) == Attestors::<T>::get().contains(&who),
                "attestor list disagrees with roles"
            );
        }
        for list in [Candidates::<T>::get().into_inner(), Attestors::<T>::get().into_inner()] {
            ensure!(list.windows(2).all(|w| w[0] < w[1]), "role list unsorted");
            ensure!(
                list.iter().all(|a| Roles::<T>::contains_key(a)),
                "role list member without roles"
            );
        }
        for (id, slash) in PendingSlashes::<T>::iter() {
            ensure!(
                SlashQueue::<T>::get(slash.apply_at).iter().filter(|i| **i == id).count() == 1,
                "pending slash not queued exactly once"
            );
        }
        for (_, queue) in SlashQueue::<T>::iter() {
            ensure!(
                queue.iter().all(|id| PendingSlashes::<T>::contains_key(id)),
                "queued slash not pending"
            );
        }
        Ok(())
    }
}

impl<T: Config> StakingInspect<T::AccountId, BalanceOf<T>> for Pallet<T> {
    fn stake(who: &T::AccountId) -> BalanceOf<T> {
        Ledger::<T>::get(who).map(|l| l.active).unwrap_or_default()
    }

    fn has_role(who: &T::AccountId, role: Role) -> bool {
        Roles::<T>::get(who).contains(&role) && Self::stake(who) >= Self::min_stake(role)
    }

    fn attestors() -> Vec<T::AccountId> {
        Attestors::<T>::get()
            .into_iter()
            .filter(|a| Self::stake(a) >= T::MinAttestorStake::get())
            .collect()
    }
}

impl<T: Config> Slash<T::AccountId, BalanceOf<T>> for Pallet<T> {
    fn slash(
        who: &T::AccountId,
        fraction: Perbill,
        reason: SlashReason,
        reporter: Option<T::AccountId>,
    ) -> Result<BalanceOf<T>, DispatchError> {
        Self::do_slash(who, fraction, reason, reporter)
    }
}

/// Validator selection by stake at every session (see the module docs).
impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
    fn new_session(new_index: u32) -> Option<Vec<T::AccountId>> {
        let validators = Self::select_validators();
        if validators.is_empty() {
            log::warn!(target: "runtime::open-staking", "no qualifying validator candidate: keeping the current set");
            return None;
        }
        Self::deposit_event(Event::ValidatorsSelected {
            session: new_index,
            validators: validators.clone(),
        });
        Some(validators)
    }

    fn new_session_genesis(_new_index: u32) -> Option<Vec<T::AccountId>> {
        let validators = Self::select_validators();
        (!validators.is_empty()).then_some(validators)
    }

    fn end_session(_end_index: u32) {}

    fn start_session(_start_index: u32) {}
}
