//! The MCP gateway: what the MCP filter decides about each JSON-RPC message between an
//! agent and one MCP server.
//!
//! The gateway filter authenticates the virtual key and routes `/mcp/{server}` to the
//! server's cluster; the MCP filter in that cluster's upstream chain feeds every client
//! message and every server answer through here:
//! - [`config`]: the filter contract (per server: who may use what, guardrails, pins);
//! - [`patterns`]: allow/deny name patterns of a key's scope;
//! - [`jsonrpc`]: the JSON-RPC envelope and the errors the gateway answers with;
//! - [`request`]: a client POST checked before it reaches the server (stateless headers
//!   against the body, tool access, pinning, guardrails on `tools/call` arguments);
//! - [`response`]: a server answer rewritten message by message, JSON or SSE event by SSE
//!   event (filtered lists, guarded tool results, pinning);
//! - [`schemas`]: tools' schemas as listed, for schema guardrails on arguments and results;
//! - [`pins`]: tool-definition hashes and the book that remembers them;
//! - [`definition`]: a tool's definition field by field, remembered to tell what changed;
//! - [`tool_change`]: the records pinning ships: a changed definition (for the audit log)
//!   and a first-seen pin (kept by the control plane);
//! - [`record`]: what the request log says about each MCP request;
//! - [`legacy`]: the HTTP+SSE transport's `endpoint` event, pointed back at the gateway;
//! - [`pricing`]: priced `tools/call`s reserved in, and spent from, the budgets;
//! - [`pending`]: a legacy server's tool calls waiting for their result on the stream;
//! - [`step`]: a `tools/call` as a step of the agent's run;
//! - [`unfinished`]: what an exchange cut off leaves for the gateway filter to ship.

pub mod config;
pub mod definition;
pub mod jsonrpc;
pub mod legacy;
pub mod patterns;
pub mod pending;
pub mod pins;
pub mod pricing;
pub mod record;
pub mod request;
pub mod response;
pub mod schemas;
pub mod step;
#[cfg(test)]
mod test_support;
pub mod tool_change;
mod tool_guard;
pub mod unfinished;

pub use config::{
    CompiledMcp, McpAccess, McpServerConfig, ToolCallLimit, ToolChangePolicy, ToolPrice,
};
pub use pending::PendingCalls;
pub use pins::{PinBook, PinChange};
pub use pricing::{Charge, Pricing};
pub use record::McpRecord;
pub use request::{check_request, ClientRequest, Forward, Refusal, StatelessHeaders};
pub use response::{
    Answered, HeldResult, JsonAnswer, MessageOutcome, Pushed, ResponseContext, SseRewriter,
};
pub use schemas::ToolSchemas;
pub use step::{CallEnd, StepDraft, ToolInvocation, ToolStep};
pub use tool_change::{ToolChangeRecord, ToolPinnedRecord};
pub use unfinished::Unfinished;
