//! Golden tests: `testdata/<case>.in.yaml` renders to `<case>.out.json` (the Envoy
//! bootstrap, loadable by `envoy -c`) and `<case>.filters.json` (the filter configs
//! decoded, plus the credential notices), under the fixed environment below. The
//! built-in default config is the case `default`.
//!
//! Regenerate with `TOLLGATE_UPDATE_GOLDEN=1 cargo test -p tollgate-control-plane`.
//! With `TOLLGATE_ENVOY=/path/to/envoy` every rendered bootstrap is also checked by
//! `envoy --mode validate`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::{render, Rendered};
use crate::config::{load, Config, DEFAULT_CONFIG};
use crate::credentials::{apply, fixed::FixedEnvironment, Notice};

/// Paths the goldens are rendered with; they need not exist.
pub(crate) const WASM: &str = "/opt/tollgate/tollgate.wasm";
pub(crate) const CONFIG_DIR: &str = "/etc/tollgate";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Credential files present, relative to the config directory.
const FILES: [&str; 2] = ["secrets/anthropic.key", "secrets/vertex.token"];

fn environment(config_dir: &Path) -> FixedEnvironment {
    let vars = [
        "OPENAI_API_KEY",
        "TOLLGATE_DEMO_PROVIDER_KEY",
        "LOCAL_KEY",
        "COHERE_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "PRESET_KEY",
        "GEMINI_API_KEY",
        "BEDROCK_API_KEY",
    ]
    .map(|v| (v.to_string(), "secret-from-test-env".to_string()));
    FixedEnvironment {
        vars: HashMap::from(vars),
        files: HashSet::from(FILES.map(|f| config_dir.join(f))),
    }
}

/// Every case: its name and config text.
pub(crate) fn cases() -> Vec<(String, String)> {
    let mut cases = vec![("default".to_string(), DEFAULT_CONFIG.to_string())];
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".in.yaml"))
        .collect();
    files.sort();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy();
        let name = name.trim_end_matches(".in.yaml").to_string();
        cases.push((name, std::fs::read_to_string(&file).unwrap()));
    }
    cases
}

/// A case's config as the renderer gets it: validated, credentials applied.
pub(crate) fn case_config(text: &str, config_dir: &Path) -> (Config, Vec<Notice>) {
    let loaded = load(text, Some(config_dir)).unwrap_or_else(|errors| {
        panic!("golden input does not validate: {errors:#?}");
    });
    apply(loaded.config, &environment(config_dir))
}

fn render_case(text: &str, config_dir: &Path, wasm: &Path) -> (Rendered, Vec<String>) {
    let (config, notices) = case_config(text, config_dir);
    let notices = notices.iter().map(ToString::to_string).collect();
    (render(&config, wasm), notices)
}

fn check(path: &Path, actual: &str, update: bool, failures: &mut Vec<String>) {
    if update {
        std::fs::write(path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(_) => failures.push(format!("{} differs", path.display())),
        Err(_) => failures.push(format!("{} is missing", path.display())),
    }
}

#[test]
fn golden_outputs() {
    let update = std::env::var_os("TOLLGATE_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for (name, text) in cases() {
        let (rendered, notices) = render_case(&text, Path::new(CONFIG_DIR), Path::new(WASM));
        let dir = testdata();
        let out = dir.join(format!("{name}.out.json"));
        check(&out, &rendered.bootstrap_json(), update, &mut failures);
        let mut filters = json!({
            "gateway": rendered.gateway,
            "providers": rendered.providers,
            "notices": notices,
        });
        if !rendered.mcp_servers.is_empty() {
            filters["mcp_servers"] = json!(rendered.mcp_servers);
        }
        let filters = serde_json::to_string_pretty(&filters).unwrap() + "\n";
        let out = dir.join(format!("{name}.filters.json"));
        check(&out, &filters, update, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{failures:#?}\nreview the diff, then regenerate with TOLLGATE_UPDATE_GOLDEN=1"
    );
}

/// The wasm config embeds the filter configs as strings; they must parse back into the
/// same configs the filters will see.
#[test]
fn embedded_filter_configs_round_trip() {
    use tollgate_core::config::FilterConfig;
    let (rendered, _) = render_case(DEFAULT_CONFIG, Path::new(CONFIG_DIR), Path::new(WASM));
    let listener = &rendered.bootstrap["static_resources"]["listeners"][0];
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    let value = &hcm["http_filters"][0]["typed_config"]["config"]["configuration"]["value"];
    let parsed = FilterConfig::from_json(value.as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(parsed, FilterConfig::Gateway(rendered.gateway.clone()));

    let cluster = &rendered.bootstrap["static_resources"]["clusters"][0];
    let options = &cluster["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    let value = &options["http_filters"][0]["typed_config"]["config"]["configuration"]["value"];
    let parsed = FilterConfig::from_json(value.as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(
        parsed,
        FilterConfig::Provider(rendered.providers[0].clone())
    );
}

/// No secret from the environment ends up in any rendered file.
#[test]
fn secrets_are_never_rendered() {
    for (name, text) in cases() {
        let (rendered, notices) = render_case(&text, Path::new(CONFIG_DIR), Path::new(WASM));
        let all = format!("{}{notices:?}", rendered.bootstrap);
        assert!(
            !all.contains("secret-from-test-env"),
            "{name} leaks a secret"
        );
    }
}

/// Every case must pass `envoy --mode validate`. Validate mode instantiates the wasm
/// module (a placeholder file is refused), reads every secret (a missing variable or
/// file is an error) and opens the access log, so the cases are rendered into a scratch
/// directory that has all of them.
#[test]
fn envoy_accepts_rendered_bootstraps() {
    let (Some(envoy), Some(wasm)) = (
        std::env::var_os("TOLLGATE_ENVOY"),
        std::env::var_os("TOLLGATE_WASM").filter(|w| Path::new(w).is_file()),
    ) else {
        // Written to the real stderr so the skip shows even with captured output.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED envoy_accepts_rendered_bootstraps: set TOLLGATE_ENVOY to an envoy \
             binary and TOLLGATE_WASM to a built tollgate.wasm"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("tollgate-golden-{}", std::process::id()));
    for file in FILES {
        let file = dir.join(file);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "validate-only").unwrap();
    }
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    for (name, text) in cases() {
        let (rendered, _) = render_case(&text, &dir, Path::new(&wasm));
        let bootstrap = dir.join(format!("{name}.json"));
        std::fs::write(&bootstrap, rendered.bootstrap_json()).unwrap();
        let mut command = Command::new(&envoy);
        command.args(["--mode", "validate", "--log-level", "error", "-c"]);
        command.arg(&bootstrap);
        command.envs(environment(&dir).vars);
        let output = command.output().expect("TOLLGATE_ENVOY runs");
        assert!(
            output.status.success(),
            "envoy rejects the {name} bootstrap:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
