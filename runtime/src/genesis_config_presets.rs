//! Genesis presets: `development` (one validator, Alice) and `local_testnet` (four validators,
//! Alice, Bob, Charlie and Dave, the smallest GRANDPA set that survives losing one voter).
//!
//! Both mint exactly [`GENESIS_SUPPLY`] (1,000,000,000 OPEN): every well-known development
//! account gets [`DEV_ENDOWMENT`] and Alice, who is also sudo, holds the rest as the
//! foundation's reserve.

use crate::{AccountId, Balance, BalancesConfig, RuntimeGenesisConfig, SudoConfig, GENESIS_SUPPLY, OPEN};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// What each development account holds at genesis, besides Alice's reserve.
pub const DEV_ENDOWMENT: Balance = 1_000_000 * OPEN;

/// Split [`GENESIS_SUPPLY`] between `endowed` accounts: [`DEV_ENDOWMENT`] each, the remainder
/// to the first one, so the total is exact.
pub fn genesis_balances(endowed: &[AccountId]) -> Vec<(AccountId, Balance)> {
    let Some((first, rest)) = endowed.split_first() else { return Vec::new() };
    let others_total = DEV_ENDOWMENT * rest.len() as Balance;
    let mut balances = vec![(first.clone(), GENESIS_SUPPLY - others_total)];
    balances.extend(rest.iter().map(|account| (account.clone(), DEV_ENDOWMENT)));
    balances
}

fn testnet_genesis(
    initial_authorities: Vec<(AuraId, GrandpaId)>,
    endowed_accounts: Vec<AccountId>,
    root: AccountId,
) -> Value {
    build_struct_json_patch!(RuntimeGenesisConfig {
        balances: BalancesConfig { balances: genesis_balances(&endowed_accounts) },
        aura: pallet_aura::GenesisConfig {
            authorities: initial_authorities.iter().map(|(aura, _)| aura.clone()).collect::<Vec<_>>(),
        },
        grandpa: pallet_grandpa::GenesisConfig {
            authorities: initial_authorities.iter().map(|(_, grandpa)| (grandpa.clone(), 1)).collect::<Vec<_>>(),
        },
        sudo: SudoConfig { key: Some(root) },
    })
}

/// Aura (sr25519) and GRANDPA (ed25519) keys derived from the same `//Name` seed, as the
/// node's `--alice`, `--bob`, … flags insert them.
fn authority(aura: Sr25519Keyring, grandpa: Ed25519Keyring) -> (AuraId, GrandpaId) {
    (aura.public().into(), grandpa.public().into())
}

/// Accounts endowed in both presets: Alice first (sudo and reserve), then the other
/// well-known development accounts.
fn endowed_accounts() -> Vec<AccountId> {
    Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// Single validator (Alice).
pub fn development_config_genesis() -> Value {
    testnet_genesis(
        vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
        endowed_accounts(),
        Sr25519Keyring::Alice.to_account_id(),
    )
}

/// Four validators (Alice, Bob, Charlie, Dave).
pub fn local_config_genesis() -> Value {
    testnet_genesis(
        vec![
            authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
            authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
            authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
            authority(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
        ],
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
