use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::budget::store::ledger;
use crate::budget::{BudgetScope, Period};
use crate::mcp::patterns::Pattern;
use crate::mcp::pins::memory::MemoryStore;
use crate::mcp::pins::PinBook;
use crate::mcp::request::StatelessHeaders;
use crate::mcp::test_support::access;
use crate::mcp::ToolChangePolicy;

const NOW: u64 = 1_795_392_000_000;

fn price(tool: &str, nano: u64) -> ToolPrice {
    ToolPrice {
        tool: Pattern(tool.into()),
        nano_usd_per_call: nano,
    }
}

fn budget(id: &str, scope: BudgetScope, limit: u64) -> Budget {
    Budget {
        id: id.into(),
        scope,
        limit_nano_usd: limit,
        period: Period::Daily,
    }
}

fn call(tool: &str) -> Vec<u8> {
    json!({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":tool,"arguments":{}}})
        .to_string()
        .into_bytes()
}

struct Fixture {
    store: MemoryStore,
    prices: Vec<ToolPrice>,
    budgets: Vec<Budget>,
}

impl Fixture {
    fn new(budgets: Vec<Budget>) -> Fixture {
        Fixture {
            store: MemoryStore::default(),
            prices: vec![price("search_*", 300), price("*", 100), price("echo", 999)],
            budgets,
        }
    }

    fn check(&self, body: &[u8], agent: Option<&str>) -> Result<Option<Charge>, Box<Refusal>> {
        let approved = BTreeMap::new();
        let pins = PinBook {
            store: &self.store,
            server: "s",
            approved: &approved,
        };
        let access = access(&["*"], &["secret"]);
        let request = ClientRequest {
            headers: StatelessHeaders::default(),
            key_id: "k1",
            call_limits: &[],
            now_ms: NOW,
            access: &access,
            pins: &pins,
            on_tool_change: ToolChangePolicy::Flag,
            guardrails: None,
            schemas: None,
        };
        let pricing = Pricing {
            prices: &self.prices,
            budgets: &self.budgets,
            store: &self.store,
            team: Some("red"),
            agent,
        };
        pricing
            .check(&request, body, &mut Report::default())
            .map(|(_, charge)| charge)
    }

    fn reserved(&self, id: &str) -> (u64, u64) {
        let b = self.budgets.iter().find(|b| b.id == id).unwrap();
        let l = ledger(&self.store, b).unwrap_or_default();
        (l.reserved, l.local)
    }
}

#[test]
fn the_first_matching_price_applies() {
    let prices = [price("search_*", 300), price("*", 100), price("echo", 999)];
    assert_eq!(price_of(&prices, "search_web"), Some(300));
    // `*` comes before `echo`: first match wins, not the most specific.
    assert_eq!(price_of(&prices, "echo"), Some(100));
    assert_eq!(price_of(&[price("free", 0)], "free"), None);
    assert_eq!(price_of(&[], "echo"), None);
}

#[test]
fn a_priced_call_holds_its_price_in_every_budget_that_applies() {
    let f = Fixture::new(vec![
        budget("key", BudgetScope::Key("k1".into()), 1000),
        budget("team", BudgetScope::Team("red".into()), 1000),
        budget("agent", BudgetScope::Agent("planner".into()), 1000),
        budget("other", BudgetScope::Key("k2".into()), 1000),
    ]);
    let charge = f.check(&call("search_web"), Some("planner")).unwrap();
    assert_eq!(charge.as_ref().map(|c| c.price), Some(300));
    for id in ["key", "team", "agent"] {
        assert_eq!(f.reserved(id), (300, 0), "{id}");
    }
    assert_eq!(f.reserved("other"), (0, 0));
    let ran = CallEnd {
        status: 200,
        is_error: true,
        ..CallEnd::default()
    };
    let charge = charge.unwrap();
    assert_eq!(
        charge.cost(&ran),
        300,
        "a tool that ran and failed is spent"
    );
    charge.settle(&f.store, NOW + 1, 300).unwrap();
    assert_eq!(f.reserved("key"), (0, 300));
}

#[test]
fn a_budget_that_cannot_hold_the_price_refuses_the_call_and_holds_nothing() {
    let f = Fixture::new(vec![
        budget("wide", BudgetScope::Key("k1".into()), 10_000),
        budget("narrow", BudgetScope::Team("red".into()), 250),
    ]);
    let first = f.check(&call("other"), None).unwrap().unwrap();
    assert_eq!(first.price, 100);
    let refusal = f.check(&call("search_web"), None).unwrap_err();
    assert_eq!(refusal.status, 200);
    assert_eq!(refusal.reason, "budget_exceeded");
    assert_eq!(refusal.target.as_deref(), Some("search_web"));
    let body: Value = serde_json::from_slice(&refusal.body).unwrap();
    assert_eq!(body["id"], "c1");
    assert_eq!(body["error"]["code"], jsonrpc::BUDGET_EXCEEDED);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'narrow'"));
    // Only the first call's hold stays: the refused one gave back what it had reserved.
    assert_eq!(f.reserved("wide"), (100, 0));
}

#[test]
fn free_calls_other_methods_and_refused_calls_reserve_nothing() {
    let mut f = Fixture::new(vec![budget("key", BudgetScope::Key("k1".into()), 1)]);
    f.prices = vec![price("search_*", 300)];
    assert_eq!(f.check(&call("echo"), None).unwrap(), None);
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert_eq!(f.check(list, None).unwrap(), None);
    // Refused for access before any price is looked at.
    f.prices = vec![price("*", 300)];
    let refusal = f.check(&call("secret"), None).unwrap_err();
    assert_eq!(refusal.reason, "access_denied");
    assert_eq!(f.reserved("key"), (0, 0));
}

#[test]
fn a_call_the_server_turned_down_costs_nothing() {
    let f = Fixture::new(Vec::new());
    let charge = f.check(&call("echo"), None).unwrap().unwrap();
    let answered = CallEnd {
        status: 200,
        ..CallEnd::default()
    };
    assert_eq!(charge.cost(&answered), 100);
    let cut_off = CallEnd::default();
    assert_eq!(charge.cost(&cut_off), 100, "the tool may have run");
    let rpc_error = CallEnd {
        jsonrpc_error: true,
        ..answered
    };
    assert_eq!(charge.cost(&rpc_error), 0);
    let unavailable = CallEnd {
        status: 503,
        ..CallEnd::default()
    };
    assert_eq!(charge.cost(&unavailable), 0);
}

#[test]
fn a_cut_off_calls_holds_are_settled_by_whoever_finishes_it() {
    use crate::capture::PayloadCapture;
    use crate::mcp::unfinished::Unfinished;
    let f = Fixture::new(vec![budget("key", BudgetScope::Key("k1".into()), 10_000)]);
    let left = |charge: Charge| {
        // As the MCP filter drafts a priced call's step.
        let mut draft = crate::mcp::step::tests::draft(PayloadCapture::Metadata);
        draft.price_nano_usd = Some(charge.price);
        let call = Unfinished::Call(Box::new(crate::mcp::step::OpenCall {
            draft,
            charge: Some(charge),
        }));
        // Through filter state, as the gateway filter reads it.
        Unfinished::decode(call.encode().as_bytes()).unwrap()
    };
    let charge = f.check(&call("search_web"), None).unwrap().unwrap();
    let finished = left(charge).finish(0, None, &f.store, NOW + 5);
    assert_eq!(finished.unsettled_nano_usd, 0);
    assert_eq!(
        finished.steps[0].cost_nano_usd(),
        Some(300),
        "cut off: the tool may have run"
    );
    assert_eq!(f.reserved("key"), (0, 300), "spent, no longer held");
    let charge = f.check(&call("search_web"), None).unwrap().unwrap();
    assert_eq!(f.reserved("key"), (300, 300));
    let finished = left(charge).finish(503, Some("upstream_unavailable"), &f.store, NOW + 6);
    assert_eq!(finished.steps[0].cost_nano_usd(), None);
    assert_eq!(
        f.reserved("key"),
        (0, 300),
        "the server never saw it: released"
    );
}

#[test]
fn a_legacy_calls_price_is_settled_by_the_result_on_its_stream() {
    use crate::capture::PayloadCapture;
    use crate::mcp::pending::PendingCalls;
    use crate::mcp::response::Answered;
    use crate::mcp::step::OpenCall;
    let f = Fixture::new(vec![budget("key", BudgetScope::Key("k1".into()), 10_000)]);
    let pending = PendingCalls {
        store: &f.store,
        server: "old",
    };
    pending.open("s1");
    let post = |id: u32| {
        let charge = f.check(&call("search_web"), None).unwrap().unwrap();
        let mut draft = crate::mcp::step::tests::draft(PayloadCapture::Metadata);
        draft.price_nano_usd = Some(charge.price);
        draft.started_unix_ms = NOW;
        let call = OpenCall {
            draft,
            charge: Some(charge),
        };
        assert!(pending.wait_for("s1", &json!(id), &call, NOW).is_some());
    };
    post(1);
    post(2);
    assert_eq!(
        f.reserved("key"),
        (600, 0),
        "held while the results are due"
    );
    let answer = |id: u32, jsonrpc_error: bool| Answered {
        id: json!(id),
        jsonrpc_error,
        is_error: false,
        withheld: false,
    };
    let turned_down = pending.answered("s1", &[answer(1, true)], 200, NOW + 1);
    assert_eq!(turned_down.steps[0].cost_nano_usd(), None);
    assert_eq!(f.reserved("key"), (300, 0), "a JSON-RPC error: released");
    let ran = pending.answered("s1", &[answer(2, false)], 200, NOW + 2);
    assert_eq!(ran.steps[0].cost_nano_usd(), Some(300));
    assert_eq!(
        f.reserved("key"),
        (0, 300),
        "the ledger and the record agree"
    );
    post(3);
    let closed = pending.close("s1", NOW + 3);
    assert_eq!(
        closed.steps[0].cost_nano_usd(),
        Some(300),
        "cut off: may have run"
    );
    assert_eq!(f.reserved("key"), (0, 600));
}
