//! End to end: the real `openledger-node --dev` on 127.0.0.1, driven over JSON-RPC the way a
//! wallet or dApp drives it.

mod common;

use std::time::Duration;

use codec::Decode;
use common::{free_port, hex_bytes, hex_number, signed_extrinsic, wait_for, Node};
use openledger_runtime::{AccountId, Balance, Nonce, Runtime, RuntimeCall, OPEN};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519};
use sp_keyring::Sr25519Keyring;

type AccountInfo = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;

/// Storage key of `System::Account(account)`, as FRAME derives it.
fn account_key(account: &AccountId) -> String {
    let key = frame_system::Account::<Runtime>::hashed_key_for(account);
    format!("0x{}", hex::encode(key))
}

fn free_balance_at(node: &Node, account: &AccountId, block: &str) -> Balance {
    match node.rpc.call("state_getStorage", json!([account_key(account), block])) {
        Value::Null => 0,
        value => AccountInfo::decode(&mut &hex_bytes(&value)[..]).expect("AccountInfo").data.free,
    }
}

#[test]
fn dev_node_produces_finalizes_serves_rpc_and_accepts_a_signed_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let (rpc_port, p2p_port) = (free_port(), free_port());
    let args: Vec<String> = [
        "--dev",
        "--base-path",
        dir.path().join("db").to_str().unwrap(),
        "--listen-addr",
        &format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut node = Node::start("dev", &args, &dir.path().join("node.log"), rpc_port, p2p_port);

    // Blocks are produced (≥ 3) and finalized (≥ 1).
    let best = wait_for("block 3", Duration::from_secs(90), || node.rpc.best_number().filter(|n| *n >= 3));
    let (_, finalized) = wait_for("a finalized block", Duration::from_secs(60), || {
        node.rpc.finalized().filter(|(_, n)| *n >= 1)
    });
    assert!(best >= 3 && finalized >= 1, "{}", node.log_tail());

    // Token properties, as polkadot.js reads them.
    let properties = node.rpc.call("system_properties", json!([]));
    assert_eq!(properties["tokenSymbol"], "OPEN");
    assert_eq!(properties["tokenDecimals"], 18);
    assert_eq!(properties["ss58Format"], 42);
    assert_eq!(node.rpc.call("system_chain", json!([])), "OpenLedger Development");

    // Metadata over RPC decodes and describes this runtime.
    let metadata = hex_bytes(&node.rpc.call("state_getMetadata", json!([])));
    let metadata = frame_metadata::RuntimeMetadataPrefixed::decode(&mut &metadata[..])
        .expect("state_getMetadata returns SCALE metadata");
    let frame_metadata::RuntimeMetadata::V14(v14) = metadata.1 else {
        panic!("state_getMetadata serves v14 by default")
    };
    assert!(v14.pallets.iter().any(|p| p.name == "Balances"));

    // A signed transfer from Alice to a fresh account lands in a finalized block.
    let fresh = sr25519::Pair::from_seed(&[42u8; 32]);
    let dest: AccountId = fresh.public().into();
    let amount = 12_345 * OPEN / 1_000;
    let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: dest.clone().into(),
        value: amount,
    });
    let xt = signed_extrinsic(&node.rpc, &Sr25519Keyring::Alice.pair(), call);
    let tx_hash = node.rpc.call("author_submitExtrinsic", json!([xt]));
    assert_eq!(hex_bytes(&tx_hash).len(), 32);
    wait_for("the transfer in a finalized block", Duration::from_secs(90), || {
        let (hash, _) = node.rpc.finalized()?;
        (free_balance_at(&node, &dest, &hash) == amount).then_some(())
    });

    // A malformed extrinsic is refused with an RPC error, and the node stays healthy.
    let error = node.rpc.try_call("author_submitExtrinsic", json!(["0x0102"])).unwrap_err();
    assert!(!error.is_empty());
    // The same signed transfer again is stale (nonce used) and is refused.
    let error = node.rpc.try_call("author_submitExtrinsic", json!([xt])).unwrap_err();
    assert!(error.contains("Invalid") || error.contains("stale") || error.contains("1010"), "{error}");
    assert!(hex_number(&node.rpc.call("chain_getHeader", json!([]))["number"]).is_some());

    // SIGTERM stops the node cleanly.
    let status = node.stop_with("TERM");
    assert!(status.success(), "node exited with {status:?}:\n{}", node.log_tail());
}
