//! A minimal blocking HTTP/1.1 client (one request per connection), enough for the tests and
//! the benchmark to talk to a server over real sockets without an HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `data:` payloads of an SSE body.
    pub fn sse_data(&self) -> Vec<String> {
        self.body.lines().filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))).map(str::to_string).collect()
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_str = std::str::from_utf8(&body[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_str.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        let start = eol + 2;
        if size == 0 || body.len() < start + size {
            break;
        }
        out.extend_from_slice(&body[start..start + size]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

fn send(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes())?;
    Ok(s)
}

pub fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> std::io::Result<Response> {
    let mut s = send(addr, method, path, key, body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let headers = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let mut body = raw[split + 4..].to_vec();
    if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok(Response { status, headers, body: String::from_utf8_lossy(&body).to_string() })
}

/// Sends a request and returns how long the first body bytes took to arrive, then the rest.
pub fn request_timed(addr: SocketAddr, path: &str, key: Option<&str>, body: &str) -> std::io::Result<(std::time::Duration, Response)> {
    let started = std::time::Instant::now();
    let mut s = send(addr, "POST", path, key, Some(body))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first = None;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        // The first SSE chunk that carries generated text (the role-only chunk may precede it).
        if first.is_none() && raw.windows(6).any(|w| w == b"data: ") {
            first = Some(started.elapsed());
        }
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let headers = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut b = raw[split + 4..].to_vec();
    if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        b = dechunk(&b);
    }
    Ok((first.unwrap_or_else(|| started.elapsed()), Response { status, headers, body: String::from_utf8_lossy(&b).to_string() }))
}
