//! `GET /changes`: a pulling system that follows the feed ends with exactly the current data,
//! after deletes, across a transaction that commits late, and with writers running meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::sql_types::{Integer, Jsonb, Nullable, Text};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::downloads::download;
use crate::helpers::{TestApp, fields, json_ok, problem, seeded_activity};
use kulturplan::seed;

const PLAN: &str = "genomforandeplan-2024";

/// (entity, id, natural key) of a row as the feed names it.
type RowKey = (String, String, String);

/// A key object in a stable text form (the order of its fields does not matter).
fn canonical(key: &Value) -> String {
    match key {
        Value::Null => String::new(),
        Value::Object(map) => {
            let mut parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.sort();
            parts.join(",")
        }
        other => other.to_string(),
    }
}

/// What a pulling system keeps: every row it was told about, with its latest version.
#[derive(Default)]
struct Replica {
    rows: BTreeMap<RowKey, Option<i64>>,
    cursor: Option<String>,
    last_seq: i64,
    applied: usize,
}

impl Replica {
    /// Pulls and applies one page; returns how many changes it held.
    async fn pull(&mut self, app: &TestApp, limit: u32) -> usize {
        let path = match &self.cursor {
            Some(c) => format!("/api/v1/changes?since={c}&limit={limit}"),
            None => format!("/api/v1/changes?limit={limit}"),
        };
        let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        for change in items {
            let seq = change["seq"].as_i64().unwrap();
            assert!(
                seq >= self.last_seq,
                "commit order: {seq} after {}",
                self.last_seq
            );
            self.last_seq = seq;
            let key = (
                change["entity"].as_str().unwrap().to_owned(),
                change["id"].as_str().unwrap().to_owned(),
                canonical(change.get("key").unwrap_or(&Value::Null)),
            );
            match change["op"].as_str().unwrap() {
                "create" | "update" => {
                    self.rows.insert(key, change["version"].as_i64());
                }
                "delete" => {
                    assert!(
                        self.rows.remove(&key).is_some(),
                        "a tombstone for a row the replica holds: {change}"
                    );
                }
                other => panic!("unknown op {other}"),
            }
        }
        let next = page["next_cursor"]
            .as_str()
            .expect("next_cursor is always given")
            .to_owned();
        if items.is_empty() {
            if let Some(cursor) = &self.cursor {
                assert_eq!(&next, cursor, "an empty page keeps the poller's place");
            }
            assert_eq!(page["has_more"], false);
        }
        self.cursor = Some(next);
        self.applied += items.len();
        items.len()
    }

    /// Pulls until nothing is new.
    async fn catch_up(&mut self, app: &TestApp) {
        while self.pull(app, 250).await > 0 {}
    }
}

/// Every served row as the feed names it, read straight from the tables.
async fn current_data(app: &TestApp) -> BTreeMap<RowKey, Option<i64>> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        entity: String,
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
        #[diesel(sql_type = Nullable<Jsonb>)]
        key: Option<Value>,
        #[diesel(sql_type = Nullable<Integer>)]
        version: Option<i32>,
    }
    let mut conn = app.db().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT 'plan' AS entity, id, NULL::jsonb AS key, version FROM plans \
         UNION ALL SELECT 'goal', id, NULL, version FROM goals \
         UNION ALL SELECT 'activity', id, NULL, version FROM activities \
         UNION ALL SELECT 'actor', id, NULL, version FROM actors \
         UNION ALL SELECT 'follow_up', id, jsonb_build_object('activity_id', activity_id, 'year', year), version FROM follow_ups \
         UNION ALL SELECT 'activity_actor', activity_id, jsonb_build_object('actor_id', actor_id, 'role', role), NULL FROM activity_actors \
         UNION ALL SELECT 'activity_goal', activity_id, jsonb_build_object('goal_id', goal_id), NULL FROM activity_goals \
         UNION ALL SELECT 'plan_activity', activity_id, jsonb_build_object('plan_id', plan_id), NULL FROM plan_activities",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                (
                    r.entity,
                    r.id.to_string(),
                    canonical(r.key.as_ref().unwrap_or(&Value::Null)),
                ),
                r.version.map(i64::from),
            )
        })
        .collect()
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn replaying_the_feed_from_the_beginning_gives_the_current_data_after_deletes() {
    let app = TestApp::spawn_seeded().await;
    // The seed itself is in the feed.
    let mut early = Replica::default();
    early.catch_up(&app).await;
    assert_eq!(early.rows, current_data(&app).await);

    // An actor created, changed and deleted.
    let actor = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Kulturföreningen Ådalen", "kind": "organisation"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let actor = id_of(&actor);
    json_ok(
        app.patch(
            &format!("/api/v1/actors/{actor}"),
            &json!({"website": "https://adalen.example"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    // An activity with links and a follow-up, all removed again.
    let goal = seed::goal_id(PLAN, "4.1");
    let linked = seed::goal_id(PLAN, "5.2.2");
    let gone = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": goal, "title": "Kortlivad aktivitet", "start_year": 2024, "linked_goal_ids": [linked]}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let gone = id_of(&gone);
    let hallsberg = seed::actor_id("hallsbergs-kommun");
    let strateger = seed::actor_id("kulturstrateger");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{gone}/actors"),
            &json!([{"actor_id": hallsberg, "role": "participant"}, {"actor_id": actor, "role": "supporting"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    json_ok(
        app.put(
            &format!("/api/v1/activities/{gone}/follow-ups/2024"),
            &json!({"status": "completed"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    for path in [
        format!("/api/v1/activities/{gone}/follow-ups/2024"),
        format!("/api/v1/activities/{gone}"),
        format!("/api/v1/actors/{actor}"),
    ] {
        let response = app.delete(&path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
    }
    // A seeded activity deleted with its actor links; another one kept and changed.
    let a002 = seeded_activity(PLAN, "a002");
    let response = app
        .delete(&format!("/api/v1/activities/{a002}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let a003 = seeded_activity(PLAN, "a003");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a003}/actors"),
            &json!([{"actor_id": strateger, "role": "responsible"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a003}/follow-ups/2024"),
            &json!({"status": "ongoing"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let plan = seed::plan_id(PLAN);
    json_ok(
        app.patch(
            &format!("/api/v1/plans/{plan}"),
            &json!({"description": "Uppdaterad"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;

    // A replica that started before the writes catches up with them …
    early.catch_up(&app).await;
    let current = current_data(&app).await;
    assert_eq!(early.rows, current);
    // … and so does one that starts from the beginning now, in small pages.
    let mut fresh = Replica::default();
    while fresh.pull(&app, 7).await > 0 {}
    assert_eq!(fresh.rows, current);
    assert!(!current.contains_key(&("activity".into(), a002.clone(), String::new())));
    assert_eq!(
        current[&("activity".into(), a003.clone(), String::new())],
        Some(2),
        "the new actor set moved the activity's version"
    );

    // The deletes are in the feed as tombstones, with the link rows they took along.
    let mut tombstones = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/changes?since={c}&limit=1000"),
            None => "/api/v1/changes?limit=1000".to_owned(),
        };
        let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        tombstones.extend(
            items
                .iter()
                .filter(|c| c["op"] == "delete" && c["id"] == a002.as_str())
                .cloned(),
        );
        if items.is_empty() {
            break;
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    let entities: Vec<&str> = tombstones
        .iter()
        .map(|c| c["entity"].as_str().unwrap())
        .collect();
    assert!(entities.contains(&"activity") && entities.contains(&"activity_actor"));
    let activity = tombstones
        .iter()
        .find(|c| c["entity"] == "activity")
        .unwrap();
    assert_eq!(activity["version"], 1);
}

#[tokio::test]
async fn the_feed_answers_its_cursor_when_nothing_is_new_and_refuses_foreign_cursors() {
    let app = TestApp::spawn_seeded().await;
    let mut replica = Replica::default();
    replica.catch_up(&app).await;
    let cursor = replica.cursor.clone().unwrap();
    for _ in 0..2 {
        let page = json_ok(
            app.get(&format!("/api/v1/changes?since={cursor}"))
                .send()
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["items"], json!([]));
        assert_eq!(page["next_cursor"], cursor.as_str());
        assert_eq!(page["has_more"], false);
    }
    // A full page says more is ready.
    let page = json_ok(
        app.get("/api/v1/changes?limit=3").send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["has_more"], true);

    let p = problem(
        app.get("/api/v1/changes?since=bm90LWEtY3Vyc29y")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["since"]);
    let p = problem(
        app.get("/api/v1/changes?limit=0").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["limit"]);
    let response = app
        .http
        .get(app.url("/api/v1/changes"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The feed as CSV, with the next cursor in the Link header.
    let csv = download(&app, "/api/v1/changes?limit=20&format=csv", false).await;
    assert_eq!(csv.rows.len(), 20);
    assert_eq!(
        csv.header,
        ["seq", "entity", "id", "op", "version", "at", "key"]
    );
    let link = csv.headers["link"].to_str().unwrap();
    assert!(
        link.contains("since=") && link.ends_with("rel=\"next\""),
        "{link}"
    );
}

#[tokio::test]
async fn a_transaction_that_has_not_committed_holds_back_the_feed_and_every_later_writer() {
    let app = Arc::new(TestApp::spawn_seeded().await);
    let mut replica = Replica::default();
    replica.catch_up(&app).await;
    let before = replica.cursor.clone().unwrap();

    // A writer that takes its place in the log and then takes its time to commit.
    let slow_actor = seed::actor_id("kumla-kommun");
    let mut slow = app.db().await;
    slow.batch_execute(&format!(
        "BEGIN; UPDATE actors SET website = 'https://www.kumla.se' WHERE id = '{slow_actor}'"
    ))
    .await
    .unwrap();

    // A later writer through the API must wait for it: its change may not be numbered before
    // the slow one's commit, or a poller could pass the slow one's number before it is visible.
    let fast_actor = seed::actor_id("nora-kommun");
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            app.patch(
                &format!("/api/v1/actors/{fast_actor}"),
                &json!({"website": "https://www.nora.se"}),
            )
            .send()
            .await
            .unwrap()
            .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !writer.is_finished(),
        "the later writer waits for the earlier commit"
    );
    assert_eq!(
        replica.pull(&app, 100).await,
        0,
        "nothing uncommitted is served"
    );
    assert_eq!(replica.cursor.as_deref(), Some(before.as_str()));

    slow.batch_execute("COMMIT").await.unwrap();
    assert_eq!(writer.await.unwrap(), StatusCode::OK);

    let page = json_ok(
        app.get(&format!("/api/v1/changes?since={before}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [slow_actor.to_string(), fast_actor.to_string()],
        "both, in commit order"
    );
    assert!(items[0]["seq"].as_i64() < items[1]["seq"].as_i64());
    replica.catch_up(&app).await;
    assert_eq!(replica.rows, current_data(&app).await);
}

#[tokio::test]
async fn a_poller_following_the_feed_while_writers_run_ends_with_the_current_data() {
    let app = Arc::new(TestApp::spawn_seeded().await);
    let goal = seed::goal_id(PLAN, "4.2");
    let orebro = seed::actor_id("orebro-kommun");
    let done = Arc::new(AtomicBool::new(false));

    let mut writers = Vec::new();
    for w in 0..4 {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..12 {
                let actor = json_ok(
                    app.post(
                        "/api/v1/actors",
                        &json!({"name": format!("Förening {w}-{i}"), "kind": "organisation"}),
                    )
                    .send()
                    .await,
                    StatusCode::CREATED,
                )
                .await;
                let actor = id_of(&actor);
                json_ok(
                    app.patch(
                        &format!("/api/v1/actors/{actor}"),
                        &json!({"email": format!("info{w}{i}@example.se")}),
                    )
                    .send()
                    .await,
                    StatusCode::OK,
                )
                .await;
                let activity = json_ok(
                    app.post(
                        "/api/v1/activities",
                        &json!({"goal_id": goal, "title": format!("Samtidig aktivitet {w}-{i}"), "start_year": 2024}),
                    )
                    .send()
                    .await,
                    StatusCode::CREATED,
                )
                .await;
                let activity = id_of(&activity);
                json_ok(
                    app.put(
                        &format!("/api/v1/activities/{activity}/actors"),
                        &json!([{"actor_id": orebro, "role": "participant"}, {"actor_id": actor, "role": "responsible"}]),
                    )
                    .send()
                    .await,
                    StatusCode::OK,
                )
                .await;
                json_ok(
                    app.put(
                        &format!("/api/v1/activities/{activity}/follow-ups/2024"),
                        &json!({"status": "ongoing"}),
                    )
                    .send()
                    .await,
                    StatusCode::CREATED,
                )
                .await;
                if i % 3 == 0 {
                    for path in [
                        format!("/api/v1/activities/{activity}/follow-ups/2024"),
                        format!("/api/v1/activities/{activity}"),
                        format!("/api/v1/actors/{actor}"),
                    ] {
                        let status = app.delete(&path).send().await.unwrap().status();
                        assert_eq!(status, StatusCode::NO_CONTENT, "{path}");
                    }
                }
            }
        }));
    }
    let watcher = {
        let done = done.clone();
        tokio::spawn(async move {
            for writer in writers {
                writer.await.unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    let mut replica = Replica::default();
    let mut pulls = 0;
    loop {
        // Read the flag first: when it is set, every write has committed before this pull.
        let finished = AtomicBool::load(&done, Ordering::SeqCst);
        let n = replica.pull(&app, 40).await;
        pulls += 1;
        if n == 0 {
            if finished {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    watcher.await.unwrap();
    assert!(
        pulls > 10,
        "the poller ran alongside the writers ({pulls} pulls)"
    );
    assert_eq!(replica.rows, current_data(&app).await);
}
