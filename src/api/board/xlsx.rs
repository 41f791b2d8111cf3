//! The board's document as an `.xlsx` workbook: one sheet of every activity under its goal with
//! the status cell filled in its colour (frozen header, autofilter, readable widths), and one
//! sheet with the legend and the plan's particulars.

use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, XlsxError};

use super::{BoardDocument, Colour, LEGEND};
use crate::error::{ApiError, ApiResult};

fn fill(colour: Colour) -> Format {
    Format::new()
        .set_background_color(Color::RGB(colour.rgb()))
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
}

fn write(doc: &BoardDocument) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xF0F0F0))
        .set_border(FormatBorder::Thin);
    let wrap = Format::new().set_text_wrap().set_border(FormatBorder::Thin);

    let sheet = workbook.add_worksheet();
    sheet.set_name(format!("Uppföljning {}", doc.year))?;
    let headers = [
        ("Mål", 8.0),
        ("Mål eller prioritering", 34.0),
        ("Aktivitet", 60.0),
        ("Ansvar för handläggning", 32.0),
        ("Påbörjas", 22.0),
        ("Färg", 14.0),
        (&*format!("Uppföljning jan {}", doc.year + 1), 40.0),
    ];
    for (col, (title, width)) in headers.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *title, &header)?;
        sheet.set_column_width(col, *width)?;
    }
    let mut row: u32 = 0;
    let sections = doc
        .sections
        .iter()
        .map(|s| (s.code.as_deref().unwrap_or(""), s.title.as_str(), &s.rows));
    let carried = std::iter::once(("", "Förs vidare från tidigare planer", &doc.carried_on));
    for (code, goal, rows) in sections.chain(carried) {
        for r in rows {
            row += 1;
            let status = fill(r.colour);
            sheet.write_string_with_format(row, 0, code, &wrap)?;
            sheet.write_string_with_format(row, 1, goal, &wrap)?;
            sheet.write_string_with_format(row, 2, &r.title, &wrap)?;
            sheet.write_string_with_format(row, 3, &r.responsible, &wrap)?;
            sheet.write_string_with_format(row, 4, &r.starts, &wrap)?;
            let label = match r.colour {
                Colour::None => "",
                colour => colour.label(),
            };
            sheet.write_string_with_format(row, 5, label, &status)?;
            sheet.write_string_with_format(row, 6, r.comment.as_deref().unwrap_or(""), &status)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, row.max(1), 6)?;

    let about = workbook.add_worksheet();
    about.set_name("Förklaring")?;
    about.set_column_width(0, 22.0)?;
    about.set_column_width(1, 90.0)?;
    let bold = Format::new().set_bold();
    about.write_string_with_format(0, 0, "Plan", &bold)?;
    about.write_string(0, 1, &doc.plan.title)?;
    about.write_string_with_format(1, 0, "Diarienummer", &bold)?;
    about.write_string(1, 1, doc.plan.reference.as_deref().unwrap_or("–"))?;
    about.write_string_with_format(2, 0, "År", &bold)?;
    about.write_number(2, 1, f64::from(doc.year))?;
    about.write_string_with_format(3, 0, "Framtagen", &bold)?;
    about.write_string(3, 1, doc.produced_at.format("%Y-%m-%d").to_string())?;
    about.write_string_with_format(5, 0, "Om uppföljningen", &bold)?;
    for (i, (colour, text)) in LEGEND.iter().enumerate() {
        let r = 6 + i as u32;
        about.write_string_with_format(r, 0, colour.label(), &fill(*colour))?;
        about.write_string_with_format(r, 1, *text, &Format::new().set_text_wrap())?;
    }
    workbook.save_to_buffer()
}

/// The workbook's bytes.
pub fn render(doc: &BoardDocument) -> ApiResult<Vec<u8>> {
    write(doc).map_err(ApiError::internal)
}
