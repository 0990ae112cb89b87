//! Connecting to PostgreSQL by URL and migrating a component's tables, mirroring
//! [`super::sqlite`]. The sync `postgres` client is used, like rusqlite, from blocking
//! threads (the service runs store calls under `spawn_blocking`).

use std::fmt;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

use super::{next_migration, MigrationError};

/// How long connecting may take before the operation fails (instead of hanging a request).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Held while migrating, so replicas starting at once take turns. Advisory lock keys are
/// per database: one key for every component ("tollgate" in ASCII).
const MIGRATION_LOCK: i64 = 0x746f_6c6c_6761_7465;

/// A validated `postgres://` URL. Its password, if any, is never displayed or debug-printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE): {0}")]
    Syntax(String),
    #[error("the PostgreSQL URL names no host")]
    NoHost,
    #[error("sslmode=require is not supported (the client speaks plain TCP); reach the server over a trusted network or a local TLS tunnel")]
    Tls,
}

impl PostgresUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let config: Config = text
            .parse()
            // The parser's message names the offending option, never its value.
            .map_err(|e: postgres::Error| UrlError::Syntax(message(&e)))?;
        if config.get_hosts().is_empty() {
            return Err(UrlError::NoHost);
        }
        if config.get_ssl_mode() == SslMode::Require {
            return Err(UrlError::Tls);
        }
        Ok(PostgresUrl(text.to_string()))
    }

    /// Whether the URL itself carries a password (better kept in `PGPASSWORD`).
    pub fn has_password(&self) -> bool {
        self.config_as_written().get_password().is_some()
    }

    /// The client configuration: the URL, with the password from `PGPASSWORD` (as libpq
    /// reads it) when the URL has none, and a connect timeout.
    pub fn config(&self) -> Config {
        let mut config = self.config_as_written();
        if config.get_password().is_none() {
            if let Some(password) = std::env::var_os("PGPASSWORD") {
                config.password(password.as_encoded_bytes());
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config
    }

    fn config_as_written(&self) -> Config {
        self.0.parse().expect("validated by PostgresUrl::parse")
    }
}

/// `postgres://USER@HOST:PORT/DATABASE`, without the password.
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.config_as_written();
        write!(f, "postgres://")?;
        if let Some(user) = config.get_user() {
            write!(f, "{user}@")?;
        }
        for (i, host) in config.get_hosts().iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            match host {
                Host::Tcp(name) => write!(f, "{separator}{name}")?,
                Host::Unix(dir) => write!(f, "{separator}{}", dir.display())?,
            }
            if let Some(port) = config.get_ports().get(i).or(config.get_ports().first()) {
                write!(f, ":{port}")?;
            }
        }
        write!(f, "/{}", config.get_dbname().unwrap_or_default())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// The client's error with its cause: its own text alone is only "db error" or "error
/// connecting to server".
pub fn message(error: &postgres::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    }
}

/// One client connection that reconnects when the server closed it (a restart or a
/// failover), so an outage fails the operations during it rather than every later one.
pub struct Connection {
    config: Config,
    /// `None` only once dropped, or after a failed reconnect.
    client: Option<Client>,
}

impl Connection {
    pub fn open(url: &PostgresUrl) -> Result<Self, postgres::Error> {
        let config = url.config();
        let client = config.connect(NoTls)?;
        Ok(Connection {
            config,
            client: Some(client),
        })
    }

    pub fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.config.connect(NoTls)?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }
}

impl Drop for Connection {
    /// The client closes by blocking on a runtime of its own, which tokio refuses on an
    /// async thread (where the service's state is dropped when it stops): inside a tokio
    /// runtime, it is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

/// Applies the `migrations` of `component` it has not applied yet, each in its own
/// transaction under an advisory lock; the version reached is kept in `schema_versions`.
/// A database migrated by a newer build is refused rather than misread.
pub fn migrate(
    client: &mut Client,
    component: &str,
    migrations: &[&str],
) -> Result<(), MigrationError> {
    loop {
        let mut tx = client.transaction()?;
        // The version is read under the lock, so a replica that waited sees what the
        // other applied instead of applying it again.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_versions (
                component TEXT PRIMARY KEY,
                version BIGINT NOT NULL
            )",
        )?;
        let found = version_in(&mut tx, component)?;
        let Some(sql) = next_migration(component, found, migrations)? else {
            return Ok(());
        };
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES ($1, $2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            &[&component, &(found + 1)],
        )?;
        tx.commit()?;
    }
}

/// The schema version `component` has reached (0: none of its tables exist).
pub fn version(client: &mut Client, component: &str) -> Result<i64, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_versions') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    version_in(client, component)
}

fn version_in(
    client: &mut impl postgres::GenericClient,
    component: &str,
) -> Result<i64, postgres::Error> {
    let row = client.query_opt(
        "SELECT version FROM schema_versions WHERE component = $1",
        &[&component],
    )?;
    Ok(row.map_or(0, |row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_connect_with() {
        assert_eq!(
            PostgresUrl::parse("postgres:///db?sslmode=disable"),
            Err(UrlError::NoHost)
        );
        assert_eq!(
            PostgresUrl::parse("postgres://h/db?sslmode=require"),
            Err(UrlError::Tls)
        );
        assert!(matches!(
            PostgresUrl::parse("postgres://h:99999/db"),
            Err(UrlError::Syntax(_))
        ));
    }

    /// The server ends the session (as a restart does): the operation that finds out
    /// may fail, the next one runs on a new connection.
    #[test]
    fn reconnects_once_the_server_closed_the_connection() {
        let Some(db) = crate::storage::test_support::TestDb::postgres() else {
            return;
        };
        let crate::storage::Database::Postgres(url) = db.database() else {
            unreachable!()
        };
        let mut connection = Connection::open(url).unwrap();
        let backend = |c: &mut Connection| -> Result<i32, postgres::Error> {
            Ok(c.client()?
                .query_one("SELECT pg_backend_pid()", &[])?
                .get(0))
        };
        let first = backend(&mut connection).unwrap();
        db.execute(&format!("SELECT pg_terminate_backend({first})"));
        let _ = backend(&mut connection);
        let second = backend(&mut connection).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn shows_no_password() {
        let url = PostgresUrl::parse("postgres://app:hunter2@db.internal:6000/state").unwrap();
        assert!(url.has_password());
        assert_eq!(url.to_string(), "postgres://app@db.internal:6000/state");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(!PostgresUrl::parse("postgres://app@a/state")
            .unwrap()
            .has_password());
    }
}
