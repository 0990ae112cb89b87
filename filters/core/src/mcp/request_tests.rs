use serde_json::{json, Value};

use super::*;
use crate::mcp::definition::ToolDefinition;
use crate::mcp::pins::memory::MemoryStore;
use crate::mcp::test_support::{access, guardrails, no_pins};

fn call(name: &str, arguments: Value) -> Vec<u8> {
    json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":name,"arguments":arguments}})
        .to_string()
        .into_bytes()
}

struct Fixture {
    store: MemoryStore,
    approved: std::collections::BTreeMap<String, String>,
    access: McpAccess,
    selection: Option<Selection>,
    limits: Vec<crate::mcp::ToolCallLimit>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            store: MemoryStore::default(),
            approved: no_pins(),
            access: access(&["echo", "read_*"], &["read_secrets"]),
            selection: None,
            limits: Vec::new(),
        }
    }

    fn check(&self, headers: StatelessHeaders, body: &[u8]) -> Result<Forward, Box<Refusal>> {
        let pins = PinBook {
            store: &self.store,
            server: "s",
            approved: &self.approved,
        };
        let request = ClientRequest {
            headers,
            key_id: "k",
            call_limits: &self.limits,
            now_ms: 1_000_000,
            access: &self.access,
            pins: &pins,
            on_tool_change: ToolChangePolicy::Hide,
            guardrails: self.selection.as_ref(),
            schemas: None,
        };
        check_request(&request, body, &mut Report::default())
    }
}

fn error_code(refusal: &Refusal) -> i64 {
    let v: Value = serde_json::from_slice(&refusal.body).unwrap();
    v["error"]["code"].as_i64().unwrap()
}

#[test]
fn allowed_calls_go_on_unchanged() {
    let f = Fixture::new();
    let forward = f
        .check(
            StatelessHeaders::default(),
            &call("read_file", json!({"path":"a"})),
        )
        .unwrap();
    assert_eq!(forward.body, None);
    assert_eq!(forward.target.as_deref(), Some("read_file"));
    assert_eq!(forward.id, Some(json!(3)));
    let list = br#"{"jsonrpc":"2.0","id":"l1","method":"tools/list"}"#;
    let listed = f.check(StatelessHeaders::default(), list).unwrap();
    assert_eq!(listed.id, Some(json!("l1")));
    let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let noted = f.check(StatelessHeaders::default(), note).unwrap();
    assert_eq!(noted.id, None, "a notification has no id");
}

#[test]
fn calls_outside_the_scope_are_refused_with_a_json_rpc_error() {
    let f = Fixture::new();
    for name in ["delete_repo", "read_secrets"] {
        let refusal = f
            .check(StatelessHeaders::default(), &call(name, json!({})))
            .unwrap_err();
        assert_eq!((refusal.status, refusal.reason), (200, "access_denied"));
        assert_eq!(error_code(&refusal), jsonrpc::ACCESS_DENIED);
        let v: Value = serde_json::from_slice(&refusal.body).unwrap();
        assert_eq!(v["id"], 3);
    }
    let prompt = br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"other"}}"#;
    assert!(f.check(StatelessHeaders::default(), prompt).is_err());
    let resource =
        br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///x"}}"#;
    assert!(f.check(StatelessHeaders::default(), resource).is_err());
}

#[test]
fn malformed_messages_and_missing_names_are_refused() {
    let f = Fixture::new();
    let batch = f.check(StatelessHeaders::default(), b"[{}]").unwrap_err();
    assert_eq!(
        (batch.status, error_code(&batch)),
        (400, jsonrpc::INVALID_REQUEST)
    );
    let nameless = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#;
    let refusal = f.check(StatelessHeaders::default(), nameless).unwrap_err();
    assert_eq!(error_code(&refusal), jsonrpc::INVALID_PARAMS);
}

#[test]
fn stateless_headers_must_match_the_body() {
    let f = Fixture::new();
    let body = call("echo", json!({}));
    let headers = |method, name| StatelessHeaders { method, name };
    assert!(f
        .check(headers(Some("tools/call"), Some("echo")), &body)
        .is_ok());
    let encoded = "=?base64?ZWNobw==?=";
    assert!(f
        .check(headers(Some("tools/call"), Some(encoded)), &body)
        .is_ok());
    for (method, name) in [
        (Some("tools/list"), Some("echo")),
        (Some("tools/call"), Some("read_file")),
        (Some("tools/call"), None),
        (None, Some("echo")),
    ] {
        let refusal = f.check(headers(method, name), &body).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.reason),
            (400, "header_mismatch"),
            "{method:?} {name:?}"
        );
        assert_eq!(error_code(&refusal), jsonrpc::HEADER_MISMATCH);
    }
    // A header naming an allowed tool cannot smuggle a call to a refused one.
    let smuggled = call("delete_repo", json!({}));
    assert!(f
        .check(headers(Some("tools/call"), Some("echo")), &smuggled)
        .is_err());
}

#[test]
fn held_tools_are_refused_until_approved() {
    let f = Fixture::new();
    let pins = PinBook {
        store: &f.store,
        server: "s",
        approved: &f.approved,
    };
    for description in ["v1", "v2"] {
        let tool = json!({"name": "echo", "description": description});
        pins.observe("echo", &ToolDefinition::of(tool.as_object().unwrap()));
    }
    let refusal = f
        .check(StatelessHeaders::default(), &call("echo", json!({})))
        .unwrap_err();
    assert_eq!(error_code(&refusal), jsonrpc::TOOL_CHANGED);
}

#[test]
fn guardrails_redact_and_deny_arguments() {
    let mut f = Fixture::new();
    f.selection = Some(guardrails());
    let forward = f
        .check(
            StatelessHeaders::default(),
            &call("echo", json!({"to": ["bob@example.com"], "n": 1})),
        )
        .unwrap();
    let sent: Value = serde_json::from_slice(&forward.body.expect("redacted")).unwrap();
    let to = sent["params"]["arguments"]["to"][0].as_str().unwrap();
    assert!(!to.contains("bob@example.com"), "{to}");
    assert_eq!(sent["params"]["arguments"]["n"], 1);
    assert_eq!(sent["id"], 3);
    let refusal = f
        .check(
            StatelessHeaders::default(),
            &call("echo", json!({"text": "about Project Nightingale"})),
        )
        .unwrap_err();
    assert_eq!(
        (refusal.reason, error_code(&refusal)),
        ("guardrail_denied", jsonrpc::GUARDRAIL_DENIED)
    );
    let message = String::from_utf8(refusal.body).unwrap();
    assert!(
        message.contains("secrets") && !message.contains("Nightingale"),
        "{message}"
    );
}

#[test]
fn calls_beyond_the_keys_limit_for_a_tool_are_refused() {
    use crate::mcp::patterns::Pattern;
    let mut f = Fixture::new();
    f.limits = vec![crate::mcp::ToolCallLimit {
        tool: Pattern("read_*".into()),
        calls_per_minute: 2,
    }];
    let read = call("read_file", json!({}));
    assert!(f.check(StatelessHeaders::default(), &read).is_ok());
    assert!(f.check(StatelessHeaders::default(), &read).is_ok());
    let refusal = f.check(StatelessHeaders::default(), &read).unwrap_err();
    assert_eq!(
        (refusal.reason, error_code(&refusal)),
        ("rate_limited", jsonrpc::RATE_LIMITED)
    );
    let message = String::from_utf8(refusal.body).unwrap();
    assert!(
        message.contains("2 requests per minute for this tool and key"),
        "{message}"
    );
    // Each tool its own budget; tools without a limit none.
    assert!(f
        .check(StatelessHeaders::default(), &call("read_other", json!({})))
        .is_ok());
    for _ in 0..5 {
        assert!(f
            .check(StatelessHeaders::default(), &call("echo", json!({})))
            .is_ok());
    }
}

#[test]
fn input_callouts_read_the_arguments_as_forwarded() {
    let policy = json!({ "guardrails": [
        { "stages": ["input"], "check": { "rules": {
            "name": "pii", "action": "redact",
            "rules": [{ "type": "pii", "entities": ["email"] }] } } },
        { "stages": ["input"], "check": { "webhook": {
            "name": "hook", "cluster": "c", "authority": "a", "path": "/", "timeoutMs": 100,
            "failure": "closed" } } }
    ]});
    let policy =
        crate::guardrails::CompiledPolicy::new(serde_json::from_value(policy).unwrap()).unwrap();
    let f = Fixture {
        selection: Some(policy.select(Default::default())),
        ..Fixture::new()
    };
    let forward = f
        .check(
            StatelessHeaders::default(),
            &call("echo", json!({"text": "mail bob@example.com"})),
        )
        .unwrap();
    let texts = forward.callout_texts.unwrap();
    assert_eq!(texts.len(), 1);
    let arguments: Value = serde_json::from_str(&texts[0]).unwrap();
    assert!(arguments["text"].as_str().unwrap().starts_with("mail "));
    assert!(
        !texts[0].contains("bob@example.com"),
        "after redaction: {texts:?}"
    );
    let listed = f
        .check(
            StatelessHeaders::default(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .unwrap();
    assert_eq!(
        listed.callout_texts, None,
        "only calls are shown to callouts"
    );
}

#[test]
fn a_callout_refusal_answers_the_call_by_its_id() {
    let refusal = Refusal::guardrail_denied(&call("echo", json!({})), "blocked");
    assert_eq!((refusal.status, refusal.reason), (200, "guardrail_denied"));
    assert_eq!(refusal.id, Some(json!(3)));
    assert_eq!(
        (refusal.method.as_deref(), refusal.target.as_deref()),
        (Some("tools/call"), Some("echo"))
    );
    assert_eq!(error_code(&refusal), jsonrpc::GUARDRAIL_DENIED);
}
