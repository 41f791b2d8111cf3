//! Follow-up batches and CSV imports: all or nothing, per-item errors, dry runs, idempotency keys,
//! warnings, actor binding, concurrency; and the follow-up list.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};

const BATCH: &str = "/api/v1/follow-ups/batch";
const IMPORT: &str = "/api/v1/follow-ups/import";

/// `n` more activities of the goal, straight into the database (start year 2024, recurring).
async fn activities(app: &TestApp, goal_id: &str, n: i64) -> Vec<String> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = app.db().await;
    let ids: Vec<Id> = diesel::sql_query(
        "INSERT INTO activities (id, plan_id, goal_id, title, start_year, recurrence, position) \
         SELECT gen_random_uuid(), g.plan_id, g.id, 'Aktivitet ' || n, 2024, 'annual', n \
         FROM goals g, generate_series(1, $2) n WHERE g.id = $1::uuid \
         RETURNING id::text AS id",
    )
    .bind::<diesel::sql_types::Text, _>(goal_id)
    .bind::<diesel::sql_types::BigInt, _>(n)
    .load(&mut conn)
    .await
    .unwrap();
    let mut ids: Vec<String> = ids.into_iter().map(|i| i.id).collect();
    ids.sort();
    ids
}

async fn history(app: &TestApp, activity_id: &str, year: i32) -> Vec<Value> {
    let history = json_ok(
        app.get(&format!(
            "/api/v1/activities/{activity_id}/follow-ups/{year}/history"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    history.as_array().unwrap().clone()
}

fn counts(body: &Value) -> (u64, u64, u64) {
    (
        body["created"].as_u64().unwrap(),
        body["updated"].as_u64().unwrap(),
        body["unchanged"].as_u64().unwrap(),
    )
}

/// `(index, field)` of every error of a batch problem.
fn item_errors(problem: &Value) -> Vec<(u64, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = e["field"].as_str().unwrap();
            // A batch item's field is named by its path in the body.
            let field = match e["index"].as_u64() {
                Some(i) => field
                    .strip_prefix(&format!("items[{i}]."))
                    .unwrap_or_else(|| panic!("{field} is not a path into item {i}")),
                None => field,
            };
            (
                e["index"].as_u64().or(e["row"].as_u64()).unwrap(),
                field.to_owned(),
            )
        })
        .collect()
}

fn csv(app: &TestApp, body: impl Into<Vec<u8>>) -> reqwest::RequestBuilder {
    app.req(reqwest::Method::POST, IMPORT)
        .header("content-type", "text/csv; charset=utf-8")
        .body(body.into())
}

#[tokio::test]
async fn a_batch_creates_updates_and_keeps_history_like_put() {
    let app = TestApp::spawn().await;
    let (_, goal_id, first) = app.plan_goal_activity().await;
    let more = activities(&app, &goal_id, 2).await;
    // A follow-up written one at a time first: the batch continues its history.
    json_ok(
        app.put(
            &format!("/api/v1/activities/{first}/follow-ups/2025"),
            &json!({"status": "ongoing", "comment": "Startat"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let body = json!({"items": [
        {"activity_id": first, "year": 2025, "status": "completed", "comment": "Klart"},
        {"activity_id": more[0], "year": 2025, "status": "ongoing", "comment": null},
        {"activity_id": more[1], "year": 2025, "status": "ongoing"},
    ]});
    let result = json_ok(app.post(BATCH, &body).send().await, StatusCode::OK).await;
    assert_eq!(counts(&result), (2, 1, 0));
    assert_eq!(result["warnings"], json!([]));
    assert_eq!(app.count("follow_ups").await, 3);
    assert_eq!(app.count("follow_up_history").await, 4);

    // The same batch again changes nothing.
    let again = json_ok(app.post(BATCH, &body).send().await, StatusCode::OK).await;
    assert_eq!(counts(&again), (0, 0, 3));
    assert_eq!(app.count("follow_up_history").await, 4);

    // The history chains the PUT's entry and the batch's with the same snapshot shape.
    let changes = history(&app, &first, 2025).await;
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1]["before"], changes[0]["after"]);
    assert_eq!(
        changes[1]["after"],
        json!({"status": "completed", "comment": "Klart", "reported_by": "test-user", "version": 2,
               "review": "submitted", "review_note": null, "reviewed_by": null})
    );
    let created = history(&app, &more[0], 2025).await;
    assert_eq!(created[0]["before"], Value::Null);
    assert_eq!(
        created[0]["after"],
        json!({"status": "ongoing", "comment": null, "reported_by": "test-user", "version": 1,
               "review": "submitted", "review_note": null, "reviewed_by": null})
    );
    let put = json_ok(
        app.get(&format!("/api/v1/activities/{first}/follow-ups/2025"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put["version"], 2);
    assert_eq!(put["comment"], "Klart");
}

#[tokio::test]
async fn one_bad_item_refuses_the_batch_and_names_it() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 3).await;
    let missing = "0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e";
    let p = problem(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
                {"activity_id": ids[1], "year": 2025, "status": "ongoing"},
                {"activity_id": missing, "year": 2025, "status": "ongoing"},
                {"activity_id": ids[2], "year": 2025, "status": "ongoing"},
            ]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(item_errors(&p), [(2, "activity_id".to_owned())]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(missing)
    );
    assert_eq!(app.count("follow_ups").await, 0);
    assert_eq!(app.count("follow_up_history").await, 0);
}

#[tokio::test]
async fn every_bad_item_is_listed_and_nothing_written() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 2).await;
    let p = problem(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
                {"activity_id": "not-a-uuid", "year": 2025, "status": "ongoing"},
                {"activity_id": ids[1], "year": 1800, "status": "ongoing"},
                {"activity_id": ids[1], "year": 2025, "status": "purple"},
                {"activity_id": ids[1], "year": 2024, "status": "ongoing", "comment": "x".repeat(4001)},
                {"activity_id": ids[0], "year": 2025, "status": "completed"},
                {"activity_id": ids[1], "year": 2023},
                {"activity_id": "0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e", "year": 2025, "status": "delayed"},
                {"activity_id": ids[1], "year": 2026, "status": "delayed", "comment": "ok"},
            ]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        item_errors(&p),
        [
            (1, "activity_id".to_owned()),
            (2, "year".to_owned()),
            (3, "status".to_owned()),
            (4, "comment".to_owned()),
            (5, "activity_id".to_owned()),
            (6, "comment".to_owned()),
            (7, "activity_id".to_owned()),
        ]
    );
    let duplicate = &p["errors"][4]["message"];
    assert!(
        duplicate.as_str().unwrap().contains("item 0"),
        "{duplicate}"
    );
    assert_eq!(p["detail"], "7 fields are not valid");
    assert_eq!(app.count("follow_ups").await, 0);
    assert_eq!(app.count("follow_up_history").await, 0);

    // Malformed bodies are refused whole.
    problem(
        app.post(BATCH, &json!({"items": [{"activity_id": ids[0], "year": 2025, "status": "ongoing", "colour": "blå"}]}))
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.req(reqwest::Method::POST, BATCH)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"activity_id": ids[0], "year": 1900 + i % 200, "status": "ongoing"}))
        .collect();
    let p = problem(
        app.post(BATCH, &json!({"items": too_many})).send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["items"]);
    // Writing needs the scope.
    problem(
        app.http
            .post(app.url(BATCH))
            .bearer_auth(app.token(&["read"]))
            .json(&json!({"items": []}))
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn a_large_batch_fits_the_batch_body_limit() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 1000).await;
    let items: Vec<Value> = ids
        .iter()
        .flat_map(|id| {
            (2024..2027).map(move |year| {
                json!({"activity_id": id, "year": year, "status": "ongoing", "comment": "Pågår enligt plan"})
            })
        })
        .collect();
    let body = json!({ "items": items });
    assert!(body.to_string().len() > 256 * 1024);
    let result = json_ok(app.post(BATCH, &body).send().await, StatusCode::OK).await;
    assert_eq!(counts(&result), (3000, 0, 0));
    assert_eq!(app.count("follow_ups").await, 3000);
    assert_eq!(app.count("follow_up_history").await, 3000);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_counts_like_the_real_run() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 3).await;
    json_ok(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": ids[0], "year": 2024, "status": "ongoing"},
                {"activity_id": ids[1], "year": 2024, "status": "ongoing"},
            ]}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let body = json!({"items": [
        {"activity_id": ids[0], "year": 2024, "status": "ongoing"},
        {"activity_id": ids[1], "year": 2024, "status": "completed"},
        {"activity_id": ids[2], "year": 2024, "status": "planned"},
        {"activity_id": ids[2], "year": 2025, "status": "ongoing"},
    ]});
    let dry = json_ok(
        app.post(&format!("{BATCH}?dry_run=true"), &body)
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&dry), (2, 1, 1));
    assert_eq!(dry["warnings"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(app.count("follow_ups").await, 2);
    assert_eq!(app.count("follow_up_history").await, 2);

    let real = json_ok(app.post(BATCH, &body).send().await, StatusCode::OK).await;
    assert_eq!(real, dry);
    assert_eq!(app.count("follow_ups").await, 4);
    assert_eq!(app.count("follow_up_history").await, 5);

    // A dry run of a bad batch lists the same errors as a real one.
    let bad = json!({"items": [{"activity_id": ids[0], "year": 2500, "status": "ongoing"}]});
    let p = problem(
        app.post(&format!("{BATCH}?dry_run=true"), &bad)
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(item_errors(&p), [(0, "year".to_owned())]);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_writes_once() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 2).await;
    let body = json!({"items": [
        {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
        {"activity_id": ids[1], "year": 2025, "status": "completed"},
    ]});
    let post =
        |key: &str, body: &Value| app.post(BATCH, body).header("idempotency-key", key).send();
    let first = post("januari-2026", &body).await.unwrap();
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first = json_ok(Ok(first), StatusCode::OK).await;
    assert_eq!(counts(&first), (2, 0, 0));

    // Someone changes a follow-up; the retry must not undo that.
    json_ok(
        app.put(
            &format!("/api/v1/activities/{}/follow-ups/2025", ids[0]),
            &json!({"status": "delayed"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let retry = post("januari-2026", &body).await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry = json_ok(Ok(retry), StatusCode::OK).await;
    assert_eq!(retry, first);
    assert_eq!(app.count("follow_up_history").await, 3);
    let kept = json_ok(
        app.get(&format!("/api/v1/activities/{}/follow-ups/2025", ids[0]))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["status"], "delayed");

    // The same key with another body is refused, and writes nothing.
    let other = json!({"items": [{"activity_id": ids[0], "year": 2026, "status": "ongoing"}]});
    let p = problem(
        post("januari-2026", &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["Idempotency-Key"]);
    assert_eq!(app.count("follow_ups").await, 2);
    // Keys are per caller: another subject may use the same key.
    let someone_else = kulturplan::auth::JwtKeys::new(&app.config)
        .issue(
            "someone-else",
            &[kulturplan::domain::Scope::FollowUpsWrite].into(),
            None,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    let theirs = json_ok(
        app.http
            .post(app.url(BATCH))
            .bearer_auth(someone_else)
            .header("idempotency-key", "januari-2026")
            .json(&other)
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&theirs), (1, 0, 0));
    // A key must be short.
    problem(post(&"k".repeat(201), &body).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_apply_once() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 100).await;
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"activity_id": id, "year": 2025, "status": "ongoing"}))
        .collect();
    let body = json!({ "items": items });
    let send = || {
        app.post(BATCH, &body)
            .header("idempotency-key", "samma-nyckel")
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut answers = Vec::new();
    for response in [a, b, c] {
        answers.push(json_ok(response, StatusCode::OK).await);
    }
    assert!(
        answers.iter().all(|a| counts(a) == (100, 0, 0)),
        "{answers:?}"
    );
    assert_eq!(app.count("follow_up_history").await, 100);
    assert_eq!(app.count("idempotency_keys").await, 1);
}

#[tokio::test]
async fn csv_with_semicolons_bom_and_swedish_colours() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 5).await;
    let file = format!(
        "\u{feff}activity_id;year;status;comment\r\n\
         {};2025;Grön;\"Genomfört; med två delar\r\nandra raden\"\r\n\
         {};2025;blått;\r\n\
         {};2025;GUL;Pågår\r\n\
         ;;;\r\n\
         {};2025;röd;Försenad\r\n\
         {};2025;completed;\r\n",
        ids[0], ids[1], ids[2], ids[3], ids[4]
    );
    let result = json_ok(csv(&app, file).send().await, StatusCode::OK).await;
    assert_eq!(counts(&result), (5, 0, 0));
    // blått (planned) in the activity's start year is flagged, on its row.
    assert_eq!(result["warnings"].as_array().unwrap().len(), 1, "{result}");
    assert_eq!(result["warnings"][0]["row"], 3);
    assert_eq!(result["warnings"][0]["activity_id"], ids[1].as_str());

    let list = json_ok(
        app.get("/api/v1/follow-ups?year=2025").send().await,
        StatusCode::OK,
    )
    .await;
    let statuses: HashMap<&str, (&str, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["activity_id"].as_str().unwrap(),
                (f["status"].as_str().unwrap(), f["comment"].clone()),
            )
        })
        .collect();
    assert_eq!(
        statuses[ids[0].as_str()],
        (
            "completed",
            json!("Genomfört; med två delar\r\nandra raden")
        )
    );
    assert_eq!(statuses[ids[1].as_str()], ("planned", Value::Null));
    assert_eq!(statuses[ids[2].as_str()], ("ongoing", json!("Pågår")));
    assert_eq!(statuses[ids[3].as_str()], ("delayed", json!("Försenad")));
    assert_eq!(statuses[ids[4].as_str()], ("completed", Value::Null));

    // Comma-separated, columns in another order, without a comment column.
    let file = format!("status,year,activity_id\ngrönt,2026,{}\n", ids[0]);
    let result = json_ok(csv(&app, file).send().await, StatusCode::OK).await;
    assert_eq!(counts(&result), (1, 0, 0));
}

#[tokio::test]
async fn csv_errors_name_their_rows_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 2).await;
    let mut file = format!(
        "activity_id;year;status;comment\n\
         {0};2025;grön;ok\n\
         {0};tjugofem;grön;\n\
         {1};2025;lila;\n\
         ;;;\n\
         {1};2024;gul;\n\
         {0};2025;gul;samma nyckel som rad 2\n\
         0b6f2c1e-3d4a-4b5c-8d9e-0f1a2b3c4d5e;2025;gul;\n\
         {1};2026;;\n\
         {1};2028;gul;Klart; se rapporten\n",
        ids[0], ids[1]
    )
    .into_bytes();
    // A comment saved in Windows-1252 instead of UTF-8.
    file.extend_from_slice(format!("{};2027;gul;Fr", ids[1]).as_bytes());
    file.extend_from_slice(b"\xe5ga\n");
    let p = problem(
        csv(&app, file).send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        item_errors(&p),
        [
            (3, "year".to_owned()),
            (4, "status".to_owned()),
            (7, "activity_id".to_owned()),
            (8, "activity_id".to_owned()),
            (10, "row".to_owned()),
            (11, "comment".to_owned()),
        ]
    );
    assert!(p["errors"][0].get("index").is_none());
    assert!(
        p["errors"][2]["message"]
            .as_str()
            .unwrap()
            .contains("row 2")
    );
    assert_eq!(app.count("follow_ups").await, 0);

    // The header is row 1.
    let p = problem(
        csv(&app, "activity_id;år;status\n").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["row"], 1);
    assert_eq!(fields(&p), ["header"]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`year`")),
        "{p}"
    );
    // Not CSV.
    problem(
        app.post(IMPORT, &json!({"items": []})).send().await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        app.req(reqwest::Method::POST, IMPORT)
            .header("content-type", "text/csv; charset=windows-1252")
            .body("activity_id;year;status\n")
            .send()
            .await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(app.count("follow_ups").await, 0);
}

#[tokio::test]
async fn csv_imports_honour_dry_run_and_idempotency_keys() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 2).await;
    let file = format!(
        "activity_id;year;status;comment\n{};2025;grön;\n{};2025;gul;\n",
        ids[0], ids[1]
    );
    let dry = json_ok(
        app.req(reqwest::Method::POST, &format!("{IMPORT}?dry_run=true"))
            .header("content-type", "text/csv")
            .body(file.clone())
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&dry), (2, 0, 0));
    assert_eq!(app.count("follow_ups").await, 0);
    let first = json_ok(
        csv(&app, file.clone())
            .header("idempotency-key", "fil-1")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first, dry);
    let replayed = csv(&app, file.clone())
        .header("idempotency-key", "fil-1")
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(json_ok(Ok(replayed), StatusCode::OK).await, first);
    assert_eq!(app.count("follow_up_history").await, 2);
    problem(
        csv(&app, file.replace("gul", "röd"))
            .header("idempotency-key", "fil-1")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn a_batch_warns_about_statuses_that_do_not_fit_the_dates() {
    let app = TestApp::spawn().await;
    // Starts 2025, not recurring.
    let (_, goal_id, activity) = app.plan_goal_activity().await;
    json_ok(
        app.patch(
            &format!("/api/v1/activities/{activity}"),
            &json!({"end_year": 2026}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let recurring = activities(&app, &goal_id, 1).await;
    let result = json_ok(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": activity, "year": 2025, "status": "planned"},
                {"activity_id": activity, "year": 2024, "status": "completed"},
                {"activity_id": activity, "year": 2026, "status": "ongoing"},
                {"activity_id": activity, "year": 2027, "status": "completed"},
                {"activity_id": recurring[0], "year": 2030, "status": "ongoing"},
            ]}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&result), (5, 0, 0));
    let warnings = result["warnings"].as_array().unwrap();
    let at: Vec<(u64, u64)> = warnings
        .iter()
        .map(|w| (w["index"].as_u64().unwrap(), w["year"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, [(0, 2025), (1, 2024), (3, 2027)]);
    assert!(
        warnings
            .iter()
            .all(|w| w["activity_id"] == activity.as_str())
    );
    assert!(warnings[0]["message"].as_str().unwrap().contains("planned"));
    // The writes were kept.
    assert_eq!(app.count("follow_ups").await, 5);
}

#[tokio::test]
async fn an_actor_bound_client_is_refused_per_item_in_a_batch() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 3).await;
    let actor = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Örebro läns museum", "kind": "institution"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let actor_id = actor["id"].as_str().unwrap();
    for own in &ids[..2] {
        json_ok(
            app.put(
                &format!("/api/v1/activities/{own}/actors"),
                &json!([{"actor_id": actor_id, "role": "responsible"}]),
            )
            .send()
            .await,
            StatusCode::OK,
        )
        .await;
    }
    let (id, secret) = app
        .create_client(&["follow_ups:write"], Some(actor_id))
        .await;
    let token = app.client_token(&id, &secret).await;
    let post = |body: Value| {
        app.http
            .post(app.url(BATCH))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let p = problem(
        post(json!({"items": [
            {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
            {"activity_id": ids[2], "year": 2025, "status": "ongoing"},
            {"activity_id": ids[1], "year": 2025, "status": "ongoing"},
        ]}))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(item_errors(&p), [(1, "activity_id".to_owned())]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&ids[2])
    );
    assert_eq!(app.count("follow_ups").await, 0);

    let result = json_ok(
        post(json!({"items": [
            {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
            {"activity_id": ids[1], "year": 2025, "status": "ongoing"},
        ]}))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(counts(&result), (2, 0, 0));
    let changes = history(&app, &ids[0], 2025).await;
    assert_eq!(changes[0]["changed_by"], "client:Integrationsskript");
}

#[tokio::test]
async fn overlapping_concurrent_batches_lose_nothing_and_never_deadlock() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 50).await;
    let keys: Vec<(String, i32)> = ids
        .iter()
        .flat_map(|id| (2024..2028).map(move |year| (id.clone(), year)))
        .collect();
    assert_eq!(keys.len(), 200);
    let statuses = ["planned", "delayed", "completed", "ongoing"];
    let keys_ = JwtKeysFor(&app);
    // Four clients, each posting all 200 keys in its own order, with its own values.
    let batch = |b: usize| {
        let mut mine = keys.clone();
        mine.rotate_left(b * 37);
        if b % 2 == 1 {
            mine.reverse();
        }
        let items: Vec<Value> = mine
            .iter()
            .map(|(id, year)| {
                json!({"activity_id": id, "year": year, "status": statuses[b], "comment": format!("batch {b}")})
            })
            .collect();
        app.http
            .post(app.url(BATCH))
            .bearer_auth(keys_.token(&format!("client:{b}")))
            .json(&json!({ "items": items }))
            .send()
    };
    let (r0, r1, r2, r3) = tokio::join!(batch(0), batch(1), batch(2), batch(3));
    let mut succeeded = HashSet::new();
    let mut written = 0;
    let mut created = 0;
    for (b, response) in [r0, r1, r2, r3].into_iter().enumerate() {
        let response = response.expect("answered, no deadlock or timeout");
        match response.status() {
            StatusCode::OK => {
                let body: Value = response.json().await.unwrap();
                let (c, u, n) = counts(&body);
                assert_eq!(c + u + n, 200);
                created += c;
                written += c + u;
                succeeded.insert(format!("batch {b}"));
            }
            // A clean refusal is allowed; anything else is not.
            status => {
                let p = problem(Ok(response), StatusCode::CONFLICT).await;
                assert_eq!(status, StatusCode::CONFLICT, "{p}");
            }
        }
    }
    assert!(!succeeded.is_empty());
    assert_eq!(created, 200, "every key created exactly once");
    assert_eq!(app.count("follow_ups").await, 200);
    assert_eq!(app.count("follow_up_history").await, written as i64);

    // Every row holds one batch's value, and its history is an unbroken chain ending in it.
    #[derive(diesel::prelude::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        activity_id: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        year: i32,
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        current: Value,
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        changes: Value,
    }
    let mut conn = app.db().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT f.activity_id::text AS activity_id, f.year, \
             jsonb_build_object('status', f.status, 'comment', f.comment, \
                 'reported_by', f.reported_by, 'version', f.version, 'review', f.review, \
                 'review_note', f.review_note, 'reviewed_by', f.reviewed_by) AS current, \
             (SELECT jsonb_agg(jsonb_build_object('before', h.before, 'after', h.after) ORDER BY h.id) \
              FROM follow_up_history h WHERE h.activity_id = f.activity_id AND h.year = f.year) AS changes \
         FROM follow_ups f",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 200);
    for row in rows {
        let comment = row.current["comment"].as_str().unwrap();
        assert!(succeeded.contains(comment), "{comment} was not posted");
        let b: usize = comment["batch ".len()..].parse().unwrap();
        assert_eq!(row.current["status"], statuses[b]);
        assert_eq!(row.current["reported_by"], format!("client:{b}"));
        let changes = row.changes.as_array().unwrap();
        assert_eq!(
            changes[0]["before"],
            Value::Null,
            "{}/{}",
            row.activity_id,
            row.year
        );
        for pair in changes.windows(2) {
            assert_eq!(pair[1]["before"], pair[0]["after"]);
        }
        assert_eq!(changes.last().unwrap()["after"], row.current);
        assert_eq!(row.current["version"], changes.len());
    }
    drop(conn);
    assert_eq!(deadlocks(&app).await, 0);
}

/// Deadlocks PostgreSQL detected (and broke) in this test's database so far. The server's
/// connections are ended first: a backend reports its counts when it exits.
async fn deadlocks(app: &TestApp) -> i64 {
    #[derive(diesel::prelude::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db().await;
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap();
    for _ in 0..50 {
        let others: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        if others.n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    diesel::sql_query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query(
        "SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap()
    .n
}

#[tokio::test]
async fn batches_and_single_writes_together_never_deadlock() {
    let app = TestApp::spawn().await;
    let (_, goal_id, _) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 40).await;
    let item = |id: &String, year: i32, comment: &str| json!({"activity_id": id, "year": year, "status": "ongoing", "comment": comment});
    let existing: Vec<Value> = ids
        .iter()
        .flat_map(|id| (2024..2027).map(move |year| (id, year)))
        .map(|(id, year)| item(id, year, "start"))
        .collect();
    json_ok(
        app.post(BATCH, &json!({ "items": existing })).send().await,
        StatusCode::OK,
    )
    .await;
    for round in 0..3 {
        // Each batch updates every existing key and creates new ones; PUTs update single keys.
        let batch = |b: usize| {
            let items: Vec<Value> = ids
                .iter()
                .flat_map(|id| (2024..2027 + 1 + round).map(move |year| (id, year)))
                .map(|(id, year)| item(id, year, &format!("round {round} batch {b}")))
                .collect();
            app.post(BATCH, &json!({ "items": items })).send()
        };
        let put = |i: usize| {
            app.put(
                &format!(
                    "/api/v1/activities/{}/follow-ups/{}",
                    ids[(i * 7) % ids.len()],
                    2024 + (i % 3)
                ),
                &json!({"status": "completed", "comment": format!("round {round} put {i}")}),
            )
            .send()
        };
        let puts = futures_util::future::join_all((0..12).map(put));
        let (a, b, puts) = tokio::join!(batch(0), batch(1), puts);
        json_ok(a, StatusCode::OK).await;
        json_ok(b, StatusCode::OK).await;
        for response in puts {
            let response = response.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
        }
    }
    assert_eq!(deadlocks(&app).await, 0);
}

/// Tokens for several subjects of one test app.
struct JwtKeysFor<'a>(&'a TestApp);

impl JwtKeysFor<'_> {
    fn token(&self, subject: &str) -> String {
        kulturplan::auth::JwtKeys::new(&self.0.config)
            .issue(
                subject,
                &[kulturplan::domain::Scope::FollowUpsWrite].into(),
                None,
                None,
                Duration::from_secs(120),
            )
            .unwrap()
    }
}

#[tokio::test]
async fn the_follow_up_list_filters_and_pages() {
    let app = TestApp::spawn().await;
    let (plan_id, goal_id, first) = app.plan_goal_activity().await;
    let ids = activities(&app, &goal_id, 3).await;
    let actor = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Nora kommun", "kind": "municipality", "municipality_code": "1884"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    json_ok(
        app.put(
            &format!("/api/v1/activities/{}/actors", ids[0]),
            &json!([{"actor_id": actor["id"], "role": "participant"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    // Another plan's activity.
    let other_plan = json_ok(app.post("/api/v1/plans", &json!({
        "title": "Kulturplan 2027–2030", "kind": "culture_plan", "first_year": 2027, "last_year": 2030
    })).send().await, StatusCode::CREATED).await;
    let other_goal = json_ok(
        app.post(
            "/api/v1/goals",
            &json!({
                "plan_id": other_plan["id"], "kind": "objective", "title": "Mål"
            }),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let elsewhere = activities(&app, other_goal["id"].as_str().unwrap(), 1).await;
    json_ok(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": first, "year": 2025, "status": "ongoing"},
                {"activity_id": ids[0], "year": 2024, "status": "completed"},
                {"activity_id": ids[0], "year": 2025, "status": "ongoing"},
                {"activity_id": ids[1], "year": 2025, "status": "delayed"},
                {"activity_id": ids[2], "year": 2025, "status": "ongoing"},
                {"activity_id": elsewhere[0], "year": 2025, "status": "ongoing"},
            ]}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let read = app.token(&["read"]);
    let list = |query: String| {
        let app = &app;
        let read = read.clone();
        async move {
            json_ok(
                app.http
                    .get(app.url(&format!("/api/v1/follow-ups{query}")))
                    .bearer_auth(read)
                    .send()
                    .await,
                StatusCode::OK,
            )
            .await
        }
    };
    let keys = |body: &Value| -> Vec<(String, u64)> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["activity_id"].as_str().unwrap().to_owned(),
                    f["year"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let all = list(String::new()).await;
    let first = app.get("/api/v1/follow-ups").send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .get("/api/v1/follow-ups")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(all["items"].as_array().unwrap().len(), 6);
    assert_eq!(all["items"][0]["year"], 2024, "ordered by year first");
    assert!(all["items"][0]["warnings"].is_array());
    assert_eq!(keys(&list(format!("?plan_id={plan_id}")).await).len(), 5);
    assert_eq!(
        keys(&list("?year=2024".into()).await),
        [(ids[0].clone(), 2024)]
    );
    assert_eq!(
        keys(&list("?status=delayed".into()).await),
        [(ids[1].clone(), 2025)]
    );
    assert_eq!(
        keys(
            &list(format!(
                "?actor_id={}&year=2025",
                actor["id"].as_str().unwrap()
            ))
            .await
        ),
        [(ids[0].clone(), 2025)]
    );
    assert_eq!(
        keys(&list(format!("?plan_id={plan_id}&year=2025&status=ongoing")).await).len(),
        3
    );

    // Pages of two cover everything once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".into(),
        };
        let page = list(query).await;
        seen.extend(keys(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, keys(&all));

    problem(
        app.get("/api/v1/follow-ups?status=purple").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        app.get("/api/v1/follow-ups?year=1800").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.http
            .get(app.url("/api/v1/follow-ups"))
            .bearer_auth(app.token(&["follow_ups:write"]))
            .send()
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
}
