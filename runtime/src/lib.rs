//! The OpenLedger runtime: FRAME pallets of the chain, their configuration and the runtime APIs
//! the node, polkadot.js and dApps call.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`/`impl_runtime_apis` expand to large recursive types.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod fees;
pub mod genesis_config_presets;

use alloc::vec::Vec;
use sp_runtime::{generic, impl_opaque_keys, traits::BlakeTwo256};
use sp_version::RuntimeVersion;

pub use openledger_primitives::{
    AccountId, Balance, BlockNumber, Hash, Nonce, Signature, DAYS, GENESIS_SUPPLY, HOURS,
    MICRO_OPEN, MILLISECS_PER_BLOCK, MILLI_OPEN, MINUTES, OPEN, SS58_PREFIX, TOKEN_DECIMALS,
    TOKEN_SYMBOL,
};

/// Opaque types: what the node needs to know of blocks and keys without knowing the runtime's
/// calls, so that it can sync and import across runtime upgrades.
pub mod opaque {
    use super::*;
    pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

    /// Block header.
    pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
    /// Block with opaque extrinsics.
    pub type Block = generic::Block<Header, UncheckedExtrinsic>;
    /// Block id.
    pub type BlockId = generic::BlockId<Block>;

    impl_opaque_keys! {
        /// Session keys of a validator: Aura for block authorship, GRANDPA for finality.
        pub struct SessionKeys {
            pub aura: super::Aura,
            pub grandpa: super::Grandpa,
        }
    }
}

/// Runtime version. Bump `spec_version` on every change of runtime logic and
/// `transaction_version` whenever call indices or extension formats change.
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("openledger"),
    impl_name: alloc::borrow::Cow::Borrowed("openledger-node"),
    authoring_version: 1,
    spec_version: 100,
    impl_version: 1,
    apis: apis::RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

/// Aura slot duration: one block per slot.
pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;

/// Block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block of this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// Address format of extrinsics: an account id or an index.
pub type Address = sp_runtime::MultiAddress<AccountId, ()>;

/// Transaction extensions, checked in this order on every signed transaction.
///
/// `CheckMetadataHash` lets signers (polkadot.js with the metadata-hash extension, hardware
/// wallets) commit to the exact metadata they displayed; `WeightReclaim` refunds unused weight.
pub type TxExtension = (
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
    frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
    frame_system::WeightReclaim<Runtime>,
);

/// The transaction extensions of a signed transaction from `nonce` with `tip`: immortal era,
/// no metadata hash. What wallets build from metadata, for Rust clients (off-chain workers,
/// gateways, tests) that build transactions from this crate's types.
pub fn tx_extension(nonce: Nonce, tip: Balance) -> TxExtension {
    (
        frame_system::CheckNonZeroSender::new(),
        frame_system::CheckSpecVersion::new(),
        frame_system::CheckTxVersion::new(),
        frame_system::CheckGenesis::new(),
        frame_system::CheckEra::from(generic::Era::Immortal),
        frame_system::CheckNonce::from(nonce),
        frame_system::CheckWeight::new(),
        pallet_transaction_payment::ChargeTransactionPayment::from(tip),
        frame_metadata_hash_extension::CheckMetadataHash::new(false),
        frame_system::WeightReclaim::new(),
    )
}

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
    generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;

/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Storage migrations applied on runtime upgrade.
type Migrations = ();

/// Dispatches extrinsics to the pallets.
pub type Executive = frame_executive::Executive<
    Runtime,
    Block,
    frame_system::ChainContext<Runtime>,
    Runtime,
    AllPalletsWithSystem,
    Migrations,
>;

#[frame_support::runtime]
mod runtime {
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Runtime;

    #[runtime::pallet_index(0)]
    pub type System = frame_system;

    #[runtime::pallet_index(1)]
    pub type Timestamp = pallet_timestamp;

    #[runtime::pallet_index(2)]
    pub type Aura = pallet_aura;

    #[runtime::pallet_index(3)]
    pub type Grandpa = pallet_grandpa;

    #[runtime::pallet_index(4)]
    pub type Balances = pallet_balances;

    #[runtime::pallet_index(5)]
    pub type TransactionPayment = pallet_transaction_payment;

    #[runtime::pallet_index(6)]
    pub type Sudo = pallet_sudo;

    #[runtime::pallet_index(10)]
    pub type Datanets = pallet_datanets;

    #[runtime::pallet_index(11)]
    pub type Models = pallet_models;

    // Staking before Session: Session's genesis asks Staking for the first validators.
    #[runtime::pallet_index(12)]
    pub type Staking = pallet_open_staking;

    #[runtime::pallet_index(13)]
    pub type Session = pallet_session;

    #[runtime::pallet_index(14)]
    pub type Rewards = pallet_rewards;

    #[runtime::pallet_index(15)]
    pub type Attribution = pallet_attribution;
}
