//! One storage test suite for both backends. A suite is a set of functions taking a
//! [`TestDb`]; [`storage_suite!`] turns each into a `sqlite::<name>` test and a
//! `postgres::<name>` test. Every test gets a database of its own: a fresh SQLite file, or
//! a fresh schema on the server named by `TOLLGATE_TEST_POSTGRES_URL` (`make test` starts
//! one with scripts/postgres.sh). Without that variable the PostgreSQL tests return at
//! once and say so on the terminal, past the test harness's output capture.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use super::{postgres, sqlite, Database, MigrationError, PostgresUrl};

/// The server the PostgreSQL half of the suite runs against.
pub const POSTGRES_URL_VAR: &str = "TOLLGATE_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    database: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Schema { server: PostgresUrl, schema: String },
}

/// Unique per test in this process.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

impl TestDb {
    /// A database file in a fresh directory (a file, not `:memory:`, so a test can open
    /// several connections to it as several processes would).
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique_name("tollgate_storage"));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TestDb {
            database: Database::Sqlite(dir.join("tollgate.db")),
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A fresh schema on the test server, or `None` (said on the terminal) without one.
    /// A server that is named but does not answer fails the test: that is not a skip.
    pub fn postgres() -> Option<TestDb> {
        let Some(url) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the terminal: the harness captures `eprintln!` of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the PostgreSQL half of the storage suite: {POSTGRES_URL_VAR} is not set \
                     (`make test` starts a server with scripts/postgres.sh)"
                );
            });
            return None;
        };
        let server = PostgresUrl::parse(&url).expect("TOLLGATE_TEST_POSTGRES_URL");
        let schema = unique_name("test");
        let mut admin = postgres::Connection::open(&server)
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} names {server}, which fails: {e}"));
        admin
            .client()
            .and_then(|c| c.batch_execute(&format!("CREATE SCHEMA {schema}")))
            .expect("create the test schema");
        // Every connection of the store under test works in the test's schema.
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDb {
            database: Database::Postgres(PostgresUrl::parse(&scoped).expect("scoped URL")),
            cleanup: Cleanup::Schema { server, schema },
        })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn backend(&self) -> Backend {
        match self.database {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs statements directly (to tamper with rows, or to set a scene), in the SQL both
    /// backends understand.
    pub fn execute(&self, sql: &str) {
        match &self.database {
            Database::Sqlite(path) => sqlite::open(path).unwrap().execute_batch(sql).unwrap(),
            Database::Postgres(url) => postgres::Connection::open(url)
                .unwrap()
                .client()
                .unwrap()
                .batch_execute(sql)
                .unwrap(),
        }
    }

    /// Runs the backend's migration runner on a connection of its own.
    pub fn migrate(&self, component: &str, migrations: &[&str]) -> Result<(), MigrationError> {
        match &self.database {
            Database::Sqlite(path) => {
                let mut connection = sqlite::open(path).unwrap();
                sqlite::migrate(&mut connection, component, migrations)
            }
            Database::Postgres(url) => {
                let mut connection = postgres::Connection::open(url)?;
                postgres::migrate(connection.client()?, component, migrations)
            }
        }
    }

    pub fn version(&self, component: &str) -> i64 {
        match &self.database {
            Database::Sqlite(path) => {
                sqlite::version(&sqlite::open(path).unwrap(), component).unwrap()
            }
            Database::Postgres(url) => {
                let mut connection = postgres::Connection::open(url).unwrap();
                postgres::version(connection.client().unwrap(), component).unwrap()
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { server, schema } => {
                if let Ok(mut admin) = postgres::Connection::open(server) {
                    if let Ok(client) = admin.client() {
                        let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
                    }
                }
            }
        }
    }
}

/// `storage_suite!(a, b)` makes `sqlite::a`, `sqlite::b`, `postgres::a` and `postgres::b`
/// tests from the functions `a(&TestDb)` and `b(&TestDb)` of the calling module.
macro_rules! storage_suite {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(&$crate::storage::test_support::TestDb::sqlite());
                }
            )+
        }

        mod postgres {
            $(
                #[test]
                fn $test() {
                    if let Some(db) = $crate::storage::test_support::TestDb::postgres() {
                        super::$test(&db);
                    }
                }
            )+
        }
    };
}
pub(crate) use storage_suite;
