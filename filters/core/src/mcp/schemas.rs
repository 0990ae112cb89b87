//! Schema guardrails on MCP: a `tools/call`'s arguments against the `inputSchema` the
//! server listed for the tool, and a result's `structuredContent` against its
//! `outputSchema`. The LLM path's checks apply (same [`SchemaCheck`]s, same compile cache,
//! same violations); the tool's declarations come from the server instead of the request.
//!
//! What is checked follows the check's targets, whatever its stages: `toolArguments` the
//! arguments, `structuredOutput` the structured result. A tool's schemas are remembered
//! per server from its last `tools/list`, in the store every worker shares; a tool never
//! listed since Envoy started is not checked (there is nothing to check against).

use serde_json::{json, Map, Value};

use crate::guard::schema::SchemaTarget;
use crate::guardrails::{
    denied_error, CompiledPolicy, Inspection, Report, SchemaCheck, SchemaGuard, Selection, Stage,
};
use crate::model::{Request, ResponseFormat, ToolDefinition};
use crate::ratelimit::SharedStore;

/// Largest pair of schemas remembered for one tool; a bigger one is not checked against
/// (and does not fill the shared store).
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// One server's tool schemas as last listed, and the policy that compiles and checks them.
pub struct ToolSchemas<'a> {
    pub store: &'a dyn SharedStore,
    pub server: &'a str,
    pub policy: &'a CompiledPolicy,
}

impl ToolSchemas<'_> {
    fn key(&self, tool: &str) -> String {
        format!("tollgate.mcp.schema.{}.{tool}", self.server)
    }

    /// Remembers a listed tool's schemas (forgets them when they are too large to keep).
    pub fn remember(&self, tool: &Map<String, Value>) {
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            return;
        };
        let schemas = json!({
            "input": tool.get("inputSchema").cloned().unwrap_or(Value::Null),
            "output": tool.get("outputSchema").cloned().unwrap_or(Value::Null),
        })
        .to_string();
        let value = match schemas.len() <= MAX_SCHEMA_BYTES {
            true => schemas.as_bytes(),
            false => b"",
        };
        let key = self.key(name);
        if self
            .store
            .get(&key)
            .is_some_and(|(known, _)| known == value)
        {
            return;
        }
        // A refused write only leaves the previous listing's schemas in place.
        let _ = self.store.set(&key, value, None);
    }

    /// The tool's declarations as a request declares them: its input schema as the tool's
    /// parameters, its output schema as the response format.
    fn declared(&self, tool: &str) -> Option<Request> {
        let (bytes, _) = self.store.get(&self.key(tool))?;
        let schemas: Value = serde_json::from_slice(&bytes).ok()?;
        let object = |v: &Value| v.is_object().then(|| v.clone());
        Some(Request {
            tools: object(&schemas["input"])
                .map(|parameters| ToolDefinition {
                    name: tool.to_owned(),
                    description: None,
                    parameters,
                    strict: None,
                    cache_control: None,
                })
                .into_iter()
                .collect(),
            response_format: object(&schemas["output"]).map(|schema| ResponseFormat::JsonSchema {
                name: tool.to_owned(),
                schema,
                strict: None,
            }),
            ..Request::default()
        })
    }

    /// The guard for `tool` with the key's schema checks; `None` when nothing applies.
    fn guard(
        &self,
        selection: &Selection,
        tool: &str,
        target: SchemaTarget,
    ) -> Option<SchemaGuard> {
        let checks = schema_checks(selection, target);
        if checks.is_empty() {
            return None;
        }
        let declared = self.declared(tool)?;
        Some(SchemaGuard::new(
            self.policy.request_schemas(&declared),
            checks,
        ))
    }

    /// Checks a call's arguments (absent: `{}`). `Err` carries the client's error message.
    pub fn check_arguments(
        &self,
        selection: &Selection,
        tool: &str,
        arguments: Option<&Value>,
        report: &mut Report,
    ) -> Result<(), String> {
        let Some(guard) = self.guard(selection, tool, SchemaTarget::ToolArguments) else {
            return Ok(());
        };
        let text = arguments.map_or_else(|| "{}".to_owned(), Value::to_string);
        let mut inspection = Inspection::default();
        guard.tool_call(tool, &text, &mut inspection);
        judged(Stage::Input, &inspection, report)
    }

    /// Checks a call result's `structuredContent`, when it has one and the tool declared
    /// an output schema. `Err` carries the client's error message.
    pub fn check_result(
        &self,
        selection: &Selection,
        tool: &str,
        result: &Map<String, Value>,
        report: &mut Report,
    ) -> Result<(), String> {
        let Some(structured) = result.get("structuredContent") else {
            return Ok(());
        };
        let Some(guard) = self.guard(selection, tool, SchemaTarget::StructuredOutput) else {
            return Ok(());
        };
        let mut inspection = Inspection::default();
        guard.structured(&structured.to_string(), &mut inspection);
        judged(Stage::Output, &inspection, report)
    }
}

/// The key's schema checks covering `target`, from either stage, each once.
fn schema_checks(selection: &Selection, target: SchemaTarget) -> Vec<SchemaCheck> {
    let mut checks: Vec<SchemaCheck> = Vec::new();
    for check in selection
        .input_schemas
        .iter()
        .chain(&selection.output_schemas)
    {
        if check.targets.contains(&target) && !checks.iter().any(|c| c.name == check.name) {
            checks.push(check.clone());
        }
    }
    checks
}

fn judged(stage: Stage, inspection: &Inspection, report: &mut Report) -> Result<(), String> {
    report.findings(stage, &inspection.findings);
    match &inspection.denied {
        Some(denial) => Err(denied_error(stage, denial).message),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "schemas_tests.rs"]
mod tests;
