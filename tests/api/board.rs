//! The board's document: the seeded Genomförandeplan 2024 as HTML, checked against its source
//! document; the same rows as `.xlsx` read back with their fill colours; kept per data version.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use reqwest::StatusCode;
use scraper::{ElementRef, Html, Selector};
use serde_json::json;

use crate::helpers::{TestApp, fields, problem, seeded_activity};

const PLAN: &str = "genomforandeplan-2024";

fn path(query: &str) -> String {
    let plan = kulturplan::seed::plan_id(PLAN);
    format!("/api/v1/reports/board-document?plan_id={plan}&year=2024{query}")
}

/// A row of an activity table of the source document.
#[derive(Debug, Clone, Default)]
struct SourceRow {
    title: String,
    responsible: String,
    starts: String,
    follow_up: String,
}

fn has_year(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|w| w.len() == 4)
}

/// The activity tables of the source, per goal heading (its code, or its text when it has
/// none), in document order. Rows broken over two lines by the text conversion are joined.
fn source_tables() -> Vec<(String, Vec<SourceRow>)> {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/seeds/003_1c1a0da6d84907ef.txt");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let body = lines
        .iter()
        .position(|l| l.starts_with("4. Övergripande mål"))
        .expect("the body's section 4");
    let mut tables: Vec<(String, Vec<SourceRow>)> = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(body + 1) {
        // Trailing tabs mark a table line whose other cells are empty.
        let line = line.trim_end_matches([' ', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if !line.contains('\t') {
            let numbered = line.split_once(' ').filter(|(code, _)| {
                code.contains('.') && code.chars().all(|c| c.is_ascii_digit() || c == '.')
            });
            let next = lines[i + 1..].iter().find(|l| !l.trim().is_empty());
            if let Some((code, _)) = numbered {
                tables.push((code.to_owned(), Vec::new()));
            } else if next.is_some_and(|n| n.starts_with("Prioritering:")) {
                tables.push((line.to_owned(), Vec::new()));
            }
            continue;
        }
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cells[0] == "Aktivitet" || cells[0].starts_with("--") {
            continue;
        }
        let cell = |n: usize| cells.get(n).copied().unwrap_or("").to_owned();
        let rows = &mut tables.last_mut().expect("a table under a heading").1;
        if has_year(&cell(2)) {
            rows.push(SourceRow {
                title: cell(0),
                responsible: cell(1),
                starts: cell(2),
                follow_up: cell(3),
            });
        } else {
            let last = rows.last_mut().expect("a row to continue");
            for (field, more) in [
                (&mut last.title, cell(0)),
                (&mut last.responsible, cell(1)),
                (&mut last.starts, cell(2)),
                (&mut last.follow_up, cell(3)),
            ] {
                if !more.is_empty() {
                    field.push(' ');
                    field.push_str(&more);
                }
            }
        }
    }
    tables.retain(|(_, rows)| !rows.is_empty());
    tables
}

fn text_of(element: ElementRef) -> String {
    element
        .text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('-', "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The source's wording, allowing the normalisations the seed notes record: merged spelling
/// variants of a unit ("Kulturstrategier", "Teaterfrämjandet", "Biblioteks-utveckling"), a
/// unit's full name where the source shortens it, fixed typos.
fn same_words(source: &str, rendered: &str) -> bool {
    const FILLER: [&str; 7] = ["med", "stöd", "av", "och", "samt", "inom", "för"];
    let rendered = words(rendered);
    words(source)
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .all(|w| {
            rendered
                .iter()
                .any(|r| r.contains(w.as_str()) || strsim::normalized_levenshtein(w, r) >= 0.8)
        })
}

fn years(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_document_holds_every_activity_of_the_source_under_its_goal() {
    let app = TestApp::spawn_seeded().await;
    let response = app.get(&path("")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(response.headers().contains_key("etag"));
    let page = Html::parse_document(&response.text().await.unwrap());
    let select = |s: &str| Selector::parse(s).unwrap();

    // Swedish, self-contained, no scripts.
    let root = page.root_element();
    assert_eq!(root.value().attr("lang"), Some("sv"));
    assert_eq!(page.select(&select("script")).count(), 0);
    for (selector, attr) in [("[src]", "src"), ("link[href]", "href")] {
        let external: Vec<&str> = page
            .select(&select(selector))
            .filter_map(|e| e.value().attr(attr))
            .collect();
        assert!(external.is_empty(), "external assets: {external:?}");
    }
    let style = page
        .select(&select("style"))
        .map(text_of)
        .collect::<String>();
    assert!(style.contains("size: A4"), "{style}");
    assert!(style.contains("break-inside: avoid"), "{style}");

    // The legend of section 3, in the four colours.
    let legend: Vec<String> = page
        .select(&select("section.legend li"))
        .map(text_of)
        .collect();
    assert_eq!(legend.len(), 4);
    for (item, colour) in legend.iter().zip(["Blått", "Rött", "Grönt", "Gult"]) {
        assert!(item.starts_with(&format!("{colour}:")), "{item}");
    }
    assert!(legend[2].contains("genomförd under aktuellt år"));

    // Every goal section, by its code or (unnumbered) its heading.
    let mut sections: HashMap<String, ElementRef> = HashMap::new();
    for section in page.select(&select("section.goal")) {
        let key = match section.value().attr("data-goal-code") {
            Some(code) => code.to_owned(),
            None => section
                .select(&select("h2, h3"))
                .next()
                .map(text_of)
                .unwrap_or_default(),
        };
        sections.insert(key, section);
    }
    // Priority texts are there ("Prioritering:").
    let first = sections.get("4.1.1").expect("4.1.1");
    let priority = first
        .select(&select("p.prioritering"))
        .next()
        .map(text_of)
        .unwrap_or_default();
    assert!(
        priority.starts_with("Prioritering: Skapa goda förutsättningar"),
        "{priority}"
    );
    assert!(
        text_of(first.select(&select("thead")).next().unwrap())
            .contains("Aktivitet Ansvar för handläggning Påbörjas Uppföljning jan 2025")
    );

    let source = source_tables();
    let mut compared = 0;
    for (key, rows) in &source {
        let section = sections
            .get(key)
            .unwrap_or_else(|| panic!("no section for {key}"));
        let rendered: Vec<Vec<String>> = section
            .select(&select("tbody tr"))
            .map(|tr| tr.select(&select("td")).map(text_of).collect())
            .collect();
        assert_eq!(
            rendered.len(),
            rows.len(),
            "{key}: {rendered:#?} against {rows:#?}"
        );
        for (source, cells) in rows.iter().zip(&rendered) {
            let [title, responsible, starts, follow_up] = &cells[..] else {
                panic!("{key}: four cells expected, got {cells:?}");
            };
            let similarity =
                strsim::normalized_levenshtein(&source.title.to_lowercase(), &title.to_lowercase());
            assert!(similarity >= 0.9, "{key}: {title:?} for {:?}", source.title);
            // A supporter named in the activity's own text ("Med stöd av KLYS skapa …") is a
            // supporting role of the seeds, so the column names it although the source's does not.
            let supporter_in_text = title.to_lowercase().starts_with("med stöd av")
                && !source.responsible.to_lowercase().contains("med stöd av");
            let responsible = match responsible.split_once(" med stöd av ") {
                Some((leading, _)) if supporter_in_text => leading,
                _ => responsible.as_str(),
            };
            assert!(
                same_words(&source.responsible, responsible),
                "{key} {title}: {responsible:?} for {:?}",
                source.responsible
            );
            assert_eq!(
                source.responsible.to_lowercase().contains("med stöd av"),
                responsible.to_lowercase().contains("med stöd av"),
                "{key} {title}: {responsible:?} for {:?}",
                source.responsible
            );
            assert_eq!(years(&source.starts), years(starts), "{key} {title}");
            assert_eq!(
                source.starts.contains("årligen"),
                starts.contains("årligen"),
                "{key} {title}: {starts:?} for {:?}",
                source.starts
            );
            assert!(
                follow_up.contains(&source.follow_up),
                "{key} {title}: {follow_up:?} for {:?}",
                source.follow_up
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 175, "every activity of the source");

    // One bar per table, counting its rows.
    for (key, rows) in &source {
        let section = sections[key];
        let counted: usize = section
            .select(&select("figure.bar rect[data-count]"))
            .filter_map(|r| r.value().attr("data-count")?.parse::<usize>().ok())
            .sum();
        assert_eq!(counted, rows.len(), "{key}");
    }
}

#[tokio::test]
async fn rows_take_their_status_colour_in_html_and_xlsx() {
    let app = TestApp::spawn_seeded().await;
    let statuses = [
        ("a004", "completed", "Grönt", 0xA9D18E_u32),
        ("a005", "delayed", "Rött", 0xF4A09C),
        ("a006", "ongoing", "Gult", 0xFFE699),
    ];
    for (key, status, _, _) in statuses {
        let activity = seeded_activity(PLAN, key);
        let put = app
            .put(
                &format!("/api/v1/activities/{activity}/follow-ups/2024"),
                &json!({"status": status, "comment": format!("Kommentar {key}")}),
            )
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
    }

    let page = Html::parse_document(
        &app.get(&path(""))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let html_rows: Vec<(String, String, String)> = page
        .select(&Selector::parse("section.goal tbody tr").unwrap())
        .map(|tr| {
            (
                tr.value()
                    .attr("data-activity-id")
                    .unwrap_or_default()
                    .to_owned(),
                tr.value().attr("class").unwrap_or_default().to_owned(),
                text_of(tr),
            )
        })
        .collect();
    for (key, _, label, _) in statuses {
        let id = seeded_activity(PLAN, key);
        let (_, class, text) = html_rows.iter().find(|(a, ..)| *a == id).unwrap();
        let expected = match label {
            "Grönt" => "c-green",
            "Rött" => "c-red",
            _ => "c-yellow",
        };
        assert_eq!(class, expected, "{key}");
        assert!(text.contains(&format!("{label} Kommentar {key}")), "{text}");
    }

    for query in ["&format=xlsx", ""] {
        let mut request = app.get(&path(query));
        if query.is_empty() {
            request = request.header(
                "accept",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            );
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("uppfoljning-2024.xlsx")
        );
        let bytes = response.bytes().await.unwrap().to_vec();
        let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("Uppföljning 2024").unwrap();
        let styles = book.worksheet_style("Uppföljning 2024").unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows[0][2], "Aktivitet");
        assert_eq!(rows[0][6], "Uppföljning jan 2025");
        assert_eq!(rows.len() - 1, html_rows.len(), "the same rows as the HTML");
        let html_titles: Vec<String> = page
            .select(&Selector::parse("section.goal tbody td.activity").unwrap())
            .map(text_of)
            .collect();
        let xlsx_titles: Vec<String> = rows[1..].iter().map(|r| r[2].clone()).collect();
        assert_eq!(xlsx_titles, html_titles);
        for (key, _, label, rgb) in statuses {
            let activity = kulturplan::seed::activity_id(PLAN, key);
            let title: String = app
                .text_of(&format!(
                    "SELECT title AS v FROM activities WHERE id = '{activity}'"
                ))
                .await;
            let at = rows
                .iter()
                .position(|r| r[2] == title)
                .unwrap_or_else(|| panic!("{title} not in the sheet"));
            assert_eq!(rows[at][5], label);
            assert_eq!(rows[at][6], format!("Kommentar {key}"));
            let fill = styles
                .get((at as u32, 5))
                .and_then(|s| s.fill.as_ref())
                .and_then(|f| f.get_color())
                .unwrap_or_else(|| panic!("no fill on {key}"));
            assert_eq!(
                (u32::from(fill.red) << 16) | (u32::from(fill.green) << 8) | u32::from(fill.blue),
                rgb,
                "{key}"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_kept_per_data_version_and_needs_its_plan_and_year() {
    let app = TestApp::spawn_seeded().await;
    let first = app.get(&path("")).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .get(&path(""))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let activity = seeded_activity(PLAN, "a004");
    app.put(
        &format!("/api/v1/activities/{activity}/follow-ups/2024"),
        &json!({"status": "completed"}),
    )
    .send()
    .await
    .unwrap();
    let changed = app
        .get(&path(""))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    let missing = app.get("/api/v1/reports/board-document").send().await;
    assert_eq!(
        fields(&problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["plan_id", "year"]
    );
    let bad_format = app.get(&path("&format=pdf")).send().await;
    problem(bad_format, StatusCode::BAD_REQUEST).await;
}
