//! One request's guardrails in the provider filter: the selection for its key, team and
//! alias, the placeholder state shared by input and output, the webhook queue, and the
//! report for the log. Host calls (clock, callouts, replies) stay in `provider`.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use tollgate_core::error::GatewayError;
use tollgate_core::guard::{Action, Denial, Masking};
use tollgate_core::guardrails::{
    denied_error, guard_request, request_texts, webhook_body, webhook_verdict, CompiledPolicy,
    Inspection, OutputGuard, Report, RequestScope, SchemaGuard, Selection, Stage, WebhookCheck,
    WebhookVerdict,
};
use tollgate_core::model::Request;

pub struct Guarding {
    policy: Rc<CompiledPolicy>,
    selection: Selection,
    masking: Masking,
    pub report: Report,
    webhooks: VecDeque<WebhookCheck>,
    /// The request's texts after the rule guardrails, for webhooks.
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
            webhooks: selection.webhooks.iter().cloned().collect(),
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
            || !self.webhooks.is_empty()
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
        if !self.webhooks.is_empty() {
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

    /// The next webhook to call and its body.
    pub fn next_webhook(&mut self) -> Option<(WebhookCheck, Vec<u8>)> {
        let check = self.webhooks.pop_front()?;
        let texts: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        let who = RequestScope {
            key_id: self.key_id.as_deref(),
            team: self.team.as_deref(),
            alias: self.alias.as_deref(),
        };
        let body = webhook_body(&check, who, &texts);
        Some((check, body))
    }

    /// A webhook's answer: `Err` refuses the request.
    pub fn webhook_answered(
        &mut self,
        check: &WebhookCheck,
        status: Option<u16>,
        body: &[u8],
    ) -> Result<(), GatewayError> {
        let category = match webhook_verdict(status, body) {
            WebhookVerdict::Allow => return Ok(()),
            WebhookVerdict::Failed if check.fails_open() => {
                self.report.webhook_failed(&check.name);
                return Ok(());
            }
            WebhookVerdict::Failed => {
                self.report.webhook_failed(&check.name);
                tollgate_core::guardrails::webhook::UNAVAILABLE.to_owned()
            }
            WebhookVerdict::Deny { category } => category,
        };
        self.report
            .verdict(Stage::Input, &check.name, &category, Action::Deny);
        let denial = Denial {
            guardrail: check.name.as_str().into(),
            category: tollgate_core::guard::Category::Rule(category.into()),
            detail: None,
        };
        Err(denied_error(Stage::Input, &denial))
    }

    /// The output stage for the answer, when it has one: output guardrails, schema checks,
    /// or values to unmask.
    pub fn output_guard(&self) -> Option<OutputGuard> {
        let unmask = self.masking.has_originals();
        let schemas = self
            .schemas
            .as_ref()
            .filter(|_| !self.selection.output_schemas.is_empty())
            .map(|s| SchemaGuard::new(Arc::clone(s), self.selection.output_schemas.clone()));
        if self.selection.output.is_none() && !unmask && schemas.is_none() {
            return None;
        }
        let guard = OutputGuard::new(
            self.selection.output.clone(),
            self.selection.hold_back,
            self.masking.clone(),
        );
        Some(match schemas {
            Some(schemas) => guard.with_schemas(schemas),
            None => guard,
        })
    }
}
