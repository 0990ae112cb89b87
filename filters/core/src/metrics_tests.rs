use regex::Regex;

use super::*;
use crate::guard::{Action, Category, Finding};
use crate::guardrails::Stage;
use crate::model::Usage;

fn record() -> UsageRecord {
    let mut record = UsageRecord::new("openai");
    record.alias = Some("gpt-4.1".into());
    record.upstream_model = Some("gpt-4.1-2025-04-14".into());
    record.key_id = Some("key-1".into());
    record.status = 200;
    record.attempt = Some(1);
    record.fallback_step = Some("0".into());
    record.duration_ms = Some(42);
    record.cost_nano_usd = Some(1500);
    record.usage = Some(Usage {
        input_tokens: Some(10),
        cache_read_tokens: Some(5),
        output_tokens: Some(7),
        ..Usage::default()
    });
    record
}

/// What Envoy does with the bootstrap's `stats_tags`: each regex's first group is cut
/// from the name, its second is the tag's value.
fn extract(name: &str) -> (String, Vec<(String, String)>) {
    let mut name = name.to_string();
    let mut tags = Vec::new();
    for (label, regex) in stats_tags() {
        let regex = Regex::new(&regex).unwrap();
        let Some(found) = regex.captures(&name) else {
            continue;
        };
        let cut = found.get(1).unwrap().range();
        tags.push((label.to_string(), found[2].to_string()));
        name.replace_range(cut, "");
    }
    (name, tags)
}

fn sample<'a>(samples: &'a [Sample], metric: &str) -> Option<&'a Sample> {
    samples.iter().find(|s| extract(&s.name).0 == metric)
}

#[test]
fn labels_come_back_out_of_the_name() {
    let name = stat_name(REQUESTS, &[("provider", "openai"), ("model", "gpt-4.1")]);
    assert_eq!(
        name,
        "provider=.=openai;.;model=.=gpt-4.1;.;tollgate_requests_total"
    );
    let (metric, tags) = extract(&name);
    assert_eq!(metric, REQUESTS);
    assert_eq!(
        tags,
        [
            ("provider".to_string(), "openai".to_string()),
            ("model".to_string(), "gpt-4.1".to_string())
        ]
    );
}

#[test]
fn a_semicolon_in_a_value_cannot_end_its_label() {
    let name = stat_name(REQUESTS, &[("model", "a;.;provider=.=x")]);
    let (metric, tags) = extract(&name);
    assert_eq!(metric, REQUESTS);
    assert_eq!(
        tags,
        [("model".to_string(), "a_._provider_._x".to_string())]
    );
}

#[test]
fn an_attempt_counts_request_tokens_cost_and_latency() {
    let samples = attempt_samples(&record());
    let requests = sample(&samples, REQUESTS).unwrap();
    assert_eq!((requests.kind, requests.value), (Kind::Counter, 1));
    let (_, tags) = extract(&requests.name);
    let tag = |name: &str| {
        tags.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(tag("provider"), Some("openai"));
    assert_eq!(tag("model"), Some("gpt-4.1"));
    assert_eq!(tag("upstream_model"), Some("gpt-4.1-2025-04-14"));
    assert_eq!(tag("status_class"), Some("2xx"));
    assert_eq!(sample(&samples, INPUT_TOKENS).unwrap().value, 15);
    assert_eq!(sample(&samples, OUTPUT_TOKENS).unwrap().value, 7);
    assert_eq!(sample(&samples, COST).unwrap().value, 1500);
    let latency = sample(&samples, UPSTREAM_LATENCY).unwrap();
    assert_eq!((latency.kind, latency.value), (Kind::Histogram, 42));
    assert!(sample(&samples, RETRIES).is_none());
    assert!(sample(&samples, FALLBACKS).is_none());
}

#[test]
fn no_key_or_request_identity_reaches_a_name() {
    let mut record = record();
    record.id = "req-123.1".into();
    record.attribution.run_id = Some("run-9".into());
    for sample in attempt_samples(&record) {
        for secret in ["key-1", "req-123", "run-9"] {
            assert!(!sample.name.contains(secret), "{}", sample.name);
        }
    }
}

#[test]
fn retries_and_fallbacks_are_counted_apart() {
    let mut retried = record();
    retried.attempt = Some(2);
    let samples = attempt_samples(&retried);
    assert!(sample(&samples, RETRIES).is_some());
    assert!(sample(&samples, FALLBACKS).is_none());

    retried.fallback_step = Some("1".into());
    retried.status = 503;
    retried.usage = None;
    retried.cost_nano_usd = None;
    let samples = attempt_samples(&retried);
    assert!(sample(&samples, FALLBACKS).is_some());
    let (_, tags) = extract(&sample(&samples, REQUESTS).unwrap().name);
    assert!(tags.contains(&("status_class".into(), "5xx".into())));
    // Nothing spent, nothing added: no zero-valued updates.
    assert!(sample(&samples, INPUT_TOKENS).is_none());
    assert!(sample(&samples, COST).is_none());
}

#[test]
fn status_classes() {
    assert_eq!(status_class(200), "2xx");
    assert_eq!(status_class(429), "4xx");
    assert_eq!(status_class(504), "5xx");
    assert_eq!(status_class(0), "other");
}

#[test]
fn guardrail_verdicts_by_guardrail_stage_and_action() {
    let mut report = Report::default();
    let finding = |category| Finding {
        guardrail: "pii".into(),
        category,
        action: Action::Redact,
        span: 0..1,
    };
    report.findings(
        Stage::Input,
        &[finding(Category::Email), finding(Category::Phone)],
    );
    report.verdict(Stage::Output, "injection", "override", Action::Deny);
    let samples = guardrail_samples("openai", &report);
    assert_eq!(samples.len(), 2);
    let (metric, tags) = extract(&samples[0].name);
    assert_eq!(metric, GUARDRAIL_VERDICTS);
    assert_eq!(samples[0].value, 2, "categories add up");
    assert!(tags.contains(&("guardrail".into(), "pii".into())));
    assert!(tags.contains(&("stage".into(), "input".into())));
    assert!(tags.contains(&("action".into(), "redact".into())));
    let (_, tags) = extract(&samples[1].name);
    assert!(tags.contains(&("action".into(), "deny".into())));
    assert!(tags.contains(&("stage".into(), "output".into())));
}
