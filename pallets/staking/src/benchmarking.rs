//! Benchmarks (frame-benchmarking v2), each call in its worst case: full candidate and
//! attestor lists (sorted inserts and removals), a full set of unbonding chunks, a withdrawal
//! that removes the ledger, and a block applying `MaxSlashesPerBlock` slashes with reporters.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Hooks};
use frame_system::RawOrigin;

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
    let who: T::AccountId = account(name, index, 0);
    let amount = T::Currency::minimum_balance()
        .saturating_add(Pallet::<T>::min_stake(Role::Validator))
        .saturating_add(Pallet::<T>::min_stake(Role::Attestor))
        .saturating_add(Pallet::<T>::min_stake(Role::Curator))
        .saturating_add(T::MinimumBond::get())
        .saturating_mul(10u32.into());
    T::Currency::set_balance(&who, amount);
    who
}

/// A funded account with every role's minimum stake bonded.
fn staker<T: Config>(name: &'static str, index: u32) -> Result<T::AccountId, BenchmarkError> {
    let who = funded::<T>(name, index);
    let stake = Pallet::<T>::min_stake(Role::Validator)
        .max(Pallet::<T>::min_stake(Role::Attestor))
        .max(Pallet::<T>::min_stake(Role::Curator))
        .max(T::MinimumBond::get())
        .saturating_mul(2u32.into());
    Pallet::<T>::bond(RawOrigin::Signed(who.clone()).into(), stake)?;
    Ok(who)
}

/// Fills the candidate list up to `MaxCandidates - missing` with accounts sorting before
/// `name`'s (so a new entry goes last: the longest sorted insert is the same for any position).
fn fill_candidates<T: Config>(missing: u32) {
    let n = T::MaxCandidates::get().saturating_sub(missing);
    let mut list: Vec<T::AccountId> = (0..n).map(|i| account("candidate", i, 0)).collect();
    list.sort();
    Candidates::<T>::put(BoundedVec::truncate_from(list));
}

fn set_block<T: Config>(n: u32) {
    frame_system::Pallet::<T>::set_block_number(n.into());
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn bond() {
        let who = funded::<T>("caller", 0);
        let amount = T::MinimumBond::get().max(Pallet::<T>::min_stake(Role::Validator));
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), amount);
        assert_eq!(Ledger::<T>::get(&who).map(|l| l.active), Some(amount));
    }

    #[benchmark]
    fn unbond() -> Result<(), BenchmarkError> {
        let who = staker::<T>("caller", 0)?;
        Pallet::<T>::declare_role(RawOrigin::Signed(who.clone()).into(), Role::Curator)?;
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), T::MinimumBond::get());
        assert_eq!(Ledger::<T>::get(&who).map(|l| l.unlocking.len()), Some(1));
        Ok(())
    }

    #[benchmark]
    fn rebond() -> Result<(), BenchmarkError> {
        let who = staker::<T>("caller", 0)?;
        // Full chunk list; the rebond spans the two newest chunks.
        for i in 0..T::MaxUnlockingChunks::get() {
            set_block::<T>(i + 1);
            Pallet::<T>::unbond(RawOrigin::Signed(who.clone()).into(), 1u32.into())?;
        }
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), 2u32.into());
        Ok(())
    }

    #[benchmark]
    fn withdraw_unbonded() -> Result<(), BenchmarkError> {
        let who = staker::<T>("caller", 0)?;
        let all = Ledger::<T>::get(&who).map(|l| l.active).unwrap_or_default();
        set_block::<T>(1);
        Pallet::<T>::unbond(RawOrigin::Signed(who.clone()).into(), all)?;
        frame_system::Pallet::<T>::set_block_number(
            T::UnbondingPeriod::get().saturating_add(1u32.into()),
        );
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()));
        assert!(Ledger::<T>::get(&who).is_none());
        Ok(())
    }

    #[benchmark]
    fn declare_role() -> Result<(), BenchmarkError> {
        let who = staker::<T>("caller", 0)?;
        fill_candidates::<T>(1);
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), Role::Validator);
        assert!(Candidates::<T>::get().contains(&who));
        Ok(())
    }

    #[benchmark]
    fn drop_role() -> Result<(), BenchmarkError> {
        let who = staker::<T>("caller", 0)?;
        fill_candidates::<T>(1);
        Pallet::<T>::declare_role(RawOrigin::Signed(who.clone()).into(), Role::Validator)?;
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), Role::Validator);
        assert!(!Candidates::<T>::get().contains(&who));
        Ok(())
    }

    #[benchmark]
    fn cancel_slash() -> Result<(), BenchmarkError> {
        let who = staker::<T>("offender", 0)?;
        Pallet::<T>::do_slash(&who, Perbill::from_percent(10), SlashReason::Governance, None)?;
        let origin =
            T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, 0);
        assert!(PendingSlashes::<T>::get(0).is_none());
        Ok(())
    }

    #[benchmark]
    fn set_validator_count() -> Result<(), BenchmarkError> {
        let origin =
            T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
        let count = T::MaxValidators::get();
        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, count);
        assert_eq!(ValidatorCount::<T>::get(), count);
        Ok(())
    }

    #[benchmark]
    fn apply_slashes(n: Linear<0, { T::MaxSlashesPerBlock::get() }>) -> Result<(), BenchmarkError> {
        let reporter = funded::<T>("reporter", 0);
        for i in 0..n {
            let who = staker::<T>("offender", i)?;
            Pallet::<T>::unbond(RawOrigin::Signed(who.clone()).into(), T::MinimumBond::get())?;
            Pallet::<T>::do_slash(&who, Perbill::one(), SlashReason::Governance, Some(reporter.clone()))?;
        }
        let due = frame_system::Pallet::<T>::block_number().saturating_add(T::SlashDeferDuration::get());
        #[block]
        {
            Pallet::<T>::on_initialize(due);
        }
        assert_eq!(PendingSlashes::<T>::iter().count(), 0);
        Ok(())
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
