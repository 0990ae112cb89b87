//! Prompt-injection heuristics: how much a text (typically a tool result about to re-enter
//! the conversation) reads like instructions aimed at the model rather than data for it.
//!
//! The rule set is fixed and compiled once ([`InjectionRules::new`]). Each heuristic belongs
//! to a named [`InjectionCategory`] and carries a score; a text's score is the sum over
//! categories of the highest score each reached, so repeating one phrase does not add up,
//! while independent signals do. A guardrail fires at a threshold (default
//! [`DEFAULT_THRESHOLD`]): strong signals score it alone, weak ones need company.
//!
//! | category | score | what |
//! |---|---|---|
//! | `instructionOverride` | 60 | "ignore / disregard / forget … previous / all / your … instructions", "new instructions:" |
//! | `jailbreak` | 50 | "you are now DAN", "developer mode enabled", "without any restrictions" |
//! | `roleSpoofing` | 60 / 30 | chat-template tokens (`<\|im_start\|>`, `[INST]`, `<<SYS>>`, `<system>`) / a line opening `system:` or `assistant:` |
//! | `promptExtraction` | 50 / 30 | asking to reveal the system prompt / API keys, passwords, credentials |
//! | `exfiltration` | 50 / 40 / 30 | a markdown or HTML image to a host not allowed whose query carries data / "send … to https://…" / any such image with a query |
//! | `hiddenText` | 60 / 40 | Unicode tag characters (invisible ASCII) / zero-width or bidi-control characters |
//! | `encodedInstructions` | 50 | a base64 blob or tag-character run that decodes to text another heuristic flags |
//! | `toolCallForging` | 50 / 30 / 20 | tool-call markup (`<function_calls>`, `<tool_call>`, `[TOOL_CALLS]`) / "call the X tool with" / a `"tool_calls": [` array |
//! | `addressesModel` | 30 | "note to the AI", "if you are an AI assistant" |
//! | `concealment` | 40 | "do not tell the user", "without informing the user" |
//!
//! Matching runs on a normalised copy ([`text::normalise`]): full-width forms and common
//! Cyrillic/Greek/mathematical look-alikes read as ASCII, case is folded, and invisible
//! characters are dropped (and counted for `hiddenText`), so `ＩＧＮＯＲＥ`, `іgnore` and
//! `ig\u{200B}nore` all read `ignore`. Measured behaviour on the corpora in
//! `testdata/injection/` is asserted by `corpus_tests.rs` and stated in the README.

mod text;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use regex::{Regex, RegexBuilder};

use text::{hidden_chars, normalise, Hidden};

/// Score at which a guardrail fires unless configured otherwise.
pub const DEFAULT_THRESHOLD: u32 = 50;

/// Longest text scanned; beyond it only the first part is read (tool results of several
/// megabytes are data, and an injection has to be seen to work).
const MAX_SCANNED_BYTES: usize = 256 * 1024;
/// Base64 blobs decoded per text, and the longest one decoded.
const MAX_BLOBS: usize = 16;
const MAX_BLOB_BYTES: usize = 16 * 1024;

/// A named family of heuristics; the unit of scores and verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InjectionCategory {
    InstructionOverride,
    Jailbreak,
    RoleSpoofing,
    PromptExtraction,
    Exfiltration,
    HiddenText,
    EncodedInstructions,
    ToolCallForging,
    AddressesModel,
    Concealment,
}

impl InjectionCategory {
    /// Stable name for logs and error bodies.
    pub fn name(self) -> &'static str {
        match self {
            InjectionCategory::InstructionOverride => "instructionOverride",
            InjectionCategory::Jailbreak => "jailbreak",
            InjectionCategory::RoleSpoofing => "roleSpoofing",
            InjectionCategory::PromptExtraction => "promptExtraction",
            InjectionCategory::Exfiltration => "exfiltration",
            InjectionCategory::HiddenText => "hiddenText",
            InjectionCategory::EncodedInstructions => "encodedInstructions",
            InjectionCategory::ToolCallForging => "toolCallForging",
            InjectionCategory::AddressesModel => "addressesModel",
            InjectionCategory::Concealment => "concealment",
        }
    }
}

/// How one text scored: the categories reached with their scores, highest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InjectionScore {
    pub categories: Vec<(InjectionCategory, u32)>,
}

impl InjectionScore {
    pub fn total(&self) -> u32 {
        self.categories.iter().map(|(_, s)| s).sum()
    }

    /// The category that contributed most (the one named in a verdict).
    pub fn top(&self) -> Option<InjectionCategory> {
        self.categories.first().map(|(c, _)| *c)
    }

    fn add(&mut self, category: InjectionCategory, score: u32) {
        match self.categories.iter_mut().find(|(c, _)| *c == category) {
            Some((_, s)) => *s = (*s).max(score),
            None => self.categories.push((category, score)),
        }
    }

    fn sort(&mut self) {
        self.categories
            .sort_by(|(ca, sa), (cb, sb)| sb.cmp(sa).then(ca.cmp(cb)));
    }
}

/// The phrase heuristics, as `(category, score, pattern)`. Patterns run on the normalised
/// (lower-case, ASCII-folded) text; `\s+` between words so line breaks and runs of spaces
/// do not hide a phrase.
const PATTERNS: &[(InjectionCategory, u32, &str)] = &[
    (
        InjectionCategory::InstructionOverride,
        60,
        r"\b(?:ignore|disregard|forget|override|bypass|abandon|discard|neglect|stop\s+following)\s+(?:(?:of|the|these|those|my|other|safety|ethical|content|existing|current)\s+){0,3}(?:all|any|every|your|previous|prior|above|earlier|preceding|foregoing|original|initial|system|developer)\s+(?:(?:of|the|your|my|previous|prior|above|earlier|system|developer|safety|ethical|content|existing)\s+){0,3}(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|constraints|commands|context|messages|restrictions|programming|policies|orders|tasks?)\b|\b(?:ignore|disregard)\s+(?:the\s+)?user'?s?\s+(?:request|question|instructions?|message)\b",
    ),
    (
        InjectionCategory::InstructionOverride,
        60,
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all(?:\s+of\s+(?:that|this|the\s+above))?)\s+(?:above|before|prior|previously|you\s+(?:were|have\s+been)\s+told)\b",
    ),
    (
        InjectionCategory::InstructionOverride,
        60,
        r"(?:^|[\n.!:>\]])\s*(?:#+\s*|\*\*\s*)?(?:new|updated|revised|real|actual|true|important|urgent)\s+(?:system\s+)?instructions?\s*(?:\*\*\s*)?:",
    ),
    (
        InjectionCategory::InstructionOverride,
        60,
        r"\b(?:previous|prior|above|earlier|all|original|old)\s+(?:instructions|rules|directives|guidelines|prompts)\s+(?:are|is|were)\s+(?:now\s+)?(?:void|cancel+ed|revoked|obsolete|null|superseded|no\s+longer\s+(?:valid|apply|in\s+effect))\b",
    ),
    (
        InjectionCategory::InstructionOverride,
        40,
        r"\byour\s+(?:new|real|actual|only)\s+(?:task|job|goal|objective|purpose)\s+(?:now\s+)?(?:is|will\s+be)\s+to\b",
    ),
    (
        InjectionCategory::Jailbreak,
        50,
        r"\byou\s+are\s+now\s+(?:dan|an?\s+(?:unrestricted|unfiltered|uncensored|jailbroken)|in\s+(?:developer|god|dan)\s+mode|free\s+from)\b|\b(?:developer|god|dan)\s+mode\s+(?:enabled|activated|on)\b|\bdo\s+anything\s+now\b|\b(?:without|free\s+of|ignoring)\s+(?:any|all|your)\s+(?:ethical\s+|safety\s+|content\s+)?(?:restrictions|filters|guidelines|limitations)\b",
    ),
    (
        InjectionCategory::RoleSpoofing,
        60,
        r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>|\[/?inst\]|<</?sys>>|</?(?:system|developer)(?:[-_ ]?(?:prompt|message|instructions?))?>",
    ),
    (
        InjectionCategory::RoleSpoofing,
        30,
        r"(?m)^[ \t]*(?:#{1,4}[ \t]*|<!--[ \t]*)?(?:system|assistant|developer)(?:[ \t]+(?:message|prompt))?[ \t]*:[ \t]*[a-z]|\n\n(?:human|assistant):",
    ),
    (
        InjectionCategory::PromptExtraction,
        50,
        r"\b(?:reveal|print|show|output|repeat|display|leak|dump|disclose|write\s+out|tell\s+me|give\s+me|send\s+me)\s+(?:(?:me|us|the|your|my|all|full|entire|exact|complete|hidden|original|verbatim|whole)\s+){0,4}(?:system\s+(?:prompt|message|instructions?)|initial\s+(?:prompt|instructions?)|hidden\s+(?:prompt|instructions?)|(?:developer|secret)\s+(?:prompt|instructions?|message)|instructions\s+(?:above|you\s+were\s+given)|(?:prompt|instructions)\s+verbatim)\b",
    ),
    (
        InjectionCategory::PromptExtraction,
        30,
        r"\b(?:reveal|print|output|leak|dump|disclose|list|send|send\s+me|give\s+me)\s+(?:(?:me|us|the|your|user'?s?|all|any|every|stored|saved)\s+){0,3}(?:api[\s_-]?keys?|credentials|passwords?|secrets|access\s+tokens?|session\s+tokens?|environment\s+variables|private\s+keys?)\b",
    ),
    (
        InjectionCategory::Exfiltration,
        40,
        r"\b(?:send|post|forward|upload|exfiltrate|transmit|append|encode|include|embed|attach)\s+(?:[a-z']+\s+){0,6}?(?:to|into|in)\s+(?:(?:the|this|a|following)\s+)?(?:https?://|url\b|link\b|image\s+url|query\s+string|webhook|[a-z0-9._-]+@[a-z0-9-]+\.)",
    ),
    (
        InjectionCategory::ToolCallForging,
        50,
        r"</?(?:function_calls|function_call|invoke|tool_call|tool_use|tool_calls)\b|\[tool_calls\]|<\|(?:tool_call|python_tag|tool_calls)\|>",
    ),
    (
        InjectionCategory::ToolCallForging,
        30,
        r"\b(?:you\s+must\s+(?:now\s+)?|immediately\s+|now\s+)(?:call|invoke|run|execute|use)\s+the\s+[`'\x22]?[a-z_][a-z0-9_.-]*[`'\x22]?\s+(?:tool|function)\b",
    ),
    (
        InjectionCategory::ToolCallForging,
        20,
        r#""tool_calls"\s*:\s*\["#,
    ),
    (
        InjectionCategory::AddressesModel,
        30,
        r"\b(?:note|message|instructions?|attention|important|notice)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:ai|llm|assistant|language\s+model|chatbot|agent|model)s?\b|\bif\s+you(?:\s+are|'re|’re)\s+an?\s+(?:ai|llm|large\s+language\s+model|language\s+model|ai\s+assistant|assistant|chatbot|ai\s+agent)\b|\b(?:ai|llm|assistant|agent|model)s?\s+(?:reading|processing|summari[sz]ing|parsing)\s+this\b|\b(?:attention|hey|hi|hello|dear)\s*,?\s*(?:all\s+)?(?:ai|llm|language\s+model)\b|\b(?:ai|llm)\s+(?:coding\s+)?(?:assistants?|agents?|models?)\s*:|(?:^|[\n.!?:]\s*)(?:ai|assistant|model|agent|llm)\s*,\s*(?:you|please|ignore|disregard|forget)\b|\b(?:the\s+)?(?:assistant|ai|model|agent)\s+(?:should|must|will)\s+(?:now\s+)?(?:print|reveal|send|call|run|ignore|forward|delete|output|list)\b",
    ),
    (
        InjectionCategory::Concealment,
        40,
        r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|notify|alert|warn|mention\s+(?:this\s+|it\s+)?to)\s+the\s+user\b|\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+the\s+user\b|\bkeep\s+this\s+(?:secret|hidden)\s+from\s+the\s+user\b",
    ),
];

/// A markdown or HTML image whose URL has a query string: host in group 1, query in group 2.
const IMAGE_WITH_QUERY: &str = r#"(?:!\[[^\]\n]{0,200}\]\(\s*|<img\b[^>]{0,200}?\bsrc\s*=\s*["']?)https?://([^/\s)"'?#]+)[^\s)"'?#]*\?([^\s)"'#]+)"#;

/// Base64 (standard or URL-safe) long enough to carry a sentence.
const BASE64_BLOB: &str = r"[A-Za-z0-9+/_-]{24,}={0,2}";

/// The compiled rule set; build once per configuration and share.
pub struct InjectionRules {
    patterns: Vec<(InjectionCategory, u32, Regex)>,
    image: Regex,
    blob: Regex,
}

impl std::fmt::Debug for InjectionRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InjectionRules")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl InjectionRules {
    /// Compiles the fixed rule set. The patterns are constants, so an error here is a bug
    /// (a unit test compiles them); it is still returned rather than panicking.
    pub fn new() -> Result<Self, regex::Error> {
        let build = |pattern: &str| RegexBuilder::new(pattern).size_limit(8 << 20).build();
        let patterns = PATTERNS
            .iter()
            .map(|&(category, score, pattern)| Ok((category, score, build(pattern)?)))
            .collect::<Result<_, regex::Error>>()?;
        Ok(InjectionRules {
            patterns,
            image: build(IMAGE_WITH_QUERY)?,
            blob: build(BASE64_BLOB)?,
        })
    }

    /// Scores `text`. Images whose host is `allowed_hosts` (or a subdomain of one) are not
    /// exfiltration.
    pub fn score(&self, text: &str, allowed_hosts: &[String]) -> InjectionScore {
        let text = prefix(text, MAX_SCANNED_BYTES);
        let hidden = hidden_chars(text);
        let normal = normalise(text);
        let mut score = InjectionScore::default();
        self.phrases(&normal, &mut score);
        self.images(&normal, allowed_hosts, &mut score);
        score_hidden(&hidden, &mut score);
        if self.decoded_instructions(text, &hidden) {
            score.add(InjectionCategory::EncodedInstructions, 50);
        }
        score.sort();
        score
    }

    fn phrases(&self, normal: &str, score: &mut InjectionScore) {
        for (category, points, regex) in &self.patterns {
            if regex.is_match(normal) {
                score.add(*category, *points);
            }
        }
    }

    fn images(&self, normal: &str, allowed_hosts: &[String], score: &mut InjectionScore) {
        for found in self.image.captures_iter(normal) {
            let (Some(host), Some(query)) = (found.get(1), found.get(2)) else {
                continue;
            };
            let host = host.as_str().rsplit('@').next().unwrap_or("");
            let host = host.split(':').next().unwrap_or(host);
            if allowed_hosts.iter().any(|h| host_is(host, h)) {
                continue;
            }
            let points = if carries_data(query.as_str()) { 50 } else { 30 };
            score.add(InjectionCategory::Exfiltration, points);
        }
    }

    /// Whether a base64 blob or a run of tag characters decodes to text that the phrase
    /// heuristics flag.
    fn decoded_instructions(&self, text: &str, hidden: &Hidden) -> bool {
        let flags = |decoded: &str| {
            let mut inner = InjectionScore::default();
            self.phrases(&normalise(decoded), &mut inner);
            inner.total() > 0
        };
        if !hidden.tag_text.is_empty() && flags(&hidden.tag_text) {
            return true;
        }
        self.blob
            .find_iter(text)
            .filter(|m| m.len() <= MAX_BLOB_BYTES)
            .take(MAX_BLOBS)
            .filter_map(|m| decode_base64(m.as_str()))
            .any(|decoded| flags(&decoded))
    }
}

fn score_hidden(hidden: &Hidden, score: &mut InjectionScore) {
    if hidden.tags > 0 {
        score.add(InjectionCategory::HiddenText, 60);
    }
    if hidden.zero_width >= 2 || hidden.bidi > 0 {
        score.add(InjectionCategory::HiddenText, 40);
    }
}

/// `host` is `allowed` or one of its subdomains.
fn host_is(host: &str, allowed: &str) -> bool {
    let allowed = allowed.trim_start_matches('.').to_ascii_lowercase();
    host == allowed
        || host
            .strip_suffix(allowed.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
}

/// A query string that carries more than display options: a long value, or a parameter
/// named for conversation data.
fn carries_data(query: &str) -> bool {
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        value.len() >= 32
            || value.contains("%20")
            || value.contains('+') && value.len() >= 12
            || matches!(
                name,
                "q" | "data"
                    | "d"
                    | "text"
                    | "msg"
                    | "message"
                    | "prompt"
                    | "chat"
                    | "history"
                    | "conversation"
                    | "secret"
                    | "key"
                    | "token"
                    | "password"
                    | "info"
                    | "content"
            ) && value.len() >= 8
    })
}

/// Decodes a base64 blob to text, when it is mostly printable UTF-8.
fn decode_base64(blob: &str) -> Option<String> {
    let trimmed = blob.trim_end_matches('=');
    let bytes = STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()?;
    let decoded = String::from_utf8(bytes).ok()?;
    let printable = decoded
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    let spaces = decoded.chars().filter(|c| *c == ' ').count();
    (printable * 10 >= decoded.chars().count() * 9 && spaces >= 2).then_some(decoded)
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[path = "injection_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "corpus_tests.rs"]
mod corpus_tests;
