//! Host-independent core of Tollgate.
//!
//! Everything that decides *what* happens to a request lives here: the configuration
//! contract shared with the control plane, virtual-key verification, the canonical
//! request/response/stream model, one module per provider wire format, incremental
//! stream parsing and usage normalisation. Nothing here knows about proxy-wasm or Envoy;
//! the wasm crate only moves bytes and headers between Envoy and these functions, so all
//! of it is unit-tested natively with `cargo test`.
#![forbid(unsafe_code)]

pub mod attempts;
pub mod attribution;
pub mod budget;
pub mod capabilities;
pub mod capture;
pub mod config;
pub mod cost;
pub mod embeddings;
pub mod error;
pub mod eventstream;
pub mod formats;
pub mod framing;
pub mod gateway;
pub mod guard;
pub mod guardrails;
pub mod headers;
pub mod keys;
pub mod log_fields;
pub mod mcp;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod route_context;
pub mod route_rules;
pub mod sse;
pub mod step_context;
pub mod stream_start;
pub mod tool_calls;
pub mod trace_context;
pub mod translate;
pub mod usage_estimate;
pub mod usage_outbox;
pub mod usage_record;
