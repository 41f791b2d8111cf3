//! Loads `seeds/` into the database: reads and checks the seed files, derives stable ids from the
//! natural keys, and writes everything in one transaction without overwriting rows that were
//! changed through the API since they were seeded (unless forced).
//!
//! Every row the seed writes is recorded in `seed_rows` with the `version` it left the row at.
//! The `bump_version` trigger moves `version` on every real change, so a later run can tell a row
//! it still owns (same version) from one someone edited (another version) or deleted (gone).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use crate::db::schema::{
    activities, activity_actors, activity_goals, actors, follow_up_history, follow_ups, goals,
    plans, seed_rows,
};
use crate::domain::{
    ActorKind, FollowUpStatus, GoalKind, MAX_YEAR, MIN_YEAR, PlanKind, PlanStatus, Recurrence,
    Role, StartTerm,
};

/// The namespace of every seeded row's UUID v5. Never change it: the ids of published rows
/// depend on it.
pub const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x183f_85c9_8d24_4eaf_8995_7073_af0b_fac7);

/// Who the seed is, in `follow_ups.reported_by` and `follow_up_history.changed_by`.
pub const SEED_REPORTER: &str = "seed";

/// Key of the advisory lock that keeps two seed runs from interleaving.
const SEED_LOCK: i64 = 0x6b75_6c74_7365_6564; // "kultseed"

pub fn actor_id(key: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("actor:{key}").as_bytes())
}

pub fn plan_id(key: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("plan:{key}").as_bytes())
}

pub fn goal_id(plan: &str, goal: &str) -> Uuid {
    Uuid::new_v5(&SEED_NAMESPACE, format!("goal:{plan}/{goal}").as_bytes())
}

pub fn activity_id(plan: &str, activity: &str) -> Uuid {
    Uuid::new_v5(
        &SEED_NAMESPACE,
        format!("activity:{plan}/{activity}").as_bytes(),
    )
}

pub fn follow_up_id(plan: &str, activity: &str, year: i32) -> Uuid {
    Uuid::new_v5(
        &SEED_NAMESPACE,
        format!("follow_up:{plan}/{activity}/{year}").as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------------
// The seed files (seeds/FORMAT.md)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorFile {
    actors: Vec<SeedActor>,
}

/// An entry of `seeds/actors/*.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedActor {
    pub key: String,
    pub name: String,
    pub kind: ActorKind,
    #[serde(default)]
    pub municipality_code: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A `seeds/plans/<key>.json` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPlan {
    pub key: String,
    #[serde(default)]
    pub sources: Vec<String>,
    pub title: String,
    pub kind: PlanKind,
    pub status: PlanStatus,
    pub first_year: i32,
    pub last_year: i32,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub adopted_on: Option<NaiveDate>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub goals: Vec<SeedGoal>,
    #[serde(default)]
    pub activities: Vec<SeedActivity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGoal {
    pub key: String,
    #[serde(default)]
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The key of the goal of the parent plan that this goal realises.
    #[serde(default)]
    pub realises: Option<String>,
    #[serde(default)]
    pub children: Vec<SeedGoal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedActivity {
    pub key: String,
    pub goal: String,
    #[serde(default)]
    pub linked_goals: Vec<String>,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub start_year: Option<i32>,
    #[serde(default)]
    pub start_term: Option<StartTerm>,
    #[serde(default)]
    pub end_year: Option<i32>,
    pub recurrence: Recurrence,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub actors: Vec<SeedActorLink>,
    #[serde(default)]
    pub follow_ups: Vec<SeedFollowUp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedActorLink {
    pub actor: String,
    pub role: Role,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFollowUp {
    pub year: i32,
    /// Required but nullable: null is a note whose colour the source does not give.
    #[serde(deserialize_with = "Option::deserialize")]
    pub status: Option<FollowUpStatus>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The checked content of a seeds directory: actors and plans, each list parents first.
#[derive(Debug, Clone)]
pub struct SeedData {
    pub dir: PathBuf,
    pub actors: Vec<SeedActor>,
    pub plans: Vec<SeedPlan>,
}

impl SeedData {
    pub fn goal_count(&self) -> usize {
        fn count(goals: &[SeedGoal]) -> usize {
            goals.iter().map(|g| 1 + count(&g.children)).sum()
        }
        self.plans.iter().map(|p| count(&p.goals)).sum()
    }

    pub fn activity_count(&self) -> usize {
        self.plans.iter().map(|p| p.activities.len()).sum()
    }

    pub fn follow_up_count(&self) -> usize {
        self.plans
            .iter()
            .flat_map(|p| &p.activities)
            .map(|a| a.follow_ups.len())
            .sum()
    }
}

fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the seed folder {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the seed folder {}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid seed file", path.display()))
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Goal and activity keys may hold dots (`4.1.1`) but nothing that would blur the id names.
fn is_local_key(key: &str) -> bool {
    !key.is_empty() && !key.contains('/') && !key.chars().any(char::is_whitespace)
}

fn is_goal_code(code: &str) -> bool {
    code.len() <= 20
        && !code.is_empty()
        && code
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn year_ok(year: i32) -> bool {
    (MIN_YEAR..=MAX_YEAR).contains(&year)
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Reads and checks `dir/actors/*.json` and `dir/plans/*.json` (everything else is ignored).
/// Every problem is reported at once, each naming its file and key; nothing touches a database.
pub fn load(dir: &Path) -> anyhow::Result<SeedData> {
    let mut errors: Vec<String> = Vec::new();
    let (actors, actor_file) = load_actors(dir, &mut errors)?;
    let plans = load_plans(dir, &actor_file, &mut errors)?;
    if !errors.is_empty() {
        anyhow::bail!(
            "the seed files in {} are not valid ({} problems):\n  {}",
            dir.display(),
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(SeedData {
        dir: dir.to_owned(),
        actors,
        plans,
    })
}

/// Where each actor key was first read: its file and its index among the merged actors.
type ActorFiles = HashMap<String, (PathBuf, usize)>;

/// The actors of every file under `actors/`, merged by key and sorted parents first, with the
/// file and index each key was first read from.
fn load_actors(
    dir: &Path,
    errors: &mut Vec<String>,
) -> anyhow::Result<(Vec<SeedActor>, ActorFiles)> {
    let mut actors: Vec<SeedActor> = Vec::new();
    let mut actor_file: ActorFiles = HashMap::new();
    for file in json_files(&dir.join("actors"))? {
        let parsed: ActorFile = match read_json(&file) {
            Ok(parsed) => parsed,
            Err(err) => {
                errors.push(format!("{err:#}"));
                continue;
            }
        };
        let name = file.display().to_string();
        for actor in parsed.actors {
            let at = format!("{name}: actor {}", actor.key);
            check_actor(&at, &actor, errors);
            match actor_file.get(&actor.key) {
                Some((other, index)) => {
                    if actors[*index] != actor {
                        errors.push(format!(
                            "{at}: the same key with different content is in {}",
                            other.display()
                        ));
                    }
                }
                None => {
                    actor_file.insert(actor.key.clone(), (file.clone(), actors.len()));
                    actors.push(actor);
                }
            }
        }
    }
    let mut codes: HashMap<&str, &str> = HashMap::new();
    for actor in &actors {
        if let Some(code) = &actor.municipality_code
            && let Some(other) = codes.insert(code, &actor.key)
        {
            errors.push(format!(
                "actor {}: municipality_code {code} is also actor {other}'s",
                actor.key
            ));
        }
        if let Some(parent) = &actor.parent
            && !actor_file.contains_key(parent)
        {
            errors.push(format!(
                "{}: actor {}: unknown parent {parent}",
                where_is(&actor_file, &actor.key),
                actor.key
            ));
        }
    }
    let actors = match parents_first(actors, |a| &a.key, |a| a.parent.as_deref()) {
        Ok(sorted) => sorted,
        Err(key) => {
            errors.push(format!("actor {key}: its parents form a cycle"));
            Vec::new()
        }
    };

    Ok((actors, actor_file))
}

/// What the database would refuse of one actor, said with its file and key.
fn check_actor(at: &str, actor: &SeedActor, errors: &mut Vec<String>) {
    if !is_key(&actor.key) {
        errors.push(format!("{at}: the key must match [a-z0-9-]+"));
    }
    if blank(&actor.name) {
        errors.push(format!("{at}: the name is empty"));
    }
    match (&actor.kind, &actor.municipality_code) {
        (ActorKind::Municipality, None) => {
            errors.push(format!("{at}: a municipality needs its municipality_code"))
        }
        (ActorKind::Municipality, Some(code))
            if !(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())) =>
        {
            errors.push(format!("{at}: municipality_code {code:?} is not 4 digits"))
        }
        (kind, Some(_)) if *kind != ActorKind::Municipality => errors.push(format!(
            "{at}: only municipalities have a municipality_code (kind is {kind})"
        )),
        _ => {}
    }
    if actor.title.is_some() && actor.kind != ActorKind::Person {
        errors.push(format!(
            "{at}: only persons have a title (kind is {})",
            actor.kind
        ));
    }
}

/// The plans under `plans/`, each checked against the others and the actors, parents first.
fn load_plans(
    dir: &Path,
    actor_file: &ActorFiles,
    errors: &mut Vec<String>,
) -> anyhow::Result<Vec<SeedPlan>> {
    let mut plans: Vec<SeedPlan> = Vec::new();
    let mut plan_files: HashMap<String, PathBuf> = HashMap::new();
    for file in json_files(&dir.join("plans"))? {
        let plan: SeedPlan = match read_json(&file) {
            Ok(plan) => plan,
            Err(err) => {
                errors.push(format!("{err:#}"));
                continue;
            }
        };
        let name = file.display().to_string();
        if file.file_stem().and_then(|s| s.to_str()) != Some(plan.key.as_str()) {
            errors.push(format!(
                "{name}: the file must be named after the plan key ({}.json)",
                plan.key
            ));
        }
        if !is_key(&plan.key) {
            errors.push(format!(
                "{name}: plan key {:?} must match [a-z0-9-]+",
                plan.key
            ));
        }
        if let Some(other) = plan_files.insert(plan.key.clone(), file.clone()) {
            errors.push(format!(
                "{name}: plan key {} is also used by {}",
                plan.key,
                other.display()
            ));
        }
        plans.push(plan);
    }
    for plan in &plans {
        let name = plan_files
            .get(&plan.key)
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        check_plan(&name, plan, &plan_files, actor_file, errors);
        check_realises(&name, plan, &plans, errors);
    }
    let plans = match parents_first(plans, |p| &p.key, |p| p.parent.as_deref()) {
        Ok(sorted) => sorted,
        Err(key) => {
            errors.push(format!("plan {key}: its parents form a cycle"));
            Vec::new()
        }
    };

    Ok(plans)
}

fn where_is(files: &ActorFiles, key: &str) -> String {
    files
        .get(key)
        .map(|(f, _)| f.display().to_string())
        .unwrap_or_default()
}

/// Every goal's `realises` names a goal of the plan's parent plan.
fn check_realises(name: &str, plan: &SeedPlan, plans: &[SeedPlan], errors: &mut Vec<String>) {
    let parent = plan
        .parent
        .as_deref()
        .and_then(|key| plans.iter().find(|p| p.key == key));
    let mut parent_goals: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&SeedGoal> = parent.map(|p| p.goals.iter().collect()).unwrap_or_default();
    while let Some(goal) = stack.pop() {
        parent_goals.insert(&goal.key);
        stack.extend(goal.children.iter());
    }
    let mut stack: Vec<&SeedGoal> = plan.goals.iter().collect();
    while let Some(goal) = stack.pop() {
        if let Some(realised) = &goal.realises {
            match parent {
                None => errors.push(format!(
                    "{name}: goal {}: realises {realised}, but the plan has no parent plan",
                    goal.key
                )),
                Some(p) if !parent_goals.contains(realised.as_str()) => errors.push(format!(
                    "{name}: goal {}: realises {realised}, which is not a goal of {}",
                    goal.key, p.key
                )),
                Some(_) => {}
            }
        }
        stack.extend(goal.children.iter());
    }
}

fn check_plan(
    name: &str,
    plan: &SeedPlan,
    plans: &HashMap<String, PathBuf>,
    actors: &ActorFiles,
    errors: &mut Vec<String>,
) {
    if blank(&plan.title) {
        errors.push(format!("{name}: the title is empty"));
    }
    if !(year_ok(plan.first_year) && year_ok(plan.last_year) && plan.first_year <= plan.last_year) {
        errors.push(format!(
            "{name}: bad period {}–{} (years {MIN_YEAR}–{MAX_YEAR}, first ≤ last)",
            plan.first_year, plan.last_year
        ));
    }
    if let Some(parent) = &plan.parent {
        if parent == &plan.key {
            errors.push(format!("{name}: the plan is its own parent"));
        } else if !plans.contains_key(parent) {
            errors.push(format!("{name}: unknown parent plan {parent}"));
        }
    }

    let goal_keys = check_goals(name, plan, errors);
    let mut activity_keys: HashSet<&str> = HashSet::new();
    for activity in &plan.activities {
        let at = format!("{name}: activity {}", activity.key);
        if !is_local_key(&activity.key) {
            errors.push(format!(
                "{at}: the key must be non-empty, without '/' or spaces"
            ));
        }
        if !activity_keys.insert(&activity.key) {
            errors.push(format!("{at}: duplicate activity key"));
        }
        check_activity(&at, activity, &goal_keys, actors, errors);
    }
}

/// The plan's goal tree: keys unique and well-formed, titles present, codes unique. Returns the
/// goal keys, which the activities must name.
fn check_goals<'a>(name: &str, plan: &'a SeedPlan, errors: &mut Vec<String>) -> HashSet<&'a str> {
    let mut goal_keys: HashSet<&str> = HashSet::new();
    let mut goal_codes: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&SeedGoal> = plan.goals.iter().collect();
    while let Some(goal) = stack.pop() {
        let at = format!("{name}: goal {}", goal.key);
        if !is_local_key(&goal.key) {
            errors.push(format!(
                "{at}: the key must be non-empty, without '/' or spaces"
            ));
        }
        if !goal_keys.insert(&goal.key) {
            errors.push(format!("{at}: duplicate goal key"));
        }
        if blank(&goal.title) {
            errors.push(format!("{at}: the title is empty"));
        }
        if let Some(code) = &goal.code {
            if !is_goal_code(code) {
                errors.push(format!(
                    "{at}: code {code:?} must look like 4.1.1 (at most 20 characters)"
                ));
            }
            if !goal_codes.insert(code) {
                errors.push(format!(
                    "{at}: code {code} is used by another goal of the plan"
                ));
            }
        }
        stack.extend(goal.children.iter());
    }

    goal_keys
}

/// One activity: its goals and actors known, its years in range and in order, its follow-ups
/// one per year with a colour or a note.
fn check_activity(
    at: &str,
    activity: &SeedActivity,
    goal_keys: &HashSet<&str>,
    actors: &ActorFiles,
    errors: &mut Vec<String>,
) {
    if !goal_keys.contains(activity.goal.as_str()) {
        errors.push(format!("{at}: unknown goal {}", activity.goal));
    }
    let mut linked: HashSet<&str> = HashSet::new();
    for goal in &activity.linked_goals {
        if !goal_keys.contains(goal.as_str()) {
            errors.push(format!("{at}: unknown linked goal {goal}"));
        }
        if !linked.insert(goal) {
            errors.push(format!("{at}: linked goal {goal} is listed twice"));
        }
    }
    if blank(&activity.title) {
        errors.push(format!("{at}: the title is empty"));
    }
    for (field, year) in [
        ("start_year", activity.start_year),
        ("end_year", activity.end_year),
    ] {
        if let Some(year) = year
            && !year_ok(year)
        {
            errors.push(format!(
                "{at}: {field} {year} is outside {MIN_YEAR}–{MAX_YEAR}"
            ));
        }
    }
    if let (Some(start), Some(end)) = (activity.start_year, activity.end_year)
        && start > end
    {
        errors.push(format!("{at}: start_year {start} is after end_year {end}"));
    }
    if activity.start_term.is_some() && activity.start_year.is_none() {
        errors.push(format!("{at}: a start_term needs a start_year"));
    }
    let mut links: HashSet<(&str, Role)> = HashSet::new();
    for link in &activity.actors {
        if !actors.contains_key(&link.actor) {
            errors.push(format!("{at}: unknown actor {}", link.actor));
        }
        if !links.insert((&link.actor, link.role)) {
            errors.push(format!(
                "{at}: actor {} is listed twice as {}",
                link.actor, link.role
            ));
        }
    }
    let mut years: HashSet<i32> = HashSet::new();
    for follow_up in &activity.follow_ups {
        if !year_ok(follow_up.year) {
            errors.push(format!(
                "{at}: follow-up year {} is outside {MIN_YEAR}–{MAX_YEAR}",
                follow_up.year
            ));
        }
        if !years.insert(follow_up.year) {
            errors.push(format!("{at}: two follow-ups for {}", follow_up.year));
        }
        if follow_up.status.is_none() && follow_up.comment.as_deref().is_none_or(str::is_empty) {
            errors.push(format!(
                "{at}: the {} follow-up has neither status nor comment",
                follow_up.year
            ));
        }
    }
}

/// Orders items so that every parent comes before its children (stable otherwise); `Err(key)`
/// names an item on a cycle. Unknown parents are reported elsewhere and ignored here.
fn parents_first<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &String,
    parent: impl Fn(&T) -> Option<&str>,
) -> Result<Vec<T>, String> {
    let index: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, t)| (key(t).clone(), i))
        .collect();
    // 0 = not visited, 1 = on the current path, 2 = placed.
    let mut state = vec![0u8; items.len()];
    let mut order: Vec<usize> = Vec::with_capacity(items.len());
    for start in 0..items.len() {
        let mut path: Vec<usize> = Vec::new();
        let mut current = Some(start);
        while let Some(i) = current {
            match state[i] {
                2 => break,
                1 => return Err(key(&items[i]).clone()),
                _ => {
                    state[i] = 1;
                    path.push(i);
                    current = parent(&items[i]).and_then(|p| index.get(p).copied());
                }
            }
        }
        for i in path.into_iter().rev() {
            state[i] = 2;
            order.push(i);
        }
    }
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    Ok(order.into_iter().filter_map(|i| slots[i].take()).collect())
}

// ---------------------------------------------------------------------------------------------
// The rows the seed wants
// ---------------------------------------------------------------------------------------------

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::Selectable,
    diesel::prelude::Insertable,
    diesel::prelude::AsChangeset,
)]
#[diesel(table_name = actors, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct ActorRow {
    id: Uuid,
    name: String,
    kind: ActorKind,
    municipality_code: Option<String>,
    parent_id: Option<Uuid>,
    title: Option<String>,
    website: Option<String>,
    email: Option<String>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::Selectable,
    diesel::prelude::Insertable,
    diesel::prelude::AsChangeset,
)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct PlanRow {
    id: Uuid,
    title: String,
    kind: PlanKind,
    status: PlanStatus,
    first_year: i32,
    last_year: i32,
    parent_id: Option<Uuid>,
    reference: Option<String>,
    adopted_on: Option<NaiveDate>,
    description: Option<String>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::Selectable,
    diesel::prelude::Insertable,
    diesel::prelude::AsChangeset,
)]
#[diesel(table_name = goals, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct GoalRow {
    id: Uuid,
    plan_id: Uuid,
    parent_id: Option<Uuid>,
    code: Option<String>,
    kind: GoalKind,
    title: String,
    description: Option<String>,
    position: i32,
    realises_goal_id: Option<Uuid>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::Selectable,
    diesel::prelude::Insertable,
    diesel::prelude::AsChangeset,
)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct ActivityRow {
    id: Uuid,
    plan_id: Uuid,
    goal_id: Uuid,
    title: String,
    description: Option<String>,
    start_year: Option<i32>,
    start_term: Option<StartTerm>,
    end_year: Option<i32>,
    recurrence: Recurrence,
    tags: Vec<String>,
    position: i32,
}

/// An activity with the sets that belong to it: its actor links and its linked goals.
#[derive(Debug, Clone, PartialEq)]
struct ActivityWant {
    row: ActivityRow,
    links: Links,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Links {
    actors: BTreeSet<(Uuid, Role)>,
    goals: BTreeSet<Uuid>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::Selectable,
    diesel::prelude::Insertable,
    diesel::prelude::AsChangeset,
)]
#[diesel(table_name = follow_ups, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct FollowUpRow {
    id: Uuid,
    activity_id: Uuid,
    year: i32,
    status: Option<FollowUpStatus>,
    comment: Option<String>,
    reported_by: String,
}

impl FollowUpRow {
    /// The follow-up as `follow_up_history` keeps it.
    fn history_json(&self) -> serde_json::Value {
        serde_json::json!({ "status": self.status, "comment": self.comment })
    }
}

/// A row another one refers to; it must exist before the referring row is written.
#[derive(Debug, Clone)]
struct Dep {
    entity: Entity,
    id: Uuid,
    key: String,
}

#[derive(Debug, Clone)]
struct Want<R> {
    id: Uuid,
    key: String,
    row: R,
    deps: Vec<Dep>,
}

#[derive(Debug, Default)]
struct Wanted {
    actors: Vec<Want<ActorRow>>,
    plans: Vec<Want<PlanRow>>,
    goals: Vec<Want<GoalRow>>,
    activities: Vec<Want<ActivityWant>>,
    follow_ups: Vec<Want<FollowUpRow>>,
}

fn dep(entity: Entity, id: Uuid, key: impl Into<String>) -> Dep {
    Dep {
        entity,
        id,
        key: key.into(),
    }
}

fn wanted(data: &SeedData) -> anyhow::Result<Wanted> {
    let mut out = Wanted::default();
    want_actors(data, &mut out);
    want_plans(data, &mut out);
    for plan in &data.plans {
        want_goals(plan, &mut out)?;
    }
    for plan in &data.plans {
        want_activities(plan, &mut out)?;
    }
    Ok(out)
}

/// The actors' rows, each depending on its parent.
fn want_actors(data: &SeedData, out: &mut Wanted) {
    for actor in &data.actors {
        let parent_id = actor.parent.as_deref().map(actor_id);
        out.actors.push(Want {
            id: actor_id(&actor.key),
            key: actor.key.clone(),
            row: ActorRow {
                id: actor_id(&actor.key),
                name: actor.name.clone(),
                kind: actor.kind,
                municipality_code: actor.municipality_code.clone(),
                parent_id,
                title: actor.title.clone(),
                website: actor.website.clone(),
                email: actor.email.clone(),
            },
            deps: actor
                .parent
                .iter()
                .map(|p| dep(Entity::Actor, actor_id(p), p.clone()))
                .collect(),
        });
    }
}

/// The plans' rows, each depending on its parent plan.
fn want_plans(data: &SeedData, out: &mut Wanted) {
    for plan in &data.plans {
        let id = plan_id(&plan.key);
        out.plans.push(Want {
            id,
            key: plan.key.clone(),
            row: PlanRow {
                id,
                title: plan.title.clone(),
                kind: plan.kind,
                status: plan.status,
                first_year: plan.first_year,
                last_year: plan.last_year,
                parent_id: plan.parent.as_deref().map(plan_id),
                reference: plan.reference.clone(),
                adopted_on: plan.adopted_on,
                description: plan.description.clone(),
            },
            deps: plan
                .parent
                .iter()
                .map(|p| dep(Entity::Plan, plan_id(p), p.clone()))
                .collect(),
        });
    }
}

/// A plan's goal rows, depth first, parents before children; a goal depends on its plan, its
/// parent and the goal it realises.
fn want_goals(plan: &SeedPlan, out: &mut Wanted) -> anyhow::Result<()> {
    let pid = plan_id(&plan.key);
    // Depth first, parents before children; position = index among siblings.
    let mut stack: Vec<(Option<&SeedGoal>, &SeedGoal, usize)> = plan
        .goals
        .iter()
        .enumerate()
        .rev()
        .map(|(i, g)| (None, g, i))
        .collect();
    while let Some((parent, goal, position)) = stack.pop() {
        let id = goal_id(&plan.key, &goal.key);
        let mut deps = vec![dep(Entity::Plan, pid, plan.key.clone())];
        if let Some(parent) = parent {
            deps.push(dep(
                Entity::Goal,
                goal_id(&plan.key, &parent.key),
                format!("{}/{}", plan.key, parent.key),
            ));
        }
        // Checked in `load`: a realised goal belongs to the parent plan, seeded before.
        let realised = match (&plan.parent, &goal.realises) {
            (Some(parent_plan), Some(realised)) => {
                let id = goal_id(parent_plan, realised);
                deps.push(dep(Entity::Goal, id, format!("{parent_plan}/{realised}")));
                Some(id)
            }
            _ => None,
        };
        out.goals.push(Want {
            id,
            key: format!("{}/{}", plan.key, goal.key),
            row: GoalRow {
                id,
                plan_id: pid,
                parent_id: parent.map(|p| goal_id(&plan.key, &p.key)),
                code: goal.code.clone(),
                kind: goal.kind,
                title: goal.title.clone(),
                description: goal.description.clone(),
                position: i32::try_from(position)?,
                realises_goal_id: realised,
            },
            deps,
        });
        stack.extend(
            goal.children
                .iter()
                .enumerate()
                .rev()
                .map(|(i, c)| (Some(goal), c, i)),
        );
    }
    Ok(())
}

/// A plan's activity rows with their links, and their follow-ups.
fn want_activities(plan: &SeedPlan, out: &mut Wanted) -> anyhow::Result<()> {
    let pid = plan_id(&plan.key);
    for (position, activity) in plan.activities.iter().enumerate() {
        let id = activity_id(&plan.key, &activity.key);
        let key = format!("{}/{}", plan.key, activity.key);
        let gid = goal_id(&plan.key, &activity.goal);
        let mut deps = vec![
            dep(Entity::Plan, pid, plan.key.clone()),
            dep(Entity::Goal, gid, format!("{}/{}", plan.key, activity.goal)),
        ];
        for goal in &activity.linked_goals {
            deps.push(dep(
                Entity::Goal,
                goal_id(&plan.key, goal),
                format!("{}/{goal}", plan.key),
            ));
        }
        for link in &activity.actors {
            deps.push(dep(
                Entity::Actor,
                actor_id(&link.actor),
                link.actor.clone(),
            ));
        }
        out.activities.push(Want {
            id,
            key: key.clone(),
            row: ActivityWant {
                row: ActivityRow {
                    id,
                    plan_id: pid,
                    goal_id: gid,
                    title: activity.title.clone(),
                    description: activity.description.clone(),
                    start_year: activity.start_year,
                    start_term: activity.start_term,
                    end_year: activity.end_year,
                    recurrence: activity.recurrence,
                    tags: activity.tags.clone(),
                    position: i32::try_from(position)?,
                },
                links: Links {
                    actors: activity
                        .actors
                        .iter()
                        .map(|l| (actor_id(&l.actor), l.role))
                        .collect(),
                    goals: activity
                        .linked_goals
                        .iter()
                        .map(|g| goal_id(&plan.key, g))
                        .collect(),
                },
            },
            deps,
        });
        for follow_up in &activity.follow_ups {
            let fid = follow_up_id(&plan.key, &activity.key, follow_up.year);
            out.follow_ups.push(Want {
                id: fid,
                key: format!("{key}/{}", follow_up.year),
                row: FollowUpRow {
                    id: fid,
                    activity_id: id,
                    year: follow_up.year,
                    status: follow_up.status,
                    comment: follow_up.comment.clone(),
                    reported_by: SEED_REPORTER.to_owned(),
                },
                deps: vec![dep(Entity::Activity, id, key.clone())],
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// The kinds of rows the seed writes, as named in `seed_rows.entity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Actor,
    Plan,
    Goal,
    Activity,
    FollowUp,
}

impl Entity {
    pub const ALL: [Entity; 5] = [
        Entity::Actor,
        Entity::Plan,
        Entity::Goal,
        Entity::Activity,
        Entity::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Actor => "actor",
            Entity::Plan => "plan",
            Entity::Goal => "goal",
            Entity::Activity => "activity",
            Entity::FollowUp => "follow_up",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
    }
}

/// Why a seeded row was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Its version moved on since the seed wrote it.
    ChangedThroughApi,
    /// It exists, but the seed never recorded writing it.
    NotWrittenBySeed,
    /// The seed wrote it and it is gone.
    DeletedThroughApi,
    /// Another follow-up for the same activity and year was reported through the API.
    ReportedThroughApi,
    /// A row it refers to is not in the database (and was not re-created).
    Missing { entity: Entity, key: String },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::ChangedThroughApi => {
                f.write_str("changed through the API since it was seeded; use --force to overwrite")
            }
            SkipReason::NotWrittenBySeed => f.write_str(
                "exists but was not written by the seed (created or changed through the API); use --force to overwrite",
            ),
            SkipReason::DeletedThroughApi => {
                f.write_str("deleted through the API since it was seeded; use --force to re-create it")
            }
            SkipReason::ReportedThroughApi => f.write_str(
                "a follow-up for this activity and year was reported through the API; use --force to overwrite",
            ),
            SkipReason::Missing { entity, key } => write!(
                f,
                "refers to {entity} {key}, which is not in the database; use --force to re-create both"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    pub entity: Entity,
    pub id: Uuid,
    /// The natural key: `<actor>`, `<plan>`, `<plan>/<goal>`, `<plan>/<activity>`,
    /// `<plan>/<activity>/<year>`.
    pub key: String,
    pub reason: SkipReason,
}

/// A row `--force` overwrote (or re-created) although it had been changed through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedRow {
    pub entity: Entity,
    pub id: Uuid,
    pub key: String,
    pub recreated: bool,
}

/// What a seed run did.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub dir: PathBuf,
    pub force: bool,
    pub counts: BTreeMap<Entity, Counts>,
    pub skipped: Vec<SkippedRow>,
    pub forced: Vec<ForcedRow>,
}

impl SeedReport {
    pub fn counts(&self, entity: Entity) -> Counts {
        self.counts.get(&entity).copied().unwrap_or_default()
    }

    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for counts in self.counts.values() {
            total.add(*counts);
        }
        total
    }

    /// True when the run wrote nothing and skipped nothing.
    pub fn is_noop(&self) -> bool {
        let total = self.total();
        total.created == 0 && total.updated == 0 && total.skipped == 0
    }

    fn entry(&mut self, entity: Entity) -> &mut Counts {
        self.counts.entry(entity).or_default()
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed from {}{}",
            self.dir.display(),
            if self.force { " (--force)" } else { "" }
        )?;
        writeln!(
            f,
            "{:<10} {:>8} {:>8} {:>10} {:>8}",
            "", "created", "updated", "unchanged", "skipped"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, c: Counts| {
            writeln!(
                f,
                "{:<10} {:>8} {:>8} {:>10} {:>8}",
                name, c.created, c.updated, c.unchanged, c.skipped
            )
        };
        for entity in Entity::ALL {
            row(f, entity.as_str(), self.counts(entity))?;
        }
        row(f, "total", self.total())?;
        if !self.forced.is_empty() {
            writeln!(
                f,
                "overwrote {} row(s) changed through the API (--force):",
                self.forced.len()
            )?;
            for r in &self.forced {
                let what = if r.recreated {
                    "re-created"
                } else {
                    "overwritten"
                };
                writeln!(f, "  {} {} ({}): {what}", r.entity, r.key, r.id)?;
            }
        }
        if self.skipped.is_empty() {
            write!(f, "skipped nothing")
        } else {
            write!(f, "skipped {} row(s):", self.skipped.len())?;
            for r in &self.skipped {
                write!(f, "\n  {} {} ({}): {}", r.entity, r.key, r.id, r.reason)?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Reads `dir`, checks it, and writes it to the database at `database_url` in one transaction.
pub async fn run(database_url: &str, dir: &Path, force: bool) -> anyhow::Result<SeedReport> {
    let data = load(dir)?;
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .context("cannot connect to the database")?;
    apply(&mut conn, &data, force).await
}

/// Writes checked seed data in one transaction (a savepoint when the caller already opened one).
pub async fn apply(
    conn: &mut AsyncPgConnection,
    data: &SeedData,
    force: bool,
) -> anyhow::Result<SeedReport> {
    let wanted = wanted(data)?;
    let dir = data.dir.clone();
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        // A second seed run waits for this one instead of racing it.
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(SEED_LOCK)
            .execute(conn)
            .await?;
        let mut run = Run {
            force,
            present: HashSet::new(),
            report: SeedReport {
                dir,
                force,
                ..SeedReport::default()
            },
        };
        seed_actors(conn, &mut run, &wanted.actors).await?;
        seed_plans(conn, &mut run, &wanted.plans).await?;
        seed_goals(conn, &mut run, &wanted.goals).await?;
        seed_activities(conn, &mut run, &wanted.activities).await?;
        seed_follow_ups(conn, &mut run, &wanted.follow_ups).await?;
        Ok(run.report)
    })
    .await
}

/// The database's side of one wanted row.
#[derive(Debug, Clone, Copy)]
struct Found {
    /// The row holds exactly what the seed wants.
    same: bool,
    version: i32,
    /// A row under another id holds the natural key (a follow-up reported through the API).
    foreign: bool,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Create {
        recreate: bool,
    },
    Update {
        version: i32,
        forced: bool,
    },
    /// Nothing to write; `adopt` records the current version when the row already holds the
    /// seed's content but `seed_rows` does not know that version.
    Keep {
        adopt: Option<i32>,
    },
    Skip,
}

struct Run {
    force: bool,
    /// Ids of seeded rows that exist (so far) in the database.
    present: HashSet<Uuid>,
    report: SeedReport,
}

impl Run {
    fn decide<R>(
        &mut self,
        entity: Entity,
        want: &Want<R>,
        found: Option<Found>,
        seeded: Option<i32>,
    ) -> Action {
        let reason = match (found, seeded) {
            (None, None) => None,
            (None, Some(_)) if self.force => None,
            (None, Some(_)) => Some(SkipReason::DeletedThroughApi),
            (Some(f), Some(v)) if !f.foreign && f.version == v => None,
            (Some(f), _) if f.same && !f.foreign => None,
            (Some(_), _) if self.force => None,
            (Some(f), _) if f.foreign => Some(SkipReason::ReportedThroughApi),
            (Some(_), Some(_)) => Some(SkipReason::ChangedThroughApi),
            (Some(_), None) => Some(SkipReason::NotWrittenBySeed),
        };
        let action = match (reason, found) {
            (Some(reason), _) => return self.skip(entity, want, found.is_some(), reason),
            (None, None) => Action::Create {
                recreate: seeded.is_some(),
            },
            (None, Some(f)) if f.same => Action::Keep {
                adopt: (seeded != Some(f.version)).then_some(f.version),
            },
            (None, Some(f)) => Action::Update {
                version: f.version,
                forced: f.foreign || seeded != Some(f.version),
            },
        };
        if let Action::Keep { .. } = action {
            self.present.insert(want.id);
            self.report.entry(entity).unchanged += 1;
            return action;
        }
        if let Some(missing) = want.deps.iter().find(|d| !self.present.contains(&d.id)) {
            let reason = SkipReason::Missing {
                entity: missing.entity,
                key: missing.key.clone(),
            };
            return self.skip(entity, want, found.is_some(), reason);
        }
        action
    }

    fn skip<R>(
        &mut self,
        entity: Entity,
        want: &Want<R>,
        exists: bool,
        reason: SkipReason,
    ) -> Action {
        if exists {
            self.present.insert(want.id);
        }
        self.report.entry(entity).skipped += 1;
        self.report.skipped.push(SkippedRow {
            entity,
            id: want.id,
            key: want.key.clone(),
            reason,
        });
        Action::Skip
    }

    /// Books a row the seed wrote (or adopted) and records its version in `seed_rows`.
    async fn wrote<R>(
        &mut self,
        conn: &mut AsyncPgConnection,
        entity: Entity,
        want: &Want<R>,
        action: Action,
        version: i32,
    ) -> anyhow::Result<()> {
        diesel::insert_into(seed_rows::table)
            .values((
                seed_rows::entity.eq(entity.as_str()),
                seed_rows::id.eq(want.id),
                seed_rows::version.eq(version),
            ))
            .on_conflict((seed_rows::entity, seed_rows::id))
            .do_update()
            .set((
                seed_rows::version.eq(version),
                seed_rows::seeded_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
            .with_context(|| format!("recording {entity} {} in seed_rows", want.key))?;
        self.present.insert(want.id);
        let counts = self.report.entry(entity);
        match action {
            Action::Create { recreate } => {
                counts.created += 1;
                if recreate {
                    self.report.forced.push(ForcedRow {
                        entity,
                        id: want.id,
                        key: want.key.clone(),
                        recreated: true,
                    });
                }
            }
            Action::Update { forced, .. } => {
                counts.updated += 1;
                if forced {
                    self.report.forced.push(ForcedRow {
                        entity,
                        id: want.id,
                        key: want.key.clone(),
                        recreated: false,
                    });
                }
            }
            // Counted when decided.
            Action::Keep { .. } | Action::Skip => {}
        }
        Ok(())
    }
}

async fn seeded_versions(
    conn: &mut AsyncPgConnection,
    entity: Entity,
) -> anyhow::Result<HashMap<Uuid, i32>> {
    let rows: Vec<(Uuid, i32)> = seed_rows::table
        .filter(seed_rows::entity.eq(entity.as_str()))
        .select((seed_rows::id, seed_rows::version))
        .load(conn)
        .await
        .context("reading seed_rows")?;
    Ok(rows.into_iter().collect())
}

fn changed_concurrently(entity: Entity, key: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{entity} {key} changed while the seed ran; nothing was written, run the seed again"
    )
}

/// Writes the rows of a table whose seeded content is exactly its row struct (actors, plans,
/// goals): one function per table, the same steps for each.
macro_rules! seed_table {
    ($name:ident, $table:ident, $row:ty, $entity:expr) => {
        async fn $name(
            conn: &mut AsyncPgConnection,
            run: &mut Run,
            wants: &[Want<$row>],
        ) -> anyhow::Result<()> {
            const E: Entity = $entity;
            let ids: Vec<Uuid> = wants.iter().map(|w| w.id).collect();
            let existing: HashMap<Uuid, ($row, i32)> = $table::table
                .filter($table::id.eq_any(&ids))
                .select((<$row>::as_select(), $table::version))
                .load::<($row, i32)>(conn)
                .await
                .with_context(|| format!("reading {}", stringify!($table)))?
                .into_iter()
                .map(|(row, version)| (row.id, (row, version)))
                .collect();
            let seeded = seeded_versions(conn, E).await?;
            for want in wants {
                let found = existing.get(&want.id).map(|(row, version)| Found {
                    same: *row == want.row,
                    version: *version,
                    foreign: false,
                });
                let action = run.decide(E, want, found, seeded.get(&want.id).copied());
                let version = match action {
                    Action::Skip | Action::Keep { adopt: None } => continue,
                    Action::Keep { adopt: Some(v) } => v,
                    Action::Create { .. } => diesel::insert_into($table::table)
                        .values(&want.row)
                        .returning($table::version)
                        .get_result(conn)
                        .await
                        .with_context(|| format!("inserting {E} {}", want.key))?,
                    Action::Update { version, .. } => diesel::update($table::table)
                        .filter($table::id.eq(want.id))
                        .filter($table::version.eq(version))
                        .set(&want.row)
                        .returning($table::version)
                        .get_result(conn)
                        .await
                        .optional()
                        .with_context(|| format!("updating {E} {}", want.key))?
                        .ok_or_else(|| changed_concurrently(E, &want.key))?,
                };
                run.wrote(conn, E, want, action, version).await?;
            }
            Ok(())
        }
    };
}

seed_table!(seed_actors, actors, ActorRow, Entity::Actor);
seed_table!(seed_plans, plans, PlanRow, Entity::Plan);
seed_table!(seed_goals, goals, GoalRow, Entity::Goal);

async fn seed_activities(
    conn: &mut AsyncPgConnection,
    run: &mut Run,
    wants: &[Want<ActivityWant>],
) -> anyhow::Result<()> {
    const E: Entity = Entity::Activity;
    let ids: Vec<Uuid> = wants.iter().map(|w| w.id).collect();
    let rows: Vec<(ActivityRow, i32)> = activities::table
        .filter(activities::id.eq_any(&ids))
        .select((ActivityRow::as_select(), activities::version))
        .load(conn)
        .await
        .context("reading activities")?;
    let mut actor_links: HashMap<Uuid, BTreeSet<(Uuid, Role)>> = HashMap::new();
    let links: Vec<(Uuid, Uuid, Role)> = activity_actors::table
        .filter(activity_actors::activity_id.eq_any(&ids))
        .select((
            activity_actors::activity_id,
            activity_actors::actor_id,
            activity_actors::role,
        ))
        .load(conn)
        .await
        .context("reading activity_actors")?;
    for (activity, actor, role) in links {
        actor_links
            .entry(activity)
            .or_default()
            .insert((actor, role));
    }
    let mut goal_links: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
    let links: Vec<(Uuid, Uuid)> = activity_goals::table
        .filter(activity_goals::activity_id.eq_any(&ids))
        .select((activity_goals::activity_id, activity_goals::goal_id))
        .load(conn)
        .await
        .context("reading activity_goals")?;
    for (activity, goal) in links {
        goal_links.entry(activity).or_default().insert(goal);
    }
    let existing: HashMap<Uuid, (ActivityWant, i32)> = rows
        .into_iter()
        .map(|(row, version)| {
            let id = row.id;
            let have = ActivityWant {
                row,
                links: Links {
                    actors: actor_links.remove(&id).unwrap_or_default(),
                    goals: goal_links.remove(&id).unwrap_or_default(),
                },
            };
            (id, (have, version))
        })
        .collect();
    let seeded = seeded_versions(conn, E).await?;
    let no_links = Links::default();
    for want in wants {
        let have = existing.get(&want.id);
        let found = have.map(|(have, version)| Found {
            same: *have == want.row,
            version: *version,
            foreign: false,
        });
        let action = run.decide(E, want, found, seeded.get(&want.id).copied());
        let version = match action {
            Action::Skip | Action::Keep { adopt: None } => continue,
            Action::Keep {
                adopt: Some(version),
            } => version,
            Action::Create { .. } => {
                let version = diesel::insert_into(activities::table)
                    .values(&want.row.row)
                    .returning(activities::version)
                    .get_result(conn)
                    .await
                    .with_context(|| format!("inserting activity {}", want.key))?;
                replace_links(conn, want, &no_links).await?;
                version
            }
            Action::Update { version, .. } => {
                // Setting updated_at makes the trigger bump the version also when only the
                // links changed: they are part of the activity.
                let version = diesel::update(activities::table)
                    .filter(activities::id.eq(want.id))
                    .filter(activities::version.eq(version))
                    .set((&want.row.row, activities::updated_at.eq(diesel::dsl::now)))
                    .returning(activities::version)
                    .get_result(conn)
                    .await
                    .optional()
                    .with_context(|| format!("updating activity {}", want.key))?
                    .ok_or_else(|| changed_concurrently(E, &want.key))?;
                replace_links(conn, want, have.map_or(&no_links, |(have, _)| &have.links)).await?;
                version
            }
        };
        run.wrote(conn, E, want, action, version).await?;
    }
    Ok(())
}

/// Brings an activity's actor links and linked goals from `have` to what the seed wants.
async fn replace_links(
    conn: &mut AsyncPgConnection,
    want: &Want<ActivityWant>,
    have: &Links,
) -> anyhow::Result<()> {
    let context = || format!("writing the links of activity {}", want.key);
    let links = &want.row.links;
    for (actor, role) in have.actors.difference(&links.actors) {
        diesel::delete(activity_actors::table)
            .filter(activity_actors::activity_id.eq(want.id))
            .filter(activity_actors::actor_id.eq(actor))
            .filter(activity_actors::role.eq(role))
            .execute(conn)
            .await
            .with_context(context)?;
    }
    let added: Vec<_> = links
        .actors
        .difference(&have.actors)
        .map(|(actor, role)| {
            (
                activity_actors::activity_id.eq(want.id),
                activity_actors::actor_id.eq(*actor),
                activity_actors::role.eq(*role),
            )
        })
        .collect();
    if !added.is_empty() {
        diesel::insert_into(activity_actors::table)
            .values(added)
            .execute(conn)
            .await
            .with_context(context)?;
    }
    let removed: Vec<Uuid> = have.goals.difference(&links.goals).copied().collect();
    if !removed.is_empty() {
        diesel::delete(activity_goals::table)
            .filter(activity_goals::activity_id.eq(want.id))
            .filter(activity_goals::goal_id.eq_any(removed))
            .execute(conn)
            .await
            .with_context(context)?;
    }
    let added: Vec<_> = links
        .goals
        .difference(&have.goals)
        .map(|goal| {
            (
                activity_goals::activity_id.eq(want.id),
                activity_goals::goal_id.eq(*goal),
            )
        })
        .collect();
    if !added.is_empty() {
        diesel::insert_into(activity_goals::table)
            .values(added)
            .execute(conn)
            .await
            .with_context(context)?;
    }
    Ok(())
}

async fn seed_follow_ups(
    conn: &mut AsyncPgConnection,
    run: &mut Run,
    wants: &[Want<FollowUpRow>],
) -> anyhow::Result<()> {
    const E: Entity = Entity::FollowUp;
    let activity_ids: Vec<Uuid> = wants
        .iter()
        .map(|w| w.row.activity_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Matched on (activity, year), the follow-up's natural key, so that one reported through
    // the API under another id is seen too.
    let existing: HashMap<(Uuid, i32), (FollowUpRow, i32)> = follow_ups::table
        .filter(follow_ups::activity_id.eq_any(&activity_ids))
        .select((FollowUpRow::as_select(), follow_ups::version))
        .load::<(FollowUpRow, i32)>(conn)
        .await
        .context("reading follow_ups")?
        .into_iter()
        .map(|(row, version)| ((row.activity_id, row.year), (row, version)))
        .collect();
    let seeded = seeded_versions(conn, E).await?;
    for want in wants {
        let have = existing.get(&(want.row.activity_id, want.row.year));
        let found = have.map(|(row, version)| Found {
            same: *row == want.row,
            version: *version,
            foreign: row.id != want.id,
        });
        let action = run.decide(E, want, found, seeded.get(&want.id).copied());
        let after = Some(want.row.history_json());
        let version = match action {
            Action::Skip | Action::Keep { adopt: None } => continue,
            Action::Keep {
                adopt: Some(version),
            } => version,
            Action::Create { .. } => {
                let version = diesel::insert_into(follow_ups::table)
                    .values(&want.row)
                    .returning(follow_ups::version)
                    .get_result(conn)
                    .await
                    .with_context(|| format!("inserting follow-up {}", want.key))?;
                history(conn, want, None, after).await?;
                version
            }
            Action::Update { version, .. } => {
                // `have` is there whenever the decision is an update.
                let (current_id, before) = match have {
                    Some((row, _)) => (row.id, Some(row.history_json())),
                    None => (want.id, None),
                };
                // A follow-up reported through the API under another id takes the seed's id.
                let version = diesel::update(follow_ups::table)
                    .filter(follow_ups::id.eq(current_id))
                    .filter(follow_ups::version.eq(version))
                    .set((
                        follow_ups::id.eq(want.id),
                        &want.row,
                        follow_ups::reported_at.eq(diesel::dsl::now),
                    ))
                    .returning(follow_ups::version)
                    .get_result(conn)
                    .await
                    .optional()
                    .with_context(|| format!("updating follow-up {}", want.key))?
                    .ok_or_else(|| changed_concurrently(E, &want.key))?;
                history(conn, want, before, after).await?;
                version
            }
        };
        run.wrote(conn, E, want, action, version).await?;
    }
    Ok(())
}

async fn history(
    conn: &mut AsyncPgConnection,
    want: &Want<FollowUpRow>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    diesel::insert_into(follow_up_history::table)
        .values((
            follow_up_history::activity_id.eq(want.row.activity_id),
            follow_up_history::year.eq(want.row.year),
            follow_up_history::changed_by.eq(SEED_REPORTER),
            follow_up_history::before.eq(before),
            follow_up_history::after.eq(after),
        ))
        .execute(conn)
        .await
        .with_context(|| format!("writing the history of follow-up {}", want.key))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
    }

    #[test]
    fn ids_are_stable_v5_names() {
        assert_eq!(
            actor_id("region-orebro-lan"),
            Uuid::new_v5(&SEED_NAMESPACE, b"actor:region-orebro-lan")
        );
        assert_eq!(
            goal_id("p", "4.1.1"),
            Uuid::new_v5(&SEED_NAMESPACE, b"goal:p/4.1.1")
        );
        assert_eq!(activity_id("p", "a001").get_version_num(), 5);
        assert_ne!(plan_id("x"), actor_id("x"));
        assert_eq!(
            follow_up_id("p", "a001", 2024),
            Uuid::new_v5(&SEED_NAMESPACE, b"follow_up:p/a001/2024")
        );
    }

    #[test]
    fn the_repository_seeds_load() -> anyhow::Result<()> {
        let data = load(&seeds_dir())?;
        assert!(data.activity_count() > 0);
        // Parents come before their children.
        let mut seen = HashSet::new();
        for actor in &data.actors {
            if let Some(parent) = &actor.parent {
                assert!(
                    seen.contains(parent),
                    "actor {} before its parent",
                    actor.key
                );
            }
            seen.insert(actor.key.clone());
        }
        let wanted = wanted(&data)?;
        let ids: HashSet<Uuid> = wanted
            .actors
            .iter()
            .map(|w| w.id)
            .chain(wanted.plans.iter().map(|w| w.id))
            .chain(wanted.goals.iter().map(|w| w.id))
            .chain(wanted.activities.iter().map(|w| w.id))
            .chain(wanted.follow_ups.iter().map(|w| w.id))
            .collect();
        let rows = wanted.actors.len()
            + wanted.plans.len()
            + wanted.goals.len()
            + wanted.activities.len()
            + wanted.follow_ups.len();
        assert_eq!(ids.len(), rows, "ids collide");
        Ok(())
    }

    #[test]
    fn parents_first_orders_and_finds_cycles() {
        let items = vec![("c", Some("b")), ("b", Some("a")), ("a", None)];
        let items: Vec<(String, Option<String>)> = items
            .into_iter()
            .map(|(k, p)| (k.to_owned(), p.map(str::to_owned)))
            .collect();
        let sorted = parents_first(items, |i| &i.0, |i| i.1.as_deref());
        let keys: Vec<String> = sorted
            .map(|s| s.into_iter().map(|i| i.0).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b", "c"]);
        let cycle = vec![
            ("a".to_owned(), Some("b".to_owned())),
            ("b".to_owned(), Some("a".to_owned())),
        ];
        assert!(parents_first(cycle, |i| &i.0, |i| i.1.as_deref()).is_err());
    }

    #[test]
    fn bad_files_are_reported_with_file_and_key() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("kulturplan-seed-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("actors"))?;
        std::fs::create_dir_all(dir.join("plans"))?;
        std::fs::write(
            dir.join("actors/a.json"),
            r#"{"actors": [{"key": "x", "name": "X", "kind": "municipality"},
                           {"key": "y", "name": "Y", "kind": "unit", "parent": "nobody"}]}"#,
        )?;
        std::fs::write(
            dir.join("actors/b.json"),
            r#"{"actors": [{"key": "y", "name": "Y2", "kind": "unit"}]}"#,
        )?;
        std::fs::write(
            dir.join("plans/p.json"),
            r#"{"key": "p", "title": "P", "kind": "culture_plan", "status": "draft",
                "first_year": 2020, "last_year": 2021, "parent": null,
                "goals": [{"key": "g", "code": "1", "kind": "objective", "title": "G"},
                          {"key": "g", "code": null, "kind": "theme", "title": "G2"}],
                "activities": [{"key": "a001", "goal": "nope", "title": "A", "recurrence": "none",
                                "actors": [{"actor": "ghost", "role": "participant"}]}]}"#,
        )?;
        let message = match load(&dir) {
            Ok(_) => String::new(),
            Err(err) => format!("{err:#}"),
        };
        std::fs::remove_dir_all(&dir)?;
        for expected in [
            "actor x: a municipality needs its municipality_code",
            "actor y: unknown parent nobody",
            "actor y: the same key with different content",
            "goal g: duplicate goal key",
            "activity a001: unknown goal nope",
            "activity a001: unknown actor ghost",
        ] {
            assert!(
                message.contains(expected),
                "missing {expected:?} in {message}"
            );
        }
        Ok(())
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed: Result<SeedFollowUp, _> = serde_json::from_str(
            r#"{"year": 2024, "status": null, "comment": "x", "colour": "red"}"#,
        );
        assert!(parsed.is_err());
        let missing_status: Result<SeedFollowUp, _> =
            serde_json::from_str(r#"{"year": 2024, "comment": "x"}"#);
        assert!(missing_status.is_err());
    }
}
