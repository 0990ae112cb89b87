//! Alert delivery: one JSON POST over plain HTTP/1.1 (hyper, which axum already uses).

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, Request};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::{BaseUrl, Host};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] axum::http::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// POSTs `body` to `url`; returns the answer's status.
pub async fn post_json(
    url: &BaseUrl,
    body: String,
    timeout: Duration,
) -> Result<u16, WebhookError> {
    tokio::time::timeout(timeout, post(url, body))
        .await
        .map_err(|_| WebhookError::Timeout(timeout))?
}

async fn post(url: &BaseUrl, body: String) -> Result<u16, WebhookError> {
    let stream = match &url.host {
        Host::Ip(ip) => TcpStream::connect((*ip, url.port())).await?,
        Host::Name(name) => TcpStream::connect((name.as_str(), url.port())).await?,
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // Drives the connection until the answer is read; ends with it.
    tokio::spawn(connection);
    let path = if url.path.is_empty() {
        "/"
    } else {
        url.path.as_str()
    };
    let request = Request::post(path)
        .header(header::HOST, url.authority())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    Ok(response.status().as_u16())
}
