//! The `Roles` sheet: per person in the change set, the roles held before and after it,
//! when the submission was diffed against the account state. Written only then.

use super::style::Styles;
use super::{fit_row, plain, text};
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

/// Name of the sheet.
pub const ROLES_SHEET: &str = "Roles";

/// One person's roles before and after a change set, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRoles {
    /// Institution code.
    pub institution: String,
    /// Primary ID.
    pub primary_id: String,
    /// Name as the state (or the request) has it.
    pub name: String,
    /// Roles held now, one per entry ("Cataloger (204)", ...).
    pub before: Vec<String>,
    /// Roles held once the change set is carried out.
    pub after: Vec<String>,
}

const HEADERS: [(&str, f64); 5] = [
    ("Institution", 16.0),
    ("Primary ID", 16.0),
    ("Name", 24.0),
    ("Roles before", 55.0),
    ("Roles after", 55.0),
];

/// Every format the sheet names, in the order it first names them (see
/// `Workbook::register_format` in `report::Book::write`).
pub fn formats(styles: &Styles) -> [&Format; 3] {
    [&styles.subtitle, &styles.header, &styles.wrap]
}

/// Writes the sheet.
pub fn write(ws: &mut Worksheet, people: &[PersonRoles], styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(ROLES_SHEET)?;
    text(
        ws,
        0,
        0,
        "Each person's roles in Alma now (from the account state) and after this change set.",
        &styles.subtitle,
    )?;
    for (c, (h, w)) in HEADERS.iter().enumerate() {
        plain(ws, 2, c as u16, h)?;
        ws.set_column_width(c as u16, *w)?;
    }
    // One format for the headings, once the row is started.
    ws.set_range_format(2, 0, 2, HEADERS.len() as u16 - 1, &styles.header)?;
    let mut row = 2;
    for p in people {
        row += 1;
        let before = p.before.join("\n");
        let after = p.after.join("\n");
        let cells = [&p.institution, &p.primary_id, &p.name, &before, &after];
        // The cells unformatted, then the row's one format over them: rust_xlsxwriter
        // hashes a cell's format to find its index, once per cell otherwise. An empty text
        // is a formatted blank either way; a row with no text is started with one, since a
        // range on a row not started would be dropped in constant-memory mode.
        let mut started = false;
        for (c, v) in cells.iter().enumerate() {
            started |= plain(ws, row, c as u16, v)?;
        }
        if !started {
            ws.write_blank(row, 0, &styles.wrap)?;
        }
        ws.set_range_format(row, 0, row, HEADERS.len() as u16 - 1, &styles.wrap)?;
        fit_row(ws, row, &[(&before, 55.0), (&after, 55.0)])?;
    }
    ws.set_freeze_panes(3, 0)?;
    Ok(())
}
