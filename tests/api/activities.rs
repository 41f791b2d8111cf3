//! Activity actor links and follow-ups: idempotent upserts, history, warnings, actor binding.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, fields, json_ok, problem};

#[tokio::test]
async fn the_same_follow_up_twice_leaves_one_row_and_one_history_entry() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let path = format!("/api/v1/activities/{activity_id}/follow-ups/2025");
    let body = json!({"status": "ongoing", "comment": "Första träffen hölls i mars"});
    let first = json_ok(app.put(&path, &body).send().await, StatusCode::CREATED).await;
    let second = json_ok(app.put(&path, &body).send().await, StatusCode::OK).await;
    assert_eq!(first, second, "the same representation");
    assert_eq!(app.count("follow_ups").await, 1);
    assert_eq!(app.count("follow_up_history").await, 1);

    let changed = json_ok(
        app.put(
            &path,
            &json!({"status": "completed", "comment": "Genomförd"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["version"], 2);
    let history = json_ok(
        app.get(&format!("{path}/history")).send().await,
        StatusCode::OK,
    )
    .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["before"], serde_json::Value::Null);
    assert_eq!(history[0]["after"]["status"], "ongoing");
    assert_eq!(history[1]["before"]["status"], "ongoing");
    assert_eq!(history[1]["after"]["status"], "completed");
    assert_eq!(history[1]["changed_by"], "test-user");
}

#[tokio::test]
async fn follow_up_if_match_is_honoured() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let path = format!("/api/v1/activities/{activity_id}/follow-ups/2025");
    let created = app
        .put(&path, &json!({"status": "ongoing"}))
        .send()
        .await
        .unwrap();
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    json_ok(
        app.put(&path, &json!({"status": "completed"}))
            .header("if-match", &etag)
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    problem(
        app.put(&path, &json!({"status": "delayed"}))
            .header("if-match", &etag)
            .send()
            .await,
        StatusCode::PRECONDITION_FAILED,
    )
    .await;
    let current = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    assert_eq!(current["status"], "completed");
}

#[tokio::test]
async fn statuses_that_do_not_fit_the_dates_are_kept_with_warnings() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await; // starts 2025
    json_ok(
        app.patch(
            &format!("/api/v1/activities/{activity_id}"),
            &json!({"end_year": 2026}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let at = |year: i32| format!("/api/v1/activities/{activity_id}/follow-ups/{year}");
    let planned_late = json_ok(
        app.put(&at(2025), &json!({"status": "planned"}))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        planned_late["warnings"].as_array().unwrap().len(),
        1,
        "{planned_late}"
    );
    let early = json_ok(
        app.put(&at(2024), &json!({"status": "completed"}))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        early["warnings"][0]
            .as_str()
            .unwrap()
            .contains("before the activity starts")
    );
    let planned_early = json_ok(
        app.put(&at(2023), &json!({"status": "planned"}))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(planned_early["warnings"], json!([]));
    let after_end = json_ok(
        app.put(&at(2027), &json!({"status": "ongoing"}))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        after_end["warnings"][0]
            .as_str()
            .unwrap()
            .contains("after the activity ended")
    );
    assert_eq!(
        app.count("follow_ups").await,
        4,
        "warnings do not refuse the write"
    );
}

#[tokio::test]
async fn an_actor_bound_token_writes_only_where_its_actor_has_a_role() {
    let app = TestApp::spawn().await;
    let (_, goal_id, own) = app.plan_goal_activity().await;
    let other = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": goal_id, "title": "Annan aktivitet"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let other = other["id"].as_str().unwrap();
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
    let unit = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Filmfrämjande", "kind": "unit", "parent_id": region["id"]}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    json_ok(
        app.put(
            &format!("/api/v1/activities/{own}/actors"),
            &json!([{"actor_id": unit["id"], "role": "responsible"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;

    let scopes = std::collections::BTreeSet::from([kulturplan::domain::Scope::FollowUpsWrite]);
    let keys = kulturplan::auth::JwtKeys::new(&app.config);
    let bound = |actor: &serde_json::Value| {
        let id = actor["id"].as_str().unwrap().parse().unwrap();
        keys.issue(
            "script",
            &scopes,
            Some(id),
            None,
            std::time::Duration::from_secs(60),
        )
        .unwrap()
    };
    let body = json!({"status": "completed"});
    // The unit itself, and the region the unit belongs to, may write the unit's activity.
    for token in [bound(&unit), bound(&region)] {
        let response = app
            .http
            .put(app.url(&format!("/api/v1/activities/{own}/follow-ups/2025")))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let refused = problem(
        app.http
            .put(app.url(&format!("/api/v1/activities/{other}/follow-ups/2025")))
            .bearer_auth(bound(&unit))
            .json(&body)
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains(other),
        "names the activity: {refused}"
    );
    assert_eq!(app.count("follow_ups").await, 1);
}

#[tokio::test]
async fn actor_sets_are_validated_as_a_whole() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let actor = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Laxå kommun", "kind": "municipality", "municipality_code": "1860"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/activities/{activity_id}/actors");
    let missing = "00000000-0000-4000-8000-000000000000";
    let p = problem(
        app.put(
            &path,
            &json!([
                {"actor_id": actor["id"], "role": "participant"},
                {"actor_id": missing, "role": "participant"}
            ]),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["index"], 1);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(missing)
    );
    let p = problem(
        app.put(
            &path,
            &json!([
                {"actor_id": actor["id"], "role": "participant"},
                {"actor_id": actor["id"], "role": "participant"}
            ]),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["role"]);
    problem(
        app.put(
            &path,
            &json!([{"actor_id": actor["id"], "role": "sponsor"}]),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(app.count("activity_actors").await, 0);

    // A changed set moves the activity's version; the same set again does not.
    let first = app
        .put(
            &path,
            &json!([{"actor_id": actor["id"], "role": "participant"}]),
        )
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .put(
            &path,
            &json!([{"actor_id": actor["id"], "role": "participant"}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(etag, "\"v2\"");
}
