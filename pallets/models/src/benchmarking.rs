//! Benchmarks (frame-benchmarking v2), each call in its worst case:
//! * `register_base_model` with every text field at its maximum length;
//! * `register_model` over the number of datanet references (each read through the datanets
//!   registry), as a new version of an earlier model (one more model read and written), with
//!   a base model and the deposit held;
//! * the lifecycle calls on a model with a price change in force to fold in;
//! * `transfer_ownership` moving the artifact index.
//!
//! The datanet versions come from [`Config::BenchmarkHelper`], which makes them through the
//! runtime's datanets pallet, so the benchmarks run on the runtime's `development` preset.

use super::*;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::Mutate;
use frame_system::RawOrigin;
use sp_runtime::Perbill;

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
    let who: T::AccountId = account(name, index, 0);
    let amount = T::Currency::minimum_balance()
        .saturating_add(T::ModelDeposit::get())
        .saturating_mul(10u32.into());
    T::Currency::set_balance(&who, amount);
    who
}

fn max_text<S: Get<u32>>() -> BoundedVec<u8, S> {
    BoundedVec::truncate_from(vec![b'a'; S::get() as usize])
}

/// A split that meets any satisfiable bounds: every minimum, the rest to the contributors.
fn split_within<T: Config>() -> FeeSplit {
    let b = SplitBounds::<T>::get();
    let rest = Perbill::one()
        .saturating_sub(b.min_attestors)
        .saturating_sub(b.min_treasury);
    FeeSplit {
        owner: Perbill::zero(),
        contributors: rest,
        attestors: b.min_attestors,
        treasury: b.min_treasury,
    }
}

fn register_base<T: Config>() -> Result<BaseModelId, BenchmarkError> {
    let id = NextBaseModelId::<T>::get();
    let origin =
        T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
    Pallet::<T>::register_base_model(
        origin,
        max_text::<T::MaxNameLen>(),
        max_text::<T::MaxArchitectureLen>(),
        1_000_000,
        H256::repeat_byte(0xba),
        H256::repeat_byte(0x70),
        max_text::<T::MaxLicenseLen>(),
        ModelFormat::Safetensors,
    )?;
    Ok(id)
}

/// An adapter owned by a funded account, with weights `H256::repeat_byte(artifact)`.
fn adapter<T: Config>(
    owner: &T::AccountId,
    refs: Vec<(DatanetId, VersionNumber)>,
    artifact: u8,
) -> Result<ModelId, BenchmarkError> {
    let base = match BaseModels::<T>::iter_keys().next() {
        Some(b) => b,
        None => register_base::<T>()?,
    };
    let id = NextModelId::<T>::get();
    Pallet::<T>::register_model(
        RawOrigin::Signed(owner.clone()).into(),
        max_text::<T::MaxNameLen>(),
        ModelKind::LoraAdapter,
        Some(base),
        refs,
        H256::repeat_byte(1),
        H256::repeat_byte(artifact),
        H256::repeat_byte(2),
        1_000u32.into(),
        split_within::<T>(),
        None,
    )?;
    Ok(id)
}

/// An adapter with a price change already in force, so the call under test folds it in.
fn adapter_with_due_price<T: Config>() -> Result<(ModelId, T::AccountId), BenchmarkError> {
    let owner = funded::<T>("owner", 0);
    let refs = T::BenchmarkHelper::published_datanet_versions(1)?;
    let id = adapter::<T>(&owner, refs, 0xa1)?;
    Pallet::<T>::set_price(RawOrigin::Signed(owner.clone()).into(), id, 2_000u32.into())?;
    let now = frame_system::Pallet::<T>::block_number();
    frame_system::Pallet::<T>::set_block_number(now.saturating_add(T::PriceChangeDelay::get()));
    Ok((id, owner))
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn register_base_model() -> Result<(), BenchmarkError> {
        let origin =
            T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
        let id = NextBaseModelId::<T>::get();
        #[extrinsic_call]
        _(
            origin as T::RuntimeOrigin,
            max_text::<T::MaxNameLen>(),
            max_text::<T::MaxArchitectureLen>(),
            135_000_000,
            H256::repeat_byte(0xbb),
            H256::repeat_byte(0x71),
            max_text::<T::MaxLicenseLen>(),
            ModelFormat::Gguf,
        );
        assert!(BaseModels::<T>::contains_key(id));
        Ok(())
    }

    #[benchmark]
    fn register_model(d: Linear<1, { T::MaxDatanetRefs::get() }>) -> Result<(), BenchmarkError> {
        let refs = T::BenchmarkHelper::published_datanet_versions(d)?;
        let caller = funded::<T>("caller", 0);
        let first = refs.iter().take(1).cloned().collect();
        let previous = adapter::<T>(&caller, first, 0xa0)?;
        let base = BaseModels::<T>::iter_keys()
            .next()
            .ok_or(BenchmarkError::Weightless)?;
        let id = NextModelId::<T>::get();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            max_text::<T::MaxNameLen>(),
            ModelKind::LoraAdapter,
            Some(base),
            refs,
            H256::repeat_byte(3),
            H256::repeat_byte(0xa2),
            H256::repeat_byte(4),
            5_000u32.into(),
            split_within::<T>(),
            Some(previous),
        );
        assert_eq!(
            Models::<T>::get(id).map(|m| m.datanet_versions.len() as u32),
            Some(d)
        );
        assert_eq!(
            Models::<T>::get(previous).and_then(|m| m.successor),
            Some(id)
        );
        Ok(())
    }

    #[benchmark]
    fn deprecate() -> Result<(), BenchmarkError> {
        let (id, owner) = adapter_with_due_price::<T>()?;
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id);
        assert_eq!(
            Models::<T>::get(id).map(|m| m.status),
            Some(ModelStatus::Deprecated)
        );
        Ok(())
    }

    #[benchmark]
    fn retire() -> Result<(), BenchmarkError> {
        let (id, owner) = adapter_with_due_price::<T>()?;
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id);
        assert_eq!(
            Models::<T>::get(id).map(|m| m.status),
            Some(ModelStatus::Retired)
        );
        Ok(())
    }

    #[benchmark]
    fn transfer_ownership() -> Result<(), BenchmarkError> {
        let (id, owner) = adapter_with_due_price::<T>()?;
        let new_owner: T::AccountId = account("new-owner", 0, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, new_owner.clone());
        assert_eq!(Models::<T>::get(id).map(|m| m.owner), Some(new_owner));
        Ok(())
    }

    #[benchmark]
    fn set_price() -> Result<(), BenchmarkError> {
        let (id, owner) = adapter_with_due_price::<T>()?;
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, 3_000u32.into());
        assert!(Models::<T>::get(id).and_then(|m| m.pending_price).is_some());
        Ok(())
    }

    #[benchmark]
    fn set_fee_split_bounds() -> Result<(), BenchmarkError> {
        let origin =
            T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
        let bounds = FeeSplitBounds {
            min_contributors: Perbill::from_percent(30),
            min_attestors: Perbill::from_percent(10),
            min_treasury: Perbill::from_percent(5),
            max_owner: Perbill::from_percent(50),
        };
        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, bounds);
        assert_eq!(SplitBounds::<T>::get(), bounds);
        Ok(())
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
