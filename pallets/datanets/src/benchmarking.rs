//! Benchmarks (frame-benchmarking v2), each call in its worst case:
//! * metadata at every maximum length, full curator sets with the caller last;
//! * `contribute` over the payload length, into an allow-listed datanet;
//! * `accept` with the longest Merkle carry chain (31 hashes: 2^31 - 1 accepted before);
//! * `publish_version` over a frontier of 32 peaks (u32::MAX accepted: 31 hashes);
//! * `reject` / `withdraw` on forfeiting policies (slash + pay the owner).

use super::*;
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::Mutate;
use frame_system::RawOrigin;

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
    let who: T::AccountId = account(name, index, 0);
    let per_byte = BalanceOf::<T>::from(1u32);
    let amount = T::Currency::minimum_balance()
        .saturating_add(T::DatanetDeposit::get())
        .saturating_add(T::ContributionBaseDeposit::get())
        .saturating_add(per_byte.saturating_mul(T::MaxPayloadSize::get().into()))
        .saturating_mul(4u32.into());
    T::Currency::set_balance(&who, amount);
    who
}

fn max_text<S: Get<u32>>() -> BoundedVec<u8, S> {
    BoundedVec::truncate_from(vec![b'a'; S::get() as usize])
}

fn max_tags<T: Config>() -> TagsOf<T> {
    BoundedVec::truncate_from(vec![max_text::<T::MaxTagLen>(); T::MaxTags::get() as usize])
}

/// A datanet with maximal metadata, owned by a funded account.
fn datanet<T: Config>(
    admission: Admission,
    curation: CurationPolicy,
    policy: DepositPolicy,
) -> Result<(DatanetId, T::AccountId), BenchmarkError> {
    let owner = funded::<T>("owner", 0);
    let id = NextDatanetId::<T>::get();
    Pallet::<T>::create_datanet(
        RawOrigin::Signed(owner.clone()).into(),
        max_text::<T::MaxNameLen>(),
        max_text::<T::MaxDescriptionLen>(),
        max_text::<T::MaxLicenseLen>(),
        max_tags::<T>(),
        admission,
        curation,
        1u32.into(),
        policy,
    )?;
    Ok((id, owner))
}

/// Fills the curator set up to `MaxCurators - missing`; returns the last curator added.
fn curators<T: Config>(datanet: DatanetId, missing: u32) -> Option<T::AccountId> {
    let n = T::MaxCurators::get().saturating_sub(missing);
    let set: Vec<T::AccountId> = (0..n).map(|i| account("curator", i, 0)).collect();
    let last = set.last().cloned();
    Curators::<T>::insert(datanet, BoundedVec::truncate_from(set));
    last
}

/// A pending contribution of `len` bytes by a fresh funded account.
fn pending<T: Config>(
    datanet: DatanetId,
    len: u32,
) -> Result<(ContributionId, T::AccountId), BenchmarkError> {
    let who = funded::<T>("contributor", 0);
    frame_system::Pallet::<T>::set_extrinsic_index(0);
    let id = NextContributionId::<T>::get();
    Pallet::<T>::contribute(
        RawOrigin::Signed(who.clone()).into(),
        datanet,
        vec![7u8; len as usize],
    )?;
    Ok((id, who))
}

/// Pretend `count` contributions were accepted: a frontier with a peak at every set bit.
fn fake_accepted<T: Config>(datanet: DatanetId, count: u32) {
    let peaks = (32 - count.leading_zeros()) as usize;
    AcceptedFrontier::<T>::insert(
        datanet,
        Frontier::truncate_from(vec![H256::repeat_byte(7); peaks]),
    );
    Datanets::<T>::mutate(datanet, |d| {
        if let Some(d) = d {
            d.accepted_count = count;
        }
    });
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn create_datanet() {
        let caller = funded::<T>("caller", 0);
        let id = NextDatanetId::<T>::get();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            max_text::<T::MaxNameLen>(),
            max_text::<T::MaxDescriptionLen>(),
            max_text::<T::MaxLicenseLen>(),
            max_tags::<T>(),
            Admission::AllowList,
            CurationPolicy::Curators,
            1u32.into(),
            DepositPolicy::ForfeitOnRejectOrWithdraw,
        );
        assert_eq!(Datanets::<T>::get(id).map(|d| d.owner), Some(caller));
    }

    #[benchmark]
    fn update_metadata() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        #[extrinsic_call]
        _(
            RawOrigin::Signed(owner),
            id,
            Some(max_text::<T::MaxNameLen>()),
            Some(max_text::<T::MaxDescriptionLen>()),
            Some(max_text::<T::MaxLicenseLen>()),
            Some(max_tags::<T>()),
        );
        Ok(())
    }

    #[benchmark]
    fn set_policies() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        #[extrinsic_call]
        _(
            RawOrigin::Signed(owner),
            id,
            Admission::AllowList,
            CurationPolicy::Curators,
        );
        assert_eq!(
            Datanets::<T>::get(id).map(|d| d.admission),
            Some(Admission::AllowList)
        );
        Ok(())
    }

    #[benchmark]
    fn add_curator() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Curators,
            DepositPolicy::ReleaseAlways,
        )?;
        curators::<T>(id, 1);
        let new: T::AccountId = account("new-curator", 0, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, new.clone());
        assert!(Curators::<T>::get(id).contains(&new));
        Ok(())
    }

    #[benchmark]
    fn remove_curator() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Curators,
            DepositPolicy::ReleaseAlways,
        )?;
        let last = curators::<T>(id, 0).ok_or(BenchmarkError::Weightless)?;
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, last.clone());
        assert!(!Curators::<T>::get(id).contains(&last));
        Ok(())
    }

    #[benchmark]
    fn allow_contributor() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::AllowList,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        let who: T::AccountId = account("allowed", 0, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, who.clone());
        assert!(AllowList::<T>::contains_key(id, &who));
        Ok(())
    }

    #[benchmark]
    fn disallow_contributor() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::AllowList,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        let who: T::AccountId = account("allowed", 0, 0);
        AllowList::<T>::insert(id, &who, ());
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, who.clone());
        assert!(!AllowList::<T>::contains_key(id, &who));
        Ok(())
    }

    #[benchmark]
    fn transfer_ownership() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        let new: T::AccountId = account("new-owner", 0, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, new.clone());
        assert_eq!(Datanets::<T>::get(id).map(|d| d.owner), Some(new));
        Ok(())
    }

    #[benchmark]
    fn close_datanet() -> Result<(), BenchmarkError> {
        let (id, owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id);
        assert_eq!(
            Datanets::<T>::get(id).map(|d| d.status),
            Some(DatanetStatus::Closed)
        );
        Ok(())
    }

    #[benchmark]
    fn contribute(l: Linear<1, { T::MaxPayloadSize::get() }>) -> Result<(), BenchmarkError> {
        let (id, _owner) = datanet::<T>(
            Admission::AllowList,
            CurationPolicy::Owner,
            DepositPolicy::ReleaseAlways,
        )?;
        let caller = funded::<T>("contributor", 0);
        AllowList::<T>::insert(id, &caller, ());
        frame_system::Pallet::<T>::set_extrinsic_index(0);
        let payload = vec![0x5au8; l as usize];
        let contribution = NextContributionId::<T>::get();
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()), id, payload);
        assert_eq!(
            Contributions::<T>::get(contribution).map(|c| c.size),
            Some(l)
        );
        Ok(())
    }

    #[benchmark]
    fn accept() -> Result<(), BenchmarkError> {
        let (id, _owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Curators,
            DepositPolicy::ReleaseAlways,
        )?;
        let curator = curators::<T>(id, 0).ok_or(BenchmarkError::Weightless)?;
        let (contribution, _) = pending::<T>(id, 32)?;
        // 2^31 - 1 accepted before: appending carries through 31 levels.
        fake_accepted::<T>(id, (1u32 << 31) - 1);
        #[extrinsic_call]
        _(RawOrigin::Signed(curator), contribution);
        assert_eq!(
            Contributions::<T>::get(contribution).and_then(|c| c.accepted_index),
            Some((1u32 << 31) - 1)
        );
        Ok(())
    }

    #[benchmark]
    fn reject() -> Result<(), BenchmarkError> {
        let (id, _owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Curators,
            DepositPolicy::ForfeitOnReject,
        )?;
        let curator = curators::<T>(id, 0).ok_or(BenchmarkError::Weightless)?;
        let (contribution, _) = pending::<T>(id, 32)?;
        let reason = max_text::<T::MaxReasonLen>();
        #[extrinsic_call]
        _(RawOrigin::Signed(curator), contribution, reason);
        assert_eq!(
            Contributions::<T>::get(contribution).map(|c| c.status),
            Some(ContributionStatus::Rejected)
        );
        Ok(())
    }

    #[benchmark]
    fn withdraw() -> Result<(), BenchmarkError> {
        let (id, _owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Owner,
            DepositPolicy::ForfeitOnRejectOrWithdraw,
        )?;
        let (contribution, who) = pending::<T>(id, 32)?;
        #[extrinsic_call]
        _(RawOrigin::Signed(who), contribution);
        assert_eq!(
            Contributions::<T>::get(contribution).map(|c| c.status),
            Some(ContributionStatus::Withdrawn)
        );
        Ok(())
    }

    #[benchmark]
    fn publish_version() -> Result<(), BenchmarkError> {
        let (id, _owner) = datanet::<T>(
            Admission::Open,
            CurationPolicy::Curators,
            DepositPolicy::ReleaseAlways,
        )?;
        let curator = curators::<T>(id, 0).ok_or(BenchmarkError::Weightless)?;
        // u32::MAX accepted: 32 peaks, 31 hashes; a previous version to compare against.
        fake_accepted::<T>(id, u32::MAX);
        Versions::<T>::insert(
            id,
            1,
            VersionInfo {
                datanet: id,
                version: 1,
                contribution_count: 1,
                total_bytes: 1,
                merkle_root: H256::zero(),
                published_at: frame_system::Pallet::<T>::block_number(),
            },
        );
        Datanets::<T>::mutate(id, |d| {
            if let Some(d) = d {
                d.latest_version = 1;
            }
        });
        #[extrinsic_call]
        _(RawOrigin::Signed(curator), id);
        assert_eq!(
            Versions::<T>::get(id, 2).map(|v| v.contribution_count),
            Some(u32::MAX)
        );
        Ok(())
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
