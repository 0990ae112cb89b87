//! The CLI's side of the admin API: one blocking call per lifecycle operation, answers
//! and errors decoded into the API's own types.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::api::{CreateBody, IssuedView, KeyList, KeyView, RotateBody, UpdateBody, KEYS_PATH};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Tollgate service at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("the service refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the service's answer is not what this CLI expects: {0}")]
    Answer(String),
}

pub struct AdminClient {
    server: String,
    authorization: String,
    agent: ureq::Agent,
}

impl AdminClient {
    /// A client of the service at `server` (`http://host:port`), using `admin_key`.
    pub fn new(server: &str, admin_key: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        AdminClient {
            server: server.trim_end_matches('/').to_string(),
            authorization: format!("Bearer {admin_key}"),
            agent,
        }
    }

    pub fn create(&self, body: &CreateBody) -> Result<IssuedView, ClientError> {
        self.send("POST", KEYS_PATH.to_string(), Some(body))
    }

    pub fn list(&self) -> Result<KeyList, ClientError> {
        self.send::<(), _>("GET", KEYS_PATH.to_string(), None)
    }

    pub fn show(&self, id: &str) -> Result<KeyView, ClientError> {
        self.send::<(), _>("GET", key_path(id, ""), None)
    }

    pub fn update(&self, id: &str, body: &UpdateBody) -> Result<KeyView, ClientError> {
        self.send("PATCH", key_path(id, ""), Some(body))
    }

    pub fn rotate(&self, id: &str, body: &RotateBody) -> Result<IssuedView, ClientError> {
        self.send("POST", key_path(id, "/rotate"), Some(body))
    }

    pub fn revoke(&self, id: &str) -> Result<KeyView, ClientError> {
        self.send::<(), _>("POST", key_path(id, "/revoke"), None)
    }

    pub(crate) fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: String,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.server);
        let unreachable = |e: ureq::Error| ClientError::Unreachable {
            server: self.server.clone(),
            reason: e.to_string(),
        };
        let json = body.map(|b| serde_json::to_string(b).unwrap_or_default());
        let auth = ("authorization", self.authorization.as_str());
        let response = match (method, json) {
            ("GET", _) => self.agent.get(&url).header(auth.0, auth.1).call(),
            (method, json) => {
                let request = match method {
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                let request = request
                    .header(auth.0, auth.1)
                    .header("content-type", "application/json");
                request.send(json.unwrap_or_default())
            }
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Answer(e.to_string()))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            return Err(ClientError::Refused { status, message });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Answer(e.to_string()))
    }
}

/// `/v1/admin/keys/<id><suffix>`, the id percent-encoded so it stays one path segment.
fn key_path(id: &str, suffix: &str) -> String {
    format!("{KEYS_PATH}/{}{suffix}", segment(id))
}

/// `text` percent-encoded as one path segment.
pub(crate) fn segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(key_path("ci-1", "/rotate"), "/v1/admin/keys/ci-1/rotate");
        assert_eq!(key_path("a/b?c", ""), "/v1/admin/keys/a%2Fb%3Fc");
    }
}
