//! End to end: the model registry on a real dev node over JSON-RPC — Bob publishes a datanet
//! version, governance (Alice as sudo) registers a base model, Charlie registers a LoRA adapter
//! on it that cites the published version (after a refused attempt citing an unpublished one),
//! announces a price change, and everything is read back with the `models_*` methods,
//! including the fee split.

mod common;

use std::time::Duration;

use common::{free_port, open_datanet, signed_extrinsic, signed_extrinsic_with_nonce, text, wait_for, Node};
use openledger_primitives::{
    models::{FeeSplit, ModelFormat, ModelKind},
    DAYS, MILLI_OPEN,
};
use openledger_runtime::RuntimeCall;
use serde_json::{json, Value};
use sp_core::H256;
use sp_keyring::Sr25519Keyring;
use sp_runtime::Perbill;

fn wait(node: &Node, what: &str, done: impl Fn(&Node) -> bool) {
    wait_for(what, Duration::from_secs(120), || done(node).then_some(()));
}

fn submit(node: &Node, xt: String) {
    node.rpc.call("author_submitExtrinsic", json!([xt]));
}

fn hash_json(byte: u8) -> Value {
    json!(format!("{:?}", H256::repeat_byte(byte)))
}

fn adapter(datanet_versions: Vec<(u32, u32)>, fee_split: FeeSplit) -> RuntimeCall {
    RuntimeCall::Models(pallet_models::Call::register_model {
        name: text("medical-qa-lora"),
        kind: ModelKind::LoraAdapter,
        base: Some(0),
        datanet_versions,
        training_config_hash: H256::repeat_byte(3),
        artifact_hash: H256::repeat_byte(4),
        attribution_index_hash: H256::repeat_byte(5),
        price_per_1k_tokens: 2 * MILLI_OPEN,
        fee_split,
        previous: None,
    })
}

#[test]
fn base_model_and_adapter_with_datanet_provenance_read_back_over_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::dev(dir.path(), free_port(), free_port());
    let (alice, bob, charlie) = (Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie);

    // Bob: a datanet, one contribution, accepted and published as version 1 (nonces in order).
    let datanet_calls = [
        open_datanet("medical-qa", "clinician-reviewed answers"),
        RuntimeCall::Datanets(pallet_datanets::Call::contribute {
            datanet: 0,
            payload: b"Q: what lowers a fever? A: rest, fluids, paracetamol".to_vec(),
        }),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 0 }),
        RuntimeCall::Datanets(pallet_datanets::Call::publish_version { datanet: 0 }),
    ];
    for (nonce, call) in datanet_calls.into_iter().enumerate() {
        submit(&node, signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), nonce as u32, call));
    }
    wait(&node, "datanet version 1 published", |node| {
        !node.rpc.call("datanets_version", json!([0, 1])).is_null()
    });

    // Governance: Alice, the dev chain's sudo key, registers the base model.
    let base = RuntimeCall::Models(pallet_models::Call::register_base_model {
        name: text("SmolLM2-135M-Instruct"),
        architecture: text("llama"),
        parameter_count: 134_515_008,
        artifact_hash: H256::repeat_byte(1),
        tokenizer_hash: H256::repeat_byte(2),
        license: text("Apache-2.0"),
        format: ModelFormat::Gguf,
    });
    let sudo = RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(base) });
    submit(&node, signed_extrinsic(&node.rpc, &alice.pair(), sudo));
    wait(&node, "base model 0", |node| !node.rpc.call("models_baseModel", json!([0])).is_null());
    let base = node.rpc.call("models_baseModel", json!([0]));
    assert_eq!(
        base,
        json!({
            "id": 0,
            "name": "SmolLM2-135M-Instruct",
            "architecture": "llama",
            "parameterCount": 134_515_008u64,
            "artifactHash": hash_json(1),
            "tokenizerHash": hash_json(2),
            "license": "Apache-2.0",
            "format": "Gguf",
            "registeredAt": base["registeredAt"],
        })
    );
    assert!(base["registeredAt"].as_u64().unwrap() > 0);
    assert_eq!(node.rpc.call("models_baseModels", json!([])), json!([base]));

    // Charlie: first an adapter citing version 2 (not published): refused, nothing stored;
    // then the same adapter citing version 1.
    let fee_split = FeeSplit {
        owner: Perbill::from_percent(50),
        contributors: Perbill::from_percent(40),
        attestors: Perbill::from_percent(8),
        treasury: Perbill::from_percent(2),
    };
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &charlie.pair(), 0, adapter(vec![(0, 2)], fee_split)));
    submit(&node, signed_extrinsic_with_nonce(&node.rpc, &charlie.pair(), 1, adapter(vec![(0, 1)], fee_split)));
    wait(&node, "adapter registered", |node| !node.rpc.call("models_get", json!([0])).is_null());
    let models = node.rpc.call("models_list", json!([0, 10]));
    assert_eq!(models.as_array().unwrap().len(), 1, "the refused registration stored nothing: {models}");
    let model = &models[0];
    let charlie_ss58 = charlie.to_account_id().to_string();
    assert_eq!(model["id"], 0);
    assert_eq!(model["owner"], json!(charlie_ss58));
    assert_eq!(model["depositor"], json!(charlie_ss58));
    assert_eq!(model["deposit"], json!(openledger_primitives::OPEN.to_string()));
    assert_eq!(model["name"], "medical-qa-lora");
    assert_eq!(model["kind"], "LoraAdapter");
    assert_eq!(model["base"], 0);
    assert_eq!(model["datanetVersions"], json!([[0, 1]]));
    assert_eq!(model["trainingConfigHash"], hash_json(3));
    assert_eq!(model["artifactHash"], hash_json(4));
    assert_eq!(model["attributionIndexHash"], hash_json(5));
    assert_eq!(model["pricePer1kTokens"], json!((2 * MILLI_OPEN).to_string()));
    assert_eq!(model["pendingPrice"], Value::Null);
    // The split, public, in parts per billion.
    assert_eq!(
        model["feeSplit"],
        json!({"owner": 500_000_000, "contributors": 400_000_000, "attestors": 80_000_000, "treasury": 20_000_000})
    );
    assert_eq!(model["status"], "Active");
    assert_eq!((model["previous"].clone(), model["successor"].clone(), model["version"].clone()), (Value::Null, Value::Null, json!(1)));
    assert_eq!(node.rpc.call("models_get", json!([0])), *model);
    assert_eq!(node.rpc.call("models_byOwner", json!([charlie_ss58])), models);
    assert_eq!(node.rpc.call("models_byOwner", json!([bob.to_account_id().to_string()])), json!([]));
    assert_eq!(
        node.rpc.call("models_feeSplitBounds", json!([])),
        json!({"minContributors": 200_000_000, "minAttestors": 50_000_000, "minTreasury": 10_000_000, "maxOwner": 700_000_000})
    );

    // A price change is visible as pending, with the block it applies from; the price in
    // force does not move.
    let set_price = RuntimeCall::Models(pallet_models::Call::set_price { model: 0, price_per_1k_tokens: 3 * MILLI_OPEN });
    submit(&node, signed_extrinsic(&node.rpc, &charlie.pair(), set_price));
    wait(&node, "pending price", |node| !node.rpc.call("models_get", json!([0]))["pendingPrice"].is_null());
    let model = node.rpc.call("models_get", json!([0]));
    assert_eq!(model["pricePer1kTokens"], json!((2 * MILLI_OPEN).to_string()));
    assert_eq!(model["pendingPrice"]["price"], json!((3 * MILLI_OPEN).to_string()));
    let effective_at = model["pendingPrice"]["effectiveAt"].as_u64().unwrap();
    let best = node.rpc.best_number().unwrap();
    assert!(effective_at > best && effective_at <= best + u64::from(DAYS), "{effective_at} vs best {best}");
}
