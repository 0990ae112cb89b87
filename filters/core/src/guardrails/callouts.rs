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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn webhook(name: &str, failure: &str) -> Callout {
        Callout::Webhook(
            serde_json::from_value(json!({ "name": name, "cluster": "c", "authority": "a",
                "path": "/check", "timeoutMs": 100, "failure": failure }))
            .unwrap(),
        )
    }

    fn asker() -> Asker {
        Asker {
            key_id: Some("k1".into()),
            team: Some("ops".into()),
            alias: None,
        }
    }

    #[test]
    fn calls_in_order_about_the_stage_texts_and_who_asks() {
        let mut queue = CalloutQueue::new(asker());
        let hooks = [webhook("first", "closed"), webhook("second", "closed")];
        queue.queue(Stage::Output, &hooks, vec!["a result".into()]);
        let (callout, body) = queue.next_callout().unwrap();
        assert_eq!(callout.name(), "first");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"guardrail": "first", "stage": "output", "alias": null, "keyId": "k1",
                   "team": "ops", "texts": ["a result"]})
        );
        assert_eq!(queue.next_callout().unwrap().0.name(), "second");
        assert!(queue.next_callout().is_none());
    }

    #[test]
    fn verdicts_flag_deny_and_fail_as_configured() {
        let mut report = Report::default();
        let mut queue = CalloutQueue::new(asker());
        let (open, closed) = (webhook("open", "open"), webhook("closed", "closed"));
        queue.queue(
            Stage::Input,
            &[open.clone(), closed.clone()],
            vec!["t".into()],
        );
        let flag = br#"{"action": "flag", "category": "tone"}"#;
        assert_eq!(queue.answered(&open, Some(200), flag, &mut report), Ok(()));
        assert_eq!(queue.answered(&open, None, b"", &mut report), Ok(()));
        let failed = queue
            .answered(&closed, Some(500), b"", &mut report)
            .unwrap_err();
        assert_eq!(failed.category, Category::Rule(UNAVAILABLE.into()));
        assert!(queue.next_callout().is_none(), "a denial drops the rest");
        queue.queue(Stage::Input, &[closed.clone()], vec!["t".into()]);
        let deny = br#"{"action": "deny", "category": "off_topic"}"#;
        let denied = queue
            .answered(&closed, Some(200), deny, &mut report)
            .unwrap_err();
        assert_eq!(&*denied.guardrail, "closed");
        let log = report.to_json();
        assert!(log.contains(r#""category":"tone""#), "{log}");
        assert!(
            log.contains(r#""webhook_failures":["open","closed"]"#),
            "{log}"
        );
    }
}
