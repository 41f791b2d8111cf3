//! Operators' view and concurrent writers: request ids, metrics, input limits, lost updates.

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, json_ok, problem};

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_clients() {
    let app = TestApp::spawn().await;
    let generated = app.get("/api/v1/plans").send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    let given = app
        .get("/api/v1/plans")
        .header("x-request-id", "portal-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "portal-4711");
    // An id that cannot be logged safely is replaced.
    let odd = app
        .get("/api/v1/plans")
        .header("x-request-id", "a b")
        .send()
        .await
        .unwrap();
    assert_ne!(odd.headers()["x-request-id"], "a b");
    // Also on errors, and without a token.
    let refused = app
        .http
        .get(app.url("/api/v1/plans"))
        .header("x-request-id", "no-token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["x-request-id"], "no-token-1");
}

#[tokio::test]
async fn metrics_count_requests_per_route_template_and_status() {
    let app = TestApp::spawn().await;
    let (plan_id, _, _) = app.plan_goal_activity().await;
    json_ok(
        app.get(&format!("/api/v1/plans/{plan_id}")).send().await,
        StatusCode::OK,
    )
    .await;
    problem(
        app.get("/api/v1/plans/00000000-0000-0000-0000-000000000000")
            .send()
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"kulturplan_http_requests_total{method="GET",route="/api/v1/plans/{id}",status="200"} 1"#), "{text}");
    assert!(text.contains(
        r#"kulturplan_http_requests_total{method="GET",route="/api/v1/plans/{id}",status="404"} 1"#
    ));
    assert!(text.contains("kulturplan_http_request_duration_seconds_bucket"));
    assert!(text.contains("kulturplan_db_pool_connections"));
    assert!(!text.contains(&plan_id), "raw paths never become labels");
}

#[tokio::test]
async fn oversized_query_strings_and_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(5000);
    let p = problem(
        app.get(&format!("/api/v1/actors?q={long}")).send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("query string"));
    // Deeply nested JSON is refused as a bad body, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = app
        .req(reqwest::Method::POST, "/api/v1/plans")
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(app.count("plans").await, 0);
    // Header fields of more than 16 KiB are refused before any handler runs.
    let response = app
        .get("/api/v1/plans")
        .header("x-padding", "x".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // So is a head of more headers than the server parses, written by hand (the HTTP client
    // would send them, but the point is what the server answers on the wire).
    let headers: String = (0..500)
        .map(|i| format!("x-h{i}: 0123456789\r\n"))
        .collect();
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(format!("GET /health/live HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn of_a_hundred_concurrent_patches_with_one_etag_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let path = format!("/api/v1/activities/{activity_id}");
    let etag = app.get(&path).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let requests = (0..100).map(|i| {
        app.patch(&path, &json!({"title": format!("Ändring {i}")}))
            .header("if-match", etag.clone())
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let statuses: Vec<StatusCode> = responses.into_iter().map(|r| r.unwrap().status()).collect();
    let won = statuses.iter().filter(|s| s.is_success()).count();
    let stale = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!((won, stale), (1, 99), "{statuses:?}");
    let activity = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    assert_eq!(activity["version"], 2);
}

#[tokio::test]
async fn concurrent_upserts_of_one_follow_up_never_lose_a_write() {
    let app = TestApp::spawn().await;
    let (_, _, activity_id) = app.plan_goal_activity().await;
    let path = format!("/api/v1/activities/{activity_id}/follow-ups/2025");
    let statuses = ["planned", "delayed", "completed", "ongoing"];
    let requests = (0..40).map(|i| {
        app.put(
            &path,
            &json!({"status": statuses[i % 4], "comment": format!("rapport {i}")}),
        )
        .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    for response in responses {
        assert!(response.unwrap().status().is_success());
    }
    // One row; its history is a chain in which each entry's before is the previous after.
    assert_eq!(app.count("follow_ups").await, 1);
    let history = json_ok(
        app.get(&format!("{path}/history")).send().await,
        StatusCode::OK,
    )
    .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 40, "every changed body is one history entry");
    for pair in history.windows(2) {
        assert_eq!(pair[1]["before"], pair[0]["after"]);
    }
    let current = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    assert_eq!(
        current["comment"],
        history.last().unwrap()["after"]["comment"]
    );
}

/// The release path of a deployment: the real binary, stopped with SIGTERM while a request is
/// half sent. It stops accepting at once, answers that request when its body is complete, and
/// exits cleanly.
#[tokio::test]
async fn on_sigterm_the_service_stops_accepting_and_finishes_the_request_in_flight() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let app = TestApp::spawn().await;
    let (_, _, activity) = app.plan_goal_activity().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let bin = env!("CARGO_BIN_EXE_kulturplan");
    let env = [
        ("DATABASE_URL", app.db_url.clone()),
        ("BIND_ADDR", addr.clone()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let token = Command::new(bin)
        .args(["token", "--scope", "follow_ups:write", "--subject", "drift"])
        .envs(env.clone())
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let mut child = Command::new(bin)
        .arg("serve")
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = Instant::now();
    loop {
        let answer = app
            .http
            .get(format!("http://{addr}/health/ready"))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
            break;
        }
        assert!(ready.elapsed() < Duration::from_secs(20), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let body = r#"{"status": "ongoing", "comment": "Pågår enligt plan"}"#.as_bytes();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/activities/{activity}/follow-ups/2025 HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(stopping.elapsed() < Duration::from_secs(30));
    assert_eq!(app.count("follow_ups").await, 1);
}
