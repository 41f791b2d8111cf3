//! The committed OpenAPI document is the one the code generates and the service serves.

use reqwest::StatusCode;

use crate::helpers::{TestApp, json_ok};

const REGENERATE: &str = "cargo run -q -- openapi > openapi/openapi.json";

#[test]
fn committed_openapi_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_else(|_| panic!("openapi/openapi.json is missing; run `{REGENERATE}`"));
    let generated = kulturplan::openapi::document_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; run `{REGENERATE}` and commit it"
    );
}

#[tokio::test]
async fn the_served_document_is_the_committed_one_and_is_openapi_3_1() {
    let app = TestApp::spawn().await;
    let served = json_ok(
        app.http.get(app.url("/openapi.json")).send().await,
        StatusCode::OK,
    )
    .await;
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(served["components"]["securitySchemes"]["bearer"].is_object());
    // Every operation under /api/v1 requires the bearer scheme and documents its errors.
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/v1") {
                assert!(op["security"].is_array(), "{method} {path} has no security");
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path} does not document 401"
                );
            }
        }
    }
}
