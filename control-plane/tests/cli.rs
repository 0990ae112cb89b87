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
