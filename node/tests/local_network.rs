//! End to end: the 4-validator local testnet on 127.0.0.1 produces and finalizes blocks on
//! every node, survives the loss of one validator (SIGKILL), and the restarted validator
//! catches up from its own database without losing anything.

mod common;

use std::time::Duration;

use common::{free_port, local::{peer_id, start, Validator}, wait_for, Node};

fn finalized_number(node: &Node) -> u64 {
    node.rpc.finalized().map(|(_, n)| n).unwrap_or(0)
}

/// Wait until every node in `nodes` has finalized at least `target`.
fn wait_all_finalized(nodes: &[&Node], target: u64, timeout: Duration) {
    for node in nodes {
        wait_for(&format!("{} to finalize #{target}", node.name), timeout, || {
            (finalized_number(node) >= target).then_some(())
        });
    }
}

#[test]
fn four_validators_finalize_survive_a_sigkill_and_the_victim_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let validators: Vec<Validator> = (0..4)
        .map(|index| Validator { index, rpc_port: free_port(), p2p_port: free_port() })
        .collect();
    let bootnode = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", validators[0].p2p_port, peer_id(dir.path(), 0));
    let mut nodes: Vec<Node> = validators.iter().map(|v| start(dir.path(), v, &bootnode)).collect();

    // All four produce and finalize.
    let all: Vec<&Node> = nodes.iter().collect();
    wait_all_finalized(&all, 3, Duration::from_secs(120));
    for node in &nodes {
        wait_for(&format!("{} to see its 3 peers", node.name), Duration::from_secs(60), || {
            let health = node.rpc.try_call("system_health", serde_json::json!([])).ok()?;
            (health["peers"].as_u64()? == 3).then_some(())
        });
    }

    // Kill Charlie without warning; remember what was final before.
    let victim = 2;
    let (final_hash_before, final_number_before) = nodes[victim].rpc.finalized().unwrap();
    let status = nodes[victim].stop_with("KILL");
    assert!(!status.success());

    // The other three keep producing and finalizing: 3 of 4 voters are more than 2/3.
    let survivors: Vec<&Node> = nodes.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, n)| n).collect();
    let baseline = survivors.iter().map(|n| finalized_number(n)).max().unwrap();
    wait_all_finalized(&survivors, baseline + 4, Duration::from_secs(120));
    let best_before_restart = survivors.iter().map(|n| n.rpc.best_number().unwrap()).max().unwrap();

    // Charlie restarts on the same base path and catches up.
    nodes[victim] = start(dir.path(), &validators[victim], &bootnode);
    let charlie = &nodes[victim];
    let (_, finalized_at_restart) = charlie.rpc.finalized().unwrap();
    assert!(
        finalized_at_restart >= final_number_before,
        "the database kept finality: #{finalized_at_restart} < #{final_number_before}"
    );
    wait_for("charlie to catch up", Duration::from_secs(120), || {
        (finalized_number(charlie) > best_before_restart).then_some(())
    });
    // Nothing lost or forked: what Charlie had finalized before the kill is on everyone's chain.
    for node in &nodes {
        assert_eq!(node.rpc.block_hash(final_number_before).unwrap(), final_hash_before, "{}", node.name);
    }

    // And the network as a whole keeps finalizing with Charlie back.
    let target = nodes.iter().map(finalized_number).max().unwrap() + 2;
    let all: Vec<&Node> = nodes.iter().collect();
    wait_all_finalized(&all, target, Duration::from_secs(120));

    for node in &mut nodes {
        let status = node.stop_with("TERM");
        assert!(status.success(), "{} exited with {status:?}:\n{}", node.name, node.log_tail());
    }
}
