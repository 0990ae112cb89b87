use super::*;
use crate::error::ErrorKind;
use crate::formats::WireFormat;

fn parse(pairs: &[(&str, &str)]) -> Result<Attribution, AttributionError> {
    Attribution::from_headers(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
}

#[test]
fn reads_every_header() {
    let a = parse(&[
        ("x-tollgate-agent-id", "planner"),
        ("x-tollgate-run-id", " run-42 "),
        ("x-tollgate-parent-step-id", "step 7"),
        (
            "x-tollgate-metadata",
            r#"{"env":"prod","feature":"search"}"#,
        ),
    ])
    .unwrap();
    assert_eq!(a.agent_id.as_deref(), Some("planner"));
    assert_eq!(a.run_id.as_deref(), Some("run-42"));
    assert_eq!(a.parent_step_id.as_deref(), Some("step 7"));
    assert_eq!(a.metadata["env"], "prod");
    assert_eq!(a.metadata["feature"], "search");
}

#[test]
fn absent_and_empty_headers_mean_no_attribution() {
    assert!(parse(&[]).unwrap().is_empty());
    let blank = parse(&[("x-tollgate-agent-id", "  "), ("x-tollgate-metadata", "")]);
    assert!(blank.unwrap().is_empty());
    assert!(parse(&[("x-tollgate-metadata", "{}")]).unwrap().is_empty());
}

#[test]
fn ids_are_bounded_and_printable() {
    let long = "a".repeat(MAX_ID_BYTES + 1);
    assert_eq!(
        parse(&[("x-tollgate-run-id", &long)]),
        Err(AttributionError::IdTooLong {
            header: "x-tollgate-run-id"
        })
    );
    let longest = "a".repeat(MAX_ID_BYTES);
    assert!(parse(&[("x-tollgate-run-id", &longest)]).is_ok());
    for bad in ["agent\u{7}", "agént", "a\tb"] {
        assert_eq!(
            parse(&[("x-tollgate-agent-id", bad)]),
            Err(AttributionError::IdNotPrintable {
                header: "x-tollgate-agent-id"
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn metadata_must_be_an_object_of_strings() {
    for bad in ["[]", "\"x\"", "{", "null", "{\"a\":1} x"] {
        assert_eq!(
            parse(&[("x-tollgate-metadata", bad)]),
            Err(AttributionError::MetadataNotObject),
            "{bad}"
        );
    }
    for (bad, key) in [
        (r#"{"n":1}"#, "n"),
        (r#"{"o":{"x":"y"}}"#, "o"),
        (r#"{"z":null}"#, "z"),
    ] {
        assert_eq!(
            parse(&[("x-tollgate-metadata", bad)]),
            Err(AttributionError::MetadataValueNotString { key: key.into() }),
            "{bad}"
        );
    }
}

#[test]
fn metadata_is_bounded() {
    let many: Vec<String> = (0..=MAX_METADATA_KEYS)
        .map(|i| format!("\"k{i}\":\"v\""))
        .collect();
    let many = format!("{{{}}}", many.join(","));
    assert_eq!(
        parse(&[("x-tollgate-metadata", &many)]),
        Err(AttributionError::MetadataTooManyKeys)
    );
    let huge = format!("{{\"k\":\"{}\"}}", "v".repeat(MAX_METADATA_BYTES));
    assert_eq!(
        parse(&[("x-tollgate-metadata", &huge)]),
        Err(AttributionError::MetadataTooLarge)
    );
    let long_value = format!("{{\"k\":\"{}\"}}", "v".repeat(MAX_METADATA_VALUE_BYTES + 1));
    assert_eq!(
        parse(&[("x-tollgate-metadata", &long_value)]),
        Err(AttributionError::MetadataValueTooLong { key: "k".into() })
    );
    let long_key = format!("{{\"{}\":\"v\"}}", "k".repeat(MAX_METADATA_KEY_BYTES + 1));
    for bad in [long_key.as_str(), r#"{"":"v"}"#] {
        assert_eq!(
            parse(&[("x-tollgate-metadata", bad)]),
            Err(AttributionError::MetadataKeyLength)
        );
    }
}

#[test]
fn errors_become_a_400_naming_the_header() {
    let e: GatewayError = parse(&[("x-tollgate-metadata", "[1]")]).unwrap_err().into();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    assert_eq!(e.status(), 400);
    assert_eq!(e.param.as_deref(), Some("x-tollgate-metadata"));
    let v = e.to_value(WireFormat::Anthropic);
    assert_eq!(v["type"], "error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("x-tollgate-metadata"));
}

#[test]
fn encoding_round_trips() {
    let a = parse(&[
        ("x-tollgate-agent-id", "a;b\"c"),
        ("x-tollgate-metadata", r#"{"b":"2","a":"1"}"#),
    ])
    .unwrap();
    assert_eq!(
        a.encode(),
        r#"{"agent_id":"a;b\"c","metadata":{"a":"1","b":"2"}}"#
    );
    assert_eq!(Attribution::decode(&a.encode()), Some(a));
    assert_eq!(Attribution::decode("{}"), Some(Attribution::default()));
    assert_eq!(Attribution::decode("nope"), None);
}
