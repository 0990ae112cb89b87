//! Header names Tollgate uses between its own filters and towards clients.
//!
//! The `x-tollgate-*` request headers are internal: the gateway filter sets them after
//! authentication (overwriting anything a client sent) and the provider filter removes
//! them before the request leaves Envoy.

/// Model alias chosen by the client; Envoy routes on it to the provider's cluster.
pub const ALIAS: &str = "x-tollgate-alias";
/// Wire format the client spoke (`openai` or `anthropic`), so the provider filter knows
/// what to translate from and back to.
pub const CLIENT_FORMAT: &str = "x-tollgate-client-format";
/// What the provider must do: `chat` or `embeddings` (see `gateway::Operation`).
pub const OPERATION: &str = "x-tollgate-operation";
/// Id of the virtual key that authenticated the request (never the key itself).
pub const KEY_ID: &str = "x-tollgate-key-id";
/// Team of the virtual key, for attribution.
pub const TEAM: &str = "x-tollgate-team";

/// Response header: provider that served the request.
pub const PROVIDER: &str = "x-tollgate-provider";
/// Response header: model name the provider was asked for.
pub const UPSTREAM_MODEL: &str = "x-tollgate-upstream-model";

/// Every internal request header, for stripping.
pub const INTERNAL_REQUEST: [&str; 5] = [ALIAS, CLIENT_FORMAT, OPERATION, KEY_ID, TEAM];
