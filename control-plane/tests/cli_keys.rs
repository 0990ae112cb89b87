//! `tollgate keys create|list|show|update|rotate|revoke` against a real `tollgate serve`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ADMIN_KEY: &str = "cli-test-admin-key";

/// A `tollgate serve` on a free loopback port, stopped (by its handle) when dropped.
struct Service {
    child: Child,
    server: String,
    dir: PathBuf,
}

impl Service {
    fn start(name: &str) -> Service {
        let dir = std::env::temp_dir().join(format!("tollgate-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("cp.yaml");
        std::fs::write(
            &config,
            format!(
                "version: 1
providers: [{{name: p, kind: openai, base_url: 'http://127.0.0.1:1/v1'}}]
models: [{{alias: a, provider: p, model: m}}, {{alias: b, provider: p, model: n}}]
keys: [{{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}}]
control_plane:
  listen: {{port: {port}}}
  admin_keys: [{{name: ci-admin, credential: {{env: TOLLGATE_CLI_TEST_ADMIN}}}}]
"
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("TOLLGATE_INGEST_KEY", "cli-test-ingest")
            .env("TOLLGATE_CLI_TEST_ADMIN", ADMIN_KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tollgate serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Service {
            child,
            server: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    fn keys(&self, args: &[&str], admin_key: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        command
            .arg("keys")
            .args(args)
            .args(["--server", &self.server])
            .env_remove("TOLLGATE_ADMIN_KEY");
        if let Some(key) = admin_key {
            command.env("TOLLGATE_ADMIN_KEY", key);
        }
        command.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.keys(args, Some(ADMIN_KEY));
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Stops the service; returns what it wrote to standard error and its audit log
    /// (JSON lines), which must verify.
    fn stop(mut self) -> (String, String) {
        self.child.kill().unwrap();
        let out = self.child.wait_with_output().unwrap();
        let config = self.dir.join("cp.yaml");
        let audit = |command: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .args(["audit", command, "--config", config.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "audit {command}: {}",
                text(&out.stderr)
            );
            text(&out.stdout)
        };
        audit("verify");
        let log = audit("export");
        std::fs::remove_dir_all(&self.dir).unwrap();
        (text(&out.stderr), log)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_key_goes_through_its_whole_lifecycle() {
    let service = Service::start("lifecycle");
    let created = service.ok(&[
        "create",
        "--id",
        "ci",
        "--models",
        "a",
        "--team",
        "ml",
        "--agent",
        "planner",
        "--metadata",
        "env=prod",
        "--requests-per-minute",
        "60",
        "--expires-at",
        "2030-01-01",
    ]);
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tg-"));
    assert_eq!(created["key"]["metadata"]["env"], "prod");
    assert_eq!(created["key"]["rate_limits"]["requests_per_minute"], 60);

    let listed = service.ok(&["list"]);
    assert_eq!(listed["keys"][0]["id"], "ci");
    assert!(!listed.to_string().contains(&secret));

    let updated = service.ok(&["update", "ci", "--models", "a,b", "--expires-at", "never"]);
    assert_eq!(updated["models"], serde_json::json!(["a", "b"]));
    assert_eq!(updated["expires_unix_ms"], Value::Null);
    assert_eq!(updated["team"], "ml", "options not given stay");

    let rotated = service.ok(&["rotate", "ci", "--grace", "1m"]);
    assert_ne!(rotated["secret"].as_str().unwrap(), secret);
    assert_eq!(
        rotated["key"]["previous_secrets_expire_unix_ms"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let revoked = service.ok(&["revoke", "ci"]);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(service.ok(&["show", "ci"])["status"], "revoked");

    let again = service.keys(&["revoke", "ci"], Some(ADMIN_KEY));
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("(409): key \"ci\" is revoked"),
        "{}",
        text(&again.stderr)
    );

    let generated = service.ok(&["create"]);
    assert!(generated["key"]["id"].as_str().unwrap().starts_with("key-"));
    assert_eq!(generated["key"]["models"], serde_json::json!(["*"]));

    let (stderr, audit) = service.stop();
    let actions: Vec<&str> = ["key.create", "key.update", "key.rotate", "key.revoke"]
        .into_iter()
        .filter(|a| audit.contains(&format!("\"action\":\"{a}\"")))
        .collect();
    assert_eq!(actions.len(), 4, "{audit}");
    assert!(audit.contains("\"actor\":\"ci-admin\""), "{audit}");
    for log in [&stderr, &audit] {
        assert!(!log.contains(&secret), "secrets never reach the logs");
        assert!(!log.contains(ADMIN_KEY), "nor does the admin key");
    }
}

#[test]
fn the_cli_needs_the_right_admin_key_and_says_so() {
    let service = Service::start("auth");
    let unset = service.keys(&["list"], None);
    assert_eq!(unset.status.code(), Some(1));
    assert!(
        text(&unset.stderr).contains("TOLLGATE_ADMIN_KEY is not set"),
        "{}",
        text(&unset.stderr)
    );
    let wrong = service.keys(&["list"], Some("wrong"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("(401): missing or wrong admin key"),
        "{}",
        text(&wrong.stderr)
    );
    let bad = service.keys(&["create", "--models", "nope"], Some(ADMIN_KEY));
    assert!(
        text(&bad.stderr).contains("(400): unknown model alias \"nope\""),
        "{}",
        text(&bad.stderr)
    );
    service.stop();
    let nowhere = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["keys", "list", "--server", "http://127.0.0.1:1"])
        .env("TOLLGATE_ADMIN_KEY", ADMIN_KEY)
        .output()
        .unwrap();
    assert!(
        text(&nowhere.stderr).contains("cannot reach the Tollgate service"),
        "{}",
        text(&nowhere.stderr)
    );
}
