//! The `Problems` sheet: one row per finding, submission-level first, each with the place in
//! the file as it was received.

use super::style::Styles;
use super::{fit_row, plain, text};
use crate::catalog::Catalog;
use crate::validate::Outcome;
use rust_xlsxwriter::{Worksheet, XlsxError};

/// Name of the sheet.
pub const PROBLEMS_SHEET: &str = "Problems";
/// Column headings.
pub const HEADERS: [&str; 5] = ["Severity", "Rule", "Location", "Message", "Suggestion"];

/// Writes the sheet.
pub fn write(
    ws: &mut Worksheet,
    outcome: &Outcome,
    catalog: &Catalog,
    styles: &Styles,
) -> Result<(), XlsxError> {
    ws.set_name(PROBLEMS_SHEET)?;
    // The location's text is the stable reference (`form field person.first_name`); the
    // form's own label follows it on a second line. Wide enough for both, and wrapped.
    for (col, (heading, width)) in HEADERS.iter().zip([10, 26, 34, 60, 40]).enumerate() {
        plain(ws, 0, col as u16, heading)?;
        ws.set_column_width(col as u16, width)?;
    }
    // One format for the headings, once the row is started.
    ws.set_range_format(0, 0, 0, HEADERS.len() as u16 - 1, &styles.header)?;
    let mut row = 0;
    for finding in outcome.all_findings() {
        row += 1;
        // Values first, then one format per run of cells: a format is hashed on every call
        // that names one. The severity is never empty, so the row is started (a streamed
        // sheet formats only its current row).
        plain(ws, row, 0, &finding.severity.to_string())?;
        plain(ws, row, 1, finding.rule.code())?;
        let at = finding.location.to_string();
        let place = crate::layout::form::place(&finding.location, catalog);
        let location = match place == at {
            true => at,
            false => format!("{at}\n{place}"),
        };
        plain(ws, row, 2, &location)?;
        plain(ws, row, 3, &finding.message)?;
        let suggestion = finding.suggestion.as_deref().unwrap_or_default();
        plain(ws, row, 4, suggestion)?;
        ws.set_range_format(row, 0, row, 0, styles.field(false, Some(finding.severity)))?;
        ws.set_range_format(row, 1, row, 1, &styles.text)?;
        ws.set_range_format(row, 2, row, 4, &styles.wrap)?;
        fit_row(
            ws,
            row,
            &[
                (&location, 34.0),
                (&finding.message, 60.0),
                (suggestion, 40.0),
            ],
        )?;
    }
    if row == 0 {
        row = 1;
        text(ws, row, 3, "No problems found.", &styles.wrap)?;
    }
    super::print_as_list(ws, 0)?;
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, row, HEADERS.len() as u16 - 1)?;
    Ok(())
}
