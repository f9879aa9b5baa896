//! End to end: validator rotation by stake on the 4-validator local testnet. A fifth node
//! starts as a plain `--validator` with no keys, generates session keys over its own RPC
//! (`author_rotateKeysWithOwner`), and its account registers them (`session.setKeys`), bonds
//! and declares the validator role. Within two sessions it is in the session's validator set
//! and the Aura authorities, authors blocks, and the five keep finalizing.

mod common;

use std::time::Duration;

use codec::{Decode, Encode};
use common::{
    free_port, hex_bytes,
    local::{peer_id, start, start_with, Validator},
    signed_extrinsic_with_nonce, wait_for, Node,
};
use openledger_primitives::staking::Role;
use openledger_runtime::{opaque::SessionKeys, AccountId, Runtime, RuntimeCall, OPEN};
use serde_json::{json, Value};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_keyring::Sr25519Keyring;
use sp_runtime::{generic::DigestItem, traits::Header as _};

/// Storage value `key` decoded as `T`, at block `at` (`None` if empty).
fn storage<T: Decode>(node: &Node, key: Vec<u8>, at: &str) -> Option<T> {
    let value = node.rpc.call("state_getStorage", json!([format!("0x{}", hex::encode(key)), at]));
    (!value.is_null()).then(|| T::decode(&mut &hex_bytes(&value)[..]).expect("decodes"))
}

fn finalized_hash(node: &Node) -> String {
    node.rpc.finalized().map(|(hash, _)| hash).unwrap_or_default()
}

fn session_validators(node: &Node, at: &str) -> Vec<AccountId> {
    storage(node, pallet_session::Validators::<Runtime>::hashed_key().to_vec(), at).unwrap_or_default()
}

/// The Aura author of block `hash`: the authority of its slot among its parent's authorities.
fn author(node: &Node, hash: &str) -> Option<AuraId> {
    let header: openledger_runtime::Header =
        serde_json::from_value(node.rpc.try_call("chain_getHeader", json!([hash])).ok()?).ok()?;
    let slot = header.digest().logs().iter().find_map(|item| match item {
        DigestItem::PreRuntime(id, data) if *id == sp_consensus_aura::AURA_ENGINE_ID =>
            u64::decode(&mut &data[..]).ok(),
        _ => None,
    })?;
    let parent = format!("{:?}", header.parent_hash());
    let raw: Value = node.rpc.try_call("state_call", json!(["AuraApi_authorities", "0x", parent])).ok()?;
    let authorities = Vec::<AuraId>::decode(&mut &hex_bytes(&raw)[..]).ok()?;
    authorities.get((slot % authorities.len() as u64) as usize).cloned()
}

#[test]
fn a_fifth_node_bonds_becomes_a_validator_next_session_and_authors_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let validators: Vec<Validator> = (0..5)
        .map(|index| Validator { index, rpc_port: free_port(), p2p_port: free_port() })
        .collect();
    let bootnode =
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", validators[0].p2p_port, peer_id(dir.path(), 0));
    let mut nodes: Vec<Node> = validators[..4].iter().map(|v| start(dir.path(), v, &bootnode)).collect();
    // Eve's node: a validator without any key in its keystore.
    nodes.push(start_with(dir.path(), &validators[4], &bootnode, &["--validator"]));
    let eve_node = &nodes[4];
    wait_for("eve's node to sync past #2", Duration::from_secs(120), || {
        (eve_node.rpc.finalized()?.1 >= 2).then_some(())
    });

    // Keys generated and kept by Eve's node, with the proof that Eve's account owns them.
    let eve = Sr25519Keyring::Eve;
    let eve_account = eve.to_account_id();
    let generated = eve_node.rpc.call(
        "author_rotateKeysWithOwner",
        json!([format!("0x{}", hex::encode(eve_account.encode()))]),
    );
    let keys = SessionKeys::decode(&mut &hex_bytes(&generated["keys"])[..]).expect("session keys");
    let proof = hex_bytes(&generated["proof"]);
    let eve_aura = keys.aura.clone();

    let alice_node = &nodes[0];
    let genesis_set = session_validators(alice_node, &finalized_hash(alice_node));
    assert_eq!(genesis_set.len(), 4);
    assert!(!genesis_set.contains(&eve_account));

    let nonce = alice_node.rpc.call("system_accountNextIndex", json!([eve_account.to_string()]));
    let nonce = nonce.as_u64().expect("nonce") as u32;
    let calls = [
        RuntimeCall::Session(pallet_session::Call::set_keys { keys, proof }),
        RuntimeCall::Staking(pallet_open_staking::Call::bond { amount: 200_000 * OPEN }),
        RuntimeCall::Staking(pallet_open_staking::Call::declare_role { role: Role::Validator }),
    ];
    for (i, call) in calls.into_iter().enumerate() {
        let xt = signed_extrinsic_with_nonce(&alice_node.rpc, &eve.pair(), nonce + i as u32, call);
        alice_node.rpc.call("author_submitExtrinsic", json!([xt]));
    }
    let joined_at = wait_for("eve to be a finalized validator candidate", Duration::from_secs(60), || {
        let (hash, number) = alice_node.rpc.finalized()?;
        let candidates: Vec<AccountId> =
            storage(alice_node, pallet_open_staking::Candidates::<Runtime>::hashed_key().to_vec(), &hash)?;
        candidates.contains(&eve_account).then_some(number)
    });

    // At most two session boundaries (10 blocks each): planned at the first, active at the next.
    wait_for("eve in the finalized session validator set", Duration::from_secs(90), || {
        session_validators(alice_node, &finalized_hash(alice_node)).contains(&eve_account).then_some(())
    });
    let set = session_validators(alice_node, &finalized_hash(alice_node));
    assert_eq!(set.len(), 5, "{set:?}");

    // Eve's node authors blocks that everyone finalizes.
    let mut next = joined_at;
    let authored = wait_for("a finalized block authored by eve's node", Duration::from_secs(60), || {
        let (_, finalized) = alice_node.rpc.finalized()?;
        while next <= finalized {
            let hash = alice_node.rpc.block_hash(next)?;
            if author(alice_node, &hash)? == eve_aura {
                return Some(next);
            }
            next += 1;
        }
        None
    });
    // And finality keeps going with five voters.
    for node in &nodes {
        wait_for(&format!("{} to finalize past #{authored}", node.name), Duration::from_secs(60), || {
            (node.rpc.finalized()?.1 > authored + 2).then_some(())
        });
    }
    for node in &mut nodes {
        let status = node.stop_with("TERM");
        assert!(status.success(), "{} exited with {status:?}:\n{}", node.name, node.log_tail());
    }
}
