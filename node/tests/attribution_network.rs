//! End to end: Proof of Attribution on the 4-validator local network, k = 3 attestors out of
//! the four genesis validators (all staked attestors). Dave's node runs without off-chain
//! workers; when a job is assigned to Dave, the test itself posts a wrong result signed with
//! Dave's key (the product has no fault injection). The honest majority's digest finalises
//! the job, Dave is slashed for dissent (a pending slash in the staking pallet), and the fee
//! is paid by the honest shares.

mod common;

use std::time::Duration;

use codec::Decode;
use common::{
    attribution::{balance, insert_attr_key, publish_datanet_and_adapter, Corpus},
    free_port, hex_bytes,
    local::{peer_id, start, start_with, Validator, NAMES},
    signed_extrinsic, wait_for, Node,
};
use frame_support::storage::StoragePrefixedMap;
use openledger_primitives::{
    attribution::{result_digest, SHARES_TOTAL},
    models::FeeSplit,
    staking::SlashReason,
    OPEN,
};
use openledger_runtime::{AccountId, Runtime, RuntimeCall};
use serde_json::{json, Value};
use sp_keyring::Sr25519Keyring;
use sp_runtime::Perbill;

/// Every pending slash in the staking pallet (`Staking::PendingSlashes`).
fn pending_slashes(node: &Node) -> Vec<(AccountId, SlashReason)> {
    let prefix = pallet_open_staking::PendingSlashes::<Runtime>::final_prefix();
    let keys = node.rpc.call(
        "state_getKeys",
        json!([format!("0x{}", hex::encode(prefix))]),
    );
    keys.as_array()
        .unwrap()
        .iter()
        .map(|key| {
            let value = node.rpc.call("state_getStorage", json!([key]));
            let slash =
                pallet_open_staking::PendingSlash::<Runtime>::decode(&mut &hex_bytes(&value)[..])
                    .unwrap();
            (slash.who, slash.reason)
        })
        .collect()
}

fn final_job(node: &Node, job: u64) -> Value {
    wait_for(
        &format!("job {job} final"),
        Duration::from_secs(180),
        || {
            let info = node.rpc.call("attribution_job", json!([job]));
            info["status"].get("final").is_some().then_some(info)
        },
    )
}

#[test]
fn the_honest_majority_finalises_and_the_liar_is_slashed() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::new();
    let validators: Vec<Validator> = (0..4)
        .map(|index| Validator {
            index,
            rpc_port: free_port(),
            p2p_port: free_port(),
        })
        .collect();
    for v in &validators {
        corpus.install(&dir.path().join(NAMES[v.index]));
    }
    let bootnode = format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
        validators[0].p2p_port,
        peer_id(dir.path(), 0)
    );
    let mut nodes: Vec<Node> = validators[..3]
        .iter()
        .map(|v| start(dir.path(), v, &bootnode))
        .collect();
    nodes.push(start_with(
        dir.path(),
        &validators[3],
        &bootnode,
        &["--dave", "--offchain-worker", "never"],
    ));
    let keyrings = [
        Sr25519Keyring::Alice,
        Sr25519Keyring::Bob,
        Sr25519Keyring::Charlie,
    ];
    for (node, who) in nodes.iter().zip(keyrings) {
        insert_attr_key(node, who);
    }
    let alice_node = &nodes[0];
    wait_for(
        "the network to finalize #2",
        Duration::from_secs(120),
        || (alice_node.rpc.finalized()?.1 >= 2).then_some(()),
    );

    let split = FeeSplit {
        owner: Perbill::from_percent(40),
        contributors: Perbill::from_percent(40),
        attestors: Perbill::from_percent(15),
        treasury: Perbill::from_percent(5),
    };
    let price = OPEN;
    publish_datanet_and_adapter(alice_node, &corpus, price, split);

    // Ferdie pays; inferences until one is assigned to Dave (3 of 4 attestors per job).
    let (dave, ferdie) = (Sr25519Keyring::Dave, Sr25519Keyring::Ferdie);
    let deposit =
        RuntimeCall::Attribution(pallet_attribution::Call::deposit_credit { amount: 10 * OPEN });
    alice_node.rpc.call(
        "author_submitExtrinsic",
        json!([signed_extrinsic(&alice_node.rpc, &ferdie.pair(), deposit)]),
    );
    let output = corpus.ids("bees trim the wick at dusk and watch the ships pass the reef");
    let honest = vec![(1u64, SHARES_TOTAL)];
    let lie = vec![(0u64, SHARES_TOTAL)];
    let dave_account = dave.to_account_id();
    let mut dave_job = None;
    for job in 0..6u64 {
        let record = RuntimeCall::Attribution(pallet_attribution::Call::record_inference {
            model: 0,
            payer: ferdie.to_account_id(),
            prompt_tokens: 3,
            completion_tokens: output.len() as u32,
            output: output.clone(),
        });
        alice_node.rpc.call(
            "author_submitExtrinsic",
            json!([signed_extrinsic(&alice_node.rpc, &ferdie.pair(), record)]),
        );
        let info = wait_for(
            &format!("job {job} recorded"),
            Duration::from_secs(60),
            || {
                let info = alice_node.rpc.call("attribution_job", json!([job]));
                (!info.is_null()).then_some(info)
            },
        );
        let attestors: Vec<String> =
            serde_json::from_value(info["attestors"].clone()).expect("a list of accounts");
        assert_eq!(attestors.len(), 3, "k = 3 of the 4 attestors");
        if attestors.contains(&dave_account.to_string()) {
            let submit = RuntimeCall::Attribution(pallet_attribution::Call::submit_result {
                job,
                digest: result_digest(job, &lie),
                shares: lie.clone(),
            });
            alice_node.rpc.call(
                "author_submitExtrinsic",
                json!([signed_extrinsic(&alice_node.rpc, &dave.pair(), submit)]),
            );
            dave_job = Some(job);
            break;
        }
        // Dave not drawn: the three honest workers finalise it alone.
        final_job(alice_node, job);
    }
    let job = dave_job.expect("Dave is drawn within six jobs (probability 1 - 4^-6)");

    let info = final_job(alice_node, job);
    let honest_digest = format!("{:?}", result_digest(job, &honest));
    assert_eq!(info["status"]["final"]["digest"], json!(honest_digest));
    wait_for("Dave's result on-chain", Duration::from_secs(60), || {
        let info = alice_node.rpc.call("attribution_job", json!([job]));
        let results = info["results"].as_array()?.clone();
        results
            .iter()
            .any(|r| r["attestor"] == json!(dave_account.to_string()))
            .then_some(())
    });
    let info = alice_node.rpc.call("attribution_job", json!([job]));
    for r in info["results"].as_array().unwrap() {
        let expected = if r["attestor"] == json!(dave_account.to_string()) {
            format!("{:?}", result_digest(job, &lie))
        } else {
            honest_digest.clone()
        };
        assert_eq!(r["digest"], json!(expected), "{r}");
    }
    // The liar's slash is pending in the staking pallet (governance may still cancel it).
    let slashes = pending_slashes(alice_node);
    assert!(
        slashes.contains(&(dave_account.clone(), SlashReason::AttributionDissent)),
        "Dave slashed for dissent: {slashes:?}"
    );
    // Rewards follow the honest result: Eve's contribution 1, not Bob's contribution 0.
    let attribution = alice_node.rpc.call("attribution_inference", json!([job]));
    assert_eq!(attribution["contributions"][0]["contribution"], 1);
    let majority: Vec<String> = serde_json::from_value(attribution["attestors"].clone()).unwrap();
    assert_eq!(majority.len(), 2);
    assert!(!majority.contains(&dave_account.to_string()));
    let earned = |c: u64| {
        balance(
            &alice_node
                .rpc
                .call("attribution_contributionEarnings", json!([c]))["earned"],
        )
    };
    let fee = balance(&info["fee"]);
    assert_eq!(
        earned(1),
        (job + 1) as u128 * (Perbill::from_percent(40) * fee)
    );
    assert_eq!(earned(0), 0);
}
