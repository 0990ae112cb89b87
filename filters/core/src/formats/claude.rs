//! Rules of Anthropic's Claude models that hold whichever API reaches them (Anthropic
//! Messages, Bedrock Converse): `max_tokens` defaults, the extended-thinking budget and the
//! sampling settings allowed next to it.

use crate::model::{Reasoning, Request, ToolChoice};

/// `max_tokens` used when the client gave none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Claude's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;
/// Claude's temperature range is 0–1.
const MAX_TEMPERATURE: f64 = 1.0;
/// With thinking enabled, Claude only accepts `top_p` from this value up.
const MIN_TOP_P_WITH_THINKING: f64 = 0.95;

/// Output bounds for a Claude request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBudget {
    pub max_tokens: u64,
    /// The thinking budget, when thinking is on.
    pub thinking: Option<u64>,
}

/// Thinking budget ≥ 1024 and below `max_tokens`, and none when a tool is forced (Claude
/// refuses the combination); without a client `max_tokens`, room for the budget plus a
/// default answer.
pub fn output_budget(request: &Request) -> OutputBudget {
    let forced_tool = matches!(
        request.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Tool(_))
    ) && !request.tools.is_empty();
    let requested = request
        .reasoning
        .and_then(Reasoning::budget_tokens)
        .filter(|_| !forced_tool);
    let max_tokens = request.max_output_tokens.unwrap_or_else(|| {
        requested.map_or(DEFAULT_MAX_TOKENS, |b| {
            b.max(MIN_THINKING_BUDGET)
                .saturating_add(DEFAULT_MAX_TOKENS)
        })
    });
    let thinking = requested
        .map(|b| b.max(MIN_THINKING_BUDGET).min(max_tokens.saturating_sub(1)))
        .filter(|b| *b >= MIN_THINKING_BUDGET);
    OutputBudget {
        max_tokens,
        thinking,
    }
}

/// Sampling settings for a Claude request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
}

/// What Claude accepts of the request's sampling settings. With thinking on it refuses
/// temperature and top_k, and top_p below 0.95; current models refuse temperature and top_p
/// together, so temperature wins. Temperature is clamped to Claude's range.
pub fn sampling(request: &Request, thinking: bool) -> Sampling {
    let temperature = request
        .temperature
        .filter(|_| !thinking)
        .map(|t| t.clamp(0.0, MAX_TEMPERATURE));
    let top_p = request
        .top_p
        .filter(|p| !thinking || *p >= MIN_TOP_P_WITH_THINKING)
        .filter(|_| temperature.is_none());
    Sampling {
        temperature,
        top_p,
        top_k: request.top_k.filter(|_| !thinking),
    }
}
