//! One request's guardrails in the provider filter: the selection for its key, team and
//! alias, the placeholder state shared by input and output, the webhook queue, and the
//! report for the log. Host calls (clock, callouts, replies) stay in `provider`.

use std::collections::VecDeque;
use std::rc::Rc;

use tollgate_core::error::GatewayError;
use tollgate_core::guard::{Action, Denial, Masking};
use tollgate_core::guardrails::{
    denied_error, guard_request, request_texts, webhook_body, webhook_verdict, CompiledPolicy,
    OutputGuard, Report, RequestScope, Selection, Stage, WebhookCheck, WebhookVerdict,
};
use tollgate_core::model::Request;

pub struct Guarding {
    selection: Selection,
    masking: Masking,
    pub report: Report,
    webhooks: VecDeque<WebhookCheck>,
    /// The request's texts after the rule guardrails, for webhooks.
    texts: Vec<String>,
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
            webhooks: selection.webhooks.iter().cloned().collect(),
            selection,
            masking: Masking::new(),
            report: Report::default(),
            texts: Vec::new(),
            key_id,
            team,
            alias,
        })
    }

    /// Whether the request must be decoded for the input stage.
    pub fn guards_input(&self) -> bool {
        self.selection.input.is_some() || !self.webhooks.is_empty()
    }

    /// The input stage on the canonical request: redacts in place, refuses on a denial.
    /// Returns whether the request changed.
    pub fn inspect(&mut self, request: &mut Request) -> Result<bool, GatewayError> {
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

    /// The output stage for the answer, when it has one: output guardrails, or values to
    /// unmask.
    pub fn output_guard(&self) -> Option<OutputGuard> {
        let unmask = self.masking.has_originals();
        (self.selection.output.is_some() || unmask).then(|| {
            OutputGuard::new(
                self.selection.output.clone(),
                self.selection.hold_back,
                self.masking.clone(),
            )
        })
    }
}
