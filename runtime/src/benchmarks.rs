//! The pallets whose benchmarks the runtime exposes (`runtime-benchmarks` feature only).

pub use crate::*;
pub use frame_system_benchmarking::Pallet as SystemBench;

impl frame_system_benchmarking::Config for Runtime {}

frame_benchmarking::define_benchmarks!(
    [frame_system, SystemBench::<Runtime>]
    [pallet_balances, Balances]
    [pallet_timestamp, Timestamp]
    [pallet_sudo, Sudo]
    [pallet_datanets, Datanets]
    [pallet_models, Models]
    [pallet_open_staking, Staking]
    [pallet_rewards, Rewards]
    [pallet_attribution, Attribution]
);
