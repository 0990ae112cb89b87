//! The MCP filter's configuration: one instance per MCP server, in the server's cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::guardrails::{CompiledPolicy, GuardrailPolicy, PolicyError};
use crate::ratelimit::SharedStore;

use super::patterns::{NameRules, Pattern};
use super::schemas::ToolSchemas;

/// What one virtual key may use on a server: tool and prompt names, resource URIs.
pub type McpAccess = NameRules;

/// Configuration of the MCP filter of one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerConfig {
    pub version: u32,
    /// Server name from the user's config (`/mcp/{name}`).
    pub name: String,
    /// Key id → what the key may use here. A key not listed may not use the server.
    pub access: BTreeMap<String, McpAccess>,
    /// Guardrails on `tools/call` arguments (input) and results (output; injection checks
    /// read results as the tool results they become).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<GuardrailPolicy>,
    /// Tool name → approved definition hash ([`super::pins::tool_hash`]). Tools not listed
    /// are pinned when first seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pins: BTreeMap<String, String>,
    pub on_tool_change: ToolChangePolicy,
    /// The gateway path of this server (`/mcp/{name}`), for a legacy HTTP+SSE server's
    /// `endpoint` event; absent for Streamable HTTP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_sse_prefix: Option<String>,
    /// Key id → calls per minute of the tools it names; the first matching pattern
    /// applies, and every tool it matches has a budget of its own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub call_limits: BTreeMap<String, Vec<ToolCallLimit>>,
    /// The price of a `tools/call`: the first entry whose pattern matches the tool; a tool
    /// no entry matches is free.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_prices: Vec<ToolPrice>,
    /// The budgets priced calls count against (those of every key, team and agent, as the
    /// gateway filter has them); empty when no tool here has a price.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<Budget>,
}

/// What one call of the tools `tool` matches costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolPrice {
    pub tool: Pattern,
    /// Nano-dollars (10⁻⁹ USD, the unit of budgets and usage records' cost).
    pub nano_usd_per_call: u64,
}

/// Calls per minute of the tools `tool` matches, for one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolCallLimit {
    pub tool: Pattern,
    pub calls_per_minute: u64,
}

/// What happens to a tool whose definition no longer matches its pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChangePolicy {
    /// Logged and recorded; the tool stays usable.
    Flag,
    /// Logged and recorded; the tool is left out of lists and its calls are refused until
    /// an operator pins the new definition.
    Hide,
}

/// A server's configuration with its guardrails compiled.
pub struct CompiledMcp {
    pub config: McpServerConfig,
    pub guardrails: Option<CompiledPolicy>,
}

impl TryFrom<McpServerConfig> for CompiledMcp {
    type Error = PolicyError;

    fn try_from(mut config: McpServerConfig) -> Result<Self, PolicyError> {
        let guardrails = config
            .guardrails
            .take()
            .map(CompiledPolicy::new)
            .transpose()?;
        Ok(CompiledMcp { config, guardrails })
    }
}

impl CompiledMcp {
    /// What `key_id` may use here; `None` when the key may not use this server at all.
    pub fn access(&self, key_id: &str) -> Option<&McpAccess> {
        self.config.access.get(key_id)
    }

    /// The server's tool schemas in `store`, when its guardrails include schema checks.
    pub fn tool_schemas<'a>(&'a self, store: &'a dyn SharedStore) -> Option<ToolSchemas<'a>> {
        let policy = self.guardrails.as_ref().filter(|p| p.has_schema_checks())?;
        Some(ToolSchemas {
            store,
            server: &self.config.name,
            policy,
        })
    }

    /// The call limits of `key_id` (empty when it has none).
    pub fn call_limits(&self, key_id: &str) -> &[ToolCallLimit] {
        self.config
            .call_limits
            .get(key_id)
            .map_or(&[], Vec::as_slice)
    }
}
