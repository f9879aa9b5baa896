//! Mock runtime: System, Balances (existential deposit 5), the real Datanets pallet (which
//! maps contributions to contributors) and Rewards. The model registry is a table the tests
//! fill with `add_model` (pallet-models is a separate crate the runtime wires in).

use crate as pallet_rewards;
use core::cell::RefCell;
use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU32, ConstU64},
    PalletId,
};
use openledger_primitives::datanets::{ContributionId, DatanetId};
use openledger_primitives::models::{
    FeeSplit, ModelId, ModelInspect, ModelKind, ModelStatus, ModelSummary,
};
use sp_core::H256;
use sp_runtime::{BuildStorage, Perbill};
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Datanets: pallet_datanets,
        Rewards: pallet_rewards,
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

impl pallet_datanets::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type DatanetDeposit = ConstU64<1>;
    type ContributionBaseDeposit = ConstU64<1>;
    type MaxPayloadSize = ConstU32<1024>;
    type MaxNameLen = ConstU32<32>;
    type MaxDescriptionLen = ConstU32<32>;
    type MaxLicenseLen = ConstU32<32>;
    type MaxTagLen = ConstU32<8>;
    type MaxTags = ConstU32<2>;
    type MaxCurators = ConstU32<2>;
    type MaxReasonLen = ConstU32<32>;
    type MaxPageSize = ConstU32<8>;
    type WeightInfo = ();
}

thread_local! {
    static MODELS: RefCell<BTreeMap<ModelId, ModelSummary<u64, u64>>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// The model registry of the mock.
pub struct MockModels;
impl ModelInspect<u64, u64> for MockModels {
    fn model(model: ModelId) -> Option<ModelSummary<u64, u64>> {
        MODELS.with(|m| m.borrow().get(&model).cloned())
    }
}

/// Registers `model` owned by `owner` with `split` (parts per billion: owner, contributors,
/// attestors, treasury).
pub fn add_model(model: ModelId, owner: u64, split: [u32; 4]) {
    let summary = ModelSummary {
        owner,
        kind: ModelKind::LoraAdapter,
        base: Some(0),
        status: ModelStatus::Active,
        price_per_1k_tokens: 10,
        fee_split: FeeSplit {
            owner: Perbill::from_parts(split[0]),
            contributors: Perbill::from_parts(split[1]),
            attestors: Perbill::from_parts(split[2]),
            treasury: Perbill::from_parts(split[3]),
        },
        datanet_versions: vec![],
        artifact_hash: H256::repeat_byte(1),
        attribution_index_hash: H256::repeat_byte(2),
        tokenizer_hash: None,
    };
    MODELS.with(|m| m.borrow_mut().insert(model, summary));
}

parameter_types! {
    pub const RewardsPalletId: PalletId = PalletId(*b"ol/rewrd");
    pub const TreasuryPalletId: PalletId = PalletId(*b"ol/trsry");
}

pub const MAX_SHARES: u32 = 8;
pub const MAX_ATTESTORS: u32 = 4;
pub const PAGE: u32 = 3;

impl pallet_rewards::Config for Test {
    type Currency = Balances;
    type Models = MockModels;
    type Datanets = Datanets;
    type PalletId = RewardsPalletId;
    type TreasuryPalletId = TreasuryPalletId;
    type MaxShares = ConstU32<MAX_SHARES>;
    type MaxAttestors = ConstU32<MAX_ATTESTORS>;
    type MaxPageSize = ConstU32<PAGE>;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = MockHelper;
}

/// Benchmarks register models in the mock table and contributions in the real datanets pallet.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::benchmarking::BenchmarkHelper<u64, u64> for MockHelper {
    fn model(owner: &u64, split: FeeSplit) -> Option<ModelId> {
        let id = MODELS.with(|m| m.borrow().len() as ModelId);
        add_model(id, *owner, [0; 4]);
        MODELS.with(|m| m.borrow_mut().get_mut(&id).map(|s| s.fee_split = split));
        Some(id)
    }

    fn contribution(contributor: &u64) -> Option<ContributionId> {
        use frame_support::traits::fungible::Mutate;
        let _ = Balances::mint_into(contributor, 1_000);
        let datanet = datanet_of(*contributor);
        contribute(datanet, *contributor, b"data")
    }
}

pub const ED: u64 = 5;
pub const PAYER: u64 = 1;
pub const OWNER: u64 = 2;
pub const CONTRIBUTOR_A: u64 = 3;
pub const CONTRIBUTOR_B: u64 = 4;
pub const ATTESTOR_1: u64 = 5;
pub const ATTESTOR_2: u64 = 6;
pub const ATTESTOR_3: u64 = 7;
pub const START_BALANCE: u64 = 1_000_000_000;

/// Genesis: funded accounts, no models; block 1 inside extrinsic 0 (datanets indexes payloads).
pub fn new_test_ext() -> sp_io::TestExternalities {
    MODELS.with(|m| m.borrow_mut().clear());
    let balances = [PAYER, OWNER, CONTRIBUTOR_A, CONTRIBUTOR_B, ATTESTOR_1, ATTESTOR_2, ATTESTOR_3]
        .iter()
        .map(|a| (*a, START_BALANCE))
        .collect();
    let t = RuntimeGenesisConfig {
        system: Default::default(),
        balances: pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() },
        rewards: Default::default(),
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

/// Runs `test` and then checks the pallet's invariants (`try_state`).
pub fn build_and_execute(test: impl FnOnce()) {
    new_test_ext().execute_with(|| {
        test();
        Rewards::do_try_state().expect("try_state invariants hold after the test");
    });
}

/// Contributes `payload` to `datanet` as `who` through the real datanets pallet.
pub fn contribute(datanet: DatanetId, who: u64, payload: &[u8]) -> Option<ContributionId> {
    let id = pallet_datanets::NextContributionId::<Test>::get();
    System::set_extrinsic_index(0);
    Datanets::contribute(RuntimeOrigin::signed(who), datanet, payload.to_vec()).ok()?;
    Some(id)
}

/// An open datanet owned by `OWNER`.
pub fn datanet() -> DatanetId {
    datanet_of(OWNER)
}

/// An open datanet owned by `owner`.
pub fn datanet_of(owner: u64) -> DatanetId {
    let id = pallet_datanets::NextDatanetId::<Test>::get();
    Datanets::create_datanet(
        RuntimeOrigin::signed(owner),
        b"corpus".to_vec().try_into().expect("fits"),
        Default::default(),
        Default::default(),
        Default::default(),
        pallet_datanets::Admission::Open,
        pallet_datanets::CurationPolicy::Owner,
        0,
        pallet_datanets::DepositPolicy::ReleaseAlways,
    )
    .expect("datanet created");
    id
}
