//! A test server on 127.0.0.1:0 and a minimal blocking HTTP/1.1 client (no client crate needed).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use openlora::accounting::MemorySink;
use openlora::api::AppState;
use openlora::server::{build, spawn, ServerConfig};

pub struct TestServer {
    pub addr: SocketAddr,
    pub sink: Arc<MemorySink>,
    pub state: Arc<AppState>,
}

pub fn start(cfg: &ServerConfig) -> TestServer {
    let sink = Arc::new(MemorySink::default());
    let state = build(cfg, sink.clone()).expect("server builds");
    let addr = spawn(state.clone(), "127.0.0.1:0").expect("server starts");
    TestServer { addr, sink, state }
}

pub use openlora::client::Response;

pub fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Response {
    openlora::client::request(addr, method, path, key, body).expect("HTTP request")
}

pub fn post(addr: SocketAddr, path: &str, key: Option<&str>, body: &serde_json::Value) -> Response {
    request(addr, "POST", path, key, Some(&body.to_string()))
}
