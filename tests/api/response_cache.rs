//! The rendered-response cache: a repeated read is answered from memory, no answer (cached or
//! 304) shows data older than the last write — also when the write went through another instance
//! of the service — and the memory it holds stays within its bound.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_ok, metric, query_count};

const PLAN: &str = "genomforandeplan-2024";

struct Reader<'a> {
    app: &'a TestApp,
    token: String,
}

impl Reader<'_> {
    async fn get(
        &self,
        base: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, Value) {
        let mut request = self
            .app
            .http
            .request(Method::GET, format!("{base}{path}"))
            .bearer_auth(&self.token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = if status == StatusCode::OK {
            response.json().await.expect("json")
        } else {
            Value::Null
        };
        (status, etag, body)
    }
}

/// What every instance answers for every path: ETag and body.
type Seen = Vec<(String, String, String, Value)>;

async fn observe(reader: &Reader<'_>, bases: &[String], paths: &[String]) -> Seen {
    let mut seen = Vec::new();
    for base in bases {
        for path in paths {
            let (status, etag, body) = reader.get(base, path, &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            seen.push((base.clone(), path.clone(), etag, body));
        }
    }
    seen
}

/// After a write: every instance answers what a fresh computation answers, plainly and when asked
/// with the ETag it gave before the write; and the write changed something that was read.
async fn assert_current(reader: &Reader<'_>, before: &Seen, step: &str) {
    let mut changed = false;
    for (base, path, etag, old) in before {
        let (_, _, fresh) = reader
            .get(&reader.app.base, path, &[("Cache-Control", "no-cache")])
            .await;
        let (status, _, plain) = reader.get(base, path, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(plain, fresh, "{step}: {base}{path} answered old data");
        let (status, _, conditional) = reader.get(base, path, &[("If-None-Match", etag)]).await;
        if fresh != *old {
            changed = true;
            assert_eq!(
                status,
                StatusCode::OK,
                "{step}: {base}{path} answered 304 for old data"
            );
            assert_eq!(conditional, fresh, "{step}: {base}{path}");
        }
    }
    assert!(changed, "{step} changed nothing that was read");
}

#[tokio::test]
async fn no_cached_or_304_answer_shows_data_older_than_the_last_write_on_any_instance() {
    let app = TestApp::spawn_seeded().await;
    let bases = vec![app.base.clone(), app.another_instance().await];
    let reader = Reader {
        app: &app,
        token: app.token(&["read"]),
    };
    let plan = kulturplan::seed::plan_id(PLAN).to_string();
    let activity = app
        .text_of(&format!(
            "SELECT id::text AS v FROM activities WHERE plan_id = '{plan}' ORDER BY position, id LIMIT 1"
        ))
        .await;
    let goal = app
        .text_of(&format!(
            "SELECT goal_id::text AS v FROM activities WHERE id = '{activity}'"
        ))
        .await;
    let other_goal = app
        .text_of(&format!(
            "SELECT id::text AS v FROM goals WHERE plan_id = '{plan}' AND id <> '{goal}' ORDER BY id LIMIT 1"
        ))
        .await;
    let actor = app
        .text_of("SELECT id::text AS v FROM actors ORDER BY name LIMIT 1")
        .await;
    let embed = "embed=goal,plan,actors,follow_ups";
    let paths = vec![
        format!("/api/v1/activities?plan_id={plan}&{embed}&limit=500"),
        format!("/api/v1/activities/{activity}?{embed}"),
        format!("/api/v1/activities/{activity}"),
        format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024"),
        "/api/v1/actors?limit=500".to_owned(),
        "/api/v1/plans?limit=500".to_owned(),
    ];
    let writer = std::cell::Cell::new(0);
    macro_rules! step {
        ($name:expr, |$base:ident| $write:expr) => {{
            let before = observe(&reader, &bases, &paths).await;
            // The writes go through each instance in turn.
            let $base: String = bases[writer.get() % bases.len()].clone();
            writer.set(writer.get() + 1);
            let _ = $write.await;
            assert_current(&reader, &before, $name).await;
        }};
    }
    let send = |method: Method, base: String, path: String, body: Option<Value>| {
        let app = &app;
        async move {
            let mut request = app
                .http
                .request(method, format!("{base}{path}"))
                .bearer_auth(app.token(&["admin"]));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("write");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            response.json::<Value>().await.unwrap_or(Value::Null)
        }
    };

    step!("activity updated", |base| send(
        Method::PATCH,
        base,
        format!("/api/v1/activities/{activity}"),
        Some(json!({"title": "Läsfrämjande för alla"}))
    ));
    step!("actor links replaced", |base| send(
        Method::PUT,
        base,
        format!("/api/v1/activities/{activity}/actors"),
        Some(json!([{"actor_id": actor, "role": "convener"}]))
    ));
    step!("goal links replaced", |base| send(
        Method::PATCH,
        base,
        format!("/api/v1/activities/{activity}"),
        Some(json!({"linked_goal_ids": [other_goal]}))
    ));
    step!("follow-up created", |base| send(
        Method::PUT,
        base,
        format!("/api/v1/activities/{activity}/follow-ups/2024"),
        Some(json!({"status": "completed", "comment": "Genomfört"}))
    ));
    step!("follow-up updated", |base| send(
        Method::PUT,
        base,
        format!("/api/v1/activities/{activity}/follow-ups/2024"),
        Some(json!({"status": "delayed", "comment": "Försenat"}))
    ));
    step!("follow-ups in a batch", |base| send(
        Method::POST,
        base,
        "/api/v1/follow-ups/batch".to_owned(),
        Some(json!({"items": [{"activity_id": activity, "year": 2024, "status": "ongoing"}]}))
    ));
    step!("follow-up deleted", |base| send(
        Method::DELETE,
        base,
        format!("/api/v1/activities/{activity}/follow-ups/2024"),
        None
    ));
    step!("goal updated", |base| send(
        Method::PATCH,
        base,
        format!("/api/v1/goals/{goal}"),
        Some(json!({"title": "Läsande i hela länet"}))
    ));
    step!("plan updated", |base| send(
        Method::PATCH,
        base,
        format!("/api/v1/plans/{plan}"),
        Some(json!({"title": "Genomförandeplan 2024 (reviderad)"}))
    ));
    step!("actor updated", |base| send(
        Method::PATCH,
        base,
        format!("/api/v1/actors/{actor}"),
        Some(json!({"name": "Ämnesnätverket"}))
    ));
    let created = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Nya föreningen", "kind": "organisation"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["name"], "Nya föreningen");
    let new_actor = created["id"].as_str().expect("id").to_owned();
    step!("actor deleted", |base| send(
        Method::DELETE,
        base,
        format!("/api/v1/actors/{new_actor}"),
        None
    ));
    let mut new_activity = String::new();
    step!("activity created", |base| async {
        let created = send(
            Method::POST,
            base,
            "/api/v1/activities".to_owned(),
            Some(json!({"goal_id": goal, "title": "Nytt arrangörsnätverk"})),
        )
        .await;
        new_activity = created["id"].as_str().expect("id").to_owned();
    });
    // A plan carrying on another plan's activity: written by loaders, not by the API.
    let other_plan = json_ok(
        app.post(
            "/api/v1/plans",
            &json!({"title": "Handlingsplan 2025", "kind": "action_plan", "first_year": 2025, "last_year": 2025}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let other_goal_of_plan = json_ok(
        app.post(
            "/api/v1/goals",
            &json!({"plan_id": other_plan, "kind": "objective", "title": "Samverkan"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let carried = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": other_goal_of_plan, "title": "Gemensam festival"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    step!("activity carried on by the plan", |_base| app.execute(
        &format!(
            "INSERT INTO plan_activities (plan_id, activity_id) VALUES ('{plan}', '{carried}')"
        )
    ));
    step!("activity no longer carried on", |_base| app.execute(
        &format!("DELETE FROM plan_activities WHERE activity_id = '{carried}'")
    ));
    step!("activity deleted", |base| send(
        Method::DELETE,
        base,
        format!("/api/v1/activities/{new_activity}"),
        None
    ));
    step!("plan created", |base| send(
        Method::POST,
        base,
        "/api/v1/plans".to_owned(),
        Some(
            json!({"title": "Kulturplan 2028–2031", "kind": "culture_plan", "first_year": 2028, "last_year": 2031})
        )
    ));
}

#[tokio::test]
async fn a_repeated_read_is_answered_from_memory_at_the_cost_of_a_304() {
    let app = TestApp::spawn_seeded().await;
    let plan = kulturplan::seed::plan_id(PLAN);
    let path =
        format!("/api/v1/activities?plan_id={plan}&embed=goal,plan,actors,follow_ups&limit=50");
    let first = app.get(&path).send().await.expect("first");
    let etag = first.headers()["etag"].clone();
    let first: Value = first.json().await.expect("json");
    // A 304 reads the data version alone.
    let before = query_count(&app).await;
    let not_modified = app
        .get(&path)
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .expect("304");
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let cost_of_304 = query_count(&app).await - before;
    // The same request again, with its parameters in another order and spelling: the same
    // answer at the same cost.
    let before = query_count(&app).await;
    let reordered = format!(
        "/api/v1/activities?limit=50&embed=goal%2Cplan%2Cactors%2Cfollow_ups&plan_id={plan}"
    );
    let again = app.get(&reordered).send().await.expect("again");
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["etag"], etag);
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    assert_eq!(
        query_count(&app).await - before,
        cost_of_304,
        "answered at the cost of a 304"
    );
    // A browser's cache-buster is ignored by the endpoint, and so by the cache.
    let before = query_count(&app).await;
    let busted = app
        .get(&format!("{path}&_=1764633600000"))
        .send()
        .await
        .expect("busted");
    assert_eq!(busted.status(), StatusCode::OK);
    assert_eq!(busted.json::<Value>().await.expect("json"), first);
    assert_eq!(
        query_count(&app).await - before,
        cost_of_304,
        "a cache-buster answered from memory"
    );
    // Another caller's scopes: kept apart.
    let before = query_count(&app).await;
    let other = app
        .http
        .get(app.url(&path))
        .bearer_auth(app.token(&["read"]))
        .send()
        .await
        .expect("other");
    assert_eq!(other.json::<Value>().await.expect("json"), first);
    assert!(
        query_count(&app).await - before > 1,
        "computed for the other scopes"
    );
}

#[tokio::test]
async fn the_memory_bound_holds_under_a_flood_of_distinct_queries() {
    const BOUND: u64 = 256 * 1024;
    let app = TestApp::spawn_seeded_with(|config, _| config.response_cache_bytes = BOUND).await;
    let plan = kulturplan::seed::plan_id(PLAN);
    let mut kept_most = 0;
    for round in 0..4 {
        let requests = (1..=60).map(|n| {
            let path = format!(
                "/api/v1/activities?plan_id={plan}&embed=goal,plan,actors,follow_ups&limit={}",
                n + 60 * (round % 2)
            );
            let app = &app;
            async move {
                let q = if round < 2 { "" } else { "&count=true" };
                let response = app.get(&format!("{path}{q}")).send().await.expect("page");
                assert_eq!(response.status(), StatusCode::OK);
                response.bytes().await.expect("body").len()
            }
        });
        // Eight at a time: the test's pool has four connections.
        let sizes: Vec<usize> = futures_util::stream::iter(requests)
            .buffer_unordered(8)
            .collect()
            .await;
        let total: usize = sizes.iter().sum();
        assert!(
            total as u64 > 2 * BOUND,
            "the flood is larger than the bound"
        );
        let held = metric(&app, "kulturplan_response_cache_bytes").await;
        assert!(held <= BOUND, "{held} bytes kept, bound {BOUND}");
        kept_most = kept_most.max(held);
    }
    assert_eq!(
        metric(&app, "kulturplan_response_cache_capacity_bytes").await,
        BOUND
    );
    assert!(
        kept_most > BOUND / 4,
        "the cache was used: {kept_most} bytes"
    );
}
