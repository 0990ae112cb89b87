//! The MCP filter's callouts (webhooks, moderation): on a `tools/call`'s arguments before
//! the call goes on, and on its result before it reaches the agent. The request is held
//! while they run; of an answer only the message carrying the result is held (a JSON
//! answer, or the one SSE event: events before it go on, events after it wait behind it).
//! The queue and the verdicts are `tollgate_core::guardrails::CalloutQueue`'s; the
//! dispatch is the provider filter's ([`dispatch_callout`]).

use std::time::SystemTime;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use serde_json::Value;
use tollgate_core::guardrails::{denied_error, Asker, Callout, CalloutQueue, Stage};
use tollgate_core::mcp::{HeldResult, JsonAnswer, MessageOutcome, Pushed, Refusal};

use super::{Answer, McpFilter};
use crate::guarding::dispatch_callout;

/// A request's callouts and what waits for them.
pub struct McpCallouts {
    queue: CalloutQueue,
    in_flight: Option<(Callout, SystemTime)>,
    waiting: Waiting,
    /// What rewriting the held answer did so far, applied once it is released.
    outcome: MessageOutcome,
}

/// What the callouts in flight hold back.
enum Waiting {
    Nothing,
    /// The call, as it would be forwarded, and its JSON-RPC id.
    Request(Vec<u8>, Option<Value>),
    /// A whole JSON answer carrying a result.
    Json(HeldResult),
    /// An event stream, from the held result on.
    Sse(HeldStream, HeldResult),
}

/// Where the callouts stand.
enum Step {
    /// A call is out; the filter resumes in `on_http_call_response`.
    Waiting,
    /// Every callout answered: go on, or refuse with this message.
    Finished(Result<(), String>),
}

impl McpFilter {
    /// Whether output callouts apply to this key (the answer's results are then held).
    pub(super) fn holds_results(&self) -> bool {
        self.selection
            .as_ref()
            .is_some_and(|s| !s.output_callouts.is_empty())
    }

    /// Whether an earlier part of the answer waits for callouts: this chunk then waits
    /// too (Envoy adds it to the buffer, `body_size` bytes now).
    pub(super) fn answer_waits(&mut self, body_size: usize, end_of_stream: bool) -> bool {
        match self.callouts.as_mut().map(|c| &mut c.waiting) {
            Some(Waiting::Json(_)) => true,
            Some(Waiting::Sse(stream, _)) => {
                stream.buffered = body_size;
                stream.end_of_stream |= end_of_stream;
                true
            }
            _ => false,
        }
    }

    /// Queues `callouts` about `texts` and makes the first.
    fn start_callouts(&mut self, stage: Stage, texts: Vec<String>) -> Step {
        let callouts = match (&self.selection, stage) {
            (Some(s), Stage::Input) => s.input_callouts.clone(),
            (Some(s), Stage::Output) => s.output_callouts.clone(),
            (None, _) => Vec::new(),
        };
        let asker = Asker {
            key_id: self.key_id.clone(),
            team: self.team.clone(),
            alias: None,
        };
        let state = self.callouts.get_or_insert_with(|| McpCallouts {
            queue: CalloutQueue::new(asker),
            in_flight: None,
            waiting: Waiting::Nothing,
            outcome: MessageOutcome::default(),
        });
        state.queue.queue(stage, &callouts, texts);
        self.next_callout()
    }

    fn next_callout(&mut self) -> Step {
        loop {
            let next = self.callouts.as_mut().and_then(|c| c.queue.next_callout());
            let Some((callout, body)) = next else {
                return Step::Finished(Ok(()));
            };
            let started = self.get_current_time();
            if dispatch_callout(self, &callout, &body).is_ok() {
                if let Some(state) = self.callouts.as_mut() {
                    state.in_flight = Some((callout, started));
                }
                return Step::Waiting;
            }
            // Not dispatched (unknown cluster): a failed call, decided at once.
            if let Err(message) = self.judge(&callout, started, None, &[]) {
                return Step::Finished(Err(message));
            }
        }
    }

    /// Records a callout's answer; `Err` carries the client's error message.
    fn judge(
        &mut self,
        callout: &Callout,
        started: SystemTime,
        status: Option<u16>,
        body: &[u8],
    ) -> Result<(), String> {
        let elapsed = self
            .get_current_time()
            .duration_since(started)
            .unwrap_or_default();
        let Some(state) = self.callouts.as_mut() else {
            return Ok(());
        };
        let stage = state.queue.stage();
        self.report.latency(
            stage,
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        );
        state
            .queue
            .answered(callout, status, body, &mut self.report)
            .map_err(|denial| denied_error(stage, &denial).message)
    }

    /// A call's arguments passed the rules: the input callouts read them before `body`
    /// goes on. `None` when they are through already and allowed it.
    pub(super) fn check_arguments(
        &mut self,
        texts: Vec<String>,
        body: Vec<u8>,
        id: Option<Value>,
    ) -> Option<Action> {
        match self.start_callouts(Stage::Input, texts) {
            Step::Waiting => {
                self.set_waiting(Waiting::Request(body, id), MessageOutcome::default());
                Some(Action::Pause)
            }
            Step::Finished(Ok(())) => None,
            Step::Finished(Err(message)) => {
                Some(self.refused(&Refusal::guardrail_denied(&body, &message)))
            }
        }
    }

    fn set_waiting(&mut self, waiting: Waiting, outcome: MessageOutcome) {
        if let Some(state) = self.callouts.as_mut() {
            state.waiting = waiting;
            state.outcome = outcome;
        }
    }

    fn take_outcome(&mut self) -> MessageOutcome {
        self.callouts
            .as_mut()
            .map(|c| std::mem::take(&mut c.outcome))
            .unwrap_or_default()
    }

    /// The answer's chunk, when results are held: rewritten, and held from the first
    /// result on while the output callouts read it.
    pub(super) fn hold_answer(&mut self, chunk: &[u8], end_of_stream: bool) -> Action {
        let mut outcome = self.take_outcome();
        if matches!(self.answer, Answer::Json) {
            let answer =
                self.rewriting(|ctx, _, report| ctx.hold_json(chunk, report, &mut outcome));
            let held = match answer {
                Some(JsonAnswer::Held(held)) => held,
                Some(JsonAnswer::Pass(Some(out))) => {
                    self.set_http_response_body(0, chunk.len(), &out);
                    self.rewritten(outcome, end_of_stream);
                    return Action::Continue;
                }
                Some(JsonAnswer::Pass(None)) | None => {
                    self.rewritten(outcome, end_of_stream);
                    return Action::Continue;
                }
            };
            return match self.start_callouts(Stage::Output, held.texts.clone()) {
                Step::Waiting => {
                    self.set_waiting(Waiting::Json(held), outcome);
                    Action::Pause
                }
                Step::Finished(verdict) => {
                    self.release_json(held, verdict, outcome);
                    Action::Continue
                }
            };
        }
        let mut stream = HeldStream {
            out: Vec::new(),
            consumed: chunk.len(),
            buffered: chunk.len(),
            end_of_stream,
        };
        let held = self.push_events(chunk, &mut stream, &mut outcome);
        self.run_stream(stream, held, outcome, true)
    }

    /// Holds the answer while a result's callouts run; sends everything on once no result
    /// is held. `in_callback`: called from the body callback (which passes the chunk on by
    /// returning), not from a callout's answer (which must resume the answer).
    fn run_stream(
        &mut self,
        mut stream: HeldStream,
        mut held: Option<HeldResult>,
        mut outcome: MessageOutcome,
        in_callback: bool,
    ) -> Action {
        while let Some(result) = held.take() {
            match self.start_callouts(Stage::Output, result.texts.clone()) {
                Step::Waiting => {
                    self.set_waiting(Waiting::Sse(stream, result), outcome);
                    return Action::Pause;
                }
                Step::Finished(verdict) => {
                    held = self.release_event(&mut stream, result, verdict, &mut outcome);
                }
            }
        }
        self.set_http_response_body(0, stream.buffered, &stream.out);
        self.rewritten(outcome, stream.end_of_stream);
        if !in_callback {
            self.resume_http_response();
        }
        Action::Continue
    }

    /// Sends a held event's bytes (or its refusal) after the events before it, then reads
    /// on: the events that waited behind it, then what Envoy buffered meanwhile. Returns
    /// the next result to hold.
    fn release_event(
        &mut self,
        stream: &mut HeldStream,
        held: HeldResult,
        verdict: Result<(), String>,
        outcome: &mut MessageOutcome,
    ) -> Option<HeldResult> {
        let released = self.rewriting(|_, answer, _| match answer {
            Answer::Sse(rewriter) => rewriter.release(held, verdict.err().as_deref(), outcome),
            _ => Vec::new(),
        });
        stream.out.extend(released.unwrap_or_default());
        let pushed = self.rewriting(|ctx, answer, report| match answer {
            Answer::Sse(rewriter) => rewriter.resume(ctx, report, outcome),
            _ => Pushed::default(),
        })?;
        stream.out.extend(pushed.out);
        if pushed.held.is_some() {
            return pushed.held;
        }
        let unread = stream.buffered - stream.consumed;
        if unread == 0 && !stream.end_of_stream {
            return None;
        }
        let chunk = self
            .get_http_response_body(stream.consumed, unread)
            .unwrap_or_default();
        stream.consumed = stream.buffered;
        self.push_events(&chunk, stream, outcome)
    }

    /// Reads `chunk` of the stream; returns a result to hold.
    fn push_events(
        &mut self,
        chunk: &[u8],
        stream: &mut HeldStream,
        outcome: &mut MessageOutcome,
    ) -> Option<HeldResult> {
        let end_of_stream = stream.end_of_stream;
        let pushed = self.rewriting(|ctx, answer, report| match answer {
            Answer::Sse(rewriter) => rewriter.push(chunk, end_of_stream, ctx, report, outcome),
            _ => Pushed::default(),
        })?;
        stream.out.extend(pushed.out);
        pushed.held
    }

    fn release_json(
        &mut self,
        held: HeldResult,
        verdict: Result<(), String>,
        mut outcome: MessageOutcome,
    ) {
        let bytes = held.release(verdict.err().as_deref(), &mut outcome);
        self.set_http_response_body(0, usize::MAX, &bytes);
        self.rewritten(outcome, true);
    }

    /// A callout answered: make the next one, or finish what waited.
    pub(super) fn callout_answered(&mut self, status: Option<u16>, body: &[u8]) {
        let in_flight = self.callouts.as_mut().and_then(|c| c.in_flight.take());
        let Some((callout, started)) = in_flight else {
            return;
        };
        let step = match self.judge(&callout, started, status, body) {
            Ok(()) => self.next_callout(),
            Err(message) => Step::Finished(Err(message)),
        };
        let Step::Finished(verdict) = step else {
            return;
        };
        let Some(state) = self.callouts.as_mut() else {
            return;
        };
        let waiting = std::mem::replace(&mut state.waiting, Waiting::Nothing);
        let mut outcome = std::mem::take(&mut state.outcome);
        match waiting {
            Waiting::Nothing => {}
            Waiting::Request(call, id) => {
                let action = match verdict {
                    Ok(()) => {
                        self.forwarding(id);
                        Action::Continue
                    }
                    Err(message) => self.refused(&Refusal::guardrail_denied(&call, &message)),
                };
                if let Action::Continue = action {
                    self.resume_http_request();
                }
            }
            Waiting::Json(held) => {
                self.release_json(held, verdict, outcome);
                self.resume_http_response();
            }
            Waiting::Sse(mut stream, held) => {
                let next = self.release_event(&mut stream, held, verdict, &mut outcome);
                self.run_stream(stream, next, outcome, false);
            }
        }
    }
}

/// A stream held behind a result.
struct HeldStream {
    /// The bytes to send once released: the events before the held result.
    out: Vec<u8>,
    /// Bytes of Envoy's buffer read so far, and buffered (it grows while the answer waits).
    consumed: usize,
    buffered: usize,
    end_of_stream: bool,
}
