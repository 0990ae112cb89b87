use std::path::Path;

use super::*;
use crate::render::golden_tests::{case_config, cases, CONFIG_DIR, WASM};

fn snapshot_of(text: &str) -> Snapshot {
    let (config, _) = case_config(text, Path::new(CONFIG_DIR));
    Snapshot::build(&config, Path::new(WASM), 1).unwrap()
}

/// `text` (the default config) with one more key.
pub(crate) fn with_added_key(text: &str) -> String {
    let last_key = "    models: [\"*\"]\n";
    assert!(text.contains(last_key), "the edit must apply");
    text.replacen(
        last_key,
        &format!(
            "{last_key}  - {{id: added, sha256: {}, models: [\"*\"]}}\n",
            "1".repeat(64)
        ),
        1,
    )
}

fn default_text() -> String {
    crate::config::DEFAULT_CONFIG.to_string()
}

fn all(snapshot: &Snapshot, type_url: &str) -> Vec<Resource> {
    let names = snapshot.resources[type_url]
        .iter()
        .map(|r| r.name.clone())
        .collect();
    snapshot
        .resources(type_url, &names, NodeOverrides::default())
        .unwrap()
}

/// The types whose resources differ between two snapshots.
fn changed(a: &Snapshot, b: &Snapshot) -> Vec<&'static str> {
    TYPES
        .into_iter()
        .filter(|t| !same(&all(a, t), &all(b, t)))
        .collect()
}

#[test]
fn every_golden_case_encodes_against_envoys_api() {
    for (name, text) in cases() {
        let (config, _) = case_config(&text, Path::new(CONFIG_DIR));
        if let Err(e) = Snapshot::build(&config, Path::new(WASM), 1) {
            panic!("case {name}: {e}");
        }
    }
}

#[test]
fn the_listener_takes_routes_and_filter_configs_from_ads() {
    let snapshot = snapshot_of(&default_text());
    let listener = &snapshot.resources[LISTENER][0].json;
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    assert!(hcm.get("route_config").is_none());
    assert_eq!(hcm["rds"]["route_config_name"], "tollgate");
    assert_eq!(hcm["rds"]["config_source"], over_ads());
    assert_eq!(hcm["http_filters"][0]["name"], "tollgate.gateway");
    assert_eq!(
        hcm["http_filters"][0]["config_discovery"]["type_urls"][0],
        WASM_TYPE
    );
    let routes: Vec<&str> = snapshot.resources[ROUTE]
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(routes, ["tollgate"]);
}

#[test]
fn each_provider_filter_is_its_own_extension_config() {
    let snapshot = snapshot_of(&default_text());
    let names: Vec<&str> = snapshot.resources[EXTENSION]
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    // The demo config's two credentialed providers; the optional ones are not set here.
    assert!(names.contains(&"tollgate.gateway"), "{names:?}");
    assert!(names.contains(&"tollgate.provider.demo"), "{names:?}");
    let cluster = snapshot.resources[CLUSTER]
        .iter()
        .find(|c| c.name == "provider.demo")
        .unwrap();
    let filters = &cluster.json["typed_extension_protocol_options"][HTTP_OPTIONS]["http_filters"];
    assert_eq!(filters[0]["name"], "tollgate.provider.demo");
    assert!(filters[0]["config_discovery"].is_object());
    // The credential injector now finds its secret over ADS.
    let injector = &filters[1]["typed_config"]["credential"]["typed_config"]["credential"];
    assert_eq!(injector["name"], "credential.demo");
    assert_eq!(injector["sds_config"], over_ads());
    assert!(snapshot.resources[SECRET]
        .iter()
        .any(|s| s.name == "credential.demo"));
}

#[test]
fn a_new_key_changes_only_extension_configs() {
    let before = snapshot_of(&default_text());
    let with_key = with_added_key(&default_text());
    assert_eq!(changed(&before, &snapshot_of(&with_key)), [EXTENSION]);
}

#[test]
fn a_route_change_leaves_listeners_and_clusters_alone() {
    let before = snapshot_of(&default_text());
    let renamed = default_text().replace("alias: demo-gpt,", "alias: demo-gpt-2,");
    assert_ne!(renamed, default_text(), "the edit must apply");
    let changed = changed(&before, &snapshot_of(&renamed));
    assert!(changed.contains(&ROUTE), "{changed:?}");
    assert!(!changed.contains(&LISTENER), "{changed:?}");
    assert!(!changed.contains(&CLUSTER), "{changed:?}");
}

#[test]
fn named_types_return_only_the_names_asked_for() {
    let snapshot = snapshot_of(&default_text());
    let asked = BTreeSet::from(["tollgate.gateway".to_string(), "no.such".to_string()]);
    let got = snapshot
        .resources(EXTENSION, &asked, NodeOverrides::default())
        .unwrap();
    let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["tollgate.gateway"]);
    // Wildcard types ignore the names.
    let clusters = snapshot
        .resources(CLUSTER, &BTreeSet::new(), NodeOverrides::default())
        .unwrap();
    assert_eq!(clusters.len(), snapshot.resources[CLUSTER].len());
}

#[test]
fn a_node_can_move_the_listener() {
    let snapshot = snapshot_of(&default_text());
    let listen: SocketAddr = "127.0.0.1:18123".parse().unwrap();
    let moved = snapshot
        .resources(
            LISTENER,
            &BTreeSet::new(),
            NodeOverrides {
                listen: Some(listen),
            },
        )
        .unwrap();
    assert_eq!(
        moved[0].json["address"]["socket_address"]["port_value"],
        18123
    );
    let same = snapshot
        .resources(LISTENER, &BTreeSet::new(), NodeOverrides::default())
        .unwrap();
    assert_eq!(
        same[0].json["address"]["socket_address"]["port_value"],
        8080
    );
}

#[test]
fn equal_configs_give_equal_resources() {
    let a = snapshot_of(&default_text());
    let b = snapshot_of(&default_text());
    assert!(a.same_resources(&b));
    let other = default_text().replace("alias: demo-gpt,", "alias: demo-gpt-2,");
    assert!(!a.same_resources(&snapshot_of(&other)));
}
