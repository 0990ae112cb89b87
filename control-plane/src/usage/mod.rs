//! Usage records in the control plane: parsing the batches Envoy ships ([`ingest`]),
//! storing them once per id ([`store`]) and reporting on them ([`report`]).
//!
//! Records are stored whole, as the filter wrote them, next to indexed columns for what
//! every record has. Reports read fields from the whole record, so a field added to the
//! record later (cost, agent, run, duration) is reportable without a migration.

pub mod ingest;
pub mod report;
pub mod store;
pub mod store_postgres;
pub mod store_sqlite;
pub mod time;

use report::{Format, FormatError, GroupBy, GroupByError};
use store::{StoreError, TimeRange, UsageStore};
use time::TimeError;

/// A report as asked for by `tollgate usage` or `GET /v1/usage`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    pub range: TimeRange,
    pub group_by: GroupBy,
    /// As asked (`metadata.env`), for the report's header.
    pub group_by_name: String,
    pub format: Format,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    GroupBy(#[from] GroupByError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{0}")]
    Time(#[from] TimeError),
}

impl ReportRequest {
    /// From the textual parameters; grouping defaults to the key, the format to JSON and
    /// the range to everything.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        group_by: Option<&str>,
        format: Option<&str>,
    ) -> Result<Self, ReportError> {
        let group_by_name = group_by.unwrap_or("key").to_string();
        Ok(ReportRequest {
            range: TimeRange {
                from_ms: from.map(time::parse_unix_ms).transpose()?,
                to_ms: to.map(time::parse_unix_ms).transpose()?,
            },
            group_by: group_by_name.parse()?,
            group_by_name,
            format: format.unwrap_or("json").parse()?,
        })
    }

    /// Runs the report over `store`, formatted.
    pub fn run(&self, store: &mut dyn UsageStore) -> Result<String, StoreError> {
        let records = store.records(self.range)?;
        let rows = report::aggregate(&records, &self.group_by);
        Ok(match self.format {
            Format::Json => report::to_json(&rows, &self.group_by_name).to_string(),
            Format::Csv => report::to_csv(&rows, &self.group_by_name),
        })
    }
}
