//! Database faults: the service reaches PostgreSQL through a TCP proxy of the test's own, which
//! the test cuts (every open link dropped, new ones refused) and restores while writers post
//! follow-ups one at a time and in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::helpers::{TestApp, server_url};

/// A TCP proxy that can be cut and restored, and can lose the reply to a `COMMIT`.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    /// Armed: the next `COMMIT` reaches PostgreSQL, its reply never reaches the service, and
    /// that link is closed.
    lose_commit_reply: Arc<AtomicBool>,
    /// Also cut everything when the armed `COMMIT` passes.
    cut_on_commit: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: String) -> Arc<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Arc::new(Proxy {
            port: listener.local_addr().expect("proxy addr").port(),
            up: Arc::new(AtomicBool::new(true)),
            links: Arc::default(),
            lose_commit_reply: Arc::default(),
            cut_on_commit: Arc::default(),
        });
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                // While cut, a connection is accepted and closed at once: PostgreSQL gone.
                if !accepting.up.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let link = tokio::spawn(accepting.clone().forward(client, server));
                let mut links = accepting.links.lock().expect("links");
                links.retain(|l| !l.is_finished());
                links.push(link.abort_handle());
            }
        });
        proxy
    }

    async fn forward(self: Arc<Self>, client: TcpStream, server: TcpStream) {
        let (mut from_client, mut to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        let upstream = async {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = from_client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
                let chunk = &buf[..n];
                if chunk.windows(6).any(|w| w == b"COMMIT")
                    && self.lose_commit_reply.swap(false, Ordering::SeqCst)
                {
                    return Some(chunk.to_vec());
                }
                to_server.write_all(chunk).await.ok()?;
            }
        };
        let downstream = tokio::io::copy(&mut from_server, &mut to_client);
        let trapped = tokio::select! {
            commit = upstream => commit,
            _ = downstream => None,
        };
        // Nothing flows back any more: the COMMIT goes out, PostgreSQL commits, and the link
        // closes with the reply unread.
        if let Some(commit) = trapped {
            let _ = to_server.write_all(&commit).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            if self.cut_on_commit.load(Ordering::SeqCst) {
                self.cut();
            }
        }
    }

    /// Drops every open link (both sockets close) and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `host:port` of the test server, for the proxy to forward to.
fn upstream() -> String {
    let url = server_url();
    let authority = url.split_once("://").map(|(_, rest)| rest).unwrap_or(&url);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split('/').next().unwrap_or(host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// One write and what the service answered.
struct Attempt {
    /// (activity, year, comment) of every follow-up the write carries.
    items: Vec<(Uuid, i32, String)>,
    status: Option<StatusCode>,
    problem_type: Option<String>,
    body: Value,
    sent: Instant,
    took: Duration,
}

impl Attempt {
    fn acknowledged(&self) -> bool {
        self.status.is_some_and(|s| s.is_success())
    }

    fn outcome_unknown(&self) -> bool {
        self.problem_type.as_deref() == Some("/problems/outcome-unknown")
    }
}

async fn send(app: &TestApp, items: Vec<(Uuid, i32, String)>, batch: bool) -> Attempt {
    let request = if batch {
        let items: Vec<Value> = items
            .iter()
            .map(|(activity, year, comment)| {
                json!({"activity_id": activity, "year": year, "status": "ongoing", "comment": comment})
            })
            .collect();
        app.post("/api/v1/follow-ups/batch", &json!({ "items": items }))
    } else {
        let (activity, year, comment) = &items[0];
        app.put(
            &format!("/api/v1/activities/{activity}/follow-ups/{year}"),
            &json!({"status": "ongoing", "comment": comment}),
        )
    };
    let sent = Instant::now();
    let response = request.send().await;
    let took = sent.elapsed();
    let (status, body) = match response {
        Ok(response) => {
            let status = response.status();
            (Some(status), response.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (None, Value::Null),
    };
    let problem_type = body["type"].as_str().map(str::to_owned);
    Attempt {
        items,
        status,
        problem_type,
        body,
        sent,
        took,
    }
}

#[derive(diesel::prelude::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

#[derive(diesel::prelude::QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    activity_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    year: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    comment: Option<String>,
}

async fn activity_ids(app: &TestApp) -> Vec<Uuid> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db().await;
    diesel::sql_query("SELECT id FROM activities ORDER BY id")
        .load::<Row>(&mut conn)
        .await
        .expect("activities")
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// The follow-ups the writers left, read directly, not through the proxy.
async fn stored_follow_ups(app: &TestApp) -> HashMap<(Uuid, i32), Option<String>> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db().await;
    diesel::sql_query(
        "SELECT activity_id, year, comment FROM follow_ups \
         WHERE comment LIKE 'fault test write %'",
    )
    .load::<Stored>(&mut conn)
    .await
    .expect("follow-ups")
    .into_iter()
    .map(|s| ((s.activity_id, s.year), s.comment))
    .collect()
}

async fn status_of(app: &TestApp, path: &str) -> Option<StatusCode> {
    app.http
        .get(app.url(path))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_a_cut_database_link_are_never_lost_nor_half_done() {
    let proxy = Proxy::start(upstream()).await;
    let port = proxy.port;
    let app = TestApp::spawn_seeded_with(|config, db_name| {
        config.database_url = format!("postgres://postgres@127.0.0.1:{port}/{db_name}");
        config.db_pool_size = 8;
        config.db_acquire_timeout = Duration::from_millis(800);
        config.db_statement_timeout = Duration::from_secs(2);
    })
    .await;
    let activities = activity_ids(&app).await;
    assert!(activities.len() > 100, "the seed data is loaded");

    // Every write gets keys no other write uses, so what each one left is plain to see.
    let next_key = Arc::new(AtomicUsize::new(0));
    let key = {
        let next_key = next_key.clone();
        let activities = activities.clone();
        move || {
            let n = next_key.fetch_add(1, Ordering::SeqCst);
            let year = 1950 + i32::try_from(n / activities.len()).expect("year");
            (
                activities[n % activities.len()],
                year,
                format!("fault test write {n}"),
            )
        }
    };
    let running = Arc::new(AtomicBool::new(true));
    let app = Arc::new(app);
    let mut writers = Vec::new();
    for writer in 0..6 {
        let (app, running, key) = (app.clone(), running.clone(), key.clone());
        writers.push(tokio::spawn(async move {
            let mut attempts = Vec::new();
            while running.load(Ordering::SeqCst) {
                // One writer in three posts batches of eight, the others single follow-ups.
                let batch = writer % 3 == 0;
                let items = (0..if batch { 8 } else { 1 }).map(|_| key()).collect();
                let attempt = send(&app, items, batch).await;
                // As a well-behaved client would, pause after a refusal instead of spinning.
                if !attempt.acknowledged() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                attempts.push(attempt);
            }
            attempts
        }));
    }

    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut outages = Vec::new();
    for _ in 0..3 {
        let cut_at = Instant::now();
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Probes run while the link is down: the service stays alive but is not ready.
        assert_eq!(
            status_of(&app, "/health/ready").await,
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(status_of(&app, "/health/live").await, Some(StatusCode::OK));
        tokio::time::sleep(Duration::from_millis(800)).await;
        let restored_at = Instant::now();
        proxy.restore();
        outages.push((cut_at, restored_at));
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    running.store(false, Ordering::SeqCst);
    let mut attempts = Vec::new();
    for writer in writers {
        attempts.extend(writer.await.expect("writer"));
    }

    // Every answer is a success or a 503 problem, and came within a bounded time.
    for attempt in &attempts {
        let status = attempt.status.expect("every request is answered");
        assert!(
            status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE,
            "unexpected {status}: {}",
            attempt.body
        );
        if !status.is_success() {
            assert!(
                matches!(
                    attempt.problem_type.as_deref(),
                    Some("/problems/unavailable" | "/problems/outcome-unknown")
                ),
                "{:?}",
                attempt.problem_type
            );
        }
        assert!(
            attempt.took < Duration::from_secs(7),
            "answered after {:?}",
            attempt.took
        );
    }

    let stored = stored_follow_ups(&app).await;
    let mut refused = 0;
    let mut unknown = 0;
    for attempt in &attempts {
        let present: Vec<bool> = attempt
            .items
            .iter()
            .map(|(activity, year, comment)| {
                stored.get(&(*activity, *year)) == Some(&Some(comment.clone()))
            })
            .collect();
        if attempt.acknowledged() {
            assert!(
                present.iter().all(|p| *p),
                "an acknowledged write is missing: {:?}",
                attempt.items
            );
        } else if attempt.outcome_unknown() {
            // Flagged as unknown: applied in whole or not at all, never in part.
            unknown += 1;
            assert!(present.iter().all(|p| *p) || present.iter().all(|p| !*p));
        } else {
            refused += 1;
            assert!(
                present.iter().all(|p| !*p),
                "a refused write left a trace: {:?}",
                attempt.items
            );
        }
    }
    // Nothing else was written: every stored follow-up belongs to an acknowledged write, or to
    // one whose outcome was reported unknown.
    let accounted: usize = attempts
        .iter()
        .filter(|a| a.acknowledged() || a.outcome_unknown())
        .map(|a| a.items.len())
        .sum();
    assert!(stored.len() <= accounted);

    // The cuts were felt, and the service recovered from each without a restart.
    assert!(refused > 0, "no write met an outage");
    for (cut_at, restored_at) in &outages {
        let recovered = attempts
            .iter()
            .filter(|a| a.sent > *restored_at && a.acknowledged())
            .map(|a| a.sent.duration_since(*restored_at))
            .min()
            .expect("writes succeed again after the link is restored");
        assert!(
            recovered < Duration::from_secs(2),
            "recovery took {recovered:?}"
        );
        let failed_in_outage = attempts
            .iter()
            .any(|a| !a.acknowledged() && a.sent + a.took >= *cut_at);
        assert!(failed_in_outage);
    }
    // Once recovered, every write after the last outage succeeds.
    let (_, last_restore) = outages[outages.len() - 1];
    let settled = last_restore + Duration::from_millis(500);
    assert!(
        attempts
            .iter()
            .filter(|a| a.sent > settled)
            .all(Attempt::acknowledged),
        "writes failed after the database was back"
    );
    eprintln!(
        "{} writes: {} acknowledged, {refused} refused, {unknown} outcome unknown",
        attempts.len(),
        attempts.iter().filter(|a| a.acknowledged()).count()
    );
}

/// The app on the seed data, reaching PostgreSQL through `proxy`.
async fn app_behind(proxy: &Proxy) -> TestApp {
    let port = proxy.port;
    TestApp::spawn_seeded_with(|config, db_name| {
        config.database_url = format!("postgres://postgres@127.0.0.1:{port}/{db_name}");
        config.db_acquire_timeout = Duration::from_millis(800);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_commit_reply_is_lost_is_answered_by_what_happened() {
    let proxy = Proxy::start(upstream()).await;
    let app = app_behind(&proxy).await;
    let activity = activity_ids(&app).await[0];
    proxy.lose_commit_reply.store(true, Ordering::SeqCst);
    let attempt = send(
        &app,
        vec![(activity, 2031, "fault test write lost reply".into())],
        false,
    )
    .await;
    assert!(
        !proxy.lose_commit_reply.load(Ordering::SeqCst),
        "the COMMIT passed the proxy"
    );
    // The COMMIT went through although its reply never came back: the service learns that
    // on another connection and answers success, not 503.
    assert_eq!(
        attempt.status,
        Some(StatusCode::CREATED),
        "{}",
        attempt.body
    );
    let stored = stored_follow_ups(&app).await;
    assert_eq!(
        stored.get(&(activity, 2031)),
        Some(&Some("fault test write lost reply".to_owned()))
    );
    // The connection the reply was lost on is not handed out again.
    let again = send(
        &app,
        vec![(activity, 2032, "fault test write after".into())],
        false,
    )
    .await;
    assert_eq!(again.status, Some(StatusCode::CREATED), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_commit_cannot_be_confirmed_says_so_and_a_retry_replays_it() {
    let proxy = Proxy::start(upstream()).await;
    let app = app_behind(&proxy).await;
    let ids = activity_ids(&app).await;
    let body = json!({"items": ids[..3].iter().map(|id| json!({
        "activity_id": id, "year": 2033, "status": "completed", "comment": "fault test write batch"
    })).collect::<Vec<_>>()});
    proxy.cut_on_commit.store(true, Ordering::SeqCst);
    proxy.lose_commit_reply.store(true, Ordering::SeqCst);
    let restore = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            // Down for longer than the service chases a lost COMMIT.
            tokio::time::sleep(Duration::from_secs(7)).await;
            proxy.restore();
        })
    };
    let response = app
        .post("/api/v1/follow-ups/batch", &body)
        .header("Idempotency-Key", "fault-batch-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["type"], "/problems/outcome-unknown", "{problem}");
    restore.await.expect("restore");

    // It had committed. The retry with the same key answers what the first request would
    // have answered, and writes nothing twice.
    let retry = app
        .post("/api/v1/follow-ups/batch", &body)
        .header("Idempotency-Key", "fault-batch-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let result: Value = retry.json().await.expect("result");
    assert_eq!(result["created"], 3, "{result}");
    let stored = stored_follow_ups(&app).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(app.count("follow_up_history WHERE year = 2033").await, 3);
}
