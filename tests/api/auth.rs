//! Authentication and scopes: who may call what.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_ok, problem};

fn claims(app: &TestApp, overrides: Value) -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({
        "sub": "attacker", "iss": app.config.jwt_issuer, "aud": app.config.jwt_audience,
        "exp": now + 600, "nbf": now, "iat": now, "jti": uuid::Uuid::new_v4(), "scope": "admin"
    });
    for (key, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn sign(claims: &Value, algorithm: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn dev_secret() -> &'static [u8] {
    kulturplan::config::DEVELOPMENT_SECRET.as_bytes()
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let response = app
        .http
        .get(app.url("/api/v1/plans"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"kulturplan\"",
        "{why}"
    );
    let body: Value = response.json().await.unwrap();
    // One answer for every kind of bad token: nothing that helps to forge a better one.
    assert_eq!(
        body["detail"], "A valid bearer token is required: the token is invalid or expired.",
        "{why}"
    );
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let app = TestApp::spawn().await;
    let token = sign(
        &claims(&app, json!({"scope": "read"})),
        Algorithm::HS256,
        dev_secret(),
    );
    let response = app
        .http
        .get(app.url("/api/v1/plans"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let now = jsonwebtoken::get_current_timestamp();
    let cases = [
        (
            sign(
                &claims(&app, json!({"exp": now - 3600})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "expired",
        ),
        (
            sign(
                &claims(&app, json!({"nbf": now + 3600})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "not yet valid",
        ),
        (
            sign(
                &claims(&app, json!({"aud": "another-api"})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "wrong audience",
        ),
        (
            sign(
                &claims(&app, json!({"iss": "someone-else"})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "wrong issuer",
        ),
        (
            sign(
                &claims(&app, json!({"exp": null})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "missing exp",
        ),
        (
            sign(
                &claims(&app, json!({})),
                Algorithm::HS256,
                b"another-secret-of-sufficient-length!!",
            ),
            "other key",
        ),
        (
            sign(&claims(&app, json!({})), Algorithm::HS384, dev_secret()),
            "other algorithm",
        ),
        (
            sign(
                &claims(&app, json!({"scope": "read superuser"})),
                Algorithm::HS256,
                dev_secret(),
            ),
            "unknown scope",
        ),
    ];
    for (token, why) in cases {
        assert_refused(&app, &token, why).await;
    }

    // alg: none with no signature.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&app, json!({}))).unwrap());
    assert_refused(&app, &format!("{header}.{payload}."), "alg none").await;

    // Algorithm confusion: a header naming RS256 (or ES256) over a correct HMAC signature with
    // the service's own secret. The verifier is pinned to HS256 and must not follow the header.
    for alg in ["RS256", "ES256", "PS256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&app, json!({}))).unwrap());
        let signature = jsonwebtoken::crypto::sign(
            format!("{header}.{payload}").as_bytes(),
            &EncodingKey::from_secret(dev_secret()),
            Algorithm::HS256,
        )
        .unwrap();
        assert_refused(
            &app,
            &format!("{header}.{payload}.{signature}"),
            &format!("{alg} header over an HMAC signature"),
        )
        .await;
    }
    // The control: the same construction with the HS256 header is accepted, so the refusals
    // above are the header's doing.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims(&app, json!({"scope": "read"}))).unwrap());
    let signature = jsonwebtoken::crypto::sign(
        format!("{header}.{payload}").as_bytes(),
        &EncodingKey::from_secret(dev_secret()),
        Algorithm::HS256,
    )
    .unwrap();
    let accepted = app
        .http
        .get(app.url("/api/v1/plans"))
        .bearer_auth(format!("{header}.{payload}.{signature}"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);

    // A valid token whose payload was changed after signing.
    let valid = sign(
        &claims(&app, json!({"scope": "read"})),
        Algorithm::HS256,
        dev_secret(),
    );
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims(&app, json!({"scope": "admin"}))).unwrap());
    assert_refused(
        &app,
        &format!("{}.{}.{}", parts[0], tampered_payload, parts[2]),
        "tampered payload",
    )
    .await;
    assert_refused(&app, "not-a-jwt", "garbage").await;
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401_with_a_challenge() {
    let app = TestApp::spawn().await;
    for header in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer "),
        Some("Token abc"),
    ] {
        let mut request = app.http.get(app.url("/api/v1/actors"));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        problem(Ok(response), StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn scopes_decide_what_a_token_may_do() {
    let app = TestApp::spawn().await;
    let (_, goal_id, activity_id) = app.plan_goal_activity().await;
    let read = app.token(&["read"]);
    let plans_write = app.token(&["plans:write"]);
    let follow_ups = app.token(&["follow_ups:write"]);

    // read may read, not write.
    let ok = app
        .http
        .get(app.url("/api/v1/plans"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body = json!({"goal_id": goal_id, "title": "Ny aktivitet"});
    problem(
        app.http
            .post(app.url("/api/v1/activities"))
            .bearer_auth(&read)
            .json(&body)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // plans:write may write plans but not follow-ups, and not read without `read`.
    json_ok(
        app.http
            .post(app.url("/api/v1/activities"))
            .bearer_auth(&plans_write)
            .json(&body)
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/activities/{activity_id}/follow-ups/2025");
    let follow_up = json!({"status": "ongoing"});
    let refused = problem(
        app.http
            .put(app.url(&path))
            .bearer_auth(&plans_write)
            .json(&follow_up)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("follow_ups:write")
    );
    problem(
        app.http
            .get(app.url("/api/v1/plans"))
            .bearer_auth(&plans_write)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // follow_ups:write may write follow-ups only.
    json_ok(
        app.http
            .put(app.url(&path))
            .bearer_auth(&follow_ups)
            .json(&follow_up)
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    problem(
        app.http
            .post(app.url("/api/v1/activities"))
            .bearer_auth(&follow_ups)
            .json(&body)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // Nothing was written by the refused calls.
    assert_eq!(app.count("activities").await, 2);
}

#[tokio::test]
async fn probes_openapi_and_docs_need_no_token() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/health/ready", "/openapi.json", "/docs/"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = redirect.get(app.url("/docs")).send().await.unwrap();
    assert!(response.status().is_redirection());
    // The docs page loads its assets from this service, not from the internet.
    let page = app
        .http
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("https://"),
        "the docs page must not reference external assets"
    );
    let script = app
        .http
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
}

#[test]
fn production_refuses_the_development_secret() {
    let mut config = kulturplan::config::Config::for_database("postgres://x@127.0.0.1/x".into());
    config.environment = kulturplan::config::Environment::Production;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("JWT_SECRET"), "{err}");
    config.jwt_secret =
        secrecy::SecretString::from("a-production-secret-that-is-long-enough-0123456789");
    assert!(config.validate().is_ok());
}
