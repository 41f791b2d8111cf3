//! The chase list: per responsible actor and municipality, what is expected, submitted,
//! approved, returned and missing, as JSON and CSV, with its ETag.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};

async fn created(app: &TestApp, path: &str, body: Value) -> String {
    json_ok(app.post(path, &body).send().await, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn group<'a>(list: &'a Value, kind: &str, name: Option<&str>) -> &'a Value {
    list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == kind && g["name"].as_str() == name)
        .unwrap_or_else(|| panic!("no {kind} group {name:?} in {list}"))
}

fn tally(g: &Value) -> [i64; 5] {
    ["expected", "submitted", "approved", "returned", "missing"].map(|k| g[k].as_i64().unwrap())
}

fn chased(g: &Value) -> Vec<(String, String)> {
    g["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap().to_owned(),
                i["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_chase_list_counts_each_owner_and_lists_the_missing_and_returned() {
    let app = TestApp::spawn().await;
    let (plan, goal, first) = app.plan_goal_activity().await;
    let unit = created(
        &app,
        "/api/v1/actors",
        json!({"name": "Filmfrämjande", "kind": "unit"}),
    )
    .await;
    let kumla = created(
        &app,
        "/api/v1/actors",
        json!({"name": "Kumla kommun", "kind": "municipality", "municipality_code": "1881"}),
    )
    .await;
    created(
        &app,
        "/api/v1/actors",
        json!({"name": "Lekebergs kommun", "kind": "municipality", "municipality_code": "1814"}),
    )
    .await;
    let activity = |title: &str, start: i32| {
        created(
            &app,
            "/api/v1/activities",
            json!({"goal_id": goal, "title": title, "start_year": start}),
        )
    };
    let second = activity("Filmläger", 2025).await;
    let third = activity("Kulturnatt", 2025).await;
    // Starts later: not expected in 2025.
    let later = activity("Filmfestival", 2026).await;
    let roles = |activity: String, links: Value| {
        let app = &app;
        async move {
            json_ok(
                app.put(&format!("/api/v1/activities/{activity}/actors"), &links)
                    .send()
                    .await,
                StatusCode::OK,
            )
            .await;
        }
    };
    roles(
        first.clone(),
        json!([{"actor_id": unit, "role": "responsible"}, {"actor_id": kumla, "role": "participant"},
               {"actor_id": kumla, "role": "supporting"}]),
    )
    .await;
    roles(
        second.clone(),
        json!([{"actor_id": unit, "role": "responsible"}]),
    )
    .await;
    roles(
        third.clone(),
        json!([{"actor_id": kumla, "role": "participant"}]),
    )
    .await;
    roles(later, json!([{"actor_id": unit, "role": "responsible"}])).await;

    let put = |activity: &str| {
        app.put(
            &format!("/api/v1/activities/{activity}/follow-ups/2025"),
            &json!({"status": "completed", "comment": "Klart"}),
        )
        .send()
    };
    json_ok(put(&first).await, StatusCode::CREATED).await;
    json_ok(put(&second).await, StatusCode::CREATED).await;
    let review = |activity: &str, body: Value| {
        app.post(
            &format!("/api/v1/activities/{activity}/follow-ups/2025/review"),
            &body,
        )
        .send()
    };
    json_ok(
        review(&first, json!({"decision": "approve"})).await,
        StatusCode::OK,
    )
    .await;
    json_ok(
        review(
            &second,
            json!({"decision": "return", "note": "Hur många deltog?"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let path = format!("/api/v1/reports/follow-up-chase?plan_id={plan}&year=2025");
    let response = app.get(&path).send().await.unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let list = json_ok(Ok(response), StatusCode::OK).await;

    let film = group(&list, "responsible", Some("Filmfrämjande"));
    assert_eq!(tally(film), [2, 0, 1, 1, 0]);
    assert_eq!(
        chased(film),
        [("Filmläger".to_owned(), "returned".to_owned())]
    );
    assert_eq!(film["items"][0]["note"], "Hur många deltog?");
    // The third activity has no responsible actor: it forms the group without an actor.
    let nobody = group(&list, "responsible", None);
    assert_eq!(tally(nobody), [1, 0, 0, 0, 1]);
    assert_eq!(
        chased(nobody),
        [("Kulturnatt".to_owned(), "missing".to_owned())]
    );
    // Kumla takes part in two (in the first with two roles, counted once).
    let kumla_group = group(&list, "municipality", Some("Kumla kommun"));
    assert_eq!(tally(kumla_group), [2, 0, 1, 0, 1]);
    assert_eq!(kumla_group["municipality_code"], "1881");
    // Every municipality is listed, also one with nothing expected.
    assert_eq!(
        tally(group(&list, "municipality", Some("Lekebergs kommun"))),
        [0, 0, 0, 0, 0]
    );
    let kinds: Vec<&str> = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["responsible", "responsible", "municipality", "municipality"]
    );

    // The same as CSV, one line per group.
    let csv = app
        .get(&path)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("responsible,")
            && l.contains("Filmfrämjande")
            && l.contains(",2,0,1,1,0,,1 Filmläger")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");

    // Kept per data version: 304 until something changes.
    let again = app
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    json_ok(put(&third).await, StatusCode::CREATED).await;
    let changed = app
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    let list = json_ok(Ok(changed), StatusCode::OK).await;
    assert_eq!(tally(group(&list, "responsible", None)), [1, 1, 0, 0, 0]);
}

#[tokio::test]
async fn the_chase_list_needs_its_plan_and_year() {
    let app = TestApp::spawn().await;
    let missing = app.get("/api/v1/reports/follow-up-chase").send().await;
    let p = problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), ["plan_id", "year"]);
    let unknown = app
        .get("/api/v1/reports/follow-up-chase?plan_id=7f3e2a10-4c5b-5d6e-8f90-1a2b3c4d5e6f&year=2024")
        .send()
        .await;
    problem(unknown, StatusCode::NOT_FOUND).await;
}
