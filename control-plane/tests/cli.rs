//! The `tollgate` binary as a user runs it: exit codes, where output goes, its format.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tollgate(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_remove("TOLLGATE_DEMO_PROVIDER_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_the_built_in_config() {
    let out = tollgate(&["validate"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("<built-in default config>: OK"));
}

#[test]
fn validate_prints_located_errors_and_fails() {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.yaml");
    std::fs::write(
        &config,
        "version: 1\nproviders: []\nmodels:\n  - {alias: a, provider: nope, model: m}\n",
    )
    .unwrap();
    let out = tollgate(&["validate", "--config", config.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let expected = format!(
        "{}:4:26: error: models[0].provider: unknown provider \"nope\"; defined providers: (none)",
        config.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn render_writes_the_bootstrap_to_stdout() {
    let out = tollgate(&["render", "--wasm", "/nonexistent/tollgate.wasm"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bootstrap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bootstrap["node"]["id"], "tollgate");
    // The missing wasm and the unset demo credential are reported, not fatal.
    let stderr = text(&out.stderr);
    assert!(stderr.contains("does not exist yet"), "{stderr}");
    assert!(
        stderr.contains("TOLLGATE_DEMO_PROVIDER_KEY is not set"),
        "{stderr}"
    );
}

#[test]
fn keys_hash_reads_stdin() {
    let out = tollgate(&["keys", "hash"], "tg-demo-key-change-me\n");
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        "a004a9fe4094191b648d212c092977c5f2b22b9fd6129b31226c46e73a317416\n"
    );
}

#[test]
fn run_refuses_missing_required_credentials_before_starting_envoy() {
    let out = tollgate(
        &["run", "--wasm", "x.wasm", "--envoy", "/nonexistent/envoy"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("required provider credentials are not set"));
}

#[test]
fn serve_needs_a_control_plane_section_and_its_ingest_key() {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = "version: 1
providers: [{name: p, kind: openai, base_url: 'http://127.0.0.1:1/v1'}]
models: [{alias: a, provider: p, model: m}]
keys: [{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}]
";
    let config = dir.join("plain.yaml");
    std::fs::write(&config, plain).unwrap();
    let out = tollgate(&["serve", "--config", config.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no `control_plane:` section"),
        "{}",
        text(&out.stderr)
    );
    let config = dir.join("cp.yaml");
    std::fs::write(
        &config,
        format!("{plain}control_plane: {{ingest_key_env: TOLLGATE_CLI_TEST_UNSET_KEY}}\n"),
    )
    .unwrap();
    let out = tollgate(&["serve", "--config", config.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("TOLLGATE_CLI_TEST_UNSET_KEY is not set"),
        "{stderr}"
    );
    assert!(
        !dir.join("tollgate.db").exists(),
        "nothing created before the key is known"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_never_creates_a_database() {
    let missing = std::env::temp_dir().join(format!("tollgate-cli-none-{}.db", std::process::id()));
    let out = tollgate(&["usage", "--database", missing.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
    assert!(!missing.exists());
    let out = tollgate(&["usage", "--group-by", "colour"], "");
    assert!(
        text(&out.stderr).contains("cannot group by \"colour\""),
        "{}",
        text(&out.stderr)
    );
}

/// A log of three entries written through the library, as the service writes it.
fn audit_log_of_three(database: &tollgate_control_plane::storage::Database) {
    use tollgate_control_plane::audit::{AuditEvent, AuditLog, AuditSink};
    let log = AuditLog::open(database).unwrap();
    for n in 1..=3 {
        log.record(AuditEvent {
            actor: "admin".into(),
            action: "key.revoke".into(),
            target: format!("key/k{n}"),
            details: serde_json::json!({"reason": "rotated", "n": n}),
        })
        .unwrap();
    }
}

/// `verify` passes on `database` (a `--database` value) and, once `tamper` edited entry
/// 2's details, fails naming it.
fn verify_then_tamper(database: &str, tamper: impl FnOnce()) {
    let out = tollgate(&["audit", "verify", "--database", database], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let anchor = stdout
        .trim_end()
        .split_once("audit log OK, 3 entries; last ")
        .unwrap_or_else(|| panic!("{stdout}"))
        .1;
    assert!(anchor.starts_with("3:"), "{stdout}");
    let out = tollgate(
        &[
            "audit",
            "verify",
            "--database",
            database,
            "--anchor",
            anchor,
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    tamper();
    let out = tollgate(&["audit", "verify", "--database", database], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: the audit log is broken: entry 2 was modified: its content does not match its hash\n"
    );
}

const TAMPER: &str = r#"UPDATE audit_log SET details = '{"n":2,"reason":"lost"}' WHERE seq = 2"#;

#[test]
fn audit_verify_names_a_tampered_entry_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-audit-{}", std::process::id()));
    let file = dir.join("audit.db");
    audit_log_of_three(&tollgate_control_plane::storage::Database::Sqlite(
        file.clone(),
    ));
    verify_then_tamper(file.to_str().unwrap(), || {
        rusqlite::Connection::open(&file)
            .unwrap()
            .execute_batch(TAMPER)
            .unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same through PostgreSQL, in a schema of its own, when `make test` started a server.
#[test]
fn audit_verify_names_a_tampered_entry_in_postgres() {
    let Ok(server) = std::env::var("TOLLGATE_TEST_POSTGRES_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED audit_verify_names_a_tampered_entry_in_postgres: TOLLGATE_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let schema = format!("cli_{}", std::process::id());
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let url = format!("{server}?options=-c%20search_path%3D{schema}");
    let database = tollgate_control_plane::storage::Database::parse(&url, |_| unreachable!());
    audit_log_of_three(&database.unwrap());
    verify_then_tamper(&url, || {
        admin
            .batch_execute(&format!("SET search_path = {schema}; {TAMPER}"))
            .unwrap();
    });
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[test]
fn audit_export_writes_json_lines_that_verify_offline() {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-export-{}", std::process::id()));
    let file = dir.join("audit.db");
    audit_log_of_three(&tollgate_control_plane::storage::Database::Sqlite(
        file.clone(),
    ));
    let export = dir.join("audit.jsonl");
    let (database, export_arg) = (file.to_str().unwrap(), export.to_str().unwrap());
    let out = tollgate(
        &[
            "audit",
            "export",
            "--database",
            database,
            "--out",
            export_arg,
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<serde_json::Value> = exported
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["seq"], 2);
    assert_eq!(lines[1]["target"], "key/k2");
    assert_eq!(lines[1]["details"]["reason"], "rotated");
    assert_eq!(lines[2]["prev_hash"], lines[1]["hash"]);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));

    let out = tollgate(&["audit", "verify", "--file", export_arg], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The newest entry cut off: the chain alone cannot tell, the anchor can.
    let anchor = format!("3:{}", lines[2]["hash"].as_str().unwrap());
    let first_two: Vec<&str> = exported.lines().take(2).collect();
    std::fs::write(&export, first_two.join("\n")).unwrap();
    let out = tollgate(&["audit", "verify", "--file", export_arg], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tollgate(
        &["audit", "verify", "--file", export_arg, "--anchor", &anchor],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("entry 3 (the anchor) is gone: the log now ends at entry 2"),
        "{}",
        text(&out.stderr)
    );
    // A line dropped from the middle of the export.
    let without_second: Vec<&str> = exported
        .lines()
        .enumerate()
        .filter_map(|(i, line)| (i != 1).then_some(line))
        .collect();
    std::fs::write(&export, without_second.join("\n")).unwrap();
    let out = tollgate(&["audit", "verify", "--file", export_arg], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("entry 2 is missing (deleted): after entry 1 comes entry 3"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn render_adds_stored_mcp_pins_below_the_config_files() {
    use tollgate_control_plane::pins::store::{open, FirstPin};
    use tollgate_control_plane::storage::Database;
    let dir = std::env::temp_dir().join(format!("tollgate-cli-pins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("tollgate.db");
    let mut store = open(&Database::Sqlite(database.clone())).unwrap();
    let (stored, shadowed, configured) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    for (tool, sha256) in [("echo", &stored), ("grep", &shadowed)] {
        let pin = FirstPin {
            server: "files",
            tool,
            sha256,
            definition: &serde_json::Value::Null,
            now_unix_ms: 1,
        };
        assert!(store.pin_first(&pin).unwrap());
    }
    drop(store);
    let config = dir.join("pins.yaml");
    std::fs::write(
        &config,
        format!(
            "version: 1
providers: [{{name: p, kind: openai, base_url: 'http://127.0.0.1:1/v1'}}]
models: [{{alias: a, provider: p, model: m}}]
mcp_servers:
  - {{name: files, url: 'http://127.0.0.1:2/mcp', pins: {{grep: {configured}}}}}
control_plane: {{database: {}}}
",
            database.display()
        ),
    )
    .unwrap();
    let args = [
        "render",
        "--config",
        config.to_str().unwrap(),
        "--wasm",
        "/x.wasm",
    ];
    let out = tollgate(&args, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bootstrap = text(&out.stdout);
    assert!(bootstrap.contains(&stored), "the stored pin is rendered");
    assert!(bootstrap.contains(&configured));
    assert!(!bootstrap.contains(&shadowed), "the config file's pin wins");
    std::fs::remove_dir_all(&dir).unwrap();
}
