//! Validating the `budgets:` section: spending limits per key, team or agent, their
//! periods and alert thresholds, and how Envoy learns what every Envoy spent.

use std::time::Duration;

use tollgate_core::budget::{Budget, BudgetScope};

use super::diagnostics::Problem;
use super::parse::BaseUrl;
use super::raw_budgets as raw;
use super::spans::{field, item};
use super::validate::{Seen, Validator};

const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Nano-dollars per dollar.
const NANOS: f64 = 1e9;
/// Largest limit accepted, in USD: far above any real budget, far from overflow.
const MAX_LIMIT_USD: f64 = 1e9;

/// The validated section.
#[derive(Debug, Clone, PartialEq)]
pub struct Budgets {
    pub limits: Vec<BudgetLimit>,
    pub default_max_output_tokens: u64,
    pub poll_interval: Duration,
    pub alert_webhook: Option<BaseUrl>,
}

impl Budgets {
    /// The budgets as the filters enforce them.
    pub fn enforced(&self) -> Vec<Budget> {
        self.limits.iter().map(|l| l.budget.clone()).collect()
    }
}

/// A budget and its soft thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLimit {
    pub budget: Budget,
    /// Percentages of the limit (1-100), ascending, each alerting once per period.
    pub alert_at_percent: Vec<u64>,
}

impl Validator<'_> {
    pub(super) fn budgets(
        &mut self,
        raw: raw::Budgets,
        key_ids: &[&str],
        has_control_plane: bool,
    ) -> Budgets {
        let path = "budgets";
        if !has_control_plane {
            self.report(path, Problem::BudgetsWithoutControlPlane);
        }
        let default_max_output_tokens = match raw.default_max_output_tokens {
            Some(0) => {
                self.report(&field(path, "default_max_output_tokens"), Problem::Zero);
                DEFAULT_MAX_OUTPUT_TOKENS
            }
            tokens => tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
        };
        let poll_path = field(path, "poll_interval");
        let poll_interval = self.duration(
            &poll_path,
            raw.poll_interval.as_deref(),
            DEFAULT_POLL_INTERVAL,
        );
        if poll_interval.is_zero() {
            self.report(&poll_path, Problem::Zero);
        }
        let alert_webhook = raw
            .alert_webhook
            .and_then(|url| self.alert_webhook(&field(path, "alert_webhook"), url));
        let mut ids = Seen::new();
        let limits = raw
            .limits
            .into_iter()
            .enumerate()
            .filter_map(|(i, limit)| {
                self.budget_limit(&item(&field(path, "limits"), i), limit, key_ids, &mut ids)
            })
            .collect();
        Budgets {
            limits,
            default_max_output_tokens,
            poll_interval,
            alert_webhook,
        }
    }

    fn alert_webhook(&mut self, path: &str, url: String) -> Option<BaseUrl> {
        match BaseUrl::parse(&url) {
            Ok(parsed) if parsed.tls => {
                self.report(path, Problem::AlertWebhookTls(url));
                None
            }
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.report(path, Problem::BaseUrl { value: url, reason });
                None
            }
        }
    }

    fn budget_limit(
        &mut self,
        path: &str,
        raw: raw::Limit,
        key_ids: &[&str],
        ids: &mut Seen,
    ) -> Option<BudgetLimit> {
        let id_path = field(path, "id");
        self.identifier(&id_path, "budget id", &raw.id);
        self.unique(ids, "budget id", &raw.id, &id_path);
        let scope = match (raw.key, raw.team, raw.agent) {
            (Some(key), None, None) => {
                if !key_ids.contains(&key.as_str()) {
                    // Keys may also be issued through the key API, unknown to the file.
                    self.report(
                        &field(path, "key"),
                        Problem::BudgetKeyNotInFile(key.clone()),
                    );
                }
                BudgetScope::Key(key)
            }
            (None, Some(team), None) => BudgetScope::Team(team),
            (None, None, Some(agent)) => BudgetScope::Agent(agent),
            _ => {
                self.report(path, Problem::BudgetScope);
                return None;
            }
        };
        let limit_path = field(path, "limit_usd");
        let usd = raw.limit_usd;
        if !(usd.is_finite() && usd > 0.0 && usd <= MAX_LIMIT_USD) {
            self.report(&limit_path, Problem::LimitUsd(usd.to_string()));
            return None;
        }
        let mut alert_at_percent = Vec::with_capacity(raw.alert_at_percent.len());
        for (i, percent) in raw.alert_at_percent.into_iter().enumerate() {
            let percent_path = item(&field(path, "alert_at_percent"), i);
            if !(1..=100).contains(&percent) {
                self.report(&percent_path, Problem::Percent(percent));
            } else if alert_at_percent.contains(&percent) {
                self.report(&percent_path, Problem::Repeated(percent.to_string()));
            } else {
                alert_at_percent.push(percent);
            }
        }
        alert_at_percent.sort_unstable();
        Some(BudgetLimit {
            budget: Budget {
                id: raw.id,
                scope,
                limit_nano_usd: (usd * NANOS).round() as u64,
                period: raw.period.unwrap_or_default(),
            },
            alert_at_percent,
        })
    }
}

#[cfg(test)]
#[path = "budgets_tests.rs"]
mod tests;
