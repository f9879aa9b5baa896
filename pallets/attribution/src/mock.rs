//! Mock runtime: System, Balances (existential deposit 5), the real Datanets and Rewards
//! pallets, and Attribution. Accounts are sr25519 keys, so off-chain workers sign with keys
//! from a test keystore. The model registry and the staking pallet are tables the tests fill
//! (`add_model`, `set_attestors`); slashes are recorded in `slashes()`.

use crate as pallet_attribution;
use codec::{Decode, Encode};
use core::cell::RefCell;
use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU32, ConstU64, Hooks},
    PalletId,
};
use openledger_primitives::{
    attribution::{AttributionRequest, Engine, EngineError},
    datanets::{ContributionId, DatanetId, VersionNumber},
    models::{FeeSplit, ModelId, ModelInspect, ModelKind, ModelStatus, ModelSummary},
    staking::{Slash, SlashReason, StakingInspect},
};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{
    generic::UncheckedExtrinsic, traits::IdentityLookup, BuildStorage, DispatchError, Perbill,
};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

pub type AccountId = sr25519::Public;
type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Datanets: pallet_datanets,
        Rewards: pallet_rewards,
        Attribution: pallet_attribution,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = AccountId;
    type Lookup = IdentityLookup<AccountId>;
    type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type AccountStore = System;
    type ExistentialDeposit = ConstU64<ED>;
    type RuntimeHoldReason = RuntimeHoldReason;
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

parameter_types! {
    pub const RewardsPalletId: PalletId = PalletId(*b"ol/rewrd");
    pub const TreasuryPalletId: PalletId = PalletId(*b"ol/trsry");
    pub const AttributionPalletId: PalletId = PalletId(*b"ol/attrb");
}

pub const MAX_SHARES: u32 = 4;
pub const K: u32 = 3;
pub const DEADLINE: u64 = 10;
pub const MAX_OUTPUT: u32 = 64;
pub const JOBS_PER_BLOCK: u32 = 2;

impl pallet_rewards::Config for Test {
    type Currency = Balances;
    type Models = MockModels;
    type Datanets = Datanets;
    type PalletId = RewardsPalletId;
    type TreasuryPalletId = TreasuryPalletId;
    type MaxShares = ConstU32<MAX_SHARES>;
    type MaxAttestors = ConstU32<K>;
    type MaxPageSize = ConstU32<8>;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = ();
}

impl pallet_attribution::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Models = MockModels;
    type Datanets = Datanets;
    type Staking = MockStaking;
    type Slasher = MockStaking;
    type Rewards = Rewards;
    type GatewayOrigin = frame_system::EnsureRoot<AccountId>;
    type AuthorityId = crate::crypto::AttestorId;
    type PalletId = AttributionPalletId;
    type AttestorsPerJob = ConstU32<K>;
    type ResultDeadline = ConstU64<DEADLINE>;
    type MaxOutputTokens = ConstU32<MAX_OUTPUT>;
    type MaxShares = ConstU32<MAX_SHARES>;
    type MaxJobsPerBlock = ConstU32<JOBS_PER_BLOCK>;
    type DissentSlash = DissentSlash;
    type TimeoutSlash = TimeoutSlash;
    type MaxPageSize = ConstU32<3>;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = MockHelper;
}

parameter_types! {
    pub const DissentSlash: Perbill = Perbill::from_percent(10);
    pub const TimeoutSlash: Perbill = Perbill::from_percent(1);
}

/// A signed extrinsic carrying a real sr25519 signature over the encoded call, so tests can
/// check what the off-chain worker signed.
pub type Extrinsic = UncheckedExtrinsic<AccountId, RuntimeCall, sr25519::Signature, ()>;

impl frame_system::offchain::SigningTypes for Test {
    type Public = sr25519::Public;
    type Signature = sr25519::Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Test
where
    RuntimeCall: From<LocalCall>,
{
    type RuntimeCall = RuntimeCall;
    type Extrinsic = Extrinsic;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Test
where
    RuntimeCall: From<LocalCall>,
{
    fn create_signed_transaction<
        C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
    >(
        call: RuntimeCall,
        public: sr25519::Public,
        account: AccountId,
        _nonce: u32,
    ) -> Option<Extrinsic> {
        let signature = C::sign(&call.encode(), public)?;
        Some(Extrinsic::new_signed(call, account, signature, ()))
    }
}

thread_local! {
    static MODELS: RefCell<BTreeMap<ModelId, ModelSummary<AccountId, u64>>> =
        const { RefCell::new(BTreeMap::new()) };
    static ATTESTOR_SET: RefCell<Vec<AccountId>> = const { RefCell::new(Vec::new()) };
    static SLASHES: RefCell<Vec<(AccountId, Perbill, SlashReason)>> = const { RefCell::new(Vec::new()) };
}

/// The model registry of the mock.
pub struct MockModels;
impl ModelInspect<AccountId, u64> for MockModels {
    fn model(model: ModelId) -> Option<ModelSummary<AccountId, u64>> {
        MODELS.with(|m| m.borrow().get(&model).cloned())
    }
}

/// Stake of every mock attestor: slashes return their fraction of it.
pub const STAKE: u64 = 10_000;

/// The staking pallet of the mock: a fixed attestor set; slashes are recorded.
pub struct MockStaking;
impl StakingInspect<AccountId, u64> for MockStaking {
    fn stake(who: &AccountId) -> u64 {
        if Self::attestors().contains(who) {
            STAKE
        } else {
            0
        }
    }
    fn has_role(who: &AccountId, _: openledger_primitives::staking::Role) -> bool {
        Self::attestors().contains(who)
    }
    fn attestors() -> Vec<AccountId> {
        ATTESTOR_SET.with(|a| a.borrow().clone())
    }
}
impl Slash<AccountId, u64> for MockStaking {
    fn slash(
        who: &AccountId,
        fraction: Perbill,
        reason: SlashReason,
        _reporter: Option<AccountId>,
    ) -> Result<u64, DispatchError> {
        if !Self::attestors().contains(who) {
            return Err(DispatchError::Other("not staked"));
        }
        SLASHES.with(|s| s.borrow_mut().push((*who, fraction, reason)));
        Ok(fraction * STAKE)
    }
}

/// Sets the active attestors (sorted, like the staking pallet's).
pub fn set_attestors(mut attestors: Vec<AccountId>) {
    attestors.sort();
    ATTESTOR_SET.with(|a| *a.borrow_mut() = attestors);
}

/// Slashes reported so far.
pub fn slashes() -> Vec<(AccountId, Perbill, SlashReason)> {
    SLASHES.with(|s| s.borrow().clone())
}

/// The fee split of every mock model: 20 % owner, 50 % contributors, 20 % attestors, 10 %
/// treasury.
pub fn split() -> FeeSplit {
    FeeSplit {
        owner: Perbill::from_percent(20),
        contributors: Perbill::from_percent(50),
        attestors: Perbill::from_percent(20),
        treasury: Perbill::from_percent(10),
    }
}

/// Registers `model` (a LoRA adapter with tokenizer `h(9)`) on `versions` at `price` per 1k
/// tokens.
pub fn add_model(model: ModelId, versions: Vec<(DatanetId, VersionNumber)>, price: u64) {
    let summary = ModelSummary {
        owner: account(OWNER),
        kind: ModelKind::LoraAdapter,
        base: Some(0),
        status: ModelStatus::Active,
        price_per_1k_tokens: price,
        fee_split: split(),
        datanet_versions: versions,
        artifact_hash: H256::repeat_byte(1),
        attribution_index_hash: H256::repeat_byte(2),
        tokenizer_hash: Some(H256::repeat_byte(9)),
    };
    MODELS.with(|m| m.borrow_mut().insert(model, summary));
}

/// Sets a mock model's status.
pub fn set_model_status(model: ModelId, status: ModelStatus) {
    MODELS.with(|m| m.borrow_mut().get_mut(&model).map(|s| s.status = status));
}

/// The account of seed byte `n` (a deterministic sr25519 key).
pub fn account(n: u8) -> AccountId {
    pair(n).public()
}

/// The key pair of seed byte `n`.
pub fn pair(n: u8) -> sr25519::Pair {
    sr25519::Pair::from_seed(&[n; 32])
}

pub const ED: u64 = 5;
pub const PAYER: u8 = 1;
pub const OWNER: u8 = 2;
pub const CONTRIBUTOR_A: u8 = 3;
pub const CONTRIBUTOR_B: u8 = 4;
pub const GATEWAY: u8 = 5;
pub const ATTESTORS: [u8; 4] = [11, 12, 13, 14];
pub const START_BALANCE: u64 = 1_000_000_000;

/// Genesis: funded accounts, the four mock attestors, no models; block 1 inside extrinsic 0
/// (datanets and attribution index payloads).
pub fn new_test_ext() -> sp_io::TestExternalities {
    MODELS.with(|m| m.borrow_mut().clear());
    SLASHES.with(|s| s.borrow_mut().clear());
    set_attestors(ATTESTORS.iter().map(|a| account(*a)).collect());
    let balances = [PAYER, OWNER, CONTRIBUTOR_A, CONTRIBUTOR_B, GATEWAY]
        .iter()
        .chain(ATTESTORS.iter())
        .map(|a| (account(*a), START_BALANCE))
        .collect();
    let t = RuntimeGenesisConfig {
        system: Default::default(),
        balances: pallet_balances::GenesisConfig::<Test> {
            balances,
            ..Default::default()
        },
        rewards: Default::default(),
        attribution: Default::default(),
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

/// Runs `test` and then checks the invariants (`try_state`) of Attribution and Rewards.
pub fn build_and_execute(test: impl FnOnce()) {
    new_test_ext().execute_with(|| {
        test();
        Attribution::do_try_state().expect("attribution invariants hold after the test");
        Rewards::do_try_state().expect("rewards invariants hold after the test");
    });
}

/// Moves to block `n`, running `on_initialize` of the attribution pallet on the way.
pub fn run_to(n: u64) {
    while System::block_number() < n {
        let next = System::block_number() + 1;
        System::set_block_number(next);
        System::set_parent_hash(H256::repeat_byte(next as u8));
        Attribution::on_initialize(next);
        System::set_extrinsic_index(0);
    }
}

/// A datanet of `OWNER` with `payloads` contributed by `CONTRIBUTOR_A` and `CONTRIBUTOR_B` in
/// turn, all accepted and published as version 1. Returns the datanet and contribution ids.
pub fn published_datanet(payloads: &[&[u8]]) -> (DatanetId, Vec<ContributionId>) {
    let owner = RuntimeOrigin::signed(account(OWNER));
    let datanet = pallet_datanets::NextDatanetId::<Test>::get();
    Datanets::create_datanet(
        owner.clone(),
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
    let mut ids = Vec::new();
    for (i, payload) in payloads.iter().enumerate() {
        let who = if i % 2 == 0 {
            CONTRIBUTOR_A
        } else {
            CONTRIBUTOR_B
        };
        let id = pallet_datanets::NextContributionId::<Test>::get();
        System::set_extrinsic_index(0);
        Datanets::contribute(
            RuntimeOrigin::signed(account(who)),
            datanet,
            payload.to_vec(),
        )
        .expect("contributed");
        Datanets::accept(owner.clone(), id).expect("accepted");
        ids.push(id);
    }
    Datanets::publish_version(owner, datanet).expect("published");
    (datanet, ids)
}

/// An engine that answers from a table (job → shares) and records the requests it got.
#[derive(Default)]
pub struct TableEngine {
    pub answers: Mutex<BTreeMap<u64, Result<Vec<(ContributionId, u32)>, EngineError>>>,
    pub requests: Mutex<Vec<AttributionRequest>>,
}

impl Engine for TableEngine {
    fn attribute(
        &self,
        request: AttributionRequest,
    ) -> Result<Vec<(ContributionId, u32)>, EngineError> {
        let answer = self
            .answers
            .lock()
            .expect("not poisoned")
            .get(&request.job)
            .cloned()
            .unwrap_or(Err(EngineError::Engine("no answer for this job".into())));
        self.requests.lock().expect("not poisoned").push(request);
        answer
    }
}

/// Decodes a transaction from the test pool.
pub fn decode_tx(bytes: &[u8]) -> Extrinsic {
    Extrinsic::decode(&mut &bytes[..]).expect("a transaction of the mock runtime")
}

/// Shares an engine with the externalities.
pub fn engine_ext(
    engine: Arc<TableEngine>,
) -> openledger_primitives::attribution::AttributionEngineExt {
    openledger_primitives::attribution::AttributionEngineExt(engine)
}

/// Benchmarks register mock models, real datanet contributions and mock attestors.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::benchmarking::BenchmarkHelper<Test> for MockHelper {
    fn model_with_contributions(count: u32) -> (ModelId, Vec<ContributionId>) {
        use frame_support::traits::fungible::Mutate;
        for who in [OWNER, CONTRIBUTOR_A, CONTRIBUTOR_B] {
            let _ = Balances::mint_into(&account(who), 1_000_000);
        }
        let payloads: Vec<Vec<u8>> = (0..count).map(|i| i.to_le_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_slice()).collect();
        let (datanet, ids) = published_datanet(&refs);
        let model = MODELS.with(|m| m.borrow().len() as ModelId);
        add_model(model, vec![(datanet, 1)], 1_000);
        (model, ids)
    }

    fn attestors(count: u32) -> Vec<AccountId> {
        let list: Vec<AccountId> = (0..count).map(|i| account(100 + i as u8)).collect();
        set_attestors(list.clone());
        list
    }
}
