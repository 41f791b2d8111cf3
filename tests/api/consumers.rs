//! What consumers coding against the document alone need: errors that name every wrong field,
//! query strings as generators write them, notes without a colour, `/me`, municipality codes
//! answered alike, and the Excel round trip of a follow-up sheet.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem};

const BATCH: &str = "/api/v1/follow-ups/batch";
const IMPORT: &str = "/api/v1/follow-ups/import";

#[tokio::test]
async fn a_body_of_the_wrong_types_names_every_field() {
    let app = TestApp::spawn().await;
    let p = problem(
        app.post(
            "/api/v1/plans",
            &json!({"title": 5, "kind": "culture_plan", "first_year": "x", "last_year": 2030, "colour": "blå"}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let named = fields(&p);
    for field in ["title", "first_year", "colour"] {
        assert!(named.contains(&field.to_owned()), "{field} not in {p}");
    }
    assert!(!named.contains(&"kind".to_owned()), "{p}");
    assert!(
        !p.to_string().contains("line 1 column"),
        "positions mean nothing to a client: {p}"
    );
    assert_eq!(app.count("plans").await, 0);
}

#[tokio::test]
async fn a_batch_item_of_the_wrong_type_is_named_by_path_and_index() {
    let app = TestApp::spawn_seeded().await;
    let history = app.count("follow_up_history").await;
    let id = crate::helpers::seeded_activity("genomforandeplan-2024", "a001");
    let p = problem(
        app.post(
            BATCH,
            &json!({"items": [
                {"activity_id": id, "year": 2022, "status": "ongoing"},
                {"activity_id": id, "year": 2023, "status": "ongoing"},
                {"activity_id": id, "year": 2024, "status": "ongoing"},
                {"activity_id": id, "year": "2022", "status": "ongoing"},
                {"activity_id": id, "year": 2025, "status": 7, "comment": ["a"]},
            ]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut errors: Vec<(Value, Value)> = p["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| (e["field"].clone(), e["index"].clone()))
                .collect()
        })
        .unwrap_or_default();
    errors.sort_by_key(|(field, _)| field.to_string());
    assert_eq!(
        errors,
        [
            (json!("items[3].year"), json!(3)),
            (json!("items[4].comment"), json!(4)),
            (json!("items[4].status"), json!(4)),
        ],
        "{p}"
    );
    assert_eq!(app.count("follow_up_history").await, history);
}

#[tokio::test]
async fn query_parameters_that_do_not_parse_are_named() {
    let app = TestApp::spawn().await;
    let p = problem(
        app.get("/api/v1/activities?limit=abc").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(fields(&p), ["limit"]);
    let p = problem(
        app.get("/api/v1/follow-ups?year=abc").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(fields(&p), ["year"]);
    let p = problem(
        app.get("/api/v1/plans?colour=blue").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(fields(&p), ["colour"]);
    // The cache-buster browsers add is no parameter, and no error.
    json_ok(
        app.get("/api/v1/plans?_=1733097600000").send().await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn embed_takes_repeated_parameters_and_comma_lists_alike() {
    let app = TestApp::spawn_seeded().await;
    let repeated = json_ok(
        app.get("/api/v1/activities?limit=5&embed=goal&embed=actors")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let listed = json_ok(
        app.get("/api/v1/activities?limit=5&embed=goal,actors")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(repeated, listed);
    assert!(repeated["items"][0]["goal"].is_object(), "{repeated}");
    assert!(repeated["items"][0]["actors"].is_array(), "{repeated}");
    assert!(repeated["items"][0].get("plan").is_none_or(Value::is_null));
    let p = problem(
        app.get("/api/v1/activities?embed=goal&embed=colour")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["embed"]);
}

#[tokio::test]
async fn a_note_without_a_colour_is_written_by_put_batch_and_csv() {
    let app = TestApp::spawn_seeded().await;
    let id = crate::helpers::seeded_activity("genomforandeplan-2024", "a001");
    let path = format!("/api/v1/activities/{id}/follow-ups/2030");
    let p = problem(
        app.put(&path, &json!({"status": null})).send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["comment"]);
    let note = json_ok(
        app.put(
            &path,
            &json!({"status": null, "comment": "Inväntar beslut"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(note["status"], Value::Null);
    assert_eq!(note["comment"], "Inväntar beslut");

    let p = problem(
        app.post(
            BATCH,
            &json!({"items": [{"activity_id": id, "year": 2031, "status": null, "comment": " "}]}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["items[0].comment"]);
    let result = json_ok(
        app.post(BATCH, &json!({"items": [{"activity_id": id, "year": 2031, "status": null, "comment": "Anteckning"}]}))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["created"], 1);

    let file = format!("activity_id;year;status;comment\n{id};2032;;Anteckning i Excel\n");
    let result = json_ok(
        app.req(reqwest::Method::POST, IMPORT)
            .header("content-type", "text/csv")
            .body(file)
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(result["created"], 1);
    for year in [2031, 2032] {
        let written = json_ok(
            app.get(&format!("/api/v1/activities/{id}/follow-ups/{year}"))
                .send()
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(written["status"], Value::Null, "{written}");
        assert!(
            written["comment"]
                .as_str()
                .is_some_and(|c| c.starts_with("Anteckning"))
        );
    }
}

async fn municipality(app: &TestApp, code: &str) -> Value {
    let actors = json_ok(
        app.get(&format!("/api/v1/actors?municipality_code={code}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    actors["items"][0].clone()
}

#[tokio::test]
async fn me_tells_a_client_its_binding() {
    let app = TestApp::spawn_seeded().await;
    let me = json_ok(app.get("/api/v1/me").send().await, StatusCode::OK).await;
    assert_eq!(me["subject"], "test-user");
    assert_eq!(me["scopes"], json!(["admin"]));
    assert_eq!(me["actor"], Value::Null);
    assert_eq!(me["client"], Value::Null);

    let askersund = municipality(&app, "1882").await;
    let actor_id = askersund["id"].as_str().expect("id");
    let (client_id, secret) = app
        .create_client(&["follow_ups:write"], Some(actor_id))
        .await;
    let token = app.client_token(&client_id, &secret).await;
    let response = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    let etag = response.headers()["etag"].clone();
    let me = json_ok(Ok(response), StatusCode::OK).await;
    assert_eq!(me["scopes"], json!(["follow_ups:write"]));
    assert_eq!(me["actor"]["id"], actor_id);
    assert_eq!(me["actor"]["name"], askersund["name"]);
    assert_eq!(me["actor"]["municipality_code"], "1882");
    assert_eq!(me["client"]["client_id"], client_id.as_str());
    assert_eq!(me["client"]["name"], "Integrationsskript");
    let again = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn follow_ups_filter_by_municipality_and_unknown_codes_are_404_everywhere() {
    let app = TestApp::spawn_seeded().await;
    let orebro = municipality(&app, "1880").await;
    let theirs = json_ok(
        app.get("/api/v1/activities?municipality_code=1880&limit=3")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let items: Vec<Value> = theirs["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| json!({"activity_id": a["id"], "year": 2025, "status": "ongoing"}))
        .collect();
    assert_eq!(items.len(), 3);
    // Follow-ups the seed already holds for Örebro's activities.
    let seeded = json_ok(
        app.get("/api/v1/follow-ups?municipality_code=1880&limit=500")
            .send()
            .await,
        StatusCode::OK,
    )
    .await["items"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    json_ok(
        app.post(BATCH, &json!({ "items": items })).send().await,
        StatusCode::OK,
    )
    .await;
    let by_code = json_ok(
        app.get("/api/v1/follow-ups?municipality_code=1880&limit=500")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let by_actor = json_ok(
        app.get(&format!(
            "/api/v1/follow-ups?actor_id={}&limit=500",
            orebro["id"].as_str().expect("id")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        by_code["items"].as_array().map(Vec::len),
        Some(seeded + 3),
        "{by_code}"
    );
    assert_eq!(by_code, by_actor);

    for path in [
        "/api/v1/follow-ups?municipality_code=9999",
        "/api/v1/activities?municipality_code=9999",
        "/api/v1/actors?municipality_code=9999",
        "/api/v1/municipalities/9999/collaborations",
        "/api/v1/follow-ups/sheet?year=2024&municipality_code=9999",
    ] {
        let p = problem(app.get(path).send().await, StatusCode::NOT_FOUND).await;
        assert_eq!(p["detail"], "no municipality has the code 9999", "{path}");
    }
}

/// Rows of an Excel-dialect CSV file: BOM, `;`, CRLF.
fn sheet_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a byte-order mark");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(body)
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

fn sheet_file(rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(&mut out);
    for row in rows {
        writer.write_record(row).expect("written");
    }
    writer.flush().expect("flushed");
    drop(writer);
    out
}

#[tokio::test]
async fn the_excel_round_trip_changes_exactly_the_cells_changed() {
    let app = TestApp::spawn_seeded().await;
    let orebro = municipality(&app, "1880").await;
    let (client_id, secret) = app
        .create_client(&["read", "follow_ups:write"], orebro["id"].as_str())
        .await;
    let token = app.client_token(&client_id, &secret).await;
    let sheet = async || {
        let response = app
            .http
            .get(app.url("/api/v1/follow-ups/sheet?year=2022"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .is_ok_and(|d| d.contains("uppfoljning-2022-1880.csv"))
        );
        sheet_rows(&response.bytes().await.expect("body"))
    };
    // The municipality reports three activities in its sheet, the rest stay empty (skipped).
    let mut rows = sheet().await;
    assert_eq!(
        rows[0],
        [
            "activity_id",
            "year",
            "goal_code",
            "title",
            "responsible",
            "status",
            "comment"
        ]
    );
    assert!(rows.len() > 4, "{rows:?}");
    rows[1][5] = "gul".into();
    rows[2][5] = "Grönt".into();
    rows[3][6] = "-- ingen färg ännu".into();
    let first = import(&app, &token, sheet_file(&rows)).await;
    assert_eq!(first["created"], 3, "{first}");

    let mut rows = sheet().await;
    assert_eq!(
        [&rows[1][5], &rows[2][5], &rows[3][5], &rows[3][6]],
        ["gul", "grön", "", "'-- ingen färg ännu"]
    );
    let colours = ["blå", "röd", "grön", "gul", ""];
    assert!(
        rows[1..].iter().all(|r| colours.contains(&r[5].as_str())),
        "{rows:?}"
    );
    let reported: Vec<usize> = (1..rows.len())
        .filter(|&i| !rows[i][5].is_empty() || !rows[i][6].is_empty())
        .collect();
    assert_eq!(reported, [1, 2, 3]);

    let before = snapshot(&app).await;
    // Unchanged, the sheet changes nothing.
    let unchanged = import(&app, &token, sheet_file(&rows)).await;
    assert_eq!(
        (unchanged["created"].clone(), unchanged["updated"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(snapshot(&app).await, before);

    let (a, b) = (reported[0], reported[1]);
    rows[a][5] = if rows[a][5] == "röd" {
        "grön"
    } else {
        "röd"
    }
    .to_owned();
    rows[b][6] = "Ändrat i Excel".to_owned();
    let changed = import(&app, &token, sheet_file(&rows)).await;
    assert_eq!(changed["updated"], 2, "{changed}");
    assert_eq!(changed["created"], 0, "{changed}");
    let after = snapshot(&app).await;
    let differing: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x[0].clone())
        .collect();
    assert_eq!(differing.len(), 2);
    assert!(differing.contains(&format!("{}/2022", rows[a][0])));
    assert!(differing.contains(&format!("{}/2022", rows[b][0])));
}

async fn import(app: &TestApp, token: &str, file: Vec<u8>) -> Value {
    json_ok(
        app.http
            .post(app.url(IMPORT))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(file)
            .send()
            .await,
        StatusCode::OK,
    )
    .await
}

/// Every follow-up as `[activity/year, status, comment, version]`, in key order.
async fn snapshot(app: &TestApp) -> Vec<Vec<String>> {
    let text = app
        .text_of(
            "SELECT coalesce(json_agg(json_build_array(activity_id || '/' || year, status, comment, version::text) \
             ORDER BY activity_id, year), '[]')::text AS v FROM follow_ups",
        )
        .await;
    let rows: Vec<Vec<Value>> = serde_json::from_str(&text).expect("JSON");
    rows.into_iter()
        .map(|r| {
            r.iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .collect()
}
