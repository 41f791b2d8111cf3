//! Browsers on the allowed origins may call the API and read its headers; others may not.

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, problem};

const PORTAL: &str = "https://portal.example.se";

async fn app_for_portal() -> TestApp {
    TestApp::spawn_seeded_with(|config, _| {
        config.cors_allowed_origins = vec![PORTAL.to_owned()];
    })
    .await
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_is_answered() {
    let app = app_for_portal().await;
    let response = app
        .http
        .request(Method::OPTIONS, app.url("/api/v1/activities"))
        .header("Origin", PORTAL)
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "authorization, if-none-match",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], PORTAL);
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap_or_default();
    assert!(
        methods.contains("GET") && methods.contains("PUT"),
        "{methods}"
    );
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("if-none-match"),
        "{headers}"
    );
    assert!(h.contains_key("access-control-max-age"));
    assert!(h.contains_key("x-request-id"));
}

#[tokio::test]
async fn an_allowed_origin_reads_etag_link_and_request_id() {
    let app = app_for_portal().await;
    let response = app
        .get("/api/v1/activities?limit=2&format=csv")
        .header("Origin", PORTAL)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], PORTAL);
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in ["etag", "link", "x-request-id"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
        assert!(h.contains_key(name), "{name} missing from the response");
    }
}

#[tokio::test]
async fn other_origins_get_no_cors_headers_and_their_preflight_is_refused() {
    let app = app_for_portal().await;
    let response = app
        .get("/api/v1/plans")
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let refused = problem(
        app.http
            .request(Method::OPTIONS, app.url("/api/v1/plans"))
            .header("Origin", "https://evil.example.com")
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("evil.example.com")),
        "{refused}"
    );
}

#[tokio::test]
async fn by_default_no_origin_is_allowed() {
    let app = TestApp::spawn().await;
    problem(
        app.http
            .request(Method::OPTIONS, app.url("/api/v1/plans"))
            .header("Origin", PORTAL)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let response = app
        .get("/api/v1/plans")
        .header("Origin", PORTAL)
        .send()
        .await
        .expect("sent");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn options_without_a_preflight_is_still_405() {
    let app = app_for_portal().await;
    let response = app
        .req(Method::OPTIONS, "/api/v1/plans")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"));
}
