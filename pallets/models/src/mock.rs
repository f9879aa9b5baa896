//! Mock runtime: System, Balances (existential deposit 5) and Models, with a mock datanets
//! registry ([`MockDatanets`]) whose published versions each test sets up.

use crate as pallet_models;
use core::cell::RefCell;
use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use openledger_primitives::datanets::{
    ContentHash, ContributionId, DatanetId, DatanetInspect, VersionInfo, VersionNumber,
};
use openledger_primitives::models::FeeSplitBounds;
use sp_core::H256;
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Models: pallet_models,
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
    /// Datanets that exist, and their published versions (each test runs on its own thread).
    static DATANETS: RefCell<Vec<(DatanetId, VersionNumber)>> = const { RefCell::new(Vec::new()) };
}

/// Datanet registry of the mock: datanet `d` exists once [`publish`] was called for it, with
/// the versions published so far (version 0 marks a datanet without versions).
pub struct MockDatanets;

/// Make datanet `datanet` exist with `version` published (`version` 0: exists, nothing
/// published).
pub fn publish(datanet: DatanetId, version: VersionNumber) {
    DATANETS.with(|d| d.borrow_mut().push((datanet, version)));
}

impl DatanetInspect<u64, u64> for MockDatanets {
    fn datanet_exists(datanet: DatanetId) -> bool {
        DATANETS.with(|d| d.borrow().iter().any(|(id, _)| *id == datanet))
    }
    fn datanet_owner(datanet: DatanetId) -> Option<u64> {
        Self::datanet_exists(datanet).then_some(OWNER)
    }
    fn version(datanet: DatanetId, version: VersionNumber) -> Option<VersionInfo<u64>> {
        let published = version > 0 && DATANETS.with(|d| d.borrow().contains(&(datanet, version)));
        published.then(|| VersionInfo {
            datanet,
            version,
            contribution_count: 1,
            total_bytes: 1,
            merkle_root: H256::repeat_byte(version as u8),
            published_at: 1,
        })
    }
    fn contributor(_: ContributionId) -> Option<u64> {
        None
    }
    fn content_hash(_: ContributionId) -> Option<ContentHash> {
        None
    }
    fn in_version(_: DatanetId, _: VersionNumber, _: ContributionId) -> bool {
        false
    }
    fn version_contributions(
        _: DatanetId,
        _: VersionNumber,
        _: u32,
        _: u32,
    ) -> Vec<ContributionId> {
        Vec::new()
    }
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for MockDatanets {
    fn published_datanet_versions(
        n: u32,
    ) -> Result<Vec<(DatanetId, VersionNumber)>, sp_runtime::DispatchError> {
        Ok((0..n)
            .map(|i| {
                publish(1000 + i, 1);
                (1000 + i, 1)
            })
            .collect())
    }
}

pub const ED: u64 = 5;
pub const MODEL_DEPOSIT: u64 = 100;
pub const PRICE_DELAY: u64 = 10;
pub const MAX_REFS: u32 = 4;
pub const PAGE: u32 = 3;

parameter_types! {
    pub const DefaultBounds: FeeSplitBounds = FeeSplitBounds {
        min_contributors: Perbill::from_percent(20),
        min_attestors: Perbill::from_percent(5),
        min_treasury: Perbill::from_percent(1),
        max_owner: Perbill::from_percent(70),
    };
}

impl pallet_models::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Datanets = MockDatanets;
    type GovernanceOrigin = EnsureRoot<u64>;
    type ModelDeposit = ConstU64<MODEL_DEPOSIT>;
    type PriceChangeDelay = ConstU64<PRICE_DELAY>;
    type DefaultFeeSplitBounds = DefaultBounds;
    type MaxNameLen = ConstU32<32>;
    type MaxArchitectureLen = ConstU32<16>;
    type MaxLicenseLen = ConstU32<32>;
    type MaxDatanetRefs = ConstU32<MAX_REFS>;
    type MaxPageSize = ConstU32<PAGE>;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = MockDatanets;
}

pub const OWNER: u64 = 1;
pub const ALICE: u64 = 2;
pub const BOB: u64 = 3;
/// Less than a model deposit.
pub const POOR: u64 = 4;
pub const START_BALANCE: u64 = 1_000_000_000;
pub const POOR_BALANCE: u64 = 50;

/// Genesis: funded accounts, block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
    let t = RuntimeGenesisConfig {
        system: Default::default(),
        balances: pallet_balances::GenesisConfig::<Test> {
            balances: vec![
                (OWNER, START_BALANCE),
                (ALICE, START_BALANCE),
                (BOB, START_BALANCE),
                (POOR, POOR_BALANCE),
            ],
            ..Default::default()
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
        Models::do_try_state().expect("try_state invariants hold after the test");
    });
}
