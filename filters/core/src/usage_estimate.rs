//! Usage when the provider never reported it: a client that hung up, a stream cut short,
//! an error after content, or a server that ignores `stream_options.include_usage`.
//!
//! The estimate uses the common rule of thumb of about four characters of English text per
//! token ([`CHARS_PER_TOKEN`], rounded up): input from the text of the request (every JSON
//! string value but the model name), output from the text the provider streamed (text,
//! reasoning and tool-call arguments). It is deliberately simple and host-independent; a
//! record built from it says `estimated: true`.

use serde_json::Value;

use crate::model::{BlockDelta, ContentPart, Usage};

/// Characters of text per token assumed by the estimate.
pub const CHARS_PER_TOKEN: u64 = 4;

/// Tokens for `chars` characters of text, rounded up.
pub fn tokens_for_chars(chars: u64) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// Characters of text in a parsed request: every string value except the top-level `model`.
pub fn request_chars(request: &Value) -> u64 {
    match request {
        Value::Object(fields) => fields
            .iter()
            .filter(|(key, _)| key.as_str() != "model")
            .map(|(_, value)| value_chars(value))
            .sum(),
        other => value_chars(other),
    }
}

fn value_chars(value: &Value) -> u64 {
    match value {
        Value::String(s) => char_count(s),
        Value::Array(items) => items.iter().map(value_chars).sum(),
        Value::Object(fields) => fields.values().map(value_chars).sum(),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Characters of generated text in one stream delta (signatures are not generated text).
pub fn delta_chars(delta: &BlockDelta) -> u64 {
    match delta {
        BlockDelta::Text(s) | BlockDelta::Thinking(s) | BlockDelta::ToolArguments(s) => {
            char_count(s)
        }
        BlockDelta::Signature(_) => 0,
    }
}

/// Characters of generated text in a whole answer.
pub fn content_chars(content: &[ContentPart]) -> u64 {
    content
        .iter()
        .map(|part| match part {
            ContentPart::Text { text, .. } | ContentPart::Thinking { text, .. } => char_count(text),
            ContentPart::ToolCall { arguments, .. } => char_count(arguments),
            _ => 0,
        })
        .sum()
}

fn char_count(s: &str) -> u64 {
    u64::try_from(s.chars().count()).unwrap_or(u64::MAX)
}

/// What an attempt consumed, and whether it had to be estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub usage: Usage,
    pub estimated: bool,
}

/// The usage to record for a successful answer. `reported`: what the provider said;
/// `complete`: the answer ended properly (a stream's end marker, a whole body decoded), so
/// its last report is final. Otherwise each counter the provider did report is kept (an
/// Anthropic stream reports its input at the start), the input is estimated when it did
/// not, and the output is at least the estimate of the text that went through.
pub fn settle(
    reported: Option<&Usage>,
    complete: bool,
    input_chars: u64,
    output_chars: u64,
) -> Settled {
    if let Some(usage) = reported.filter(|u| complete && u.output_tokens.is_some()) {
        return Settled {
            usage: *usage,
            estimated: false,
        };
    }
    let reported = reported.copied().unwrap_or_default();
    let streamed = tokens_for_chars(output_chars);
    Settled {
        usage: Usage {
            input_tokens: Some(
                reported
                    .input_tokens
                    .unwrap_or_else(|| tokens_for_chars(input_chars)),
            ),
            output_tokens: Some(reported.output_tokens.unwrap_or(0).max(streamed)),
            ..reported
        },
        estimated: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn four_characters_a_token_rounded_up() {
        assert_eq!(tokens_for_chars(0), 0);
        assert_eq!(tokens_for_chars(1), 1);
        assert_eq!(tokens_for_chars(8), 2);
        assert_eq!(tokens_for_chars(9), 3);
    }

    #[test]
    fn request_text_is_every_string_but_the_model() {
        let request = json!({
            "model": "a-very-long-model-name",
            "messages": [{"role": "user", "content": "héllo"}],
            "max_tokens": 100,
            "stream": true,
        });
        // "user" (4) + "héllo" (5 characters, 6 bytes)
        assert_eq!(request_chars(&request), 9);
    }

    #[test]
    fn generated_text_counts_but_signatures_do_not() {
        assert_eq!(delta_chars(&BlockDelta::Text("abc".into())), 3);
        assert_eq!(delta_chars(&BlockDelta::ToolArguments("{}".into())), 2);
        assert_eq!(delta_chars(&BlockDelta::Signature("sig".into())), 0);
    }

    #[test]
    fn a_complete_report_is_exact() {
        let reported = Usage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            ..Usage::default()
        };
        let settled = settle(Some(&reported), true, 1000, 1000);
        assert_eq!(settled.usage, reported);
        assert!(!settled.estimated);
    }

    #[test]
    fn nothing_reported_is_estimated_from_text() {
        let settled = settle(None, false, 40, 9);
        assert!(settled.estimated);
        assert_eq!(settled.usage.input_tokens, Some(10));
        assert_eq!(settled.usage.output_tokens, Some(3));
        assert_eq!(settled.usage.cache_read_tokens, None);
    }

    #[test]
    fn a_cut_stream_keeps_what_was_reported_and_estimates_the_rest() {
        // Anthropic's message_start: the input is known, the output count is a placeholder.
        let started = Usage {
            input_tokens: Some(377),
            cache_read_tokens: Some(3),
            output_tokens: Some(1),
            ..Usage::default()
        };
        let settled = settle(Some(&started), false, 4, 400);
        assert!(settled.estimated);
        assert_eq!(settled.usage.input_tokens, Some(377));
        assert_eq!(settled.usage.cache_read_tokens, Some(3));
        assert_eq!(settled.usage.output_tokens, Some(100));
    }

    #[test]
    fn a_complete_answer_without_usage_is_estimated() {
        let settled = settle(None, true, 4, 4);
        assert!(settled.estimated);
        assert_eq!(settled.usage.output_tokens, Some(1));
    }
}
