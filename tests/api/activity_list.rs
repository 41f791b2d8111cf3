//! `GET /activities` as the regional portal uses it: filters, Swedish search and order, cursor
//! walks, embeds at a fixed query count, and conditional GETs.

use std::collections::{BTreeSet, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fields, json_ok, problem, query_count, seeded_activity};
use kulturplan::seed;

const PLAN: &str = "genomforandeplan-2024";

/// The implementation plan's activities straight from the seed file: the oracle for filters.
fn seed_activities() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/seeds/plans/genomforandeplan-2024.json"
    );
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    plan["activities"].as_array().unwrap().clone()
}

fn ids_of(keys: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    keys.into_iter()
        .map(|k| seeded_activity(PLAN, &k))
        .collect()
}

/// Every id a filtered list returns, walking all pages.
async fn ids(app: &TestApp, query: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/activities?{query}&limit=100&cursor={c}"),
            None => format!("/api/v1/activities?{query}&limit=100"),
        };
        let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "duplicate {item}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn plan_and_goal_filters_include_what_lies_below() {
    let app = TestApp::spawn_seeded().await;
    let all_keys: Vec<String> = seed_activities()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    // The culture plan 2024–2027 holds no activities itself; its implementation plan does.
    let culture_plan = seed::plan_id("kulturplan-2024-2027");
    assert_eq!(
        ids(&app, &format!("plan_id={culture_plan}")).await,
        ids_of(all_keys.clone())
    );

    // 4.1 and every priority below it.
    let under_41: Vec<String> = seed_activities()
        .iter()
        .filter(|a| {
            a["goal"].as_str().unwrap().starts_with("4.1")
                || a["goal"] == "utveckla-den-professionella-filmen"
                || a["goal"] == "upphovsratt-inom-kultur"
        })
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    let goal = seed::goal_id(PLAN, "4.1");
    assert_eq!(
        ids(&app, &format!("goal_id={goal}")).await,
        ids_of(under_41)
    );

    // A strategic direction lists the activities linked to it.
    let linked: Vec<String> = seed_activities()
        .iter()
        .filter(|a| {
            a["goal"] == "5.2.2"
                || a["linked_goals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g == "5.2.2")
        })
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(linked.len() > 5);
    assert_eq!(
        ids(&app, &format!("goal_id={}", seed::goal_id(PLAN, "5.2.2"))).await,
        ids_of(linked)
    );
}

#[tokio::test]
async fn actor_municipality_and_role_filters() {
    let app = TestApp::spawn_seeded().await;
    let with_role = |actor: &str, role: Option<&str>| -> Vec<String> {
        seed_activities()
            .iter()
            .filter(|a| {
                a["actors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["actor"] == actor && role.is_none_or(|r| l["role"] == r))
            })
            .map(|a| a["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let strateger = seed::actor_id("kulturstrateger");
    assert_eq!(
        ids(
            &app,
            &format!("plan_id={}&actor_id={strateger}", seed::plan_id(PLAN))
        )
        .await,
        ids_of(with_role("kulturstrateger", None))
    );
    let omradeschef = seed::actor_id("omradeschef");
    assert_eq!(
        ids(
            &app,
            &format!(
                "plan_id={}&actor_id={omradeschef}&role=supporting",
                seed::plan_id(PLAN)
            )
        )
        .await,
        ids_of(with_role("omradeschef", Some("supporting")))
    );

    // Hallsberg (1861) takes part in these handlingsplan activities.
    let hallsberg = ids(
        &app,
        &format!(
            "plan_id={}&municipality_code=1861&role=participant",
            seed::plan_id("handlingsplan-2020-2023")
        ),
    )
    .await;
    let expected: BTreeSet<String> = [
        "a001", "a002", "a003", "a004", "a005", "a007", "a008", "a009", "a011", "a013", "a014",
        "a015",
    ]
    .iter()
    .map(|k| seeded_activity("handlingsplan-2020-2023", k))
    .collect();
    assert_eq!(hallsberg, expected);

    let p = problem(
        app.get("/api/v1/activities?role=participant").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["role"]);
}

#[tokio::test]
async fn year_status_recurrence_and_tag_filters() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let a004 = seeded_activity(PLAN, "a004");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a004}/follow-ups/2024"),
            &json!({"status": "completed", "comment": "Beslut kulturnämnden feb 2024"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(&app, &format!("plan_id={plan}&status=completed&year=2024")).await,
        ids_of(["a004".to_owned()])
    );
    let reported: HashSet<String> = seed_activities()
        .iter()
        .filter(|a| !a["follow_ups"].as_array().unwrap().is_empty())
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    let not_reported: Vec<String> = seed_activities()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .filter(|k| !reported.contains(k))
        .collect();
    assert_eq!(
        ids(
            &app,
            &format!("plan_id={plan}&status=not_reported&year=2024")
        )
        .await,
        ids_of(not_reported)
    );
    // The notes of January 2025 carry no colour: `no_status`, until a004's was given one above.
    let colourless: Vec<String> = seed_activities()
        .iter()
        .filter(|a| {
            a["follow_ups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["year"] == 2024 && f["status"].is_null())
        })
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .filter(|k| k != "a004")
        .collect();
    assert!(!colourless.is_empty());
    let no_status = ids(&app, &format!("plan_id={plan}&status=no_status&year=2024")).await;
    assert_eq!(no_status, ids_of(colourless.clone()));
    // The same filter on an actor's collaborations.
    let first = seeded_activity(PLAN, &colourless[0]);
    let actors = json_ok(
        app.get(&format!("/api/v1/activities/{first}/actors"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let actor = actors[0]["actor_id"].as_str().unwrap();
    let page = json_ok(
        app.get(&format!(
            "/api/v1/actors/{actor}/collaborations?status=no_status&year=2024&limit=500"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let listed: BTreeSet<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["activity"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(listed.contains(&first), "{page}");
    assert!(listed.is_subset(&no_status), "{listed:?}");
    for item in page["items"].as_array().unwrap() {
        assert!(item["status"].is_null());
        assert_eq!(item["follow_up"]["year"], 2024);
    }
    let p = problem(
        app.get("/api/v1/activities?status=completed").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["status"]);

    let annual: Vec<String> = seed_activities()
        .iter()
        .filter(|a| a["recurrence"] == "annual")
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(annual.len() > 20);
    assert_eq!(
        ids(&app, &format!("plan_id={plan}&recurrence=annual")).await,
        ids_of(annual)
    );

    let starting_2025: Vec<String> = seed_activities()
        .iter()
        .filter(|a| a["start_year"] == 2025)
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(!starting_2025.is_empty());
    assert_eq!(
        ids(&app, &format!("plan_id={plan}&start_year=2025")).await,
        ids_of(starting_2025)
    );

    // Running in 2026: started by then and not ended; recurring ones go on, one-offs run in their start year.
    let active_2026: Vec<String> = seed_activities()
        .iter()
        .filter(|a| {
            let start = a["start_year"].as_i64();
            let end = a["end_year"].as_i64();
            start.is_some_and(|s| s <= 2026)
                && match end {
                    Some(e) => e >= 2026,
                    None => a["recurrence"] == "annual" || start == Some(2026),
                }
        })
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids(&app, &format!("plan_id={plan}&active_in=2026")).await,
        ids_of(active_2026)
    );

    let tagged = ids(&app, &format!("tag={}", "prioriterad%202020%E2%80%932021")).await;
    assert_eq!(tagged.len(), 6, "section 5 of the handlingsplan");
}

#[tokio::test]
async fn swedish_search_finds_stems_and_parts_of_compounds() {
    let app = TestApp::spawn_seeded().await;
    let found = ids(&app, "q=bibliotek").await;
    for (key, word) in [
        ("a065", "folkbibliotekens"),
        ("a164", "folkbibliotekens"),
        ("a149", "folkbiblioteksutveckling"),
        ("a047", "biblioteken"),
    ] {
        assert!(
            found.contains(&seeded_activity(PLAN, key)),
            "q=bibliotek finds {word} ({key})"
        );
    }
    let found = ids(&app, "q=dans").await;
    for key in ["a017", "a036"] {
        assert!(
            found.contains(&seeded_activity(PLAN, key)),
            "q=dans finds dansföreställningar ({key})"
        );
    }
    // Every word must match; the goal's title counts too.
    let both = ids(&app, "q=dans%20barn").await;
    assert!(both.is_subset(&found) && !both.is_empty() && both.len() < found.len());
    assert!(ids(&app, "q=xylofonorkester").await.is_empty());

    // Ordered by relevance: a title that is about the word comes before a passing mention.
    let page = json_ok(
        app.get("/api/v1/activities?q=dansresidens&sort=relevance")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        page["items"][0]["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("dansresidens"),
        "{}",
        page["items"][0]
    );
    let p = problem(
        app.get("/api/v1/activities?sort=relevance").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["sort"]);
}

#[tokio::test]
async fn titles_sort_in_swedish_order_in_both_directions() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let ascending = titles(
        &json_ok(
            app.get(&format!(
                "/api/v1/activities?plan_id={plan}&sort=title&limit=500"
            ))
            .send()
            .await,
            StatusCode::OK,
        )
        .await,
    );
    let descending = titles(
        &json_ok(
            app.get(&format!(
                "/api/v1/activities?plan_id={plan}&sort=-title&limit=500"
            ))
            .send()
            .await,
            StatusCode::OK,
        )
        .await,
    );
    assert_eq!(ascending.len(), 175);
    let mut reversed = descending.clone();
    reversed.reverse();
    assert_eq!(ascending, reversed);
    let first_swedish = ascending
        .iter()
        .position(|t| t.starts_with(['Å', 'Ä', 'Ö']))
        .expect("titles starting with Å, Ä or Ö");
    let last_ascii = ascending
        .iter()
        .rposition(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap();
    assert!(first_swedish > last_ascii, "Å, Ä, Ö sort after Z");
    let order: Vec<char> = ascending[first_swedish..]
        .iter()
        .map(|t| t.chars().next().unwrap())
        .collect();
    let mut expected = order.clone();
    expected.sort_by_key(|c| match c {
        'Å' => 0,
        'Ä' => 1,
        _ => 2,
    });
    assert_eq!(order, expected, "Å before Ä before Ö");

    // Goal codes sort as numbers: 4.1.2 … 4.1.9 before 4.1.10.
    let by_code = json_ok(
        app.get(&format!(
            "/api/v1/activities?plan_id={plan}&sort=code&limit=500&embed=goal"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let codes: Vec<String> = by_code["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["goal"]["code"].as_str().map(str::to_owned))
        .collect();
    let numeric =
        |code: &String| -> Vec<u32> { code.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(codes.contains(&"4.1.9".to_owned()) && codes.contains(&"4.1.10".to_owned()));
    assert!(
        codes.windows(2).all(|w| numeric(&w[0]) <= numeric(&w[1])),
        "numeric order: {codes:?}"
    );
}

#[tokio::test]
async fn walking_all_pages_returns_every_activity_once_while_rows_are_added() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let goal = seed::goal_id(PLAN, "4.1");
    for sort in ["title", "-start_year", "position", "updated_at", "code"] {
        let before = ids(&app, &format!("plan_id={plan}")).await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut page_no = 0;
        loop {
            let path = match &cursor {
                Some(c) => {
                    format!("/api/v1/activities?plan_id={plan}&sort={sort}&limit=17&cursor={c}")
                }
                None => format!("/api/v1/activities?plan_id={plan}&sort={sort}&limit=17"),
            };
            let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a["id"].as_str().unwrap().to_owned()),
            );
            // Someone adds activities between the portal's page loads.
            page_no += 1;
            json_ok(app.post("/api/v1/activities", &json!({"goal_id": goal, "title": format!("{} ny aktivitet {page_no}", if page_no % 2 == 0 { "Aaa" } else { "Ööö" }), "start_year": 2024 + page_no % 3})).send().await, StatusCode::CREATED).await;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no activity twice (sort {sort})");
        assert!(
            before.iter().all(|id| unique.contains(id)),
            "no activity skipped (sort {sort})"
        );
    }
}

#[tokio::test]
async fn embeds_carry_the_related_rows_at_a_fixed_number_of_queries() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let page = json_ok(
        app.get(&format!(
            "/api/v1/activities?plan_id={plan}&embed=goal,actors,follow_ups,plan&year=2024&limit=50"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    for item in items {
        assert_eq!(item["goal"]["id"], item["goal_id"]);
        assert_eq!(item["plan"]["id"], item["plan_id"]);
        let follow_ups = item["follow_ups"].as_array().unwrap();
        assert!(follow_ups.len() <= 1 && follow_ups.iter().all(|f| f["year"] == 2024));
    }
    for item in items.iter().take(5) {
        let direct = json_ok(
            app.get(&format!(
                "/api/v1/activities/{}/actors",
                item["id"].as_str().unwrap()
            ))
            .send()
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(item["actors"], direct);
    }
    let a004 = items
        .iter()
        .find(|a| a["id"] == seeded_activity(PLAN, "a004"))
        .unwrap();
    assert_eq!(
        a004["follow_ups"][0]["comment"],
        "Beslut kulturnämnden feb 2024"
    );

    // The same number of statements for 5 rows as for 200.
    let cost = |limit: u32| {
        let path = format!(
            "/api/v1/activities?plan_id={plan}&embed=goal,actors,follow_ups,plan&limit={limit}&count=true"
        );
        let app = &app;
        async move {
            let before = query_count(app).await;
            json_ok(app.get(&path).send().await, StatusCode::OK).await;
            query_count(app).await - before
        }
    };
    let small = cost(5).await;
    let large = cost(200).await;
    assert_eq!(small, large, "no query per row");
    assert!(large <= 10, "{large} statements for one page");

    // Unknown embeds are refused by name.
    let p = problem(
        app.get("/api/v1/activities?embed=goal,budget").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["embed"]);
}

#[tokio::test]
async fn conditional_gets_answer_304_until_a_write_changes_the_data() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let list = format!("/api/v1/activities?plan_id={plan}&embed=goal&limit=20");
    let first = app.get(&list).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("public")
    );
    assert!(
        first.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );

    let again = app
        .get(&list)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    // Renaming a goal changes what the embedded list shows: the ETag moves.
    let goal = seed::goal_id(PLAN, "4.1");
    json_ok(
        app.patch(
            &format!("/api/v1/goals/{goal}"),
            &json!({"title": "Utveckla den kulturella infrastrukturen"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let after = app
        .get(&list)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
    let new_etag = after.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let body: Value = after.json().await.unwrap();
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["goal"]["title"] == "Utveckla den kulturella infrastrukturen")
    );

    // So does a follow-up, for an item with embedded follow-ups.
    let a004 = seeded_activity(PLAN, "a004");
    let item = format!("/api/v1/activities/{a004}?embed=follow_ups");
    let etag = app.get(&item).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get(&item)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a004}/follow-ups/2025"),
            &json!({"status": "ongoing"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let changed = app
        .get(&item)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["follow_ups"][0]["year"], 2025, "the latest follow-up");

    // The plain item answers its version ETag and 304 on it.
    let plain = format!("/api/v1/activities/{a004}");
    let etag = app.get(&plain).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(etag, "\"v1\"");
    assert_eq!(
        app.get(&plain)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_MODIFIED
    );
}

#[tokio::test]
async fn actors_and_goals_lists_search_and_sort() {
    let app = TestApp::spawn_seeded().await;
    let page = json_ok(
        app.get("/api/v1/actors?q=FRÄMJANDE&limit=100").send().await,
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Teaterfrämjande") && names.contains(&"Filmfrämjande"),
        "{names:?}"
    );
    assert!(names.iter().all(|n| n.to_lowercase().contains("främjande")));
    let descending = json_ok(
        app.get("/api/v1/actors?kind=municipality&sort=-name")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(descending["items"][0]["name"], "Örebro kommun");
    assert_eq!(descending["items"][11]["name"], "Askersunds kommun");

    let goals = json_ok(
        app.get(&format!(
            "/api/v1/goals?plan_id={}&sort=code&limit=500",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let codes: Vec<&str> = goals["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["code"].as_str())
        .collect();
    let pos = |code: &str| codes.iter().position(|c| *c == code).unwrap();
    assert!(pos("4.1.2") < pos("4.1.10") && pos("4.1.14") < pos("4.2"));
    let found = json_ok(
        app.get(&format!(
            "/api/v1/goals?plan_id={}&q=hälsa",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(found["items"].as_array().unwrap().iter().all(|g| {
        g["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("hälsa")
    }));
    assert!(!found["items"].as_array().unwrap().is_empty());
}
