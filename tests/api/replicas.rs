//! Several replicas on one database, as behind a load balancer: what one instance keeps in memory
//! never changes what another answers. ETags agree, a write through one is seen by the other's
//! next answer (kept reports and cached lists included), an Idempotency-Key replays on any of
//! them. And the database URL: several hosts, of which only a server that takes writes is used.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_ok, maintenance, problem, query_count, seeded_activity};
use diesel_async::RunQueryDsl;
use kulturplan::seed;

const PLAN: &str = "genomforandeplan-2024";

/// What the portal, the municipalities and the board read: lists, collaborations, reports and
/// one versioned row.
fn read_paths() -> Vec<String> {
    let plan = seed::plan_id(PLAN);
    vec![
        format!("/api/v1/activities?plan_id={plan}&embed=goal,plan,actors,follow_ups&year=2024"),
        "/api/v1/activities?q=bibliotek&limit=10".to_owned(),
        "/api/v1/municipalities/1880/collaborations?year=2024".to_owned(),
        format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024"),
        format!("/api/v1/reports/collaboration-matrix?plan_id={plan}"),
        format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024&format=csv"),
        format!("/api/v1/goals?plan_id={plan}"),
        format!("/api/v1/activities/{}", seeded_activity(PLAN, "a003")),
    ]
}

async fn etag_and_body(response: Response) -> (String, String) {
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"]
        .to_str()
        .expect("ASCII ETag")
        .to_owned();
    (etag, response.text().await.expect("body"))
}

async fn read(app: &TestApp, path: &str) -> (String, String) {
    etag_and_body(app.get(path).send().await.expect("sent")).await
}

async fn put_status(app: &TestApp, activity: &str, status: &str) {
    let response = app
        .put(
            &format!("/api/v1/activities/{activity}/follow-ups/2024"),
            &json!({ "status": status, "comment": "via en annan replik" }),
        )
        .send()
        .await
        .expect("sent");
    assert!(response.status().is_success(), "{}", response.status());
}

#[tokio::test]
async fn replicas_answer_the_same_etag_and_body_and_honour_each_others_etags() {
    let a = TestApp::spawn_seeded().await;
    let b = a.replica();
    for path in read_paths() {
        let (etag_a, body_a) = read(&a, &path).await;
        // Read twice on b: computed once, then from what b keeps.
        for _ in 0..2 {
            let (etag_b, body_b) = read(&b, &path).await;
            assert_eq!(etag_a, etag_b, "{path}");
            assert_eq!(body_a, body_b, "{path}");
        }
        let revalidated = b
            .get(&path)
            .header("if-none-match", &etag_a)
            .send()
            .await
            .expect("sent");
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
}

#[tokio::test]
async fn a_write_through_one_replica_changes_the_others_next_answer() {
    let a = TestApp::spawn_seeded().await;
    let b = a.replica();
    let plan = seed::plan_id(PLAN);
    let summary = format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024");
    let list = format!("/api/v1/activities?plan_id={plan}&embed=follow_ups&year=2024&limit=500");
    let activity = seeded_activity(PLAN, "a003");

    let before = query_count(&b).await;
    let (report_etag, report) = read(&b, &summary).await;
    let computed = query_count(&b).await - before;
    // Read twice, so that b keeps the page wherever it would keep one.
    let (list_etag, _) = read(&b, &list).await;
    assert_eq!(read(&b, &list).await.0, list_etag);
    // b keeps the report: a second read costs what a 304 costs.
    let before = query_count(&b).await;
    assert_eq!(read(&b, &summary).await.0, report_etag);
    let kept = query_count(&b).await - before;
    let before = query_count(&b).await;
    let revalidated = b
        .get(&summary)
        .header("if-none-match", &report_etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        kept,
        query_count(&b).await - before,
        "the report is kept by b"
    );
    assert!(kept < computed);

    put_status(&a, &activity, "delayed").await;

    let (etag, body) = read(&b, &summary).await;
    assert_ne!(etag, report_etag, "a new ETag on b at once");
    let (old, new): (Value, Value) = (
        serde_json::from_str(&report).expect("JSON"),
        serde_json::from_str(&body).expect("JSON"),
    );
    let delayed = |report: &Value| {
        report["plan"]["counts"]["delayed"]
            .as_i64()
            .expect("a count")
    };
    assert_eq!(
        delayed(&new),
        delayed(&old) + 1,
        "b's report counts the write made through a"
    );
    // A client holding b's old ETag is not told it is current, by either replica.
    for app in [&a, &b] {
        for (path, held) in [(&summary, &report_etag), (&list, &list_etag)] {
            let response = app
                .get(path)
                .header("if-none-match", held)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
    let page = json_ok(b.get(&list).send().await, StatusCode::OK).await;
    let item = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == activity.as_str())
        .expect("the activity is listed");
    assert_eq!(item["follow_ups"][0]["status"], "delayed", "{item}");

    // And back through b: a's kept rendering moves on as well.
    let (etag_a, _) = read(&a, &summary).await;
    put_status(&b, &activity, "completed").await;
    let (etag_after, body) = read(&a, &summary).await;
    assert_ne!(etag_after, etag_a);
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(delayed(&body), delayed(&old));
}

#[tokio::test]
async fn an_idempotency_key_replays_on_every_replica() {
    let a = TestApp::spawn_seeded().await;
    let b = a.replica();
    let (x, y) = (seeded_activity(PLAN, "a003"), seeded_activity(PLAN, "a006"));
    let batch = json!({"items": [
        {"activity_id": x, "year": 2031, "status": "ongoing"},
        {"activity_id": y, "year": 2031, "status": "completed"},
    ]});
    let history = a.count("follow_up_history").await;
    let send = |app: &TestApp, key: &str, body: &Value| {
        app.post("/api/v1/follow-ups/batch", body)
            .header("idempotency-key", key)
            .send()
    };

    let first = send(&a, "uppfoljning-2031", &batch).await.expect("sent");
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first = json_ok(Ok(first), StatusCode::OK).await;
    let retry = send(&b, "uppfoljning-2031", &batch).await.expect("sent");
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(json_ok(Ok(retry), StatusCode::OK).await, first);
    assert_eq!(a.count("follow_up_history").await, history + 2);
    // The same key with another body is refused on the other replica too.
    let other = json!({"items": [{"activity_id": x, "year": 2032, "status": "ongoing"}]});
    problem(
        send(&b, "uppfoljning-2031", &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // A client that retries on another replica before the first answer came: one applies,
    // the other answers what it applied.
    let again = json!({"items": [
        {"activity_id": x, "year": 2033, "status": "planned"},
        {"activity_id": y, "year": 2033, "status": "planned"},
    ]});
    let (one, two) = tokio::join!(
        send(&a, "uppfoljning-2033", &again),
        send(&b, "uppfoljning-2033", &again)
    );
    let (one, two) = (one.expect("sent"), two.expect("sent"));
    let replayed = [&one, &two]
        .iter()
        .filter(|r| r.headers().contains_key("idempotent-replayed"))
        .count();
    assert_eq!(replayed, 1, "exactly one of them applied the batch");
    let (one, two) = (
        json_ok(Ok(one), StatusCode::OK).await,
        json_ok(Ok(two), StatusCode::OK).await,
    );
    assert_eq!(one, two);
    assert_eq!(one["created"], 2);
    assert_eq!(a.count("follow_up_history").await, history + 4);
}

/// `postgres://user@host:port` of the test server, with `first` as another host before it.
fn with_host_before(first: &str) -> String {
    let server = crate::helpers::server_url();
    let (scheme, rest) = server.split_once("://").expect("a URL");
    match rest.split_once('@') {
        Some((user, hosts)) => format!("{scheme}://{user}@{first},{hosts}"),
        None => format!("{scheme}://{first},{rest}"),
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn as_operator(sql: &str) {
    let mut conn = maintenance().await;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The database stops taking writes for new sessions (as a standby or a fenced primary does),
/// and the sessions the app holds are ended.
async fn make_read_only(app: &TestApp, read_only: bool) {
    let value = if read_only { "on" } else { "off" };
    as_operator(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = {value}",
        app.db_name
    ))
    .await;
    as_operator(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db_name
    ))
    .await;
    // Ending a session is a signal: wait until the sessions are gone.
    #[derive(diesel::prelude::QueryableByName)]
    struct Left {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = maintenance().await;
    for _ in 0..100 {
        let left: Left =
            diesel::sql_query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1")
                .bind::<diesel::sql_types::Text, _>(&app.db_name)
                .get_result(&mut conn)
                .await
                .expect("pg_stat_activity");
        if left.n == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the app's sessions did not end");
}

async fn status_of(response: Result<Response, reqwest::Error>) -> StatusCode {
    response.expect("sent").status()
}

#[tokio::test]
async fn a_database_url_of_several_hosts_uses_the_one_that_takes_writes() {
    let dead = format!("127.0.0.1:{}", closed_port());
    let app = TestApp::spawn_seeded_with(|config, db_name| {
        config.database_url = format!(
            "{}/{db_name}?target_session_attrs=read-write&connect_timeout=2",
            with_host_before(&dead)
        );
    })
    .await;
    let activity = seeded_activity(PLAN, "a003");
    put_status(&app, &activity, "ongoing").await;
    assert_eq!(
        status_of(app.get("/health/ready").send().await).await,
        StatusCode::OK
    );

    // The server stops taking writes: it is skipped like a standby, and nothing is written.
    make_read_only(&app, true).await;
    assert_eq!(
        status_of(app.get("/health/ready").send().await).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let refused = app
        .put(
            &format!("/api/v1/activities/{activity}/follow-ups/2024"),
            &json!({ "status": "delayed" }),
        )
        .send()
        .await;
    problem(refused, StatusCode::SERVICE_UNAVAILABLE).await;

    // It takes writes again (a promoted standby): the pool finds it by itself.
    make_read_only(&app, false).await;
    put_status(&app, &activity, "completed").await;
    let kept = json_ok(
        app.get(&format!("/api/v1/activities/{activity}/follow-ups/2024"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["status"], "completed");
    assert_eq!(
        app.text_of(&format!(
            "SELECT count(*)::text AS v FROM follow_up_history WHERE activity_id = '{activity}' AND year = 2024"
        ))
        .await,
        "2",
        "the refused write left no history"
    );
}

#[tokio::test]
async fn a_write_on_a_server_that_takes_none_is_unavailable_not_an_error() {
    // Without target_session_attrs the pool may hold sessions on a read-only server.
    let app = TestApp::spawn_seeded().await;
    let activity = seeded_activity(PLAN, "a003");
    make_read_only(&app, true).await;
    let refused = app
        .put(
            &format!("/api/v1/activities/{activity}/follow-ups/2024"),
            &json!({ "status": "delayed" }),
        )
        .send()
        .await;
    let p = problem(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["type"], "/problems/unavailable");
    assert_eq!(
        status_of(app.get("/api/v1/plans").send().await).await,
        StatusCode::OK,
        "reads still work"
    );
    make_read_only(&app, false).await;
    assert_eq!(
        app.text_of(&format!(
            "SELECT count(*)::text AS v FROM follow_ups WHERE activity_id = '{activity}' AND year = 2024"
        ))
        .await,
        "0"
    );
}

#[tokio::test]
async fn replicas_that_start_together_apply_each_migration_once() {
    let app = TestApp::spawn().await;
    let reverted = kulturplan::db::revert_all(&app.db_url)
        .await
        .expect("revert");
    // Two replicas start on a database with every migration pending.
    let (one, two) = tokio::join!(
        kulturplan::db::migrate(&app.db_url),
        kulturplan::db::migrate(&app.db_url)
    );
    let (one, two) = (one.expect("first replica"), two.expect("second replica"));
    assert_eq!(one.len() + two.len(), reverted);
    assert!(one.is_empty() || two.is_empty(), "{one:?} / {two:?}");
}

#[tokio::test]
async fn a_client_revoked_through_one_replica_is_refused_by_the_other_at_once() {
    let a = TestApp::spawn_seeded().await;
    let b = a.replica();
    let (client_id, secret) = a.create_client(&["read"], None).await;
    // Issued by b, accepted by a: every replica signs with the same key.
    let token = b.client_token(&client_id, &secret).await;
    let read = |app: &TestApp| {
        app.http
            .get(app.url("/api/v1/plans"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(status_of(read(&a).await).await, StatusCode::OK);
    json_ok(
        a.req(
            reqwest::Method::POST,
            &format!("/api/v1/clients/{client_id}/revoke"),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    problem(read(&b).await, StatusCode::UNAUTHORIZED).await;
}
