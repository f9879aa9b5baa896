//! Support for end-to-end tests: start real `openledger-node` processes on 127.0.0.1 and talk
//! to them over JSON-RPC (plain HTTP/1.1, the same endpoint polkadot.js uses over WebSocket).

#![allow(dead_code)]

pub mod attribution;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use codec::Encode;
use openledger_runtime::{AccountId, Address, Nonce, RuntimeCall, SignedPayload, UncheckedExtrinsic};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519, H256};

/// Path of the node binary: the one cargo built for these tests, or for an example (which
/// cargo does not tell), the `openledger-node` next to the examples folder.
pub fn node_binary() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_openledger-node") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().expect("own path");
            exe.parent().and_then(Path::parent).expect("target/release/examples/").join("openledger-node")
        },
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Poll `check` until it returns `Some`, or fail the test after `timeout` with `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A JSON-RPC client over HTTP.
#[derive(Clone, Debug)]
pub struct Rpc {
    pub port: u16,
}

impl Rpc {
    /// Call `method`; `Err` carries a transport error or the JSON-RPC error object.
    pub fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        write!(
            stream,
            // The node filters on Host (with port) unless CORS is open, as it is only in --dev.
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.port,
            body.len(),
            body
        )
        .map_err(|e| e.to_string())?;

        let mut reader = BufReader::new(stream);
        let mut content_length = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("connection closed in headers".into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                content_length = value.trim().parse::<usize>().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = content_length {
            body.resize(len, 0);
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        } else {
            reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        }
        let response: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if let Some(error) = response.get("error") {
            return Err(error.to_string());
        }
        response.get("result").cloned().ok_or_else(|| format!("no result in {response}"))
    }

    /// Call `method` and fail the test on any error.
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Number of the best block.
    pub fn best_number(&self) -> Option<u64> {
        let header = self.try_call("chain_getHeader", json!([])).ok()?;
        hex_number(&header["number"])
    }

    /// Hash and number of the last finalized block.
    pub fn finalized(&self) -> Option<(String, u64)> {
        let hash = self.try_call("chain_getFinalizedHead", json!([])).ok()?;
        let header = self.try_call("chain_getHeader", json!([hash])).ok()?;
        Some((hash.as_str()?.to_string(), hex_number(&header["number"])?))
    }

    /// Hash of the block at `number` on the best chain.
    pub fn block_hash(&self, number: u64) -> Option<String> {
        let hash = self.try_call("chain_getBlockHash", json!([number])).ok()?;
        hash.as_str().map(str::to_string)
    }
}

/// `create_datanet` for an open datanet its owner curates: CC-BY-4.0, no tags, no deposits.
pub fn open_datanet(name: &str, description: &str) -> RuntimeCall {
    use openledger_primitives::datanets::{Admission, CurationPolicy, DepositPolicy};
    RuntimeCall::Datanets(pallet_datanets::Call::create_datanet {
        name: text(name),
        description: text(description),
        license: text("CC-BY-4.0"),
        tags: Default::default(),
        admission: Admission::Open,
        curation: CurationPolicy::Owner,
        deposit_per_byte: 0,
        deposit_policy: DepositPolicy::ReleaseAlways,
    })
}

/// A bounded call argument from a string (panics if it does not fit: test input).
pub fn text<S: frame_support::traits::Get<u32>>(s: &str) -> frame_support::BoundedVec<u8, S> {
    s.as_bytes().to_vec().try_into().expect("fits the bound")
}

/// `"0x1f"` → 31.
pub fn hex_number(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// `"0x0102"` → `[1, 2]`.
pub fn hex_bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("hex string").trim_start_matches("0x")).expect("valid hex")
}

/// A running node process; killed (SIGKILL) if the test ends without stopping it.
pub struct Node {
    pub name: String,
    pub rpc: Rpc,
    pub p2p_port: u16,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// A `--dev` node with its database under `dir/db` and its log in `dir/node.log`, p2p on
    /// 127.0.0.1 only; started again on the same `dir` it resumes the same chain.
    pub fn dev(dir: &Path, rpc_port: u16, p2p_port: u16) -> Node {
        let args: Vec<String> = vec![
            "--dev".into(),
            "--base-path".into(),
            dir.join("db").to_str().expect("UTF-8 path").into(),
            "--listen-addr".into(),
            format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
        ];
        Node::start("dev", &args, &dir.join("node.log"), rpc_port, p2p_port)
    }

    /// Start the node binary with `args`, RPC on a free port, output to `log`.
    pub fn start(name: &str, args: &[String], log: &Path, rpc_port: u16, p2p_port: u16) -> Node {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(node_binary())
            .args(args)
            .arg("--rpc-port")
            .arg(rpc_port.to_string())
            .args(["--no-prometheus", "--no-telemetry", "--no-mdns"])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("node binary starts");
        let node = Node {
            name: name.to_string(),
            rpc: Rpc { port: rpc_port },
            p2p_port,
            log: log.to_path_buf(),
            child: Some(child),
        };
        node.wait_for_rpc();
        node
    }

    fn wait_for_rpc(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.rpc.try_call("system_health", json!([])).is_err() {
            assert!(
                Instant::now() < deadline,
                "{}'s RPC did not answer within 90 s; log {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Send `signal` (e.g. "TERM", "KILL") and wait for the process to exit.
    pub fn stop_with(&mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("node is running");
        let status = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
        assert!(status.map(|s| s.success()).unwrap_or(false), "kill -{signal} failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} did not exit within 60 s of SIG{signal}", self.name);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `call` signed by `signer` exactly as a wallet signs it (immortal era, no tip, metadata hash
/// check disabled), with nonce, genesis hash and runtime versions read from the node; returned
/// hex-encoded, ready for `author_submitExtrinsic`.
pub fn signed_extrinsic(rpc: &Rpc, signer: &sr25519::Pair, call: RuntimeCall) -> String {
    let signer_account: AccountId = signer.public().into();
    let nonce = rpc.call("system_accountNextIndex", json!([signer_account.to_string()]));
    signed_extrinsic_with_nonce(rpc, signer, nonce.as_u64().expect("nonce") as Nonce, call)
}

/// [`signed_extrinsic`] with an explicit nonce, for several transactions in flight at once.
pub fn signed_extrinsic_with_nonce(
    rpc: &Rpc,
    signer: &sr25519::Pair,
    nonce: Nonce,
    call: RuntimeCall,
) -> String {
    let signer_account: AccountId = signer.public().into();
    let genesis = H256::from_slice(&hex_bytes(&rpc.call("chain_getBlockHash", json!([0]))));
    let version = rpc.call("state_getRuntimeVersion", json!([]));
    let spec_version = version["specVersion"].as_u64().unwrap() as u32;
    let tx_version = version["transactionVersion"].as_u64().unwrap() as u32;

    let extension = openledger_runtime::tx_extension(nonce, 0);
    let implicit = ((), spec_version, tx_version, genesis, genesis, (), (), (), None, ());
    let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
    let signature = payload.using_encoded(|bytes| signer.sign(bytes));
    let xt = UncheckedExtrinsic::new_signed(
        call,
        Address::Id(signer_account),
        signature.into(),
        extension,
    );
    format!("0x{}", hex::encode(xt.encode()))
}

/// The `--chain local` test network: validators with well-known names, keys and peer ids.
pub mod local {
    use super::{node_binary, Node};
    use std::path::Path;

    /// Names of the genesis validators, then of nodes that join later.
    pub const NAMES: [&str; 5] = ["alice", "bob", "charlie", "dave", "eve"];

    /// Development-only ed25519 node key of node `index`, so peer ids are known in advance.
    pub fn node_key(index: usize) -> String {
        format!("{:062x}{:02x}", 0, index + 1)
    }

    /// The peer id of node `index` (its node key written under `dir`).
    pub fn peer_id(dir: &Path, index: usize) -> String {
        let key_file = dir.join(format!("{}.node-key", NAMES[index]));
        std::fs::write(&key_file, node_key(index)).unwrap();
        let output = std::process::Command::new(node_binary())
            .args(["key", "inspect-node-key", "--file"])
            .arg(&key_file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// Node `index` of the network and its ports.
    pub struct Validator {
        pub index: usize,
        pub rpc_port: u16,
        pub p2p_port: u16,
    }

    /// Starts `validator` on `--chain local` with its well-known keys (`--alice`, …).
    pub fn start(dir: &Path, validator: &Validator, bootnode: &str) -> Node {
        start_with(dir, validator, bootnode, &[&format!("--{}", NAMES[validator.index])])
    }

    /// Starts node `validator` on `--chain local` with `extra` flags instead of a well-known
    /// key (e.g. `--validator`, for a node that generates its own session keys).
    pub fn start_with(dir: &Path, validator: &Validator, bootnode: &str, extra: &[&str]) -> Node {
        let name = NAMES[validator.index];
        let mut args: Vec<String> = vec![
            "--chain".into(),
            "local".into(),
            "--name".into(),
            name.into(),
            "--base-path".into(),
            dir.join(name).to_str().unwrap().into(),
            "--node-key".into(),
            node_key(validator.index),
            "--listen-addr".into(),
            format!("/ip4/127.0.0.1/tcp/{}", validator.p2p_port),
            "--bootnodes".into(),
            bootnode.into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        Node::start(name, &args, &dir.join(format!("{name}.log")), validator.rpc_port, validator.p2p_port)
    }
}
