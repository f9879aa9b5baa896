//! Benchmark: payload throughput of datanet contributions into finalized blocks on a real dev
//! node (`scripts/bench-datanets`).
//!
//! Starts `openledger-node --dev` on 127.0.0.1, creates a datanet, then streams `COUNT` (default
//! 24) contributions of 1 MiB from Alice, keeping at most 8 in the transaction pool, and reports:
//! MiB/s from the first submission to the last contribution finalized, the largest payload
//! volume seen in one block, and what contributing 1 MiB costs (fee from `payment_queryInfo`,
//! deposit from the runtime's constants).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{free_port, signed_extrinsic, signed_extrinsic_with_nonce, text, wait_for, Node};
use openledger_primitives::datanets::{Admission, CurationPolicy, DepositPolicy};
use openledger_runtime::{configs::ContributionBaseDeposit, Balance, RuntimeCall, OPEN};
use serde_json::json;
use sp_keyring::Sr25519Keyring;

const MIB: usize = 1024 * 1024;
const IN_FLIGHT: u64 = 8;
const DEPOSIT_PER_BYTE: Balance = 1_000_000;

fn contribution_count(node: &Node, at: &str) -> u64 {
    node.rpc.call("datanets_get", json!([0, at]))["contributionCount"].as_u64().unwrap_or(0)
}

fn main() {
    let count: u64 = std::env::var("COUNT").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::dev(dir.path(), free_port(), free_port());
    let alice = Sr25519Keyring::Alice.pair();

    let create = RuntimeCall::Datanets(pallet_datanets::Call::create_datanet {
        name: text("throughput"),
        description: text("1 MiB contributions"),
        license: text("CC0-1.0"),
        tags: Default::default(),
        admission: Admission::Open,
        curation: CurationPolicy::Owner,
        deposit_per_byte: DEPOSIT_PER_BYTE,
        deposit_policy: DepositPolicy::ReleaseAlways,
    });
    node.rpc.call("author_submitExtrinsic", json!([signed_extrinsic(&node.rpc, &alice, create)]));
    wait_for("the datanet", Duration::from_secs(60), || {
        let (hash, _) = node.rpc.finalized()?;
        (!node.rpc.call("datanets_get", json!([0, hash])).is_null()).then_some(())
    });

    let first_nonce = node.rpc.call("system_accountNextIndex", json!([Sr25519Keyring::Alice.to_account_id().to_string()]));
    let first_nonce = first_nonce.as_u64().unwrap();
    let payload = |i: u64| -> Vec<u8> {
        let mut data = vec![0u8; MIB];
        data[..8].copy_from_slice(&i.to_le_bytes());
        data
    };

    // Cost of one 1 MiB contribution, before sending any.
    let sample = signed_extrinsic_with_nonce(
        &node.rpc,
        &alice,
        first_nonce as u32,
        RuntimeCall::Datanets(pallet_datanets::Call::contribute { datanet: 0, payload: payload(0) }),
    );
    let info = node.rpc.call("payment_queryInfo", json!([sample]));
    let fee: Balance = info["partialFee"].as_str().and_then(|f| f.parse().ok())
        .or_else(|| info["partialFee"].as_u64().map(Balance::from)).unwrap();
    let deposit: Balance = ContributionBaseDeposit::get() + DEPOSIT_PER_BYTE * MIB as Balance;

    let start_best = node.rpc.best_number().unwrap();
    let started = Instant::now();
    let mut sent = 0u64;
    loop {
        let (hash, _) = node.rpc.finalized().unwrap();
        let done = contribution_count(&node, &hash);
        if done >= count {
            break;
        }
        let included = contribution_count(&node, &node.rpc.block_hash(node.rpc.best_number().unwrap()).unwrap());
        while sent < count && sent < included + IN_FLIGHT {
            let call = RuntimeCall::Datanets(pallet_datanets::Call::contribute { datanet: 0, payload: payload(sent) });
            let xt = signed_extrinsic_with_nonce(&node.rpc, &alice, (first_nonce + sent) as u32, call);
            node.rpc.call("author_submitExtrinsic", json!([xt]));
            sent += 1;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "stalled:\n{}", node.log_tail());
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed().as_secs_f64();

    let end_best = node.rpc.best_number().unwrap();
    let mut largest_block = 0usize;
    for number in start_best..=end_best {
        let hash = node.rpc.block_hash(number).unwrap();
        let block = node.rpc.call("chain_getBlock", json!([hash]));
        let bytes: usize = block["block"]["extrinsics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|xt| (xt.as_str().unwrap().len() - 2) / 2)
            .sum();
        largest_block = largest_block.max(bytes);
    }
    let blocks = end_best - start_best;
    let open = |b: Balance| b as f64 / OPEN as f64;
    println!("contributions: {count} x 1 MiB in {elapsed:.1} s over {blocks} blocks (#{start_best}..#{end_best})");
    println!("throughput into finalized blocks: {:.2} MiB/s", count as f64 / elapsed);
    println!("largest block body: {:.2} MiB", largest_block as f64 / MIB as f64);
    println!(
        "cost of contributing 1 MiB: fee {:.4} OPEN (burned) + deposit {:.6} OPEN (held, returned per policy)",
        open(fee),
        open(deposit)
    );
    let status = node.stop_with("TERM");
    assert!(status.success());
}
