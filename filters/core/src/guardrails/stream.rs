//! Guarding an answer stream on canonical events, before they are encoded for the client.
//!
//! Each text or tool-call block gets the engine's [`StreamGuard`]: its deltas are held back
//! by the hold-back window (see [`StreamGuard`] for the bound), redacted in place, and
//! released as smaller or later deltas. A denial ends the stream with an error event, which
//! the client's encoder writes in the client's format (OpenAI: no `[DONE]` follows).
//! Reversible input redactions are put back on the way out ([`Unmask`]). Thinking blocks
//! pass unguarded: they carry provider signatures. When output callouts follow, the guard
//! also collects each block's guarded text (before unmasking) for them.
//!
//! Schema checks ([`SchemaGuard`]) need a complete JSON document, so a tool call's argument
//! deltas (and, when the request asked for a structured answer, the text deltas) are held
//! until the block ends, checked, then released in one delta or replaced by the denial.
//! Only the blocks a schema check covers are held; other text keeps streaming.

use std::sync::Arc;

use crate::guard::{
    CompiledGuardrails, Denial, Escape, Finding, HoldBack, Masking, StreamGuard, StreamStep, Unmask,
};
use crate::model::{ApiError, BlockDelta, BlockStart, Response, StreamEvent};

use super::inspect::{guard_response, Inspection};
use super::policy::Stage;
use super::report::denied_error;
use super::schema::SchemaGuard;

/// The output stage of one streamed answer.
pub struct OutputGuard {
    guards: Option<Arc<CompiledGuardrails>>,
    hold_back: HoldBack,
    /// The request's masking after the input stage: what may be unmasked.
    unmask: Arc<Masking>,
    /// Placeholder numbering, lent to the open block's guard.
    masking: Option<Masking>,
    blocks: Vec<Block>,
    findings: Vec<Finding>,
    denied: Option<Denial>,
    /// Guarded texts of finished blocks, when collecting for output callouts.
    texts: Option<Vec<String>>,
    schemas: Option<SchemaGuard>,
}

impl std::fmt::Debug for OutputGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputGuard")
            .field("guarded", &self.guards.is_some())
            .field("open_blocks", &self.blocks.len())
            .field("findings", &self.findings.len())
            .field("denied", &self.denied)
            .finish()
    }
}

struct Block {
    index: u32,
    /// The called tool, for a tool-call block.
    tool: Option<String>,
    guard: Option<StreamGuard<Arc<CompiledGuardrails>>>,
    unmask: Unmask<Arc<Masking>>,
    /// The block's guarded text so far, when collecting.
    text: String,
    /// Set while a schema check holds the block.
    held: Option<Held>,
}

/// A held block: what the provider sent (checked against the schema) and what is ready
/// for the client (after redaction and unmasking).
#[derive(Default)]
struct Held {
    raw: String,
    out: String,
}

impl OutputGuard {
    /// `guards`: the output guardrails, if any; `masking`: the request's, after the input
    /// stage (continues its numbering, and its reversible values are unmasked).
    pub fn new(
        guards: Option<Arc<CompiledGuardrails>>,
        hold_back: HoldBack,
        masking: Masking,
    ) -> Self {
        OutputGuard {
            guards,
            hold_back,
            unmask: Arc::new(masking.clone()),
            masking: Some(masking),
            blocks: Vec::new(),
            findings: Vec::new(),
            denied: None,
            texts: None,
            schemas: None,
        }
    }

    /// Also collects the answer's guarded texts, for output callouts ([`Self::take_texts`]).
    pub fn collecting(mut self) -> Self {
        self.texts = Some(Vec::new());
        self
    }

    /// The texts collected so far, one per text or tool-call block.
    pub fn take_texts(&mut self) -> Vec<String> {
        self.texts.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Adds the output stage's schema checks.
    pub fn with_schemas(mut self, schemas: SchemaGuard) -> Self {
        self.schemas = Some(schemas);
        self
    }

    /// Guards a whole (non-streamed) answer; see [`guard_response`].
    pub fn whole(&mut self, response: &mut Response) -> Inspection {
        // What the model produced is checked, before redaction changes it.
        if let Some(schemas) = &self.schemas {
            let inspection = schemas.inspect_response(response);
            self.findings.extend(inspection.findings.iter().cloned());
            if inspection.denied.is_some() {
                self.denied.clone_from(&inspection.denied);
                return inspection;
            }
        }
        let mut masking = self.masking.take().unwrap_or_default();
        let inspection = guard_response(
            response,
            self.guards.as_deref(),
            &mut masking,
            &self.unmask,
            self.texts.as_mut(),
        );
        self.masking = Some(masking);
        self.findings.extend(inspection.findings.iter().cloned());
        self.denied.clone_from(&inspection.denied);
        inspection
    }

    /// Findings so far, in stream order per block.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    pub fn denied(&self) -> Option<&Denial> {
        self.denied.as_ref()
    }

    /// The guarded events for `events`; nothing after a denial's error event.
    pub fn process(&mut self, events: Vec<StreamEvent>) -> Vec<StreamEvent> {
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            if self.denied.is_some() {
                break;
            }
            match event {
                StreamEvent::BlockStart { index, ref block } => {
                    match block {
                        BlockStart::Text => self.open(index, None),
                        BlockStart::ToolCall { name, .. } => self.open(index, Some(name.clone())),
                        _ => {}
                    }
                    out.push(event);
                }
                StreamEvent::BlockDelta { index, delta } => match self.position(index) {
                    Some(at) => {
                        let text = match delta {
                            BlockDelta::Text(t) | BlockDelta::ToolArguments(t) => t,
                            other => {
                                out.push(StreamEvent::BlockDelta {
                                    index,
                                    delta: other,
                                });
                                continue;
                            }
                        };
                        self.push(at, &text, &mut out);
                    }
                    None => out.push(StreamEvent::BlockDelta { index, delta }),
                },
                StreamEvent::BlockStop { index } => {
                    if let Some(at) = self.position(index) {
                        self.close(at, &mut out);
                    }
                    if self.denied.is_none() {
                        out.push(event);
                    }
                }
                StreamEvent::Finish { .. } | StreamEvent::End | StreamEvent::Error(_) => {
                    while !self.blocks.is_empty() && self.denied.is_none() {
                        self.close(0, &mut out);
                    }
                    if self.denied.is_none() {
                        out.push(event);
                    }
                }
                StreamEvent::Start { .. } | StreamEvent::Usage(_) => out.push(event),
            }
        }
        out
    }

    fn position(&self, index: u32) -> Option<usize> {
        self.blocks.iter().position(|b| b.index == index)
    }

    fn open(&mut self, index: u32, tool: Option<String>) {
        // Blocks normally follow one another; one opened while another is still open gets
        // its own numbering rather than waiting.
        let masking = self.masking.take().unwrap_or_default();
        let guard = self
            .guards
            .as_ref()
            .map(|g| StreamGuard::with_masking(Arc::clone(g), self.hold_back, masking));
        let escape = if tool.is_some() {
            Escape::JsonString
        } else {
            Escape::None
        };
        let held = self.schemas.as_ref().is_some_and(|s| match tool {
            Some(_) => s.holds_tool_calls(),
            None => s.holds_text(),
        });
        self.blocks.push(Block {
            index,
            tool,
            guard,
            unmask: Unmask::escaping(Arc::clone(&self.unmask), escape),
            text: String::new(),
            held: held.then(Held::default),
        });
    }

    fn push(&mut self, at: usize, text: &str, out: &mut Vec<StreamEvent>) {
        let block = &mut self.blocks[at];
        if let Some(held) = &mut block.held {
            held.raw.push_str(text);
        }
        let released = match &mut block.guard {
            Some(guard) => {
                let step = guard.push(text);
                match self.record(step) {
                    Some(release) => release,
                    None => return self.deny(out),
                }
            }
            None => text.to_owned(),
        };
        let collecting = self.texts.is_some();
        let block = &mut self.blocks[at];
        if collecting {
            block.text.push_str(&released);
        }
        let text = block.unmask.push(&released);
        match &mut block.held {
            Some(held) => held.out.push_str(&text),
            None => emit(block, text, out),
        }
    }

    fn close(&mut self, at: usize, out: &mut Vec<StreamEvent>) {
        let mut block = self.blocks.remove(at);
        let released = match block.guard.as_mut().map(StreamGuard::finish) {
            Some(step) => match self.record(step) {
                Some(release) => release,
                None => return self.deny(out),
            },
            None => String::new(),
        };
        if let Some(texts) = &mut self.texts {
            texts.push(std::mem::take(&mut block.text) + &released);
        }
        let mut text = block.unmask.push(&released);
        text += &block.unmask.finish();
        if let Some(mut held) = block.held.take() {
            if self.check_schema(&block, &held.raw) {
                return self.deny(out);
            }
            held.out.push_str(&text);
            text = held.out;
        }
        emit(&block, text, out);
        if let Some(guard) = block.guard {
            self.masking.get_or_insert_with(|| guard.into_masking());
        }
    }

    /// Checks a held block against its schema; returns whether that denied the answer.
    fn check_schema(&mut self, block: &Block, raw: &str) -> bool {
        let Some(schemas) = &self.schemas else {
            return false;
        };
        let mut inspection = Inspection::default();
        let denied = match &block.tool {
            Some(tool) => schemas.tool_call(tool, raw, &mut inspection),
            None => schemas.structured(raw, &mut inspection),
        };
        self.findings.extend(inspection.findings);
        self.denied = inspection.denied;
        denied
    }

    /// Keeps a step's findings; its release, or `None` when it denied.
    fn record(&mut self, step: StreamStep) -> Option<String> {
        self.findings.extend(step.findings);
        match step.denied {
            Some(denial) => {
                self.denied = Some(denial);
                None
            }
            None => Some(step.release),
        }
    }

    fn deny(&mut self, out: &mut Vec<StreamEvent>) {
        self.blocks.clear();
        if let Some(denial) = &self.denied {
            let error = denied_error(Stage::Output, denial);
            out.push(StreamEvent::Error(ApiError::from(&error)));
        }
    }
}

fn emit(block: &Block, text: String, out: &mut Vec<StreamEvent>) {
    if text.is_empty() {
        return;
    }
    let delta = if block.tool.is_some() {
        BlockDelta::ToolArguments(text)
    } else {
        BlockDelta::Text(text)
    };
    out.push(StreamEvent::BlockDelta {
        index: block.index,
        delta,
    });
}
