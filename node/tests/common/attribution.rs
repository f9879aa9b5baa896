//! Shared set-up of the Proof of Attribution end-to-end tests: a small text corpus with a
//! word-level tokenizer the nodes are given, a published datanet version of it, and a LoRA
//! adapter registered on that version.

use std::{path::Path, time::Duration};

use openledger_primitives::{
    models::{FeeSplit, ModelFormat, ModelKind},
    Balance,
};
use openledger_attribution_engine::token::Tokenizer;
use openledger_runtime::RuntimeCall;
use serde_json::{json, Value};
use sp_core::H256;
use sp_io::hashing::blake2_256;
use sp_keyring::Sr25519Keyring;

use super::{open_datanet, signed_extrinsic, signed_extrinsic_with_nonce, text, wait_for, Node};

/// The documents: Bob contributes 0 and 2, Eve 1 (contribution ids 0, 1, 2).
pub const DOCS: [&str; 3] = [
    "the river flows past the mill and the miller counts his sacks of grain every morning",
    "old lighthouse keepers trim the wick at dusk and watch the ships pass the reef until dawn",
    "bees carry pollen from the orchard to the hive where the queen lays her eggs in wax cells",
];

/// The corpus's vocabulary and its word-level `tokenizer.json` (id = rank + 1, 0 unknown).
pub struct Corpus {
    pub vocab: Vec<String>,
    pub tokenizer: Vec<u8>,
    pub tokenizer_hash: H256,
}

impl Corpus {
    pub fn new() -> Corpus {
        let vocab = Tokenizer::word_vocab(&DOCS);
        let tokenizer = Tokenizer::word_level_json(&vocab);
        let tokenizer_hash = H256(blake2_256(&tokenizer));
        Corpus {
            vocab,
            tokenizer,
            tokenizer_hash,
        }
    }

    /// Token ids of space-separated known words.
    pub fn ids(&self, text: &str) -> Vec<u32> {
        text.split(' ')
            .map(|w| self.vocab.iter().position(|v| v == w).unwrap() as u32 + 1)
            .collect()
    }

    /// Gives the node with base path `base_path` the tokenizer, where its attribution engine
    /// looks (`<base path>/attribution/tokenizers/<hash>.json`).
    pub fn install(&self, base_path: &Path) {
        let dir = base_path.join("attribution").join("tokenizers");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{}.json", hex::encode(self.tokenizer_hash))),
            &self.tokenizer,
        )
        .unwrap();
    }
}

/// Inserts `who`'s `attr` key (its account key) into `node`'s keystore.
pub fn insert_attr_key(node: &Node, who: Sr25519Keyring) {
    let suri = format!("//{who:?}");
    node.rpc.call(
        "author_insertKey",
        json!(["attr", suri, format!("0x{}", hex::encode(who.public()))]),
    );
}

fn submit(node: &Node, xt: String) {
    node.rpc.call("author_submitExtrinsic", json!([xt]));
}

fn wait_until(node: &Node, what: &str, method: &str, params: Value) {
    wait_for(what, Duration::from_secs(90), || {
        (!node.rpc.call(method, params.clone()).is_null()).then_some(())
    });
}

/// Bob's datanet 0 with the three documents, accepted and published as version 1; base
/// model 0 with the corpus's tokenizer (registered by Alice, sudo); Charlie's adapter, model
/// 0, on version 1 at `price` per 1,000 output tokens with `split`.
pub fn publish_datanet_and_adapter(node: &Node, corpus: &Corpus, price: Balance, split: FeeSplit) {
    let (alice, bob, charlie, eve) = (
        Sr25519Keyring::Alice,
        Sr25519Keyring::Bob,
        Sr25519Keyring::Charlie,
        Sr25519Keyring::Eve,
    );
    let contribute = |i: usize| {
        RuntimeCall::Datanets(pallet_datanets::Call::contribute {
            datanet: 0,
            payload: DOCS[i].as_bytes().to_vec(),
        })
    };
    let create = open_datanet("maritime-lore", "short texts");
    submit(
        node,
        signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 0, create),
    );
    submit(
        node,
        signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 1, contribute(0)),
    );
    wait_until(node, "contribution 0", "datanets_contribution", json!([0]));
    submit(
        node,
        signed_extrinsic(&node.rpc, &eve.pair(), contribute(1)),
    );
    wait_until(node, "contribution 1", "datanets_contribution", json!([1]));
    let curate = [
        contribute(2),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 0 }),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 1 }),
        RuntimeCall::Datanets(pallet_datanets::Call::accept { contribution: 2 }),
        RuntimeCall::Datanets(pallet_datanets::Call::publish_version { datanet: 0 }),
    ];
    for (i, call) in curate.into_iter().enumerate() {
        submit(
            node,
            signed_extrinsic_with_nonce(&node.rpc, &bob.pair(), 2 + i as u32, call),
        );
    }
    wait_until(node, "version 1", "datanets_version", json!([0, 1]));

    let base = RuntimeCall::Models(pallet_models::Call::register_base_model {
        name: text("word-model"),
        architecture: text("llama"),
        parameter_count: 1_000,
        artifact_hash: H256::repeat_byte(1),
        tokenizer_hash: corpus.tokenizer_hash,
        license: text("Apache-2.0"),
        format: ModelFormat::Safetensors,
    });
    let sudo = RuntimeCall::Sudo(pallet_sudo::Call::sudo {
        call: Box::new(base),
    });
    submit(node, signed_extrinsic(&node.rpc, &alice.pair(), sudo));
    wait_until(node, "base model", "models_baseModel", json!([0]));
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
    submit(node, signed_extrinsic(&node.rpc, &charlie.pair(), adapter));
    wait_until(node, "adapter", "models_get", json!([0]));
}

/// A balance from its JSON decimal string.
pub fn balance(value: &Value) -> u128 {
    value
        .as_str()
        .expect("balances are decimal strings")
        .parse()
        .unwrap()
}
