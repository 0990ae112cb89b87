//! The control plane's database: one SQLite file by default. Each component (usage, keys,
//! audit, ...) owns its tables and its own list of schema versions, applied in order by
//! [`sqlite::migrate`], so components evolve their schemas independently in one file.

pub mod sqlite;

/// Why a schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the {component} tables have schema version {found}; this build knows up to {known}")]
    TooNew {
        component: String,
        found: i64,
        known: i64,
    },
}
