//! Soft-threshold alerts: when a budget's scope has spent a threshold's share of its
//! limit in a period, the service writes a log line and POSTs the alert to the configured
//! webhook, once per (budget, period, threshold).
//!
//! "Once" survives restarts: an alert is written to the database ([`AlertLog`]) before it
//! is announced, and one already written is never announced again. A webhook that fails is
//! retried on later checks until it answers 2xx (at least once, exactly once when it
//! answers the first time).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::alert_store::{self, AlertStore};
use super::webhook::post_json;
use super::{now_ms, reached, spend};
use crate::config::{BaseUrl, BudgetLimit};
use crate::service::SharedStore;
use crate::storage::{Database, StoreError};
use crate::usage::store::UsageStore;

/// How long the webhook has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The alert log's database.
    #[error("budget alerts: {0}")]
    Log(#[source] StoreError),
    /// The usage store's, when summing what was spent.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One alert: a budget's threshold reached in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub budget_id: String,
    pub period_start_ms: u64,
    pub threshold_percent: u64,
    /// Spent when the threshold was found reached.
    pub spent_nano_usd: u64,
    pub limit_nano_usd: u64,
}

impl Alert {
    /// The webhook's body.
    pub fn to_json(&self) -> String {
        let usd = |nano: u64| nano as f64 / 1e9;
        json!({
            "type": "budget.threshold_reached",
            "budget_id": self.budget_id,
            "period_start_ms": self.period_start_ms,
            "threshold_percent": self.threshold_percent,
            "spent_nano_usd": self.spent_nano_usd,
            "limit_nano_usd": self.limit_nano_usd,
            "spent_usd": usd(self.spent_nano_usd),
            "limit_usd": usd(self.limit_nano_usd),
        })
        .to_string()
    }
}

/// Alerts written, in the service's database (either backend).
pub struct AlertLog {
    store: Box<dyn AlertStore>,
}

impl AlertLog {
    pub fn open(database: &Database) -> Result<AlertLog, AlertError> {
        let store = alert_store::open(database).map_err(AlertError::Log)?;
        Ok(AlertLog { store })
    }

    /// Writes `alert` unless it was written before; returns whether it is new.
    pub fn record(&mut self, alert: &Alert, now_ms: u64) -> Result<bool, AlertError> {
        self.store.record(alert, now_ms).map_err(AlertError::Log)
    }

    /// Alerts the webhook has not taken yet, oldest first.
    pub fn undelivered(&mut self) -> Result<Vec<Alert>, AlertError> {
        self.store.undelivered().map_err(AlertError::Log)
    }

    pub fn delivered(&mut self, alert: &Alert, now_ms: u64) -> Result<(), AlertError> {
        self.store.delivered(alert, now_ms).map_err(AlertError::Log)
    }
}

/// Finds the thresholds reached since the last check and writes (and logs) the new ones.
/// Returns the alerts the webhook still has to take.
pub fn check(
    store: &mut dyn UsageStore,
    log: &mut AlertLog,
    limits: &[BudgetLimit],
    now_ms: u64,
) -> Result<Vec<Alert>, AlertError> {
    for limit in limits.iter().filter(|l| !l.alert_at_percent.is_empty()) {
        let budget = &limit.budget;
        let spent = spend(store, budget, now_ms, None)?;
        for threshold_percent in reached(
            spent.spent_nano_usd,
            budget.limit_nano_usd,
            &limit.alert_at_percent,
        ) {
            let alert = Alert {
                budget_id: budget.id.clone(),
                period_start_ms: spent.period_start_ms,
                threshold_percent,
                spent_nano_usd: spent.spent_nano_usd,
                limit_nano_usd: budget.limit_nano_usd,
            };
            if log.record(&alert, now_ms)? {
                println!(
                    "tollgate service: budget {} reached {}% of its limit: ${:.6} of ${:.6} \
                     spent in the period starting at {} ms",
                    alert.budget_id,
                    threshold_percent,
                    alert.spent_nano_usd as f64 / 1e9,
                    alert.limit_nano_usd as f64 / 1e9,
                    alert.period_start_ms
                );
            }
        }
    }
    log.undelivered()
}

/// The service's alert loop: checks every `interval`, delivers to `webhook`.
pub struct Alerter {
    pub store: SharedStore,
    pub log: AlertLog,
    pub limits: Vec<BudgetLimit>,
    pub webhook: Option<BaseUrl>,
    pub interval: Duration,
}

impl Alerter {
    pub async fn run(self) {
        let Alerter {
            store,
            log,
            limits,
            webhook,
            interval,
        } = self;
        let log = Arc::new(Mutex::new(log));
        let limits = Arc::new(limits);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (store, log_for_check, limits) =
                (Arc::clone(&store), Arc::clone(&log), Arc::clone(&limits));
            // Both databases' clients block: off the async threads.
            let checked = tokio::task::spawn_blocking(move || {
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                let mut log = log_for_check.lock().unwrap_or_else(|p| p.into_inner());
                check(store.as_mut(), &mut log, &limits, now_ms())
            })
            .await;
            let pending = match checked {
                Ok(Ok(pending)) => pending,
                Ok(Err(e)) => {
                    eprintln!("tollgate service: {e}");
                    continue;
                }
                Err(e) => {
                    eprintln!("tollgate service: budget check failed: {e}");
                    continue;
                }
            };
            match &webhook {
                Some(url) => deliver(url, &log, pending).await,
                // The log line was the alert.
                None => mark_delivered(&log, &pending),
            }
        }
    }
}

async fn deliver(url: &BaseUrl, log: &Arc<Mutex<AlertLog>>, pending: Vec<Alert>) {
    for alert in pending {
        match post_json(url, alert.to_json(), WEBHOOK_TIMEOUT).await {
            Ok(200..=299) => mark_delivered(log, std::slice::from_ref(&alert)),
            Ok(status) => eprintln!(
                "tollgate service: alert webhook answered {status} for budget {}; retrying later",
                alert.budget_id
            ),
            Err(e) => eprintln!(
                "tollgate service: alert webhook failed for budget {}: {e}; retrying later",
                alert.budget_id
            ),
        }
    }
}

fn mark_delivered(log: &Arc<Mutex<AlertLog>>, alerts: &[Alert]) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    for alert in alerts {
        if let Err(e) = log.delivered(alert, now_ms()) {
            eprintln!("tollgate service: {e}");
        }
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
