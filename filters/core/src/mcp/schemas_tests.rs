use serde_json::{json, Value};

use super::*;
use crate::guardrails::{Report, RequestScope};
use crate::mcp::pins::memory::MemoryStore;

fn policy(action: &str, targets: Value) -> CompiledPolicy {
    let policy = json!({ "guardrails": [
        { "stages": ["input"], "check": { "schema": {
            "name": "tool-schemas", "action": action, "targets": targets } } }
    ]});
    CompiledPolicy::new(serde_json::from_value(policy).unwrap()).unwrap()
}

fn book<'a>(store: &'a MemoryStore, policy: &'a CompiledPolicy) -> ToolSchemas<'a> {
    ToolSchemas {
        store,
        server: "s",
        policy,
    }
}

fn listed_tool() -> Map<String, Value> {
    json!({
        "name": "add",
        "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"}},
                        "required": ["a"]},
        "outputSchema": {"type": "object", "properties": {"sum": {"type": "integer"}},
                         "required": ["sum"]},
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn arguments_are_checked_against_the_listed_input_schema() {
    let (store, policy) = (
        MemoryStore::default(),
        policy("deny", json!(["toolArguments"])),
    );
    let selection = policy.select(RequestScope::default());
    let schemas = book(&store, &policy);
    let mut report = Report::default();
    let bad = json!({"a": "one"});
    assert_eq!(
        schemas.check_arguments(&selection, "add", Some(&bad), &mut report),
        Ok(()),
        "nothing listed yet: nothing to check against"
    );
    schemas.remember(&listed_tool());
    let refused = schemas
        .check_arguments(&selection, "add", Some(&bad), &mut report)
        .unwrap_err();
    assert!(refused.contains("tool-schemas"), "{refused}");
    assert!(refused.contains("/a"), "names the path: {refused}");
    assert!(!refused.contains("one"), "never the value: {refused}");
    assert!(report.to_json().contains("tool-schemas"));
    let good = json!({"a": 1});
    assert_eq!(
        schemas.check_arguments(&selection, "add", Some(&good), &mut report),
        Ok(())
    );
    assert!(
        schemas
            .check_arguments(&selection, "add", None, &mut report)
            .is_err(),
        "no arguments are {{}}, which lacks `a`"
    );
    let result = json!({"content": [], "structuredContent": {"sum": "x"}});
    assert_eq!(
        schemas.check_result(&selection, "add", result.as_object().unwrap(), &mut report),
        Ok(()),
        "structured output is not a target of this check"
    );
}

#[test]
fn structured_content_is_checked_against_the_output_schema_and_flags_pass() {
    let (store, policy) = (
        MemoryStore::default(),
        policy("flag", json!(["structuredOutput"])),
    );
    let selection = policy.select(RequestScope::default());
    let schemas = book(&store, &policy);
    schemas.remember(&listed_tool());
    let mut report = Report::default();
    let wrong = json!({"content": [], "structuredContent": {"total": 3}});
    assert_eq!(
        schemas.check_result(&selection, "add", wrong.as_object().unwrap(), &mut report),
        Ok(()),
        "a flag lets the result through"
    );
    assert!(
        report.to_json().contains("structuredOutput"),
        "{}",
        report.to_json()
    );
    let deny = self::policy("deny", json!(["structuredOutput"]));
    let schemas = book(&store, &deny);
    let selection = deny.select(RequestScope::default());
    assert!(schemas
        .check_result(&selection, "add", wrong.as_object().unwrap(), &mut report)
        .is_err());
    let right = json!({"content": [], "structuredContent": {"sum": 3}});
    assert_eq!(
        schemas.check_result(&selection, "add", right.as_object().unwrap(), &mut report),
        Ok(())
    );
}

#[test]
fn oversized_schemas_are_forgotten_not_stored() {
    let (store, policy) = (
        MemoryStore::default(),
        policy("deny", json!(["toolArguments"])),
    );
    let selection = policy.select(RequestScope::default());
    let schemas = book(&store, &policy);
    schemas.remember(&listed_tool());
    let mut huge = listed_tool();
    huge.insert(
        "inputSchema".into(),
        json!({"type": "object", "description": "x".repeat(MAX_SCHEMA_BYTES)}),
    );
    schemas.remember(&huge);
    let bad = json!({"a": "one"});
    assert_eq!(
        schemas.check_arguments(&selection, "add", Some(&bad), &mut Report::default()),
        Ok(()),
        "the old listing's schema is not used either"
    );
}
