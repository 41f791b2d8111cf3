//! The reports on the seed data, with the seed files as the oracle: follow-up summary rolled up
//! the goal tree, trend, missing follow-ups, and the collaboration matrix and network.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::collaborations::seed_plans;
use crate::downloads::download;
use crate::helpers::{
    TestApp, fields, json_ok, problem, query_count, seeded_activity, version_reads,
};
use kulturplan::seed;

const PLAN: &str = "genomforandeplan-2024";
const CULTURE_PLAN: &str = "kulturplan-2024-2027";
const HANDLINGSPLAN: &str = "handlingsplan-2020-2023";
const BUCKETS: [&str; 7] = [
    "planned",
    "delayed",
    "completed",
    "ongoing",
    "no_status",
    "not_reported",
    "planned_derived",
];

fn plan_file(key: &str) -> Value {
    seed_plans()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap()
}

/// goal key → parent goal key, for every goal of a plan file.
fn parents(plan: &Value) -> HashMap<String, Option<String>> {
    fn walk(goals: &Value, parent: Option<&str>, out: &mut HashMap<String, Option<String>>) {
        for g in goals.as_array().unwrap() {
            let key = g["key"].as_str().unwrap();
            out.insert(key.to_owned(), parent.map(str::to_owned));
            walk(&g["children"], Some(key), out);
        }
    }
    let mut out = HashMap::new();
    walk(&plan["goals"], None, &mut out);
    out
}

fn top_of(parents: &HashMap<String, Option<String>>, key: &str) -> String {
    let mut key = key.to_owned();
    while let Some(Some(parent)) = parents.get(&key) {
        key = parent.clone();
    }
    key
}

/// The bucket the seed files put an activity in for `year` (before any API write).
fn seed_bucket(activity: &Value, year: i64) -> &'static str {
    let follow_up = activity["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["year"] == year);
    match follow_up {
        Some(f) => match f["status"].as_str() {
            None => "no_status",
            Some("planned") => "planned",
            Some("delayed") => "delayed",
            Some("completed") => "completed",
            Some("ongoing") => "ongoing",
            Some(other) => panic!("status {other}"),
        },
        None if activity["start_year"].as_i64().is_some_and(|s| s > year) => "planned_derived",
        None => "not_reported",
    }
}

fn counts_of(entry: &Value) -> BTreeMap<String, i64> {
    BUCKETS
        .iter()
        .map(|b| ((*b).to_owned(), entry["counts"][b].as_i64().unwrap()))
        .collect()
}

/// Every count adds up to the total beside it.
fn assert_adds_up(entry: &Value) {
    let sum: i64 = counts_of(entry).values().sum();
    assert_eq!(sum, entry["total"].as_i64().unwrap(), "{entry}");
    if entry["total"] != 0 {
        let shares: f64 = BUCKETS
            .iter()
            .map(|b| entry["shares"][b].as_f64().unwrap())
            .sum();
        assert!((shares - 1.0).abs() < 0.001, "{entry}");
    }
}

async fn summary(app: &TestApp, plan: &str, year: i32, extra: &str) -> Value {
    json_ok(
        app.get(&format!(
            "/api/v1/reports/follow-up-summary?plan_id={}&year={year}{extra}",
            seed::plan_id(plan)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn the_2024_summary_adds_up_to_the_plans_activities_and_rolls_up_the_goal_tree() {
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(PLAN);
    let activities = file["activities"].as_array().unwrap();
    let tree = parents(&file);

    for plan in [PLAN, CULTURE_PLAN] {
        let report = summary(&app, plan, 2024, "").await;
        assert_eq!(report["year"], 2024);
        assert_eq!(report["plan_id"], seed::plan_id(plan).to_string());
        // The plan: every activity once, in the bucket the seed puts it in.
        assert_eq!(report["plan"]["total"], activities.len() as i64);
        assert_adds_up(&report["plan"]);
        let mut expected: BTreeMap<String, i64> =
            BUCKETS.iter().map(|b| ((*b).to_owned(), 0)).collect();
        for a in activities {
            *expected.get_mut(seed_bucket(a, 2024)).unwrap() += 1;
        }
        assert_eq!(counts_of(&report["plan"]), expected, "{plan}");
        assert_eq!(expected["no_status"], 6, "the six notes of January 2025");

        // Each goal: its own activities plus its children's; the top level adds up to the plan.
        let goals = report["goals"].as_array().unwrap();
        let by_id: HashMap<&str, &Value> = goals
            .iter()
            .map(|g| (g["goal_id"].as_str().unwrap(), g))
            .collect();
        for goal in goals {
            assert_adds_up(goal);
            let id = goal["goal_id"].as_str().unwrap();
            let mut sum: BTreeMap<String, i64> =
                BUCKETS.iter().map(|b| ((*b).to_owned(), 0)).collect();
            for child in goals.iter().filter(|c| c["parent_id"] == id) {
                for (b, n) in counts_of(child) {
                    *sum.get_mut(&b).unwrap() += n;
                }
            }
            for a in activities {
                if seed::goal_id(PLAN, a["goal"].as_str().unwrap()).to_string() == id {
                    *sum.get_mut(seed_bucket(a, 2024)).unwrap() += 1;
                }
            }
            assert_eq!(counts_of(goal), sum, "goal {}", goal["code"]);
            // Parents come before their children.
            if let Some(parent) = goal["parent_id"].as_str() {
                let p = goals.iter().position(|g| g["goal_id"] == parent).unwrap();
                let c = goals.iter().position(|g| g["goal_id"] == id).unwrap();
                assert!(p < c);
                assert_eq!(by_id[parent]["depth"].as_i64().unwrap() + 1, goal["depth"]);
            }
        }
        let top_total: i64 = goals
            .iter()
            .filter(|g| g["parent_id"].is_null())
            .map(|g| g["total"].as_i64().unwrap())
            .sum();
        assert_eq!(top_total, activities.len() as i64);
        // The seed's goal tree, whole: 41 goals of the implementation plan (and the culture
        // plan's own three objectives).
        let implementation_goals: BTreeSet<String> = tree
            .keys()
            .map(|k| seed::goal_id(PLAN, k).to_string())
            .collect();
        let listed: BTreeSet<String> = goals
            .iter()
            .filter(|g| g["plan_id"] == seed::plan_id(PLAN).to_string())
            .map(|g| g["goal_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, implementation_goals);
        let expected_len = if plan == CULTURE_PLAN { 44 } else { 41 };
        assert_eq!(goals.len(), expected_len, "{plan}");
    }
    let culture = summary(&app, CULTURE_PLAN, 2024, "").await;
    let own: Vec<&Value> = culture["goals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["plan_id"] == seed::plan_id(CULTURE_PLAN).to_string())
        .collect();
    assert_eq!(own.len(), 3);
    assert_eq!(
        culture["goals"][0]["plan_id"],
        seed::plan_id(CULTURE_PLAN).to_string(),
        "the plan's own goals before its sub-plans'"
    );
    // The culture plan's objectives count the activities under the implementation plan's
    // goals that realise them (the seed's `realises`), and those goals are listed under them.
    let realising = realisations(&file);
    assert_eq!(
        realising.len(),
        3,
        "4.1, 4.2 and 4.3 realise the three objectives"
    );
    let by_id: HashMap<&str, &Value> = culture["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["goal_id"].as_str().unwrap(), g))
        .collect();
    for (goal, realised) in &realising {
        let realised_id = seed::goal_id(CULTURE_PLAN, realised).to_string();
        let mut expected: BTreeMap<String, i64> =
            BUCKETS.iter().map(|b| ((*b).to_owned(), 0)).collect();
        for a in activities {
            if top_of(&tree, a["goal"].as_str().unwrap()) == *goal {
                *expected.get_mut(seed_bucket(a, 2024)).unwrap() += 1;
            }
        }
        let objective = by_id[realised_id.as_str()];
        assert!(
            expected.values().sum::<i64>() > 0,
            "{goal} holds activities"
        );
        assert_eq!(counts_of(objective), expected, "{realised} counts {goal}");
        let listed = by_id[seed::goal_id(PLAN, goal).to_string().as_str()];
        assert_eq!(listed["parent_id"], realised_id.as_str());
        assert_eq!(listed["realises_goal_id"], realised_id.as_str());
        assert_eq!(listed["depth"], 1);
    }
    // Alone, the implementation plan lists its own goals at the top.
    let alone = summary(&app, PLAN, 2024, "").await;
    for goal in realising.keys() {
        let id = seed::goal_id(PLAN, goal).to_string();
        let row = alone["goals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["goal_id"] == id.as_str())
            .unwrap();
        assert!(row["parent_id"].is_null());
        assert_eq!(row["depth"], 0);
    }
}

/// goal key → the key of the parent plan's goal it realises, for the goals of a plan file that
/// realise one.
fn realisations(plan: &Value) -> BTreeMap<String, String> {
    fn walk(goals: &Value, out: &mut BTreeMap<String, String>) {
        for g in goals.as_array().unwrap() {
            if let Some(r) = g["realises"].as_str() {
                out.insert(g["key"].as_str().unwrap().to_owned(), r.to_owned());
            }
            walk(&g["children"], out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&plan["goals"], &mut out);
    out
}

#[tokio::test]
async fn reported_statuses_move_between_buckets_and_misfits_are_flagged() {
    let app = TestApp::spawn_seeded().await;
    let before = summary(&app, PLAN, 2024, "").await;
    let a002 = seeded_activity(PLAN, "a002"); // starts 2025
    let a003 = seeded_activity(PLAN, "a003"); // starts 2024
    let a006 = seeded_activity(PLAN, "a006");
    for (id, status) in [(&a002, "planned"), (&a003, "completed"), (&a006, "planned")] {
        json_ok(
            app.put(
                &format!("/api/v1/activities/{id}/follow-ups/2024"),
                &json!({ "status": status }),
            )
            .send()
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let file = plan_file(PLAN);
    let start = |key: &str| {
        file["activities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap()["start_year"]
            .as_i64()
    };
    assert_eq!(start("a002"), Some(2025));
    assert_eq!(start("a003"), Some(2024));
    assert!(start("a006").is_some_and(|s| s <= 2024));

    let after = summary(&app, PLAN, 2024, "").await;
    let (b, a) = (counts_of(&before["plan"]), counts_of(&after["plan"]));
    assert_eq!(a["planned"], b["planned"] + 2);
    assert_eq!(a["completed"], b["completed"] + 1);
    assert_eq!(a["planned_derived"], b["planned_derived"] - 1);
    assert_eq!(a["not_reported"], b["not_reported"] - 2);
    assert_eq!(after["plan"]["total"], before["plan"]["total"]);
    // `planned` for a year at or after the start year is flagged, not refused.
    assert_eq!(before["plan"]["flagged"], 0);
    assert_eq!(after["plan"]["flagged"], 1);
    let goal_41 = after["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == "4.1")
        .unwrap();
    assert_eq!(goal_41["flagged"], 1);
}

#[tokio::test]
async fn the_summary_groups_per_responsible_unit_and_per_municipality() {
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(PLAN);
    let activities = file["activities"].as_array().unwrap();
    let report = summary(&app, PLAN, 2024, "&group_by=responsible").await;
    assert_eq!(report["group_by"], "responsible");
    let groups = report["groups"].as_array().unwrap();
    let mut expected: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for a in activities {
        let responsible: Vec<&str> = a["actors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["role"] == "responsible")
            .map(|l| l["actor"].as_str().unwrap())
            .collect();
        if responsible.is_empty() {
            *expected.entry(None).or_default() += 1;
        }
        for key in responsible {
            *expected
                .entry(Some(seed::actor_id(key).to_string()))
                .or_default() += 1;
        }
    }
    let actual: BTreeMap<Option<String>, i64> = groups
        .iter()
        .map(|g| {
            assert_adds_up(g);
            (
                g["actor_id"].as_str().map(str::to_owned),
                g["total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(actual, expected);
    let strateger = groups
        .iter()
        .find(|g| g["name"] == "Kulturstrateger")
        .unwrap();
    assert_eq!(strateger["kind"], "unit");

    // Per municipality, on the handlingsplan: every municipality, with the activities it is in.
    let file = plan_file(HANDLINGSPLAN);
    let report = summary(&app, HANDLINGSPLAN, 2022, "&group_by=municipality").await;
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 12);
    for g in groups {
        assert_adds_up(g);
        let actor = g["actor_id"].as_str().unwrap();
        let expected = file["activities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| {
                a["actors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| seed::actor_id(l["actor"].as_str().unwrap()).to_string() == actor)
            })
            .count() as i64;
        assert_eq!(g["total"], expected, "{}", g["name"]);
        assert_eq!(
            g["counts"]["not_reported"], expected,
            "nothing reported in 2022"
        );
    }
    assert_eq!(groups[0]["name"], "Askersunds kommun");
    assert_eq!(groups[11]["name"], "Örebro kommun");
}

#[tokio::test]
async fn the_trend_counts_every_year_of_the_plan() {
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(PLAN);
    let activities = file["activities"].as_array().unwrap();
    let trend = json_ok(
        app.get(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={}",
            seed::plan_id(CULTURE_PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (trend["from"].as_i64(), trend["to"].as_i64()),
        (Some(2024), Some(2027))
    );
    let years = trend["years"].as_array().unwrap();
    assert_eq!(years.len(), 4);
    for (entry, year) in years.iter().zip(2024..) {
        assert_eq!(entry["year"], year);
        assert_adds_up(entry);
        assert_eq!(entry["total"], activities.len() as i64);
        let derived = activities
            .iter()
            .filter(|a| a["start_year"].as_i64().is_some_and(|s| s > year))
            .count() as i64;
        assert_eq!(entry["counts"]["planned_derived"], derived, "{year}");
    }
    let summary = summary(&app, CULTURE_PLAN, 2024, "").await;
    assert_eq!(years[0]["counts"], summary["plan"]["counts"]);

    // The implementation plan's period is the year of its edition; its trend runs on through
    // the last year its activities start or end in.
    assert_eq!(
        (file["first_year"].as_i64(), file["last_year"].as_i64()),
        (Some(2024), Some(2024))
    );
    let last = activities
        .iter()
        .flat_map(|a| [a["start_year"].as_i64(), a["end_year"].as_i64()])
        .flatten()
        .max()
        .unwrap();
    assert_eq!(last, 2027);
    let own = json_ok(
        app.get(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={}",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (own["from"].as_i64(), own["to"].as_i64()),
        (Some(2024), Some(last))
    );
    assert_eq!(
        own["years"], trend["years"],
        "the same activities, the same years"
    );

    let narrowed = json_ok(
        app.get(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={}&from=2022&to=2023",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let years: Vec<i64> = narrowed["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| y["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years, [2022, 2023]);
    let p = problem(
        app.get(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={}&from=2026&to=2024",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["to"]);
}

#[tokio::test]
async fn missing_follow_ups_shrink_when_a_follow_up_is_posted() {
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(PLAN);
    let activities = file["activities"].as_array().unwrap();
    let active_without = |year: i64| -> BTreeSet<String> {
        activities
            .iter()
            .filter(|a| {
                let start = a["start_year"].as_i64();
                let end = a["end_year"].as_i64();
                start.is_some_and(|s| s <= year)
                    && match end {
                        Some(e) => e >= year,
                        None => a["recurrence"] == "annual" || start == Some(year),
                    }
                    && !a["follow_ups"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f["year"] == year)
            })
            .map(|a| seeded_activity(PLAN, a["key"].as_str().unwrap()))
            .collect()
    };
    let path = format!(
        "/api/v1/reports/missing-follow-ups?plan_id={}&year=2024",
        seed::plan_id(PLAN)
    );
    let missing = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    let ids = |report: &Value| -> BTreeSet<String> {
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["activity"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected = active_without(2024);
    assert_eq!(ids(&missing), expected);
    assert!(expected.len() > 100);
    // Whom to ask: the responsible actors of the row.
    let a003 = seeded_activity(PLAN, "a003");
    let item = missing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["activity"]["id"] == a003.as_str())
        .unwrap();
    let names: Vec<&str> = item["responsible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Teaterfrämjande"]);
    assert_eq!(item["goal"]["code"], "4.1");

    json_ok(
        app.put(
            &format!("/api/v1/activities/{a003}/follow-ups/2024"),
            &json!({"status": "completed"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let after = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    let mut shrunk = expected.clone();
    shrunk.remove(&a003);
    assert_eq!(ids(&after), shrunk);

    // In 2026: what runs then (recurring and long-running activities), none reported yet.
    let in_2026 = json_ok(
        app.get(&format!(
            "/api/v1/reports/missing-follow-ups?plan_id={}&year=2026",
            seed::plan_id(CULTURE_PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&in_2026), active_without(2026));

    let csv = download(&app, &format!("{path}&format=csv"), false).await;
    assert_eq!(csv.rows.len(), shrunk.len());
    let a004 = seeded_activity(PLAN, "a004");
    assert!(
        !csv.column("activity_id").contains(&a004),
        "a004 has its note"
    );
}

/// The keys of the municipalities in `seeds/actors/common.json`.
fn municipality_keys() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/actors/common.json");
    let actors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    actors["actors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "municipality")
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_culture_plans_matrix_counts_its_own_objectives_with_the_municipalities_the_text_names()
{
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(PLAN);
    let tree = parents(&file);
    let realising = realisations(&file);
    let municipalities = municipality_keys();
    // The column of an activity in the culture plan's matrix: the culture plan's goal its
    // top-level goal realises, else that top-level goal (of the implementation plan).
    let column = |goal: &str| -> String {
        let top = top_of(&tree, goal);
        match realising.get(&top) {
            Some(realised) => seed::goal_id(CULTURE_PLAN, realised).to_string(),
            None => seed::goal_id(PLAN, &top).to_string(),
        }
    };
    for role in [None, Some("participant")] {
        // (municipality key, column) → activities, from the file.
        let mut cells: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let mut columns: BTreeSet<String> = BTreeSet::new();
        for a in file["activities"].as_array().unwrap() {
            let col = column(a["goal"].as_str().unwrap());
            columns.insert(col.clone());
            for link in a["actors"].as_array().unwrap() {
                let actor = link["actor"].as_str().unwrap();
                if municipalities.iter().any(|m| m == actor)
                    && role.is_none_or(|r| link["role"] == r)
                {
                    cells
                        .entry((actor.to_owned(), col.clone()))
                        .or_default()
                        .insert(a["key"].as_str().unwrap().to_owned());
                }
            }
        }
        let matrix = json_ok(
            app.get(&format!(
                "/api/v1/reports/collaboration-matrix?plan_id={}{}",
                seed::plan_id(CULTURE_PLAN),
                role.map(|r| format!("&role={r}")).unwrap_or_default()
            ))
            .send()
            .await,
            StatusCode::OK,
        )
        .await;
        let listed: Vec<String> = matrix["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["goal_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed.iter().cloned().collect::<BTreeSet<_>>(),
            columns,
            "{role:?}"
        );
        // The culture plan's own objectives first, in its order.
        let own: Vec<String> = ["mal-1", "mal-2", "mal-3"]
            .iter()
            .map(|k| seed::goal_id(CULTURE_PLAN, k).to_string())
            .collect();
        assert_eq!(listed[..3], own[..]);
        for row in matrix["municipalities"].as_array().unwrap() {
            let key = municipalities
                .iter()
                .find(|m| seed::actor_id(m).to_string() == row["actor_id"])
                .unwrap();
            let mut all = BTreeSet::new();
            for (i, col) in listed.iter().enumerate() {
                let expected = cells
                    .get(&(key.clone(), col.clone()))
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(
                    row["counts"][i],
                    expected.len() as i64,
                    "{key} × {col} {role:?}"
                );
                all.extend(expected);
            }
            assert_eq!(row["total"], all.len() as i64, "{key} {role:?}");
        }
        // The municipalities the Genomförandeplan names take part in the current plan.
        for key in [
            "orebro-kommun",
            "lindesbergs-kommun",
            "askersunds-kommun",
            "degerfors-kommun",
            "hallefors-kommun",
        ] {
            let row = matrix["municipalities"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["actor_id"] == seed::actor_id(key).to_string().as_str())
                .unwrap();
            assert!(row["total"].as_i64().unwrap() > 0, "{key} {role:?}");
        }
    }
}

#[tokio::test]
async fn the_matrix_and_the_network_agree_with_the_seed_files() {
    let app = TestApp::spawn_seeded().await;
    let file = plan_file(HANDLINGSPLAN);
    let tree = parents(&file);
    let municipalities: Vec<Value> = {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/actors/common.json");
        let actors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        actors["actors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "municipality")
            .cloned()
            .collect()
    };
    let is_municipality = |key: &str| municipalities.iter().any(|m| m["key"] == key);
    // (municipality key, top goal key) → activities, from the file.
    let mut cells: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for a in file["activities"].as_array().unwrap() {
        let top = top_of(&tree, a["goal"].as_str().unwrap());
        for link in a["actors"].as_array().unwrap() {
            let actor = link["actor"].as_str().unwrap();
            if is_municipality(actor) {
                cells
                    .entry((actor.to_owned(), top.clone()))
                    .or_default()
                    .insert(a["key"].as_str().unwrap().to_owned());
            }
        }
    }
    let matrix = json_ok(
        app.get(&format!(
            "/api/v1/reports/collaboration-matrix?plan_id={}",
            seed::plan_id(HANDLINGSPLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let columns: Vec<String> = matrix["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["goal_id"].as_str().unwrap().to_owned())
        .collect();
    let top_keys: Vec<&str> = ["utvecklingsmal-1", "utvecklingsmal-2", "utvecklingsmal-3"].to_vec();
    assert_eq!(
        columns,
        top_keys
            .iter()
            .map(|k| seed::goal_id(HANDLINGSPLAN, k).to_string())
            .collect::<Vec<_>>()
    );
    let rows = matrix["municipalities"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    let mut grand: BTreeSet<String> = BTreeSet::new();
    let mut participations = 0;
    for row in rows {
        let key = municipalities
            .iter()
            .find(|m| seed::actor_id(m["key"].as_str().unwrap()).to_string() == row["actor_id"])
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut all: BTreeSet<String> = BTreeSet::new();
        for (i, top) in top_keys.iter().enumerate() {
            let expected = cells
                .get(&(key.clone(), (*top).to_owned()))
                .cloned()
                .unwrap_or_default();
            assert_eq!(row["counts"][i], expected.len() as i64, "{key} × {top}");
            participations += expected.len() as i64;
            all.extend(expected.iter().cloned());
        }
        assert_eq!(row["total"], all.len() as i64, "{key}");
        grand.extend(all);
    }
    for (i, top) in top_keys.iter().enumerate() {
        let column: BTreeSet<&String> = cells
            .iter()
            .filter(|((_, t), _)| t == top)
            .flat_map(|(_, acts)| acts.iter())
            .collect();
        assert_eq!(matrix["goals"][i]["total"], column.len() as i64, "{top}");
    }
    assert_eq!(matrix["total"], grand.len() as i64);
    assert_eq!(matrix["participations"], participations);
    let hallsberg = rows
        .iter()
        .find(|r| r["municipality_code"] == "1861")
        .unwrap();
    assert_eq!(hallsberg["total"], 12, "the twelve rows naming Hallsberg");

    // The network: every pair of municipalities with the activities both are in.
    let mut shared: BTreeMap<(String, String), i64> = BTreeMap::new();
    for a in file["activities"].as_array().unwrap() {
        let mut ids: Vec<String> = a["actors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["actor"].as_str().unwrap())
            .filter(|k| is_municipality(k))
            .map(|k| seed::actor_id(k).to_string())
            .collect();
        ids.sort();
        ids.dedup();
        for (i, x) in ids.iter().enumerate() {
            for y in &ids[i + 1..] {
                *shared.entry((x.clone(), y.clone())).or_default() += 1;
            }
        }
    }
    let network = json_ok(
        app.get(&format!(
            "/api/v1/reports/collaboration-network?plan_id={}",
            seed::plan_id(HANDLINGSPLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(network["kind"], "municipality");
    assert_eq!(network["actors"].as_array().unwrap().len(), 12);
    let pairs = network["pairs"].as_array().unwrap();
    let actual: BTreeMap<(String, String), i64> = pairs
        .iter()
        .map(|p| {
            let mut ids = [
                p["actors"][0]["actor_id"].as_str().unwrap().to_owned(),
                p["actors"][1]["actor_id"].as_str().unwrap().to_owned(),
            ];
            ids.sort();
            let [x, y] = ids;
            ((x, y), p["shared"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(actual.len(), pairs.len(), "each pair once");
    assert_eq!(actual, shared);
    let weights: Vec<i64> = pairs
        .iter()
        .map(|p| p["shared"].as_i64().unwrap())
        .collect();
    assert!(
        weights.windows(2).all(|w| w[0] >= w[1]),
        "most shared first"
    );
    for node in network["actors"].as_array().unwrap() {
        let row = rows
            .iter()
            .find(|r| r["actor_id"] == node["actor_id"])
            .unwrap();
        assert_eq!(node["activities"], row["total"], "{}", node["name"]);
    }
    // Across every plan the 2012 plan's activity joins all twelve.
    let everywhere = json_ok(
        app.get("/api/v1/reports/collaboration-network")
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(everywhere["pairs"].as_array().unwrap().len(), 66);
}

#[tokio::test]
async fn reports_download_as_csv_and_for_excel() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let csv = download(
        &app,
        &format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024&format=csv"),
        false,
    )
    .await;
    assert_eq!(csv.rows.len(), 1 + 41, "the plan and its goals");
    assert_eq!(csv.rows[0][4], plan_file(PLAN)["title"].as_str().unwrap());
    assert_eq!(csv.cell("code", "4.1", "no_status"), "6");
    let json = summary(&app, PLAN, 2024, "").await;
    assert_eq!(
        csv.rows[0][csv.header.iter().position(|h| h == "total").unwrap()],
        json["plan"]["total"].to_string()
    );
    // The culture plan's: 4.1 is listed under the objective it realises, and says so.
    let culture = download(
        &app,
        &format!(
            "/api/v1/reports/follow-up-summary?plan_id={}&year=2024&format=csv",
            seed::plan_id(CULTURE_PLAN)
        ),
        false,
    )
    .await;
    let mal_1 = seed::goal_id(CULTURE_PLAN, "mal-1").to_string();
    assert_eq!(culture.cell("code", "4.1", "realises_goal_id"), mal_1);
    assert_eq!(culture.cell("code", "4.1", "parent_id"), mal_1);
    assert_eq!(
        culture.cell("goal_id", &mal_1, "total"),
        culture.cell("code", "4.1", "total")
    );

    let matrix = download(
        &app,
        &format!(
            "/api/v1/reports/collaboration-matrix?plan_id={}&excel=true",
            seed::plan_id(HANDLINGSPLAN)
        ),
        true,
    )
    .await;
    assert!(matrix.bytes[3..].starts_with(b"municipality_code;municipality;1 "));
    assert_eq!(
        matrix.rows.len(),
        13,
        "twelve municipalities and the totals"
    );
    assert_eq!(
        matrix.cell("municipality_code", "1880", "municipality"),
        "Örebro kommun"
    );
    assert_eq!(matrix.cell("municipality_code", "1861", "total"), "12");
    assert_eq!(matrix.cell("municipality", "total", "total"), "18");

    let grouped = download(
        &app,
        &format!(
            "/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024&group_by=responsible&excel=true"
        ),
        true,
    )
    .await;
    assert_eq!(
        grouped.cell("name", "Teaterfrämjande", "municipality_code"),
        ""
    );
    let trend = download(
        &app,
        &format!("/api/v1/reports/follow-up-trend?plan_id={plan}&from=2024&to=2027&format=csv"),
        false,
    )
    .await;
    assert_eq!(trend.column("year"), ["2024", "2025", "2026", "2027"]);
    let network = download(
        &app,
        "/api/v1/reports/collaboration-network?format=csv",
        false,
    )
    .await;
    assert_eq!(network.rows.len(), 66);

    // 304 on an unchanged report; a write moves its ETag.
    let path = format!("/api/v1/reports/follow-up-summary?plan_id={plan}&year=2024");
    let etag = app.get(&path).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn reports_name_what_is_missing_or_unknown() {
    let app = TestApp::spawn_seeded().await;
    let p = problem(
        app.get("/api/v1/reports/follow-up-summary").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["plan_id", "year"]);
    let p = problem(
        app.get("/api/v1/reports/collaboration-matrix").send().await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["plan_id"]);
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/reports/follow-up-summary?plan_id={unknown}&year=2024"),
        format!("/api/v1/reports/follow-up-trend?plan_id={unknown}"),
        format!("/api/v1/reports/missing-follow-ups?plan_id={unknown}&year=2024"),
        format!("/api/v1/reports/collaboration-matrix?plan_id={unknown}"),
        format!("/api/v1/reports/collaboration-network?plan_id={unknown}"),
    ] {
        problem(app.get(&path).send().await, StatusCode::NOT_FOUND).await;
    }
    problem(
        app.get(&format!(
            "/api/v1/reports/follow-up-summary?plan_id={}&year=2024&group_by=colour",
            seed::plan_id(PLAN)
        ))
        .send()
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let reader = app.token(&["read"]);
    let response = app
        .http
        .get(app.url(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={}",
            seed::plan_id(PLAN)
        )))
        .bearer_auth(reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_report_is_computed_once_per_data_version() {
    let app = TestApp::spawn_seeded().await;
    let path = format!(
        "/api/v1/reports/follow-up-summary?plan_id={}&year=2024",
        seed::plan_id(PLAN)
    );
    let cost = |headers: Option<(&'static str, &'static str)>| {
        let app = &app;
        let path = path.clone();
        async move {
            let before = query_count(app).await;
            let mut request = app.get(&path);
            if let Some((name, value)) = headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            (query_count(app).await - before, body)
        }
    };
    let (first, computed) = cost(None).await;
    let (again, kept) = cost(None).await;
    assert_eq!(kept, computed);
    // As cheap as a revalidation: only the data version is read.
    let etag = app.get(&path).send().await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let before = query_count(&app).await;
    let not_modified = app
        .get(&path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let revalidation = query_count(&app).await - before;
    assert_eq!(again, revalidation, "a kept report costs what a 304 costs");
    assert!(first > again);
    let (fresh, recomputed) = cost(Some(("cache-control", "no-cache"))).await;
    assert!(fresh > revalidation, "no-cache computes it again");
    assert_eq!(recomputed, computed);

    // A write moves the data version: the next read computes the report again.
    let a003 = seeded_activity(PLAN, "a003");
    json_ok(
        app.put(
            &format!("/api/v1/activities/{a003}/follow-ups/2024"),
            &json!({"status": "completed"}),
        )
        .send()
        .await,
        StatusCode::CREATED,
    )
    .await;
    let (_, changed) = cost(None).await;
    assert_eq!(
        changed["plan"]["counts"]["completed"],
        computed["plan"]["counts"]["completed"].as_i64().unwrap() + 1
    );
    // Another representation of the same report is kept apart.
    let csv = download(&app, &format!("{path}&format=csv"), false).await;
    assert_eq!(csv.rows.len(), 42);
}

#[tokio::test]
async fn readers_arriving_together_after_a_write_share_one_computation() {
    let app = TestApp::spawn_seeded().await;
    let path = format!(
        "/api/v1/reports/collaboration-matrix?plan_id={}",
        seed::plan_id(HANDLINGSPLAN)
    );
    // What one computation costs, and what one revalidation costs.
    let before = query_count(&app).await;
    let first: Value = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    let computation = query_count(&app).await - before;
    let before = query_count(&app).await;
    json_ok(app.get(&path).send().await, StatusCode::OK).await;
    let revalidation = query_count(&app).await - before;
    assert!(computation > revalidation);

    // A write; then eight readers at once.
    let activity = seeded_activity(HANDLINGSPLAN, "a001");
    let hallsberg = seed::actor_id("hallsbergs-kommun").to_string();
    let actors_path = format!("/api/v1/activities/{activity}/actors");
    let links = json_ok(app.get(&actors_path).send().await, StatusCode::OK).await;
    // Hallsberg joins the activity, or leaves it when it already takes part.
    let mut links: Vec<Value> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"actor_id": l["actor_id"], "role": l["role"]}))
        .collect();
    let before_len = links.len();
    links.retain(|l| l["actor_id"] != hallsberg.as_str());
    if links.len() == before_len {
        links.push(json!({"actor_id": hallsberg, "role": "participant"}));
    }
    json_ok(
        app.put(&actors_path, &Value::Array(links)).send().await,
        StatusCode::OK,
    )
    .await;
    // The links are held locked for a moment, so the first computation cannot finish before
    // every reader has arrived.
    use diesel_async::SimpleAsyncConnection;
    let mut locker = app.db().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE activity_actors IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let before = query_count(&app).await;
    let reads_before = version_reads(&app).await;
    let readers = (0..8).map(|_| async {
        let response = app.get(&path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    });
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        locker.batch_execute("COMMIT").await.unwrap();
    };
    let (answers, ()) = tokio::join!(futures_util::future::join_all(readers), release);
    let spent = query_count(&app).await - before;
    let reads = version_reads(&app).await - reads_before;
    assert!(
        (1..=8).contains(&reads),
        "{reads} reads of the data version"
    );
    // The readers read the data version (those arriving together share a read); the report
    // itself is computed once, not eight times.
    assert_eq!(
        spent,
        computation + (reads - 1) * revalidation,
        "{spent} queries"
    );
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    assert_ne!(answers[0], first, "the write is in the report");
}

#[tokio::test]
async fn an_activity_a_later_plan_carries_on_counts_once_under_its_own_goal() {
    let app = TestApp::spawn_seeded().await;
    // The 2024 plan carries on an activity of the handlingsplan instead of copying it.
    let carried = seeded_activity(HANDLINGSPLAN, "a001");
    app.execute(&format!(
        "INSERT INTO plan_activities (plan_id, activity_id) VALUES ('{}', '{carried}')",
        seed::plan_id(PLAN)
    ))
    .await;
    let report = summary(&app, PLAN, 2024, "").await;
    let own = plan_file(PLAN)["activities"].as_array().unwrap().len() as i64;
    assert_eq!(report["plan"]["total"], own + 1);
    let goals = report["goals"].as_array().unwrap();
    let top_total: i64 = goals
        .iter()
        .filter(|g| g["parent_id"].is_null())
        .map(|g| g["total"].as_i64().unwrap())
        .sum();
    assert_eq!(
        top_total,
        own + 1,
        "its goal and the goal above it are listed"
    );
    let handlingsplan = seed::plan_id(HANDLINGSPLAN).to_string();
    let theirs: Vec<&Value> = goals
        .iter()
        .filter(|g| g["plan_id"] == handlingsplan)
        .collect();
    assert_eq!(
        theirs.len(),
        2,
        "the primary goal and its objective, not the whole tree"
    );
    assert!(theirs.iter().all(|g| g["total"] == 1));

    let missing = json_ok(
        app.get(&format!(
            "/api/v1/reports/missing-follow-ups?plan_id={}&year=2023",
            seed::plan_id(CULTURE_PLAN)
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = missing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["activity"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [carried.as_str()],
        "running 2020–2023, not reported for 2023"
    );
}

/// What the matrix reads as kept by the triggers (`activity_facets`, `plan_matrix_cells`,
/// `plan_matrix_columns`), and the same computed afresh from activities, goals, actors and links:
/// one line per row, in key order.
async fn kept_and_fresh(app: &TestApp) -> (String, String) {
    let kept = app.text_of(
        "SELECT concat_ws(E'\n', \
             (SELECT string_agg(concat_ws('|', activity_id, plan_id, top_goal_id, municipalities), \
                                E'\n' ORDER BY activity_id) FROM activity_facets), \
             (SELECT string_agg(concat_ws('|', plan_id, top_goal_id, actor_id, activities), \
                                E'\n' ORDER BY plan_id, top_goal_id, actor_id) FROM plan_matrix_cells), \
             (SELECT string_agg(concat_ws('|', plan_id, top_goal_id, activities, with_municipality, \
                                          participations), \
                                E'\n' ORDER BY plan_id, top_goal_id) FROM plan_matrix_columns)) AS v",
    )
    .await;
    let fresh = app.text_of(
        "WITH RECURSIVE down(id, top) AS ( \
             SELECT id, id FROM goals WHERE parent_id IS NULL \
             UNION ALL SELECT g.id, d.top FROM goals g JOIN down d ON g.parent_id = d.id), \
         f AS ( \
             SELECT a.id, a.plan_id, d.top, ( \
                 SELECT coalesce(array_agg(DISTINCT aa.actor_id ORDER BY aa.actor_id), '{}') \
                 FROM activity_actors aa JOIN actors m ON m.id = aa.actor_id \
                 WHERE aa.activity_id = a.id AND m.kind = 'municipality') AS ms \
             FROM activities a JOIN down d ON d.id = a.goal_id) \
         SELECT concat_ws(E'\n', \
             (SELECT string_agg(concat_ws('|', id, plan_id, top, ms), E'\n' ORDER BY id) FROM f), \
             (SELECT string_agg(concat_ws('|', plan_id, top, m, n), E'\n' ORDER BY plan_id, top, m) \
              FROM (SELECT plan_id, top, m, count(*) AS n FROM f, unnest(ms) m GROUP BY 1, 2, 3) c), \
             (SELECT string_agg(concat_ws('|', plan_id, top, n, w, p), E'\n' ORDER BY plan_id, top) \
              FROM (SELECT plan_id, top, count(*) AS n, count(*) FILTER (WHERE ms <> '{}') AS w, \
                           sum(cardinality(ms)) AS p FROM f GROUP BY 1, 2) c)) AS v",
    )
    .await;
    (kept, fresh)
}

async fn patched(app: &TestApp, path: &str, body: Value) {
    json_ok(app.patch(path, &body).send().await, StatusCode::OK).await;
}

async fn created(app: &TestApp, path: &str, body: Value) -> String {
    let row = json_ok(app.post(path, &body).send().await, StatusCode::CREATED).await;
    row["id"].as_str().expect("id").to_owned()
}

/// The matrix reads the plans' matrices and each activity's top-level goal and municipalities as
/// triggers keep them; after every kind of edit that moves them, they equal a fresh computation
/// and the matrix counts what the edits made.
#[tokio::test]
async fn the_matrix_follows_moved_goals_changed_links_and_actors_that_become_municipalities() {
    let app = TestApp::spawn().await;
    let plan = created(&app, "/api/v1/plans", json!({
        "title": "Kulturplan 2028–2031", "kind": "culture_plan", "first_year": 2028, "last_year": 2031
    })).await;
    let goal = |code: &str, parent: Option<&str>| json!({"plan_id": plan, "kind": "objective", "code": code, "title": format!("Mål {code}"), "parent_id": parent});
    let g1 = created(&app, "/api/v1/goals", goal("1", None)).await;
    let g2 = created(&app, "/api/v1/goals", goal("2", None)).await;
    let g1a = created(&app, "/api/v1/goals", goal("1.1", Some(&g1))).await;
    let activity =
        |goal: &str, title: &str| json!({"goal_id": goal, "title": title, "start_year": 2028});
    let a = created(
        &app,
        "/api/v1/activities",
        activity(&g1a, "Länsträff för arrangörer"),
    )
    .await;
    let b = created(
        &app,
        "/api/v1/activities",
        activity(&g2, "Dansturné i länet"),
    )
    .await;
    let municipality = |name: &str, code: &str| json!({"name": name, "kind": "municipality", "municipality_code": code});
    let m1 = created(
        &app,
        "/api/v1/actors",
        municipality("Askersunds kommun", "1882"),
    )
    .await;
    let m2 = created(
        &app,
        "/api/v1/actors",
        municipality("Degerfors kommun", "1862"),
    )
    .await;
    let house = created(
        &app,
        "/api/v1/actors",
        json!({"name": "Kulturhuset", "kind": "institution"}),
    )
    .await;
    let roles = |links: &[(&str, &str)]| {
        Value::Array(
            links
                .iter()
                .map(|(actor, role)| json!({"actor_id": actor, "role": role}))
                .collect(),
        )
    };
    let put_roles = |activity: String, links: Value| {
        let app = &app;
        async move {
            json_ok(
                app.put(&format!("/api/v1/activities/{activity}/actors"), &links)
                    .send()
                    .await,
                StatusCode::OK,
            )
            .await
        }
    };
    // The same municipality in two roles counts once.
    put_roles(
        a.clone(),
        roles(&[
            (&m1, "convener"),
            (&m1, "participant"),
            (&house, "participant"),
        ]),
    )
    .await;
    put_roles(b.clone(), roles(&[(&m2, "participant")])).await;
    let matrix = || {
        let app = &app;
        let plan = plan.clone();
        async move {
            let m = json_ok(
                app.get(&format!(
                    "/api/v1/reports/collaboration-matrix?plan_id={plan}"
                ))
                .send()
                .await,
                StatusCode::OK,
            )
            .await;
            let columns: Vec<String> = m["goals"]
                .as_array()
                .expect("goals")
                .iter()
                .map(|g| g["goal_id"].as_str().expect("goal_id").to_owned())
                .collect();
            let mut cells = BTreeMap::new();
            for row in m["municipalities"].as_array().expect("rows") {
                for (i, n) in row["counts"].as_array().expect("counts").iter().enumerate() {
                    let n = n.as_i64().expect("count");
                    if n > 0 {
                        cells.insert(
                            (
                                row["actor_id"].as_str().expect("actor").to_owned(),
                                columns[i].clone(),
                            ),
                            n,
                        );
                    }
                }
            }
            (
                cells,
                m["total"].as_i64().expect("total"),
                m["participations"].as_i64().expect("participations"),
            )
        }
    };
    let cell = |actor: &str, goal: &str, n: i64| ((actor.to_owned(), goal.to_owned()), n);
    let (kept, fresh) = kept_and_fresh(&app).await;
    assert_eq!(kept, fresh);
    assert_eq!(
        matrix().await,
        (BTreeMap::from([cell(&m1, &g1, 1), cell(&m2, &g2, 1)]), 2, 2)
    );

    // Links replaced: b gains the first municipality.
    put_roles(
        b.clone(),
        roles(&[(&m1, "participant"), (&m2, "participant")]),
    )
    .await;
    let (kept, fresh) = kept_and_fresh(&app).await;
    assert_eq!(kept, fresh);
    assert_eq!(
        matrix().await,
        (
            BTreeMap::from([cell(&m1, &g1, 1), cell(&m1, &g2, 1), cell(&m2, &g2, 1)]),
            2,
            3
        )
    );

    // A goal moved under the other top-level goal takes its activities along.
    patched(
        &app,
        &format!("/api/v1/goals/{g1a}"),
        json!({"parent_id": g2}),
    )
    .await;
    let (kept, fresh) = kept_and_fresh(&app).await;
    assert_eq!(kept, fresh);
    assert_eq!(
        matrix().await,
        (BTreeMap::from([cell(&m1, &g2, 2), cell(&m2, &g2, 1)]), 2, 3)
    );

    // An institution that becomes a municipality counts from then on.
    patched(
        &app,
        &format!("/api/v1/actors/{house}"),
        json!({"kind": "municipality", "municipality_code": "1814"}),
    )
    .await;
    // An activity moved to another goal.
    patched(
        &app,
        &format!("/api/v1/activities/{a}"),
        json!({"goal_id": g1}),
    )
    .await;
    let (kept, fresh) = kept_and_fresh(&app).await;
    assert_eq!(kept, fresh);
    assert_eq!(
        matrix().await,
        (
            BTreeMap::from([
                cell(&m1, &g1, 1),
                cell(&house, &g1, 1),
                cell(&m1, &g2, 1),
                cell(&m2, &g2, 1)
            ]),
            2,
            4
        )
    );

    // A deleted activity leaves the matrix, and its facets with it.
    let response = app
        .delete(&format!("/api/v1/activities/{b}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (kept, fresh) = kept_and_fresh(&app).await;
    assert_eq!(kept, fresh);
    assert_eq!(app.count("activity_facets").await, 1);
    assert_eq!(
        matrix().await,
        (
            BTreeMap::from([cell(&m1, &g1, 1), cell(&house, &g1, 1)]),
            1,
            2
        )
    );
}

/// The summary's counts as the triggers keep them (`goal_follow_up_counts`, `goal_start_counts`,
/// rows fallen to zero left out), and the same counted afresh from activities and follow-ups.
async fn summary_counts_kept_and_fresh(app: &TestApp) -> (String, String) {
    let kept = app
        .text_of(
            "SELECT concat_ws(E'\\n', \
             (SELECT string_agg(concat_ws('|', plan_id, goal_id, year, bucket, before_start, \
                                          flagged, n), E'\\n' \
                                ORDER BY plan_id, goal_id, year, bucket, before_start, flagged) \
              FROM goal_follow_up_counts WHERE n <> 0), \
             (SELECT string_agg(concat_ws('|', plan_id, goal_id, start_year, n), E'\\n' \
                                ORDER BY plan_id, goal_id, start_year) \
              FROM goal_start_counts WHERE n <> 0)) AS v",
        )
        .await;
    let fresh = app.text_of(
        "SELECT concat_ws(E'\\n', \
             (SELECT string_agg(concat_ws('|', plan_id, goal_id, year, bucket, before_start, \
                                          flagged, n), E'\\n' \
                                ORDER BY plan_id, goal_id, year, bucket, before_start, flagged) \
              FROM (SELECT a.plan_id, a.goal_id, f.year, coalesce(f.status, 'no_status') AS bucket, \
                           coalesce(a.start_year > f.year, false) AS before_start, \
                           coalesce((f.status = 'planned' AND a.start_year <= f.year) \
                                    OR (f.status <> 'planned' AND a.start_year > f.year) \
                                    OR (a.recurrence = 'none' AND a.end_year < f.year), false) \
                             AS flagged, count(*) AS n \
                    FROM follow_ups f JOIN activities a ON a.id = f.activity_id \
                    GROUP BY 1, 2, 3, 4, 5, 6) c), \
             (SELECT string_agg(concat_ws('|', plan_id, goal_id, start_year, n), E'\\n' \
                                ORDER BY plan_id, goal_id, start_year) \
              FROM (SELECT plan_id, goal_id, coalesce(start_year, 0) AS start_year, count(*) AS n \
                    FROM activities GROUP BY 1, 2, 3) c)) AS v",
    )
    .await;
    (kept, fresh)
}

/// The summary reads the counts per goal that triggers keep from follow-ups and the activities'
/// dates; after every kind of write that moves them they equal a fresh count, and the summary
/// says what the writes made.
#[tokio::test]
async fn the_summary_follows_follow_ups_and_the_activities_dates() {
    let app = TestApp::spawn().await;
    let plan = created(&app, "/api/v1/plans", json!({
        "title": "Kulturplan 2028–2031", "kind": "culture_plan", "first_year": 2028, "last_year": 2031
    }))
    .await;
    let goal = |code: &str| json!({"plan_id": plan, "kind": "objective", "code": code, "title": format!("Mål {code}")});
    let g1 = created(&app, "/api/v1/goals", goal("1")).await;
    let g2 = created(&app, "/api/v1/goals", goal("2")).await;
    let activity = |goal: &str, start: i32| json!({"goal_id": goal, "title": format!("Aktivitet från {start}"), "start_year": start});
    let a = created(&app, "/api/v1/activities", activity(&g1, 2028)).await;
    let b = created(&app, "/api/v1/activities", activity(&g1, 2030)).await;
    let c = created(&app, "/api/v1/activities", activity(&g2, 2029)).await;
    let summary = |year: i32| {
        let app = &app;
        let plan = plan.clone();
        async move {
            let s = json_ok(
                app.get(&format!(
                    "/api/v1/reports/follow-up-summary?plan_id={plan}&year={year}"
                ))
                .send()
                .await,
                StatusCode::OK,
            )
            .await;
            let mut counts = counts_of(&s["plan"]);
            counts.insert(
                "flagged".into(),
                s["plan"]["flagged"].as_i64().expect("flagged"),
            );
            counts.retain(|_, n| *n != 0);
            counts
        }
    };
    let expect = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    let check = || {
        let app = &app;
        async move {
            let (kept, fresh) = summary_counts_kept_and_fresh(app).await;
            assert_eq!(kept, fresh);
        }
    };
    check().await;
    assert_eq!(
        summary(2029).await,
        expect(&[("not_reported", 2), ("planned_derived", 1)])
    );

    // Single upserts, one of them a status that does not fit (planned after the start).
    let put = |activity: String, year: i32, body: Value| {
        let app = &app;
        async move {
            let r = app
                .put(
                    &format!("/api/v1/activities/{activity}/follow-ups/{year}"),
                    &body,
                )
                .send()
                .await
                .expect("sent");
            let status = r.status();
            assert!(
                status.is_success(),
                "{status} {}",
                r.text().await.unwrap_or_default()
            );
        }
    };
    put(a.clone(), 2029, json!({"status": "planned"})).await;
    put(b.clone(), 2029, json!({"status": "planned"})).await;
    check().await;
    assert_eq!(
        summary(2029).await,
        expect(&[("planned", 2), ("not_reported", 1), ("flagged", 1)])
    );
    // Changed, a note without a colour, and a batch over several activities and years.
    put(a.clone(), 2029, json!({"status": "completed"})).await;
    // A note without a colour, as the seed loads them (the API always takes a status).
    app.execute(&format!(
        "INSERT INTO follow_ups (id, activity_id, year, status, comment, reported_by) \
             VALUES (gen_random_uuid(), '{c}', 2029, NULL, 'Inväntar beslut', 'seed')"
    ))
    .await;
    json_ok(
        app.post(
            "/api/v1/follow-ups/batch",
            &json!({"items": [
                {"activity_id": a, "year": 2030, "status": "ongoing"},
                {"activity_id": b, "year": 2030, "status": "delayed"},
                {"activity_id": c, "year": 2030, "status": "ongoing"},
                {"activity_id": b, "year": 2029, "status": "ongoing"},
            ]}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    check().await;
    assert_eq!(
        summary(2029).await,
        expect(&[
            ("completed", 1),
            ("ongoing", 1),
            ("no_status", 1),
            ("flagged", 1)
        ])
    );
    assert_eq!(
        summary(2030).await,
        expect(&[("ongoing", 2), ("delayed", 1)])
    );

    // The activity's dates move: b now starts in 2031, so its 2029 and 2030 statuses no longer
    // fit; a ends in 2029 and is no longer recurring, so its 2030 one does not either.
    patched(
        &app,
        &format!("/api/v1/activities/{b}"),
        json!({"start_year": 2031}),
    )
    .await;
    patched(
        &app,
        &format!("/api/v1/activities/{a}"),
        json!({"end_year": 2029}),
    )
    .await;
    check().await;
    assert_eq!(
        summary(2030).await,
        expect(&[("ongoing", 2), ("delayed", 1), ("flagged", 2)])
    );
    // A follow-up deleted, an activity moved to the other goal.
    let response = app
        .delete(&format!("/api/v1/activities/{c}/follow-ups/2030"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    patched(
        &app,
        &format!("/api/v1/activities/{b}"),
        json!({"goal_id": g2}),
    )
    .await;
    check().await;
    assert_eq!(
        summary(2030).await,
        expect(&[
            ("ongoing", 1),
            ("delayed", 1),
            ("not_reported", 1),
            ("flagged", 2)
        ])
    );
    // The trend counts every year as the summary does.
    let trend = json_ok(
        app.get(&format!(
            "/api/v1/reports/follow-up-trend?plan_id={plan}&from=2028&to=2031"
        ))
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let years = trend["years"].as_array().expect("years");
    assert_eq!(years.len(), 4);
    for entry in years {
        let year = entry["year"].as_i64().expect("year") as i32;
        let mut counts = counts_of(entry);
        counts.insert(
            "flagged".into(),
            entry["flagged"].as_i64().expect("flagged"),
        );
        counts.retain(|_, n| *n != 0);
        assert_eq!(counts, summary(year).await, "{year}");
    }
}
