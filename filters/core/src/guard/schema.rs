//! JSON Schema validation of what a model produces against what the request declared: tool
//! call arguments against the tool's parameter schema, and a structured answer against the
//! request's response format (OpenAI `response_format: json_schema`, Anthropic
//! `output_format`, Gemini `responseJsonSchema`, as the canonical request carries them).
//!
//! Schemas come from the request, so they are compiled once per request
//! ([`RequestSchemas::from_request`]) with [`boon`] (drafts 4 to 2020-12, 2020-12 by
//! default). Nothing is ever fetched: a `$ref` outside the schema fails to compile, and a
//! schema that does not compile (Gemini's OpenAPI-style `responseSchema` with upper-case
//! types, say) is not validated against: that is the provider's to refuse. `format` is an
//! annotation only, as the drafts say.
//!
//! A [`SchemaViolation`] names the tool, the JSON path and the failing keyword, never the
//! offending value.

use std::collections::HashMap;
use std::fmt;

use boon::{Compiler, Draft, SchemaIndex, Schemas, UrlLoader, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{Request, ResponseFormat};

/// What a schema guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SchemaTarget {
    /// Tool-call arguments against the called tool's parameters.
    ToolArguments,
    /// A text answer against the request's response format.
    StructuredOutput,
}

impl SchemaTarget {
    /// Stable name for logs, verdicts and error bodies.
    pub fn name(self) -> &'static str {
        match self {
            SchemaTarget::ToolArguments => "toolArguments",
            SchemaTarget::StructuredOutput => "structuredOutput",
        }
    }
}

/// Why a text failed its schema. Carries locations, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    pub target: SchemaTarget,
    /// The called tool, for tool arguments.
    pub tool: Option<String>,
    /// JSON pointer of the failing value (`/items/0/price`), empty for the whole document.
    pub path: String,
    /// The failing keyword (`type`, `required`, `minimum`, …), or `json` when the text is not
    /// JSON at all and `undeclaredTool` for a call to a tool the request did not declare.
    pub keyword: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tool {
            Some(tool) => write!(f, "arguments of tool `{tool}`: ")?,
            None => f.write_str("structured answer: ")?,
        }
        match self.keyword.as_str() {
            "undeclaredTool" => f.write_str("the request declares no such tool"),
            "json" => f.write_str("not valid JSON"),
            keyword => {
                let path = if self.path.is_empty() {
                    "/"
                } else {
                    &self.path
                };
                write!(f, "fails the schema at `{path}` ({keyword})")
            }
        }
    }
}

/// The request's schemas, compiled.
pub struct RequestSchemas {
    schemas: Schemas,
    /// Tool name → its compiled parameter schema; `None` when it does not compile.
    tools: HashMap<String, Option<SchemaIndex>>,
    response: Option<SchemaIndex>,
}

impl fmt::Debug for RequestSchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSchemas")
            .field("tools", &self.tools.len())
            .field("response", &self.response.is_some())
            .finish()
    }
}

/// Refuses every external reference: schemas are self-contained or not validated.
struct NoLoading;

impl UrlLoader for NoLoading {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("external schema references are not loaded: {url}").into())
    }
}

/// Longest path reported; property names come from the model and may be long.
const MAX_PATH_CHARS: usize = 200;

impl RequestSchemas {
    /// Compiles the tools' parameter schemas and the response format's schema
    /// (`json_object` counts as `{"type": "object"}`).
    pub fn from_request(request: &Request) -> RequestSchemas {
        let mut compiler = Compiler::new();
        compiler.set_default_draft(Draft::V2020_12);
        compiler.use_loader(Box::new(NoLoading));
        let mut schemas = Schemas::new();
        let mut compile = |location: String, schema: &Value| {
            compiler.add_resource(&location, schema.clone()).ok()?;
            compiler.compile(&location, &mut schemas).ok()
        };
        let tools = request
            .tools
            .iter()
            .enumerate()
            .map(|(i, tool)| {
                let location = format!("https://tollgate.invalid/tools/{i}.json");
                (tool.name.clone(), compile(location, &tool.parameters))
            })
            .collect();
        let location = "https://tollgate.invalid/response.json".to_owned();
        let response = match &request.response_format {
            Some(ResponseFormat::JsonSchema { schema, .. }) => compile(location, schema),
            Some(ResponseFormat::JsonObject) => compile(location, &json!({"type": "object"})),
            Some(ResponseFormat::Text) | None => None,
        };
        RequestSchemas {
            schemas,
            tools,
            response,
        }
    }

    /// Whether the request declares `tool`.
    pub fn declares(&self, tool: &str) -> bool {
        self.tools.contains_key(tool)
    }

    /// Whether text answers are structured (and so checked whole).
    pub fn has_response_schema(&self) -> bool {
        self.response.is_some()
    }

    /// Checks a call's arguments against the tool's schema. A tool whose schema did not
    /// compile passes; a tool the request did not declare does not.
    pub fn check_tool_call(&self, tool: &str, arguments: &str) -> Result<(), SchemaViolation> {
        let violation = |path: String, keyword: &str| SchemaViolation {
            target: SchemaTarget::ToolArguments,
            tool: Some(tool.to_owned()),
            path,
            keyword: keyword.to_owned(),
        };
        let index = match self.tools.get(tool) {
            Some(Some(index)) => *index,
            Some(None) => return Ok(()),
            None => return Err(violation(String::new(), "undeclaredTool")),
        };
        // Some providers send no argument text for a call without parameters.
        let arguments = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        let value: Value =
            serde_json::from_str(arguments).map_err(|_| violation(String::new(), "json"))?;
        self.schemas.validate(&value, index).map_err(|e| {
            let (path, keyword) = locate(&e);
            violation(path, &keyword)
        })
    }

    /// Checks a text answer against the response schema, when the request has one.
    pub fn check_structured(&self, text: &str) -> Result<(), SchemaViolation> {
        let Some(index) = self.response else {
            return Ok(());
        };
        let violation = |path: String, keyword: &str| SchemaViolation {
            target: SchemaTarget::StructuredOutput,
            tool: None,
            path,
            keyword: keyword.to_owned(),
        };
        let value: Value =
            serde_json::from_str(text).map_err(|_| violation(String::new(), "json"))?;
        self.schemas.validate(&value, index).map_err(|e| {
            let (path, keyword) = locate(&e);
            violation(path, &keyword)
        })
    }
}

/// The JSON path and keyword of the first, most specific cause of a validation error.
fn locate(error: &ValidationError) -> (String, String) {
    let mut leaf = error;
    while let Some(cause) = leaf.causes.first() {
        leaf = cause;
    }
    let mut path = leaf.instance_location.to_string();
    if let Some((cut, _)) = path.char_indices().nth(MAX_PATH_CHARS) {
        path.truncate(cut);
        path.push('…');
    }
    let keyword = match leaf.kind.keyword_path().map(|k| k.keyword) {
        // boon 0.6 spells this one keyword in the singular.
        Some("additionalProperty") => "additionalProperties",
        Some(keyword) => keyword,
        None => "schema",
    };
    (path, keyword.to_owned())
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
