//! Configuration of each pallet of the runtime.

use crate::{
    fees, AccountId, MILLI_OPEN, OPEN, Aura, Balance, Balances, Block, BlockNumber, Datanets, Hash, Models, Nonce,
    PalletInfo,
    Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin,
    RuntimeTask, Session, Staking, System, DAYS, SLOT_DURATION, VERSION,
};
use frame_support::{
    derive_impl, parameter_types, PalletId,
    traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
    weights::{
        constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
        ConstantMultiplier, Weight,
    },
};
use frame_system::{
    limits::{BlockLength, BlockWeights},
    EnsureRoot,
};
use pallet_transaction_payment::{FungibleAdapter, Multiplier, TargetedFeeAdjustment};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
    traits::{AccountIdConversion, Bounded},
    FixedPointNumber, Perbill, Perquintill,
};

/// Share of a block's weight and length available to normal (user) transactions; the rest is
/// kept for operational ones and inherents.
pub const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

/// Compute budget of a block: 0.5 s of reference execution. A 2 s slot must leave time for
/// the author to build the block, propagate it and for every other validator to import it.
pub const MAXIMUM_BLOCK_WEIGHT: Weight =
    Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND / 2, u64::MAX);

/// Largest encoded block: 8 MiB, so that the normal class (75 %, 6 MiB) holds one maximal
/// 5 MiB datanet contribution with room to spare.
pub const MAXIMUM_BLOCK_LENGTH: u32 = 8 * 1024 * 1024;

parameter_types! {
    pub const Version: sp_version::RuntimeVersion = VERSION;
    pub const BlockHashCount: BlockNumber = 2400;
    pub RuntimeBlockWeights: BlockWeights =
        BlockWeights::with_sensible_defaults(MAXIMUM_BLOCK_WEIGHT, NORMAL_DISPATCH_RATIO);
    pub RuntimeBlockLength: BlockLength = BlockLength::builder()
        .max_length(MAXIMUM_BLOCK_LENGTH)
        .modify_max_length_for_class(frame_support::dispatch::DispatchClass::Normal, |max| {
            *max = NORMAL_DISPATCH_RATIO * MAXIMUM_BLOCK_LENGTH
        })
        .build();
    pub const SS58Prefix: u16 = openledger_primitives::SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type BlockWeights = RuntimeBlockWeights;
    type BlockLength = RuntimeBlockLength;
    type AccountId = AccountId;
    type Nonce = Nonce;
    type Hash = Hash;
    type BlockHashCount = BlockHashCount;
    /// The node stores state in ParityDB only.
    type DbWeight = ParityDbWeight;
    type Version = Version;
    type AccountData = pallet_balances::AccountData<Balance>;
    type SS58Prefix = SS58Prefix;
    type MaxConsumers = ConstU32<16>;
}

impl pallet_aura::Config for Runtime {
    type AuthorityId = AuraId;
    type DisabledValidators = ();
    type MaxAuthorities = ConstU32<32>;
    type AllowMultipleBlocksPerSlot = ConstBool<false>;
    type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type WeightInfo = ();
    type MaxAuthorities = ConstU32<32>;
    type MaxNominators = ConstU32<0>;
    type MaxSetIdSessionEntries = ConstU64<0>;
    type KeyOwnerProof = sp_core::Void;
    type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
    /// Aura reads the slot from the timestamp.
    type Moment = u64;
    type OnTimestampSet = Aura;
    type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
    type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
    type MaxLocks = ConstU32<50>;
    type MaxReserves = ();
    type ReserveIdentifier = [u8; 8];
    type Balance = Balance;
    type RuntimeEvent = RuntimeEvent;
    type DustRemoval = ();
    type ExistentialDeposit = ConstU128<{ fees::EXISTENTIAL_DEPOSIT }>;
    type AccountStore = System;
    type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type DoneSlashHandler = ();
}

parameter_types! {
    /// Fee multiplier parameters: Polkadot's slow-adjusting rule.
    pub const TargetBlockFullness: Perquintill = Perquintill::from_percent(25);
    pub AdjustmentVariable: Multiplier = Multiplier::saturating_from_rational(75, 1_000_000);
    pub MinimumMultiplier: Multiplier = Multiplier::saturating_from_rational(1, 10u128);
    pub MaximumMultiplier: Multiplier = Bounded::max_value();
}

/// Slow-adjusting fee multiplier targeting 25 % full blocks.
pub type SlowAdjustingFeeUpdate<R> = TargetedFeeAdjustment<
    R,
    TargetBlockFullness,
    AdjustmentVariable,
    MinimumMultiplier,
    MaximumMultiplier,
>;

impl pallet_transaction_payment::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    // `()` as the imbalance handler drops the fee: fees are burned (see `fees`).
    type OnChargeTransaction = FungibleAdapter<Balances, ()>;
    type OperationalFeeMultiplier = ConstU8<{ fees::OPERATIONAL_FEE_MULTIPLIER }>;
    type WeightToFee = ConstantMultiplier<Balance, ConstU128<{ fees::WEIGHT_FEE_PER_REF_TIME }>>;
    type LengthToFee = ConstantMultiplier<Balance, ConstU128<{ fees::TRANSACTION_BYTE_FEE }>>;
    type FeeMultiplierUpdate = SlowAdjustingFeeUpdate<Self>;
    type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
    /// Held from a datanet's creator for as long as the datanet exists: its record is a few
    /// hundred bytes of state on every node.
    pub const DatanetDeposit: Balance = OPEN;
    /// Held per contribution on top of the datanet's own per-byte deposit: the contribution's
    /// record in state (about 150 bytes), so spam costs even for datanets that ask no deposit.
    pub const ContributionBaseDeposit: Balance = 10 * MILLI_OPEN;
}

impl pallet_datanets::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type DatanetDeposit = DatanetDeposit;
    type ContributionBaseDeposit = ContributionBaseDeposit;
    /// 5 MiB; the normal class of a block (6 MiB) holds one such contribution.
    type MaxPayloadSize = ConstU32<{ 5 * 1024 * 1024 }>;
    type MaxNameLen = ConstU32<64>;
    type MaxDescriptionLen = ConstU32<1024>;
    type MaxLicenseLen = ConstU32<64>;
    type MaxTagLen = ConstU32<32>;
    type MaxTags = ConstU32<8>;
    type MaxCurators = ConstU32<16>;
    type MaxReasonLen = ConstU32<256>;
    type MaxPageSize = ConstU32<100>;
    type WeightInfo = pallet_datanets::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
    /// Held from a model's registrant for as long as the model exists (for good): its record
    /// is about half a kilobyte of state on every node.
    pub const ModelDeposit: Balance = OPEN;
    /// A price change is announced a day before it applies, so callers and dApps see it coming.
    pub const PriceChangeDelay: BlockNumber = DAYS;
    /// Fee-split bounds until governance (root) sets others with `set_fee_split_bounds`: data
    /// contributors get at least a fifth, attestors enough to pay for attribution compute, the
    /// treasury a little, and the owner at most 70 %.
    pub const DefaultFeeSplitBounds: openledger_primitives::models::FeeSplitBounds =
        openledger_primitives::models::FeeSplitBounds {
            min_contributors: Perbill::from_percent(20),
            min_attestors: Perbill::from_percent(5),
            min_treasury: Perbill::from_percent(1),
            max_owner: Perbill::from_percent(70),
        };
}

impl pallet_models::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Datanets = Datanets;
    /// Base models and fee-split bounds are governance decisions: root (sudo) for now.
    type GovernanceOrigin = frame_system::EnsureRoot<AccountId>;
    type ModelDeposit = ModelDeposit;
    type PriceChangeDelay = PriceChangeDelay;
    type DefaultFeeSplitBounds = DefaultFeeSplitBounds;
    type MaxNameLen = ConstU32<64>;
    type MaxArchitectureLen = ConstU32<32>;
    type MaxLicenseLen = ConstU32<64>;
    type MaxDatanetRefs = ConstU32<16>;
    type MaxPageSize = ConstU32<100>;
    type WeightInfo = pallet_models::weights::SubstrateWeight<Runtime>;
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = ModelsBenchmarkHelper;
}

/// Creates an open, owner-curated datanet without deposits, owned by `owner`: the datanet the
/// benchmark helpers below put contributions in.
#[cfg(feature = "runtime-benchmarks")]
fn bench_datanet(owner: &AccountId) -> Result<pallet_datanets::DatanetId, sp_runtime::DispatchError> {
    use pallet_datanets::{Admission, CurationPolicy, DepositPolicy};

    let datanet = pallet_datanets::NextDatanetId::<Runtime>::get();
    Datanets::create_datanet(
        RuntimeOrigin::signed(owner.clone()),
        b"bench".to_vec().try_into().map_err(|_| "name too long")?,
        Default::default(),
        Default::default(),
        Default::default(),
        Admission::Open,
        CurationPolicy::Owner,
        0,
        DepositPolicy::ReleaseAlways,
    )?;
    Ok(datanet)
}

/// Makes the published datanet versions the models benchmarks refer to, through the Datanets
/// pallet's own calls (so they run on the `development` preset's state).
#[cfg(feature = "runtime-benchmarks")]
pub struct ModelsBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_models::BenchmarkHelper for ModelsBenchmarkHelper {
    fn published_datanet_versions(
        n: u32,
    ) -> Result<
        alloc::vec::Vec<(pallet_datanets::DatanetId, pallet_datanets::VersionNumber)>,
        sp_runtime::DispatchError,
    > {
        use frame_support::traits::fungible::Mutate;

        let owner: AccountId = frame_benchmarking::account("datanet-owner", 0, 0);
        Balances::set_balance(&owner, 1_000 * OPEN);
        let origin = || RuntimeOrigin::signed(owner.clone());
        let datanet = bench_datanet(&owner)?;
        // `contribute` indexes its payload under the current extrinsic.
        frame_system::Pallet::<Runtime>::set_extrinsic_index(0);
        for v in 0..n {
            let contribution = pallet_datanets::NextContributionId::<Runtime>::get();
            Datanets::contribute(origin(), datanet, v.to_le_bytes().to_vec())?;
            Datanets::accept(origin(), contribution)?;
            Datanets::publish_version(origin(), datanet)?;
        }
        Ok((1..=n).map(|v| (datanet, v)).collect())
    }
}

/// Session length: 10 blocks (20 s). Short so that development and test networks pick up a new
/// validator within a minute; a production network would use hours.
pub const SESSION_PERIOD: BlockNumber = 10;

parameter_types! {
    pub const SessionPeriod: BlockNumber = SESSION_PERIOD;
    pub const SessionOffset: BlockNumber = 0;
    /// Held from an account while its session keys are registered (their state on every node).
    pub const SessionKeyDeposit: Balance = OPEN;
}

impl pallet_session::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    /// Validators are identified by their account: no separate stash/controller.
    type ValidatorId = AccountId;
    type ValidatorIdOf = sp_runtime::traits::ConvertInto;
    type ShouldEndSession = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
    type NextSessionRotation = pallet_session::PeriodicSessions<SessionPeriod, SessionOffset>;
    /// Top-N validator candidates by stake.
    type SessionManager = Staking;
    type SessionHandler =
        <crate::opaque::SessionKeys as sp_runtime::traits::OpaqueKeys>::KeyTypeIdProviders;
    type Keys = crate::opaque::SessionKeys;
    /// No offence reporting yet, so nobody to disable.
    type DisablingStrategy = ();
    type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
    type Currency = Balances;
    type KeyDeposit = SessionKeyDeposit;
}

parameter_types! {
    /// The rewards pot: rewards accrued and not yet claimed.
    pub const RewardsPalletId: PalletId = PalletId(*b"ol/rewrd");
    /// The protocol treasury: fee shares, rounding remainders and slashed stake.
    pub const TreasuryPalletId: PalletId = PalletId(*b"ol/trsry");
    pub TreasuryAccount: AccountId = TreasuryPalletId::get().into_account_truncating();
    pub const MinimumBond: Balance = OPEN;
    pub const MinValidatorStake: Balance = 10_000 * OPEN;
    pub const MinAttestorStake: Balance = 1_000 * OPEN;
    pub const MinCuratorStake: Balance = 100 * OPEN;
    pub const UnbondingPeriod: BlockNumber = 7 * DAYS;
    /// Governance's window to cancel a slash; shorter than the unbonding period.
    pub const SlashDeferDuration: BlockNumber = 2 * DAYS;
    pub const ReporterShare: Perbill = Perbill::from_percent(10);
}

impl pallet_open_staking::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    /// Only accounts with session keys (`session.setKeys`) are selected.
    type ValidatorRegistration = Session;
    type AdminOrigin = EnsureRoot<AccountId>;
    type Treasury = TreasuryAccount;
    type MinimumBond = MinimumBond;
    type MinValidatorStake = MinValidatorStake;
    type MinAttestorStake = MinAttestorStake;
    type MinCuratorStake = MinCuratorStake;
    type UnbondingPeriod = UnbondingPeriod;
    type MaxUnlockingChunks = ConstU32<32>;
    type MaxCandidates = ConstU32<100>;
    type MaxAttestors = ConstU32<100>;
    /// Aura's and GRANDPA's `MaxAuthorities`.
    type MaxValidators = ConstU32<32>;
    type SlashDeferDuration = SlashDeferDuration;
    type MaxSlashesPerBlock = ConstU32<16>;
    type ReporterShare = ReporterShare;
    type WeightInfo = pallet_open_staking::weights::SubstrateWeight<Runtime>;
}

impl pallet_rewards::Config for Runtime {
    type Currency = Balances;
    type Models = Models;
    type Datanets = Datanets;
    type PalletId = RewardsPalletId;
    type TreasuryPalletId = TreasuryPalletId;
    type MaxShares = ConstU32<64>;
    type MaxAttestors = ConstU32<16>;
    type MaxPageSize = ConstU32<100>;
    type WeightInfo = pallet_rewards::weights::SubstrateWeight<Runtime>;
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = RewardsBenchmarkHelper;
}

/// Registers the model and makes the contributions the rewards benchmarks pay, through the
/// Models and Datanets pallets' own calls.
#[cfg(feature = "runtime-benchmarks")]
pub struct RewardsBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_rewards::benchmarking::BenchmarkHelper<AccountId, Balance> for RewardsBenchmarkHelper {
    fn model(
        owner: &AccountId,
        split: openledger_primitives::models::FeeSplit,
    ) -> Option<openledger_primitives::models::ModelId> {
        use frame_support::traits::fungible::Mutate;
        use pallet_models::BenchmarkHelper as _;

        let versions = ModelsBenchmarkHelper::published_datanet_versions(1).ok()?;
        Balances::mint_into(owner, 1_000 * OPEN).ok()?;
        let model = pallet_models::NextModelId::<Runtime>::get();
        Models::register_model(
            RuntimeOrigin::signed(owner.clone()),
            b"bench".to_vec().try_into().ok()?,
            openledger_primitives::models::ModelKind::Specialised,
            None,
            versions,
            Hash::repeat_byte(1),
            <sp_runtime::traits::BlakeTwo256 as sp_runtime::traits::Hash>::hash_of(&model),
            Hash::repeat_byte(2),
            OPEN,
            split,
            None,
        )
        .ok()?;
        Some(model)
    }

    fn contribution(contributor: &AccountId) -> Option<openledger_primitives::datanets::ContributionId> {
        use frame_support::traits::fungible::Mutate;

        Balances::mint_into(contributor, 1_000 * OPEN).ok()?;
        let origin = RuntimeOrigin::signed(contributor.clone());
        let datanet = bench_datanet(contributor).ok()?;
        let contribution = pallet_datanets::NextContributionId::<Runtime>::get();
        // `contribute` indexes its payload under the current extrinsic.
        frame_system::Pallet::<Runtime>::set_extrinsic_index(0);
        Datanets::contribute(origin, datanet, contribution.to_le_bytes().to_vec()).ok()?;
        Some(contribution)
    }
}

parameter_types! {
    /// The escrow inference fees wait in until their attribution is final.
    pub const AttributionPalletId: PalletId = PalletId(*b"ol/attrb");
    /// Attestors per attribution job (`k`).
    pub const AttestorsPerJob: u32 = 3;
    /// Blocks the attestors of a job have to post their results (1 minute).
    pub const ResultDeadline: BlockNumber = 30;
    pub const DissentSlash: Perbill = Perbill::from_percent(10);
    pub const TimeoutSlash: Perbill = Perbill::from_percent(1);
}

impl pallet_attribution::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Models = Models;
    type Datanets = Datanets;
    type Staking = Staking;
    type Slasher = Staking;
    type Rewards = crate::Rewards;
    type GatewayOrigin = EnsureRoot<AccountId>;
    type AuthorityId = pallet_attribution::crypto::AttestorId;
    type PalletId = AttributionPalletId;
    type AttestorsPerJob = AttestorsPerJob;
    type ResultDeadline = ResultDeadline;
    /// A long completion; its ids take 4 bytes each in the block body.
    type MaxOutputTokens = ConstU32<16_384>;
    /// As many as the rewards pallet distributes to.
    type MaxShares = ConstU32<64>;
    type MaxJobsPerBlock = ConstU32<64>;
    type DissentSlash = DissentSlash;
    type TimeoutSlash = TimeoutSlash;
    type MaxPageSize = ConstU32<100>;
    type WeightInfo = pallet_attribution::weights::SubstrateWeight<Runtime>;
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = AttributionBenchmarkHelper;
}

impl frame_system::offchain::SigningTypes for Runtime {
    type Public = <crate::Signature as sp_runtime::traits::Verify>::Signer;
    type Signature = crate::Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Runtime
where
    RuntimeCall: From<LocalCall>,
{
    type RuntimeCall = RuntimeCall;
    type Extrinsic = crate::UncheckedExtrinsic;
}

/// Off-chain workers sign their transactions like wallets do: immortal, no tip.
impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Runtime
where
    RuntimeCall: From<LocalCall>,
{
    fn create_signed_transaction<
        C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
    >(
        call: RuntimeCall,
        public: Self::Public,
        account: AccountId,
        nonce: Nonce,
    ) -> Option<crate::UncheckedExtrinsic> {
        use codec::Encode;
        let extension = crate::tx_extension(nonce, 0);
        let payload = crate::SignedPayload::new(call, extension).ok()?;
        let signature = payload.using_encoded(|bytes| C::sign(bytes, public))?;
        let (call, extension, _) = payload.deconstruct();
        Some(crate::UncheckedExtrinsic::new_signed(call, account.into(), signature, extension))
    }
}

/// Creates the model, data and staked attestors the attribution benchmarks use, through the
/// pallets' own calls.
#[cfg(feature = "runtime-benchmarks")]
pub struct AttributionBenchmarkHelper;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_attribution::benchmarking::BenchmarkHelper<Runtime> for AttributionBenchmarkHelper {
    fn model_with_contributions(
        count: u32,
    ) -> (openledger_primitives::models::ModelId, alloc::vec::Vec<openledger_primitives::datanets::ContributionId>)
    {
        use frame_support::traits::fungible::Mutate;

        let owner: AccountId = frame_benchmarking::account("datanet-owner", 0, 0);
        Balances::set_balance(&owner, 1_000_000 * OPEN);
        let origin = || RuntimeOrigin::signed(owner.clone());
        let datanet = bench_datanet(&owner).expect("the owner is funded");
        frame_system::Pallet::<Runtime>::set_extrinsic_index(0);
        let mut contributions = alloc::vec::Vec::new();
        for i in 0..count {
            let contribution = pallet_datanets::NextContributionId::<Runtime>::get();
            Datanets::contribute(origin(), datanet, i.to_le_bytes().to_vec()).expect("contributed");
            Datanets::accept(origin(), contribution).expect("accepted");
            contributions.push(contribution);
        }
        Datanets::publish_version(origin(), datanet).expect("published");
        let version = pallet_datanets::Datanets::<Runtime>::get(datanet)
            .map(|d| d.latest_version)
            .expect("the datanet exists");
        let model = pallet_models::NextModelId::<Runtime>::get();
        let split = pallet_models::SplitBounds::<Runtime>::get();
        Models::register_model(
            origin(),
            b"bench".to_vec().try_into().expect("short"),
            openledger_primitives::models::ModelKind::Specialised,
            None,
            alloc::vec![(datanet, version)],
            Hash::repeat_byte(1),
            <sp_runtime::traits::BlakeTwo256 as sp_runtime::traits::Hash>::hash_of(&model),
            Hash::repeat_byte(2),
            OPEN,
            openledger_primitives::models::FeeSplit {
                owner: split.max_owner,
                contributors: split.min_contributors,
                attestors: split.min_attestors,
                treasury: Perbill::one() - split.max_owner - split.min_contributors - split.min_attestors,
            },
            None,
        )
        .expect("registered");
        (model, contributions)
    }

    fn attestors(count: u32) -> alloc::vec::Vec<AccountId> {
        use frame_support::traits::fungible::Mutate;
        use openledger_primitives::staking::Role;

        (0..count)
            .map(|i| {
                let who: AccountId = frame_benchmarking::account("attestor", i, 0);
                Balances::set_balance(&who, 1_000_000 * OPEN);
                let origin = RuntimeOrigin::signed(who.clone());
                Staking::bond(origin.clone(), 10_000 * OPEN).expect("funded");
                Staking::declare_role(origin, Role::Attestor).expect("staked");
                who
            })
            .collect()
    }
}
