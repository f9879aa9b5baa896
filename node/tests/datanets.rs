//! End to end: a datanet's life on a real dev node over JSON-RPC — create, contribute three
//! payloads (one of 5 MiB, the largest allowed), accept two, reject one, publish a version, read everything back
//! with the `datanets_*` methods, fetch every payload by content hash, restart the node on the
//! same base path and fetch them again.

mod common;

use std::time::Duration;

use common::{free_port, hex_bytes, signed_extrinsic, text, wait_for, Node};
use openledger_primitives::datanets::{merkle_root, Admission, CurationPolicy, DepositPolicy};
use openledger_runtime::RuntimeCall;
use serde_json::json;
use sp_core::H256;
use sp_io::hashing::blake2_256;
use sp_keyring::Sr25519Keyring;

/// Submit `call` signed by `who`, and wait until `done` holds on the finalized chain.
fn submit(node: &Node, who: Sr25519Keyring, call: RuntimeCall, what: &str, done: impl Fn(&Node) -> bool) {
    let xt = signed_extrinsic(&node.rpc, &who.pair(), call);
    node.rpc.call("author_submitExtrinsic", json!([xt]));
    wait_for(what, Duration::from_secs(120), || done(node).then_some(()));
}

fn finalized_hash(node: &Node) -> String {
    node.rpc.finalized().map(|(hash, _)| hash).unwrap_or_default()
}

/// A deterministic payload of `len` bytes, different for each `seed`.
fn payload(seed: u8, len: usize) -> Vec<u8> {
    let mut state = u64::from(seed) * 0x9E37_79B9_7F4A_7C15 + 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn datanet_lifecycle_with_payloads_in_block_bodies_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (rpc_port, p2p_port) = (free_port(), free_port());
    let mut node = Node::dev(dir.path(), rpc_port, p2p_port);
    let (alice, bob, charlie) = (Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie);

    // Alice creates an open datanet she curates herself.
    submit(
        &node,
        alice,
        RuntimeCall::Datanets(pallet_datanets::Call::create_datanet {
            name: text("medical-qa"),
            description: text("Question/answer pairs reviewed by clinicians"),
            license: text("CC-BY-4.0"),
            tags: vec![text("medical"), text("qa")].try_into().unwrap(),
            admission: Admission::Open,
            curation: CurationPolicy::Owner,
            deposit_per_byte: 1_000_000, // 10^-12 OPEN per byte
            deposit_policy: DepositPolicy::ForfeitOnReject,
        }),
        "the datanet in a finalized block",
        |node| {
            let at = finalized_hash(node);
            !node.rpc.call("datanets_get", json!([0, at])).is_null()
        },
    );
    let datanet = node.rpc.call("datanets_get", json!([0]));
    assert_eq!(datanet["name"], "medical-qa");
    assert_eq!(datanet["tags"], json!(["medical", "qa"]));
    assert_eq!(datanet["owner"], json!(alice.to_account_id().to_string()));
    assert_eq!(node.rpc.call("datanets_list", json!([0, 10])).as_array().unwrap().len(), 1);

    // Three contributions from two contributors, one of 5 MiB (the largest a block takes).
    let payloads = [payload(1, 5 * 1024 * 1024), payload(2, 3_000), payload(3, 17)];
    let contributors = [bob, charlie, bob];
    for (i, (data, who)) in payloads.iter().zip(contributors).enumerate() {
        submit(
            &node,
            who,
            RuntimeCall::Datanets(pallet_datanets::Call::contribute { datanet: 0, payload: data.clone() }),
            &format!("contribution {i} in a finalized block"),
            |node| {
                let at = finalized_hash(node);
                !node.rpc.call("datanets_contribution", json!([i, at])).is_null()
            },
        );
    }
    let contributions = node.rpc.call("datanets_contributions", json!([0, 0, 10]));
    let contributions = contributions.as_array().unwrap();
    assert_eq!(contributions.len(), 3);
    for (i, contribution) in contributions.iter().enumerate() {
        assert_eq!(contribution["contentHash"], json!(format!("0x{}", hex::encode(blake2_256(&payloads[i])))));
        assert_eq!(contribution["size"], json!(payloads[i].len()));
        assert_eq!(contribution["status"], json!("Pending"), "{contribution}");
    }

    // Accept the 5 MiB one and the 17-byte one, reject the other.
    for (id, accept) in [(0u64, true), (1, false), (2, true)] {
        let call = if accept {
            RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: id })
        } else {
            RuntimeCall::Datanets(pallet_datanets::Call::reject {
                contribution: id,
                reason: text("duplicate of an existing record"),
            })
        };
        let expected = if accept { "Accepted" } else { "Rejected" };
        submit(&node, alice, call, &format!("contribution {id} {expected}"), |node| {
            let at = finalized_hash(node);
            node.rpc.call("datanets_contribution", json!([id, at]))["status"] == json!(expected)
        });
    }
    let rejected = node.rpc.call("datanets_contribution", json!([1]));
    assert_eq!(rejected["rejectionReason"], "duplicate of an existing record");

    // Publish version 1: the two accepted contributions, in acceptance order.
    submit(
        &node,
        alice,
        RuntimeCall::Datanets(pallet_datanets::Call::publish_version { datanet: 0 }),
        "version 1 in a finalized block",
        |node| {
            let at = finalized_hash(node);
            !node.rpc.call("datanets_version", json!([0, 1, at])).is_null()
        },
    );
    let version = node.rpc.call("datanets_version", json!([0, 1]));
    assert_eq!(version["contributionCount"], 2);
    assert_eq!(version["totalBytes"], json!(payloads[0].len() + payloads[2].len()));
    let expected_root = merkle_root(&[H256(blake2_256(&payloads[0])), H256(blake2_256(&payloads[2]))]);
    assert_eq!(version["merkleRoot"], json!(format!("{expected_root:?}")));
    let members = node.rpc.call("datanets_versionContributions", json!([0, 1, 0, 10]));
    let member_ids: Vec<u64> = members.as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert_eq!(member_ids, [0, 2]);
    assert_eq!(node.rpc.call("datanets_versions", json!([0])).as_array().unwrap().len(), 1);

    // Every payload, even the rejected one, is in a block body and comes back byte for byte.
    let fetch_all = |node: &Node| {
        for data in &payloads {
            let hash = format!("0x{}", hex::encode(blake2_256(data)));
            let fetched = node.rpc.call("datanets_payload", json!([hash]));
            assert_eq!(fetched["size"], json!(data.len()));
            assert_eq!(&hex_bytes(&fetched["data"]), data, "payload {hash}");
        }
    };
    fetch_all(&node);
    // Unknown content: a clear RPC error, not an empty answer.
    let error = node.rpc.try_call("datanets_payload", json!([format!("{:?}", H256::repeat_byte(7))])).unwrap_err();
    assert!(error.contains("no indexed payload"), "{error}");

    // Restart on the same base path: nothing is lost.
    let finalized_before = node.rpc.finalized().unwrap().1;
    let status = node.stop_with("TERM");
    assert!(status.success(), "{}", node.log_tail());
    let node = Node::dev(dir.path(), rpc_port, p2p_port);
    assert!(node.rpc.finalized().unwrap().1 >= finalized_before);
    fetch_all(&node);
    assert_eq!(node.rpc.call("datanets_version", json!([0, 1])), version);
}
