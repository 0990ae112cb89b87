use super::*;
use crate::config::test_support::errors;
use crate::config::{AccessLog, SecretSource, DEFAULT_CONFIG};

const HASH_A: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const HASH_B: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";

fn error(path: &str, line: usize, message: &str) -> (String, usize, String) {
    (path.to_string(), line, message.to_string())
}

#[test]
fn the_default_config_is_valid() {
    let loaded = load(DEFAULT_CONFIG, None).unwrap();
    assert_eq!(loaded.warnings, []);
    assert_eq!(loaded.config.providers.len(), 4);
    assert_eq!(loaded.config.models.len(), 4);
    let demo = tollgate_core::keys::hash_hex(crate::config::DEMO_KEY);
    assert_eq!(loaded.config.keys[0].sha256, demo);
}

#[test]
fn applies_defaults() {
    let text = format!(
        "version: 1
providers: [{{name: p, kind: openai, base_url: 'https://x.example/v1'}}]
models: [{{alias: a, provider: p, model: m}}]
keys: [{{id: k, sha256: {HASH_A}, models: ['*']}}]
"
    );
    let config = load(&text, None).unwrap().config;
    assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.admin, "127.0.0.1:9901".parse().unwrap());
    assert_eq!(config.access_log, AccessLog::Stdout);
    assert_eq!(config.max_request_bytes, 16 * 1024 * 1024);
    assert_eq!(config.providers[0].timeout, Duration::from_secs(600));
    assert_eq!(config.providers[0].credential, None);
}

#[test]
fn resolves_relative_paths_against_the_config_directory() {
    let text = format!(
        "version: 1
access_log: logs/access.log
providers:
  - name: p
    kind: anthropic
    base_url: https://x.example
    credential: {{file: keys/p.key}}
  - name: q
    kind: anthropic
    base_url: https://y.example
    credential: {{file: /abs/q.key, optional: true}}
models: [{{alias: a, provider: p, model: m}}, {{alias: b, provider: q, model: m}}]
keys: [{{id: k, sha256: {HASH_A}, models: ['*']}}]
"
    );
    let config = load(&text, Some(Path::new("/etc/tollgate")))
        .unwrap()
        .config;
    let path = |p: &str| PathBuf::from(p);
    assert_eq!(
        config.access_log,
        AccessLog::File(path("/etc/tollgate/logs/access.log"))
    );
    let sources: Vec<_> = config
        .providers
        .iter()
        .map(|p| p.credential.clone().unwrap())
        .map(|c| (c.source, c.optional))
        .collect();
    assert_eq!(
        sources,
        [
            (SecretSource::File(path("/etc/tollgate/keys/p.key")), false),
            (SecretSource::File(path("/abs/q.key")), true),
        ]
    );
}

#[test]
fn collects_every_semantic_error_with_its_location() {
    let text = format!(
        "version: 1
providers:
  - name: openai
    kind: openai
    base_url: api.openai.com/v1
    timeout: 10 minutes
  - name: openai
    kind: anthropic
    base_url: https://api.anthropic.com
    credential: {{env: 1BAD}}
models:
  - {{alias: a, provider: openai, model: m}}
  - {{alias: a, provider: opena, model: m}}
keys:
  - {{id: k, sha256: {HASH_A}, models: [a, nope]}}
  - {{id: k, sha256: {HASH_A}, models: ['*']}}
  - {{id: j, sha256: tg-plaintext, models: ['*']}}
"
    );
    assert_eq!(
        errors(&text),
        [
            error(
                "providers[0].base_url",
                5,
                "invalid base_url \"api.openai.com/v1\": expected http:// or https://"
            ),
            error(
                "providers[0].timeout",
                6,
                "invalid duration \"10 minutes\": expected a whole number with a unit: \
                 ms, s, m or h (e.g. 600s, 10m)"
            ),
            error("providers[1].name", 7, "provider \"openai\" is already defined (first at line 3)"),
            error(
                "providers[1].credential.env",
                10,
                "\"1BAD\" is not an environment variable name (letters, digits and _, not \
                 starting with a digit)"
            ),
            error("models[1].alias", 13, "model alias \"a\" is already defined (first at line 12)"),
            error(
                "models[1].provider",
                13,
                "unknown provider \"opena\"; defined providers: openai"
            ),
            error(
                "keys[0].models[1]",
                15,
                "unknown model alias \"nope\"; use \"*\" or one of: a"
            ),
            error("keys[1].id", 16, "key id \"k\" is already defined (first at line 15)"),
            error("keys[1].sha256", 16, "key hash \"{HASH_A}\" is already defined (first at line 15)"),
            error(
                "keys[2].sha256",
                17,
                "sha256 must be the 64 lower-case hex digits of the key's SHA-256; this looks \
                 like a plaintext key: store only its hash (`tollgate keys hash`) and rotate the key"
            ),
        ]
        .map(|(p, l, m)| (p, l, m.replace("{HASH_A}", HASH_A)))
    );
}

#[test]
fn reports_listener_and_limit_errors() {
    let text = format!(
        "version: 2
listen: {{address: localhost, port: 0}}
admin: {{port: 8080}}
limits: {{max_request_bytes: 0}}
access_log: ''
providers: [{{name: p, kind: openai, base_url: 'http://10.0.0.1'}}]
models: [{{alias: '*', provider: p, model: m}}]
keys: [{{id: k, sha256: {HASH_B}, models: ['*']}}]
"
    );
    assert_eq!(
        errors(&text),
        [
            error(
                "version",
                1,
                "unsupported config version 2; this tollgate reads version 1"
            ),
            error(
                "listen.address",
                2,
                "expected an IP address such as 127.0.0.1 or ::1, found \"localhost\""
            ),
            error("listen.port", 2, "port must be between 1 and 65535"),
            error(
                "admin",
                3,
                "the admin endpoint 127.0.0.1:8080 overlaps the gateway listener"
            ),
            error("limits.max_request_bytes", 4, "must be at least 1"),
            error("access_log", 5, "must not be empty"),
            error(
                "models[0].alias",
                7,
                "\"*\" is not a valid model alias: use printable characters without spaces, \
                 and not \"*\""
            ),
        ]
    );
}

#[test]
fn syntax_and_type_errors_are_located() {
    let cases = [
        (
            "version: 1\nproviders: []\nmodels: []\nkeyz: []\n",
            error(
                "keyz",
                4,
                "unknown field `keyz`, expected one of `version`, `listen`, `admin`, \
                 `access_log`, `limits`, `providers`, `models`, `keys`, `guardrails`, `prices`, \
                 `rate_limits`, `control_plane`, `budgets`, `metrics`, `mcp_servers`",
            ),
        ),
        (
            "version: 1\nproviders:\n  - name: p\n    kind: palm\n    base_url: x\nmodels: []\n",
            error(
                "providers[0].kind",
                4,
                "unknown variant `palm`, expected one of `openai`, `anthropic`, `cohere`, \
                 `azure`, `gemini`, `vertex`, `bedrock`, `mistral`, `groq`, `deepseek`, \
                 `together`, `fireworks`, `openrouter`, `ollama`, `vllm`",
            ),
        ),
        (
            "version: 1\nlisten: {port: http}\nproviders: []\nmodels: []\n",
            error(
                "listen.port",
                2,
                "invalid type: string \"http\", expected u16",
            ),
        ),
        (
            "version: 1\nproviders: []\n",
            error(".", 1, "missing field `models`"),
        ),
        (
            "version: 1\nproviders: []\nmodels: ]\n",
            error(
                "models",
                3,
                "did not find expected node content, while parsing a block node",
            ),
        ),
        (
            "version: 1\nproviders:\n  - name: p\n    bogus: 1\nmodels: []\n",
            error(
                "providers[0].bogus",
                4,
                "unknown field `bogus`, expected one of `name`, `kind`, `base_url`, \
                 `api_version`, `region`, `credential`, `timeout`",
            ),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(errors(text), [expected], "{text}");
    }
}

#[test]
fn inline_credentials_are_refused_without_echoing_them() {
    for credential in [
        "{value: sk-live-123}",
        "{env: X, key: sk-live-123}",
        "sk-live-123",
    ] {
        let text = format!(
            "version: 1
providers:
  - name: p
    kind: openai
    base_url: https://x.example
    credential: {credential}
models: []
"
        );
        let found = errors(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        let (path, line, message) = &found[0];
        assert_eq!((path.as_str(), *line), ("providers[0].credential", 6));
        assert!(message.starts_with("credentials are never written into the config file"));
        assert!(!message.contains("sk-live"), "{message}");
    }
}

#[test]
fn a_credential_needs_exactly_one_source() {
    let text = "version: 1
providers:
  - {name: p, kind: openai, base_url: 'https://x.example', credential: {env: A, file: b}}
  - {name: q, kind: openai, base_url: 'https://y.example', credential: {optional: true}}
models: []
";
    let message = "a credential needs exactly one of `env: VAR` or `file: /path/to/key`";
    assert_eq!(
        errors(text),
        [
            error("providers[0].credential", 3, message),
            error("providers[1].credential", 4, message),
        ]
    );
}

#[test]
fn google_kinds_need_their_api_paths() {
    let text = "version: 1
providers:
  - {name: studio, kind: gemini, base_url: 'https://generativelanguage.googleapis.com/v1beta', credential: {env: G}}
  - {name: vertex, kind: vertex, base_url: 'https://us-central1-aiplatform.googleapis.com/v1/projects/p-1/locations/us-central1/publishers/google/', credential: {env: V}}
  - {name: bad, kind: vertex, base_url: 'https://us-central1-aiplatform.googleapis.com/v1', credential: {env: V}}
  - {name: bare, kind: gemini, base_url: 'https://generativelanguage.googleapis.com', credential: {env: G}}
  - {name: preset, kind: gemini, credential: {env: G}}
  - {name: nowhere, kind: vertex, credential: {env: V}}
models:
  - {alias: a, provider: studio, model: gemini-2.5-flash}
  - {alias: b, provider: vertex, model: gemini-2.5-pro}
  - {alias: c, provider: bad, model: gemini-2.5-pro}
  - {alias: d, provider: bare, model: gemini-2.5-pro}
  - {alias: e, provider: preset, model: gemini-2.5-pro}
";
    let found = load(text, None).expect_err("the vertex paths are wrong");
    let found: Vec<_> = found
        .iter()
        .map(|d| (d.path.as_str(), d.location.unwrap().line, d.severity()))
        .collect();
    assert_eq!(
        found,
        [
            ("keys", 1, Severity::Warning),
            ("providers[2].base_url", 5, Severity::Error),
            ("providers[3].base_url", 6, Severity::Warning),
            ("providers[5].kind", 8, Severity::Error),
        ]
    );
    let message = Problem::VertexPath("/v1".into()).to_string();
    assert!(
        message.contains("/publishers/google") && message.contains("\"/v1\""),
        "{message}"
    );

    let good = text
        .replace(
            "aiplatform.googleapis.com/v1'",
            "aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google'",
        )
        .replace(
            "{name: nowhere, kind: vertex, credential: {env: V}}",
            "{name: nowhere, kind: vertex, base_url: 'https://global-aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google', credential: {env: V}}",
        );
    let config = load(&good, None).unwrap().config;
    let kinds: Vec<_> = config
        .providers
        .iter()
        .map(|p| (p.kind, p.kind.format()))
        .collect();
    use tollgate_core::formats::WireFormat;
    assert_eq!(kinds[0], (ProviderKind::Gemini, WireFormat::Gemini));
    assert_eq!(kinds[1], (ProviderKind::Vertex, WireFormat::Gemini));
    assert_eq!(
        config.providers[1].base_url.path,
        "/v1/projects/p-1/locations/us-central1/publishers/google"
    );
    let preset = &config.providers[4];
    assert_eq!(
        (preset.base_url.authority(), preset.api_base_path()),
        (
            "generativelanguage.googleapis.com".to_string(),
            "/v1beta".to_string()
        )
    );
}

#[test]
fn warnings_do_not_fail_the_load() {
    let text = format!(
        "version: 1
providers:
  - {{name: used, kind: openai, base_url: 'https://x.example'}}
  - {{name: idle, kind: openai, base_url: 'https://y.example'}}
models: [{{alias: a, provider: used, model: m}}]
keys:
  - {{id: k, sha256: {HASH_A}, models: [a, a]}}
  - {{id: j, sha256: {HASH_B}, models: []}}
"
    );
    let loaded = load(&text, None).unwrap();
    let warnings: Vec<_> = loaded
        .warnings
        .iter()
        .map(|d| {
            (
                d.path.as_str(),
                d.location.unwrap().line,
                d.problem.to_string(),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        [
            (
                "providers[1].name",
                4,
                "provider \"idle\" has no models, so no request can reach it".to_string()
            ),
            (
                "keys[0].models[1]",
                7,
                "\"a\" is listed more than once".to_string()
            ),
            (
                "keys[1].models",
                8,
                "key \"j\" has an empty model list, so it can use no model".to_string()
            ),
        ]
    );
    let no_keys = "version: 1\nproviders: []\nmodels: []\n";
    let warnings = load(no_keys, None).unwrap().warnings;
    assert_eq!(warnings[0].problem, Problem::NoKeys);
}

#[test]
fn bad_hash_hints_never_echo_the_value() {
    assert_eq!(
        hash_hint(&HASH_A.to_uppercase()),
        "; write it in lower case"
    );
    assert!(hash_hint("tg-abc").contains("plaintext"));
    assert!(!hash_hint("short").contains("short"));
}

#[test]
fn bedrock_needs_a_region_and_defaults_its_url() {
    let text = format!(
        "version: 1
providers:
  - {{name: b, kind: bedrock, region: eu-west-3}}
models: [{{alias: a, provider: b, model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'}}]
keys: [{{id: k, sha256: {HASH_A}, models: ['*']}}]
"
    );
    let provider = &load(&text, None).unwrap().config.providers[0];
    assert_eq!(provider.region.as_deref(), Some("eu-west-3"));
    assert_eq!(
        provider.base_url.authority(),
        "bedrock-runtime.eu-west-3.amazonaws.com"
    );
    assert!(provider.base_url.tls && provider.base_url.path.is_empty());
    assert_eq!(provider.credential, None, "SigV4 from Envoy's chain");

    let bad = "version: 1
providers:
  - {name: b, kind: bedrock}
  - {name: c, kind: bedrock, region: US_EAST}
  - {name: o, kind: openai, region: us-east-1, base_url: 'https://x.example'}
  - {name: n, kind: vertex, credential: {env: V}}
models: []
";
    assert_eq!(
        errors(bad),
        [
            error(
                "providers[0]",
                3,
                "region is required for kind bedrock (e.g. us-east-1)"
            ),
            error(
                "providers[1].region",
                4,
                "\"US_EAST\" is not an AWS region name such as us-east-1"
            ),
            error(
                "providers[2].region",
                5,
                "`region` does not apply to kind openai"
            ),
            error(
                "providers[3].kind",
                6,
                "kind vertex has no default address: set base_url"
            ),
        ]
    );
}

#[test]
fn presets_fill_in_base_urls_and_azure_needs_its_own() {
    let text = format!(
        "version: 1
providers:
  - {{name: co, kind: cohere, credential: {{env: CO}}}}
  - {{name: gq, kind: groq, credential: {{env: GQ}}}}
  - {{name: ds, kind: deepseek, base_url: 'https://proxy.example/deepseek', credential: {{env: DS}}}}
  - {{name: local, kind: ollama}}
  - {{name: az, kind: azure, base_url: 'https://res.openai.azure.com', api_version: 2024-10-21, credential: {{env: AZ}}}}
  - {{name: az1, kind: azure, base_url: 'https://res.openai.azure.com', credential: {{env: AZ}}}}
models:
  - {{alias: a, provider: co, model: command-a-03-2025}}
  - {{alias: b, provider: gq, model: llama}}
  - {{alias: c, provider: ds, model: deepseek-chat}}
  - {{alias: d, provider: local, model: llama3}}
  - {{alias: e, provider: az, model: gpt4o-prod}}
  - {{alias: f, provider: az1, model: gpt4o-prod}}
keys: [{{id: k, sha256: {HASH_A}, models: ['*']}}]
"
    );
    let loaded = load(&text, None).unwrap();
    assert_eq!(loaded.warnings, []);
    let providers = &loaded.config.providers;
    let summary: Vec<(String, String, String, Option<String>)> = providers
        .iter()
        .map(|p| {
            (
                p.base_url.authority(),
                p.api_base_path(),
                p.format().as_str().to_string(),
                p.api_version.clone(),
            )
        })
        .collect();
    let row = |host: &str, path: &str, format: &str, version: Option<&str>| {
        (
            host.to_string(),
            path.to_string(),
            format.to_string(),
            version.map(str::to_string),
        )
    };
    assert_eq!(
        summary,
        [
            row("api.cohere.com", "/v2", "cohere", None),
            row("api.groq.com", "/openai/v1", "openai", None),
            row("proxy.example", "/deepseek", "openai", None),
            row("127.0.0.1:11434", "/v1", "openai", None),
            row(
                "res.openai.azure.com",
                "/openai",
                "openai",
                Some("2024-10-21")
            ),
            row("res.openai.azure.com", "/openai/v1", "openai", None),
        ]
    );
}

#[test]
fn kind_specific_settings_are_checked() {
    let text = "version: 1
providers:
  - {name: a, kind: azure, credential: {env: A}}
  - {name: b, kind: azure, base_url: 'https://r.openai.azure.com/openai/v1', credential: {env: A}}
  - {name: c, kind: azure, base_url: 'https://r.openai.azure.com', api_version: latest, credential: {env: A}}
  - {name: d, kind: mistral, api_version: 2024-10-21, credential: {env: A}}
models: []
";
    assert_eq!(
        errors(text),
        [
            error(
                "providers[0].kind",
                3,
                "kind azure has no default address: set base_url"
            ),
            error(
                "providers[1].base_url",
                4,
                "base_url is the Azure resource endpoint (https://NAME.openai.azure.com); \
                 leave out \"/openai/v1\": Tollgate adds /openai/… itself"
            ),
            error(
                "providers[2].api_version",
                5,
                "\"latest\" is not an Azure api-version (YYYY-MM-DD or YYYY-MM-DD-preview)"
            ),
            error(
                "providers[3].api_version",
                6,
                "`api_version` does not apply to kind mistral"
            ),
        ]
    );
}

#[test]
fn hosted_kinds_without_a_credential_are_warned_about() {
    let text = format!(
        "version: 1
providers:
  - {{name: co, kind: cohere}}
  - {{name: local, kind: vllm}}
  - {{name: compat, kind: openai, base_url: 'http://10.0.0.2:8000/v1'}}
models:
  - {{alias: a, provider: co, model: m}}
  - {{alias: b, provider: local, model: m}}
  - {{alias: c, provider: compat, model: m}}
keys: [{{id: k, sha256: {HASH_A}, models: ['*']}}]
"
    );
    let warnings: Vec<(String, String)> = load(&text, None)
        .unwrap()
        .warnings
        .into_iter()
        .map(|d| (d.path, d.problem.to_string()))
        .collect();
    assert_eq!(
        warnings,
        [(
            "providers[0].kind".to_string(),
            "a provider of kind cohere needs a credential; without one its API refuses every \
             request"
                .to_string()
        )]
    );
}
