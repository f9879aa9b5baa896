//! Mock runtime: System, Balances (existential deposit 5) and Datanets.

use crate as pallet_datanets;
use frame_support::{
    derive_impl,
    traits::{ConstU32, ConstU64},
};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Datanets: pallet_datanets,
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

pub const ED: u64 = 5;
pub const DATANET_DEPOSIT: u64 = 100;
pub const BASE_DEPOSIT: u64 = 1;
pub const MAX_PAYLOAD: u32 = 5 * 1024 * 1024;
pub const PAGE: u32 = 4;
pub const MAX_CURATORS: u32 = 3;

impl pallet_datanets::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type DatanetDeposit = ConstU64<DATANET_DEPOSIT>;
    type ContributionBaseDeposit = ConstU64<BASE_DEPOSIT>;
    type MaxPayloadSize = ConstU32<MAX_PAYLOAD>;
    type MaxNameLen = ConstU32<32>;
    type MaxDescriptionLen = ConstU32<256>;
    type MaxLicenseLen = ConstU32<32>;
    type MaxTagLen = ConstU32<16>;
    type MaxTags = ConstU32<4>;
    type MaxCurators = ConstU32<MAX_CURATORS>;
    type MaxReasonLen = ConstU32<64>;
    type MaxPageSize = ConstU32<PAGE>;
    type WeightInfo = ();
}

pub const OWNER: u64 = 1;
pub const ALICE: u64 = 2;
pub const CURATOR: u64 = 3;
pub const BOB: u64 = 4;
/// Enough for a datanet deposit but not for much else.
pub const POOR: u64 = 5;
/// No account at all.
pub const NOBODY: u64 = 99;
pub const START_BALANCE: u64 = 1_000_000_000;
pub const POOR_BALANCE: u64 = 120;

/// Genesis: funded accounts, block 1, inside extrinsic 0 (so `contribute` can index).
pub fn new_test_ext() -> sp_io::TestExternalities {
    let t = RuntimeGenesisConfig {
        system: Default::default(),
        balances: pallet_balances::GenesisConfig::<Test> {
            balances: vec![
                (OWNER, START_BALANCE),
                (ALICE, START_BALANCE),
                (CURATOR, START_BALANCE),
                (BOB, START_BALANCE),
                (POOR, POOR_BALANCE),
            ],
            ..Default::default()
        },
    }
    .build_storage()
    .unwrap();
    let mut ext = sp_io::TestExternalities::new(t);
    ext.execute_with(|| {
        System::set_block_number(1);
        System::set_extrinsic_index(0);
    });
    ext
}

/// Runs `test` and then checks every invariant of the pallet (`try_state`).
pub fn build_and_execute(test: impl FnOnce()) {
    new_test_ext().execute_with(|| {
        test();
        Datanets::do_try_state().expect("try_state invariants hold after the test");
    });
}
