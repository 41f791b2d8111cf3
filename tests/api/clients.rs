//! Integration clients: admin management, the client-credentials grant and its errors, revocation,
//! rotation, actor binding, and the `kulturplan clients` CLI.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};

/// Asserts an OAuth error response (RFC 6749 §5.2) and returns its `error_description`.
async fn oauth_error(response: reqwest::Response, status: StatusCode, error: &str) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    if status == StatusCode::UNAUTHORIZED {
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn client_credentials_in_the_form_give_a_working_token() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let (id, secret) = app.create_client(&["read", "follow_ups:write"], None).await;
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 900);
    assert_eq!(token["scope"], "read follow_ups:write");
    let access = token["access_token"].as_str().unwrap();

    // The token reads and writes, and the follow-up names the client as its reporter.
    let written = json_ok(
        app.http
            .put(app.url(&format!("/api/v1/activities/{activity_id}/follow-ups/2025")))
            .bearer_auth(access)
            .json(&json!({"status": "ongoing"}))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(written["reported_by"], "client:Integrationsskript");
    let plans = app
        .http
        .get(app.url("/api/v1/plans"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(plans.status(), StatusCode::OK);
}

#[tokio::test]
async fn basic_credentials_and_a_narrowed_scope() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let (id, secret) = app.create_client(&["read", "follow_ups:write"], None).await;
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&id, &secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await
        .unwrap();
    let token = json_ok(Ok(response), StatusCode::OK).await;
    assert_eq!(token["scope"], "read");
    let access = token["access_token"].as_str().unwrap();
    let refused = problem(
        app.http
            .put(app.url(&format!("/api/v1/activities/{activity_id}/follow-ups/2025")))
            .bearer_auth(access)
            .json(&json!({"status": "ongoing"}))
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
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_listed() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/api/v1/clients",
            &json!({"name": "Kumla kommun", "scopes": ["follow_ups:write", "read", "read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "at least 32 random bytes: {secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(created["scopes"], json!(["read", "follow_ups:write"]));
    assert_eq!(created["actor_id"], Value::Null);
    assert!(created["created_at"].is_string());

    let one = json_ok(app.get(&location).send().await, StatusCode::OK).await;
    let list = json_ok(app.get("/api/v1/clients").send().await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);
    for shown in [&one, &list["items"][0]] {
        assert_eq!(shown["client_id"], created["client_id"]);
        assert_eq!(shown["revoked_at"], Value::Null);
        let text = shown.to_string();
        assert!(!text.contains("secret") && !text.contains(secret), "{text}");
        assert!(!text.contains("argon2"), "{text}");
    }
    // Only the hash is stored.
    #[derive(diesel::prelude::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        secret_hash: String,
    }
    let mut conn = app.db().await;
    let stored: Hash = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT secret_hash FROM api_clients"),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(stored.secret_hash.starts_with("$argon2id$"));
    assert!(!stored.secret_hash.contains(secret));
}

#[tokio::test]
async fn the_client_list_is_paginated() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.create_client(&["read"], None).await;
    }
    let first = json_ok(
        app.get("/api/v1/clients?limit=2").send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_ok(
        app.get(&format!("/api/v1/clients?limit=2&cursor={cursor}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut ids: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| &c["client_id"])
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let (id, _) = app.create_client(&["read"], None).await;
    let mut descriptions = Vec::new();
    for (client_id, secret) in [
        (id.as_str(), "not-the-secret"),
        ("0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e", "not-the-secret"),
        ("not-a-uuid", "not-the-secret"),
    ] {
        let response = app
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await;
        descriptions.push(oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await);
        let response = app
            .http
            .post(app.url("/api/v1/auth/token"))
            .header("authorization", basic(client_id, secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        descriptions.push(oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await);
    }
    descriptions.dedup();
    assert_eq!(descriptions, ["client authentication failed"]);
}

#[tokio::test]
async fn a_revoked_client_and_its_tokens_stop_working_at_once() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.create_client(&["read"], None).await;
    let token = app.client_token(&id, &secret).await;
    let read = |token: String| {
        app.http
            .get(app.url("/api/v1/plans"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(read(token.clone()).await.unwrap().status(), StatusCode::OK);

    let revoked = json_ok(
        app.post(&format!("/api/v1/clients/{id}/revoke"), &json!({}))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(revoked["revoked_at"].is_string());
    // The token issued before the revocation is refused, without waiting for it to expire.
    problem(read(token).await, StatusCode::UNAUTHORIZED).await;
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    let description = oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(description, "client authentication failed");

    // Revoking again keeps the first time; a revoked client gets no new secret.
    let again = json_ok(
        app.post(&format!("/api/v1/clients/{id}/revoke"), &json!({}))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    problem(
        app.post(&format!("/api/v1/clients/{id}/rotate"), &json!({}))
            .send()
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    problem(
        app.post(
            "/api/v1/clients/0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e/revoke",
            &json!({}),
        )
        .send()
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn rotation_retires_the_old_secret() {
    let app = TestApp::spawn().await;
    let (id, old) = app.create_client(&["read"], None).await;
    let rotated = app
        .post(&format!("/api/v1/clients/{id}/rotate"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated = json_ok(Ok(rotated), StatusCode::OK).await;
    assert_eq!(rotated["client_id"], id.as_str());
    let new = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new, old);
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &old),
        ])
        .await;
    oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    app.client_token(&id, new).await;
}

#[tokio::test]
async fn a_scope_the_client_lacks_is_invalid_scope() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.create_client(&["read"], None).await;
    for (scope, says) in [
        ("read follow_ups:write", "follow_ups:write"),
        ("admin", "admin"),
        ("read superuser", "superuser"),
    ] {
        let response = app
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", scope),
            ])
            .await;
        let description = oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
        assert!(description.contains(says), "{description}");
    }
}

#[tokio::test]
async fn malformed_token_requests_get_oauth_errors() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.create_client(&["read"], None).await;
    type Form<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Form, StatusCode, &str); 5] = [
        (
            &[
                ("grant_type", "password"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            &[("client_id", &id), ("client_secret", &secret)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("grant_type", "client_credentials")],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            &[("grant_type", "client_credentials"), ("client_id", &id)],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (form, status, error) in cases {
        oauth_error(app.token_request(form).await, status, error).await;
    }
    // Not a form.
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap();
    oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Two ways of authenticating at once.
    let response = app
        .http
        .post(app.url("/api/v1/auth/token"))
        .header("authorization", basic(&id, &secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap();
    oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn client_management_is_for_admins_and_validated() {
    let app = TestApp::spawn().await;
    let plans_writer = app.token(&["plans:write", "read", "follow_ups:write"]);
    problem(
        app.http
            .get(app.url("/api/v1/clients"))
            .bearer_auth(&plans_writer)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.http
            .post(app.url("/api/v1/clients"))
            .bearer_auth(&plans_writer)
            .json(&json!({"name": "x", "scopes": ["read"]}))
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let p = problem(
        app.post("/api/v1/clients", &json!({"name": " ", "scopes": []}))
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["name", "scopes"]);
    problem(
        app.post(
            "/api/v1/clients",
            &json!({"name": "x", "scopes": ["superuser"]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let p = problem(
        app.post(
            "/api/v1/clients",
            &json!({"name": "x", "scopes": ["read"], "actor_id": "0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["actor_id"]);
    problem(
        app.post(
            "/api/v1/clients",
            &json!({"name": "x", "scopes": ["read"], "secret": "mine"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(app.count("api_clients").await, 0);
}

#[tokio::test]
async fn an_actor_bound_client_writes_only_where_its_actor_has_a_role() {
    let app = TestApp::spawn().await;
    let (_, goal_id, own) = app.plan_goal_activity().await;
    let other = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": goal_id, "title": "Annan aktivitet", "start_year": 2025}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let other = other["id"].as_str().unwrap();
    let municipality = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Lekebergs kommun", "kind": "municipality", "municipality_code": "1814"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let actor_id = municipality["id"].as_str().unwrap();
    json_ok(
        app.put(
            &format!("/api/v1/activities/{own}/actors"),
            &json!([{"actor_id": actor_id, "role": "participant"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let (id, secret) = app
        .create_client(&["follow_ups:write"], Some(actor_id))
        .await;
    let token = app.client_token(&id, &secret).await;
    let put = |activity: &str| {
        app.http
            .put(app.url(&format!("/api/v1/activities/{activity}/follow-ups/2025")))
            .bearer_auth(&token)
            .json(&json!({"status": "completed"}))
            .send()
    };
    json_ok(put(&own).await, StatusCode::CREATED).await;
    let refused = problem(put(other).await, StatusCode::FORBIDDEN).await;
    assert!(
        refused["detail"].as_str().unwrap().contains(other),
        "names the activity: {refused}"
    );
    assert_eq!(app.count("follow_ups").await, 1);
}

/// Runs the `kulturplan` binary against the test's database.
fn cli(app: &TestApp, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kulturplan"))
        .args(args)
        .env("DATABASE_URL", &app.db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kulturplan");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn field<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {output}"))
}

#[tokio::test]
async fn the_cli_creates_lists_rotates_and_revokes_clients() {
    let app = TestApp::spawn().await;
    let created = cli(
        &app,
        &[
            "clients",
            "create",
            "--name",
            "Regionens skript",
            "--scope",
            "read",
            "--scope",
            "follow_ups:write",
        ],
    );
    let id = field(&created, "client_id:").to_owned();
    let secret = field(&created, "client_secret:").to_owned();
    app.client_token(&id, &secret).await;

    let listed = cli(&app, &["clients", "list"]);
    assert!(listed.contains(&id) && listed.contains("Regionens skript"));
    assert!(!listed.contains(&secret));

    let rotated = cli(&app, &["clients", "rotate", &id]);
    let new_secret = field(&rotated, "client_secret:").to_owned();
    app.client_token(&id, &new_secret).await;
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    cli(&app, &["clients", "revoke", &id]);
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &new_secret),
        ])
        .await;
    oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
