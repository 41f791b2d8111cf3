//! CSV representations of lists and reports: RFC 4180 by default, or with `excel=true` the dialect
//! a Swedish Excel opens correctly (UTF-8 byte-order mark, `;` between fields, CRLF line ends).

use std::borrow::Cow;
use std::fmt::Display;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Excel reads a file without it as the local 8-bit code page, which mangles å, ä and ö.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The `format` query parameter: overrides the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
}

/// The representation a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    Csv { excel: bool },
}

impl Representation {
    /// `format=csv` or `format=json` decides; without it, CSV when the `Accept` header ranks
    /// `text/csv` before JSON. `excel=true` asks for CSV in Excel's dialect.
    pub fn negotiate(
        req: &HttpRequest,
        format: Option<Format>,
        excel: Option<bool>,
    ) -> ApiResult<Self> {
        let excel = excel.unwrap_or(false);
        let csv = match format {
            Some(Format::Csv) => true,
            Some(Format::Json) if excel => {
                return Err(ApiError::field("excel", "applies only to CSV"));
            }
            Some(Format::Json) => false,
            None => excel || accepts_csv(req),
        };
        Ok(if csv {
            Representation::Csv { excel }
        } else {
            Representation::Json
        })
    }

    pub fn is_csv(self) -> bool {
        matches!(self, Representation::Csv { .. })
    }
}

fn accepts_csv(req: &HttpRequest) -> bool {
    use actix_web::HttpMessage as _;
    let Some(accept) = req.get_header::<header::Accept>() else {
        return false;
    };
    for mime in accept.ranked() {
        match mime.essence_str() {
            "text/csv" => return true,
            "application/json" | "application/*" | "*/*" => return false,
            _ => {}
        }
    }
    false
}

/// A type that has a flat, one-line CSV form.
pub trait CsvRecord {
    fn headers() -> &'static [&'static str];
    fn record(&self) -> Vec<String>;
}

/// Rows of text under a header line, with the file name a download gets.
#[derive(Debug, Clone)]
pub struct Table {
    pub filename: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(filename: impl Into<String>, headers: &[&str]) -> Self {
        Table {
            filename: filename.into(),
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn of<T: CsvRecord>(filename: impl Into<String>, items: &[T]) -> Self {
        let mut table = Table::new(filename, T::headers());
        table.rows = items.iter().map(CsvRecord::record).collect();
        table
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The file's bytes: RFC 4180 (`,`, CRLF), or Excel's dialect (BOM, `;`, CRLF).
    pub fn render(&self, excel: bool) -> ApiResult<Vec<u8>> {
        let mut out = Vec::new();
        if excel {
            out.extend_from_slice(BOM);
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(if excel { b';' } else { b',' })
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        writer
            .write_record(&self.headers)
            .map_err(ApiError::internal)?;
        for row in &self.rows {
            if excel {
                writer
                    .write_record(row.iter().map(|c| excel_cell(c).into_owned()))
                    .map_err(ApiError::internal)?;
            } else {
                writer.write_record(row).map_err(ApiError::internal)?;
            }
        }
        writer.into_inner().map_err(ApiError::internal)
    }
}

/// Excel runs a cell that starts like a formula; text from the database must stay text there.
fn excel_cell(cell: &str) -> Cow<'_, str> {
    let formula_like = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula_like && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as written by `excel_cell`, read back: the `'` that kept a formula-like text from
/// running is taken off again, so a sheet posted back unchanged means what it meant.
pub fn from_excel_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if excel_cell(rest) != rest => rest,
        _ => cell,
    }
}

/// A cell for an optional value: empty when absent.
pub fn opt<T: Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Several values in one cell, separated by `; `.
pub fn list<T: Display>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A response body in the representation asked for, ready to be sent (or kept and sent again).
#[derive(Debug, Clone)]
pub struct Rendered {
    pub content_type: &'static str,
    /// `Content-Disposition` of a CSV download.
    pub disposition: Option<String>,
    pub body: actix_web::web::Bytes,
}

impl Rendered {
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The response: `builder`'s status and headers with this body.
    pub fn respond(&self, mut builder: HttpResponseBuilder) -> HttpResponse {
        builder.insert_header((header::CONTENT_TYPE, self.content_type));
        if let Some(disposition) = &self.disposition {
            builder.insert_header((header::CONTENT_DISPOSITION, disposition.clone()));
        }
        builder.body(self.body.clone())
    }
}

/// `body` as JSON, or `table()` as CSV when that was asked for.
pub fn render<T: Serialize>(
    representation: Representation,
    body: &T,
    table: impl FnOnce() -> Table,
) -> ApiResult<Rendered> {
    Ok(match representation {
        Representation::Json => Rendered {
            content_type: "application/json",
            disposition: None,
            body: serde_json::to_vec(body).map_err(ApiError::internal)?.into(),
        },
        Representation::Csv { excel } => {
            let table = table();
            Rendered {
                content_type: CONTENT_TYPE,
                disposition: Some(format!("attachment; filename=\"{}\"", table.filename)),
                body: table.render(excel)?.into(),
            }
        }
    })
}

/// Answers `body` as JSON, or `table()` as CSV when that was asked for. `next` is the cursor
/// parameter and value of the next page, for CSV's `Link` header.
pub fn reply<T: Serialize>(
    representation: Representation,
    mut builder: HttpResponseBuilder,
    req: &HttpRequest,
    body: &T,
    table: impl FnOnce() -> Table,
    next: Option<(&str, &str)>,
) -> ApiResult<HttpResponse> {
    if let Some(link) = next_link(representation, req, next) {
        builder.insert_header((header::LINK, link));
    }
    Ok(render(representation, body, table)?.respond(builder))
}

/// The `Link` to the next page of a CSV download (JSON carries `next_cursor` in its body).
pub fn next_link(
    representation: Representation,
    req: &HttpRequest,
    next: Option<(&str, &str)>,
) -> Option<String> {
    match (representation, next) {
        (Representation::Csv { .. }, Some((param, cursor))) => {
            Some(format!("<{}>; rel=\"next\"", next_page(req, param, cursor)))
        }
        _ => None,
    }
}

/// This request's path and query with the cursor parameter set to `cursor` (cursors are
/// URL-safe base64, so they need no escaping).
fn next_page(req: &HttpRequest, param: &str, cursor: &str) -> String {
    let prefix = format!("{param}=");
    let replaced = format!("{param}={cursor}");
    let mut query: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with(&prefix) && *p != param)
        .collect();
    query.push(&replaced);
    format!("{}?{}", req.path(), query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_dialect_has_bom_semicolons_crlf_and_keeps_formulas_as_text()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut table = Table::new("t.csv", &["namn", "antal"]);
        table.push(vec!["Örebro; Kumla".into(), "3".into()]);
        table.push(vec!["=SUM(A1)".into(), "-2".into()]);
        let bytes = table.render(true)?;
        assert!(bytes.starts_with(BOM));
        let text = std::str::from_utf8(&bytes[3..])?;
        assert_eq!(
            text,
            "namn;antal\r\n\"Örebro; Kumla\";3\r\n'=SUM(A1);-2\r\n"
        );
        let plain = String::from_utf8(table.render(false)?)?;
        assert_eq!(plain, "namn,antal\r\nÖrebro; Kumla,3\r\n=SUM(A1),-2\r\n");
        Ok(())
    }
}
