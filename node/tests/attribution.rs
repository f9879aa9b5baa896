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

use common::{free_port, signed_extrinsic, signed_extrinsic_with_nonce, text, wait_for, Node};
use openledger_primitives::{
    datanets::{Admission, CurationPolicy, DepositPolicy},
    models::{FeeSplit, ModelFormat, ModelKind},
    OPEN,
};
use openledger_runtime::RuntimeCall;
use serde_json::{json, Value};
use sp_core::{hashing::blake2_256, H256};
use sp_keyring::Sr25519Keyring;
use sp_runtime::Perbill;

const DOCS: [&str; 3] = [
    "the river flows past the mill and the miller counts his sacks of grain every morning",
    "old lighthouse keepers trim the wick at dusk and watch the ships pass the reef until dawn",
    "bees carry pollen from the orchard to the hive where the queen lays her eggs in wax cells",
];

/// A word-level `tokenizer.json` over the documents' words (id = rank + 1, 0 unknown).
fn tokenizer(vocab: &[String]) -> Vec<u8> {
    let ids: serde_json::Map<String, Value> = std::iter::once(("[UNK]".to_string(), json!(0)))
        .chain(vocab.iter().enumerate().map(|(i, w)| (w.clone(), json!(i + 1))))
        .collect();
    serde_json::to_vec(&json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": ids, "unk_token": "[UNK]"}
    }))
    .unwrap()
}

fn submit(node: &Node, xt: String) {
    node.rpc.call("author_submitExtrinsic", json!([xt]));
}

fn balance(value: &Value) -> u128 {
    value.as_str().expect("balances are decimal strings").parse().unwrap()
}

#[test]
fn an_inference_is_attributed_by_the_off_chain_worker_and_its_fee_paid_to_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut vocab: Vec<String> = DOCS.iter().flat_map(|d| d.split(' ')).map(String::from).collect();
    vocab.sort();
    vocab.dedup();
    let tokenizer = tokenizer(&vocab);
    let tokenizer_hash = H256(blake2_256(&tokenizer));
    // The node's attribution directory (default `<base path>/attribution`) holds the base
    // model's tokenizer under its hash.
    let tokenizers = dir.path().join("db").join("attribution").join("tokenizers");
    std::fs::create_dir_all(&tokenizers).unwrap();
    std::fs::write(tokenizers.join(format!("{}.json", hex::encode(tokenizer_hash))), &tokenizer).unwrap();

    let node = Node::dev(dir.path(), free_port(), free_port());
    let [alice, bob, charlie, dave, eve] = [
        Sr25519Keyring::Alice,
        Sr25519Keyring::Bob,
        Sr25519Keyring::Charlie,
        Sr25519Keyring::Dave,
        Sr25519Keyring::Eve,
    ];
    node.rpc.call(
        "author_insertKey",
        json!(["attr", "//Alice", format!("0x{}", hex::encode(alice.public()))]),
    );

    // Bob's datanet: Bob contributes documents 0 and 2, Eve document 1 (contribution ids 0, 1, 2).
    let create = RuntimeCall::Datanets(pallet_datanets::Call::create_datanet {
        name: text("maritime-lore"),
        description: text("short texts"),
        license: text("CC-BY-4.0"),
        tags: Default::default(),
        admission: Admission::Open,
        curation: CurationPolicy::Owner,
        deposit_per_byte: 0,
        deposit_policy: DepositPolicy::ReleaseAlways,
    });
    let contribute = |i: usize| {
        RuntimeCall::Datanets(pallet_datanets::Call::contribute { datanet: 0, payload: DOCS[i].as_bytes().to_vec() })
    };
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 0, create));
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 1, contribute(0)));
    wait_for("contribution 0", Duration::from_secs(60), || {
        (!node.rpc.call("datanets_contribution", json!([0])).is_null()).then_some(())
    });
    submit(&node, signed_extrinsic(&node.rpc, &eve.pair(), contribute(1)));
    wait_for("contribution 1", Duration::from_secs(60), || {
        (!node.rpc.call("datanets_contribution", json!([1])).is_null()).then_some(())
    });
    let curate = [
        contribute(2),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 0 }),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 1 }),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 2 }),
        RuntimeCall::Datanets(pallet_datanets::Call::publish_version { datanet: 0 }),
    ];
    for (i, call) in curate.into_iter().enumerate() {
        submit(&node, signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 2 + i as u32, call));
    }
    wait_for("version 1", Duration::from_secs(60), || {
        (!node.rpc.call("datanets_version", json!([0, 1])).is_null()).then_some(())
    });

    let base = RuntimeCall::Models(pallet_models::Call::register_base_model {
        name: text("word-model"),
        architecture: text("llama"),
        parameter_count: 1_000,
        artifact_hash: H256::repeat_byte(1),
        tokenizer_hash,
        license: text("Apache-2.0"),
        format: ModelFormat::Safetensors,
    });
    submit(&node, signed_extrinsic(&node.rpc, &alice.pair(), RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(base) })));
    let split = FeeSplit {
        owner: Perbill::from_percent(40),
        contributors: Perbill::from_percent(40),
        attestors: Perbill::from_percent(15),
        treasury: Perbill::from_percent(5),
    };
    let price = OPEN; // per 1,000 output tokens
    let adapter = RuntimeCall::Models(pallet_models::Call::register_model {
        name: text("lore-lora"),
        kind: ModelKind::LoraAdapter,
        base: Some(0),
        datanet_versions: vec![(0, 1)],
        training_config_hash: H256::repeat_byte(3),
        artifact_hash: H256::repeat_byte(4),
        attribution_index_hash: H256::repeat_byte(5),
        price_per_1k_tokens: price,
        fee_split: split,
        previous: None,
    });
    wait_for("base model", Duration::from_secs(60), || {
        (!node.rpc.call("models_baseModel", json!([0])).is_null()).then_some(())
    });
    submit(&node, signed_extrinsic(&node.rpc, &charlie.pair(), adapter));
    wait_for("adapter", Duration::from_secs(60), || {
        (!node.rpc.call("models_get", json!([0])).is_null()).then_some(())
    });

    // Dave's inference: 12 tokens, the last 11 copied from Eve's document.
    let ids = |text: &str| -> Vec<u32> {
        text.split(' ').map(|w| vocab.iter().position(|v| v == w).unwrap() as u32 + 1).collect()
    };
    let output = ids("bees trim the wick at dusk and watch the ships pass the reef");
    let n = output.len() as u32;
    let fee = (price * n as u128).div_ceil(1000);
    let treasury_before = balance(&node.rpc.call("rewards_treasury", json!([]))["balance"]);
    let deposit = RuntimeCall::Attribution(pallet_attribution::Call::deposit_credit { amount: OPEN });
    let record = RuntimeCall::Attribution(pallet_attribution::Call::record_inference {
        model: 0,
        payer: dave.to_account_id(),
        prompt_tokens: 9,
        completion_tokens: n,
        output,
    });
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &dave.pair(), 0, deposit));
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &dave.pair(), 1, record));

    let job = wait_for("job 0 final", Duration::from_secs(120), || {
        let job = node.rpc.call("attribution_job", json!([0]));
        job["status"].get("final").is_some().then_some(job)
    });
    let attribution = node.rpc.call("attribution_inference", json!([0]));
    let final_at = attribution["finalizedAt"].as_u64().unwrap();
    let recorded_at = job["recordedAt"].as_u64().unwrap();
    println!("record at block {recorded_at}, final at block {final_at}: {} blocks", final_at - recorded_at);
    assert!(final_at - recorded_at <= 5, "final within 5 blocks, took {}", final_at - recorded_at);
    assert_eq!(job["fee"], json!(fee.to_string()));
    assert_eq!(job["attestors"], json!([alice.to_account_id().to_string()]));
    assert_eq!(balance(&node.rpc.call("attribution_credit", json!([dave.to_account_id().to_string()]))), OPEN - fee);

    // Eve's contribution (id 1) has all of the contributors' part.
    let contributors_part = Perbill::from_percent(40) * fee;
    assert_eq!(
        attribution["contributions"],
        json!([{"contribution": 1, "share": 1_000_000_000u32, "paid": contributors_part.to_string()}])
    );
    let earned = |c: u64| balance(&node.rpc.call("attribution_contributionEarnings", json!([c]))["earned"]);
    assert_eq!(earned(1), contributors_part);
    assert_eq!((earned(0), earned(2)), (0, 0), "documents absent from the output earn nothing");
    let err = node.rpc.try_call("attribution_contributionEarnings", json!([99])).unwrap_err();
    assert!(err.contains("does not exist"), "{err}");

    // Every unit of the fee went somewhere: owner, contributor, attestor, treasury.
    let rewards = |who: Sr25519Keyring| node.rpc.call("rewards_account", json!([who.to_account_id().to_string()]));
    let owner = balance(&rewards(charlie)["asOwner"]);
    let attestor = balance(&rewards(alice)["asAttestor"]);
    let contributor = balance(&rewards(eve)["asContributor"]);
    let treasury = balance(&node.rpc.call("rewards_treasury", json!([]))["balance"]) - treasury_before;
    assert_eq!(owner, Perbill::from_percent(40) * fee);
    assert_eq!(attestor, Perbill::from_percent(15) * fee);
    assert_eq!(owner + contributor + attestor + treasury, fee, "the parts sum to the fee");
    assert_eq!(balance(&rewards(bob)["asContributor"]), 0);

    let listed = node.rpc.call("attribution_modelInferences", json!([0]));
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1));
    assert_eq!(listed[0]["id"], 0);
    assert!(node.rpc.call("attribution_job", json!([1])).is_null());
}
