//! The economics of using the chain: existential deposit and transaction fees, in OPEN.
//!
//! # Why these numbers
//!
//! OPEN has 18 decimals and a genesis supply of 1,000,000,000 OPEN. The chain is built for
//! many small payments (inference fees per 1,000 tokens, attribution rewards to thousands of
//! data contributors), so fixed costs must stay far below one OPEN, while everything that makes
//! every node store bytes forever must cost in proportion to those bytes.
//!
//! - **Existential deposit: 0.001 OPEN** ([`EXISTENTIAL_DEPOSIT`]). An account is roughly 120
//!   bytes of state held by every node. At 0.001 OPEN, one million dust accounts lock
//!   1,000 OPEN, which makes state bloat expensive, while a contributor's smallest realistic
//!   reward claim (fractions of an OPEN) still creates an account.
//! - **Compute: 1 OPEN per second of block execution** ([`WEIGHT_FEE_PER_REF_TIME`], weight is
//!   measured in picoseconds of reference hardware, 10^12 per second). A plain transfer with
//!   its transaction extensions weighs about 0.6 ms and so costs about 0.0006 OPEN for its
//!   weight. Filling a whole block's
//!   normal-class compute ([`crate::configs::MAXIMUM_BLOCK_WEIGHT`] × 75 %) costs 0.375 OPEN
//!   before the fee multiplier reacts.
//! - **Bytes: 1 micro-OPEN per byte** ([`TRANSACTION_BYTE_FEE`]). Datanet payloads live in
//!   block bodies forever, on every archive node, so bytes are priced on their own: 1 MiB costs
//!   about 1.05 OPEN in length fee, a 150-byte transfer about 0.00015 OPEN. Bytes, not
//!   compute, dominate the cost of a data contribution, as they dominate its cost to the
//!   network.
//! - **Congestion**: the fee multiplier follows Polkadot's slow-adjusting rule targeting 25 %
//!   full blocks, so a sustained flood pays more and more; it never falls below 1/10.
//! - **Where fees go**: burned, for now. There is no treasury pallet yet and rewarding the block
//!   author would favour validators over the data economy; the rewards issue routes fees.
//!
//! A balance transfer therefore costs about 0.0008 OPEN in all (measured by the runtime tests,
//! which check it stays under 0.001 OPEN).

use crate::Balance;
use openledger_primitives::{MICRO_OPEN, MILLI_OPEN};

/// Smallest balance an account may hold; below it the account is reaped.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_OPEN;

/// Fee per unit of `ref_time` weight (one picosecond of reference execution):
/// 10^6 × 10^12 ps = 10^18 = 1 OPEN per second of execution.
pub const WEIGHT_FEE_PER_REF_TIME: Balance = 1_000_000;

/// Fee per byte of an extrinsic's encoded length.
pub const TRANSACTION_BYTE_FEE: Balance = MICRO_OPEN;

/// Operational (governance, equivocation report) transactions pay five times the normal rate
/// as priority tip, so they are included first even under load.
pub const OPERATIONAL_FEE_MULTIPLIER: u8 = 5;
