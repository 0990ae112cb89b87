use std::path::Path;

use envoy_types::pb::google::protobuf::{Struct, Value as ProtoValue};
use envoy_types::pb::google::rpc::Status;

use super::*;
use crate::render::golden_tests::{case_config, CONFIG_DIR, WASM};
use crate::xds::snapshot::tests::with_added_key;
use crate::xds::snapshot::{CLUSTER, EXTENSION, LISTENER, ROUTE};

/// The default config, with one more key when `added_key`.
fn snapshot(version: u64, added_key: bool) -> Snapshot {
    let text = match added_key {
        true => with_added_key(crate::config::DEFAULT_CONFIG),
        false => crate::config::DEFAULT_CONFIG.to_string(),
    };
    let (config, _) = case_config(&text, Path::new(CONFIG_DIR));
    Snapshot::build(&config, Path::new(WASM), version).unwrap()
}

fn request(type_url: &str, names: &[&str], version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: type_url.to_string(),
        resource_names: names.iter().map(ToString::to_string).collect(),
        version_info: version.to_string(),
        response_nonce: nonce.to_string(),
        ..DiscoveryRequest::default()
    }
}

fn nack(type_url: &str, names: &[&str], version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        error_detail: Some(Status {
            code: 3,
            message: "cannot bind".to_string(),
            details: Vec::new(),
        }),
        ..request(type_url, names, version, nonce)
    }
}

/// A stream subscribed to clusters and the gateway's filter config, both acknowledged.
fn subscribed(first: &Snapshot) -> StreamState {
    let mut stream = StreamState::default();
    for (type_url, names) in [(CLUSTER, vec![]), (EXTENSION, vec!["tollgate.gateway"])] {
        let (event, responses) = stream
            .on_request(&request(type_url, &names, "", ""), first)
            .unwrap();
        assert_eq!(event, Event::Subscribed);
        let [response] = &responses[..] else {
            panic!("a first request is answered once: {responses:?}")
        };
        let ack = request(type_url, &names, &response.version_info, &response.nonce);
        let (event, responses) = stream.on_request(&ack, first).unwrap();
        assert_eq!(
            event,
            Event::Ack {
                version: "1".into()
            }
        );
        assert!(responses.is_empty(), "an ACK is not answered");
    }
    stream
}

#[test]
fn a_first_request_gets_every_resource_of_a_wildcard_type() {
    let first = snapshot(1, false);
    let mut stream = StreamState::default();
    let (_, mut responses) = stream
        .on_request(&request(CLUSTER, &[], "", ""), &first)
        .unwrap();
    let response = responses.remove(0);
    assert_eq!(response.version_info, "1");
    let expected = first
        .resources(CLUSTER, &BTreeSet::new(), NodeOverrides::default())
        .unwrap();
    assert_eq!(response.resources.len(), expected.len());
    assert!(response.resources.iter().all(|a| a.type_url == CLUSTER));
}

#[test]
fn a_key_change_pushes_only_the_filter_config() {
    let first = snapshot(1, false);
    let mut stream = subscribed(&first);
    let responses = stream.on_snapshot(&snapshot(2, true)).unwrap();
    let types: Vec<&str> = responses.iter().map(|r| r.type_url.as_str()).collect();
    assert_eq!(types, [EXTENSION]);
    assert_eq!(responses[0].version_info, "2");
    assert_eq!(responses[0].resources.len(), 1);
    // The same resources under a new version are not pushed again.
    assert!(stream.on_snapshot(&snapshot(3, true)).unwrap().is_empty());
}

#[test]
fn a_nack_is_recorded_and_the_rejected_config_not_resent() {
    let first = snapshot(1, false);
    let mut stream = subscribed(&first);
    let pushed = stream.on_snapshot(&snapshot(2, true)).unwrap().remove(0);
    let (event, responses) = stream
        .on_request(
            &nack(EXTENSION, &["tollgate.gateway"], "1", &pushed.nonce),
            &snapshot(2, true),
        )
        .unwrap();
    assert_eq!(
        event,
        Event::Nack {
            version: "2".into(),
            message: "cannot bind".into()
        }
    );
    assert!(responses.is_empty());
    let status = &stream.status()[EXTENSION];
    assert_eq!(status.acked.as_deref(), Some("1"));
    assert_eq!(status.nacked.as_ref().unwrap().version, "2");
    // Republishing what was rejected sends nothing; a different config is sent.
    assert!(stream.on_snapshot(&snapshot(3, true)).unwrap().is_empty());
    let fixed = stream.on_snapshot(&snapshot(4, false)).unwrap();
    assert_eq!(fixed.len(), 1);
    let ack = request(EXTENSION, &["tollgate.gateway"], "4", &fixed[0].nonce);
    stream.on_request(&ack, &snapshot(4, false)).unwrap();
    let status = &stream.status()[EXTENSION];
    assert_eq!(status.acked.as_deref(), Some("4"));
    assert!(
        status.nacked.is_none(),
        "a later accepted version clears the rejection"
    );
}

#[test]
fn a_request_answering_an_older_nonce_is_ignored() {
    let first = snapshot(1, false);
    let mut stream = subscribed(&first);
    let pushed = stream.on_snapshot(&snapshot(2, true)).unwrap().remove(0);
    let older = (pushed.nonce.parse::<u64>().unwrap() - 1).to_string();
    let (event, responses) = stream
        .on_request(&nack(EXTENSION, &["tollgate.gateway"], "1", &older), &first)
        .unwrap();
    assert_eq!(event, Event::Stale);
    assert!(responses.is_empty());
    assert!(stream.status()[EXTENSION].nacked.is_none());
}

#[test]
fn new_resource_names_are_answered_with_those_resources() {
    let first = snapshot(1, false);
    let mut stream = subscribed(&first);
    let names = ["tollgate.gateway", "tollgate.provider.demo"];
    let sent = stream.on_snapshot(&first).unwrap();
    assert!(sent.is_empty());
    // Envoy ACKs the last nonce with the extra name it now needs.
    let last_nonce = stream.nonces.to_string();
    let (event, responses) = stream
        .on_request(&request(EXTENSION, &names, "1", &last_nonce), &first)
        .unwrap();
    assert_eq!(
        event,
        Event::Ack {
            version: "1".into()
        }
    );
    assert_eq!(responses[0].resources.len(), 2);
}

#[test]
fn the_node_metadata_moves_the_listener() {
    let first = snapshot(1, false);
    let mut stream = StreamState::default();
    let metadata = Struct {
        fields: [(
            LISTEN_METADATA.to_string(),
            ProtoValue {
                kind: Some(Kind::StringValue("127.0.0.1:18555".into())),
            },
        )]
        .into(),
    };
    let first_request = DiscoveryRequest {
        node: Some(Node {
            id: "edge-1".into(),
            cluster: "tollgate".into(),
            metadata: Some(metadata),
            ..Node::default()
        }),
        ..request(LISTENER, &[], "", "")
    };
    stream.on_request(&first_request, &first).unwrap();
    assert_eq!(stream.node_id(), "edge-1");
    let sent = &stream.types[LISTENER].sent.as_ref().unwrap().resources[0];
    assert_eq!(sent.json["address"]["socket_address"]["port_value"], 18555);
}

#[test]
fn a_moved_alias_gets_bridged_filter_configs_until_envoy_answers_the_routes() {
    let first = snapshot(1, false);
    let mut stream = subscribed(&first);
    let names = ["tollgate.gateway", "tollgate.provider.demo"];
    let last_nonce = stream.nonces.to_string();
    stream
        .on_request(&request(EXTENSION, &names, "1", &last_nonce), &first)
        .unwrap();
    let (_, responses) = stream
        .on_request(&request(ROUTE, &["tollgate"], "", ""), &first)
        .unwrap();
    stream
        .on_request(
            &request(ROUTE, &["tollgate"], "1", &responses[0].nonce),
            &first,
        )
        .unwrap();
    let moved_text = crate::config::DEFAULT_CONFIG.replace(
        "{alias: demo-gpt, provider: demo, model: mock-gpt}",
        "{alias: demo-gpt, provider: demo-anthropic, model: moved}",
    );
    let (config, _) = case_config(&moved_text, Path::new(CONFIG_DIR));
    let moved = Snapshot::build(&config, Path::new(WASM), 2)
        .unwrap()
        .bridged_from(&first)
        .unwrap();
    let pushed = stream.on_snapshot(&moved).unwrap();
    let order: Vec<(&str, &str)> = pushed
        .iter()
        .map(|r| (r.type_url.as_str(), r.version_info.as_str()))
        .collect();
    assert_eq!(order, [(EXTENSION, "2-bridge"), (ROUTE, "2")]);
    // The filter configs are final only once Envoy has answered the routes.
    let route_ack = request(ROUTE, &["tollgate"], "2", &pushed[1].nonce);
    let (_, after) = stream.on_request(&route_ack, &moved).unwrap();
    let order: Vec<(&str, &str)> = after
        .iter()
        .map(|r| (r.type_url.as_str(), r.version_info.as_str()))
        .collect();
    assert_eq!(order, [(EXTENSION, "2")]);
}
