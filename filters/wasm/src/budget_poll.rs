//! Budget state from the control plane, in the gateway's root contexts: one root per
//! process (whichever takes the shared lease) asks on its tick what every other Envoy has
//! spent, and writes the answer into the shared ledgers. See `tollgate_core::budget::poll`.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use proxy_wasm::traits::Context;
use tollgate_core::budget::poll::{self, BudgetState};
use tollgate_core::budget::{store, Budget, BudgetsConfig};
use tollgate_core::config::UsageShipping;
use tollgate_core::usage_outbox;

use crate::host::unix_millis;
use crate::ratelimiting::SharedData;

pub struct Poller {
    budgets: Vec<Budget>,
    interval_ms: u64,
    /// The control plane's cluster, authority, ingest key and timeout: those of shipping.
    shipping: UsageShipping,
    ingest_key: String,
    /// This process's instance id, left out of the control plane's answer.
    instance: String,
    /// The poll in flight.
    pending: Option<u32>,
}

impl Poller {
    /// `None` (logged) when the instance id cannot be stored.
    pub fn start(
        config: &BudgetsConfig,
        shipping: UsageShipping,
        ingest_key: String,
    ) -> Option<Poller> {
        // std's RandomState is seeded from the host's random source (WASI `random_get`).
        let random = RandomState::new().hash_one(unix_millis(std::time::SystemTime::now()));
        let instance = poll::ensure_instance(&SharedData, random)
            .map_err(|_| log::error!("tollgate: budget state not polled: no instance id"))
            .ok()?;
        Some(Poller {
            budgets: config.budgets.clone(),
            interval_ms: config.poll_interval_ms,
            shipping,
            ingest_key,
            instance,
            pending: None,
        })
    }

    pub fn tick_period(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// Asks the control plane, when this root wins the lease and has no poll in flight.
    pub fn tick(&mut self, root: &dyn Context) {
        let now = unix_millis(root.get_current_time());
        if self.pending.is_some() || !poll::claim_poll(&SharedData, now, self.interval_ms) {
            return;
        }
        let path = poll::state_path(&self.instance);
        let headers = vec![
            (":method", "GET"),
            (":path", path.as_str()),
            (":authority", self.shipping.authority.as_str()),
            (usage_outbox::INGEST_KEY_HEADER, self.ingest_key.as_str()),
        ];
        let timeout = Duration::from_millis(self.shipping.timeout_ms);
        match root.dispatch_http_call(&self.shipping.cluster, headers, None, vec![], timeout) {
            Ok(token) => self.pending = Some(token),
            Err(status) => log::warn!("tollgate: budget state not requested: {status:?}"),
        }
    }

    /// Whether `token` is this poller's call.
    pub fn owns(&self, token: u32) -> bool {
        self.pending == Some(token)
    }

    /// The control plane answered (`None`: no answer); the ledgers take its counts.
    pub fn answered(&mut self, root: &dyn Context, status: Option<u16>, body: &[u8]) {
        self.pending = None;
        let state = match (status, serde_json::from_slice::<BudgetState>(body)) {
            (Some(200), Ok(state)) => state,
            _ => {
                log::warn!(
                    "tollgate: budget state unavailable (status {status:?}); using the last"
                );
                return;
            }
        };
        let now = unix_millis(root.get_current_time());
        for spend in &state.budgets {
            let Some(budget) = self.budgets.iter().find(|b| b.id == spend.id) else {
                continue;
            };
            let rebased = store::rebase(
                &SharedData,
                budget,
                now,
                spend.period_start_ms,
                spend.spent_nano_usd,
            );
            if rebased.is_err() {
                log::warn!("tollgate: budget {} state lost to contention", budget.id);
            }
        }
    }
}
