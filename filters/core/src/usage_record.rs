//! The usage (step) record written for every upstream attempt that got a response.
//!
//! It names who spent what: the key (by id, never the key), team, alias, provider and
//! upstream model, with the normalised token counts; and where the attempt sits in an agent
//! run: trace, span and step ids, the tool calls its answer asked for and the tool results
//! its request brought back. Records are one JSON object per line so any log shipper can
//! pick them up. The README documents every field.

use serde_json::{json, Value};

use crate::attribution::Attribution;
use crate::capture::{Captured, PayloadCapture};
use crate::cost::Price;
use crate::model::Usage;
use crate::tool_calls::ToolCall;
use crate::trace_context::TraceContext;

/// Everything known about one attempt's consumption.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageRecord {
    /// Unique per upstream attempt and fixed when the record is made, so a redelivered
    /// record keeps it: the control plane counts each id once (see [`record_id`]).
    pub id: String,
    /// When the attempt finished, in milliseconds since the Unix epoch; reports select
    /// time ranges on it.
    pub time_unix_ms: u64,
    pub provider: String,
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub alias: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    /// The provider's HTTP status.
    pub status: u16,
    /// `None` when the provider reported no usage (an error, or a cut stream).
    pub usage: Option<Usage>,
    /// Which attempt this was (1 = the first), retries and fallbacks counted.
    pub attempt: Option<u64>,
    /// The fallback step of the target that served (0 = the primary).
    pub fallback_step: Option<String>,
    /// Agent, run, parent step and metadata from the client's attribution headers.
    pub attribution: Attribution,
    /// The provider never reported (final) usage, so `usage` is partly or wholly estimated
    /// (see `usage_estimate`).
    pub estimated: bool,
    /// What the usage cost in nano-dollars (10⁻⁹ USD); `None` when the model's price is
    /// unknown.
    pub cost_nano_usd: Option<u64>,
    /// Whether the upstream model had a price (false: the cost is unknown, not zero).
    pub price_known: bool,
    /// Request start to response end of this attempt, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Request start to the first generated text of a stream, in milliseconds.
    pub time_to_first_token_ms: Option<u64>,
    /// The Envoy process that served it (see `budget::poll`); absent when budgets are off.
    pub envoy_instance: Option<String>,
    /// The client request's arrival at Envoy to the end of this attempt's answer, in
    /// milliseconds: gateway work, earlier attempts and back-off included.
    pub total_ms: Option<u64>,
    /// The request leaving for the provider (after translation and input guardrails) to
    /// the end of the answer, in milliseconds.
    pub upstream_ms: Option<u64>,
    /// The request's trace; `None` only in records of filters without a gateway in front.
    pub trace: Option<TraceContext>,
    /// This attempt's span (16 hex digits), sent upstream in its `traceparent`.
    pub span_id: Option<String>,
    /// The step: one client request (Envoy's `x-request-id`), the same for every attempt.
    pub step_id: String,
    /// Why the attempt failed, when it did (`rate_limited`, `server`, …).
    pub error_class: Option<&'static str>,
    /// The tool calls the answer asked for.
    pub tool_calls: Vec<ToolCall>,
    /// Ids of the tool calls whose results the request brought back.
    pub tool_results: Vec<String>,
    /// Guardrail verdicts and their time (the access log's `guardrails` value), when any
    /// guardrail applied.
    pub guardrails: Option<Value>,
    pub capture: PayloadCapture,
    /// Request and answer text, kept only under `full` capture.
    pub payload: Option<Payload>,
}

/// The text a `full` capture keeps: the client's request body and the answer as the
/// client received it, each bounded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    pub request: Captured,
    pub response: Captured,
}

impl UsageRecord {
    pub fn new(provider: &str) -> Self {
        UsageRecord {
            provider: provider.to_string(),
            ..UsageRecord::default()
        }
    }

    /// Prices the usage (none counts as zero tokens) at `price`, the upstream model's.
    pub fn price(&mut self, price: Option<&Price>) {
        let usage = self.usage.unwrap_or_default();
        self.cost_nano_usd = price.map(|p| p.cost_nano_usd(&usage));
        self.price_known = price.is_some();
    }

    /// The run the step belongs to: the client's run id, else its trace.
    pub fn run_id(&self) -> Option<&str> {
        run_of(&self.attribution, self.trace.as_ref())
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let keep_hashes = self.capture.keeps_hashes();
        let mut record = json!({
            "id": self.id,
            "time_unix_ms": self.time_unix_ms,
            "provider": self.provider,
            "key_id": self.key_id,
            "team": self.team,
            "alias": self.alias,
            "upstream_model": self.upstream_model,
            "stream": self.stream,
            "status": self.status,
            "usage": self.usage.as_ref().map(Usage::to_json),
            "attempt": self.attempt,
            "fallback_step": self.fallback_step,
            "agent_id": self.attribution.agent_id,
            "run_id": self.run_id(),
            "parent_step_id": self.attribution.parent_step_id,
            "metadata": self.attribution.metadata,
            "estimated": self.estimated,
            "cost_nano_usd": self.cost_nano_usd,
            "price_known": self.price_known,
            "duration_ms": self.duration_ms,
            "time_to_first_token_ms": self.time_to_first_token_ms,
            "total_ms": self.total_ms,
            "upstream_ms": self.upstream_ms,
            "trace_id": self.trace.as_ref().map(|t| &t.trace_id),
            "span_id": self.span_id,
            "parent_span_id": self.trace.as_ref().and_then(|t| t.parent_span_id.as_ref()),
            "step_id": self.step_id,
            "error_class": self.error_class,
            "tool_calls": self.tool_calls.iter().map(|c| c.to_json(keep_hashes)).collect::<Vec<_>>(),
            "tool_results": self.tool_results.iter().map(|id| json!({"tool_call_id": id})).collect::<Vec<_>>(),
            "guardrails": self.guardrails,
            // No response cache exists yet: the status is unknown, not a miss.
            "cache_status": null,
            "payload_capture": self.capture.as_str(),
        });
        if let Some(instance) = &self.envoy_instance {
            record["envoy_instance"] = json!(instance);
        }
        if let (PayloadCapture::Full, Some(payload)) = (self.capture, &self.payload) {
            record["payload"] = json!({
                "request": payload.request.to_json(),
                "response": payload.response.to_json(),
            });
        }
        record.to_string()
    }
}

/// The run a step belongs to: the client's run id, else its trace (MCP tool-call steps
/// too, see `mcp::step`).
pub fn run_of<'a>(
    attribution: &'a Attribution,
    trace: Option<&'a TraceContext>,
) -> Option<&'a str> {
    attribution
        .run_id
        .as_deref()
        .or(trace.map(|t| t.trace_id.as_str()))
}

/// The id of an attempt's record: Envoy's request id and the attempt number. Envoy makes
/// the request id a random UUID unless the client sent one (kept so the client's logs line
/// up with ours), and every retry or fallback attempt has its own number.
pub fn record_id(request_id: &str, attempt: u64) -> String {
    format!("{request_id}.{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_tell_attempts_of_one_request_apart() {
        assert_eq!(record_id("8d3f", 1), "8d3f.1");
        assert_ne!(record_id("8d3f", 1), record_id("8d3f", 2));
    }

    #[test]
    fn serialises_known_and_unknown_counts() {
        let mut record = UsageRecord::new("openai");
        record.id = record_id("r1", 2);
        record.time_unix_ms = 1_700_000_000_123;
        record.key_id = Some("k1".into());
        record.stream = true;
        record.status = 200;
        record.usage = Some(Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(5),
            output_tokens: Some(7),
            ..Usage::default()
        });
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["id"], "r1.2");
        assert_eq!(v["time_unix_ms"], 1_700_000_000_123u64);
        assert_eq!(v["provider"], "openai");
        assert_eq!(v["key_id"], "k1");
        assert_eq!(v["team"], serde_json::Value::Null);
        assert_eq!(v["stream"], true);
        assert_eq!(v["usage"]["input_tokens"], 10);
        assert_eq!(v["usage"]["cache_read_tokens"], 5);
        assert_eq!(v["usage"]["output_tokens"], 7);
    }

    #[test]
    fn no_usage_is_null() {
        let v: serde_json::Value = serde_json::from_str(&UsageRecord::new("p").to_json()).unwrap();
        assert!(v["usage"].is_null());
        assert!(v["agent_id"].is_null());
        assert_eq!(v["metadata"], serde_json::json!({}));
        assert!(v.get("envoy_instance").is_none());
    }

    #[test]
    fn names_the_envoy_instance_when_known() {
        let mut record = UsageRecord::new("p");
        record.envoy_instance = Some("00ab".into());
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["envoy_instance"], "00ab");
    }

    #[test]
    fn unknown_price_is_a_null_cost_not_zero() {
        let mut record = UsageRecord::new("p");
        record.usage = Some(Usage {
            input_tokens: Some(1000),
            ..Usage::default()
        });
        record.price(None);
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert!(v["cost_nano_usd"].is_null());
        assert_eq!(v["price_known"], false);

        let price = Price {
            input: 2_000_000,
            cached_input: None,
            cache_write: None,
            output: 0,
            reasoning: None,
        };
        record.price(Some(&price));
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["cost_nano_usd"], 2_000_000); // $2/M × 1000 tokens = $0.002
        assert_eq!(v["price_known"], true);
        assert_eq!(v["estimated"], false);
    }

    #[test]
    fn carries_attribution() {
        let mut record = UsageRecord::new("p");
        record.attribution = Attribution {
            agent_id: Some("planner".into()),
            run_id: Some("r1".into()),
            parent_step_id: Some("s0".into()),
            metadata: [("env".to_owned(), "prod".to_owned())].into(),
        };
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["agent_id"], "planner");
        assert_eq!(v["run_id"], "r1");
        assert_eq!(v["parent_step_id"], "s0");
        assert_eq!(v["metadata"]["env"], "prod");
    }

    fn traced() -> UsageRecord {
        let mut record = UsageRecord::new("p");
        record.trace = Some(TraceContext::from_headers(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None,
            [1; 16],
        ));
        record.span_id = Some("b7ad6b7169203331".into());
        record.step_id = "req-1".into();
        record.tool_calls = vec![ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments_sha256: "ab".repeat(32),
        }];
        record.tool_results = vec!["call_0".into()];
        let mut payload = Payload::default();
        payload.request.push(b"MARKER request");
        payload.response.push(b"MARKER answer");
        record.payload = Some(payload);
        record
    }

    #[test]
    fn carries_the_trace_and_the_tool_links() {
        let v: serde_json::Value = serde_json::from_str(&traced().to_json()).unwrap();
        assert_eq!(v["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(v["span_id"], "b7ad6b7169203331");
        assert_eq!(v["parent_span_id"], "00f067aa0ba902b7");
        assert_eq!(v["step_id"], "req-1");
        // Without a run id, the trace is the run.
        assert_eq!(v["run_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(v["tool_calls"][0]["id"], "call_1");
        assert_eq!(v["tool_calls"][0]["name"], "get_weather");
        assert_eq!(v["tool_calls"][0]["arguments_sha256"], "ab".repeat(32));
        assert_eq!(v["tool_results"], json!([{"tool_call_id": "call_0"}]));
        assert!(v["cache_status"].is_null());
        assert!(v["error_class"].is_null());
        assert_eq!(v["payload_capture"], "metadata");
    }

    #[test]
    fn a_run_id_header_names_the_run() {
        let mut record = traced();
        record.attribution.run_id = Some("run-7".into());
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["run_id"], "run-7");
    }

    #[test]
    fn payload_text_only_under_full_capture() {
        let mut record = traced();
        for (capture, has_payload, has_hash) in [
            (PayloadCapture::Full, true, true),
            (PayloadCapture::Metadata, false, true),
            (PayloadCapture::None, false, false),
        ] {
            record.capture = capture;
            let json = record.to_json();
            assert_eq!(json.contains("MARKER"), has_payload, "{capture:?}");
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["payload"].is_object(), has_payload, "{capture:?}");
            assert_eq!(v["tool_calls"][0]["arguments_sha256"].is_string(), has_hash);
            assert_eq!(v["payload_capture"], capture.as_str());
        }
        record.capture = PayloadCapture::Full;
        let v: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(v["payload"]["request"]["text"], "MARKER request");
        assert_eq!(v["payload"]["response"]["text"], "MARKER answer");
    }
}
