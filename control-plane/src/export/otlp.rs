//! Usage records → OTLP spans with the OpenTelemetry GenAI semantic-convention attributes.
//!
//! One span per record (one upstream attempt), kind CLIENT, named `{operation} {model}`
//! as the conventions ask, from `time_unix_ms - duration_ms` to `time_unix_ms`. Standard
//! attributes: `gen_ai.operation.name`, `gen_ai.provider.name` (and the older
//! `gen_ai.system`), `gen_ai.request.model` (the alias the client asked for),
//! `gen_ai.response.model` (the upstream model), `gen_ai.usage.input_tokens` /
//! `output_tokens`, `http.response.status_code`, `error.type`. Tollgate's own are under
//! `tollgate.*`: cost, key, team, run, agent, step, attempt, fallback step. Tool calls
//! the answer asked for and tool results the request carried become span events.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;
use std::collections::HashMap;

use super::ids::span_ids;
use crate::config::ProviderKind;

/// `service.name` of the exported resource.
pub const SERVICE_NAME: &str = "tollgate";

/// Provider name (as configured) → `gen_ai.provider.name` value.
pub type ProviderSystems = HashMap<String, String>;

/// The GenAI conventions' well-known provider name of a kind; kinds the conventions do
/// not list keep their config name (`ollama`, `vllm`, …).
pub fn provider_system(kind: ProviderKind) -> String {
    let known = match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Cohere => "cohere",
        ProviderKind::Azure => "azure.ai.openai",
        ProviderKind::Gemini => "gcp.gemini",
        ProviderKind::Vertex => "gcp.vertex_ai",
        ProviderKind::Bedrock => "aws.bedrock",
        ProviderKind::Mistral => "mistral_ai",
        ProviderKind::Groq => "groq",
        ProviderKind::DeepSeek => "deepseek",
        other => return other.to_string(),
    };
    known.to_string()
}

/// One request for a batch of records (JSON objects); records without an `id` and a
/// `time_unix_ms` are left out.
pub fn export_request(records: &[Value], systems: &ProviderSystems) -> ExportTraceServiceRequest {
    let spans = records.iter().filter_map(|r| span(r, systems)).collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", SERVICE_NAME)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: SERVICE_NAME.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn span(record: &Value, systems: &ProviderSystems) -> Option<Span> {
    let id = record.get("id")?.as_str()?;
    let end_ms = record.get("time_unix_ms")?.as_u64()?;
    let text = |field: &str| record.get(field).and_then(Value::as_str);
    let number = |field: &str| record.get(field).and_then(Value::as_u64);
    let ids = span_ids(record, id);
    let start_ms = end_ms.saturating_sub(number("duration_ms").unwrap_or(0));
    let operation = text("operation").unwrap_or("chat");
    let request_model = text("alias");
    let status = number("status").unwrap_or(0);
    let error_type = text("error_class")
        .map(str::to_owned)
        .or_else(|| (status >= 400).then(|| status.to_string()));

    let mut attributes = vec![string("gen_ai.operation.name", operation)];
    if let Some(provider) = text("provider") {
        if let Some(system) = systems.get(provider) {
            attributes.push(string("gen_ai.provider.name", system));
            attributes.push(string("gen_ai.system", system));
        }
        attributes.push(string("tollgate.provider", provider));
    }
    let strings = [
        ("gen_ai.request.model", request_model),
        ("gen_ai.response.model", text("upstream_model")),
        ("error.type", error_type.as_deref()),
        ("tollgate.record_id", Some(id)),
        ("tollgate.key_id", text("key_id")),
        ("tollgate.team", text("team")),
        ("tollgate.run_id", text("run_id")),
        ("tollgate.agent_id", text("agent_id")),
        ("tollgate.step_id", text("step_id")),
        ("tollgate.parent_step_id", text("parent_step_id")),
        ("tollgate.fallback_step", text("fallback_step")),
    ];
    attributes.extend(
        strings
            .into_iter()
            .filter_map(|(key, value)| Some(string(key, value?))),
    );
    let usage = record.get("usage").filter(|u| u.is_object());
    let count = |field: &str| usage.and_then(|u| u.get(field)).and_then(Value::as_u64);
    let input_tokens = ["input_tokens", "cache_read_tokens", "cache_write_tokens"]
        .into_iter()
        .filter_map(count)
        .reduce(|a, b| a.saturating_add(b));
    let integers = [
        ("http.response.status_code", Some(status).filter(|s| *s > 0)),
        ("gen_ai.usage.input_tokens", input_tokens),
        ("gen_ai.usage.output_tokens", count("output_tokens")),
        (
            "tollgate.usage.cache_read_tokens",
            count("cache_read_tokens"),
        ),
        ("tollgate.cost_nano_usd", number("cost_nano_usd")),
        ("tollgate.attempt", number("attempt")),
        (
            "tollgate.time_to_first_token_ms",
            number("time_to_first_token_ms"),
        ),
    ];
    attributes.extend(
        integers
            .into_iter()
            .filter_map(|(key, value)| Some(integer(key, value?))),
    );
    if let Some(nano) = number("cost_nano_usd") {
        attributes.push(key_value(
            "tollgate.cost_usd",
            Any::DoubleValue(nano as f64 / 1e9),
        ));
    }
    if let Some(estimated) = record.get("estimated").and_then(Value::as_bool) {
        attributes.push(key_value(
            "tollgate.usage.estimated",
            Any::BoolValue(estimated),
        ));
    }

    Some(Span {
        trace_id: ids.trace_id.to_vec(),
        span_id: ids.span_id.to_vec(),
        parent_span_id: ids.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        name: match request_model {
            Some(model) => format!("{operation} {model}"),
            None => operation.to_string(),
        },
        kind: SpanKind::Client as i32,
        start_time_unix_nano: millis_to_nanos(start_ms),
        end_time_unix_nano: millis_to_nanos(end_ms),
        attributes,
        events: tool_events(record, end_ms),
        status: Some(match &error_type {
            Some(error) => Status {
                message: error.clone(),
                code: StatusCode::Error as i32,
            },
            None => Status::default(),
        }),
        ..Span::default()
    })
}

/// `gen_ai.tool.call` events for the tool calls the answer asked for, and
/// `gen_ai.tool.result` events for the tool results the request carried.
fn tool_events(record: &Value, end_ms: u64) -> Vec<Event> {
    let list = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let event = |name: &str, fields: &[(&str, &str)], item: &Value| Event {
        time_unix_nano: millis_to_nanos(end_ms),
        name: name.to_string(),
        attributes: fields
            .iter()
            .filter_map(|(key, field)| Some(string(key, item.get(*field)?.as_str()?)))
            .collect(),
        dropped_attributes_count: 0,
    };
    let calls = list("tool_calls").into_iter().map(|call| {
        let fields = [
            ("gen_ai.tool.call.id", "id"),
            ("gen_ai.tool.name", "name"),
            ("tollgate.tool.arguments_sha256", "arguments_sha256"),
        ];
        event("gen_ai.tool.call", &fields, &call)
    });
    let results = list("tool_results").into_iter().map(|result| {
        event(
            "gen_ai.tool.result",
            &[("gen_ai.tool.call.id", "tool_call_id")],
            &result,
        )
    });
    calls.chain(results).collect()
}

fn millis_to_nanos(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

fn key_value(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    key_value(key, Any::StringValue(value.to_string()))
}

fn integer(key: &str, value: u64) -> KeyValue {
    key_value(key, Any::IntValue(i64::try_from(value).unwrap_or(i64::MAX)))
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
