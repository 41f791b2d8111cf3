//! CSV downloads of the lists: RFC 4180 by default, Excel's dialect with `excel=true`, pages
//! linked by `Link`, and conditional GETs that tell CSV and JSON apart.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::helpers::{TestApp, fields, json_ok, problem, seeded_activity};
use kulturplan::seed;

/// A CSV answer, checked for its headers and parsed with the `csv` crate.
pub struct Download {
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Download {
    /// The column `name` of every row.
    pub fn column(&self, name: &str) -> Vec<String> {
        let i = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header));
        self.rows.iter().map(|r| r[i].clone()).collect()
    }

    /// The row whose column `key` holds `value`, as (column, cell) pairs.
    pub fn row(&self, key: &str, value: &str) -> Vec<(String, String)> {
        let i = self.header.iter().position(|h| h == key).unwrap();
        let row = self
            .rows
            .iter()
            .find(|r| r[i] == value)
            .unwrap_or_else(|| panic!("no row with {key} = {value}"));
        self.header
            .iter()
            .cloned()
            .zip(row.iter().cloned())
            .collect()
    }

    pub fn cell(&self, key: &str, value: &str, column: &str) -> String {
        self.row(key, value)
            .into_iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
}

/// GETs `path` and parses the CSV: RFC 4180 (`,`), or Excel's dialect (BOM, `;`) when `excel`.
pub async fn download(app: &TestApp, path: &str, excel: bool) -> Download {
    let response = app.get(path).send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body").to_vec();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let bom = b"\xEF\xBB\xBF";
    let text = if excel {
        assert!(bytes.starts_with(bom), "Excel's dialect starts with a BOM");
        &bytes[3..]
    } else {
        assert!(!bytes.starts_with(bom));
        &bytes[..]
    };
    // Every line ends in CRLF, also inside the Excel dialect.
    assert!(text.ends_with(b"\r\n"));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if excel { b';' } else { b',' })
        .from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .expect("a header line")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            r.expect("a valid record")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    Download {
        headers,
        bytes,
        header,
        rows,
    }
}

const PLAN: &str = "genomforandeplan-2024";

#[tokio::test]
async fn the_activity_list_downloads_as_csv_with_its_embedded_rows_flattened() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let path = format!("/api/v1/activities?plan_id={plan}&limit=500");
    let json = json_ok(app.get(&path).send().await, StatusCode::OK).await;
    let csv = download(&app, &format!("{path}&format=csv"), false).await;
    let json_ids: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        csv.column("id"),
        json_ids,
        "the same rows in the same order"
    );
    assert_eq!(csv.rows.len(), 175);

    let a002 = seeded_activity(PLAN, "a002");
    assert_eq!(
        csv.cell("id", &a002, "actors"),
        "Kulturstrateger (responsible); Områdeschef (supporting)"
    );
    assert_eq!(csv.cell("id", &a002, "goal_code"), "4.1");
    assert_eq!(
        csv.cell("id", &a002, "goal"),
        "Utveckla den kulturella infrastrukturen i Örebro län"
    );
    let a004 = seeded_activity(PLAN, "a004");
    assert_eq!(csv.cell("id", &a004, "follow_up_year"), "2024");
    assert_eq!(csv.cell("id", &a004, "follow_up_status"), "");
    assert_eq!(
        csv.cell("id", &a004, "follow_up_comment"),
        "Beslut kulturnämnden feb 2024"
    );

    // Accept: text/csv gives the same file.
    let accepted = app
        .get(&path)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(
        accepted.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(accepted.bytes().await.unwrap().to_vec(), csv.bytes);
    // JSON wins when ranked first.
    let json_first = app
        .get(&path)
        .header("accept", "application/json, text/csv;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(json_first.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn the_excel_dialect_keeps_swedish_letters_and_uses_semicolons() {
    let app = TestApp::spawn_seeded().await;
    let csv = download(
        &app,
        "/api/v1/actors?kind=municipality&format=csv&excel=true",
        true,
    )
    .await;
    assert!(csv.bytes[3..].starts_with(b"id;name;kind;"));
    let names: BTreeSet<String> = csv.column("name").into_iter().collect();
    for name in ["Örebro kommun", "Laxå kommun", "Hällefors kommun"] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    assert_eq!(
        csv.cell("municipality_code", "1861", "name"),
        "Hallsbergs kommun"
    );
    // excel=true alone asks for CSV too.
    let alone = download(&app, "/api/v1/actors?kind=municipality&excel=true", true).await;
    assert_eq!(alone.bytes, csv.bytes);

    let p = problem(
        app.get("/api/v1/actors?format=json&excel=true")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["excel"]);
    problem(
        app.get("/api/v1/actors?format=xml").send().await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn csv_pages_link_to_the_next_page_and_cover_every_row_once() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id(PLAN);
    let mut path = format!("/api/v1/goals?plan_id={plan}&format=csv&limit=15");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let csv = download(&app, &path, false).await;
        seen.extend(csv.column("id"));
        pages += 1;
        match csv.headers.get("link") {
            Some(link) => {
                let link = link.to_str().unwrap();
                let next = link
                    .strip_prefix('<')
                    .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("a next link: {link}"));
                assert!(next.starts_with("/api/v1/goals?") && next.contains("format=csv"));
                path = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3, "41 goals in pages of 15");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 41);
    assert_eq!(seen.len(), 41);

    let plans = download(&app, "/api/v1/plans?format=csv", false).await;
    assert_eq!(plans.rows.len(), 6);
    assert_eq!(
        plans.cell(
            "id",
            &seed::plan_id("handlingsplan-2020-2023").to_string(),
            "reference"
        ),
        "20RS9126"
    );
}

#[tokio::test]
async fn conditional_gets_tell_csv_from_json_and_move_with_writes() {
    let app = TestApp::spawn_seeded().await;
    let path = "/api/v1/actors?kind=municipality&format=csv";
    let first = app.get(path).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let json_etag = app
        .get("/api/v1/actors?kind=municipality")
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(etag, json_etag);
    let excel_etag = app
        .get(&format!("{path}&excel=true"))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(etag, excel_etag);
    let again = app
        .get(path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let hallsberg = seed::actor_id("hallsbergs-kommun");
    json_ok(
        app.patch(
            &format!("/api/v1/actors/{hallsberg}"),
            &serde_json::json!({"website": "https://www.hallsberg.se"}),
        )
        .send()
        .await,
        StatusCode::OK,
    )
    .await;
    let after = app
        .get(path)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_follow_up_list_downloads_as_csv() {
    let app = TestApp::spawn_seeded().await;
    let plan = seed::plan_id("genomforandeplan-2024");
    let csv = download(
        &app,
        &format!("/api/v1/follow-ups?plan_id={plan}&year=2024&format=csv&excel=true"),
        true,
    )
    .await;
    // The six "Uppföljning jan 2025" notes of the implementation plan, without a colour.
    assert_eq!(csv.rows.len(), 6);
    let a004 = csv.row(
        "activity_id",
        &seeded_activity("genomforandeplan-2024", "a004"),
    );
    assert!(a004.contains(&(
        "comment".to_owned(),
        "Beslut kulturnämnden feb 2024".to_owned()
    )));
    assert!(a004.contains(&("status".to_owned(), String::new())));
    let json = json_ok(
        app.get(&format!("/api/v1/follow-ups?plan_id={plan}&year=2024"))
            .send()
            .await,
        StatusCode::OK,
    )
    .await;
    let ids: BTreeSet<String> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["activity_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, csv.column("activity_id").into_iter().collect());
    let p = problem(
        app.get("/api/v1/follow-ups?format=json&excel=true")
            .send()
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["excel"]);
}
