//! End to end: Proof of Attribution on a real dev node (Alice validator and only attestor,
//! k = 1). Bob and Eve contribute three documents to a datanet, published as version 1;
//! governance registers a base model whose tokenizer the node has; Charlie registers an
//! adapter on that version; Dave buys credit and records an inference whose output
//! reproduces a long span of Eve's document. Alice's off-chain worker computes the
//! attribution with the native engine and posts it signed with her `attr` key; the job is
//! final within a few blocks, Eve's contribution earned its share of the fee, the others
//! nothing, and the parts of the fee add up exactly. Everything is checked over JSON-RPC.

mod common;

use std::time::Duration;

use common::{
    attribution::{balance, insert_attr_key, publish_datanet_and_adapter, Corpus},
    free_port, signed_extrinsic_with_nonce, wait_for, Node,
};
use openledger_primitives::{models::FeeSplit, OPEN};
use openledger_runtime::RuntimeCall;
use serde_json::json;
use sp_keyring::Sr25519Keyring;
use sp_runtime::Perbill;

#[test]
fn an_inference_is_attributed_by_the_off_chain_worker_and_its_fee_paid_to_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::new();
    corpus.install(&dir.path().join("db"));
    let node = Node::dev(dir.path(), free_port(), free_port());
    let [alice, bob, charlie, dave, eve] = [
        Sr25519Keyring::Alice,
        Sr25519Keyring::Bob,
        Sr25519Keyring::Charlie,
        Sr25519Keyring::Dave,
        Sr25519Keyring::Eve,
    ];
    insert_attr_key(&node, alice);
    let split = FeeSplit {
        owner: Perbill::from_percent(40),
        contributors: Perbill::from_percent(40),
        attestors: Perbill::from_percent(15),
        treasury: Perbill::from_percent(5),
    };
    let price = OPEN; // per 1,000 output tokens
    publish_datanet_and_adapter(&node, &corpus, price, split);

    // Dave's inference: 13 tokens, the last 12 copied from Eve's document.
    let output = corpus.ids("bees trim the wick at dusk and watch the ships pass the reef");
    let n = output.len() as u32;
    let fee = (price * n as u128).div_ceil(1000);
    let treasury_before = balance(&node.rpc.call("rewards_treasury", json!([]))["balance"]);
    let deposit =
        RuntimeCall::Attribution(pallet_attribution::Call::deposit_credit { amount: OPEN });
    let record = RuntimeCall::Attribution(pallet_attribution::Call::record_inference {
        model: 0,
        payer: dave.to_account_id(),
        prompt_tokens: 9,
        completion_tokens: n,
        output,
    });
    node.rpc.call(
        "author_submitExtrinsic",
        json!([signed_extrinsic_with_nonce(
            &node.rpc,
            &dave.pair(),
            0,
            deposit
        )]),
    );
    node.rpc.call(
        "author_submitExtrinsic",
        json!([signed_extrinsic_with_nonce(
            &node.rpc,
            &dave.pair(),
            1,
            record
        )]),
    );

    let job = wait_for("job 0 final", Duration::from_secs(120), || {
        let job = node.rpc.call("attribution_job", json!([0]));
        job["status"].get("final").is_some().then_some(job)
    });
    let attribution = node.rpc.call("attribution_inference", json!([0]));
    let final_at = attribution["finalizedAt"].as_u64().unwrap();
    let recorded_at = job["recordedAt"].as_u64().unwrap();
    println!(
        "recorded at block {recorded_at}, final at block {final_at}: {} blocks",
        final_at - recorded_at
    );
    assert!(
        final_at - recorded_at <= 5,
        "final within 5 blocks, took {}",
        final_at - recorded_at
    );
    // For the report: the engine logs its time per job (index build included on first use).
    let log = std::fs::read_to_string(&node.log).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains("job 0:") || l.contains("built the token index")) {
        println!("{line}");
    }
    assert_eq!(job["fee"], json!(fee.to_string()));
    assert_eq!(job["attestors"], json!([alice.to_account_id().to_string()]));
    let credit = node.rpc.call(
        "attribution_credit",
        json!([dave.to_account_id().to_string()]),
    );
    assert_eq!(balance(&credit), OPEN - fee);

    // Eve's contribution (id 1) has all of the contributors' part.
    let contributors_part = Perbill::from_percent(40) * fee;
    assert_eq!(
        attribution["contributions"],
        json!([{"contribution": 1, "share": 1_000_000_000u32, "paid": contributors_part.to_string()}])
    );
    let earned = |c: u64| {
        balance(
            &node
                .rpc
                .call("attribution_contributionEarnings", json!([c]))["earned"],
        )
    };
    assert_eq!(earned(1), contributors_part);
    assert_eq!(
        (earned(0), earned(2)),
        (0, 0),
        "documents absent from the output earn nothing"
    );
    let err = node
        .rpc
        .try_call("attribution_contributionEarnings", json!([99]))
        .unwrap_err();
    assert!(err.contains("does not exist"), "{err}");

    // Every unit of the fee went somewhere: owner, contributor, attestor, treasury.
    let rewards = |who: Sr25519Keyring| {
        node.rpc
            .call("rewards_account", json!([who.to_account_id().to_string()]))
    };
    let owner = balance(&rewards(charlie)["asOwner"]);
    let attestor = balance(&rewards(alice)["asAttestor"]);
    let contributor = balance(&rewards(eve)["asContributor"]);
    let treasury =
        balance(&node.rpc.call("rewards_treasury", json!([]))["balance"]) - treasury_before;
    assert_eq!(owner, Perbill::from_percent(40) * fee);
    assert_eq!(attestor, Perbill::from_percent(15) * fee);
    assert_eq!(contributor, contributors_part);
    assert_eq!(
        owner + contributor + attestor + treasury,
        fee,
        "the parts sum to the fee"
    );
    assert_eq!(balance(&rewards(bob)["asContributor"]), 0);

    let listed = node.rpc.call("attribution_modelInferences", json!([0]));
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1));
    assert_eq!(listed[0]["id"], 0);
    assert!(node.rpc.call("attribution_job", json!([1])).is_null());
}
