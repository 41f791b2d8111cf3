//! Collaborations as municipal systems pull them: every activity an actor takes part in, with
//! roles, partners, plan, goal and status, checked against the seed files.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::downloads::download;
use crate::helpers::{TestApp, fields, json_ok, problem, query_count, seeded_activity};
use kulturplan::seed;

const HANDLINGSPLAN: &str = "handlingsplan-2020-2023";

/// Every plan file: (plan key, parsed file).
pub fn seed_plans() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/plans");
    let mut plans: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let plan: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (plan["key"].as_str().unwrap().to_owned(), plan)
        })
        .collect();
    plans.sort_by(|a, b| a.0.cmp(&b.0));
    plans
}

/// The seeded activities where `actor` has a role (`role`, or any), from the files.
fn oracle(plan: Option<&str>, actor: &str, role: Option<&str>) -> BTreeSet<String> {
    seed_plans()
        .iter()
        .filter(|(key, _)| plan.is_none_or(|p| p == key))
        .flat_map(|(key, file)| {
            file["activities"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| {
                    a["actors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|l| l["actor"] == actor && role.is_none_or(|r| l["role"] == r))
                })
                .map(|a| seeded_activity(key, a["key"].as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every item of a collaborations list, walking all pages.
async fn walk(app: &TestApp, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = json_ok(app.get(&url).send().await, StatusCode::OK).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

fn activity_ids(items: &[Value]) -> BTreeSet<String> {
    let ids: Vec<String> = items
        .iter()
        .map(|i| i["activity"]["id"].as_str().unwrap().to_owned())
        .collect();
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "no activity twice");
    set
}

#[tokio::test]
async fn hallsberg_takes_part_in_the_activities_the_handlingsplan_names_it_in() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(HANDLINGSPLAN);
    let hallsberg = seed::actor_id("hallsbergs-kommun");
    let named: BTreeSet<String> = [
        "a001", "a002", "a003", "a004", "a005", "a007", "a008", "a009", "a011", "a013", "a014",
        "a015",
    ]
    .iter()
    .map(|k| seeded_activity(HANDLINGSPLAN, k))
    .collect();
    assert_eq!(
        oracle(Some(HANDLINGSPLAN), "hallsbergs-kommun", None),
        named
    );

    let by_code = walk(
        &app,
        &format!("/api/v1/municipalities/1861/collaborations?plan_id={plan}"),
        5,
    )
    .await;
    assert_eq!(activity_ids(&by_code), named);
    let by_id = walk(
        &app,
        &format!("/api/v1/actors/{hallsberg}/collaborations?plan_id={plan}"),
        50,
    )
    .await;
    assert_eq!(by_id, by_code, "the same list under both addresses");

    let file = &seed_plans()
        .into_iter()
        .find(|(k, _)| k == HANDLINGSPLAN)
        .unwrap()
        .1;
    for item in &by_code {
        let id = item["activity"]["id"].as_str().unwrap();
        let source = file["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| seeded_activity(HANDLINGSPLAN, a["key"].as_str().unwrap()) == id)
            .unwrap();
        assert_eq!(item["roles"], json!(["participant"]));
        assert_eq!(item["plan"]["id"], plan.to_string());
        assert_eq!(item["goal"]["id"], item["activity"]["goal_id"]);
        assert_eq!(
            item["goal"]["id"],
            seed::goal_id(HANDLINGSPLAN, source["goal"].as_str().unwrap()).to_string()
        );
        assert_eq!(
            item["status"],
            Value::Null,
            "the handlingsplan has no follow-ups"
        );
        assert_eq!(item["follow_up"], Value::Null);
        // The other actors of the row, Hallsberg itself left out.
        let expected: BTreeSet<(String, String)> = source["actors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["actor"] != "hallsbergs-kommun")
            .map(|l| {
                (
                    seed::actor_id(l["actor"].as_str().unwrap()).to_string(),
                    l["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let participants: BTreeSet<(String, String)> = item["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["actor_id"].as_str().unwrap().to_owned(),
                    p["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(participants, expected, "{id}");
    }
    let page = json_ok(
        app.get("/api/v1/municipalities/1861/collaborations")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["actor"]["name"], "Hallsbergs kommun");
}

#[tokio::test]
async fn every_municipality_finds_the_current_plans_activities_its_text_names_it_in() {
    let app = TestApp::spawn_seeded().await;
    let culture_plan = seed::plan_id("kulturplan-2024-2027");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/actors/common.json");
    let actors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let municipalities: Vec<(&str, &str)> = actors["actors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "municipality")
        .map(|a| {
            (
                a["key"].as_str().unwrap(),
                a["municipality_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(municipalities.len(), 12);
    for (key, code) in &municipalities {
        let items = walk(
            &app,
            &format!("/api/v1/municipalities/{code}/collaborations?plan_id={culture_plan}"),
            100,
        )
        .await;
        let expected = oracle(Some("genomforandeplan-2024"), key, None);
        assert_eq!(activity_ids(&items), expected, "{key}");
        // The text names them as partners: every role read from it is a participant's.
        assert!(
            items
                .iter()
                .all(|i| i["roles"].as_array().unwrap() == &vec![json!("participant")]),
            "{key}"
        );
    }
    // Those the Genomförandeplan names by name take part beyond the rows of "länets kommuner".
    let everyone = oracle(Some("genomforandeplan-2024"), "kumla-kommun", None);
    for key in [
        "orebro-kommun",
        "lindesbergs-kommun",
        "askersunds-kommun",
        "degerfors-kommun",
        "hallefors-kommun",
    ] {
        let named = oracle(Some("genomforandeplan-2024"), key, None);
        assert!(
            named.is_superset(&everyone) && named.len() > everyone.len(),
            "{key}"
        );
    }
    // "Anlita en poet som verkar i Frövi i samverkan med Lindesbergs kommun" (a061).
    let lindesberg = walk(
        &app,
        &format!("/api/v1/municipalities/1885/collaborations?plan_id={culture_plan}"),
        100,
    )
    .await;
    assert!(activity_ids(&lindesberg).contains(&seeded_activity("genomforandeplan-2024", "a061")));
}

#[tokio::test]
async fn every_plan_newest_first_and_the_role_filter() {
    let app = TestApp::spawn_seeded().await;
    let all = walk(&app, "/api/v1/municipalities/1861/collaborations", 4).await;
    assert_eq!(
        activity_ids(&all),
        oracle(None, "hallsbergs-kommun", None),
        "across every plan"
    );
    let years: Vec<i64> = all
        .iter()
        .map(|i| i["plan"]["first_year"].as_i64().unwrap())
        .collect();
    assert!(
        years.windows(2).all(|w| w[0] >= w[1]),
        "newest plan first: {years:?}"
    );
    assert!(years.contains(&2012) && years.contains(&2020));

    // A unit of the region, by role.
    let strateger = seed::actor_id("kulturstrateger");
    let plan = seed::plan_id("genomforandeplan-2024");
    let responsible = walk(
        &app,
        &format!("/api/v1/actors/{strateger}/collaborations?plan_id={plan}&role=responsible"),
        100,
    )
    .await;
    assert_eq!(
        activity_ids(&responsible),
        oracle(
            Some("genomforandeplan-2024"),
            "kulturstrateger",
            Some("responsible")
        )
    );
    assert!(responsible.iter().all(|i| {
        i["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("responsible"))
    }));
    // The culture plan holds its implementation plan's activities.
    let culture = walk(
        &app,
        &format!(
            "/api/v1/actors/{strateger}/collaborations?plan_id={}",
            seed::plan_id("kulturplan-2024-2027")
        ),
        100,
    )
    .await;
    assert_eq!(
        activity_ids(&culture),
        oracle(Some("genomforandeplan-2024"), "kulturstrateger", None)
    );
    let none = walk(
        &app,
        "/api/v1/municipalities/1861/collaborations?role=convener",
        50,
    )
    .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_status_shown_and_filtered_is_the_years_or_the_latest() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(HANDLINGSPLAN);
    let a001 = seeded_activity(HANDLINGSPLAN, "a001");
    let list = |query: &str| {
        let app = &app;
        let path = format!("/api/v1/municipalities/1861/collaborations?plan_id={plan}&{query}");
        async move { walk(app, &path, 50).await }
    };
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a001}/follow-ups/2023"),
            &json!({"status": "completed", "comment": "Genomförd"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let completed = list("year=2023&status=completed").await;
    assert_eq!(activity_ids(&completed), BTreeSet::from([a001.clone()]));
    assert_eq!(completed[0]["status"], "completed");
    assert_eq!(completed[0]["follow_up"]["year"], 2023);
    assert_eq!(completed[0]["follow_up"]["comment"], "Genomförd");
    let not_reported = list("year=2023&status=not_reported").await;
    assert_eq!(not_reported.len(), 11);
    assert!(!activity_ids(&not_reported).contains(&a001));

    // Without a year: each activity's latest follow-up.
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a001}/follow-ups/2024"),
            &json!({"status": "delayed"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let latest = list("status=delayed").await;
    assert_eq!(activity_ids(&latest), BTreeSet::from([a001.clone()]));
    assert_eq!(latest[0]["follow_up"]["year"], 2024);
    assert!(list("status=completed").await.is_empty());
    assert_eq!(list("status=not_reported").await.len(), 11);
    let in_2023 = list("year=2023").await;
    let item = in_2023
        .iter()
        .find(|i| i["activity"]["id"] == a001.as_str())
        .unwrap();
    assert_eq!(item["status"], "completed");

    let p = problem(
        app.get("/api/v1/municipalities/1861/collaborations?year=1700")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["year"]);
}

#[tokio::test]
async fn unknown_actors_and_municipalities_are_404() {
    let app = TestApp::spawn_seeded().await;
    problem(
        app.get("/api/v1/municipalities/9999/collaborations")
            .send()
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&format!(
            "/api/v1/actors/{}/collaborations",
            uuid::Uuid::new_v4()
        ))
        .send()
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let p = problem(
        app.get("/api/v1/municipalities/abc/collaborations")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["code"]);
    problem(
        app.get("/api/v1/municipalities/1861/collaborations?colour=red")
            .send()
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn a_page_costs_the_same_queries_whatever_it_holds_and_revalidates_with_304() {
    let app = TestApp::spawn_seeded().await;
    let cost = |limit: u32| {
        let app = &app;
        let path = format!("/api/v1/municipalities/1861/collaborations?limit={limit}");
        async move {
            let before = query_count(app).await;
            let page = json_ok(app.get(&path).send().await, StatusCode::OK).await;
            assert_eq!(page["items"].as_array().unwrap().len(), limit as usize);
            query_count(app).await - before
        }
    };
    let small = cost(1).await;
    let large = cost(12).await;
    assert_eq!(small, large, "no query per item");
    assert!(large <= 12, "{large} statements for one page");

    let path = "/api/v1/municipalities/1880/collaborations";
    let etag = app.get(path).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app
        .get(path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn collaborations_download_for_excel_with_partners_in_one_cell() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(HANDLINGSPLAN);
    let csv = download(
        &app,
        &format!("/api/v1/municipalities/1861/collaborations?plan_id={plan}&excel=true&limit=500"),
        true,
    )
    .await;
    assert_eq!(csv.rows.len(), 12);
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("collaborations-1861.csv")
    );
    let a001 = seeded_activity(HANDLINGSPLAN, "a001");
    assert_eq!(csv.cell("activity_id", &a001, "roles"), "participant");
    let partners = csv.cell("activity_id", &a001, "participants");
    assert!(partners.contains("Maria Gille (convener)"), "{partners}");
    assert!(
        partners.contains("Örebro kommun (participant)"),
        "{partners}"
    );
    assert!(!partners.contains("Hallsbergs kommun"), "{partners}");
    assert_eq!(
        csv.cell("activity_id", &a001, "plan"),
        "Handlingsplan för kultursamverkan region/kommun 2020–2023"
    );
}
