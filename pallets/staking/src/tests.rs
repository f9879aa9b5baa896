//! Unit tests on the mock runtime: every call, every error (with `assert_noop!`: nothing
//! changes, no funds move), every event, slashing with its defer window, validator selection.
//! `build_and_execute` checks `do_try_state` (holds == ledgers) after each test.

use crate::{mock::*, *};
use frame_support::{
    assert_noop, assert_ok,
    traits::fungible::{Inspect as _, InspectHold as _},
};
use pallet_session::SessionManager;
use sp_runtime::{traits::BadOrigin, Perbill};

type Ev = crate::Event<Test>;

fn held(who: u64) -> u64 {
    Balances::balance_on_hold(&HoldReason::Staking.into(), &who)
}

fn last_event() -> Ev {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Staking(e) => Some(e),
            _ => None,
        })
        .last()
        .expect("a staking event")
}

fn ledger(who: u64) -> StakingLedger<Test> {
    Ledger::<Test>::get(who).expect("bonded")
}

fn chunks(who: u64) -> Vec<(u64, u64)> {
    ledger(who).unlocking.iter().map(|c| (c.value, c.until)).collect()
}

#[test]
fn genesis_bonds_stakers_with_their_roles() {
    build_and_execute(|| {
        assert_eq!(held(GENESIS_VALIDATOR), GENESIS_STAKE);
        assert_eq!(Staking::stake(&GENESIS_VALIDATOR), GENESIS_STAKE);
        assert!(Staking::has_role(&GENESIS_VALIDATOR, Role::Validator));
        assert_eq!(Candidates::<Test>::get().into_inner(), vec![GENESIS_VALIDATOR]);
        assert_eq!(ValidatorCount::<Test>::get(), 2);
        assert_eq!(TotalBonded::<Test>::get(), GENESIS_STAKE);
    });
}

#[test]
fn bond_holds_funds_and_adds_up() {
    build_and_execute(|| {
        let free = Balances::balance(&ALICE);
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 300));
        assert_eq!(last_event(), Ev::Bonded { who: ALICE, amount: 300 });
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 200));
        assert_eq!(ledger(ALICE).active, 500);
        assert_eq!(held(ALICE), 500);
        assert_eq!(Balances::balance(&ALICE), free - 500);
        assert_eq!(TotalBonded::<Test>::get(), GENESIS_STAKE + 500);
    });
}

#[test]
fn bond_rejects_bad_amounts() {
    build_and_execute(|| {
        assert_noop!(Staking::bond(RuntimeOrigin::signed(ALICE), 0), Error::<Test>::ZeroAmount);
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(ALICE), MIN_BOND - 1),
            Error::<Test>::BelowMinimumBond
        );
        // The whole balance would leave nothing for the existential deposit.
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(ALICE), START_BALANCE),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(ALICE), START_BALANCE * 2),
            Error::<Test>::InsufficientBalance
        );
        // An account that does not exist has nothing to bond.
        assert_noop!(Staking::bond(RuntimeOrigin::signed(99), 50), Error::<Test>::InsufficientBalance);
        assert_noop!(Staking::bond(RuntimeOrigin::root(), 50), BadOrigin);
        assert!(Ledger::<Test>::get(ALICE).is_none());
        // Everything but the existential deposit can be bonded.
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), START_BALANCE - ED));
    });
}

#[test]
fn unbond_moves_stake_to_chunks_that_merge_per_block() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 100));
        assert_eq!(last_event(), Ev::Unbonded { who: ALICE, amount: 100, until: 1 + UNBONDING });
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 50));
        assert_eq!(chunks(ALICE), vec![(150, 1 + UNBONDING)]);
        run_to_block(2);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 10));
        assert_eq!(chunks(ALICE), vec![(150, 1 + UNBONDING), (10, 2 + UNBONDING)]);
        assert_eq!(ledger(ALICE).active, 840);
        // Unbonding funds stay on hold.
        assert_eq!(held(ALICE), 1_000);
        assert_eq!(Staking::stake(&ALICE), 840);
    });
}

#[test]
fn unbond_errors() {
    build_and_execute(|| {
        assert_noop!(Staking::unbond(RuntimeOrigin::signed(ALICE), 10), Error::<Test>::NotBonded);
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_noop!(Staking::unbond(RuntimeOrigin::signed(ALICE), 0), Error::<Test>::ZeroAmount);
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(ALICE), 1_001),
            Error::<Test>::InsufficientBond
        );
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(ALICE), 1_000 - MIN_BOND + 1),
            Error::<Test>::BelowMinimumBond
        );
        assert_ok!(Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Attestor));
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(ALICE), 1_000 - MIN_ATTESTOR + 1),
            Error::<Test>::StakeBacksRole
        );
        for block in 2..2 + MAX_CHUNKS as u64 {
            run_to_block(block);
            assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 1));
        }
        run_to_block(2 + MAX_CHUNKS as u64);
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(ALICE), 1),
            Error::<Test>::TooManyUnlockingChunks
        );
    });
}

#[test]
fn rebond_takes_newest_chunks_first() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 100));
        run_to_block(2);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 30));
        assert_ok!(Staking::rebond(RuntimeOrigin::signed(ALICE), 50));
        assert_eq!(last_event(), Ev::Rebonded { who: ALICE, amount: 50 });
        assert_eq!(chunks(ALICE), vec![(80, 1 + UNBONDING)]);
        assert_eq!(ledger(ALICE).active, 920);
        assert_eq!(held(ALICE), 1_000);
        assert_ok!(Staking::rebond(RuntimeOrigin::signed(ALICE), 80));
        assert!(chunks(ALICE).is_empty());
        assert_eq!(ledger(ALICE).active, 1_000);
    });
}

#[test]
fn rebond_errors() {
    build_and_execute(|| {
        assert_noop!(Staking::rebond(RuntimeOrigin::signed(ALICE), 10), Error::<Test>::NotBonded);
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_noop!(
            Staking::rebond(RuntimeOrigin::signed(ALICE), 10),
            Error::<Test>::NothingUnbonding
        );
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_noop!(Staking::rebond(RuntimeOrigin::signed(ALICE), 0), Error::<Test>::ZeroAmount);
        assert_noop!(
            Staking::rebond(RuntimeOrigin::signed(ALICE), 1_001),
            Error::<Test>::InsufficientUnbonding
        );
        // Rebonding dust would leave a non-zero active stake below the minimum.
        assert_noop!(
            Staking::rebond(RuntimeOrigin::signed(ALICE), MIN_BOND - 1),
            Error::<Test>::BelowMinimumBond
        );
    });
}

#[test]
fn withdraw_releases_only_mature_chunks() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 100));
        run_to_block(3);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 200));
        // Early: nothing is mature yet, nothing moves.
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)),
            Error::<Test>::StillUnbonding
        );
        run_to_block(UNBONDING);
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)),
            Error::<Test>::StillUnbonding
        );
        run_to_block(1 + UNBONDING);
        let free = Balances::balance(&ALICE);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)));
        assert_eq!(last_event(), Ev::Withdrawn { who: ALICE, amount: 100 });
        assert_eq!(Balances::balance(&ALICE), free + 100);
        assert_eq!(held(ALICE), 900);
        assert_eq!(chunks(ALICE), vec![(200, 3 + UNBONDING)]);
        assert_eq!(TotalBonded::<Test>::get(), GENESIS_STAKE + 900);
    });
}

#[test]
fn withdrawing_everything_removes_the_ledger() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 1_000));
        run_to_block(1 + UNBONDING);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)));
        assert!(Ledger::<Test>::get(ALICE).is_none());
        assert_eq!(held(ALICE), 0);
        assert_eq!(Balances::balance(&ALICE), START_BALANCE);
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)),
            Error::<Test>::NotBonded
        );
    });
}

#[test]
fn withdraw_without_unbonding_fails() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(ALICE)),
            Error::<Test>::NothingUnbonding
        );
    });
}

#[test]
fn declare_and_drop_roles() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        for role in [Role::Curator, Role::Validator, Role::Attestor] {
            assert_ok!(Staking::declare_role(RuntimeOrigin::signed(ALICE), role));
            assert_eq!(last_event(), Ev::RoleDeclared { who: ALICE, role });
            assert!(Staking::has_role(&ALICE, role));
        }
        assert_eq!(
            Roles::<Test>::get(ALICE).into_inner(),
            vec![Role::Validator, Role::Attestor, Role::Curator]
        );
        assert_eq!(Candidates::<Test>::get().into_inner(), vec![ALICE, GENESIS_VALIDATOR]);
        assert_eq!(Staking::attestors(), vec![ALICE]);
        assert_ok!(Staking::drop_role(RuntimeOrigin::signed(ALICE), Role::Validator));
        assert_eq!(last_event(), Ev::RoleDropped { who: ALICE, role: Role::Validator });
        assert!(!Staking::has_role(&ALICE, Role::Validator));
        assert_eq!(Candidates::<Test>::get().into_inner(), vec![GENESIS_VALIDATOR]);
        assert_ok!(Staking::drop_role(RuntimeOrigin::signed(ALICE), Role::Attestor));
        assert!(Staking::attestors().is_empty());
        assert_ok!(Staking::drop_role(RuntimeOrigin::signed(ALICE), Role::Curator));
        assert!(!Roles::<Test>::contains_key(ALICE));
        // With no roles left, the whole stake can be unbonded.
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 1_000));
    });
}

#[test]
fn role_errors() {
    build_and_execute(|| {
        assert_noop!(
            Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Curator),
            Error::<Test>::NotBonded
        );
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), MIN_ATTESTOR));
        assert_noop!(
            Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Validator),
            Error::<Test>::InsufficientStakeForRole
        );
        assert_ok!(Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Attestor));
        assert_noop!(
            Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Attestor),
            Error::<Test>::RoleAlreadyDeclared
        );
        assert_noop!(
            Staking::drop_role(RuntimeOrigin::signed(ALICE), Role::Curator),
            Error::<Test>::RoleNotDeclared
        );
        // Fill the attestor list (3) and the candidate list (6).
        for who in [BOB, CHARLIE, DAVE] {
            assert_ok!(Staking::bond(RuntimeOrigin::signed(who), MIN_VALIDATOR));
        }
        for who in [BOB, CHARLIE] {
            assert_ok!(Staking::declare_role(RuntimeOrigin::signed(who), Role::Attestor));
        }
        assert_noop!(
            Staking::declare_role(RuntimeOrigin::signed(DAVE), Role::Attestor),
            Error::<Test>::TooManyAttestors
        );
        for who in [BOB, CHARLIE, DAVE, EVE, FERDIE] {
            if who >= EVE {
                assert_ok!(Staking::bond(RuntimeOrigin::signed(who), MIN_VALIDATOR));
            }
            assert_ok!(Staking::declare_role(RuntimeOrigin::signed(who), Role::Validator));
        }
        assert_ok!(Staking::bond(RuntimeOrigin::signed(REPORTER), MIN_VALIDATOR));
        assert_noop!(
            Staking::declare_role(RuntimeOrigin::signed(REPORTER), Role::Validator),
            Error::<Test>::TooManyCandidates
        );
    });
}

#[test]
fn validators_are_the_top_n_by_stake_with_keys() {
    build_and_execute(|| {
        // Stakes: GENESIS_VALIDATOR 2,000 (no keys yet), ALICE 3,000, BOB 1,500, CHARLIE 1,500,
        // EVE 1,000.
        for (who, stake) in [(ALICE, 3_000), (BOB, 1_500), (CHARLIE, 1_500), (EVE, 1_000)] {
            assert_ok!(Staking::bond(RuntimeOrigin::signed(who), stake));
            assert_ok!(Staking::declare_role(RuntimeOrigin::signed(who), Role::Validator));
            register_keys(who);
        }
        // Two seats: ALICE, then the BOB/CHARLIE tie goes to the lower account id. Sets come
        // sorted by account id.
        assert_eq!(Staking::new_session(1), Some(vec![ALICE, BOB]));
        assert_eq!(last_event(), Ev::ValidatorsSelected { session: 1, validators: vec![ALICE, BOB] });
        // The genesis validator outranks BOB once it has keys.
        register_keys(GENESIS_VALIDATOR);
        assert_eq!(Staking::new_session(2), Some(vec![ALICE, GENESIS_VALIDATOR]));
        assert_ok!(Staking::set_validator_count(RuntimeOrigin::root(), 4));
        assert_eq!(last_event(), Ev::ValidatorCountSet { count: 4 });
        assert_eq!(
            Staking::new_session(3),
            Some(vec![ALICE, BOB, CHARLIE, GENESIS_VALIDATOR])
        );
        // Stake changes reorder the set; unbonding below the minimum is refused while a
        // candidate, so CHARLIE drops out by dropping the role.
        assert_ok!(Staking::bond(RuntimeOrigin::signed(EVE), 5_000));
        assert_ok!(Staking::drop_role(RuntimeOrigin::signed(CHARLIE), Role::Validator));
        assert_eq!(Staking::new_session(4), Some(vec![ALICE, BOB, EVE, GENESIS_VALIDATOR]));
    });
}

#[test]
fn no_qualifying_candidate_keeps_the_current_set() {
    build_and_execute(|| {
        // The genesis validator has no keys registered in the mock.
        assert_eq!(Staking::new_session(1), None);
        assert_ok!(Staking::set_validator_count(RuntimeOrigin::root(), 0));
        register_keys(GENESIS_VALIDATOR);
        assert_eq!(Staking::new_session(2), None);
        assert_eq!(Staking::new_session_genesis(0), None);
        assert_ok!(Staking::set_validator_count(RuntimeOrigin::root(), 1));
        assert_eq!(Staking::new_session_genesis(0), Some(vec![GENESIS_VALIDATOR]));
    });
}

#[test]
fn set_validator_count_errors() {
    build_and_execute(|| {
        assert_noop!(Staking::set_validator_count(RuntimeOrigin::signed(ALICE), 1), BadOrigin);
        assert_noop!(
            Staking::set_validator_count(RuntimeOrigin::root(), 5),
            Error::<Test>::TooManyValidators
        );
    });
}

#[test]
fn slash_is_deferred_then_split_between_reporter_and_treasury() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 200));
        // 50 % of active + unbonding (1,000).
        let amount = Staking::slash(
            &ALICE,
            Perbill::from_percent(50),
            SlashReason::AttributionDissent,
            Some(REPORTER),
        )
        .expect("bonded");
        assert_eq!(amount, 500);
        assert_eq!(
            last_event(),
            Ev::SlashReported {
                id: 0,
                who: ALICE,
                amount: 500,
                fraction: Perbill::from_percent(50),
                reason: SlashReason::AttributionDissent,
                reporter: Some(REPORTER),
                apply_at: 1 + DEFER,
            }
        );
        // Nothing moves during the defer window.
        run_to_block(DEFER);
        assert_eq!(held(ALICE), 1_000);
        let (reporter, treasury) = (Balances::balance(&REPORTER), Balances::balance(&TREASURY));
        let issuance = Balances::total_issuance();
        run_to_block(1 + DEFER);
        assert_eq!(
            last_event(),
            Ev::Slashed {
                id: 0,
                who: ALICE,
                amount: 500,
                reporter: Some(REPORTER),
                to_reporter: 50,
                to_treasury: 450,
            }
        );
        assert_eq!(held(ALICE), 500);
        // Active first: 800 - 500.
        assert_eq!(ledger(ALICE).active, 300);
        assert_eq!(chunks(ALICE), vec![(200, 1 + UNBONDING)]);
        assert_eq!(Balances::balance(&REPORTER), reporter + 50);
        assert_eq!(Balances::balance(&TREASURY), treasury + 450);
        assert_eq!(Balances::total_issuance(), issuance);
        assert!(PendingSlashes::<Test>::get(0).is_none());
    });
}

#[test]
fn slash_reaches_unbonding_funds_and_drops_roles_when_nothing_is_left() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Curator));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(ALICE), 300));
        assert_ok!(Staking::slash(&ALICE, Perbill::one(), SlashReason::Governance, None));
        run_to_block(1 + DEFER);
        assert!(Ledger::<Test>::get(ALICE).is_none());
        assert!(!Roles::<Test>::contains_key(ALICE));
        assert_eq!(held(ALICE), 0);
        assert_eq!(Balances::balance(&TREASURY), ED + 1_000);
        let events: Vec<Ev> = System::events()
            .into_iter()
            .filter_map(|r| match r.event {
                RuntimeEvent::Staking(e) => Some(e),
                _ => None,
            })
            .collect();
        assert!(events.contains(&Ev::RoleDropped { who: ALICE, role: Role::Curator }));
    });
}

#[test]
fn slashing_below_a_minimum_suspends_the_role() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), MIN_ATTESTOR));
        assert_ok!(Staking::declare_role(RuntimeOrigin::signed(ALICE), Role::Attestor));
        assert_eq!(Staking::attestors(), vec![ALICE]);
        assert_ok!(Staking::slash(
            &ALICE,
            Perbill::from_percent(10),
            SlashReason::AttributionTimeout,
            None
        ));
        run_to_block(1 + DEFER);
        assert!(!Staking::has_role(&ALICE, Role::Attestor));
        assert!(Staking::attestors().is_empty());
        // Topping the stake up restores it.
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 50));
        assert!(Staking::has_role(&ALICE, Role::Attestor));
    });
}

#[test]
fn reporter_that_cannot_receive_leaves_everything_to_the_treasury() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 40));
        // 10 % of 40 = 4 < ED for the non-existent account 77.
        assert_ok!(Staking::slash(&ALICE, Perbill::one(), SlashReason::Governance, Some(77)));
        run_to_block(1 + DEFER);
        assert_eq!(
            last_event(),
            Ev::Slashed {
                id: 0,
                who: ALICE,
                amount: 40,
                reporter: Some(77),
                to_reporter: 0,
                to_treasury: 40,
            }
        );
        assert_eq!(Balances::balance(&77), 0);
    });
}

#[test]
fn governance_cancels_a_slash_within_the_window() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::slash(&ALICE, Perbill::from_percent(20), SlashReason::Governance, None));
        assert_noop!(Staking::cancel_slash(RuntimeOrigin::signed(BOB), 0), BadOrigin);
        assert_noop!(Staking::cancel_slash(RuntimeOrigin::root(), 1), Error::<Test>::SlashNotFound);
        assert_ok!(Staking::cancel_slash(RuntimeOrigin::root(), 0));
        assert_eq!(last_event(), Ev::SlashCancelled { id: 0, who: ALICE, amount: 200 });
        run_to_block(1 + DEFER);
        assert_eq!(held(ALICE), 1_000);
        assert_noop!(Staking::cancel_slash(RuntimeOrigin::root(), 0), Error::<Test>::SlashNotFound);
    });
}

#[test]
fn slash_errors_and_limits() {
    build_and_execute(|| {
        assert_noop!(
            Staking::slash(&ALICE, Perbill::one(), SlashReason::Governance, None),
            Error::<Test>::NotBonded
        );
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        // Nothing to take: no record, no event.
        let events = System::events().len();
        assert_eq!(Staking::slash(&ALICE, Perbill::zero(), SlashReason::Governance, None), Ok(0));
        assert_eq!(System::events().len(), events);
        for _ in 0..MAX_SLASHES {
            assert_ok!(Staking::slash(&ALICE, Perbill::from_percent(1), SlashReason::Governance, None));
        }
        assert_noop!(
            Staking::slash(&ALICE, Perbill::from_percent(1), SlashReason::Governance, None),
            Error::<Test>::TooManySlashes
        );
        // Both apply in the same block, each computed at report time.
        run_to_block(1 + DEFER);
        assert_eq!(held(ALICE), 980);
    });
}

#[test]
fn slash_after_the_funds_left_takes_what_is_still_held() {
    build_and_execute(|| {
        assert_ok!(Staking::bond(RuntimeOrigin::signed(ALICE), 1_000));
        assert_ok!(Staking::slash(&ALICE, Perbill::from_percent(50), SlashReason::Governance, None));
        assert_ok!(Staking::slash(&ALICE, Perbill::from_percent(80), SlashReason::Governance, None));
        run_to_block(1 + DEFER);
        assert_eq!(held(ALICE), 0);
        assert_eq!(
            last_event(),
            Ev::Slashed { id: 1, who: ALICE, amount: 500, reporter: None, to_reporter: 0, to_treasury: 500 }
        );
    });
}

#[test]
fn ledger_take_prefers_active_then_newest_chunks() {
    build_and_execute(|| {
        let mut l = StakingLedger::<Test> {
            active: 10,
            unlocking: BoundedVec::truncate_from(vec![
                UnlockChunk { value: 5, until: 3 },
                UnlockChunk { value: 7, until: 4 },
            ]),
        };
        assert_eq!(l.total(), 22);
        assert_eq!(l.take(15), 15);
        assert_eq!(l.active, 0);
        assert_eq!(l.unlocking.iter().map(|c| c.value).collect::<Vec<_>>(), vec![5, 2]);
        assert_eq!(l.take(100), 7);
        assert!(l.unlocking.is_empty());
    });
}
