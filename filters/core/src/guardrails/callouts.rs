//! The callouts of one request (webhooks and moderation), made one after another about one
//! stage's texts, and what each answer means for the request. Shared by every shell that
//! guards through callouts (the provider filter on prompts and answers, the MCP filter on
//! tool arguments and results); the shells only dispatch the calls.

use std::collections::VecDeque;

use crate::guard::{Action, Category, Denial};

use super::policy::{RequestScope, Stage};
use super::report::Report;
use super::webhook::{Callout, CalloutVerdict, UNAVAILABLE};

/// Who is asking, owned: what a webhook is told besides the texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asker {
    pub key_id: Option<String>,
    pub team: Option<String>,
    pub alias: Option<String>,
}

impl Asker {
    pub fn scope(&self) -> RequestScope<'_> {
        RequestScope {
            key_id: self.key_id.as_deref(),
            team: self.team.as_deref(),
            alias: self.alias.as_deref(),
        }
    }
}

/// Callouts still to make, all about the texts of one stage.
#[derive(Debug, Clone)]
pub struct CalloutQueue {
    asker: Asker,
    callouts: VecDeque<Callout>,
    stage: Stage,
    texts: Vec<String>,
}

impl CalloutQueue {
    pub fn new(asker: Asker) -> CalloutQueue {
        CalloutQueue {
            asker,
            callouts: VecDeque::new(),
            stage: Stage::Input,
            texts: Vec::new(),
        }
    }

    /// Replaces what is queued with `callouts` about `texts` at `stage`.
    pub fn queue(&mut self, stage: Stage, callouts: &[Callout], texts: Vec<String>) {
        self.stage = stage;
        self.callouts = callouts.iter().cloned().collect();
        self.texts = texts;
    }

    /// The stage the queued callouts guard.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The next callout to make and its body.
    pub fn next_callout(&mut self) -> Option<(Callout, Vec<u8>)> {
        let callout = self.callouts.pop_front()?;
        let texts: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        let body = callout.body(self.stage, self.asker.scope(), &texts);
        Some((callout, body))
    }

    /// A callout's answer, recorded in `report`: `Err` refuses the request (or withholds
    /// the answer) for the reason given. The rest of the queue is dropped then.
    pub fn answered(
        &mut self,
        callout: &Callout,
        status: Option<u16>,
        body: &[u8],
        report: &mut Report,
    ) -> Result<(), Denial> {
        let (stage, name) = (self.stage, callout.name());
        let category = match callout.verdict(status, body) {
            CalloutVerdict::Allow => return Ok(()),
            CalloutVerdict::Flag { categories } => {
                for category in categories {
                    report.verdict(stage, name, &category, Action::Flag);
                }
                return Ok(());
            }
            CalloutVerdict::Failed if callout.endpoint().fails_open() => {
                report.webhook_failed(name);
                return Ok(());
            }
            CalloutVerdict::Failed => {
                report.webhook_failed(name);
                UNAVAILABLE.to_owned()
            }
            CalloutVerdict::Deny { category } => category,
        };
        self.callouts.clear();
        report.verdict(stage, name, &category, Action::Deny);
        Err(Denial {
            guardrail: name.into(),
            category: Category::Rule(category.into()),
            detail: None,
        })
    }
}
