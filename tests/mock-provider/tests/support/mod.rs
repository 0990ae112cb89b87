//! Shared test support: an in-process mock on an ephemeral port and a tiny HTTP/1.1
//! client over a raw TCP stream (no client crate to compile).
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;

use mock_provider::ExpectedKeys;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const OPENAI_KEY: &str = "test-openai-key";
pub const ANTHROPIC_KEY: &str = "test-anthropic-key";
pub const COHERE_KEY: &str = "test-cohere-key";
pub const AZURE_KEY: &str = "test-azure-key";
pub const GEMINI_KEY: &str = "test-gemini-key";
pub const VERTEX_TOKEN: &str = "test-vertex-token";

/// Starts a mock expecting the test keys; it lives until the test's runtime ends.
pub async fn start() -> SocketAddr {
    start_with(ExpectedKeys {
        openai: Some(OPENAI_KEY.into()),
        anthropic: Some(ANTHROPIC_KEY.into()),
        cohere: Some(COHERE_KEY.into()),
        azure: Some(AZURE_KEY.into()),
        gemini: Some(GEMINI_KEY.into()),
        vertex: Some(VERTEX_TOKEN.into()),
        bedrock: Default::default(),
    })
    .await
}

pub async fn start_with(keys: ExpectedKeys) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(mock_provider::serve(listener, keys, std::future::pending()));
    addr
}

pub struct Response {
    pub status: u16,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text()))
    }

    pub fn events(&self) -> Vec<SseEvent> {
        parse_sse(&self.text())
    }
}

/// Sends one request and leaves the connection open for reading the response.
pub async fn open(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> TcpStream {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = open(addr, method, path, headers, body).await;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_response(&raw)
}

pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Response {
    let mut headers = headers.to_vec();
    headers.push(("content-type", "application/json"));
    request(addr, "POST", path, &headers, body.to_string().as_bytes()).await
}

fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("complete response head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Decodes a `transfer-encoding: chunked` body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&raw[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        let start = line_end + 2;
        body.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
}

/// One server-sent event: its optional `event:` name and its `data:` payload.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub name: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|error| panic!("event data is not JSON ({error}): {}", self.data))
    }
}

/// Splits an SSE body into events; tolerates a missing final blank line.
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = SseEvent {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event.name = Some(name.trim().to_owned());
                } else if let Some(data) = line.strip_prefix("data:") {
                    event.data.push_str(data.trim());
                }
            }
            event
        })
        .collect()
}

/// `(event type, payload JSON)` of each event-stream frame, checking both checksums: a
/// small reader of its own, independent of the mock's writer.
pub fn parse_event_stream(bytes: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let mut frames = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 16 {
            return Err(format!("{} trailing bytes", rest.len()));
        }
        let (total, headers_len) = (be(rest), be(&rest[4..]));
        if total > rest.len() || headers_len + 16 > total {
            return Err(format!("bad lengths at {at}"));
        }
        if crc32fast::hash(&rest[..8]) as usize != be(&rest[8..]) {
            return Err(format!("prelude checksum at {at}"));
        }
        if crc32fast::hash(&rest[..total - 4]) as usize != be(&rest[total - 4..]) {
            return Err(format!("message checksum at {at}"));
        }
        let mut headers = &rest[12..12 + headers_len];
        let mut kind = String::new();
        while !headers.is_empty() {
            let name_len = headers[0] as usize;
            let name = String::from_utf8_lossy(&headers[1..1 + name_len]).into_owned();
            if headers[1 + name_len] != 7 {
                return Err(format!("non-string header {name}"));
            }
            let at_value = 2 + name_len;
            let value_len = u16::from_be_bytes([headers[at_value], headers[at_value + 1]]) as usize;
            let value = String::from_utf8_lossy(&headers[at_value + 2..at_value + 2 + value_len]);
            if name == ":event-type" || name == ":exception-type" {
                kind = value.into_owned();
            }
            headers = &headers[at_value + 2 + value_len..];
        }
        let payload = &rest[12 + headers_len..total - 4];
        let payload = serde_json::from_slice(payload).map_err(|e| format!("payload: {e}"))?;
        frames.push((kind, payload));
        at += total;
    }
    Ok(frames)
}
