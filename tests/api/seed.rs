//! The seed data: loading it twice changes nothing, edits are protected, and the facts of the
//! source documents come out of the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_ok, seeded_activity};
use kulturplan::seed;

fn seeds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

#[tokio::test]
async fn seeding_again_changes_nothing_and_keeps_api_edits() {
    let app = TestApp::spawn_seeded().await;
    let before = app.count("changes").await;
    let again = seed::run(&app.db_url, &seeds_dir(), false).await.unwrap();
    assert!(again.is_noop(), "{again}");
    assert_eq!(
        app.count("changes").await,
        before,
        "a second run writes nothing"
    );

    // A strategist edits a seeded activity through the API.
    let id = seeded_activity("genomforandeplan-2024", "a004");
    json_ok(
        app.patch(
            &format!("/api/v1/activities/{id}"),
            &json!({"title": "Fördela medel (ändrad)"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let kept = seed::run(&app.db_url, &seeds_dir(), false).await.unwrap();
    assert_eq!(kept.total().skipped, 1, "{kept}");
    assert!(kept.to_string().contains("--force"), "{kept}");
    let activity = json_ok(
        app.get(&format!("/api/v1/activities/{id}")).send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(activity["title"], "Fördela medel (ändrad)");

    let forced = seed::run(&app.db_url, &seeds_dir(), true).await.unwrap();
    assert_eq!(forced.total().updated, 1, "{forced}");
    let activity = json_ok(
        app.get(&format!("/api/v1/activities/{id}")).send().await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        activity["title"],
        "Fördela årliga medel inom samverkansmodellen."
    );
}

async fn all(app: &TestApp, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=500&cursor={c}"),
            None => format!("{path}{sep}limit=500"),
        };
        let page = json_ok(app.get(&url).send().await, StatusCode::OK).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

#[tokio::test]
async fn the_plans_and_their_periods_are_served() {
    let app = TestApp::spawn_seeded().await;
    let plans = all(&app, "/api/v1/plans").await;
    let summary: Vec<(String, i64, i64, String)> = plans
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_owned(),
                p["first_year"].as_i64().unwrap(),
                p["last_year"].as_i64().unwrap(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        summary.contains(&(
            "Regional kulturplan för Örebro län 2012–2014".into(),
            2012,
            2014,
            "adopted".into()
        )),
        "{summary:?}"
    );
    assert!(summary.contains(&(
        "Handlingsplan för kultursamverkan region/kommun 2020–2023".into(),
        2020,
        2023,
        "adopted".into()
    )));
    assert!(summary.contains(&(
        "Regional kulturplan för Örebro län 2024–2027".into(),
        2024,
        2027,
        "adopted".into()
    )));
    assert!(
        summary
            .iter()
            .any(|(_, first, last, status)| (*first, *last, status.as_str())
                == (2024, 2027, "draft")),
        "the 2022 dialogue as a draft plan"
    );
    assert_eq!(plans.len(), 6);

    // The handlingsplan's diarienummer and its culture plan.
    let handlingsplan = json_ok(
        app.get(&format!(
            "/api/v1/plans/{}",
            seed::plan_id("handlingsplan-2020-2023")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(handlingsplan["reference"], "20RS9126");
    assert_eq!(handlingsplan["kind"], "action_plan");
    assert_eq!(
        handlingsplan["parent_id"],
        seed::plan_id("kulturplan-2020-2023").to_string()
    );
}

#[tokio::test]
async fn the_twelve_municipalities_carry_their_official_codes() {
    let app = TestApp::spawn_seeded().await;
    let municipalities = all(&app, "/api/v1/actors?kind=municipality").await;
    let codes: Vec<(String, String)> = municipalities
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["municipality_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(codes.len(), 12);
    for expected in [
        ("Örebro kommun", "1880"),
        ("Askersunds kommun", "1882"),
        ("Lindesbergs kommun", "1885"),
        ("Lekebergs kommun", "1814"),
        ("Ljusnarsbergs kommun", "1864"),
    ] {
        assert!(
            codes.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {codes:?}"
        );
    }
    let by_code = json_ok(
        app.get("/api/v1/actors?municipality_code=1861")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_code["items"][0]["name"], "Hallsbergs kommun");
}

#[tokio::test]
async fn genomforandeplan_activities_carry_units_years_recurrence_and_notes() {
    let app = TestApp::spawn_seeded().await;
    // "Fördela årliga medel inom samverkansmodellen. | Kulturstrateger med stöd av Områdeschef | 2024 (görs årligen) | Beslut kulturnämnden feb 2024"
    let id = seeded_activity("genomforandeplan-2024", "a004");
    let activity = json_ok(
        app.get(&format!(
            "/api/v1/activities/{id}?embed=goal,actors,follow_ups"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        activity["title"],
        "Fördela årliga medel inom samverkansmodellen."
    );
    assert_eq!(activity["start_year"], 2024);
    assert_eq!(activity["recurrence"], "annual");
    assert_eq!(activity["goal"]["code"], "4.1.1");
    let roles: Vec<(String, String)> = activity["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["actor"]["name"].as_str().unwrap().to_owned(),
                l["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("Kulturstrateger".to_owned(), "responsible".to_owned()),
            ("Områdeschef".to_owned(), "supporting".to_owned())
        ]
    );
    assert_eq!(activity["follow_ups"][0]["year"], 2024);
    assert_eq!(
        activity["follow_ups"][0]["comment"],
        "Beslut kulturnämnden feb 2024"
    );
    assert_eq!(
        activity["follow_ups"][0]["status"],
        Value::Null,
        "the note carries no colour"
    );

    // "Pågår till och med 2027" is the end year.
    let pilot = json_ok(
        app.get(&format!(
            "/api/v1/activities/{}",
            seeded_activity("genomforandeplan-2024", "a126")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (pilot["start_year"].as_i64(), pilot["end_year"].as_i64()),
        (Some(2024), Some(2027))
    );

    // 4.1.1 is a priority under the objective 4.1, with its "Prioritering:" text.
    let goal = json_ok(
        app.get(&format!(
            "/api/v1/goals/{}",
            seed::goal_id("genomforandeplan-2024", "4.1.1")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(goal["kind"], "priority");
    assert_eq!(
        goal["parent_id"],
        seed::goal_id("genomforandeplan-2024", "4.1").to_string()
    );
    assert!(
        goal["description"]
            .as_str()
            .unwrap()
            .starts_with("Skapa goda förutsättningar för de professionella aktörer")
    );

    // The strategic direction for children's culture points at activities under 4.2.1.
    let linked = json_ok(
        app.get(&format!(
            "/api/v1/activities?goal_id={}&limit=500",
            seed::goal_id("genomforandeplan-2024", "5.1.1")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(linked["items"].as_array().unwrap().len() > 5);
    assert!(
        linked["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["goal_id"] == seed::goal_id("genomforandeplan-2024", "4.2.1").to_string())
    );

    // About 175 activities in the implementation plan.
    let page = json_ok(
        app.get(&format!(
            "/api/v1/activities?plan_id={}&count=true&limit=1",
            seed::plan_id("genomforandeplan-2024")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["total"], 175);
}

#[tokio::test]
async fn handlingsplan_activities_carry_terms_conveners_and_participants() {
    let app = TestApp::spawn_seeded().await;
    let id = seeded_activity("handlingsplan-2020-2023", "a001");
    let activity = json_ok(
        app.get(&format!("/api/v1/activities/{id}?embed=actors"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(activity["start_year"], 2020);
    assert_eq!(activity["start_term"], "autumn", "Ht 2020");
    assert_eq!(activity["end_year"], 2023, "Klart 2023");
    assert_eq!(activity["tags"], json!(["prioriterad 2020–2021"]));
    let links = activity["actors"].as_array().unwrap();
    let named = |role: &str| -> Vec<String> {
        links
            .iter()
            .filter(|l| l["role"] == role)
            .map(|l| l["actor"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(named("convener"), ["Maria Gille"], "the bold name convenes");
    let participants = named("participant");
    for municipality in [
        "Lindesbergs kommun",
        "Hallsbergs kommun",
        "Hällefors kommun",
        "Karlskoga kommun",
    ] {
        assert!(
            participants.contains(&municipality.to_owned()),
            "{municipality} in {participants:?}"
        );
    }
    assert!(!participants.contains(&"Askersunds kommun".to_owned()));
    // "Lindsberg" in the document is Lindesberg (1885).
    let lindesberg = json_ok(
        app.get(&format!(
            "/api/v1/activities?municipality_code=1885&plan_id={}&limit=500",
            seed::plan_id("handlingsplan-2020-2023")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        lindesberg["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == seeded_activity("handlingsplan-2020-2023", "a002"))
    );
}

#[tokio::test]
async fn the_2012_meeting_places_theme_group_has_its_two_development_areas() {
    let app = TestApp::spawn_seeded().await;
    let page = json_ok(
        app.get(&format!(
            "/api/v1/activities?plan_id={}&embed=actors",
            seed::plan_id("kulturplan-2012-2014")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    let titles: Vec<&str> = items.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Inventering av mötesplatser",
            "Digital plattform för kulturlivet i Örebro län"
        ]
    );
    for activity in items {
        assert_eq!(
            (
                activity["start_year"].as_i64(),
                activity["end_year"].as_i64()
            ),
            (Some(2012), Some(2014))
        );
        assert!(
            activity["actors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["actor"]["name"] == "Örebro läns landsting")
        );
    }
}

#[tokio::test]
async fn the_implementation_plans_objectives_realise_the_culture_plans_and_edits_of_the_links_are_kept()
 {
    let app = TestApp::spawn_seeded().await;
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(seeds_dir().join("plans/genomforandeplan-2024.json")).unwrap(),
    )
    .unwrap();
    let realising: Vec<(String, String)> = file["goals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| {
            Some((
                g["key"].as_str()?.to_owned(),
                g["realises"].as_str()?.to_owned(),
            ))
        })
        .collect();
    assert_eq!(realising.len(), 3);
    for (goal, realised) in &realising {
        let read = json_ok(
            app.get(&format!(
                "/api/v1/goals/{}",
                seed::goal_id("genomforandeplan-2024", goal)
            ))
            .send()
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            read["realises_goal_id"],
            seed::goal_id("kulturplan-2024-2027", realised).to_string()
        );
    }

    // A strategist unlinks 4.1, and takes Örebro kommun off a030: the seed keeps both edits.
    let goal = seed::goal_id("genomforandeplan-2024", &realising[0].0);
    json_ok(
        app.patch(
            &format!("/api/v1/goals/{goal}"),
            &json!({"realises_goal_id": null}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let a030 = seeded_activity("genomforandeplan-2024", "a030");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a030}/actors"),
            &json!([{"actor_id": seed::actor_id("framjandeverksamhet-bild-och-form"), "role": "responsible"}]),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let kept = seed::run(&app.db_url, &seeds_dir(), false).await.unwrap();
    assert_eq!(kept.counts(seed::Entity::Goal).skipped, 1, "{kept}");
    assert_eq!(kept.counts(seed::Entity::Activity).skipped, 1, "{kept}");
    let read = json_ok(
        app.get(&format!("/api/v1/goals/{goal}")).send().await,
        StatusCode::OK,
    )
    .await;
    assert!(read["realises_goal_id"].is_null());
    let orebro = json_ok(
        app.get(&format!(
            "/api/v1/municipalities/1880/collaborations?plan_id={}",
            seed::plan_id("genomforandeplan-2024")
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        orebro["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["activity"]["id"] != a030.as_str())
    );
    // --force brings both back; a run after that changes nothing.
    let forced = seed::run(&app.db_url, &seeds_dir(), true).await.unwrap();
    assert_eq!(forced.counts(seed::Entity::Goal).updated, 1, "{forced}");
    assert_eq!(forced.counts(seed::Entity::Activity).updated, 1, "{forced}");
    assert!(
        seed::run(&app.db_url, &seeds_dir(), false)
            .await
            .unwrap()
            .is_noop()
    );
}
