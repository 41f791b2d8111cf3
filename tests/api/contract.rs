//! The answers the contract fuzzing (tools/fuzz_api.py) holds the service to, each pinned by a
//! test of its own: the document spells what the service reads, every method of a known path
//! is answered, and input the database cannot take is refused naming the field.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};
use kulturplan::domain::{
    ActorKind, FollowUpStatus, GoalKind, PlanKind, PlanStatus, Recurrence, Role, Scope, StartTerm,
};

fn document() -> Value {
    serde_json::to_value(kulturplan::openapi::document()).expect("the document is JSON")
}

/// Reads a documented value as the wire type and writes it back.
type RoundTrip = fn(&str) -> Result<String, String>;

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: &str,
) -> Result<String, String> {
    let parsed: T =
        serde_json::from_value(Value::String(value.to_owned())).map_err(|e| e.to_string())?;
    match serde_json::to_value(parsed) {
        Ok(Value::String(text)) => Ok(text),
        other => Err(format!("written back as {other:?}")),
    }
}

/// The Rust type of every enum schema, by the schema's name (which the type itself gives).
macro_rules! wire_types {
    ($($t:ty),+ $(,)?) => {
        std::collections::BTreeMap::from([
            $((<$t as utoipa::ToSchema>::name().into_owned(), round_trip::<$t> as RoundTrip)),+
        ])
    };
}

/// Every `enum` anywhere in `value`, with its JSON pointer.
fn enums<'a>(value: &'a Value, pointer: String, out: &mut Vec<(String, &'a Vec<Value>)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(values)) = map.get("enum") {
                out.push((pointer.clone(), values));
            }
            for (key, child) in map {
                enums(child, format!("{pointer}/{}", key.replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                enums(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_enum_of_the_document_round_trips_through_its_rust_type() {
    use kulturplan::api;
    let wire = wire_types![
        PlanKind,
        PlanStatus,
        GoalKind,
        StartTerm,
        Recurrence,
        ActorKind,
        Role,
        FollowUpStatus,
        Scope,
        kulturplan::domain::ReviewState,
        api::csv::Format,
        api::chase::Chased,
        api::reviews::ReviewDecision,
        api::board::BoardFormat,
        api::actors::ActorSort,
        api::changes::ChangeEntity,
        api::changes::ChangeOp,
        api::reports::GroupBy,
        api::token::GrantType,
        api::token::TokenErrorCode,
        kulturplan::db::activity_list::ActivitySort,
        kulturplan::db::activity_list::StatusFilter,
        kulturplan::db::goals::GoalSort,
    ];
    let doc = document();
    let mut found = Vec::new();
    enums(&doc, String::new(), &mut found);
    assert!(found.len() >= wire.len(), "{found:?}");
    for (pointer, values) in found {
        // An enum is a named schema, so a generated client gets one type for it and this
        // test knows which Rust type speaks it.
        let name = pointer
            .strip_prefix("/components/schemas/")
            .filter(|name| !name.contains('/'))
            .unwrap_or_else(|| panic!("{pointer}: an enum without a name of its own"));
        let read_and_write = wire.get(name).unwrap_or_else(|| {
            panic!("{name} is an enum of the document that this test does not know")
        });
        for value in values {
            let text = value.as_str().expect("enum values are strings");
            assert_eq!(
                read_and_write(text).as_deref(),
                Ok(text),
                "{name}: the document's `{text}`"
            );
        }
    }
    // The text enums also name their values in the database: the same spellings.
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        doc["components"]["schemas"]["Scope"]["enum"],
        json!(scopes),
        "Scope"
    );
}

#[test]
fn every_body_documents_its_limit_and_media_type_and_reports_require_their_plan() {
    let doc = document();
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            if op.get("requestBody").is_some() {
                bodies += 1;
                for status in ["413", "415"] {
                    assert!(
                        op["responses"][status].is_object(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                assert_ne!(
                    parameter["schema"]["type"],
                    json!(["string", "null"]),
                    "{method} {path}: parameter {} may be null",
                    parameter["name"]
                );
            }
        }
    }
    assert!(bodies >= 12, "only {bodies} operations take a body");
    for report in [
        "follow-up-summary",
        "follow-up-trend",
        "missing-follow-ups",
        "collaboration-matrix",
    ] {
        let params = doc["paths"][format!("/api/v1/reports/{report}")]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let plan = params
            .iter()
            .find(|p| p["name"] == "plan_id")
            .unwrap_or_else(|| panic!("{report} has no plan_id"));
        assert_eq!(plan["required"], true, "{report}: plan_id");
    }
}

#[tokio::test]
async fn a_known_path_asked_with_another_method_is_405_naming_the_methods() {
    let app = TestApp::spawn().await;
    let (plan_id, _, _) = app.plan_goal_activity().await;
    let response = app
        .req(Method::TRACE, "/api/v1/plans")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["allow"], "GET, HEAD, POST");
    let p = problem(Ok(response), StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(p["type"], "/problems/method-not-allowed");
    let response = app
        .req(Method::PUT, &format!("/api/v1/plans/{plan_id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["allow"], "GET, HEAD, DELETE, PATCH");
    problem(Ok(response), StatusCode::METHOD_NOT_ALLOWED).await;
    // Without an id the path is another one; a path the API does not have is not found.
    problem(
        app.req(Method::PUT, "/api/v1/plans/").send().await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/api/v1/programmes").send().await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn a_json_array_is_not_read_as_an_object_body() {
    let app = TestApp::spawn().await;
    let (plan_id, _, activity_id) = app.plan_goal_activity().await;
    let p = problem(
        app.req(Method::PATCH, &format!("/api/v1/plans/{plan_id}"))
            .header("content-type", "application/json")
            .body(r#"["Kulturplan", "culture_plan"]"#)
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["body"]);
    app.assert_plan_unchanged(&plan_id).await;
    // Well-formed JSON of the wrong shape is invalid, not malformed: a number where a status
    // belongs.
    let p = problem(
        app.put(
            &format!("/api/v1/activities/{activity_id}/follow-ups/2025"),
            &json!({"status": 5, "comment": "Inväntar beslut"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["status"]);
    assert!(p["detail"].as_str().expect("detail").contains("expected"));
}

#[tokio::test]
async fn text_with_a_nul_character_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let actors = app.count("actors").await;
    let p = problem(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Kultur\u{0}huset", "kind": "institution"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["name"]);
    assert!(p["detail"].as_str().expect("detail").contains("NUL"));
    assert_eq!(app.count("actors").await, actors);

    let p = problem(
        app.put(
            &format!("/api/v1/activities/{activity_id}/follow-ups/2025"),
            &json!({"status": "ongoing", "comment": "på\u{0}går"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["comment"]);
    let p = problem(
        app.post(
            "/api/v1/follow-ups/batch",
            &json!({"items": [{"activity_id": activity_id, "year": 2025, "status": "ongoing", "comment": "\u{0}"}]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["index"], 0);
    assert_eq!(p["errors"][0]["field"], "items[0].comment");
    assert_eq!(app.count("follow_ups").await, 0);
}

#[tokio::test]
async fn municipality_codes_in_filters_are_four_digits() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/activities?municipality_code=null",
        "/api/v1/actors?municipality_code=188",
        "/api/v1/municipalities/18800/collaborations",
    ] {
        let p = problem(app.get(path).send().await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            p["errors"][0]["message"]
                .as_str()
                .expect("message")
                .contains("four digits"),
            "{path}: {p}"
        );
    }
    // Four digits that name no municipality: 404, as on every endpoint that takes a code.
    let p = problem(
        app.get("/api/v1/activities?municipality_code=1880")
            .send()
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(p["detail"], "no municipality has the code 1880");
}

#[tokio::test]
async fn a_malformed_if_match_matches_no_version_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (plan_id, _, _) = app.plan_goal_activity().await;
    for tag in ["", "null", "v1", "W/\"v1\"", "\"v1"] {
        problem(
            app.patch(
                &format!("/api/v1/plans/{plan_id}"),
                &json!({"title": "Ny titel"}),
            )
            .header("if-match", tag)
            .send()
            .await,
            StatusCode::PRECONDITION_FAILED,
        )
        .await;
    }
    // A list naming the current tag matches.
    let plan = json_ok(
        app.patch(
            &format!("/api/v1/plans/{plan_id}"),
            &json!({"title": "Ny titel"}),
        )
        .header("if-match", "\"v7\", \"v1\"")
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(plan["version"], 2);
}

#[tokio::test]
async fn the_token_endpoint_ignores_parameters_it_does_not_know_even_repeated() {
    let app = TestApp::spawn().await;
    let (client_id, secret) = app.create_client(&["read"], None).await;
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("audience", "a"),
            ("audience", "b"),
        ])
        .await;
    let token = json_ok(Ok(response), StatusCode::OK).await;
    assert_eq!(token["scope"], "read");
    // A parameter of the grant given twice is still refused (RFC 6749 §3.2).
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "read"),
            ("scope", "read"),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn an_idempotency_key_is_visible_ascii_without_spaces() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let batch = json!({"items": [{"activity_id": activity_id, "year": 2025, "status": "ongoing"}]});
    for key in ["januari 2026", "nyckel\tett"] {
        let p = problem(
            app.post("/api/v1/follow-ups/batch", &batch)
                .header("idempotency-key", key)
                .send()
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            p["detail"]
                .as_str()
                .expect("detail")
                .contains("Idempotency-Key")
        );
    }
    assert_eq!(app.count("follow_ups").await, 0);
    json_ok(
        app.post("/api/v1/follow-ups/batch", &batch)
            .header("idempotency-key", "januari-2026")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.count("follow_ups").await, 1);
}

#[tokio::test]
async fn head_answers_what_get_would_without_the_body() {
    let app = TestApp::spawn().await;
    let (plan_id, _, _) = app.plan_goal_activity().await;
    let get = app.get("/api/v1/activities").send().await.expect("sent");
    let etag = get.headers()["etag"].clone();
    let length = get.bytes().await.expect("body").len();
    let head = app
        .req(Method::HEAD, "/api/v1/activities")
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["etag"], etag);
    assert_eq!(
        head.headers()["content-length"],
        length.to_string().as_str()
    );
    assert!(head.bytes().await.expect("body").is_empty());
    let head = app
        .req(Method::HEAD, "/api/v1/activities")
        .header("if-none-match", etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::NOT_MODIFIED);
    let head = app
        .req(Method::HEAD, &format!("/api/v1/plans/{plan_id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::OK);
    // A path without GET has no HEAD either.
    let head = app
        .req(Method::HEAD, "/api/v1/follow-ups/batch")
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(head.headers()["allow"], "POST");
    // And a HEAD needs a token like the GET it stands for.
    let anonymous = app
        .http
        .head(app.url("/api/v1/plans"))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
