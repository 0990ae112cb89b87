//! Routes: one per alias (or per arm of an alias that splits traffic between chains, and
//! per branch of a conditional alias), matched on the alias header the gateway filter
//! sets (and its branch header), then a 404 for the rest. A branch's routes come before
//! the default's, which match the alias alone.
//!
//! A chain is Envoy's `priority_group` cluster specifier with `refresh_cluster_on_retry`:
//! attempt N goes to group N, and each attempt runs its own cluster's provider filter, so
//! a fallback from one wire format to another translates afresh (see envoy-spike.md Q3).
//! A step with `attempts: k` is k consecutive groups. A split between chains is one route
//! per arm, matched by `runtime_fraction` on the request's one random value: the arms'
//! cumulative shares, so arm i takes the slice between its predecessors' share and its own.

use serde_json::{json, Value};
use tollgate_core::error::{ErrorKind, GatewayError};
use tollgate_core::formats::WireFormat;
use tollgate_core::headers;

use super::bootstrap::{cluster_name, proto_duration};
use crate::config::{Arm, Config, Model, Retry, Step, Trigger};

const PRIORITY_GROUP: &str = "type.googleapis.com/envoy.extensions.router.cluster_specifiers.priority_group.v3.PriorityGroupClusterSpecifier";
/// Resolution of arm shares.
const MILLION: u64 = 1_000_000;
/// Route metadata namespace the provider filter reads (`xds.route_metadata`).
pub const METADATA_NAMESPACE: &str = "tollgate";

pub fn routes(config: &Config) -> Vec<Value> {
    let mut routes: Vec<Value> = config.models.iter().flat_map(model_routes).collect();
    routes.extend(super::mcp::routes(config));
    let not_found = GatewayError::new(
        ErrorKind::NotFound,
        "not_found",
        "No route matches this request: unknown endpoint or model.",
    );
    routes.push(json!({
        "name": "not_found",
        "match": {"prefix": "/"},
        "direct_response": {
            "status": not_found.status(),
            "body": {"inline_string": not_found.to_value(WireFormat::OpenAi).to_string()},
        },
        "response_headers_to_add": [{
            "header": {"key": "content-type", "value": "application/json"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }],
    }));
    routes
}

/// The routes of one alias: each rule's branch (matched on the branch header the gateway
/// filter sets), then the default branch (no header: no rule matched).
fn model_routes(model: &Model) -> Vec<Value> {
    let rules = model.rules.iter().enumerate().flat_map(|(i, rule)| {
        let branch = json!({"name": headers::BRANCH, "string_match": {"exact": i.to_string()}});
        let name = format!("model.{}.rule{i}", model.alias);
        branch_routes(model, &rule.arms, &name, Some(branch))
    });
    let name = match model.rules.is_empty() {
        true => format!("model.{}", model.alias),
        false => format!("model.{}.default", model.alias),
    };
    rules
        .chain(branch_routes(model, &model.arms, &name, None))
        .collect()
}

/// One route per arm of a branch, matched on the alias (and `branch`, for a rule's).
fn branch_routes(model: &Model, arms: &[Arm], name: &str, branch: Option<Value>) -> Vec<Value> {
    let total: u64 = arms.iter().map(|a| u64::from(a.weight)).sum();
    let mut cumulative = 0;
    let last = arms.len().saturating_sub(1);
    arms.iter()
        .enumerate()
        .map(|(i, arm)| {
            let mut headers =
                vec![json!({"name": headers::ALIAS, "string_match": {"exact": model.alias}})];
            headers.extend(branch.clone());
            let mut matcher = json!({"prefix": "/", "headers": headers});
            let name = if arms.len() == 1 {
                name.to_string()
            } else {
                format!("{name}.arm{i}")
            };
            cumulative += u64::from(arm.weight);
            // The last arm takes whatever the others left, so rounding loses no traffic.
            if i < last {
                let share = cumulative * MILLION / total.max(1);
                matcher["runtime_fraction"] = json!({
                    "default_value": {"numerator": share, "denominator": "MILLION"},
                    "runtime_key": format!("tollgate.{name}"),
                });
            }
            json!({
                "name": name,
                "match": matcher,
                "route": action(model, arm),
                "metadata": {"filter_metadata": {METADATA_NAMESPACE: {
                    "steps": attempt_steps(arm, model.retry.attempts),
                }}},
            })
        })
        .collect()
}

/// The fallback step of each attempt, comma-separated (`0,0,1`): the provider filter
/// reports the step of the attempt that served.
fn attempt_steps(arm: &Arm, attempts: u32) -> String {
    (0..arm.steps.len())
        .flat_map(|step| std::iter::repeat_n(step.to_string(), attempts as usize))
        .collect::<Vec<_>>()
        .join(",")
}

fn action(model: &Model, arm: &Arm) -> Value {
    let retry = &model.retry;
    let groups = arm.steps.len() as u32 * retry.attempts;
    let single = match arm.steps.as_slice() {
        [Step { targets }] if targets.len() == 1 => Some(&targets[0]),
        _ => None,
    };
    let mut action = match single {
        Some(target) => json!({"cluster": cluster_name(&target.provider)}),
        None => json!({"inline_cluster_specifier_plugin": {"extension": {
            "name": "envoy.router.cluster_specifier_plugin.priority_group",
            "typed_config": {"@type": PRIORITY_GROUP, "priority_groups": priority_groups(arm, retry.attempts)},
        }}}),
    };
    action["timeout"] = json!(proto_duration(model.timeouts.total));
    if groups > 1 || model.timeouts.attempt.is_some() || model.timeouts.idle.is_some() {
        let mut policy = retry_policy(retry, groups - 1);
        // The attempt timeout bounds the time to the answer's start (Envoy ignores it once
        // the response has started, and the provider filter holds a stream's headers until
        // its first content); the idle timeout bounds the pauses of a long stream.
        if let Some(attempt) = model.timeouts.attempt {
            policy["per_try_timeout"] = json!(proto_duration(attempt));
        }
        if let Some(idle) = model.timeouts.idle {
            policy["per_try_idle_timeout"] = json!(proto_duration(idle));
        }
        if single.is_none() {
            // Re-run the specifier per attempt: attempt N goes to group N.
            policy["refresh_cluster_on_retry"] = json!(true);
        }
        action["retry_policy"] = policy;
    }
    action
}

fn priority_groups(arm: &Arm, attempts: u32) -> Vec<Value> {
    arm.steps
        .iter()
        .enumerate()
        .flat_map(|(i, step)| {
            let clusters: Vec<Value> = step
                .targets
                .iter()
                .map(|t| json!({"cluster_name": cluster_name(&t.provider), "weight": t.weight}))
                .collect();
            (0..attempts).map(move |n| json!({"name": format!("step{i}.attempt{n}"), "clusters": clusters.clone()}))
        })
        .collect()
}

/// Envoy's retry policy for the alias's failure triggers. Status codes and connection
/// failures map one to one; Envoy retries an attempt timeout (a local reset) and a reset
/// by the provider under one condition, `reset`, which validation makes the config name
/// together (see `envoy_trigger_problem`).
fn retry_policy(retry: &Retry, num_retries: u32) -> Value {
    let statuses: Vec<u16> = retry
        .on
        .iter()
        .filter_map(|t| match t {
            Trigger::Status(code) => Some(*code),
            _ => None,
        })
        .collect();
    let mut conditions = Vec::new();
    if !statuses.is_empty() {
        conditions.push("retriable-status-codes");
    }
    if retry.on.contains(&Trigger::ConnectFailure) {
        conditions.push("connect-failure");
    }
    if retry.on.contains(&Trigger::Reset) {
        conditions.push("reset");
    }
    let mut policy = json!({
        "retry_on": conditions.join(","),
        "num_retries": num_retries,
        "retry_back_off": {
            "base_interval": proto_duration(retry.backoff_base),
            "max_interval": proto_duration(retry.backoff_max),
        },
    });
    if !statuses.is_empty() {
        policy["retriable_status_codes"] = json!(statuses);
    }
    if let Some(max) = retry.retry_after_max {
        // The provider filter turns millisecond variants into `retry-after` seconds.
        policy["rate_limited_retry_back_off"] = json!({
            "reset_headers": [{"name": "retry-after", "format": "SECONDS"}],
            "max_interval": proto_duration(max),
        });
    }
    policy
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
