//! HTTP behaviour of the embeddings endpoints beyond OpenAI's and AI Studio's: Vertex AI
//! `:predict`, Cohere `/v2/embed` and Bedrock InvokeModel (Titan, Cohere Embed).

mod support;

use serde_json::json;
use support::{post_json, COHERE_KEY, VERTEX_TOKEN};

const VERTEX_PREDICT: &str =
    "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict";

#[tokio::test]
async fn vertex_predict_counts_tokens_per_instance() {
    let addr = support::start().await;
    let auth = format!("Bearer {VERTEX_TOKEN}");
    let headers = [("authorization", auth.as_str())];
    let body = json!({"instances": [{"content": "ab"}, {"content": "abcdefghi"}],
                      "parameters": {"outputDimensionality": 3}});
    let ok = post_json(addr, VERTEX_PREDICT, &headers, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let answer = ok.json();
    let first = &answer["predictions"][0]["embeddings"];
    assert_eq!(first["values"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["values"][0], 2.0);
    assert_eq!(first["statistics"]["token_count"], 1);
    assert_eq!(
        answer["predictions"][1]["embeddings"]["statistics"]["token_count"],
        3
    );

    let unknown = json!({"instances": [{"content": "a"}], "input": "a"});
    let refused = post_json(addr, VERTEX_PREDICT, &headers, &unknown).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["status"], "INVALID_ARGUMENT");
    let keyless = post_json(addr, VERTEX_PREDICT, &[], &body).await;
    assert_eq!(keyless.status, 401);
}

#[tokio::test]
async fn cohere_embed_needs_an_input_type_and_bills_input_tokens() {
    let addr = support::start().await;
    let auth = format!("Bearer {COHERE_KEY}");
    let headers = [("authorization", auth.as_str())];
    let body = json!({"model": "embed-v4.0", "texts": ["ab", "xyz"], "input_type": "search_document",
                      "embedding_types": ["float"], "output_dimension": 256});
    let ok = post_json(addr, "/v2/embed", &headers, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let answer = ok.json();
    assert_eq!(answer["response_type"], "embeddings_by_type");
    assert_eq!(answer["embeddings"]["float"][1][0], 3.0);
    assert_eq!(
        answer["embeddings"]["float"][0].as_array().map(Vec::len),
        Some(256)
    );
    assert_eq!(answer["meta"]["billed_units"]["input_tokens"], 2);

    let mut untyped = body.clone();
    untyped.as_object_mut().unwrap().remove("input_type");
    let refused = post_json(addr, "/v2/embed", &headers, &untyped).await;
    assert_eq!(refused.status, 400);
    assert!(refused.json()["message"]
        .as_str()
        .unwrap()
        .contains("input_type"));
    let mut odd = body.clone();
    odd["output_dimension"] = json!(300);
    assert_eq!(
        post_json(addr, "/v2/embed", &headers, &odd).await.status,
        400
    );
}

#[tokio::test]
async fn bedrock_invoke_speaks_each_model_family() {
    let addr = support::start().await;
    let headers = [("authorization", "Bearer bedrock-api-key")];
    let titan = "/model/amazon.titan-embed-text-v2%3A0/invoke";
    let ok = post_json(
        addr,
        titan,
        &headers,
        &json!({"inputText": "abcde", "dimensions": 256, "normalize": true}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-amzn-bedrock-input-token-count"), Some("2"));
    let answer = ok.json();
    assert_eq!(answer["embedding"].as_array().map(Vec::len), Some(256));
    assert_eq!(answer["inputTextTokenCount"], 2);

    let batch = post_json(
        addr,
        titan,
        &headers,
        &json!({"inputText": "a", "texts": ["b"]}),
    )
    .await;
    assert_eq!(batch.status, 400);
    assert!(batch
        .header("x-amzn-errortype")
        .unwrap()
        .starts_with("ValidationException"));
    assert!(batch.json()["message"]
        .as_str()
        .unwrap()
        .contains("extraneous key [texts]"));

    let cohere = "/model/cohere.embed-english-v3/invoke";
    let body = json!({"texts": ["ab", "xyz"], "input_type": "search_document", "embedding_types": ["float"]});
    let ok = post_json(addr, cohere, &headers, &body).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("x-amzn-bedrock-input-token-count"), Some("2"));
    assert_eq!(ok.json()["embeddings"]["float"][1][0], 3.0);
    assert!(ok.json().get("meta").is_none());
    let named = post_json(
        addr,
        cohere,
        &headers,
        &json!({"model": "m", "texts": ["a"], "input_type": "search_query"}),
    )
    .await;
    assert_eq!(named.status, 400);
}
