//! Responses are compressed as `Accept-Encoding` asks; a 304 stays a bare 304.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

const PAGE: &str = "/api/v1/activities?limit=500&embed=goal,plan,actors,follow_ups";

async fn fetch(app: &TestApp, encoding: Option<&str>) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.get(PAGE);
    if let Some(encoding) = encoding {
        request = request.header("Accept-Encoding", encoding);
    }
    let response = request.send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    (headers, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn gzip_and_brotli_give_the_same_page_smaller() {
    let app = TestApp::spawn_seeded().await;
    let (plain_headers, plain) = fetch(&app, None).await;
    assert!(!plain_headers.contains_key("content-encoding"));
    let page: Value = serde_json::from_slice(&plain).expect("JSON");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(234));

    let (headers, gzipped) = fetch(&app, Some("gzip")).await;
    assert_eq!(headers["content-encoding"], "gzip");
    let vary: Vec<_> = headers.get_all("vary").iter().collect();
    assert!(
        vary.iter().any(|v| v
            .to_str()
            .unwrap_or_default()
            .eq_ignore_ascii_case("accept-encoding")),
        "{vary:?}"
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain);
    assert!(
        gzipped.len() * 5 < plain.len(),
        "{} of {}",
        gzipped.len(),
        plain.len()
    );

    let (headers, brotli) = fetch(&app, Some("br;q=1, gzip;q=0.5")).await;
    assert_eq!(headers["content-encoding"], "br");
    let mut unbrotlied = Vec::new();
    brotli_decompressor::Decompressor::new(brotli.as_slice(), 4096)
        .read_to_end(&mut unbrotlied)
        .expect("brotli");
    assert_eq!(unbrotlied, plain);
    assert!(brotli.len() < gzipped.len());
}

#[tokio::test]
async fn not_modified_stays_empty_and_uncompressed() {
    let app = TestApp::spawn_seeded().await;
    let (headers, _) = fetch(&app, Some("gzip")).await;
    let etag = headers["etag"].clone();
    let response = app
        .get(PAGE)
        .header("Accept-Encoding", "gzip, br")
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], etag);
    assert!(!response.headers().contains_key("content-encoding"));
    assert!(response.bytes().await.expect("body").is_empty());
}
