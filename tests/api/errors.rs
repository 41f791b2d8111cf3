//! Bad input of every kind gets a problem document and writes nothing; conflicts and stale writes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, fields, json_ok, problem};

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_refused() {
    let app = TestApp::spawn().await;
    let send = |body: &'static str| {
        app.req(reqwest::Method::POST, "/api/v1/plans")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let p = problem(send("{\"title\": ").await, StatusCode::BAD_REQUEST).await;
    assert!(p["detail"].as_str().unwrap().contains("not valid JSON"));
    let p = problem(
        send(r#"{"title": 5, "kind": "culture_plan", "first_year": 2024, "last_year": 2025}"#)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("invalid type"));
    let p = problem(send(r#"{"title": "x", "kind": "culture_plan", "first_year": 2024, "last_year": 2025, "budget": 1}"#).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), ["budget"]);
    let p = problem(
        send(r#"{"title": "x", "kind": "masterplan", "first_year": 2024, "last_year": 2025}"#)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("masterplan"));
    let p = problem(
        send(r#"{"kind": "culture_plan", "first_year": 2024, "last_year": 2025}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["title"]);
    let p = problem(
        app.req(reqwest::Method::POST, "/api/v1/plans")
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("application/json"));
    assert_eq!(app.count("plans").await, 0);
}

#[tokio::test]
async fn out_of_range_values_name_every_offending_field() {
    let app = TestApp::spawn().await;
    let p = problem(app.post("/api/v1/plans", &json!({
        "title": "", "kind": "culture_plan", "first_year": 1800, "last_year": 2200, "reference": "x".repeat(101)
    })).send().await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let mut named = fields(&p);
    named.sort();
    assert_eq!(named, ["first_year", "last_year", "reference", "title"]);

    let p = problem(
        app.post(
            "/api/v1/plans",
            &json!({
                "title": "Plan", "kind": "culture_plan", "first_year": 2027, "last_year": 2024
            }),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["last_year"]);

    let p = problem(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Nora kommun", "kind": "municipality", "municipality_code": "18845"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["municipality_code"]);
    let p = problem(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Nora kommun", "kind": "municipality"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["municipality_code"]);
    let p = problem(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Länsteatern", "kind": "institution", "title": "chef"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["title"]);
    assert_eq!(app.count("plans").await + app.count("actors").await, 0);
}

#[tokio::test]
async fn a_patch_that_breaks_a_rule_changes_nothing() {
    let app = TestApp::spawn().await;
    let (plan_id, _, _) = app.plan_goal_activity().await;
    let p = problem(
        app.patch(
            &format!("/api/v1/plans/{plan_id}"),
            &json!({"title": "Ny titel", "last_year": 2000}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["last_year"]);
    app.assert_plan_unchanged(&plan_id).await;
}

#[tokio::test]
async fn bad_paths_and_query_strings_are_400_and_limits_are_checked() {
    let app = TestApp::spawn().await;
    let p = problem(
        app.get("/api/v1/plans/not-a-uuid").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("UUID"));
    problem(
        app.get("/api/v1/plans?kind=unknown").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/plans?limit=ten").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/plans?colour=blue").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for limit in ["0", "501"] {
        let p = problem(
            app.get(&format!("/api/v1/plans?limit={limit}"))
                .send()
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(fields(&p), ["limit"]);
    }
    let p = problem(
        app.get("/api/v1/plans?cursor=forged").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["cursor"]);
    problem(
        app.get("/api/v1/activities/00000000-0000-0000-0000-000000000000/follow-ups/1800")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/api/v1/nothing-here").send().await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let too_big = json!({"title": "x".repeat(300 * 1024), "kind": "culture_plan", "first_year": 2024, "last_year": 2025});
    problem(
        app.post("/api/v1/plans", &too_big).send().await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn deleting_what_others_reference_is_409_naming_them() {
    let app = TestApp::spawn().await;
    let (plan_id, goal_id, activity_id) = app.plan_goal_activity().await;
    let p = problem(
        app.delete(&format!("/api/v1/plans/{plan_id}")).send().await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("goals"), "{p}");
    let p = problem(
        app.delete(&format!("/api/v1/goals/{goal_id}")).send().await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("activities"), "{p}");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{activity_id}/follow-ups/2025"),
            &json!({"status": "ongoing"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let p = problem(
        app.delete(&format!("/api/v1/activities/{activity_id}"))
            .send()
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("follow ups"), "{p}");
    assert_eq!(app.count("activities").await, 1);
}

#[tokio::test]
async fn stale_if_match_is_412_and_a_fresh_one_succeeds() {
    let app = TestApp::spawn().await;
    let (plan_id, _, activity_id) = app.plan_goal_activity().await;
    let path = format!("/api/v1/plans/{plan_id}");
    let response = app.get(&path).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"v1\"");

    json_ok(
        app.patch(&path, &json!({"title": "Första ändringen"}))
            .header("if-match", &etag)
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    problem(
        app.patch(&path, &json!({"title": "Andra ändringen"}))
            .header("if-match", &etag)
            .send()
            .await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    problem(
        app.delete(&path).header("if-match", &etag).send().await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    problem(
        app.patch(&path, &json!({"title": "x"}))
            .header("if-match", "\"nonsense\"")
            .send()
            .await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    let plan = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    assert_eq!(plan["title"], "Första ändringen");

    // The activity's actor set is guarded by the activity's ETag.
    let actors_path = format!("/api/v1/activities/{activity_id}/actors");
    let etag = app.get(&actors_path).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let region = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Region Örebro län", "kind": "region"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let links = json!([{"actor_id": region["id"], "role": "responsible"}]);
    let response = app
        .put(&actors_path, &links)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    problem(
        app.put(&actors_path, &json!([]))
            .header("if-match", &etag)
            .send()
            .await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    assert_eq!(app.count("activity_actors").await, 1);
}

#[tokio::test]
async fn cycles_and_cross_plan_parents_are_refused() {
    let app = TestApp::spawn().await;
    let (plan_id, goal_id, _) = app.plan_goal_activity().await;
    let child = json_ok(
        app.post(
            "/api/v1/goals",
            &json!({"plan_id": plan_id, "parent_id": goal_id, "kind": "priority", "title": "Barn"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let p = problem(
        app.patch(
            &format!("/api/v1/goals/{goal_id}"),
            &json!({"parent_id": child["id"]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["parent_id"]);

    let other = json_ok(app.post("/api/v1/plans", &json!({"title": "Annan plan", "kind": "culture_plan", "first_year": 2024, "last_year": 2027})).send().await, StatusCode::CREATED).await;
    let p = problem(app.post("/api/v1/goals", &json!({"plan_id": other["id"], "parent_id": goal_id, "kind": "priority", "title": "Fel plan"})).send().await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), ["parent_id"]);
    let p = problem(
        app.post(
            "/api/v1/activities",
            &json!({"plan_id": other["id"], "goal_id": goal_id, "title": "Fel plan"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["goal_id"]);
    let p = problem(
        app.post(
            "/api/v1/goals",
            &json!({"plan_id": plan_id, "kind": "priority", "code": "1", "title": "Samma kod"}),
        )
        .send()
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("code"));
    let kumla =
        json!({"name": "Kumla kommun", "kind": "municipality", "municipality_code": "1881"});
    json_ok(
        app.post("/api/v1/actors", &kumla).send().await,
        StatusCode::CREATED,
    )
    .await;
    let p = problem(
        app.post("/api/v1/actors", &kumla).send().await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("municipality_code"));
    assert_eq!(app.count("actors").await, 1);
}
