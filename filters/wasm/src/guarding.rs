//! One request's guardrails in the provider filter: the selection for its key, team and
//! alias, the placeholder state shared by input and output, the callout queue (webhooks and
//! moderation, on the request and then on the whole answer), and the report for the log.
//! Host calls (clock, callouts, replies) stay in `provider`.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use proxy_wasm::traits::Context;
use proxy_wasm::types::Status;

use tollgate_core::error::GatewayError;
use tollgate_core::guard::Masking;
use tollgate_core::guardrails::{
    denied_error, guard_request, request_texts, Asker, Callout, CalloutQueue, CompiledPolicy,
    Inspection, OutputGuard, Report, SchemaGuard, Selection, Stage,
};
use tollgate_core::model::Request;

pub struct Guarding {
    policy: Rc<CompiledPolicy>,
    selection: Selection,
    masking: Masking,
    pub report: Report,
    /// Callouts still to make: about the request's texts after the input rules, then the
    /// answer's after the output rules.
    callouts: CalloutQueue,
    /// The request's tool and response schemas, compiled when a schema check applies.
    schemas: Option<Arc<tollgate_core::guard::schema::RequestSchemas>>,
}

impl Guarding {
    /// `None` when no guardrail applies to this request.
    pub fn select(
        policy: &Rc<CompiledPolicy>,
        key_id: Option<String>,
        team: Option<String>,
        alias: Option<String>,
    ) -> Option<Guarding> {
        let asker = Asker {
            key_id,
            team,
            alias,
        };
        let selection = policy.select(asker.scope());
        if selection.is_empty() {
            return None;
        }
        Some(Guarding {
            policy: Rc::clone(policy),
            callouts: CalloutQueue::new(asker),
            selection,
            masking: Masking::new(),
            report: Report::default(),
            schemas: None,
        })
    }

    /// Whether the request must be decoded for the input stage.
    pub fn guards_input(&self) -> bool {
        self.selection.input.is_some()
            || !self.selection.input_callouts.is_empty()
            || self.selection.injection.is_some()
            // Schema checks need the request's declarations, output ones included.
            || !self.selection.input_schemas.is_empty()
            || !self.selection.output_schemas.is_empty()
    }

    /// The input stage on the canonical request: redacts in place, refuses on a denial.
    /// Returns whether the request changed.
    pub fn inspect(&mut self, request: &mut Request) -> Result<bool, GatewayError> {
        // Whole-text checks read what the client sent, before redaction changes it.
        if let Some(injection) = &self.selection.injection {
            self.judged(injection.inspect(request))?;
        }
        let selection = &self.selection;
        if !selection.input_schemas.is_empty() || !selection.output_schemas.is_empty() {
            let schemas = self.policy.request_schemas(request);
            if !self.selection.input_schemas.is_empty() {
                let checks = self.selection.input_schemas.clone();
                let inspection =
                    SchemaGuard::new(Arc::clone(&schemas), checks).inspect_request(request);
                self.judged(inspection)?;
            }
            self.schemas = Some(schemas);
        }
        let mut changed = false;
        if let Some(guards) = &self.selection.input {
            let inspection = guard_request(request, guards, &mut self.masking);
            self.report.findings(Stage::Input, &inspection.findings);
            if let Some(denial) = &inspection.denied {
                return Err(denied_error(Stage::Input, denial));
            }
            changed = inspection.changed;
        }
        if !self.selection.input_callouts.is_empty() {
            let texts = request_texts(request)
                .into_iter()
                .map(str::to_owned)
                .collect();
            self.callouts
                .queue(Stage::Input, &self.selection.input_callouts, texts);
        }
        Ok(changed)
    }

    /// Reports a whole-text check's findings; `Err` refuses the request.
    fn judged(&mut self, inspection: Inspection) -> Result<(), GatewayError> {
        self.report.findings(Stage::Input, &inspection.findings);
        match &inspection.denied {
            Some(denial) => Err(denied_error(Stage::Input, denial)),
            None => Ok(()),
        }
    }

    /// Whether output callouts need the whole answer before any of it leaves: a streamed
    /// answer is then held whole too (see the README on output webhooks).
    pub fn holds_whole_answer(&self) -> bool {
        !self.selection.output_callouts.is_empty()
    }

    /// Queues the output callouts about the answer's guarded texts (none for an answer
    /// without text).
    pub fn queue_output(&mut self, texts: Vec<String>) {
        let callouts = match texts.iter().any(|t| !t.is_empty()) {
            true => self.selection.output_callouts.as_slice(),
            false => &[],
        };
        self.callouts.queue(Stage::Output, callouts, texts);
    }

    /// The stage the pending callouts guard.
    pub fn callout_stage(&self) -> Stage {
        self.callouts.stage()
    }

    /// The next callout to make and its body.
    pub fn next_callout(&mut self) -> Option<(Callout, Vec<u8>)> {
        self.callouts.next_callout()
    }

    /// A callout's answer: `Err` refuses the request (or withholds the answer).
    pub fn callout_answered(
        &mut self,
        callout: &Callout,
        status: Option<u16>,
        body: &[u8],
    ) -> Result<(), GatewayError> {
        let stage = self.callouts.stage();
        self.callouts
            .answered(callout, status, body, &mut self.report)
            .map_err(|denial| denied_error(stage, &denial))
    }

    /// The output stage for the answer, when it has one: output guardrails, schema checks,
    /// values to unmask, or output callouts (which need the answer's texts).
    pub fn output_guard(&self) -> Option<OutputGuard> {
        let unmask = self.masking.has_originals();
        let collect = self.holds_whole_answer();
        let schemas = self
            .schemas
            .as_ref()
            .filter(|_| !self.selection.output_schemas.is_empty())
            .map(|s| SchemaGuard::new(Arc::clone(s), self.selection.output_schemas.clone()));
        if self.selection.output.is_none() && !unmask && !collect && schemas.is_none() {
            return None;
        }
        let mut guard = OutputGuard::new(
            self.selection.output.clone(),
            self.selection.hold_back,
            self.masking.clone(),
        );
        if collect {
            guard = guard.collecting();
        }
        Some(match schemas {
            Some(schemas) => guard.with_schemas(schemas),
            None => guard,
        })
    }
}

/// Sends one callout through its endpoint's cluster; the answer comes to the context's
/// `on_http_call_response`. `Err` when Envoy refused to dispatch it (unknown cluster).
pub fn dispatch_callout(ctx: &dyn Context, callout: &Callout, body: &[u8]) -> Result<u32, Status> {
    let endpoint = callout.endpoint();
    let headers = vec![
        (":method", "POST"),
        (":path", endpoint.path.as_str()),
        (":authority", endpoint.authority.as_str()),
        ("content-type", "application/json"),
    ];
    let timeout = Duration::from_millis(u64::from(endpoint.timeout_ms));
    ctx.dispatch_http_call(&endpoint.cluster, headers, Some(body), vec![], timeout)
        .inspect_err(|status| {
            log::warn!(
                "tollgate: guardrail `{}` not called: {status:?}",
                callout.name()
            );
        })
}

/// A callout's answer as the context's `on_http_call_response` reads it: its status (none
/// when the call failed without one) and body.
pub fn callout_answer(ctx: &dyn Context, body_size: usize) -> (Option<u16>, Vec<u8>) {
    let status = ctx
        .get_http_call_response_header(":status")
        .and_then(|s| s.parse().ok());
    let body = ctx
        .get_http_call_response_body(0, body_size)
        .unwrap_or_default();
    (status, body)
}
