use crate::{mock::*, Error, Event, *};
use frame_support::{
    assert_noop, assert_ok,
    traits::{fungible::Inspect as _, Hooks},
};
use openledger_primitives::{
    attribution::{EngineError, EngineMethod, SHARES_TOTAL},
    models::ModelStatus,
    staking::SlashReason,
};
use sp_core::{
    offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt},
    Pair as _,
};
use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
use sp_runtime::{
    traits::{Dispatchable, Verify},
    DispatchError,
};
use std::sync::Arc;

const MODEL: ModelId = 0;
const PRICE: u64 = 1_000_000;

fn signed(n: u8) -> RuntimeOrigin {
    RuntimeOrigin::signed(account(n))
}

/// A published datanet with two contributions, model 0 on it, 10 million of credit for the
/// payer. Returns the contribution ids.
fn setup() -> Vec<ContributionId> {
    let (datanet, ids) = published_datanet(&[b"the quick brown fox", b"jumps over the lazy dog"]);
    add_model(MODEL, vec![(datanet, 1)], PRICE);
    assert_ok!(Attribution::deposit_credit(signed(PAYER), 10_000_000));
    ids
}

/// The payer records an inference of `n` output tokens; returns the job id.
fn record(n: u32) -> JobId {
    let id = NextJobId::<Test>::get();
    System::set_extrinsic_index(0);
    assert_ok!(Attribution::record_inference(
        signed(PAYER),
        MODEL,
        account(PAYER),
        7,
        n,
        (0..n).collect()
    ));
    id
}

fn attestors_of(job: JobId) -> Vec<AccountId> {
    Jobs::<Test>::get(job).unwrap().attestors.into_inner()
}

fn submit(job: JobId, who: &AccountId, shares: Vec<(ContributionId, u32)>) -> DispatchResult {
    Attribution::submit_result(
        RuntimeOrigin::signed(*who),
        job,
        result_digest(job, &shares),
        shares,
    )
    .map(|_| ())
    .map_err(|e| e.error)
}

fn last_event() -> RuntimeEvent {
    System::events().pop().expect("an event").event
}

fn escrow_balance() -> u64 {
    Balances::balance(&Attribution::escrow_account())
}

// ---------------------------------------------------------------------------------------------
// gateways and credit
// ---------------------------------------------------------------------------------------------

#[test]
fn gateways_are_registered_by_governance_and_approved_by_payers() {
    build_and_execute(|| {
        let gw = account(GATEWAY);
        assert_noop!(
            Attribution::register_gateway(signed(PAYER), gw),
            DispatchError::BadOrigin
        );
        assert_noop!(
            Attribution::approve_gateway(signed(PAYER), gw, true),
            Error::<Test>::NotGateway
        );
        assert_ok!(Attribution::register_gateway(RuntimeOrigin::root(), gw));
        assert_eq!(
            last_event(),
            Event::GatewayRegistered { gateway: gw }.into()
        );
        assert_noop!(
            Attribution::register_gateway(RuntimeOrigin::root(), gw),
            Error::<Test>::AlreadyGateway
        );
        assert_ok!(Attribution::approve_gateway(signed(PAYER), gw, true));
        assert!(GatewayApprovals::<Test>::contains_key(account(PAYER), gw));
        assert_ok!(Attribution::approve_gateway(signed(PAYER), gw, false));
        assert!(!GatewayApprovals::<Test>::contains_key(account(PAYER), gw));
        assert_ok!(Attribution::remove_gateway(RuntimeOrigin::root(), gw));
        assert_eq!(last_event(), Event::GatewayRemoved { gateway: gw }.into());
        assert_noop!(
            Attribution::remove_gateway(RuntimeOrigin::root(), gw),
            Error::<Test>::NotGateway
        );
    });
}

#[test]
fn credit_is_held_and_released() {
    build_and_execute(|| {
        let payer = account(PAYER);
        assert_ok!(Attribution::deposit_credit(signed(PAYER), 1_000));
        assert_eq!(Attribution::credit(&payer), 1_000);
        assert_eq!(Balances::free_balance(payer), START_BALANCE - 1_000);
        assert_eq!(
            last_event(),
            Event::CreditDeposited {
                who: payer,
                amount: 1_000
            }
            .into()
        );
        assert_noop!(
            Attribution::deposit_credit(signed(PAYER), 0),
            Error::<Test>::ZeroAmount
        );
        assert_noop!(
            Attribution::deposit_credit(signed(PAYER), START_BALANCE),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            Attribution::withdraw_credit(signed(PAYER), 1_001),
            Error::<Test>::InsufficientCredit
        );
        assert_noop!(
            Attribution::withdraw_credit(signed(PAYER), 0),
            Error::<Test>::ZeroAmount
        );
        assert_ok!(Attribution::withdraw_credit(signed(PAYER), 400));
        assert_eq!(Attribution::credit(&payer), 600);
        assert_eq!(Balances::free_balance(payer), START_BALANCE - 600);
        assert_eq!(
            last_event(),
            Event::CreditWithdrawn {
                who: payer,
                amount: 400
            }
            .into()
        );
    });
}

// ---------------------------------------------------------------------------------------------
// record_inference
// ---------------------------------------------------------------------------------------------

#[test]
fn record_takes_the_fee_into_escrow_and_assigns_k_distinct_attestors() {
    build_and_execute(|| {
        setup();
        let escrow_before = escrow_balance();
        let job = record(3);
        // ceil(1_000_000 × 3 / 1000)
        let fee = 3_000;
        let j = Jobs::<Test>::get(job).unwrap();
        assert_eq!(j.fee, fee);
        assert_eq!(j.status, JobStatus::Pending { round: 0 });
        assert_eq!(j.deadline, 1 + DEADLINE);
        assert_eq!((j.prompt_tokens, j.completion_tokens), (7, 3));
        let bytes: Vec<u8> = [0u32, 1, 2].iter().flat_map(|t| t.to_le_bytes()).collect();
        assert_eq!(j.output_hash, H256(sp_io::hashing::blake2_256(&bytes)));
        assert_eq!(Attribution::credit(&account(PAYER)), 10_000_000 - fee);
        assert_eq!(escrow_balance(), escrow_before + fee);
        assert_eq!(TotalEscrow::<Test>::get(), fee);

        let mut attestors = j.attestors.to_vec();
        assert_eq!(attestors.len(), K as usize);
        attestors.sort();
        attestors.dedup();
        assert_eq!(attestors.len(), K as usize, "attestors are distinct");
        for a in &attestors {
            assert!(MockStaking::attestors().contains(a));
            assert!(Assignments::<Test>::contains_key(a, job));
        }
        assert_eq!(Deadlines::<Test>::get(1 + DEADLINE).to_vec(), vec![job]);
        assert_eq!(ModelInferences::<Test>::get(MODEL, 0), Some(job));
        assert_eq!(ModelInferenceCount::<Test>::get(MODEL), 1);
        assert!(matches!(
            last_event(),
            RuntimeEvent::Attribution(Event::InferenceRecorded {
                job: 0,
                fee: 3_000,
                ..
            })
        ));
    });
}

#[test]
fn fees_round_up_and_small_prices_still_charge() {
    build_and_execute(|| {
        let (datanet, _) = published_datanet(&[b"x"]);
        add_model(MODEL, vec![(datanet, 1)], 1);
        assert_ok!(Attribution::deposit_credit(signed(PAYER), 100));
        let job = record(1);
        assert_eq!(Jobs::<Test>::get(job).unwrap().fee, 1);
    });
}

#[test]
fn the_draw_is_deterministic_and_depends_on_the_job() {
    build_and_execute(|| {
        let a = Attribution::draw_attestors(7, &[]);
        let b = Attribution::draw_attestors(7, &[]);
        assert_eq!(a, b);
        let draws: std::collections::BTreeSet<_> = (0..32)
            .map(|job| Attribution::draw_attestors(job, &[]).into_inner())
            .collect();
        assert!(draws.len() > 1, "different jobs get different attestors");
        // Excluded attestors come last: with 4 attestors and 3 excluded, the fresh one is first.
        let all = MockStaking::attestors();
        let excluded = all[..3].to_vec();
        assert_eq!(Attribution::draw_attestors(7, &excluded)[0], all[3]);
    });
}

#[test]
fn gateways_record_only_for_payers_that_approved_them() {
    build_and_execute(|| {
        setup();
        let gw = account(GATEWAY);
        let call = |who: u8| {
            Attribution::record_inference(signed(who), MODEL, account(PAYER), 1, 2, vec![5, 6])
        };
        assert_noop!(call(GATEWAY), Error::<Test>::NotAuthorizedRecorder);
        assert_ok!(Attribution::register_gateway(RuntimeOrigin::root(), gw));
        assert_noop!(call(GATEWAY), Error::<Test>::NotAuthorizedRecorder);
        assert_ok!(Attribution::approve_gateway(signed(PAYER), gw, true));
        assert_ok!(call(GATEWAY));
        assert_eq!(Jobs::<Test>::get(0).unwrap().recorder, gw);
        // A removed gateway loses the right even though the approval stays.
        assert_ok!(Attribution::remove_gateway(RuntimeOrigin::root(), gw));
        assert_noop!(call(GATEWAY), Error::<Test>::NotAuthorizedRecorder);
    });
}

#[test]
fn bad_records_are_refused_without_changes() {
    build_and_execute(|| {
        setup();
        let payer = account(PAYER);
        let rec = |model, completion, output: Vec<u32>| {
            Attribution::record_inference(signed(PAYER), model, payer, 1, completion, output)
        };
        assert_noop!(rec(MODEL, 0, vec![]), Error::<Test>::EmptyOutput);
        assert_noop!(
            rec(MODEL, MAX_OUTPUT + 1, vec![1; MAX_OUTPUT as usize + 1]),
            Error::<Test>::OutputTooLarge
        );
        assert_noop!(
            rec(MODEL, 3, vec![1, 2]),
            Error::<Test>::OutputLengthMismatch
        );
        assert_noop!(rec(99, 2, vec![1, 2]), Error::<Test>::UnknownModel);
        set_model_status(MODEL, ModelStatus::Retired);
        assert_noop!(rec(MODEL, 2, vec![1, 2]), Error::<Test>::ModelRetired);
        // Deprecated models still serve.
        set_model_status(MODEL, ModelStatus::Deprecated);
        assert_ok!(Attribution::withdraw_credit(signed(PAYER), 9_999_999));
        // One unit of credit left; two tokens cost 2,000.
        assert_noop!(rec(MODEL, 2, vec![1, 2]), Error::<Test>::InsufficientCredit);
        // A third party without any credit.
        assert_noop!(
            Attribution::record_inference(signed(OWNER), MODEL, account(OWNER), 1, 2, vec![1, 2]),
            Error::<Test>::InsufficientCredit
        );
    });
}

#[test]
fn records_need_attestors_and_room_at_the_deadline() {
    build_and_execute(|| {
        setup();
        for _ in 0..JOBS_PER_BLOCK {
            record(2);
        }
        assert_noop!(
            Attribution::record_inference(signed(PAYER), MODEL, account(PAYER), 1, 2, vec![1, 2]),
            Error::<Test>::TooManyJobs
        );
        run_to(2);
        set_attestors(vec![]);
        assert_noop!(
            Attribution::record_inference(signed(PAYER), MODEL, account(PAYER), 1, 2, vec![1, 2]),
            Error::<Test>::NoAttestors
        );
    });
}

// ---------------------------------------------------------------------------------------------
// submit_result: bad input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_results_are_refused_without_changes() {
    build_and_execute(|| {
        let ids = setup();
        let job = record(4);
        let a = attestors_of(job);
        let outsider = MockStaking::attestors()
            .into_iter()
            .find(|x| !a.contains(x))
            .expect("4 > k");
        let good = vec![(ids[0], SHARES_TOTAL)];
        assert_noop!(submit(99, &a[0], good.clone()), Error::<Test>::UnknownJob);
        assert_noop!(
            submit(job, &outsider, good.clone()),
            Error::<Test>::NotAssigned
        );
        assert_noop!(
            submit(job, &a[0], vec![(ids[1], 1), (ids[0], SHARES_TOTAL - 1)]),
            Error::<Test>::SharesNotSorted
        );
        assert_noop!(
            submit(job, &a[0], vec![(ids[0], 0), (ids[1], SHARES_TOTAL)]),
            Error::<Test>::ZeroShare
        );
        assert_noop!(
            submit(job, &a[0], vec![(ids[0], 1), (ids[1], 2)]),
            Error::<Test>::SharesNotComplete
        );
        let five: Vec<_> = (0..5).map(|i| (100 + i, 200_000_000)).collect();
        assert_noop!(submit(job, &a[0], five), Error::<Test>::TooManyShares);
        assert_noop!(
            Attribution::submit_result(
                RuntimeOrigin::signed(a[0]),
                job,
                result_digest(job + 1, &good),
                good.clone()
            ),
            Error::<Test>::DigestMismatch
        );
        // A contribution of another datanet, not in the model's versions.
        let (_, other) = published_datanet(&[b"elsewhere"]);
        assert_noop!(
            submit(job, &a[0], vec![(other[0], SHARES_TOTAL)]),
            Error::<Test>::ContributionNotInModelData
        );
        assert_ok!(submit(job, &a[0], good.clone()));
        assert_noop!(
            submit(job, &a[0], good.clone()),
            Error::<Test>::DuplicateResult
        );
        run_to(1 + DEADLINE + 1);
        // Reassigned: the new round's attestors are past no deadline, the old ones are not
        // assigned any more.
        let round_two = attestors_of(job);
        let deadline = Jobs::<Test>::get(job).unwrap().deadline;
        run_to(deadline + 1);
        assert_eq!(Jobs::<Test>::get(job).unwrap().status, JobStatus::Refunded);
        assert_noop!(submit(job, &round_two[0], good), Error::<Test>::JobClosed);
    });
}

#[test]
fn results_after_the_deadline_are_refused() {
    build_and_execute(|| {
        let ids = setup();
        let job = record(4);
        let a = attestors_of(job);
        let shares = vec![(ids[0], SHARES_TOTAL)];
        assert_ok!(submit(job, &a[0], shares.clone()));
        assert_ok!(submit(job, &a[1], shares.clone()));
        assert!(matches!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Final { .. }
        ));
        System::set_block_number(1 + DEADLINE + 1);
        assert_noop!(submit(job, &a[2], shares), Error::<Test>::DeadlinePassed);
    });
}

// ---------------------------------------------------------------------------------------------
// quorum, distribution, slashing
// ---------------------------------------------------------------------------------------------

#[test]
fn a_majority_finalises_pays_by_the_shares_and_slashes_the_dissenter() {
    build_and_execute(|| {
        let ids = setup();
        let job = record(10);
        let fee = 10_000u64;
        let a = attestors_of(job);
        let honest = vec![(ids[0], 750_000_000), (ids[1], 250_000_000)];
        let liar = vec![(ids[1], SHARES_TOTAL)];
        let treasury = pallet_rewards::Pallet::<Test>::treasury_account();
        let treasury_before = Balances::balance(&treasury);

        assert_ok!(submit(job, &a[0], honest.clone()));
        assert_eq!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Pending { round: 0 }
        );
        assert_ok!(submit(job, &a[1], liar.clone()));
        assert_ok!(submit(job, &a[2], honest.clone()));

        let digest = result_digest(job, &honest);
        assert_eq!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Final { digest }
        );
        assert_eq!(TotalEscrow::<Test>::get(), 0);
        // 20 % owner, 50 % contributors (75/25), 20 % attestors (two of the majority), 10 %
        // treasury: every unit accounted for.
        let unclaimed = |n: u8| pallet_rewards::Unclaimed::<Test>::get(account(n));
        assert_eq!(unclaimed(OWNER), 2_000);
        assert_eq!(unclaimed(CONTRIBUTOR_A), 3_750);
        assert_eq!(unclaimed(CONTRIBUTOR_B), 1_250);
        assert_eq!(pallet_rewards::Unclaimed::<Test>::get(a[0]), 1_000);
        assert_eq!(pallet_rewards::Unclaimed::<Test>::get(a[2]), 1_000);
        assert_eq!(pallet_rewards::Unclaimed::<Test>::get(a[1]), 0);
        assert_eq!(Balances::balance(&treasury) - treasury_before, 1_000);
        assert_eq!(2_000 + 3_750 + 1_250 + 2 * 1_000 + 1_000, fee);

        assert_eq!(
            slashes(),
            vec![(a[1], DissentSlash::get(), SlashReason::AttributionDissent)]
        );
        System::assert_has_event(
            Event::AttestorSlashed {
                job,
                attestor: a[1],
                reason: SlashReason::AttributionDissent,
                amount: DissentSlash::get() * STAKE,
            }
            .into(),
        );
        let attribution = Attribution::api_inference_attribution(job).unwrap();
        assert_eq!(attribution.fee, fee);
        assert_eq!(attribution.digest, digest);
        let mut agreeing = vec![a[0], a[2]];
        agreeing.sort();
        let mut got = attribution.attestors.clone();
        got.sort();
        assert_eq!(got, agreeing);
        assert_eq!(
            attribution.contributions,
            vec![
                ContributionPayout {
                    contribution: ids[0],
                    share: 750_000_000,
                    paid: 3_750
                },
                ContributionPayout {
                    contribution: ids[1],
                    share: 250_000_000,
                    paid: 1_250
                },
            ]
        );
        // Nobody is silent: the deadline slashes no one else.
        run_to(1 + DEADLINE + 1);
        assert_eq!(slashes().len(), 1);
        assert!(Assignments::<Test>::iter().next().is_none());
    });
}

#[test]
fn after_finality_late_results_are_checked_and_silence_is_slashed_at_the_deadline() {
    build_and_execute(|| {
        let ids = setup();
        let honest = vec![(ids[0], SHARES_TOTAL)];
        let job = record(2);
        let a = attestors_of(job);
        assert_ok!(submit(job, &a[0], honest.clone()));
        assert_ok!(submit(job, &a[1], honest.clone()));
        assert!(matches!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Final { .. }
        ));
        // A late result that disagrees with the final digest is slashed at once.
        assert_ok!(submit(job, &a[2], vec![(ids[1], SHARES_TOTAL)]));
        assert_eq!(
            slashes(),
            vec![(a[2], DissentSlash::get(), SlashReason::AttributionDissent)]
        );

        // Second job: the third attestor stays silent.
        let job2 = record(2);
        let b = attestors_of(job2);
        assert_ok!(submit(job2, &b[0], honest.clone()));
        assert_ok!(submit(job2, &b[1], honest.clone()));
        run_to(1 + DEADLINE);
        assert_eq!(slashes().len(), 2, "not before the deadline block");
        assert!(slashes()[1..]
            .iter()
            .all(|s| s.2 == SlashReason::AttributionTimeout));
        assert_eq!(
            slashes()[1],
            (b[2], TimeoutSlash::get(), SlashReason::AttributionTimeout)
        );
        assert!(!Assignments::<Test>::contains_key(b[2], job2));
        // The final result survives the deadline.
        assert!(matches!(
            Jobs::<Test>::get(job2).unwrap().status,
            JobStatus::Final { .. }
        ));
        assert!(Attribution::api_inference_attribution(job2).is_some());
    });
}

#[test]
fn an_output_that_reproduces_no_data_pays_the_contributors_part_to_the_treasury() {
    build_and_execute(|| {
        setup();
        let job = record(10);
        let a = attestors_of(job);
        let treasury = pallet_rewards::Pallet::<Test>::treasury_account();
        let before = Balances::balance(&treasury);
        assert_ok!(submit(job, &a[0], vec![]));
        assert_ok!(submit(job, &a[1], vec![]));
        assert!(matches!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Final { .. }
        ));
        assert_eq!(Balances::balance(&treasury) - before, 1_000 + 5_000);
        assert_eq!(
            pallet_rewards::Unclaimed::<Test>::get(account(CONTRIBUTOR_A)),
            0
        );
        assert!(Attribution::api_inference_attribution(job)
            .unwrap()
            .contributions
            .is_empty());
    });
}

#[test]
fn no_majority_reassigns_once_then_refunds_the_payer() {
    build_and_execute(|| {
        let ids = setup();
        let job = record(5);
        let fee = 5_000;
        let credit_after_record = Attribution::credit(&account(PAYER));
        let first = attestors_of(job);
        // Two different answers, one silent attestor: no majority.
        assert_ok!(submit(job, &first[0], vec![(ids[0], SHARES_TOTAL)]));
        assert_ok!(submit(job, &first[1], vec![(ids[1], SHARES_TOTAL)]));
        run_to(1 + DEADLINE);

        let j = Jobs::<Test>::get(job).unwrap();
        assert_eq!(j.status, JobStatus::Pending { round: 1 });
        assert_eq!(j.deadline, 1 + 2 * DEADLINE);
        // The one attestor not drawn before comes first in the new draw.
        let fresh = MockStaking::attestors()
            .into_iter()
            .find(|x| !first.contains(x))
            .unwrap();
        assert_eq!(j.attestors[0], fresh);
        assert!(
            Results::<Test>::iter_prefix(job).next().is_none(),
            "results of round 0 cleared"
        );
        // Only the silent attestor of round 0 is slashed; the two that disagreed are not.
        assert_eq!(
            slashes(),
            vec![(
                first[2],
                TimeoutSlash::get(),
                SlashReason::AttributionTimeout
            )]
        );
        System::assert_has_event(
            Event::JobReassigned {
                job,
                attestors: j.attestors.to_vec(),
                deadline: j.deadline,
            }
            .into(),
        );

        let second = j.attestors.to_vec();
        assert_ok!(submit(job, &second[0], vec![(ids[0], SHARES_TOTAL)]));
        run_to(1 + 2 * DEADLINE);
        assert_eq!(Jobs::<Test>::get(job).unwrap().status, JobStatus::Refunded);
        assert_eq!(
            Attribution::credit(&account(PAYER)),
            credit_after_record + fee
        );
        assert_eq!(TotalEscrow::<Test>::get(), 0);
        assert_eq!(
            slashes().len(),
            1 + 2,
            "the two silent attestors of round 1"
        );
        System::assert_has_event(
            Event::JobRefunded {
                job,
                payer: account(PAYER),
                fee,
            }
            .into(),
        );
        assert!(Attribution::api_inference_attribution(job).is_none());
    });
}

#[test]
fn a_single_attestor_finalises_alone() {
    build_and_execute(|| {
        let ids = setup();
        set_attestors(vec![account(ATTESTORS[0])]);
        let job = record(2);
        assert_eq!(attestors_of(job), vec![account(ATTESTORS[0])]);
        assert_ok!(submit(
            job,
            &account(ATTESTORS[0]),
            vec![(ids[1], SHARES_TOTAL)]
        ));
        assert!(matches!(
            Jobs::<Test>::get(job).unwrap().status,
            JobStatus::Final { .. }
        ));
    });
}

#[test]
fn submitting_a_valid_result_is_free() {
    build_and_execute(|| {
        let ids = setup();
        let job = record(2);
        let a = attestors_of(job);
        let shares = vec![(ids[0], SHARES_TOTAL)];
        let info = Attribution::submit_result(
            RuntimeOrigin::signed(a[0]),
            job,
            result_digest(job, &shares),
            shares,
        )
        .unwrap();
        assert_eq!(info.pays_fee, frame_support::dispatch::Pays::No);
    });
}

// ---------------------------------------------------------------------------------------------
// runtime API
// ---------------------------------------------------------------------------------------------

#[test]
fn the_api_pages_a_models_inferences_and_reports_results() {
    build_and_execute(|| {
        let ids = setup();
        let jobs: Vec<JobId> = (0..2).map(|_| record(1)).collect();
        run_to(2);
        let jobs: Vec<JobId> = jobs.into_iter().chain((0..2).map(|_| record(1))).collect();
        let page = Attribution::api_model_inferences(MODEL, 0, 10);
        assert_eq!(page.len(), 3, "clamped to the page size");
        assert_eq!(
            page.iter().map(|j| j.id).collect::<Vec<_>>(),
            jobs[..3].to_vec()
        );
        let rest = Attribution::api_model_inferences(MODEL, 3, 10);
        assert_eq!(rest.iter().map(|j| j.id).collect::<Vec<_>>(), vec![jobs[3]]);
        assert!(Attribution::api_model_inferences(MODEL + 1, 0, 10).is_empty());

        let a = attestors_of(jobs[0]);
        let shares = vec![(ids[0], SHARES_TOTAL)];
        assert_ok!(submit(jobs[0], &a[1], shares.clone()));
        let info = Attribution::api_job(jobs[0]).unwrap();
        assert_eq!(info.payer, account(PAYER));
        assert_eq!(info.fee, 1_000);
        assert_eq!(info.attestors, a);
        assert_eq!(
            info.results,
            vec![SubmittedResult {
                attestor: a[1],
                digest: result_digest(jobs[0], &shares)
            }]
        );
        assert!(Attribution::api_job(99).is_none());
    });
}

// ---------------------------------------------------------------------------------------------
// off-chain worker
// ---------------------------------------------------------------------------------------------

/// Externalities of an attestor's node: offchain worker and database, a transaction pool, a
/// keystore holding the `attr` key of seed `key`, and `engine`.
fn worker_ext(
    key: u8,
    engine: Arc<TableEngine>,
) -> (
    sp_io::TestExternalities,
    Arc<parking_lot::RwLock<testing::PoolState>>,
) {
    let (offchain, _) = testing::TestOffchainExt::new();
    let (pool, pool_state) = testing::TestTransactionPoolExt::new();
    let keystore = MemoryKeystore::new();
    keystore
        .insert(
            crate::KEY_TYPE,
            &format!("0x{}", hex(&[key; 32])),
            pair(key).public().as_ref(),
        )
        .unwrap();
    let mut ext = new_test_ext();
    ext.register_extension(OffchainDbExt::new(offchain.clone()));
    ext.register_extension(OffchainWorkerExt::new(offchain));
    ext.register_extension(TransactionPoolExt::new(pool));
    ext.register_extension(KeystoreExt::new(keystore));
    ext.register_extension(engine_ext(engine));
    (ext, pool_state)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_worker_computes_its_jobs_with_the_engine_and_sends_a_signed_result() {
    let engine = Arc::new(TableEngine::default());
    // The node's key is the first attestor of job 0 (found below); try each until assigned.
    for key in ATTESTORS {
        let (mut ext, pool) = worker_ext(key, engine.clone());
        let sent = ext.execute_with(|| {
            let ids = setup();
            let job = record(3);
            let me = account(key);
            let shares = vec![(ids[0], 600_000_000), (ids[1], 400_000_000)];
            engine
                .answers
                .lock()
                .unwrap()
                .insert(job, Ok(shares.clone()));
            Attribution::offchain_worker(1);
            let assigned = attestors_of(job).contains(&me);
            let txs = std::mem::take(&mut pool.write().transactions);
            if !assigned {
                assert!(txs.is_empty(), "a node sends nothing for jobs of others");
                return false;
            }
            assert_eq!(txs.len(), 1);
            let tx = decode_tx(&txs[0]);
            let call = RuntimeCall::Attribution(crate::Call::submit_result {
                job,
                digest: result_digest(job, &shares),
                shares: shares.clone(),
            });
            assert_eq!(tx.function, call);
            match tx.preamble {
                sp_runtime::generic::Preamble::Signed(who, signature, ()) => {
                    assert_eq!(who, me);
                    assert!(
                        signature.verify(&call.encode()[..], &me),
                        "signed by the attr key"
                    );
                }
                _ => panic!("a signed transaction"),
            }
            // What the engine was asked: the model's method, data and output.
            let request = engine.requests.lock().unwrap().last().cloned().unwrap();
            assert_eq!(request.job, job);
            assert_eq!(
                request.method,
                EngineMethod::TokenSpans {
                    tokenizer_hash: H256::repeat_byte(9)
                }
            );
            assert_eq!(
                request
                    .contributions
                    .iter()
                    .map(|c| c.id)
                    .collect::<Vec<_>>(),
                ids
            );
            assert_eq!(
                request.output_hash,
                Jobs::<Test>::get(job).unwrap().output_hash
            );
            assert_eq!((request.output_len, request.max_shares), (3, MAX_SHARES));

            // The next run does not compute or send the same job again ...
            Attribution::offchain_worker(2);
            assert!(pool.read().transactions.is_empty());
            // ... until the result has had time to land.
            Attribution::offchain_worker(1 + crate::offchain::RESUBMIT_AFTER as u64);
            assert_eq!(pool.read().transactions.len(), 1);
            // The transaction executes: the result is on-chain.
            let tx = decode_tx(&txs[0]);
            assert_ok!(tx.function.dispatch(RuntimeOrigin::signed(me)));
            assert!(Results::<Test>::contains_key(job, me));
            true
        });
        if sent {
            return;
        }
    }
    panic!("some attestor was assigned job 0");
}

#[test]
fn the_worker_sends_nothing_when_the_engine_fails() {
    let engine = Arc::new(TableEngine::default());
    for key in ATTESTORS {
        let (mut ext, pool) = worker_ext(key, engine.clone());
        ext.execute_with(|| {
            setup();
            let job = record(3);
            engine
                .answers
                .lock()
                .unwrap()
                .insert(job, Err(EngineError::MissingData(H256::repeat_byte(3))));
            Attribution::offchain_worker(1);
            assert!(pool.read().transactions.is_empty());
        });
    }
    // Without the engine extension the host function answers `Unavailable`.
    new_test_ext().execute_with(|| {
        let request = AttributionRequest {
            job: 0,
            model: 0,
            method: EngineMethod::TokenSpans {
                tokenizer_hash: H256::zero(),
            },
            versions: vec![],
            contributions: vec![],
            output_hash: H256::zero(),
            output_len: 0,
            max_shares: 1,
        };
        assert_eq!(
            attribution_engine::attribute(request),
            Err(EngineError::Unavailable)
        );
    });
}

#[test]
fn jobs_the_engine_cannot_compute_yet_do_not_starve_the_others() {
    let engine = Arc::new(TableEngine::default());
    let key = ATTESTORS[0];
    let (mut ext, pool) = worker_ext(key, engine.clone());
    ext.execute_with(|| {
        let ids = setup();
        let me = account(key);
        set_attestors(vec![me]);
        // Ten jobs, two per block (the mock's deadline bucket), all assigned to this node.
        for _ in 0..5 {
            record(2);
            record(2);
            run_to(System::block_number() + 1);
        }
        let order: Vec<JobId> = Assignments::<Test>::iter_key_prefix(me).collect();
        assert_eq!(order.len(), 10);
        // Only the job the worker reaches last can be computed.
        let last = *order.last().unwrap();
        for job in &order {
            let answer = if *job == last {
                Ok(vec![(ids[0], SHARES_TOTAL)])
            } else {
                Err(EngineError::MissingData(H256::repeat_byte(1)))
            };
            engine.answers.lock().unwrap().insert(*job, answer);
        }
        let now = System::block_number();
        Attribution::offchain_worker(now);
        assert!(pool.read().transactions.is_empty(), "eight failures use up the first run");
        Attribution::offchain_worker(now + 1);
        let txs = std::mem::take(&mut pool.write().transactions);
        assert_eq!(txs.len(), 1, "the next run skips the jobs it tried and reaches the last");
        assert!(matches!(
            decode_tx(&txs[0]).function,
            RuntimeCall::Attribution(crate::Call::submit_result { job, .. }) if job == last
        ));
    });
}
