use serde_json::json;

use super::*;
use crate::attribution::Attribution;
use crate::capture::PayloadCapture;
use crate::mcp::pins::memory::MemoryStore;
use crate::mcp::step::{StepDraft, ToolInvocation, CUT_OFF};

const T0: u64 = 1_700_000_000_000;

/// A free call's (no price holds).
fn draft(id: &str, started: u64) -> OpenCall {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fetch"}}"#;
    let draft = StepDraft {
        id: format!("{id}.1"),
        started_unix_ms: started,
        server: "old".into(),
        key_id: Some("k".into()),
        team: None,
        invocation: ToolInvocation::from_body(body).unwrap(),
        attribution: Attribution::default(),
        trace: None,
        step_id: id.into(),
        capture: PayloadCapture::Metadata,
        price_nano_usd: None,
        envoy_instance: None,
    };
    OpenCall {
        draft,
        charge: None,
    }
}

fn answer(id: serde_json::Value, is_error: bool) -> Answered {
    Answered {
        id,
        jsonrpc_error: false,
        is_error,
        withheld: false,
    }
}

#[test]
fn a_call_ships_once_with_its_streamed_result() {
    let store = MemoryStore::default();
    let pending = PendingCalls {
        store: &store,
        server: "old",
    };
    pending.open("s1");
    assert_eq!(
        pending
            .wait_for("s1", &json!(3), &draft("post-3", T0), T0)
            .map(|expired| expired.steps),
        Some(vec![])
    );
    assert_eq!(pending.tool_of("s1", &json!(3)).as_deref(), Some("fetch"));
    assert_eq!(pending.tool_of("s1", &json!(4)), None);
    assert_eq!(pending.tool_of("s2", &json!(3)), None, "another session");
    // Another session's answer with the same id is not this call's.
    assert!(pending
        .answered("s2", &[answer(json!(3), true)], 200, T0 + 5)
        .steps
        .is_empty());
    let steps = pending
        .answered("s1", &[answer(json!(3), true)], 200, T0 + 1500)
        .steps;
    let [step] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(step.draft.step_id, "post-3");
    assert_eq!(step.duration_ms, 1500);
    assert!(step.end.is_error && step.end.status == 200 && step.end.error_class().is_none());
    assert!(
        pending
            .answered("s1", &[answer(json!(3), false)], 200, T0 + 9)
            .steps
            .is_empty(),
        "shipped once"
    );
    assert_eq!(pending.take("s1", &json!(3)), None);
    assert_eq!(pending.tool_of("s1", &json!(3)), None, "no longer waiting");
}

#[test]
fn a_failed_post_takes_its_call_back() {
    let store = MemoryStore::default();
    let pending = PendingCalls {
        store: &store,
        server: "old",
    };
    pending
        .wait_for("s1", &json!("a"), &draft("post-a", T0), T0)
        .unwrap();
    assert_eq!(pending.take("s1", &json!("a")), Some(draft("post-a", T0)));
    assert!(pending.close("s1", T0 + 1).steps.is_empty());
}

#[test]
fn calls_still_waiting_when_the_stream_closes_are_cut_off() {
    let store = MemoryStore::default();
    let pending = PendingCalls {
        store: &store,
        server: "old",
    };
    for id in 1..=2 {
        pending
            .wait_for("s1", &json!(id), &draft(&format!("p{id}"), T0), T0)
            .unwrap();
    }
    let steps = pending.close("s1", T0 + 40).steps;
    assert_eq!(steps.len(), 2);
    assert!(steps
        .iter()
        .all(|s| s.end.error_class() == Some(CUT_OFF) && s.duration_ms == 40));
    assert!(pending.close("s1", T0 + 50).steps.is_empty());
}

#[test]
fn a_session_is_bounded_and_old_calls_expire() {
    let store = MemoryStore::default();
    let pending = PendingCalls {
        store: &store,
        server: "old",
    };
    for id in 0..MAX_PENDING_PER_SESSION {
        pending
            .wait_for("s1", &json!(id), &draft("p", T0), T0)
            .unwrap();
    }
    let over = pending.wait_for("s1", &json!("over"), &draft("over", T0), T0 + 1);
    assert!(over.is_none(), "the POST ships it itself");
    // Past the TTL, the waiting calls ship as cut off and make room.
    let later = T0 + PENDING_TTL_MS + 1;
    let expired = pending
        .wait_for("s1", &json!("new"), &draft("new", later), later)
        .unwrap();
    assert_eq!(expired.steps.len(), MAX_PENDING_PER_SESSION);
    assert!(expired.steps.iter().all(|s| s.end.cut_off));
    let answered = pending.answered("s1", &[answer(json!("new"), false)], 200, later + 2);
    let [step] = &answered.steps[..] else {
        panic!()
    };
    assert_eq!(step.duration_ms, 2);
}
