//! One request's guardrails in the provider filter: the selection for its key, team and
//! alias, the placeholder state shared by input and output, the callout queue (webhooks and
//! moderation, on the request and then on the whole answer), and the report for the log.
//! Host calls (clock, callouts, replies) stay in `provider`.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use tollgate_core::error::GatewayError;
use tollgate_core::guard::{Action, Category, Denial, Masking};
use tollgate_core::guardrails::webhook::UNAVAILABLE;
use tollgate_core::guardrails::{
    denied_error, guard_request, request_texts, Callout, CalloutVerdict, CompiledPolicy,
    Inspection, OutputGuard, Report, RequestScope, SchemaGuard, Selection, Stage,
};
use tollgate_core::model::Request;

pub struct Guarding {
    policy: Rc<CompiledPolicy>,
    selection: Selection,
    masking: Masking,
    pub report: Report,
    /// Callouts still to make, all about `stage`.
    callouts: VecDeque<Callout>,
    stage: Stage,
    /// The texts the callouts are about: the request's after the input rules, then the
    /// answer's after the output rules.
    texts: Vec<String>,
    /// The request's tool and response schemas, compiled when a schema check applies.
    schemas: Option<Arc<tollgate_core::guard::schema::RequestSchemas>>,
    key_id: Option<String>,
    team: Option<String>,
    alias: Option<String>,
}

impl Guarding {
    /// `None` when no guardrail applies to this request.
    pub fn select(
        policy: &Rc<CompiledPolicy>,
        key_id: Option<String>,
        team: Option<String>,
        alias: Option<String>,
    ) -> Option<Guarding> {
        let selection = policy.select(RequestScope {
            key_id: key_id.as_deref(),
            team: team.as_deref(),
            alias: alias.as_deref(),
        });
        if selection.is_empty() {
            return None;
        }
        Some(Guarding {
            policy: Rc::clone(policy),
            callouts: selection.input_callouts.iter().cloned().collect(),
            stage: Stage::Input,
            selection,
            masking: Masking::new(),
            report: Report::default(),
            texts: Vec::new(),
            schemas: None,
            key_id,
            team,
            alias,
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
        if !self.callouts.is_empty() {
            self.texts = request_texts(request)
                .into_iter()
                .map(str::to_owned)
                .collect();
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
        self.stage = Stage::Output;
        self.callouts = match texts.iter().any(|t| !t.is_empty()) {
            true => self.selection.output_callouts.iter().cloned().collect(),
            false => VecDeque::new(),
        };
        self.texts = texts;
    }

    /// The stage the pending callouts guard.
    pub fn callout_stage(&self) -> Stage {
        self.stage
    }

    /// The next callout to make and its body.
    pub fn next_callout(&mut self) -> Option<(Callout, Vec<u8>)> {
        let callout = self.callouts.pop_front()?;
        let texts: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        let who = RequestScope {
            key_id: self.key_id.as_deref(),
            team: self.team.as_deref(),
            alias: self.alias.as_deref(),
        };
        let body = callout.body(self.stage, who, &texts);
        Some((callout, body))
    }

    /// A callout's answer: `Err` refuses the request (or withholds the answer).
    pub fn callout_answered(
        &mut self,
        callout: &Callout,
        status: Option<u16>,
        body: &[u8],
    ) -> Result<(), GatewayError> {
        let name = callout.name();
        let category = match callout.verdict(status, body) {
            CalloutVerdict::Allow => return Ok(()),
            CalloutVerdict::Flag { categories } => {
                for category in categories {
                    self.report
                        .verdict(self.stage, name, &category, Action::Flag);
                }
                return Ok(());
            }
            CalloutVerdict::Failed if callout.endpoint().fails_open() => {
                self.report.webhook_failed(name);
                return Ok(());
            }
            CalloutVerdict::Failed => {
                self.report.webhook_failed(name);
                UNAVAILABLE.to_owned()
            }
            CalloutVerdict::Deny { category } => category,
        };
        self.report
            .verdict(self.stage, name, &category, Action::Deny);
        let denial = Denial {
            guardrail: name.into(),
            category: Category::Rule(category.into()),
            detail: None,
        };
        Err(denied_error(self.stage, &denial))
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
