//! The board's document as one self-contained HTML page in Swedish: no scripts, no external
//! assets, laid out for A4 print (page breaks before each top-level goal, table headers
//! repeated on every page, rows never split).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{BoardDocument, Colour, Counts, LEGEND, Row, Section};
use crate::domain::GoalKind;

/// Print and screen styles. The fills print as they show (`print-color-adjust`).
const STYLE: &str = r#"
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
:root { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
body { margin: 0 auto; max-width: 182mm; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; }
h3 { font-size: 11pt; margin: 5mm 0 1.5mm; }
h1, h2, h3, .bar { break-after: avoid; page-break-after: avoid; }
.meta { margin: 0 0 5mm; color: #333; }
.meta dt { float: left; clear: left; width: 52mm; font-weight: bold; }
.meta dd { margin: 0 0 1mm 54mm; }
.legend ul { list-style: none; padding: 0; margin: 0; }
.legend li { margin: 1mm 0; display: flex; gap: 2mm; align-items: baseline; }
.swatch { display: inline-block; min-width: 14mm; padding: 0.5mm 1.5mm; border: 0.3mm solid #777; font-weight: bold; }
.prioritering { margin: 0 0 2mm; }
.found-under { font-style: italic; }
section.objective, section.theme { break-before: page; page-break-before: always; }
section.goal.first { break-before: auto; page-break-before: auto; }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 3mm; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.3mm solid #777; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.starts { white-space: nowrap; }
col.activity { width: 40%; } col.responsible { width: 24%; } col.starts { width: 13%; } col.follow-up { width: 23%; }
.status { font-weight: bold; margin-right: 1mm; }
.derived { font-weight: normal; font-style: italic; }
.bar { display: flex; align-items: center; gap: 2mm; margin: 0 0 1mm; }
.bar figcaption { font-size: 8.5pt; color: #333; }
footer { margin-top: 8mm; font-size: 8.5pt; color: #555; }
"#;

fn hex(colour: Colour) -> String {
    format!("#{:06X}", colour.rgb())
}

/// The fill rules of the colour classes, generated from the one definition of the colours.
fn colour_style() -> String {
    Colour::ALL
        .iter()
        .map(|c| {
            format!(
                ".c-{class} {{ background: {fill}; }}\n",
                class = c.css_class(),
                fill = hex(*c)
            )
        })
        .collect()
}

/// A stacked bar of the counts with their numbers, as inline SVG.
fn bar(counts: &Counts) -> Markup {
    const WIDTH: f64 = 240.0;
    const HEIGHT: f64 = 12.0;
    let total = counts.total();
    let description = Colour::ALL
        .iter()
        .filter(|c| counts.of(**c) > 0)
        .map(|c| format!("{} {}", c.label(), counts.of(*c)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut x = 0.0;
    let parts: Vec<(Colour, f64, f64, usize)> = Colour::ALL
        .iter()
        .filter(|c| counts.of(**c) > 0)
        .map(|c| {
            let n = counts.of(*c);
            let w = WIDTH * n as f64 / total.max(1) as f64;
            let part = (*c, x, w, n);
            x += w;
            part
        })
        .collect();
    html! {
        figure.bar {
            svg xmlns="http://www.w3.org/2000/svg" width=(WIDTH) height=(HEIGHT)
                viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
                aria-label=(format!("Antal aktiviteter per färg: {description}")) {
                title { "Antal aktiviteter per färg: " (description) }
                @if total == 0 {
                    rect x="0" y="0" width=(WIDTH) height=(HEIGHT) fill="none" stroke="#999" stroke-width="0.5" {}
                }
                @for (colour, x, w, n) in &parts {
                    rect class=(format!("seg-{}", colour.css_class())) x=(format!("{x:.2}")) y="0"
                        width=(format!("{w:.2}")) height=(HEIGHT) fill=(hex(*colour))
                        stroke="#555" stroke-width="0.5" data-count=(n) {}
                }
            }
            figcaption {
                @if total == 0 { "Inga aktiviteter" } @else { (description) }
            }
        }
    }
}

fn follow_up_cell(row: &Row) -> Markup {
    html! {
        td.follow-up {
            @match row.colour {
                Colour::NotReported => span.status { "Ej rapporterad" },
                Colour::None => {},
                colour if row.derived => span.status.derived { (colour.label()) " (enligt startår)" },
                colour => span.status { (colour.label()) },
            }
            @if let Some(comment) = &row.comment {
                span.comment { (comment) }
            }
        }
    }
}

fn table(rows: &[Row], year: i32) -> Markup {
    html! {
        table.activities {
            colgroup { col.activity; col.responsible; col.starts; col.follow-up; }
            thead {
                tr {
                    th scope="col" { "Aktivitet" }
                    th scope="col" { "Ansvar för handläggning" }
                    th scope="col" { "Påbörjas" }
                    th scope="col" { "Uppföljning jan " (year + 1) }
                }
            }
            tbody {
                @for row in rows {
                    tr class=(format!("c-{}", row.colour.css_class()))
                        data-activity-id=(row.activity_id) {
                        td.activity { (row.title) }
                        td.responsible { (row.responsible) }
                        td.starts { (row.starts) }
                        (follow_up_cell(row))
                    }
                }
            }
        }
    }
}

fn heading(section: &Section) -> String {
    let code = section
        .code
        .as_deref()
        .map(|c| format!("{c} "))
        .unwrap_or_default();
    match section.kind {
        GoalKind::Objective => format!("{code}Mål: {}", section.title),
        _ => format!("{code}{}", section.title),
    }
}

fn section(section: &Section, first: bool, year: i32) -> Markup {
    let class = match section.kind {
        GoalKind::Objective => "objective",
        GoalKind::Priority => "priority",
        GoalKind::Theme => "theme",
        GoalKind::StrategicDirection => "strategic-direction",
    };
    let label = match section.kind {
        GoalKind::Priority => Some("Prioritering:"),
        GoalKind::StrategicDirection => Some("Strategisk inriktning för samverkan:"),
        GoalKind::Objective | GoalKind::Theme => None,
    };
    html! {
        section class=(format!("goal {class}{}", if first { " first" } else { "" }))
            data-goal-code=[section.code.as_deref()] {
            @if section.depth == 0 {
                h2 { (heading(section)) }
            } @else {
                h3 { (heading(section)) }
            }
            @if let (Some(label), Some(text)) = (label, &section.description) {
                p.prioritering { strong { (label) } " " (text) }
            }
            @if !section.found_under.is_empty() {
                p.found-under { "Aktiviteter finns under " (section.found_under.join(", ")) "." }
            }
            @if !section.rows.is_empty() {
                (bar(&section.counts))
                (table(&section.rows, year))
            }
        }
    }
}

/// The document's bytes.
pub fn render(doc: &BoardDocument) -> String {
    let title = format!("Uppföljning {} – {}", doc.year, doc.plan.title);
    let produced = doc.produced_at.format("%Y-%m-%d").to_string();
    let markup = html! {
        (DOCTYPE)
        html lang="sv" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content="kulturplan";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(colour_style())) }
            }
            body {
                header {
                    h1 { "Uppföljning av " (doc.plan.title) }
                    p { "År " (doc.year) }
                    dl.meta {
                        dt { "Plan" } dd { (doc.plan.title) }
                        dt { "Diarienummer" } dd.reference { (doc.plan.reference.as_deref().unwrap_or("–")) }
                        dt { "Granskade uppföljningar" }
                        dd.reviewed { (doc.approved) " godkända av " (doc.reported) " rapporterade" }
                        dt { "Framtagen" } dd.produced { time datetime=(doc.produced_at.to_rfc3339()) { (produced) } }
                    }
                }
                section.legend {
                    h2 { "Om uppföljningen" }
                    p { "Genomförandeplanen följs upp en gång per år. Aktiviteterna bedöms enligt nedan:" }
                    ul {
                        @for (colour, text) in LEGEND {
                            li {
                                span class=(format!("swatch c-{}", colour.css_class())) { (colour.label()) ":" }
                                span { (text) }
                            }
                        }
                    }
                }
                section.overview {
                    h2 { "Sammanfattning" }
                    p { (doc.counts.total()) " aktiviteter." }
                    (bar(&doc.counts))
                }
                @for (i, s) in doc.sections.iter().enumerate() {
                    (section(s, i == 0, doc.year))
                }
                @if !doc.carried_on.is_empty() {
                    section.goal.carried-on {
                        h2 { "Aktiviteter som förs vidare från tidigare planer" }
                        (table(&doc.carried_on, doc.year))
                    }
                }
                footer {
                    "Framtagen ur kulturplanens data " (produced) "."
                }
            }
        }
    };
    markup.into_string()
}
