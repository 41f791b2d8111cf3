//! The review step of the yearly round: every transition, its history and change-feed entry,
//! the scope, concurrent decisions on one version, and lists decided all or nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};

const YEAR: i32 = 2025;

fn follow_up_path(activity_id: &str) -> String {
    format!("/api/v1/activities/{activity_id}/follow-ups/{YEAR}")
}

async fn report(app: &TestApp, activity_id: &str, status: &str, comment: &str) -> Value {
    let response = app
        .put(
            &follow_up_path(activity_id),
            &json!({"status": status, "comment": comment}),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// A decision as a reviewer (a token with `follow_ups:review` only), on the ETag given.
async fn decide(app: &TestApp, activity_id: &str, body: &Value, version: i64) -> reqwest::Response {
    app.http
        .post(app.url(&format!("{}/review", follow_up_path(activity_id))))
        .bearer_auth(app.token(&["follow_ups:review"]))
        .header("If-Match", format!("\"v{version}\""))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn history(app: &TestApp, activity_id: &str) -> Vec<Value> {
    json_ok(
        app.get(&format!("{}/history", follow_up_path(activity_id)))
            .send()
            .await,
        StatusCode::OK,
    )
    .await
    .as_array()
    .unwrap()
    .clone()
}

/// The versions of the follow-up's `update` entries in the change feed.
async fn feed_versions(app: &TestApp, follow_up_id: &str) -> Vec<i64> {
    let feed = json_ok(
        app.get("/api/v1/changes?limit=1000").send().await,
        StatusCode::OK,
    )
    .await;
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "follow_up" && c["id"] == follow_up_id)
        .map(|c| c["version"].as_i64().unwrap())
        .collect()
}

async fn follow_up_id(app: &TestApp, activity_id: &str) -> String {
    app.text_of(&format!(
        "SELECT id::text AS v FROM follow_ups WHERE activity_id = '{activity_id}' AND year = {YEAR}"
    ))
    .await
}

#[tokio::test]
async fn every_review_transition_is_kept_in_the_history_and_the_feed() {
    let app = TestApp::spawn().await;
    let (_, _, activity) = app.plan_goal_activity().await;

    // Reported: submitted, nobody has reviewed it.
    let reported = report(&app, &activity, "ongoing", "Pågår").await;
    assert_eq!(reported["review"]["state"], "submitted");
    assert_eq!(reported["review"]["reviewed_by"], Value::Null);
    let v1 = reported["version"].as_i64().unwrap();

    // submitted → returned: a return needs a note; without one nothing is written.
    let refused = problem(
        Ok(decide(&app, &activity, &json!({"decision": "return"}), v1).await),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&refused), ["note"]);
    let returned = json_ok(
        Ok(decide(
            &app,
            &activity,
            &json!({"decision": "return", "note": "Ange vilka kommuner som deltog."}),
            v1,
        )
        .await),
        StatusCode::OK,
    )
    .await;
    assert_eq!(returned["review"]["state"], "returned");
    assert_eq!(
        returned["review"]["note"],
        "Ange vilka kommuner som deltog."
    );
    assert!(returned["review"]["reviewed_by"].is_string());
    assert!(returned["review"]["reviewed_at"].is_string());
    let v2 = returned["version"].as_i64().unwrap();
    assert_eq!(v2, v1 + 1);

    // returned → submitted: the reporter corrects it.
    let corrected = report(&app, &activity, "ongoing", "Pågår i Kumla och Lekeberg").await;
    assert_eq!(corrected["review"]["state"], "submitted");
    assert_eq!(corrected["review"]["note"], Value::Null);
    assert_eq!(corrected["review"]["reviewed_by"], Value::Null);
    let v3 = corrected["version"].as_i64().unwrap();

    // submitted → approved.
    let approved = json_ok(
        Ok(decide(&app, &activity, &json!({"decision": "approve"}), v3).await),
        StatusCode::OK,
    )
    .await;
    assert_eq!(approved["review"]["state"], "approved");
    let v4 = approved["version"].as_i64().unwrap();

    // approved → approved: the same decision again changes nothing.
    let again = json_ok(
        Ok(decide(&app, &activity, &json!({"decision": "approve"}), v4).await),
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["version"].as_i64(), Some(v4));

    // The same report again is no change: it stays approved.
    let same = report(&app, &activity, "ongoing", "Pågår i Kumla och Lekeberg").await;
    assert_eq!(same["review"]["state"], "approved");
    assert_eq!(same["version"].as_i64(), Some(v4));

    // approved → submitted: the reporter changes an approved follow-up.
    let changed = report(&app, &activity, "completed", "Klart").await;
    assert_eq!(changed["review"]["state"], "submitted");
    let v5 = changed["version"].as_i64().unwrap();

    // submitted → approved → returned → approved: a reviewer may revise a decision.
    let approved = json_ok(
        Ok(decide(&app, &activity, &json!({"decision": "approve"}), v5).await),
        StatusCode::OK,
    )
    .await;
    let v6 = approved["version"].as_i64().unwrap();
    let returned = json_ok(
        Ok(decide(
            &app,
            &activity,
            &json!({"decision": "return", "note": "Fel år?"}),
            v6,
        )
        .await),
        StatusCode::OK,
    )
    .await;
    let v7 = returned["version"].as_i64().unwrap();
    let approved = json_ok(
        Ok(decide(&app, &activity, &json!({"decision": "approve"}), v7).await),
        StatusCode::OK,
    )
    .await;
    let v8 = approved["version"].as_i64().unwrap();
    assert_eq!(approved["review"]["state"], "approved");

    // Every step is in the history, with the review state before and after.
    let steps: Vec<(Value, Value)> = history(&app, &activity)
        .await
        .iter()
        .map(|h| (h["before"]["review"].clone(), h["after"]["review"].clone()))
        .collect();
    let s = |a: &str, b: &str| (json!(a), json!(b));
    assert_eq!(
        steps,
        [
            (Value::Null, json!("submitted")),
            s("submitted", "returned"),
            s("returned", "submitted"),
            s("submitted", "approved"),
            s("approved", "submitted"),
            s("submitted", "approved"),
            s("approved", "returned"),
            s("returned", "approved"),
        ]
    );
    let returns = history(&app, &activity).await;
    assert_eq!(
        returns[1]["after"]["review_note"],
        "Ange vilka kommuner som deltog."
    );
    assert_eq!(returns[1]["changed_by"], returns[1]["after"]["reviewed_by"]);

    // And every version is in the change feed.
    let id = follow_up_id(&app, &activity).await;
    assert_eq!(
        feed_versions(&app, &id).await,
        [v1, v2, v3, v4, v5, v6, v7, v8]
    );
}

#[tokio::test]
async fn reviewing_needs_the_review_scope_which_admin_includes() {
    let app = TestApp::spawn().await;
    let (_, _, activity) = app.plan_goal_activity().await;
    report(&app, &activity, "completed", "Klart").await;
    let path = app.url(&format!("{}/review", follow_up_path(&activity)));
    let body = json!({"decision": "approve"});
    for scopes in [&["read", "follow_ups:write"][..], &["plans:write"][..]] {
        let response = app
            .http
            .post(&path)
            .bearer_auth(app.token(scopes))
            .json(&body)
            .send()
            .await;
        let refused = problem(response, StatusCode::FORBIDDEN).await;
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("follow_ups:review"),
            "{refused}"
        );
    }
    let by_admin = app.post(&format!("{}/review", follow_up_path(&activity)), &body);
    let approved = json_ok(by_admin.send().await, StatusCode::OK).await;
    assert_eq!(approved["review"]["state"], "approved");

    // No follow-up that year: 404, nothing written.
    let missing = app
        .post(
            &format!("/api/v1/activities/{activity}/follow-ups/2030/review"),
            &body,
        )
        .send()
        .await;
    problem(missing, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn of_two_reviewers_deciding_on_one_version_one_wins() {
    let app = TestApp::spawn().await;
    let (_, _, activity) = app.plan_goal_activity().await;
    let version = report(&app, &activity, "completed", "Klart").await["version"]
        .as_i64()
        .unwrap();
    let approve = json!({"decision": "approve"});
    let ret = json!({"decision": "return", "note": "Saknar underlag."});
    let (a, b) = tokio::join!(
        decide(&app, &activity, &approve, version),
        decide(&app, &activity, &ret, version)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
        "exactly one decision lands"
    );
    let history = history(&app, &activity).await;
    assert_eq!(history.len(), 2, "one report, one decision");
    let current = json_ok(
        app.get(&follow_up_path(&activity)).send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current["version"].as_i64(), Some(version + 1));
}

#[tokio::test]
async fn a_list_of_decisions_is_recorded_whole_or_not_at_all() {
    let app = TestApp::spawn().await;
    let (_, goal, first) = app.plan_goal_activity().await;
    let second = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": goal, "title": "Residens", "start_year": 2025}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v_first = report(&app, &first, "completed", "Klart").await["version"].clone();
    let v_second = report(&app, &second, "delayed", "Försenat").await["version"].clone();
    let reviewer = app.token(&["follow_ups:review"]);
    let send = |body: Value| {
        app.http
            .post(app.url("/api/v1/follow-ups/reviews"))
            .bearer_auth(&reviewer)
            .json(&body)
            .send()
    };
    let history_len = app.count("follow_up_history").await;

    // One stale version refuses the list: nothing is decided.
    let stale = send(json!({"items": [
        {"activity_id": first, "year": YEAR, "version": v_first, "decision": "approve"},
        {"activity_id": second, "year": YEAR, "version": 99, "decision": "approve"},
    ]}))
    .await;
    let refused = problem(stale, StatusCode::CONFLICT).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("item 1"),
        "{refused}"
    );
    // An item without a follow-up, and a return without a note, are listed each.
    let bad = send(json!({"items": [
        {"activity_id": first, "year": 2031, "version": 1, "decision": "approve"},
        {"activity_id": second, "year": YEAR, "version": v_second, "decision": "return"},
    ]}))
    .await;
    assert_eq!(
        fields(&problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["items[1].note"]
    );
    let missing = send(json!({"items": [
        {"activity_id": first, "year": YEAR, "version": v_first, "decision": "approve"},
        {"activity_id": first, "year": 2031, "version": 1, "decision": "approve"},
    ]}))
    .await;
    assert_eq!(
        fields(&problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["items[1].activity_id"]
    );
    assert_eq!(app.count("follow_up_history").await, history_len);
    assert_eq!(
        app.text_of("SELECT string_agg(DISTINCT review, ',') AS v FROM follow_ups")
            .await,
        "submitted"
    );

    // The list as read lands whole.
    let done = json_ok(
        send(json!({"items": [
            {"activity_id": first, "year": YEAR, "version": v_first, "decision": "approve"},
            {"activity_id": second, "year": YEAR, "version": v_second, "decision": "return",
             "note": "Vad hindrade starten?"},
        ]}))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done, json!({"approved": 1, "returned": 1, "unchanged": 0}));
    assert_eq!(app.count("follow_up_history").await, history_len + 2);
    let second_now = json_ok(
        app.get(&follow_up_path(&second)).send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second_now["review"]["state"], "returned");
    assert_eq!(second_now["review"]["note"], "Vad hindrade starten?");
}
