//! The export targets: a JSON Lines file, a webhook and an OTLP/HTTP collector.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use serde_json::Value;

use super::otlp::{export_request, ProviderSystems};
use super::pipeline::{SendError, Sink};
use crate::config::BaseUrl;

/// Appends each record as one line.
pub struct JsonlSink {
    pub path: Arc<PathBuf>,
}

impl Sink for JsonlSink {
    fn send(&self, batch: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send {
        let mut text = String::with_capacity(batch.iter().map(|r| r.len() + 1).sum());
        for record in batch {
            text.push_str(record);
            text.push('\n');
        }
        let path = Arc::clone(&self.path);
        async move {
            // One write per batch, so lines of a batch are never interleaved with another's.
            let written = tokio::task::spawn_blocking(move || {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path.as_path())?
                    .write_all(text.as_bytes())
            })
            .await;
            match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SendError::retryable(format!("writing the file: {e}"))),
                Err(e) => Err(SendError::retryable(format!("writer task: {e}"))),
            }
        }
    }
}

/// POSTs `{"records": [...]}`, the records as the filter wrote them.
pub struct WebhookSink {
    pub http: HttpPoster,
}

impl Sink for WebhookSink {
    fn send(&self, batch: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send {
        // Each record is a JSON object already (ingest parsed it), so the array is joined.
        let mut body = String::from(r#"{"records":["#);
        for (i, record) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(record);
        }
        body.push_str("]}");
        self.http.post("application/json", body.into_bytes())
    }
}

/// POSTs an OTLP `ExportTraceServiceRequest` (protobuf) with one span per record.
pub struct OtlpSink {
    pub http: HttpPoster,
    pub systems: Arc<ProviderSystems>,
}

impl Sink for OtlpSink {
    fn send(&self, batch: &[Arc<str>]) -> impl Future<Output = Result<(), SendError>> + Send {
        let records: Vec<Value> = batch
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect();
        let body = export_request(&records, &self.systems).encode_to_vec();
        self.http.post("application/x-protobuf", body)
    }
}

/// A plain HTTP/1.1 POST to one URI.
#[derive(Clone)]
pub struct HttpPoster {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: hyper::Uri,
}

impl HttpPoster {
    /// To `url`'s path (`suffix` appended unless the path already ends with it).
    pub fn new(url: &BaseUrl, suffix: &str) -> Result<Self, hyper::http::uri::InvalidUri> {
        let path = if url.path.ends_with(suffix) {
            url.path.clone()
        } else {
            format!("{}{suffix}", url.path)
        };
        let path = if path.is_empty() { "/".into() } else { path };
        let uri = format!("http://{}{path}", url.authority()).parse()?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(HttpPoster { client, uri })
    }

    fn post(
        &self,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), SendError>> + Send {
        let client = self.client.clone();
        let request = Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)));
        async move {
            let request = request.map_err(|e| SendError::permanent(e.to_string()))?;
            let response = client
                .request(request)
                .await
                .map_err(|e| SendError::retryable(format!("no answer: {e}")))?;
            let status = response.status();
            // Read to the end so the connection can be reused.
            let _ = response.into_body().collect().await;
            check_status(status)
        }
    }
}

/// 2xx is delivered; 429 and 5xx may pass on a retry (OTLP/HTTP's rule); any other
/// refusal will not.
fn check_status(status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(SendError::retryable(format!("answered {status}")))
    } else {
        Err(SendError::permanent(format!("refused with {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_worth_a_retry() {
        assert!(check_status(StatusCode::OK).is_ok());
        assert!(
            check_status(StatusCode::SERVICE_UNAVAILABLE)
                .unwrap_err()
                .retryable
        );
        assert!(
            check_status(StatusCode::TOO_MANY_REQUESTS)
                .unwrap_err()
                .retryable
        );
        assert!(!check_status(StatusCode::BAD_REQUEST).unwrap_err().retryable);
    }

    #[test]
    fn otlp_path_is_appended_once() {
        let base = BaseUrl::parse("http://127.0.0.1:4318").unwrap();
        let poster = HttpPoster::new(&base, "/v1/traces").unwrap();
        assert_eq!(poster.uri, "http://127.0.0.1:4318/v1/traces");
        let full = BaseUrl::parse("http://collector.local/otlp/v1/traces").unwrap();
        let poster = HttpPoster::new(&full, "/v1/traces").unwrap();
        assert_eq!(poster.uri, "http://collector.local/otlp/v1/traces");
    }
}
