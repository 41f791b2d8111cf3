//! What the activity list keeps in the database (`goal_activities`, `activity_actor_lists`): the
//! goal filter answers what the walk of the goal tree answered, and the kept rows equal a fresh
//! computation after every kind of write.

use diesel_async::SimpleAsyncConnection;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_ok};

/// The activities of a goal's subtree (and those linked to it) in the list's default order, as
/// the list computed them before `goal_activities` existed: a walk down the goal tree.
async fn walked(app: &TestApp, goal: &str) -> Vec<String> {
    let ids = app
        .text_of(&format!(
            "WITH RECURSIVE goal_tree(id) AS (SELECT id FROM goals WHERE id = '{goal}' \
               UNION SELECT c.id FROM goals c JOIN goal_tree t ON c.parent_id = t.id) \
             SELECT coalesce(string_agg(a.id::text, ',' ORDER BY a.plan_id, a.position, a.id), '') AS v \
             FROM activities a WHERE a.goal_id IN (SELECT id FROM goal_tree) OR a.id IN \
               (SELECT activity_id FROM activity_goals WHERE goal_id IN (SELECT id FROM goal_tree))"
        ))
        .await;
    ids.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The ids `GET /activities?goal_id=…` answers, walking every page, in order.
async fn listed(app: &TestApp, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/activities?{query}&limit={limit}&cursor={c}"),
            None => format!("/api/v1/activities?{query}&limit={limit}"),
        };
        let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
        for item in page["items"].as_array().expect("items") {
            ids.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

async fn all_goals(app: &TestApp) -> Vec<String> {
    app.text_of("SELECT string_agg(id::text, ',' ORDER BY id) AS v FROM goals")
        .await
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// For every goal: the same activities in the same order as the tree walk, over pages of
/// `limit`; and the same set in another order.
async fn assert_goal_filter_as_walked(app: &TestApp, limit: usize) -> usize {
    let mut nonempty = 0;
    for goal in all_goals(app).await {
        let expected = walked(app, &goal).await;
        let got = listed(app, &format!("goal_id={goal}"), limit).await;
        assert_eq!(got, expected, "goal {goal}");
        let mut by_title = listed(app, &format!("goal_id={goal}&sort=title"), 500).await;
        let mut expected_set = expected.clone();
        by_title.sort();
        expected_set.sort();
        assert_eq!(by_title, expected_set, "goal {goal} sorted by title");
        nonempty += usize::from(!expected.is_empty());
    }
    nonempty
}

#[tokio::test]
async fn goal_filter_answers_as_the_tree_walk_on_the_seed_data() {
    let app = TestApp::spawn_seeded().await;
    // Strategic directions point at activities under other goals: the links count too.
    let linked: i64 = app.count("activity_goals").await;
    assert!(linked > 0, "the seed data links activities to other goals");
    let nonempty = assert_goal_filter_as_walked(&app, 7).await;
    assert!(nonempty > 10, "only {nonempty} goals with activities");
}

#[tokio::test]
async fn goal_filter_answers_as_the_tree_walk_on_generated_data() {
    let app = TestApp::spawn().await;
    // The benchmark's data set at a tenth of its size, with activities linked to goals of other
    // subtrees, and one subtree moved under another goal.
    let generate = include_str!("../../bench/generate.sql")
        .replace("generate_series(1, 6000)", "generate_series(1, 600)");
    let mut conn = app.db().await;
    conn.batch_execute(&generate).await.expect("generate.sql");
    conn.batch_execute(
        "INSERT INTO activity_goals (activity_id, goal_id) \
         SELECT a.id, g.id FROM activities a JOIN goals g ON g.plan_id <> a.plan_id \
         WHERE a.position % 50 = 0 AND g.position = a.position % 7 + 1; \
         UPDATE goals SET parent_id = md5('goal1.2')::uuid WHERE id = md5('goal1.1.3')::uuid;",
    )
    .await
    .expect("links");
    assert!(app.count("activity_goals").await > 0);
    let nonempty = assert_goal_filter_as_walked(&app, 50).await;
    assert!(nonempty >= 90, "only {nonempty} goals with activities");
    assert_kept_as_fresh(&app).await;
}

/// `goal_activities` and `activity_actor_lists` as kept, and the same computed afresh (one line
/// per row, in key order).
async fn kept_and_fresh(app: &TestApp) -> (String, String) {
    let kept = app
        .text_of(
            "SELECT concat_ws(E'\\n--\\n', \
               (SELECT string_agg(concat_ws('|', activity_id, goal_id, plan_id, position), E'\\n' \
                                  ORDER BY activity_id, goal_id) FROM goal_activities), \
               (SELECT string_agg(activity_id || '|' || actors::text, E'\\n' ORDER BY activity_id) \
                FROM activity_actor_lists)) AS v",
        )
        .await;
    let fresh = app
        .text_of(
            "WITH RECURSIVE down(top, id) AS ( \
                 SELECT id, id FROM goals \
                 UNION SELECT d.top, g.id FROM goals g JOIN down d ON g.parent_id = d.id), \
             listed(activity_id, goal_id) AS ( \
                 SELECT id, goal_id FROM activities UNION SELECT activity_id, goal_id FROM activity_goals), \
             under AS (SELECT DISTINCT l.activity_id, d.top FROM listed l JOIN down d ON d.id = l.goal_id) \
             SELECT concat_ws(E'\\n--\\n', \
               (SELECT string_agg(concat_ws('|', u.activity_id, u.top, a.plan_id, a.position), E'\\n' \
                                  ORDER BY u.activity_id, u.top) \
                FROM under u JOIN activities a ON a.id = u.activity_id), \
               (SELECT string_agg(activity_id || '|' || actors::text, E'\\n' ORDER BY activity_id) FROM ( \
                  SELECT aa.activity_id, jsonb_agg(jsonb_build_object('role', aa.role, 'actor', to_jsonb(ac)) \
                                                   ORDER BY aa.role, ac.name, ac.id) AS actors \
                  FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id GROUP BY aa.activity_id) l)) AS v",
        )
        .await;
    (kept, fresh)
}

async fn assert_kept_as_fresh(app: &TestApp) {
    let (kept, fresh) = kept_and_fresh(app).await;
    assert_eq!(kept, fresh);
}

/// The list's embedded actors (from the kept lists) are what `GET /activities/{id}/actors` (read
/// from the links themselves) answers, for every activity of the plan.
async fn assert_embedded_actors_as_linked(app: &TestApp, plan: &str) {
    let page = json_ok(
        app.get(&format!(
            "/api/v1/activities?plan_id={plan}&embed=actors&limit=500"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().expect("items");
    assert!(!items.is_empty());
    for item in items {
        let id = item["id"].as_str().expect("id");
        let linked = json_ok(
            app.get(&format!("/api/v1/activities/{id}/actors"))
                .send()
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(item["actors"], linked, "activity {id}");
    }
}

#[tokio::test]
async fn kept_rows_equal_a_fresh_computation_after_every_kind_of_write() {
    let app = TestApp::spawn_seeded().await;
    let plan = app
        .text_of("SELECT plan_id::text AS v FROM activities GROUP BY plan_id ORDER BY count(*) DESC LIMIT 1")
        .await;
    assert_kept_as_fresh(&app).await;
    assert_embedded_actors_as_linked(&app, &plan).await;

    let goal_of = |n: usize| {
        let plan = plan.clone();
        let app = &app;
        async move {
            app.text_of(&format!(
                "SELECT id::text AS v FROM goals WHERE plan_id = '{plan}' ORDER BY code NULLS LAST, id OFFSET {n} LIMIT 1"
            ))
            .await
        }
    };
    let (g0, g1, g2) = (goal_of(0).await, goal_of(1).await, goal_of(5).await);
    let actors: Vec<String> = app
        .text_of("SELECT string_agg(id::text, ',' ORDER BY name DESC) AS v FROM (SELECT id, name FROM actors ORDER BY name LIMIT 3) a")
        .await
        .split(',')
        .map(str::to_owned)
        .collect();

    // A new activity with a linked goal, and its actors.
    let created = json_ok(
        app.post(
            "/api/v1/activities",
            &json!({"goal_id": g1, "title": "Läsfrämjande i länet", "linked_goal_ids": [g2], "position": 3}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_kept_as_fresh(&app).await;
    let roles: Vec<Value> = actors
        .iter()
        .zip(["participant", "responsible", "participant"])
        .map(|(a, r)| json!({"actor_id": a, "role": r}))
        .collect();
    json_ok(
        app.put(&format!("/api/v1/activities/{id}/actors"), &json!(roles))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;
    assert_embedded_actors_as_linked(&app, &plan).await;

    // Moved to another goal and place, its links replaced.
    json_ok(
        app.patch(
            &format!("/api/v1/activities/{id}"),
            &json!({"goal_id": g0, "position": 0, "linked_goal_ids": [g1]}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;

    // Actors renamed (the order of the lists changes) and their roles replaced.
    json_ok(
        app.patch(
            &format!("/api/v1/actors/{}", actors[2]),
            &json!({"name": "Ö-gruppen"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    json_ok(
        app.patch(
            &format!("/api/v1/actors/{}", actors[0]),
            &json!({"name": "Aa-föreningen", "website": "https://example.se"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;
    assert_embedded_actors_as_linked(&app, &plan).await;
    json_ok(
        app.put(
            &format!("/api/v1/activities/{id}/actors"),
            &json!([{"actor_id": actors[1], "role": "supporting"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;

    // A goal moved under another: every activity below it is now also below the new parent.
    json_ok(
        app.patch(&format!("/api/v1/goals/{g2}"), &json!({"parent_id": g1}))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;
    assert_eq!(
        listed(&app, &format!("goal_id={g1}"), 10).await,
        walked(&app, &g1).await
    );

    // The activity's links removed, then the activity deleted.
    json_ok(
        app.put(&format!("/api/v1/activities/{id}/actors"), &json!([]))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    json_ok(
        app.patch(
            &format!("/api/v1/activities/{id}"),
            &json!({"linked_goal_ids": []}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_kept_as_fresh(&app).await;
    let deleted = app
        .delete(&format!("/api/v1/activities/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_kept_as_fresh(&app).await;
    assert_eq!(
        app.text_of(&format!(
            "SELECT count(*)::text AS v FROM goal_activities WHERE activity_id = '{id}'"
        ))
        .await,
        "0"
    );

    assert_embedded_actors_as_linked(&app, &plan).await;
}
