//! What the MCP filter (upstream, per server) hands the gateway filter (downstream) through
//! filter state: the JSON-RPC id of the request, for an answer Envoy makes up, and the tool
//! steps it could not finish (`tollgate_core::mcp::unfinished`). Also ships the steps.

use proxy_wasm::traits::HttpContext;
use serde_json::Value;
use tollgate_core::attempts::le_integer;
use tollgate_core::error::GatewayError;
use tollgate_core::log_fields;
use tollgate_core::mcp::step::{Finished, OpenCall};
use tollgate_core::mcp::{jsonrpc, Answered, CallEnd, PendingCalls, ToolStep, Unfinished};

use crate::host::{log_field, read_field, unix_millis};
use crate::provider::enqueue_usage;
use crate::ratelimiting::SharedData;

/// Ships a finished step through the usage outbox, like an LLM step's.
pub fn ship(step: &ToolStep) {
    enqueue_usage(&step.to_json());
}

/// Ships calls ended together; a price whose settlement was lost goes to the log.
fn ship_finished(finished: &Finished) {
    if finished.unsettled_nano_usd > 0 {
        let cost = finished.unsettled_nano_usd;
        log::warn!("tollgate: budget settlement of {cost} nano-USD lost to contention");
    }
    finished.steps.iter().for_each(ship);
}

/// Leaves `unfinished` for the gateway filter, in case the exchange is cut off.
pub fn leave(ctx: &dyn HttpContext, unfinished: &Unfinished) {
    log_field(ctx, log_fields::MCP_STEP, &unfinished.encode());
}

/// Takes back what [`leave`] left: its finisher is the caller now.
pub fn take_back(ctx: &dyn HttpContext) {
    log_field(ctx, log_fields::MCP_STEP, "");
}

/// In the gateway filter's `on_log`: finishes what the MCP filter could not, as cut off
/// (or as answered by the gateway in Envoy's place: `envoy_reply`, its error code).
pub fn finish_left(ctx: &dyn HttpContext, envoy_reply: Option<&'static str>) {
    let Some(unfinished) = read_field(ctx, log_fields::MCP_STEP)
        .and_then(|value| Unfinished::decode(value.as_bytes()))
    else {
        return;
    };
    take_back(ctx);
    let status = ctx
        .get_property(vec!["response", "code"])
        .and_then(|code| le_integer(&code))
        .and_then(|code| u16::try_from(code).ok())
        .unwrap_or(0);
    let now = unix_millis(ctx.get_current_time());
    ship_finished(&unfinished.finish(status, envoy_reply, &SharedData, now));
}

/// In the MCP filter: the JSON-RPC id of the request going to the server.
pub fn leave_request_id(ctx: &dyn HttpContext, id: &Value) {
    log_field(ctx, log_fields::MCP_REQUEST_ID, &id.to_string());
}

/// In the gateway filter: the body of `error`, which replaces an answer Envoy made up on an
/// MCP route, as the JSON-RPC error to the request the MCP filter read (if it did).
pub fn envoy_reply_body(ctx: &dyn HttpContext, error: &GatewayError) -> Vec<u8> {
    let id = read_field(ctx, log_fields::MCP_REQUEST_ID)
        .and_then(|id| serde_json::from_str::<Value>(&id).ok());
    jsonrpc::upstream_failure(error, id.as_ref())
        .to_string()
        .into_bytes()
}

/// One MCP request's part in shipping tool steps beyond its own answer: a legacy call left
/// to its session's event stream, or a legacy event stream that must close its session's
/// waiting calls when it ends.
#[derive(Default)]
pub struct Steps {
    /// A legacy call left to the session's stream (session, JSON-RPC id): taken back if
    /// the POST is not accepted.
    waiting: Option<(String, Value)>,
    /// This event stream's session, once its `endpoint` event passed.
    stream_session: Option<String>,
}

fn pending<'a>(server: &'a str) -> PendingCalls<'a> {
    PendingCalls {
        store: &SharedData,
        server,
    }
}

impl Steps {
    /// A call forwarded to `server`: a legacy one (posted to `session`, with its `id`)
    /// waits for its result on the session's stream, which ships it (`true`); any other's
    /// call is left for the gateway filter, in case the exchange is cut off (the holds of
    /// its price with it, which the gateway filter then settles).
    pub fn forward(
        &mut self,
        ctx: &dyn HttpContext,
        server: &str,
        session: Option<&str>,
        id: Option<Value>,
        call: OpenCall,
    ) -> bool {
        if let (Some(session), Some(id)) = (session, id) {
            let now = unix_millis(ctx.get_current_time());
            if let Some(expired) = pending(server).wait_for(session, &id, &call, now) {
                ship_finished(&expired);
                self.waiting = Some((session.to_owned(), id));
                return true;
            }
        }
        leave(ctx, &Unfinished::Call(Box::new(call)));
        false
    }

    /// A legacy POST answered with anything but `202 Accepted`: no result will come down
    /// the stream, so its call ends here.
    pub fn not_accepted(&mut self, ctx: &dyn HttpContext, server: &str, status: u16) {
        let Some((session, id)) = self.waiting.take().filter(|_| status != 202) else {
            return;
        };
        if let Some(call) = pending(server).take(&session, &id) {
            let end = CallEnd {
                status,
                ..CallEnd::default()
            };
            let mut finished = Finished::default();
            let now = unix_millis(ctx.get_current_time());
            call.finish(end, &SharedData, now, &mut finished);
            ship_finished(&finished);
        }
    }

    /// On a legacy event stream (`session` known): ships the waiting calls that `answers`
    /// answered, on a stream of HTTP `status`.
    pub fn stream_answered(
        &mut self,
        ctx: &dyn HttpContext,
        server: &str,
        session: Option<&str>,
        answers: &[Answered],
        status: u16,
    ) {
        let Some(session) = session else {
            return;
        };
        if self.stream_session.is_none() {
            let stream = Unfinished::Stream {
                server: server.to_owned(),
                session: session.to_owned(),
            };
            leave(ctx, &stream);
            self.stream_session = Some(session.to_owned());
        }
        let now = unix_millis(ctx.get_current_time());
        ship_finished(&pending(server).answered(session, answers, status, now));
    }

    /// A legacy event stream ended: its session's waiting calls get no result.
    pub fn stream_ended(&mut self, ctx: &dyn HttpContext, server: &str) {
        let Some(session) = self.stream_session.take() else {
            return;
        };
        take_back(ctx);
        ship_finished(&pending(server).close(&session, unix_millis(ctx.get_current_time())));
    }
}
