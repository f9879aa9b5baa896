//! Mock runtime: System, Balances (existential deposit 5) and Staking. Session keys are
//! modelled by a registration set (`register_keys`), since selection only asks whether an
//! account has keys; the runtime tests exercise the real pallet-session.

use crate as pallet_open_staking;
use core::cell::RefCell;
use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU32, ConstU64, ValidatorRegistration},
};
use frame_system::EnsureRoot;
use sp_runtime::{BuildStorage, Perbill};
use std::collections::BTreeSet;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Staking: pallet_open_staking,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type AccountStore = System;
    type ExistentialDeposit = ConstU64<ED>;
}

thread_local! {
    static KEYS: RefCell<BTreeSet<u64>> = const { RefCell::new(BTreeSet::new()) };
}

/// Marks `who` as having registered session keys.
pub fn register_keys(who: u64) {
    KEYS.with(|k| k.borrow_mut().insert(who));
}

pub struct MockKeys;
impl ValidatorRegistration<u64> for MockKeys {
    fn is_registered(id: &u64) -> bool {
        KEYS.with(|k| k.borrow().contains(id))
    }
}

pub const ED: u64 = 5;
pub const MIN_BOND: u64 = 10;
pub const MIN_VALIDATOR: u64 = 1_000;
pub const MIN_ATTESTOR: u64 = 500;
pub const MIN_CURATOR: u64 = 100;
pub const UNBONDING: u64 = 20;
pub const DEFER: u64 = 5;
pub const MAX_CHUNKS: u32 = 3;
pub const MAX_CANDIDATES: u32 = 6;
pub const MAX_ATTESTORS: u32 = 3;
pub const MAX_SLASHES: u32 = 2;
pub const TREASURY: u64 = 900;

parameter_types! {
    pub const Treasury: u64 = TREASURY;
    pub const ReporterShare: Perbill = Perbill::from_percent(10);
}

impl pallet_open_staking::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type ValidatorRegistration = MockKeys;
    type AdminOrigin = EnsureRoot<u64>;
    type Treasury = Treasury;
    type MinimumBond = ConstU64<MIN_BOND>;
    type MinValidatorStake = ConstU64<MIN_VALIDATOR>;
    type MinAttestorStake = ConstU64<MIN_ATTESTOR>;
    type MinCuratorStake = ConstU64<MIN_CURATOR>;
    type UnbondingPeriod = ConstU64<UNBONDING>;
    type MaxUnlockingChunks = ConstU32<MAX_CHUNKS>;
    type MaxCandidates = ConstU32<MAX_CANDIDATES>;
    type MaxAttestors = ConstU32<MAX_ATTESTORS>;
    type MaxValidators = ConstU32<4>;
    type SlashDeferDuration = ConstU64<DEFER>;
    type MaxSlashesPerBlock = ConstU32<MAX_SLASHES>;
    type ReporterShare = ReporterShare;
    type WeightInfo = ();
}

pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
pub const CHARLIE: u64 = 3;
pub const DAVE: u64 = 4;
pub const EVE: u64 = 5;
pub const FERDIE: u64 = 6;
pub const REPORTER: u64 = 7;
/// A genesis validator: bonded 2,000 with the validator role.
pub const GENESIS_VALIDATOR: u64 = 10;
pub const START_BALANCE: u64 = 1_000_000;
pub const GENESIS_STAKE: u64 = 2_000;

/// Genesis: funded accounts (treasury included), one staked validator, two seats; block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
    KEYS.with(|k| k.borrow_mut().clear());
    let mut balances: Vec<(u64, u64)> = [ALICE, BOB, CHARLIE, DAVE, EVE, FERDIE, REPORTER]
        .iter()
        .map(|a| (*a, START_BALANCE))
        .collect();
    balances.push((GENESIS_VALIDATOR, START_BALANCE));
    balances.push((TREASURY, ED));
    let t = RuntimeGenesisConfig {
        system: Default::default(),
        balances: pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() },
        staking: pallet_open_staking::GenesisConfig::<Test> {
            stakers: vec![(GENESIS_VALIDATOR, GENESIS_STAKE, vec![crate::Role::Validator])],
            validator_count: 2,
        },
    }
    .build_storage()
    .unwrap();
    let mut ext = sp_io::TestExternalities::new(t);
    ext.execute_with(|| System::set_block_number(1));
    ext
}

/// Runs `test` and then checks every invariant of the pallet (`try_state`).
pub fn build_and_execute(test: impl FnOnce()) {
    new_test_ext().execute_with(|| {
        test();
        Staking::do_try_state().expect("try_state invariants hold after the test");
    });
}

/// Advances to block `n`, running the pallet's `on_initialize` on the way.
pub fn run_to_block(n: u64) {
    use frame_support::traits::Hooks;
    while System::block_number() < n {
        let next = System::block_number() + 1;
        System::set_block_number(next);
        Staking::on_initialize(next);
    }
}
