//! Genesis presets: `development` (one validator, Alice) and `local_testnet` (four validators,
//! Alice, Bob, Charlie and Dave, the smallest GRANDPA set that survives losing one voter).
//!
//! Both mint exactly [`GENESIS_SUPPLY`] (1,000,000,000 OPEN): every well-known development
//! account gets [`DEV_ENDOWMENT`], the rewards pot and the treasury the existential deposit
//! (so any amount can be paid into them), and Alice, who is also sudo, holds the rest as the
//! foundation's reserve.
//!
//! The validators are stakers: each bonds [`GENESIS_VALIDATOR_STAKE`] with the validator and
//! attestor roles (their nodes compute attribution jobs once their `attr` key is inserted)
//! and has its session keys registered, so the session pallet selects them (top-N by stake)
//! and hands their keys to Aura and GRANDPA at genesis.

use crate::{
    configs::{AttributionPalletId, RewardsPalletId, TreasuryPalletId},
    fees::EXISTENTIAL_DEPOSIT,
    opaque::SessionKeys,
    AccountId, Balance, BalancesConfig, RuntimeGenesisConfig, SessionConfig, StakingConfig,
    SudoConfig, GENESIS_SUPPLY, OPEN,
};
use openledger_primitives::staking::Role;
use sp_runtime::traits::AccountIdConversion;
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// What each development account holds at genesis, besides Alice's reserve.
pub const DEV_ENDOWMENT: Balance = 1_000_000 * OPEN;

/// What each genesis validator bonds.
pub const GENESIS_VALIDATOR_STAKE: Balance = 100_000 * OPEN;

/// Validators per session on the local test network: room for new validators to join the
/// four genesis ones.
pub const LOCAL_VALIDATOR_COUNT: u32 = 8;

/// Split [`GENESIS_SUPPLY`] between `endowed` accounts: [`DEV_ENDOWMENT`] each, the remainder
/// to the first one, so the total is exact.
pub fn genesis_balances(endowed: &[AccountId]) -> Vec<(AccountId, Balance)> {
    let Some((first, rest)) = endowed.split_first() else { return Vec::new() };
    let others_total = DEV_ENDOWMENT * rest.len() as Balance;
    let mut balances = vec![(first.clone(), GENESIS_SUPPLY - others_total)];
    balances.extend(rest.iter().map(|account| (account.clone(), DEV_ENDOWMENT)));
    balances
}

/// `genesis_balances`, plus the existential deposit for the rewards pot, the treasury and the
/// attribution escrow,
/// taken from the first account's share so the supply stays exact.
fn balances_with_pallet_accounts(endowed: &[AccountId]) -> Vec<(AccountId, Balance)> {
    let mut balances = genesis_balances(endowed);
    let pallet_accounts: [AccountId; 3] = [
        RewardsPalletId::get().into_account_truncating(),
        TreasuryPalletId::get().into_account_truncating(),
        AttributionPalletId::get().into_account_truncating(),
    ];
    if let Some((_, reserve)) = balances.first_mut() {
        *reserve -= EXISTENTIAL_DEPOSIT * pallet_accounts.len() as Balance;
        balances.extend(pallet_accounts.into_iter().map(|a| (a, EXISTENTIAL_DEPOSIT)));
    }
    balances
}

fn testnet_genesis(
    initial_authorities: Vec<(AccountId, AuraId, GrandpaId)>,
    validator_count: u32,
    endowed_accounts: Vec<AccountId>,
    root: AccountId,
) -> Value {
    build_struct_json_patch!(RuntimeGenesisConfig {
        balances: BalancesConfig { balances: balances_with_pallet_accounts(&endowed_accounts) },
        staking: StakingConfig {
            stakers: initial_authorities
                .iter()
                .map(|(account, _, _)| {
                    (account.clone(), GENESIS_VALIDATOR_STAKE, vec![Role::Validator, Role::Attestor])
                })
                .collect::<Vec<_>>(),
            validator_count,
        },
        session: SessionConfig {
            keys: initial_authorities
                .iter()
                .map(|(account, aura, grandpa)| {
                    (account.clone(), account.clone(), SessionKeys { aura: aura.clone(), grandpa: grandpa.clone() })
                })
                .collect::<Vec<_>>(),
        },
        sudo: SudoConfig { key: Some(root) },
    })
}

/// A validator's account (sr25519) with its Aura (sr25519) and GRANDPA (ed25519) keys, all
/// derived from the same `//Name` seed, as the node's `--alice`, `--bob`, … flags insert them.
fn authority(aura: Sr25519Keyring, grandpa: Ed25519Keyring) -> (AccountId, AuraId, GrandpaId) {
    (aura.to_account_id(), aura.public().into(), grandpa.public().into())
}

/// Accounts endowed in both presets: Alice first (sudo and reserve), then the other
/// well-known development accounts.
fn endowed_accounts() -> Vec<AccountId> {
    Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// Single validator (Alice), one seat per session.
pub fn development_config_genesis() -> Value {
    testnet_genesis(
        vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
        1,
        endowed_accounts(),
        Sr25519Keyring::Alice.to_account_id(),
    )
}

/// Four validators (Alice, Bob, Charlie, Dave), [`LOCAL_VALIDATOR_COUNT`] seats per session.
pub fn local_config_genesis() -> Value {
    testnet_genesis(
        vec![
            authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
            authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
            authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
            authority(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
        ],
        LOCAL_VALIDATOR_COUNT,
        endowed_accounts(),
        Sr25519Keyring::Alice.to_account_id(),
    )
}

/// The JSON patch of preset `id`, if it exists.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
    let patch = match id.as_ref() {
        sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
        sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
        _ => return None,
    };
    Some(
        serde_json::to_string(&patch)
            .expect("serialization to json is expected to work. qed.")
            .into_bytes(),
    )
}

/// Names of the presets this runtime offers.
pub fn preset_names() -> Vec<PresetId> {
    vec![
        PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
        PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
    ]
}
