//! Benchmarks (frame-benchmarking v2). Worst cases: `record_inference` with the longest
//! output and a full attestor set to draw from; `submit_result` as the result that makes the
//! majority, with `s` shares of a model on `s` contributions, every other attestor
//! dissenting (slashed); `on_initialize` with `j` jobs whose round ends without any result
//! (every attestor slashed, the job reassigned).

use super::*;
use frame_benchmarking::v2::*;
use alloc::vec;
use frame_system::RawOrigin;
use openledger_primitives::attribution::SHARES_TOTAL;

/// What the benchmarks need from the rest of the runtime.
pub trait BenchmarkHelper<T: Config> {
    /// A model on a published datanet version of `count` contributions (fresh contributors).
    fn model_with_contributions(count: u32) -> (ModelId, Vec<ContributionId>);
    /// Makes `count` accounts active, staked attestors (the whole attestor set).
    fn attestors(count: u32) -> Vec<T::AccountId>;
}

/// Attestors drawn from in the benchmarks: a large active set, so the draw reads it all.
const ATTESTOR_SET: u32 = 32;

fn funded<T: Config>(name: &'static str, i: u32) -> T::AccountId {
    let who: T::AccountId = account(name, i, 0);
    let amount = T::Currency::minimum_balance().saturating_mul(1_000_000_000u32.into());
    let _ = T::Currency::set_balance(&who, amount);
    who
}

/// A model on `contributions` contributions, the attestor set, and a payer with credit.
fn market<T: Config>(contributions: u32) -> (ModelId, Vec<ContributionId>, T::AccountId) {
    let (model, ids) = T::BenchmarkHelper::model_with_contributions(contributions.max(1));
    T::BenchmarkHelper::attestors(ATTESTOR_SET);
    let payer = funded::<T>("payer", 0);
    let credit = T::Currency::minimum_balance().saturating_mul(100_000_000u32.into());
    Pallet::<T>::deposit_credit(RawOrigin::Signed(payer.clone()).into(), credit)
        .expect("the payer is funded");
    (model, ids, payer)
}

/// A recorded job of `n` output tokens on a model of `s` contributions.
fn recorded<T: Config>(s: u32, n: u32) -> (JobId, Vec<ContributionId>) {
    let (model, contributions, payer) = market::<T>(s);
    let job = NextJobId::<T>::get();
    frame_system::Pallet::<T>::set_extrinsic_index(0);
    Pallet::<T>::record_inference(
        RawOrigin::Signed(payer.clone()).into(),
        model,
        payer,
        1,
        n,
        (0..n).collect(),
    )
    .expect("recorded");
    (job, contributions)
}

/// `s` contributions sharing 10^9 parts.
fn shares_of(contributions: &[ContributionId], s: u32) -> Vec<(ContributionId, u32)> {
    let mut ids = contributions[..s as usize].to_vec();
    ids.sort();
    let each = SHARES_TOTAL / s;
    let mut shares: Vec<_> = ids.into_iter().map(|c| (c, each)).collect();
    shares[0].1 += SHARES_TOTAL - each * s;
    shares
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn register_gateway() {
        let gateway: T::AccountId = account("gateway", 0, 0);
        let origin = T::GatewayOrigin::try_successful_origin()
            .map_err(|_| BenchmarkError::Weightless)
            .unwrap();
        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, gateway.clone());
        assert!(Gateways::<T>::contains_key(&gateway));
    }

    #[benchmark]
    fn remove_gateway() {
        let gateway: T::AccountId = account("gateway", 0, 0);
        Gateways::<T>::insert(&gateway, ());
        let origin = T::GatewayOrigin::try_successful_origin()
            .map_err(|_| BenchmarkError::Weightless)
            .unwrap();
        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, gateway.clone());
        assert!(!Gateways::<T>::contains_key(&gateway));
    }

    #[benchmark]
    fn approve_gateway() {
        let gateway: T::AccountId = account("gateway", 0, 0);
        Gateways::<T>::insert(&gateway, ());
        let payer = funded::<T>("payer", 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(payer.clone()), gateway.clone(), true);
        assert!(GatewayApprovals::<T>::contains_key(&payer, &gateway));
    }

    #[benchmark]
    fn deposit_credit() {
        let payer = funded::<T>("payer", 0);
        let amount = T::Currency::minimum_balance().saturating_mul(1_000u32.into());
        #[extrinsic_call]
        _(RawOrigin::Signed(payer.clone()), amount);
        assert_eq!(Pallet::<T>::credit(&payer), amount);
    }

    #[benchmark]
    fn withdraw_credit() {
        let payer = funded::<T>("payer", 0);
        let amount = T::Currency::minimum_balance().saturating_mul(1_000u32.into());
        Pallet::<T>::deposit_credit(RawOrigin::Signed(payer.clone()).into(), amount)
            .expect("funded");
        #[extrinsic_call]
        _(RawOrigin::Signed(payer.clone()), amount);
        assert!(Pallet::<T>::credit(&payer).is_zero());
    }

    #[benchmark]
    fn record_inference(n: Linear<1, { T::MaxOutputTokens::get() }>) {
        let (model, _, payer) = market::<T>(1);
        frame_system::Pallet::<T>::set_extrinsic_index(0);
        let output: Vec<u32> = (0..n).collect();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(payer.clone()),
            model,
            payer.clone(),
            1,
            n,
            output,
        );
        assert!(Jobs::<T>::contains_key(0));
    }

    #[benchmark]
    fn submit_result(s: Linear<1, { T::MaxShares::get() }>) {
        let (job, contributions) = recorded::<T>(s, 1);
        let attestors = Jobs::<T>::get(job)
            .expect("recorded")
            .attestors
            .into_inner();
        let shares = shares_of(&contributions, s);
        let digest = result_digest(job, &shares);
        let quorum = Pallet::<T>::quorum(attestors.len()) as usize;
        // Everyone before the last of the majority: the rest of the majority agrees, the
        // others (as many as possible) dissent, so finalising slashes them.
        let dissent = vec![(contributions[0], SHARES_TOTAL)];
        let dissent = if shares == dissent {
            vec![(contributions[0], SHARES_TOTAL - 1), (u64::MAX, 1)]
        } else {
            dissent
        };
        let dissenters = attestors.len() - quorum;
        for a in &attestors[..dissenters] {
            let d = result_digest(job, &dissent);
            Results::<T>::insert(job, a, d);
            Digests::<T>::insert(job, d, (SharesOf::<T>::truncate_from(dissent.clone()), 1));
            Assignments::<T>::remove(a, job);
        }
        let last = attestors[attestors.len() - 1].clone();
        for a in &attestors[dissenters..attestors.len() - 1] {
            Pallet::<T>::submit_result(
                RawOrigin::Signed(a.clone()).into(),
                job,
                digest,
                shares.clone(),
            )
            .expect("valid result");
        }
        #[extrinsic_call]
        _(RawOrigin::Signed(last), job, digest, shares);
        assert_eq!(
            Jobs::<T>::get(job).expect("recorded").status,
            JobStatus::Final { digest }
        );
    }

    #[benchmark]
    fn on_initialize(j: Linear<0, { T::MaxJobsPerBlock::get() }>) {
        let (model, _, payer) = market::<T>(1);
        for _ in 0..j {
            frame_system::Pallet::<T>::set_extrinsic_index(0);
            Pallet::<T>::record_inference(
                RawOrigin::Signed(payer.clone()).into(),
                model,
                payer.clone(),
                1,
                1,
                alloc::vec![1],
            )
            .expect("recorded");
        }
        let due =
            frame_system::Pallet::<T>::block_number().saturating_add(T::ResultDeadline::get());
        frame_system::Pallet::<T>::set_block_number(due);
        #[block]
        {
            Pallet::<T>::on_initialize(due);
        }
        for job in 0..j as JobId {
            assert_eq!(
                Jobs::<T>::get(job).expect("recorded").status,
                JobStatus::Pending { round: 1 }
            );
        }
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
