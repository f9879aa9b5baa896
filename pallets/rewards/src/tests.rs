//! Unit tests on the mock runtime (real datanets for contribution → contributor): every call
//! and error (nothing stored, no funds moved), the documented rounding rule on worked
//! examples, the read API, and property tests that a distribution conserves value exactly.
//! `build_and_execute` checks `do_try_state` after each test.

use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, assert_storage_noop, traits::fungible::Inspect as _};
use proptest::prelude::*;
use sp_runtime::traits::BadOrigin;

type Ev = crate::Event<Test>;

const MODEL: ModelId = 7;

fn rewards_events() -> Vec<Ev> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Rewards(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn bal(who: u64) -> u64 {
    Balances::balance(&who)
}

fn treasury() -> u64 {
    Rewards::treasury_account()
}

fn pot() -> u64 {
    Rewards::pot_account()
}

/// Two contributions: the first by CONTRIBUTOR_A, the second by CONTRIBUTOR_B.
fn two_contributions() -> (ContributionId, ContributionId) {
    let d = datanet();
    let a = contribute(d, CONTRIBUTOR_A, b"alpha").expect("contributed");
    let b = contribute(d, CONTRIBUTOR_B, b"beta").expect("contributed");
    (a, b)
}

const SPLIT_30_50_10_10: [u32; 4] = [300_000_000, 500_000_000, 100_000_000, 100_000_000];

#[test]
fn genesis_creates_treasury_and_pot() {
    build_and_execute(|| {
        assert_eq!(bal(treasury()), ED);
        assert_eq!(bal(pot()), ED);
        assert_ne!(treasury(), pot());
        let t = Rewards::api_treasury();
        assert_eq!((t.account, t.balance, t.unclaimed_rewards), (treasury(), ED, 0));
    });
}

#[test]
fn distribute_splits_exactly_and_accrues() {
    build_and_execute(|| {
        add_model(MODEL, OWNER, SPLIT_30_50_10_10);
        let (a, b) = two_contributions();
        let payer = bal(PAYER);
        assert_ok!(Rewards::distribute(
            &PAYER,
            1_000,
            MODEL,
            &[(a, 600_000_000), (b, 400_000_000)],
            &[ATTESTOR_1, ATTESTOR_2, ATTESTOR_3],
        ));
        // owner 300; contributors 500 = 300 + 200; attestors ⌊100 / 3⌋ = 33 each; the treasury
        // its 100 plus the 1 left over by the attestors.
        assert_eq!(bal(PAYER), payer - 1_000);
        assert_eq!(bal(pot()), ED + 899);
        assert_eq!(bal(treasury()), ED + 101);
        for (who, amount) in [
            (OWNER, 300),
            (CONTRIBUTOR_A, 300),
            (CONTRIBUTOR_B, 200),
            (ATTESTOR_1, 33),
            (ATTESTOR_2, 33),
            (ATTESTOR_3, 33),
        ] {
            assert_eq!(Unclaimed::<Test>::get(who), amount, "account {who}");
        }
        assert_eq!(TotalUnclaimed::<Test>::get(), 899);
        let events = rewards_events();
        assert!(events.contains(&Ev::RewardAccrued {
            who: CONTRIBUTOR_A,
            amount: 300,
            model: MODEL,
            source: RewardSource::Contribution(a),
        }));
        assert!(events.contains(&Ev::RewardAccrued {
            who: OWNER,
            amount: 300,
            model: MODEL,
            source: RewardSource::ModelOwner,
        }));
        assert_eq!(
            events.last(),
            Some(&Ev::FeeDistributed {
                model: MODEL,
                payer: PAYER,
                fee: 1_000,
                owner: 300,
                contributors: 500,
                attestors: 99,
                treasury: 101,
            })
        );
        assert_eq!(Rewards::api_model(MODEL), ModelRewards { fees: 1_000, distributions: 1 });
    });
}

#[test]
fn every_rounding_remainder_goes_to_the_treasury() {
    build_and_execute(|| {
        // Thirds of a fee of 7: each floor loses a fraction of a unit.
        add_model(MODEL, OWNER, [333_333_333, 333_333_333, 333_333_334, 0]);
        let (a, b) = two_contributions();
        assert_ok!(Rewards::distribute(
            &PAYER,
            7,
            MODEL,
            &[(a, 500_000_000), (b, 500_000_000)],
            &[ATTESTOR_1, ATTESTOR_2],
        ));
        // owner ⌊2.33⌋ = 2; contributors ⌊2.33⌋ = 2 → 1 + 1; attestors ⌊2.33⌋ = 2 → 1 + 1;
        // the treasury, whose own share is 0, gets the 1 left.
        assert_eq!(
            rewards_events().last(),
            Some(&Ev::FeeDistributed {
                model: MODEL,
                payer: PAYER,
                fee: 7,
                owner: 2,
                contributors: 2,
                attestors: 2,
                treasury: 1,
            })
        );
        assert_eq!(bal(treasury()), ED + 1);
    });
}

#[test]
fn unattributed_and_unattested_parts_go_to_the_treasury() {
    build_and_execute(|| {
        add_model(MODEL, OWNER, SPLIT_30_50_10_10);
        assert_ok!(Rewards::distribute(&PAYER, 1_000, MODEL, &[], &[]));
        assert_eq!(Unclaimed::<Test>::get(OWNER), 300);
        assert_eq!(bal(treasury()), ED + 700);
        // A zero fee moves nothing and accrues nothing.
        assert_ok!(Rewards::distribute(&PAYER, 0, MODEL, &[], &[ATTESTOR_1]));
        assert_eq!(Unclaimed::<Test>::get(ATTESTOR_1), 0);
        assert_eq!(Rewards::api_model(MODEL).distributions, 2);
    });
}

#[test]
fn bad_distributions_fail_with_named_errors_and_move_nothing() {
    build_and_execute(|| {
        add_model(MODEL, OWNER, SPLIT_30_50_10_10);
        add_model(MODEL + 1, OWNER, [300_000_000, 500_000_000, 100_000_000, 99_999_999]);
        let (a, b) = two_contributions();
        let cases: Vec<(ModelId, u64, Vec<(ContributionId, u32)>, Vec<u64>, Error<Test>)> = vec![
            (99, 1_000, vec![], vec![], Error::UnknownModel),
            (MODEL + 1, 1_000, vec![], vec![], Error::InvalidFeeSplit),
            (MODEL, 1_000, vec![(a, 600_000_000), (b, 399_999_999)], vec![], Error::SharesNotComplete),
            (MODEL, 1_000, vec![(a, 600_000_000), (b, 400_000_001)], vec![], Error::SharesNotComplete),
            (MODEL, 1_000, vec![(a, u32::MAX), (b, u32::MAX)], vec![], Error::SharesNotComplete),
            (MODEL, 1_000, vec![(a, 500_000_000), (a, 500_000_000)], vec![], Error::DuplicateContribution),
            (MODEL, 1_000, vec![(a, 500_000_000), (999, 500_000_000)], vec![], Error::UnknownContribution),
            (MODEL, 1_000, (0..=MAX_SHARES as u64).map(|c| (c, 0)).collect(), vec![], Error::TooManyShares),
            (MODEL, 1_000, vec![], vec![ATTESTOR_1, ATTESTOR_1], Error::DuplicateAttestor),
            (MODEL, 1_000, vec![], (0..=MAX_ATTESTORS as u64).collect(), Error::TooManyAttestors),
            (MODEL, START_BALANCE + 1, vec![], vec![], Error::InsufficientBalance),
        ];
        for (model, fee, shares, attestors, error) in cases {
            assert_storage_noop!(assert_eq!(
                Rewards::distribute(&PAYER, fee, model, &shares, &attestors),
                Err(error.into())
            ));
        }
    });
}

#[test]
fn claim_pays_everything_once() {
    build_and_execute(|| {
        add_model(MODEL, OWNER, SPLIT_30_50_10_10);
        let (a, _) = two_contributions();
        assert_ok!(Rewards::distribute(&PAYER, 1_000, MODEL, &[(a, 1_000_000_000)], &[]));
        assert_ok!(Rewards::distribute(&PAYER, 2_000, MODEL, &[(a, 1_000_000_000)], &[]));
        let before = bal(CONTRIBUTOR_A);
        assert_ok!(Rewards::claim(RuntimeOrigin::signed(CONTRIBUTOR_A)));
        assert_eq!(rewards_events().last(), Some(&Ev::Claimed { who: CONTRIBUTOR_A, amount: 1_500 }));
        assert_eq!(bal(CONTRIBUTOR_A), before + 1_500);
        assert_eq!(Unclaimed::<Test>::get(CONTRIBUTOR_A), 0);
        assert_eq!(
            Rewards::api_account(CONTRIBUTOR_A),
            AccountRewards { as_owner: 0, as_contributor: 1_500, as_attestor: 0, claimed: 1_500, unclaimed: 0 }
        );
        assert_noop!(Rewards::claim(RuntimeOrigin::signed(CONTRIBUTOR_A)), Error::<Test>::NothingToClaim);
        assert_eq!(bal(pot()), ED + 900);
        assert_ok!(Rewards::claim(RuntimeOrigin::signed(OWNER)));
        assert_eq!(bal(pot()), ED);
    });
}

#[test]
fn claim_errors() {
    build_and_execute(|| {
        assert_noop!(Rewards::claim(RuntimeOrigin::signed(OWNER)), Error::<Test>::NothingToClaim);
        assert_noop!(Rewards::claim(RuntimeOrigin::root()), BadOrigin);
    });
}

#[test]
fn contribution_history_answers_what_my_data_earned() {
    build_and_execute(|| {
        add_model(MODEL, OWNER, SPLIT_30_50_10_10);
        add_model(MODEL + 1, OWNER, [0, 1_000_000_000, 0, 0]);
        let (a, b) = two_contributions();
        assert_ok!(Rewards::distribute(&PAYER, 1_000, MODEL, &[(a, 250_000_000), (b, 750_000_000)], &[]));
        assert_ok!(Rewards::distribute(&PAYER, 100, MODEL + 1, &[(a, 1_000_000_000)], &[]));
        let page = Rewards::api_contributions(vec![a, b, 999]);
        assert_eq!(
            page,
            vec![
                ContributionRewards { contribution: a, contributor: Some(CONTRIBUTOR_A), earned: 225, payouts: 2 },
                ContributionRewards { contribution: b, contributor: Some(CONTRIBUTOR_B), earned: 375, payouts: 1 },
                ContributionRewards { contribution: 999, contributor: None, earned: 0, payouts: 0 },
            ]
        );
        // At most a page per call.
        assert_eq!(Rewards::api_contributions(vec![a; PAGE as usize + 2]).len(), PAGE as usize);
        assert_eq!(Rewards::api_account(OWNER).as_owner, 300);
        assert_eq!(Rewards::api_account(OWNER).unclaimed, 300);
        assert_eq!(Rewards::api_treasury().unclaimed_rewards, 300 + 225 + 375);
    });
}

fn split_strategy() -> impl Strategy<Value = [u32; 4]> {
    // Three cut points in [0, 10^9] give four parts summing to exactly 10^9.
    prop::array::uniform3(0..=BILLION).prop_map(|mut cuts| {
        cuts.sort();
        [cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], BILLION - cuts[2]]
    })
}

fn shares_strategy(max: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0..=BILLION, 0..max).prop_map(|mut cuts| {
        if cuts.is_empty() {
            return vec![];
        }
        cuts.sort();
        let mut parts = Vec::with_capacity(cuts.len() + 1);
        let mut prev = 0;
        for c in cuts {
            parts.push(c - prev);
            prev = c;
        }
        parts.push(BILLION - prev);
        parts
    })
}

fn fee_split(p: [u32; 4]) -> FeeSplit {
    FeeSplit {
        owner: Perbill::from_parts(p[0]),
        contributors: Perbill::from_parts(p[1]),
        attestors: Perbill::from_parts(p[2]),
        treasury: Perbill::from_parts(p[3]),
    }
}

proptest! {
    /// The pure split over the whole u128 range: parts sum to the fee, and each part is at
    /// most its exact rational share (floors), so the treasury gets at least its own share.
    #[test]
    fn split_conserves_value(
        fee in any::<u128>(),
        split in split_strategy(),
        shares in shares_strategy(64),
        attestors in 0usize..64,
    ) {
        let shares: Vec<(ContributionId, u32)> =
            shares.into_iter().enumerate().map(|(i, p)| (i as u64, p)).collect();
        let contributors: Vec<u32> = (0..shares.len() as u32).collect();
        let attestors: Vec<u32> = (1_000..1_000 + attestors as u32).collect();
        let s = compute_split(fee, &fee_split(split), &u32::MAX, &shares, &contributors, &attestors);
        let total = s.owner.1
            + s.contributors.iter().map(|c| c.2).sum::<u128>()
            + s.attestors.iter().map(|a| a.1).sum::<u128>()
            + s.treasury;
        prop_assert_eq!(total, fee);
        prop_assert!(s.treasury >= Perbill::from_parts(split[3]).mul_floor(fee));
        prop_assert_eq!(s.contributors.len(), shares.len());
    }

    /// End to end on the mock: the payer loses exactly the fee, pot and treasury gain exactly
    /// it, and the accruals plus the treasury's part are the fee.
    #[test]
    fn distribution_on_chain_conserves_value(
        fee in 0u64..=START_BALANCE,
        split in split_strategy(),
        shares in shares_strategy(MAX_SHARES as usize),
        attestors in 0u64..=MAX_ATTESTORS as u64,
    ) {
        build_and_execute(|| {
            add_model(MODEL, OWNER, split);
            let d = datanet();
            let shares: Vec<(ContributionId, u32)> = shares
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let who = [CONTRIBUTOR_A, CONTRIBUTOR_B][i % 2];
                    (contribute(d, who, &(i as u32).to_le_bytes()).expect("contributed"), *p)
                })
                .collect();
            let attestors: Vec<u64> = (0..attestors).map(|i| ATTESTOR_1 + i).collect();
            let issuance = Balances::total_issuance();
            let (payer, pot0, treasury0) = (bal(PAYER), bal(pot()), bal(treasury()));
            Rewards::distribute(&PAYER, fee, MODEL, &shares, &attestors).expect("valid");
            assert_eq!(bal(PAYER), payer - fee);
            let treasury_gain = bal(treasury()) - treasury0;
            assert_eq!(bal(pot()) - pot0 + treasury_gain, fee);
            assert_eq!(TotalUnclaimed::<Test>::get() + treasury_gain, fee);
            assert_eq!(Balances::total_issuance(), issuance);
        });
    }
}
