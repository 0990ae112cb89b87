use std::path::Path;
use std::time::Duration;

use super::super::test_support::errors;
use super::super::{load, Problem, UrlError};
use super::*;

const HEAD: &str = "version: 1
providers: [{name: p, kind: openai, base_url: 'https://x.example/v1'}]
models: [{alias: a, provider: p, model: m}]
keys: [{id: k, sha256: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824, models: ['*']}]
control_plane:
  exports:
";

fn exports(text: &str) -> Vec<Export> {
    let text = format!("{HEAD}{text}");
    let loaded = load(&text, Some(Path::new("/srv/tollgate"))).unwrap();
    loaded.config.control_plane.unwrap().exports
}

#[test]
fn three_kinds_with_default_delivery() {
    let found = exports(
        "    - jsonl: {path: exports/usage.jsonl}
    - webhook: {url: 'http://127.0.0.1:9000/hook'}
    - otlp: {endpoint: 'http://localhost:4318'}
      batch_records: 10
      flush_interval: 200ms
      attempts: 2
",
    );
    assert_eq!(
        found[0].target,
        ExportTarget::Jsonl {
            path: "/srv/tollgate/exports/usage.jsonl".into()
        }
    );
    let ExportTarget::Webhook { url } = &found[1].target else {
        panic!("{:?}", found[1]);
    };
    assert_eq!(
        (url.authority(), url.path.as_str()),
        ("127.0.0.1:9000".into(), "/hook")
    );
    assert_eq!(found[1].delivery.batch_records, DEFAULT_BATCH_RECORDS);
    assert_eq!(found[1].delivery.attempts, DEFAULT_ATTEMPTS);
    assert_eq!(found[2].target.kind(), "otlp");
    assert_eq!(found[2].delivery.batch_records, 10);
    assert_eq!(found[2].delivery.flush_interval, Duration::from_millis(200));
    assert_eq!(found[2].delivery.attempts, 2);
}

#[test]
fn none_is_no_export() {
    let text = HEAD.replace("  exports:\n", "  usage: {}\n");
    let loaded = load(&text, None).unwrap();
    assert!(loaded.config.control_plane.unwrap().exports.is_empty());
}

#[test]
fn bad_exports_are_located() {
    let text = format!(
        "{HEAD}    - jsonl: {{path: a}}
      webhook: {{url: 'http://x'}}
    - webhook: {{url: 'https://hooks.example/x'}}
    - otlp: {{endpoint: 'localhost:4318'}}
    - jsonl: {{path: b}}
      batch_records: 0
      queue_records: 5
      timeout: 0s
    - {{}}
"
    );
    let found: Vec<(String, usize, String)> = errors(&text);
    let expect =
        |path: &str, line: usize, problem: Problem| (path.to_string(), line, problem.to_string());
    assert_eq!(
        found,
        [
            expect("control_plane.exports[0]", 7, Problem::ExportTarget),
            expect(
                "control_plane.exports[1].webhook.url",
                9,
                Problem::ExportTls
            ),
            expect(
                "control_plane.exports[2].otlp.endpoint",
                10,
                Problem::ExportUrl {
                    value: "localhost:4318".into(),
                    reason: UrlError::Scheme
                }
            ),
            // batch_records falls back to its default, which the queue cannot hold.
            expect("control_plane.exports[3]", 11, Problem::BatchExceedsBuffer),
            expect("control_plane.exports[3].batch_records", 12, Problem::Zero),
            expect("control_plane.exports[3].timeout", 14, Problem::Zero),
            expect("control_plane.exports[4]", 15, Problem::ExportTarget),
        ]
    );
}
