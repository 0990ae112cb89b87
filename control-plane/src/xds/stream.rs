//! The state of one ADS stream (one Envoy), state-of-the-world protocol: what each type
//! subscribed to, what was last sent under which nonce, and what Envoy acknowledged or
//! rejected. Pure: requests and snapshots in, responses and events out.
//!
//! - A request answering an older nonce than the last one sent is stale and ignored.
//! - A request answering the last nonce ACKs it, or NACKs it when it carries
//!   `error_detail`; Envoy then keeps its last good config, and so does this state: the
//!   rejected resources are not sent again, only a different snapshot is.
//! - A first request, or one naming other resources, is answered at once.
//! - A push that changes routes sends bridged filter configs before them and the final
//!   ones after Envoy has answered them ([`super::bridge`]).

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::value::Kind;
use serde::Serialize;

use super::encode::EncodeError;
use super::snapshot::{same, NodeOverrides, Resource, Snapshot, EXTENSION, ROUTE, TYPES};

/// Node metadata key of the listener address an Envoy wants (`tollgate bootstrap --listen`).
pub const LISTEN_METADATA: &str = "tollgate.listen";

/// What a request meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A first request, or new resource names.
    Subscribed,
    Ack {
        version: String,
    },
    Nack {
        version: String,
        message: String,
    },
    /// Answers an older response; ignored.
    Stale,
}

/// Envoy's rejection of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub version: String,
    pub message: String,
}

/// One type on one stream, as reported by `GET /v1/xds/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TypeStatus {
    /// Version of the last response sent.
    pub sent: Option<String>,
    /// Last version Envoy accepted.
    pub acked: Option<String>,
    /// Last rejection, until a later version is accepted.
    pub nacked: Option<Rejection>,
}

#[derive(Debug)]
struct Sent {
    nonce: String,
    names: BTreeSet<String>,
    resources: Vec<Resource>,
}

#[derive(Debug, Default)]
struct TypeState {
    names: BTreeSet<String>,
    sent: Option<Sent>,
    status: TypeStatus,
}

/// One connected Envoy.
#[derive(Debug, Default)]
pub struct StreamState {
    node: Node,
    overrides: NodeOverrides,
    nonces: u64,
    types: BTreeMap<String, TypeState>,
    /// Bridged filter configs went out in this push: the route response marks its nonce.
    bridging: bool,
    /// Nonce of the route response whose answer releases the final filter configs.
    bridged_until: Option<String>,
}

// === impl StreamState ===

impl StreamState {
    pub fn node_id(&self) -> &str {
        &self.node.id
    }

    pub fn node_cluster(&self) -> &str {
        &self.node.cluster
    }

    /// Status per type URL.
    pub fn status(&self) -> BTreeMap<String, TypeStatus> {
        self.types
            .iter()
            .map(|(t, s)| (t.clone(), s.status.clone()))
            .collect()
    }

    /// Handles one request; returns what it meant and the responses owed.
    pub fn on_request(
        &mut self,
        request: &DiscoveryRequest,
        snapshot: &Snapshot,
    ) -> Result<(Event, Vec<DiscoveryResponse>), EncodeError> {
        // Envoy sends its node on the first request only.
        if let Some(node) = &request.node {
            self.node = node.clone();
            self.overrides = overrides(node);
        }
        let type_url = request.type_url.clone();
        let state = self.types.entry(type_url.clone()).or_default();
        let names: BTreeSet<String> = request.resource_names.iter().cloned().collect();
        let event = match (&state.sent, request.response_nonce.as_str()) {
            (_, "") => Event::Subscribed,
            (Some(sent), nonce) if nonce == sent.nonce => match &request.error_detail {
                Some(error) => {
                    let rejection = Rejection {
                        version: state.status.sent.clone().unwrap_or_default(),
                        message: error.message.clone(),
                    };
                    state.status.nacked = Some(rejection.clone());
                    Event::Nack {
                        version: rejection.version,
                        message: rejection.message,
                    }
                }
                None => {
                    state.status.acked = Some(request.version_info.clone());
                    state.status.nacked = None;
                    Event::Ack {
                        version: request.version_info.clone(),
                    }
                }
            },
            _ => return Ok((Event::Stale, Vec::new())),
        };
        state.names = names;
        let owed = match (&event, &state.sent) {
            (Event::Subscribed, _) | (_, None) => true,
            (_, Some(sent)) => sent.names != state.names,
        };
        let mut responses = Vec::new();
        if owed {
            responses.extend(self.respond(&type_url, snapshot, true)?);
        }
        // Envoy has answered the routes a bridge was sent for: the final filter configs.
        let answered = self.bridged_until.as_deref() == Some(request.response_nonce.as_str());
        if type_url == ROUTE && answered {
            self.bridged_until = None;
            responses.extend(self.respond(EXTENSION, snapshot, false)?);
        }
        Ok((event, responses))
    }

    /// The responses a new snapshot makes owed: every subscribed type whose resources
    /// for this Envoy changed, in dependency order. When the routes change, filter
    /// configs go out bridged first (see [`super::bridge`]) and final once Envoy has
    /// answered the routes.
    pub fn on_snapshot(
        &mut self,
        snapshot: &Snapshot,
    ) -> Result<Vec<DiscoveryResponse>, EncodeError> {
        let routes_change = self.differs(ROUTE, snapshot)?;
        let mut responses = Vec::new();
        for type_url in TYPES {
            if self.types.get(type_url).is_none_or(|s| s.sent.is_none()) {
                continue;
            }
            let response = match (type_url, routes_change) {
                (EXTENSION, true) => {
                    let names = self.types[EXTENSION].names.clone();
                    let bridged = snapshot.bridged_extensions(&names)?;
                    let version = format!("{}-bridge", snapshot.version());
                    let final_ = snapshot.resources(EXTENSION, &names, self.overrides)?;
                    match same(&bridged, &final_) {
                        true => self.send(EXTENSION, final_, snapshot.version().to_string(), false),
                        false => {
                            self.bridging = true;
                            self.send(EXTENSION, bridged, version, false)
                        }
                    }
                }
                _ => self.respond(type_url, snapshot, false)?,
            };
            if let (ROUTE, Some(response)) = (type_url, &response) {
                if std::mem::take(&mut self.bridging) {
                    self.bridged_until = Some(response.nonce.clone());
                }
            }
            responses.extend(response);
        }
        Ok(responses)
    }

    /// Whether `snapshot`'s resources of `type_url` differ from the last ones sent.
    fn differs(&self, type_url: &str, snapshot: &Snapshot) -> Result<bool, EncodeError> {
        let Some(sent) = self.types.get(type_url).and_then(|s| s.sent.as_ref()) else {
            return Ok(false);
        };
        let resources = snapshot.resources(type_url, &sent.names, self.overrides)?;
        Ok(!same(&sent.resources, &resources))
    }

    /// A response with `snapshot`'s resources of `type_url`; unless `always`, only when
    /// they differ from the last ones sent.
    fn respond(
        &mut self,
        type_url: &str,
        snapshot: &Snapshot,
        always: bool,
    ) -> Result<Option<DiscoveryResponse>, EncodeError> {
        let names = self
            .types
            .get(type_url)
            .map(|s| s.names.clone())
            .unwrap_or_default();
        let resources = snapshot.resources(type_url, &names, self.overrides)?;
        Ok(self.send(type_url, resources, snapshot.version().to_string(), always))
    }

    /// A response carrying `resources` under `version`; unless `always`, only when they
    /// differ from the last ones sent.
    fn send(
        &mut self,
        type_url: &str,
        resources: Vec<Resource>,
        version: String,
        always: bool,
    ) -> Option<DiscoveryResponse> {
        let state = self.types.entry(type_url.to_string()).or_default();
        let unchanged = state
            .sent
            .as_ref()
            .is_some_and(|sent| same(&sent.resources, &resources));
        if unchanged && !always {
            return None;
        }
        self.nonces += 1;
        let nonce = self.nonces.to_string();
        let response = DiscoveryResponse {
            version_info: version.clone(),
            resources: resources.iter().map(|r| r.any.clone()).collect(),
            type_url: type_url.to_string(),
            nonce: nonce.clone(),
            ..DiscoveryResponse::default()
        };
        state.status.sent = Some(version);
        state.sent = Some(Sent {
            nonce,
            names: state.names.clone(),
            resources,
        });
        Some(response)
    }
}

fn overrides(node: &Node) -> NodeOverrides {
    let listen = node
        .metadata
        .as_ref()
        .and_then(|m| m.fields.get(LISTEN_METADATA))
        .and_then(|v| match &v.kind {
            Some(Kind::StringValue(s)) => s.parse().ok(),
            _ => None,
        });
    NodeOverrides { listen }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
