//! Types shared by the OpenLedger runtime, its pallets and the node. `no_std`.

#![cfg_attr(not(feature = "std"), no_std)]

pub mod attribution;
pub mod datanets;
pub mod models;
pub mod rewards;
pub mod staking;

use sp_runtime::{
    traits::{IdentifyAccount, Verify},
    MultiSignature,
};

/// Block number: u32 lasts 272 years at one block every 2 seconds.
pub type BlockNumber = u32;

/// Signature type of every account: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;

/// Account id: the public key behind a [`Signature`].
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;

/// Balance of an account, in the smallest unit of OPEN (10^-18 OPEN).
pub type Balance = u128;

/// Transaction index of an account.
pub type Nonce = u32;

/// Hash of a block, a transaction or a content payload (blake2-256).
pub type Hash = sp_core::H256;

/// OPEN has 18 decimals, like most EVM tokens, so amounts map 1:1 to bridged ERC-20 OPEN.
pub const TOKEN_DECIMALS: u8 = 18;
/// Ticker of the native token.
pub const TOKEN_SYMBOL: &str = "OPEN";
/// One OPEN in the smallest unit.
pub const OPEN: Balance = 1_000_000_000_000_000_000;
/// 10^-3 OPEN.
pub const MILLI_OPEN: Balance = OPEN / 1_000;
/// 10^-6 OPEN.
pub const MICRO_OPEN: Balance = MILLI_OPEN / 1_000;
/// Total supply minted at genesis: one billion OPEN.
pub const GENESIS_SUPPLY: Balance = 1_000_000_000 * OPEN;
/// SS58 address prefix: the generic Substrate prefix, so polkadot.js shows familiar addresses.
pub const SS58_PREFIX: u16 = 42;

/// Target block time: one Aura slot.
pub const MILLISECS_PER_BLOCK: u64 = 2_000;
/// Blocks per minute, hour and day at the target block time.
pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
pub const HOURS: BlockNumber = MINUTES * 60;
pub const DAYS: BlockNumber = HOURS * 24;
