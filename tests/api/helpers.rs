//! The test harness: the real app on a real HTTP port, each test on its own database cloned from
//! a migrated (optionally seeded) template, dropped again when the test ends.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kulturplan::auth::{JwtKeys, parse_scopes};
use kulturplan::config::Config;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// The server the tests use: TEST_DATABASE_URL, else DATABASE_URL's server, else local.
pub fn server_url() -> String {
    let url = std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (maintenance, _) =
        kulturplan::db::maintenance_url(&url).expect("DATABASE_URL names a database");
    maintenance
        .rsplit_once('/')
        .map(|(server, _)| server.to_owned())
        .expect("a server URL")
}

fn database_url(name: &str) -> String {
    format!("{}/{name}", server_url())
}

/// A connection to the test server's `postgres` database, for what a test does as the
/// server's operator (database settings, ending sessions).
pub async fn maintenance() -> AsyncPgConnection {
    AsyncPgConnection::establish(&database_url("postgres"))
        .await
        .expect("connect to the test server")
}

/// A short hash of everything that shapes a template, so a changed migration or seed file
/// gets a new template instead of a stale one.
fn content_hash(with_seeds: bool) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut dirs = vec!["migrations"];
    if with_seeds {
        dirs.push("seeds");
    }
    let mut files = Vec::new();
    for dir in dirs {
        collect_files(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
            &mut files,
        );
    }
    files.sort();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

fn collect_files(dir: std::path::PathBuf, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect_files(path, out);
            } else {
                out.push(path);
            }
        }
    }
}

async fn exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(diesel::prelude::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Found>(conn)
        .await
        .expect("query pg_database")
        .found
}

/// Creates the template once per content hash, across threads and test processes.
async fn template(with_seeds: bool) -> String {
    let name = format!(
        "kp_tpl_{}_{}",
        if with_seeds { "seeded" } else { "empty" },
        content_hash(with_seeds)
    );
    let mut conn = maintenance().await;
    // One creator at a time across processes; the others wait and then find it.
    diesel::sql_query("SELECT pg_advisory_lock(727272)")
        .execute(&mut conn)
        .await
        .expect("lock");
    if !exists(&mut conn, &name).await {
        let building = format!("{name}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .expect("drop");
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut conn)
            .await
            .expect("create template");
        let url = database_url(&building);
        kulturplan::db::migrate(&url)
            .await
            .expect("migrate template");
        if with_seeds {
            let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
            kulturplan::seed::run(&url, &seeds, false)
                .await
                .expect("seed template");
        }
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut conn)
            .await
            .expect("rename template");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727272)")
        .execute(&mut conn)
        .await
        .expect("unlock");
    name
}

static EMPTY: OnceCell<String> = OnceCell::const_new();
static SEEDED: OnceCell<String> = OnceCell::const_new();

fn init_tracing() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // Silent unless TEST_LOG is set.
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info")
                .with_test_writer()
                .try_init();
        }
    });
}

pub struct TestApp {
    pub base: String,
    pub db_name: String,
    pub db_url: String,
    pub config: Config,
    pub http: reqwest::Client,
    token: String,
    /// The first instance creates the database and drops it; a replica only shares it.
    owns_database: bool,
}

impl TestApp {
    /// The app on a fresh, migrated, empty database.
    pub async fn spawn() -> TestApp {
        let template = EMPTY.get_or_init(|| template(false)).await.clone();
        Self::from_template(&template, |_, _| {}).await
    }

    /// The app on a fresh database holding the seed data.
    pub async fn spawn_seeded() -> TestApp {
        let template = SEEDED.get_or_init(|| template(true)).await.clone();
        Self::from_template(&template, |_, _| {}).await
    }

    /// The app on a fresh database holding the seed data, its configuration adjusted by
    /// `adjust` (given the configuration and the test database's name).
    pub async fn spawn_seeded_with(adjust: impl FnOnce(&mut Config, &str)) -> TestApp {
        let template = SEEDED.get_or_init(|| template(true)).await.clone();
        Self::from_template(&template, adjust).await
    }

    async fn from_template(template: &str, adjust: impl FnOnce(&mut Config, &str)) -> TestApp {
        init_tracing();
        let db_name = format!("kp_test_{}", Uuid::new_v4().simple());
        let mut conn = maintenance().await;
        diesel::sql_query(format!("CREATE DATABASE {db_name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let db_url = database_url(&db_name);
        let mut config = Config::for_database(db_url.clone());
        adjust(&mut config, &db_name);
        Self::start(db_name, db_url, config, true)
    }

    /// Serves `config` on a new loopback port: a whole instance of the app, with its own pool,
    /// caches and metrics.
    fn start(db_name: String, db_url: String, config: Config, owns_database: bool) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = kulturplan::AppState::new(config.clone()).expect("state");
        let server = kulturplan::serve(listener, state).expect("server");
        tokio::spawn(server);
        let token = token_for(&config, &["admin"]);
        TestApp {
            base,
            db_name,
            db_url,
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            token,
            owns_database,
        }
    }

    /// Another replica of this app: a second instance with the same configuration on the same
    /// database, as a load balancer would have beside it. Nothing in memory is shared.
    pub fn replica(&self) -> TestApp {
        Self::start(
            self.db_name.clone(),
            self.db_url.clone(),
            self.config.clone(),
            false,
        )
    }

    /// The base URL of another replica on this test's database (see `replica`).
    pub async fn another_instance(&self) -> String {
        self.replica().base.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A token of this app's key with the given scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        token_for(&self.config, scopes)
    }

    /// A request with an admin token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::POST, path).json(body)
    }

    pub fn patch(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::PATCH, path).json(body)
    }

    pub fn put(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::PUT, path).json(body)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.req(Method::DELETE, path)
    }

    /// A direct connection to this test's database, for checking what was (not) written.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.db_url)
            .await
            .expect("connect to test database")
    }

    /// Runs a statement on this test's database, as a loader or an operator would.
    pub async fn execute(&self, sql: &str) {
        let mut conn = self.db().await;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The one text column `v` of a query's one row on this test's database.
    pub async fn text_of(&self, sql: &str) -> String {
        #[derive(diesel::prelude::QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let mut conn = self.db().await;
        diesel::sql_query(sql)
            .get_result::<Text>(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .v
    }

    /// `SELECT count(*) FROM <table>` on this test's database.
    pub async fn count(&self, table: &str) -> i64 {
        #[derive(diesel::prelude::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db().await;
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<Count>(&mut conn)
            .await
            .expect("count")
            .n
    }

    /// Asserts that the plan `plan_goal_activity` made is still as it was created.
    pub async fn assert_plan_unchanged(&self, plan_id: &str) {
        let plan = json_ok(
            self.get(&format!("/api/v1/plans/{plan_id}")).send().await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(plan["title"], "Genomförandeplan 2025");
        assert_eq!(plan["version"], 1);
    }

    /// Creates a plan → goal → activity chain and returns their ids.
    pub async fn plan_goal_activity(&self) -> (String, String, String) {
        let plan = json_ok(self.post("/api/v1/plans", &serde_json::json!({
            "title": "Genomförandeplan 2025", "kind": "implementation_plan", "first_year": 2025, "last_year": 2025
        })).send().await, StatusCode::CREATED).await;
        let plan_id = plan["id"].as_str().expect("id").to_owned();
        let goal = json_ok(self.post("/api/v1/goals", &serde_json::json!({
            "plan_id": plan_id, "kind": "objective", "code": "1", "title": "Öka delaktigheten"
        })).send().await, StatusCode::CREATED).await;
        let goal_id = goal["id"].as_str().expect("id").to_owned();
        let activity = json_ok(
            self.post(
                "/api/v1/activities",
                &serde_json::json!({
                    "goal_id": goal_id, "title": "Arrangörsträffar", "start_year": 2025
                }),
            )
            .send()
            .await,
            StatusCode::CREATED,
        )
        .await;
        let activity_id = activity["id"].as_str().expect("id").to_owned();
        (plan_id, goal_id, activity_id)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !self.owns_database {
            return;
        }
        let name = self.db_name.clone();
        // Drop runs outside async context: a small runtime of its own removes the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async move {
                    let mut conn = maintenance().await;
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                });
            }
        })
        .join();
    }
}

pub fn token_for(config: &Config, scopes: &[&str]) -> String {
    let scopes: BTreeSet<_> = parse_scopes(&scopes.join(" ")).expect("known scopes");
    JwtKeys::new(config)
        .issue("test-user", &scopes, None, None, Duration::from_secs(600))
        .expect("token")
}

/// Asserts the status and returns the JSON body.
pub async fn json_ok(response: Result<Response, reqwest::Error>, status: StatusCode) -> Value {
    let response = response.expect("request sent");
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem document with the status and returns it.
pub async fn problem(response: Result<Response, reqwest::Error>, status: StatusCode) -> Value {
    let response = response.expect("request sent");
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(content_type, "application/problem+json", "body: {text}");
    let body: Value = serde_json::from_str(&text).expect("problem is JSON");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The `field`s named in a validation problem.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The id of a seeded activity as a string.
pub fn seeded_activity(plan: &str, key: &str) -> String {
    kulturplan::seed::activity_id(plan, key).to_string()
}

/// A counter or gauge of the app's `/metrics`.
pub async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

/// How often the app has read the data version.
pub async fn version_reads(app: &TestApp) -> u64 {
    metric(app, "kulturplan_data_version_reads_total").await
}

/// The `queries` counter of the app's metrics.
pub async fn query_count(app: &TestApp) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    text.lines()
        .find_map(|line| line.strip_prefix("kulturplan_db_queries_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("kulturplan_db_queries_total in /metrics")
}

impl TestApp {
    /// Creates an integration client through the API; returns its id and secret.
    pub async fn create_client(&self, scopes: &[&str], actor_id: Option<&str>) -> (String, String) {
        let client = json_ok(
            self.post(
                "/api/v1/clients",
                &serde_json::json!({"name": "Integrationsskript", "scopes": scopes, "actor_id": actor_id}),
            )
            .send()
            .await,
            StatusCode::CREATED,
        )
        .await;
        (
            client["client_id"].as_str().expect("client_id").to_owned(),
            client["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        )
    }

    /// POSTs a form to the token endpoint.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.http
            .post(self.url("/api/v1/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token request sent")
    }

    /// A token for a client through the client-credentials grant.
    pub async fn client_token(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .await;
        let body = json_ok(Ok(response), StatusCode::OK).await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
