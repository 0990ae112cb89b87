//! A snapshot: every xDS resource for one validated [`Config`], a pure function of it.
//!
//! The static bootstrap [`render::render`] produces is cut into xDS resources:
//! - the listener (LDS) refers to its route configuration by name (RDS), so a route change
//!   does not touch the listener and nothing drains;
//! - every Tollgate wasm filter, the gateway's in the listener and each provider's in its
//!   cluster's upstream chain, is replaced by an ECDS reference named after its plugin, so a
//!   key or guardrail change is an ECDS-only push;
//! - provider and callout credentials become SDS secrets (Envoy still reads the value from
//!   its own environment or file; only the reference travels).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use envoy_types::pb::google::protobuf::Any;
use serde_json::{json, Value};

use super::encode::{to_any, EncodeError};
use crate::config::Config;
use crate::render;

pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
pub const EXTENSION: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
/// Push order: what others refer to goes first (clusters and the filter configs that
/// know an alias before the routes sending it there).
pub const TYPES: [&str; 5] = [CLUSTER, SECRET, EXTENSION, LISTENER, ROUTE];
/// LDS and CDS are wildcard subscriptions: Envoy gets all of them, not named ones.
pub fn is_wildcard(type_url: &str) -> bool {
    type_url == LISTENER || type_url == CLUSTER
}

const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const HTTP_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// One resource: its JSON (what it is, compared between snapshots) and its encoding.
/// Encodings are not compared: protobuf map fields encode in no fixed order.
#[derive(Debug, Clone)]
pub struct Resource {
    pub name: String,
    pub json: Value,
    pub any: Any,
}

/// What one Envoy asks for differently from the rest, from its node metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeOverrides {
    /// The gateway listener's address on this Envoy's host (`tollgate.listen`).
    pub listen: Option<SocketAddr>,
}

/// Every resource of one configuration, by type URL, under a version.
#[derive(Debug, Clone)]
pub struct Snapshot {
    version: u64,
    resources: BTreeMap<&'static str, Vec<Resource>>,
    /// Filter configs that serve the previous snapshot's routes as well as this one's
    /// (see [`super::bridge`]), by name; pushed before routes that change.
    bridge: Vec<Resource>,
}

// === impl Snapshot ===

impl Snapshot {
    /// The resources of `config`; `wasm` is the filter module's path on the Envoy hosts.
    pub fn build(config: &Config, wasm: &Path, version: u64) -> Result<Snapshot, EncodeError> {
        let split = split(render::render(config, wasm).bootstrap);
        let mut resources = BTreeMap::new();
        for (type_url, named) in [
            (LISTENER, split.listeners),
            (ROUTE, split.routes),
            (CLUSTER, split.clusters),
            (SECRET, split.secrets),
            (EXTENSION, split.extensions),
        ] {
            let encoded = named
                .into_iter()
                .map(|(name, json)| {
                    let any = to_any(type_url, &name, &json)?;
                    Ok(Resource { name, json, any })
                })
                .collect::<Result<Vec<_>, EncodeError>>()?;
            resources.insert(type_url, encoded);
        }
        Ok(Snapshot {
            version,
            resources,
            bridge: Vec::new(),
        })
    }

    /// This snapshot, with the filter configs that bridge from `previous` to it.
    pub fn bridged_from(mut self, previous: &Snapshot) -> Result<Snapshot, EncodeError> {
        let all = |s: &Snapshot| s.resources.get(EXTENSION).cloned().unwrap_or_default();
        self.bridge = super::bridge::bridge(&all(previous), &all(&self))?;
        Ok(self)
    }

    /// The filter configs named in `names`, bridged where a bridge exists.
    pub fn bridged_extensions(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<Vec<Resource>, EncodeError> {
        let mut resources = self.resources(EXTENSION, names, NodeOverrides::default())?;
        for resource in &mut resources {
            if let Some(bridge) = self.bridge.iter().find(|b| b.name == resource.name) {
                *resource = bridge.clone();
            }
        }
        Ok(resources)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Same resources as `other`, whatever the versions.
    pub fn same_resources(&self, other: &Snapshot) -> bool {
        self.resources.len() == other.resources.len()
            && self.resources.iter().all(|(type_url, mine)| {
                other
                    .resources
                    .get(type_url)
                    .is_some_and(|theirs| same(mine, theirs))
            })
    }

    /// The resources of `type_url` for one Envoy: all of them for a wildcard type, else
    /// the ones it named (names it asks for that do not exist are left out).
    pub fn resources(
        &self,
        type_url: &str,
        names: &BTreeSet<String>,
        node: NodeOverrides,
    ) -> Result<Vec<Resource>, EncodeError> {
        let all = self.resources.get(type_url).map_or(&[][..], Vec::as_slice);
        all.iter()
            .filter(|r| is_wildcard(type_url) || names.contains(&r.name))
            .map(|r| match (type_url, node.listen) {
                (LISTENER, Some(listen)) => {
                    let mut json = r.json.clone();
                    json["address"] = render::socket_address(listen.ip(), listen.port());
                    let any = to_any(type_url, &r.name, &json)?;
                    Ok(Resource {
                        name: r.name.clone(),
                        json,
                        any,
                    })
                }
                _ => Ok(r.clone()),
            })
            .collect()
    }
}

/// Whether two resource lists are the same resources (names and content).
pub fn same(a: &[Resource], b: &[Resource]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(a, b)| a.name == b.name && a.json == b.json)
}

/// The rendered bootstrap's resources, by kind, as (name, JSON).
#[derive(Debug, Default)]
struct Split {
    listeners: Vec<(String, Value)>,
    routes: Vec<(String, Value)>,
    clusters: Vec<(String, Value)>,
    secrets: Vec<(String, Value)>,
    extensions: Vec<(String, Value)>,
}

/// Config source of everything that is not in the bootstrap: the ADS stream.
fn over_ads() -> Value {
    json!({"ads": {}, "resource_api_version": "V3"})
}

fn named(items: &mut Value) -> Vec<(String, Value)> {
    match items.take() {
        Value::Array(items) => items
            .into_iter()
            .map(|item| (item["name"].as_str().unwrap_or_default().to_string(), item))
            .collect(),
        _ => Vec::new(),
    }
}

fn split(mut bootstrap: Value) -> Split {
    let statics = &mut bootstrap["static_resources"];
    let mut split = Split {
        secrets: named(&mut statics["secrets"]),
        ..Split::default()
    };
    let secret_names: BTreeSet<String> = split.secrets.iter().map(|(n, _)| n.clone()).collect();
    for (name, mut listener) in named(&mut statics["listeners"]) {
        for chain in listener["filter_chains"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            for filter in chain["filters"].as_array_mut().into_iter().flatten() {
                let hcm = &mut filter["typed_config"];
                if let Some(route_config) =
                    hcm.as_object_mut().and_then(|h| h.remove("route_config"))
                {
                    let route_name = route_config["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    hcm["rds"] =
                        json!({"config_source": over_ads(), "route_config_name": route_name});
                    split.routes.push((route_name, route_config));
                }
                discover_wasm_filters(&mut hcm["http_filters"], &mut split.extensions);
            }
        }
        split.listeners.push((name, listener));
    }
    for (name, mut cluster) in named(&mut statics["clusters"]) {
        // `get_mut`, not indexing: indexing a missing key would insert a null.
        let filters = cluster
            .get_mut("typed_extension_protocol_options")
            .and_then(|o| o.get_mut(HTTP_OPTIONS))
            .and_then(|o| o.get_mut("http_filters"));
        if let Some(filters) = filters {
            discover_wasm_filters(filters, &mut split.extensions);
        }
        reference_secrets_over_ads(&mut cluster, &secret_names);
        split.clusters.push((name, cluster));
    }
    split
}

/// Replaces every wasm filter in `filters` by an ECDS reference named after its plugin and
/// moves its configuration into `extensions`.
fn discover_wasm_filters(filters: &mut Value, extensions: &mut Vec<(String, Value)>) {
    for filter in filters.as_array_mut().into_iter().flatten() {
        if filter["typed_config"]["@type"] != WASM_TYPE {
            continue;
        }
        let typed_config = filter["typed_config"].take();
        let name = typed_config["config"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *filter = json!({
            "name": name,
            "config_discovery": {"config_source": over_ads(), "type_urls": [WASM_TYPE]},
        });
        extensions.push((
            name.clone(),
            json!({"name": name, "typed_config": typed_config}),
        ));
    }
}

/// Every reference to one of `secrets` (an `SdsSecretConfig` with only a name, meaning
/// a static secret) is pointed at the ADS stream instead.
fn reference_secrets_over_ads(value: &mut Value, secrets: &BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            let is_reference = map.len() == 1
                && map
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| secrets.contains(n));
            if is_reference {
                map.insert("sds_config".into(), over_ads());
            } else {
                map.values_mut()
                    .for_each(|v| reference_secrets_over_ads(v, secrets));
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| reference_secrets_over_ads(v, secrets)),
        _ => {}
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
pub(crate) mod tests;
