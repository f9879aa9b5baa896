//! Benchmarks (frame-benchmarking v2): `claim`, and `distribute` (not a call: the attribution
//! pallet charges its weight) over the number of shares and attestors, every recipient a
//! fresh account (the most storage writes).

use super::*;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;

/// What the benchmarks need from the rest of the runtime.
pub trait BenchmarkHelper<AccountId, Balance> {
    /// Registers a model owned by `owner` with `split`; `None` if the runtime has no registry.
    fn model(owner: &AccountId, split: FeeSplit) -> Option<ModelId>;
    /// Creates a contribution by `contributor`; `None` if the runtime cannot.
    fn contribution(contributor: &AccountId) -> Option<ContributionId>;
}

/// No registry: `distribute` is skipped (`claim` needs nothing).
impl<AccountId, Balance> BenchmarkHelper<AccountId, Balance> for () {
    fn model(_: &AccountId, _: FeeSplit) -> Option<ModelId> {
        None
    }
    fn contribution(_: &AccountId) -> Option<ContributionId> {
        None
    }
}

fn quarter() -> Perbill {
    Perbill::from_percent(25)
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn claim() {
        let who: T::AccountId = account("claimer", 0, 0);
        let amount = T::Currency::minimum_balance().saturating_mul(100u32.into());
        let pot = Pallet::<T>::pot_account();
        let _ = T::Currency::set_balance(
            &pot,
            T::Currency::balance(&pot).saturating_add(amount).max(amount.saturating_mul(2u32.into())),
        );
        Unclaimed::<T>::insert(&who, amount);
        TotalUnclaimed::<T>::mutate(|t| *t = t.saturating_add(amount));
        Earnings::<T>::mutate(&who, |e| e.as_contributor = amount);
        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()));
        assert_eq!(T::Currency::balance(&who), amount);
    }

    #[benchmark]
    fn distribute(
        s: Linear<0, { T::MaxShares::get() }>,
        a: Linear<0, { T::MaxAttestors::get() }>,
    ) -> Result<(), BenchmarkError> {
        let owner: T::AccountId = account("owner", 0, 0);
        let split =
            FeeSplit { owner: quarter(), contributors: quarter(), attestors: quarter(), treasury: quarter() };
        let model = T::BenchmarkHelper::model(&owner, split).ok_or(BenchmarkError::Skip)?;
        let mut shares = Vec::new();
        for i in 0..s {
            let who: T::AccountId = account("contributor", i, 0);
            let c = T::BenchmarkHelper::contribution(&who).ok_or(BenchmarkError::Skip)?;
            shares.push((c, 0u32));
        }
        // Equal parts, the remainder on the first share, so they sum to exactly one billion.
        if let Some(n) = u32::try_from(shares.len()).ok().filter(|n| *n > 0) {
            for (_, p) in shares.iter_mut() {
                *p = BILLION / n;
            }
            if let Some((_, p)) = shares.first_mut() {
                *p += BILLION % n;
            }
        }
        let attestors: Vec<T::AccountId> = (0..a).map(|i| account("attestor", i, 0)).collect();
        let payer: T::AccountId = account("payer", 0, 0);
        let fee = T::Currency::minimum_balance().saturating_mul(1_000_000u32.into());
        let _ = T::Currency::set_balance(&payer, fee.saturating_mul(2u32.into()));
        #[block]
        {
            Pallet::<T>::distribute(&payer, fee, model, &shares, &attestors)?;
        }
        assert_eq!(ModelFees::<T>::get(model).distributions, 1);
        Ok(())
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
