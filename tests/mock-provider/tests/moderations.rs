//! OpenAI `/v1/moderations`: the real answer shape, one result per input, and markers that
//! let tests choose which categories fire.

mod support;

use serde_json::json;
use support::{post_json, OPENAI_KEY};

#[tokio::test]
async fn one_result_per_input_with_every_category() {
    let addr = support::start().await;
    let auth = format!("Bearer {OPENAI_KEY}");
    let headers = [("authorization", auth.as_str())];
    let body = json!({"model": "omni-moderation-latest",
                      "input": ["a calm sentence", "moderate:violence and moderate:hate@0.2"]});
    let ok = post_json(addr, "/v1/moderations", &headers, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let answer = ok.json();
    assert!(answer["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("modr-")));
    assert_eq!(answer["model"], "omni-moderation-latest");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["flagged"], false);
    assert_eq!(
        results[0]["categories"].as_object().map(|c| c.len()),
        Some(13)
    );
    assert_eq!(
        results[0]["category_applied_input_types"]["self-harm"],
        json!(["text"])
    );
    let fired = &results[1];
    assert_eq!(
        (
            fired["flagged"].clone(),
            fired["categories"]["violence"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(fired["categories"]["hate"], false);
    assert_eq!(fired["category_scores"]["hate"], 0.2);

    let failing = json!({"model": "m", "input": "moderate:fail"});
    assert_eq!(
        post_json(addr, "/v1/moderations", &headers, &failing)
            .await
            .status,
        500
    );
    let keyless = post_json(addr, "/v1/moderations", &[], &body).await;
    assert_eq!(keyless.status, 401);
    let empty = post_json(addr, "/v1/moderations", &headers, &json!({"model": "m"})).await;
    assert_eq!(empty.status, 400);
}
