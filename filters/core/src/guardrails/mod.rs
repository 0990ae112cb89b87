//! Guardrails in the data path: which guardrails apply to a request, and running them on
//! the canonical request, the canonical answer and the canonical answer stream.
//!
//! The engine ([`crate::guard`]) scans texts; this module decides *where*:
//! - [`policy`]: the configuration contract (guardrails with stages and scopes) compiled
//!   once per configuration into a [`CompiledPolicy`], which selects and caches the engine
//!   set for a request's key, team and model alias;
//! - [`inspect`]: every text of a canonical request (system, messages, tool calls and tool
//!   results in the history) and of a whole answer (text and tool-call arguments);
//! - [`stream`]: an answer stream, event by event, with the engine's hold-back per block;
//! - [`webhook`]: guardrails answered by an external call (webhook, [`moderation`]): their
//!   requests and how their answers are read;
//! - [`callouts`]: a request's callouts made in order, and what their answers mean;
//! - [`admission`]: allowed models and required metadata, settled by the gateway filter
//!   before routing;
//! - [`injection`]: prompt-injection heuristics over tool results (and user text);
//! - [`schema`]: tool arguments and structured answers against the request's schemas;
//! - [`report`]: the verdicts for the request log and the response header, and the error a
//!   denial becomes (naming guardrail and category, never the matched text).
//!
//! Same-format requests stay byte-for-byte passthrough unless a guardrail redacts; guarded
//! streams are re-encoded from canonical events (their text may change).

pub mod admission;
pub mod callouts;
pub mod injection;
pub mod inspect;
pub mod moderation;
pub mod policy;
pub mod report;
pub mod schema;
pub mod stream;
pub mod webhook;

pub use admission::{
    check_admission, AdmissionCheck, AdmissionRule, Candidate, MetadataKeys, Refusal,
};
pub use callouts::{Asker, CalloutQueue};
pub use injection::{InjectionCheck, InjectionGuard, InjectionSource};
pub use inspect::{guard_request, guard_response, request_texts, Inspection};
pub use moderation::{ModerationAction, ModerationCheck};
pub use policy::{
    Check, CompiledPolicy, GuardrailPolicy, PolicyError, RequestScope, Scope, Selection, Stage,
    StagedGuardrail, WebhookCheck, WebhookFailure,
};
pub use report::{denied_error, Report};
pub use schema::{SchemaCheck, SchemaGuard};
pub use stream::OutputGuard;
pub use webhook::{webhook_verdict, Callout, CalloutVerdict};

#[cfg(test)]
#[path = "guardrails_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "injection_schema_tests.rs"]
mod injection_schema_tests;
