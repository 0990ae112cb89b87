use serde_json::json;

use super::*;
use crate::model::ToolDefinition;

fn request(tools: &[(&str, Value)], response: Option<ResponseFormat>) -> Request {
    Request {
        tools: tools
            .iter()
            .map(|(name, parameters)| ToolDefinition {
                name: (*name).to_owned(),
                description: None,
                parameters: parameters.clone(),
                strict: None,
                cache_control: None,
            })
            .collect(),
        response_format: response,
        ..Request::default()
    }
}

fn weather() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1},
            "days": {"type": "integer", "minimum": 1, "maximum": 14},
            "units": {"enum": ["metric", "imperial"]}
        },
        "required": ["city"],
        "additionalProperties": false
    })
}

#[test]
fn tool_arguments_are_checked_against_the_declared_schema() {
    let schemas = RequestSchemas::from_request(&request(&[("get_weather", weather())], None));
    assert_eq!(
        schemas.check_tool_call("get_weather", r#"{"city":"Oslo","days":3}"#),
        Ok(())
    );
    for (arguments, path, keyword) in [
        (r#"{"city":"Oslo","days":30}"#, "/days", "maximum"),
        (r#"{"days":3}"#, "", "required"),
        (r#"{"city":"Oslo","units":"kelvin"}"#, "/units", "enum"),
        (
            r#"{"city":"Oslo","secret_ssn":"123-45-6789"}"#,
            "",
            "additionalProperties",
        ),
        (r#"{"city":42}"#, "/city", "type"),
        (r#"{"city":"Os"#, "", "json"),
    ] {
        let violation = schemas
            .check_tool_call("get_weather", arguments)
            .expect_err(arguments);
        assert_eq!(
            (violation.path.as_str(), violation.keyword.as_str()),
            (path, keyword),
            "{arguments}"
        );
        assert_eq!(violation.tool.as_deref(), Some("get_weather"));
        // The message locates the failure and never repeats the value.
        let message = violation.to_string();
        assert!(
            !message.contains("123-45") && !message.contains("kelvin"),
            "{message}"
        );
    }
}

#[test]
fn undeclared_tools_fail_and_uncompilable_schemas_pass() {
    let schemas = RequestSchemas::from_request(&request(
        &[
            ("gemini_style", json!({"type": "OBJECT"})),
            (
                "remote",
                json!({"$ref": "https://schemas.example.com/x.json"}),
            ),
            ("no_args", json!({"type": "object", "properties": {}})),
        ],
        None,
    ));
    assert_eq!(schemas.check_tool_call("gemini_style", "[1]"), Ok(()));
    assert_eq!(schemas.check_tool_call("remote", "[1]"), Ok(()));
    assert_eq!(schemas.check_tool_call("no_args", ""), Ok(()));
    let violation = schemas
        .check_tool_call("rm_rf", "{}")
        .expect_err("undeclared");
    assert_eq!(violation.keyword, "undeclaredTool");
    assert_eq!(
        violation.to_string(),
        "arguments of tool `rm_rf`: the request declares no such tool"
    );
}

#[test]
fn structured_answers_follow_the_response_format() {
    let format = ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
            "required": ["items"],
            "$defs": {"item": {"type": "object", "properties": {"price": {"type": "number"}}}}
        }),
        strict: Some(true),
    };
    let schemas = RequestSchemas::from_request(&request(&[], Some(format)));
    assert!(schemas.has_response_schema());
    assert_eq!(
        schemas.check_structured(r#"{"items":[{"price":2.5}]}"#),
        Ok(())
    );
    let violation = schemas
        .check_structured(r#"{"items":[{"price":"free"}]}"#)
        .expect_err("type");
    assert_eq!(
        violation.to_string(),
        "structured answer: fails the schema at `/items/0/price` (type)"
    );
    assert_eq!(
        schemas
            .check_structured("Sure! Here is the JSON")
            .map_err(|v| v.keyword),
        Err("json".to_owned())
    );
    let object = RequestSchemas::from_request(&request(&[], Some(ResponseFormat::JsonObject)));
    assert_eq!(object.check_structured("{}"), Ok(()));
    assert!(object.check_structured("[]").is_err());
    let text = RequestSchemas::from_request(&request(&[], Some(ResponseFormat::Text)));
    assert!(!text.has_response_schema());
    assert_eq!(text.check_structured("anything"), Ok(()));
}
