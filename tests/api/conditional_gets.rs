//! Driven by the document itself: every GET it lists answers as it says. Each read of the API
//! answers an `ETag`, a 304 to `If-None-Match` with that tag, and the same to `HEAD`; every
//! header the document requires is there; an operation the document calls public answers
//! without a token, any other refuses one without.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

/// Values for the path and required query parameters, from the seed data.
struct Values {
    plan_id: String,
    goal_id: String,
    activity_id: String,
    actor_id: String,
    client_id: String,
    year: String,
}

impl Values {
    async fn of(app: &TestApp) -> Values {
        // A follow-up of the seed, so that its year, history and activity exist.
        let activity_id = app
            .text_of(
                "SELECT activity_id::text AS v FROM follow_ups ORDER BY activity_id, year LIMIT 1",
            )
            .await;
        let row = |column: &str| {
            format!(
                "SELECT {column} AS v FROM follow_ups f JOIN activities a ON a.id = f.activity_id \
                 WHERE f.activity_id = '{activity_id}' ORDER BY f.year LIMIT 1"
            )
        };
        let (client_id, _) = app.create_client(&["read"], None).await;
        Values {
            plan_id: app.text_of(&row("a.plan_id::text")).await,
            goal_id: app.text_of(&row("a.goal_id::text")).await,
            year: app.text_of(&row("f.year::text")).await,
            actor_id: app
                .text_of(
                    "SELECT actor_id::text AS v FROM activity_actors ORDER BY actor_id LIMIT 1",
                )
                .await,
            activity_id,
            client_id,
        }
    }

    /// The path with its parameters filled in: `{id}` is the id of the resource named before it.
    fn path(&self, template: &str) -> String {
        let segments: Vec<&str> = template.split('/').collect();
        let mut out = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let value = match *segment {
                "{id}" => match segments[i - 1] {
                    "plans" => &self.plan_id,
                    "goals" => &self.goal_id,
                    "activities" => &self.activity_id,
                    "actors" => &self.actor_id,
                    "clients" => &self.client_id,
                    other => panic!("{template}: no id for `{other}`"),
                },
                "{year}" => &self.year,
                "{code}" => "1880",
                other if other.starts_with('{') => panic!("{template}: no value for {other}"),
                other => other,
            };
            out.push(value.to_owned());
        }
        out.join("/")
    }

    /// The operation's required query parameters.
    fn query(&self, operation: &Value, label: &str) -> String {
        let mut pairs = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] != "query" || parameter["required"] != true {
                continue;
            }
            let name = parameter["name"].as_str().expect("a name");
            let value = match name {
                "plan_id" => &self.plan_id,
                "year" => &self.year,
                other => panic!("{label}: no value for the required parameter `{other}`"),
            };
            pairs.push(format!("{name}={value}"));
        }
        // Whose sheet: one of `municipality_code`, `actor_id` or the token's actor is needed,
        // none of them required alone.
        if label.ends_with("/follow-ups/sheet") {
            pairs.push("municipality_code=1880".to_owned());
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
}

/// The headers the document marks required on the answer `status` of `operation`.
fn required_headers(doc: &Value, operation: &Value, status: &str) -> Vec<String> {
    let headers = operation["responses"][status]["headers"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    headers
        .into_iter()
        .filter(|(_, header)| {
            let definition = match header["$ref"].as_str() {
                Some(pointer) => doc
                    .pointer(pointer.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or_default(),
                None => header.clone(),
            };
            definition["required"] == true
        })
        .map(|(name, _)| name)
        .collect()
}

fn assert_has(headers: &HeaderMap, names: &[String], label: &str) {
    for name in names {
        assert!(headers.contains_key(name.as_str()), "{label}: no {name}");
    }
}

/// GET, GET with `If-None-Match`, HEAD and HEAD with `If-None-Match` of one representation.
async fn conditional(app: &TestApp, doc: &Value, operation: &Value, url: &str, accept: &str) {
    let label = format!("GET {url} ({accept})");
    let get = app
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .expect("sent");
    assert_eq!(get.status(), StatusCode::OK, "{label}");
    assert_has(
        get.headers(),
        &required_headers(doc, operation, "200"),
        &label,
    );
    let etag = get
        .headers()
        .get("etag")
        .unwrap_or_else(|| panic!("{label}: no ETag"))
        .clone();
    assert!(
        etag.to_str().expect("text").starts_with('"'),
        "{label}: {etag:?} is not a strong tag"
    );
    if accept == "text/csv" {
        assert!(
            get.headers()
                .get("content-disposition")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("attachment"))),
            "{label}: a CSV download"
        );
    }
    let length = get.bytes().await.expect("body").len();

    let again = app
        .get(url)
        .header("accept", accept)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{label}");
    assert_eq!(again.headers().get("etag"), Some(&etag), "{label}: 304");
    assert_has(
        again.headers(),
        &required_headers(doc, operation, "304"),
        &label,
    );
    assert!(again.bytes().await.expect("body").is_empty(), "{label}");

    let head = app
        .req(Method::HEAD, url)
        .header("accept", accept)
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::OK, "HEAD of {label}");
    assert_eq!(head.headers().get("etag"), Some(&etag), "HEAD of {label}");
    assert_eq!(
        head.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(length.to_string().as_str()),
        "HEAD of {label}"
    );
    let head = app
        .req(Method::HEAD, url)
        .header("accept", accept)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(head.status(), StatusCode::NOT_MODIFIED, "HEAD of {label}");
}

#[tokio::test]
async fn every_get_of_the_document_answers_an_etag_a_304_and_head_alike() {
    let app = TestApp::spawn_seeded().await;
    let values = Values::of(&app).await;
    let doc = serde_json::to_value(kulturplan::openapi::document()).expect("the document");
    let mut visited = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let Some(operation) = item.get("get") else {
            continue;
        };
        let url = format!(
            "{}{}",
            values.path(template),
            values.query(operation, template)
        );
        let public = operation["security"] == serde_json::json!([]);
        let anonymous = app.http.get(app.url(&url)).send().await.expect("sent");
        if public {
            assert_eq!(anonymous.status(), StatusCode::OK, "{url} is public");
        } else {
            assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{url}");
        }
        assert!(anonymous.headers().contains_key("x-request-id"), "{url}");
        // The probes and the metrics answer the state of the moment; nothing to revalidate.
        if !template.starts_with("/api/v1/") {
            assert!(public, "{template}");
            continue;
        }
        assert!(
            operation["responses"]["304"].is_object(),
            "{template}: no 304 in the document"
        );
        conditional(&app, &doc, operation, &url, "application/json").await;
        if operation["responses"]["200"]["content"]["text/csv"].is_object() {
            conditional(&app, &doc, operation, &url, "text/csv").await;
        }
        visited += 1;
    }
    assert!(visited >= 24, "only {visited} GET operations");
}
