//! Create, read, list, update and delete of every resource, and the walk-through a strategist
//! does: plan → goal → activity → actor → link → follow-up, read back, deleted in reverse order.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, json_ok, problem};

#[tokio::test]
async fn a_strategist_builds_a_plan_reads_it_back_and_deletes_it_in_reverse_order() {
    let app = TestApp::spawn().await;
    let token = app.token(&["read", "plans:write", "follow_ups:write"]);
    let call = |method: reqwest::Method, path: &str| {
        app.http.request(method, app.url(path)).bearer_auth(&token)
    };

    let plan = json_ok(
        call(reqwest::Method::POST, "/api/v1/plans")
            .json(&json!({
                "title": "Regional kulturplan för Örebro län 2024–2027", "kind": "culture_plan",
                "first_year": 2024, "last_year": 2027, "reference": "23RS1234"
            }))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap();
    assert_eq!(plan["status"], "draft");
    assert_eq!(plan["version"], 1);

    let goal = json_ok(
        call(reqwest::Method::POST, "/api/v1/goals")
            .json(&json!({
                "plan_id": plan_id, "kind": "objective", "code": "4.1",
                "title": "Utveckla den kulturella infrastrukturen i Örebro län"
            }))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    let goal_id = goal["id"].as_str().unwrap();

    let activity = json_ok(
        call(reqwest::Method::POST, "/api/v1/activities")
            .json(&json!({
                "goal_id": goal_id, "title": "Fördela årliga medel inom samverkansmodellen.",
                "start_year": 2024, "recurrence": "annual", "tags": ["prioriterad"]
            }))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    let activity_id = activity["id"].as_str().unwrap();
    assert_eq!(
        activity["plan_id"], plan_id,
        "the plan defaults to the goal's"
    );

    let actor = json_ok(
        call(reqwest::Method::POST, "/api/v1/actors")
            .json(&json!({
                "name": "Askersunds kommun", "kind": "municipality", "municipality_code": "1882"
            }))
            .send()
            .await,
        StatusCode::CREATED,
    )
    .await;
    let actor_id = actor["id"].as_str().unwrap();

    let links = json_ok(call(reqwest::Method::PUT, &format!("/api/v1/activities/{activity_id}/actors"))
        .json(&json!([{"actor_id": actor_id, "role": "participant"}, {"actor_id": actor_id, "role": "convener"}]))
        .send().await, StatusCode::OK).await;
    assert_eq!(links.as_array().unwrap().len(), 2);

    let follow_up = json_ok(
        call(
            reqwest::Method::PUT,
            &format!("/api/v1/activities/{activity_id}/follow-ups/2024"),
        )
        .json(&json!({"status": "completed", "comment": "Beslut kulturnämnden feb 2024"}))
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(follow_up["status"], "completed");
    assert_eq!(follow_up["reported_by"], "test-user");
    assert_eq!(follow_up["warnings"], json!([]));

    // Read everything back.
    let read = json_ok(
        call(reqwest::Method::GET, &format!("/api/v1/plans/{plan_id}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["reference"], "23RS1234");
    let tree = json_ok(
        call(
            reqwest::Method::GET,
            &format!("/api/v1/plans/{plan_id}/goals"),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tree["goals"][0]["code"], "4.1");
    let read = json_ok(
        call(
            reqwest::Method::GET,
            &format!("/api/v1/activities/{activity_id}"),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["recurrence"], "annual");
    assert_eq!(read["tags"], json!(["prioriterad"]));
    let actors = json_ok(
        call(
            reqwest::Method::GET,
            &format!("/api/v1/activities/{activity_id}/actors"),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let roles: Vec<&str> = actors
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["convener", "participant"]);
    assert_eq!(actors[0]["actor"]["municipality_code"], "1882");
    let follow_ups = json_ok(
        call(
            reqwest::Method::GET,
            &format!("/api/v1/activities/{activity_id}/follow-ups"),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(follow_ups[0]["year"], 2024);
    assert_eq!(follow_ups[0]["comment"], "Beslut kulturnämnden feb 2024");

    // Without a token every one of these calls is refused with a problem document.
    for path in [
        format!("/api/v1/plans/{plan_id}"),
        format!("/api/v1/goals/{goal_id}"),
        format!("/api/v1/activities/{activity_id}"),
        format!("/api/v1/actors/{actor_id}"),
        format!("/api/v1/activities/{activity_id}/follow-ups"),
    ] {
        problem(
            app.http.get(app.url(&path)).send().await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }

    // Delete in reverse order; each step frees the next.
    for (path, status) in [
        (
            format!("/api/v1/activities/{activity_id}/follow-ups/2024"),
            StatusCode::NO_CONTENT,
        ),
        (format!("/api/v1/actors/{actor_id}"), StatusCode::CONFLICT),
    ] {
        let response = call(reqwest::Method::DELETE, &path).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    json_ok(
        call(
            reqwest::Method::PUT,
            &format!("/api/v1/activities/{activity_id}/actors"),
        )
        .json(&json!([]))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    for path in [
        format!("/api/v1/actors/{actor_id}"),
        format!("/api/v1/activities/{activity_id}"),
        format!("/api/v1/goals/{goal_id}"),
        format!("/api/v1/plans/{plan_id}"),
    ] {
        let response = call(reqwest::Method::DELETE, &path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        problem(
            call(reqwest::Method::GET, &path).send().await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    for table in [
        "plans",
        "goals",
        "activities",
        "actors",
        "activity_actors",
        "follow_ups",
    ] {
        assert_eq!(app.count(table).await, 0, "{table} is empty again");
    }
    // The follow-up's history survives its deletion until the activity goes.
    assert_eq!(app.count("follow_up_history").await, 0);
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_null_clears() {
    let app = TestApp::spawn().await;
    let plan = json_ok(app.post("/api/v1/plans", &json!({
        "title": "Handlingsplan", "kind": "action_plan", "first_year": 2020, "last_year": 2023,
        "reference": "20RS9126", "description": "Kultursamverkan region/kommun"
    })).send().await, StatusCode::CREATED).await;
    let id = plan["id"].as_str().unwrap();
    let changed = json_ok(
        app.patch(
            &format!("/api/v1/plans/{id}"),
            &json!({
                "status": "adopted", "description": null
            }),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["status"], "adopted");
    assert_eq!(changed["description"], serde_json::Value::Null);
    assert_eq!(changed["reference"], "20RS9126", "absent fields stay");
    assert_eq!(changed["title"], "Handlingsplan");
    assert_eq!(changed["version"], 2);

    // An empty patch changes nothing, not even the version.
    let same = json_ok(
        app.patch(&format!("/api/v1/plans/{id}"), &json!({}))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(same["version"], 2);
}

#[tokio::test]
async fn every_resource_round_trips_through_patch_and_list() {
    let app = TestApp::spawn().await;
    let (plan_id, goal_id, activity_id) = app.plan_goal_activity().await;

    let goal = json_ok(
        app.patch(
            &format!("/api/v1/goals/{goal_id}"),
            &json!({"title": "Stärk kulturens kraft", "code": "4.3"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(goal["code"], "4.3");
    let activity = json_ok(
        app.patch(
            &format!("/api/v1/activities/{activity_id}"),
            &json!({
                "end_year": 2027, "start_term": "autumn", "linked_goal_ids": [goal_id]
            }),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(activity["end_year"], 2027);
    assert_eq!(activity["start_term"], "autumn");
    assert_eq!(activity["linked_goal_ids"], json!([goal_id]));
    let actor = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Region Örebro län", "kind": "region"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let unit = json_ok(
        app.post(
            "/api/v1/actors",
            &json!({"name": "Teaterfrämjande", "kind": "unit", "parent_id": actor["id"]}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let unit = json_ok(
        app.patch(
            &format!("/api/v1/actors/{}", unit["id"].as_str().unwrap()),
            &json!({"website": "https://example.org/teater"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unit["website"], "https://example.org/teater");

    let plans = json_ok(
        app.get("/api/v1/plans?kind=implementation_plan")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(plans["items"][0]["id"], plan_id.as_str());
    let goals = json_ok(
        app.get(&format!("/api/v1/goals?plan_id={plan_id}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(goals["items"].as_array().unwrap().len(), 1);
    let activities = json_ok(
        app.get(&format!("/api/v1/activities?goal_id={goal_id}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(activities["items"][0]["linked_goal_ids"], json!([goal_id]));
    let units = json_ok(
        app.get(&format!(
            "/api/v1/actors?parent_id={}",
            actor["id"].as_str().unwrap()
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(units["items"][0]["name"], "Teaterfrämjande");
    assert_eq!(units["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn cursor_pagination_walks_every_row_once() {
    let app = TestApp::spawn().await;
    let names = [
        "Örebro",
        "Askersund",
        "Ängen",
        "Zinkgruvan",
        "Åmmeberg",
        "Kumla",
        "Hallsberg",
    ];
    for name in names {
        json_ok(
            app.post("/api/v1/actors", &json!({"name": name, "kind": "network"}))
                .send()
                .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/actors?limit=2&cursor={c}"),
            None => "/api/v1/actors?limit=2".to_owned(),
        };
        let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|a| a["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // Swedish order: Å, Ä, Ö after Z.
    assert_eq!(
        seen,
        [
            "Askersund",
            "Hallsberg",
            "Kumla",
            "Zinkgruvan",
            "Åmmeberg",
            "Ängen",
            "Örebro"
        ]
    );
}

#[tokio::test]
async fn goal_tree_nests_children_under_parents_in_position_order() {
    let app = TestApp::spawn().await;
    let (plan_id, goal_id, _) = app.plan_goal_activity().await;
    for (code, position) in [("1.2", 1), ("1.1", 0)] {
        json_ok(
            app.post(
                "/api/v1/goals",
                &json!({
                    "plan_id": plan_id, "parent_id": goal_id, "kind": "priority", "code": code,
                    "title": format!("Prioritering {code}"), "position": position
                }),
            )
            .send()
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let tree = json_ok(
        app.get(&format!("/api/v1/plans/{plan_id}/goals"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tree["goals"].as_array().unwrap().len(), 1);
    let children: Vec<&str> = tree["goals"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["1.1", "1.2"]);
}

/// Creates a plan and one objective in it; answers (plan id, goal id).
async fn plan_with_objective(app: &TestApp, title: &str, parent: Option<&str>) -> (String, String) {
    let kind = if parent.is_some() {
        "implementation_plan"
    } else {
        "culture_plan"
    };
    let plan = json_ok(
        app.post(
            "/api/v1/plans",
            &json!({"title": title, "kind": kind, "first_year": 2024, "last_year": 2027, "parent_id": parent}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let goal = json_ok(
        app.post(
            "/api/v1/goals",
            &json!({"plan_id": plan_id, "kind": "objective", "title": format!("Mål i {title}")}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    (plan_id, goal["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_goal_realises_only_a_goal_of_the_plan_its_plan_implements() {
    let app = TestApp::spawn().await;
    let (culture, objective) = plan_with_objective(&app, "Kulturplan", None).await;
    let (_, other_objective) = plan_with_objective(&app, "Annan kulturplan", None).await;
    let (implementation, own) = plan_with_objective(&app, "Genomförandeplan", Some(&culture)).await;

    // Created with the link, and read back (JSON and CSV).
    let realising = json_ok(
        app.post(
            "/api/v1/goals",
            &json!({"plan_id": implementation, "kind": "objective", "code": "4.1",
                    "title": "Utveckla den kulturella infrastrukturen", "realises_goal_id": objective}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = realising["id"].as_str().unwrap().to_owned();
    assert_eq!(realising["realises_goal_id"], objective.as_str());
    let csv = crate::downloads::download(
        &app,
        &format!("/api/v1/goals?plan_id={implementation}&format=csv"),
        false,
    )
    .await;
    assert_eq!(csv.cell("id", &id, "realises_goal_id"), objective);
    assert_eq!(csv.cell("id", &own, "realises_goal_id"), "");

    // Not a goal of the parent plan, or a plan without a parent: 422, nothing written.
    for (goal, body) in [
        (&id, json!({"realises_goal_id": other_objective})),
        (&id, json!({"realises_goal_id": own})),
        (&objective, json!({"realises_goal_id": other_objective})),
        (
            &id,
            json!({"realises_goal_id": "00000000-0000-0000-0000-000000000000"}),
        ),
    ] {
        let p = problem(
            app.patch(&format!("/api/v1/goals/{goal}"), &body)
                .send()
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(crate::helpers::fields(&p), ["realises_goal_id"], "{body}");
    }
    let read = json_ok(
        app.get(&format!("/api/v1/goals/{id}")).send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["realises_goal_id"], objective.as_str());
    assert_eq!(read["version"], 1);

    // The database holds the rule for writes around the API, on both sides.
    let mut conn = app.db().await;
    let around = diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE goals SET realises_goal_id = '{other_objective}' WHERE id = '{id}'"
        )),
        &mut conn,
    )
    .await;
    assert!(around.is_err_and(|e| {
        e.to_string()
            .contains("not a goal of the plan its plan implements")
    }));
    let p = problem(
        app.patch(
            &format!("/api/v1/plans/{implementation}"),
            &json!({"parent_id": null}),
        )
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(crate::helpers::fields(&p), ["parent_id"]);
    // A realised goal is not deleted from under the goals that realise it.
    problem(
        app.delete(&format!("/api/v1/goals/{objective}"))
            .send()
            .await,
        StatusCode::CONFLICT,
    )
    .await;

    // Unlinking is a change of the goal, which the change feed carries.
    let feed = json_ok(
        app.get("/api/v1/changes?limit=1000").send().await,
        StatusCode::OK,
    )
    .await;
    let cursor = feed["next_cursor"].as_str().unwrap().to_owned();
    let unlinked = json_ok(
        app.patch(
            &format!("/api/v1/goals/{id}"),
            &json!({"realises_goal_id": null}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(unlinked["realises_goal_id"].is_null());
    let feed = json_ok(
        app.get(&format!("/api/v1/changes?since={cursor}"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{feed}");
    assert_eq!(
        (
            &items[0]["entity"],
            &items[0]["id"],
            &items[0]["op"],
            &items[0]["version"]
        ),
        (&json!("goal"), &json!(id), &json!("update"), &json!(2))
    );
}
