use std::path::Path;
use std::time::Duration;

use super::super::test_support::errors;
use super::super::{load, Problem};
use super::*;

const HEAD: &str = "version: 1
providers: [{name: p, kind: openai, base_url: 'https://x.example/v1'}]
models: [{alias: a, provider: p, model: m}]
keys: [{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}]
";

fn section(text: &str) -> String {
    format!("{HEAD}control_plane:\n{text}")
}

#[test]
fn absent_means_no_service() {
    assert_eq!(load(HEAD, None).unwrap().config.control_plane, None);
}

#[test]
fn defaults_to_loopback_and_a_database_beside_the_config() {
    let text = section("  usage: {}\n");
    let config = load(&text, Some(Path::new("/etc/tollgate")))
        .unwrap()
        .config;
    let service = config.control_plane.unwrap();
    assert_eq!(service.listen, "127.0.0.1:9902".parse().unwrap());
    assert_eq!(
        service.database,
        Database::Sqlite("/etc/tollgate/tollgate.db".into())
    );
    assert_eq!(service.ingest_key_env, "TOLLGATE_INGEST_KEY");
    assert_eq!(service.usage.flush_interval, Duration::from_secs(1));
    assert_eq!(service.usage.limits, DEFAULT_LIMITS);
    assert_eq!(
        service.usage.backoff,
        Backoff {
            base_ms: 1000,
            max_ms: 30_000
        }
    );
}

#[test]
fn bad_values_are_located() {
    let text = section(
        "  listen: {port: 8080}
  ingest_key_env: 'not a var'
  usage:
    batch_records: 0
    batch_bytes: 100000000
    buffer_bytes: 10
    flush_interval: 0s
    backoff: {base: 2s, max: 1s}
",
    );
    let found: Vec<(String, String)> = errors(&text)
        .into_iter()
        .map(|(path, _, message)| (path, message))
        .collect();
    let expect = |path: &str, problem: Problem| (path.to_string(), problem.to_string());
    assert_eq!(
        found,
        [
            expect(
                "control_plane.listen",
                Problem::PortTaken("127.0.0.1:8080".parse().unwrap())
            ),
            expect(
                "control_plane.ingest_key_env",
                Problem::EnvName("not a var".into())
            ),
            expect("control_plane.usage", Problem::BatchExceedsBuffer),
            expect("control_plane.usage.batch_records", Problem::Zero),
            expect("control_plane.usage.batch_bytes", Problem::BatchTooLarge),
            expect("control_plane.usage.flush_interval", Problem::Zero),
            expect("control_plane.usage.backoff", Problem::BackoffOrder),
        ]
    );
}

#[test]
fn a_postgres_url_names_the_database() {
    let text = section("  database: postgres://tollgate@db.internal:5433/state\n");
    let loaded = load(&text, Some(Path::new("/etc/tollgate"))).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let database = loaded.config.control_plane.unwrap().database;
    assert_eq!(
        database.to_string(),
        "postgres://tollgate@db.internal:5433/state"
    );
}

#[test]
fn a_password_in_the_url_is_a_located_warning() {
    let text = section("  database: postgres://tollgate:s3cret@db/state\n");
    let loaded = load(&text, None).unwrap();
    let [warning] = loaded.warnings.as_slice() else {
        panic!("one warning expected: {:?}", loaded.warnings)
    };
    assert_eq!(warning.path, "control_plane.database");
    assert_eq!(warning.problem, Problem::DatabasePassword);
    assert_eq!(warning.location.map(|l| l.line), Some(6));
    assert!(!warning.problem.to_string().contains("s3cret"));
}

#[test]
fn an_unusable_database_is_a_located_error() {
    for (value, wanted) in [
        ("mysql://db/state", "mysql:// databases are not supported"),
        ("postgres://db:port/state", "not a PostgreSQL URL"),
        ("''", "must not be empty"),
    ] {
        let text = section(&format!("  database: {value}\n"));
        let found = errors(&text);
        let [(path, line, message)] = found.as_slice() else {
            panic!("one error expected for {value}: {found:?}")
        };
        assert_eq!((path.as_str(), *line), ("control_plane.database", 6));
        assert!(message.contains(wanted), "{value}: {message}");
    }
}

#[test]
fn admin_keys_default_to_one_from_the_environment_and_are_named() {
    let service = |text: &str| load(&section(text), Some(Path::new("/etc/tg"))).unwrap();
    let default = service("  usage: {}\n").config.control_plane.unwrap();
    assert_eq!(
        default.admin_keys,
        [AdminKey {
            name: "admin".into(),
            secret: SecretSource::Env("TOLLGATE_ADMIN_KEY".into())
        }]
    );
    let named = service("  admin_keys:\n  - {name: ops, credential: {file: admin.key}}\n");
    assert_eq!(
        named.config.control_plane.unwrap().admin_keys,
        [AdminKey {
            name: "ops".into(),
            secret: SecretSource::File("/etc/tg/admin.key".into())
        }]
    );
    let bad = section(
        "  admin_keys:\n  - {name: ops, credential: {env: A}}\n  - {name: ops, credential: {env: B}}\n  - {name: 'a b', credential: {env: C}}\n",
    );
    let paths: Vec<String> = errors(&bad).into_iter().map(|(path, ..)| path).collect();
    assert_eq!(
        paths,
        [
            "control_plane.admin_keys[1].name",
            "control_plane.admin_keys[2].name"
        ]
    );
    let inline = section("  admin_keys:\n  - {name: ops, credential: tg-secret}\n");
    assert!(load(&inline, None).is_err());
}
