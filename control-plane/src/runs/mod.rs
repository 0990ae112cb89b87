//! Agent runs from the stored step records: one run as a timeline tree ([`timeline`]),
//! runs listed with per-agent cost and latency percentiles ([`list`]), and both for the
//! terminal ([`render`]). Records are grouped by their `run_id` (the client's run id, or
//! the trace id when it sent none).

pub mod list;
pub mod render;
pub mod timeline;

use list::{RunFilter, RunList};
use timeline::Run;

use crate::usage::store::{StoreError, TimeRange, UsageStore};
use crate::usage::time::{self, TimeError};

/// A run listing as asked for by `tollgate runs list` or `GET /v1/runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub range: TimeRange,
    pub filter: RunFilter,
}

impl ListRequest {
    /// From the textual parameters; absent ones match everything.
    pub fn parse(
        agent: Option<&str>,
        key: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, TimeError> {
        let nonempty = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
        Ok(ListRequest {
            range: TimeRange {
                from_ms: from.map(time::parse_unix_ms).transpose()?,
                to_ms: to.map(time::parse_unix_ms).transpose()?,
            },
            filter: RunFilter {
                agent: nonempty(agent),
                key: nonempty(key),
            },
        })
    }

    pub fn run(&self, store: &mut dyn UsageStore) -> Result<RunList, StoreError> {
        Ok(list::list(&store.records(self.range)?, &self.filter))
    }
}

/// One run's timeline; `None` when no step of it is stored.
pub fn show(store: &mut dyn UsageStore, run_id: &str) -> Result<Option<Run>, StoreError> {
    Ok(timeline::build(run_id, &store.run_records(run_id)?))
}
