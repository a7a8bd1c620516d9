//! Licence allotments: named users per institution (holders of an active role the catalog
//! counts: any but Patron), against the catalog's `named_user_allotment`; and the
//! `rolecall audit licence` workbook.

use super::{State, StateError};
use crate::catalog::Catalog;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};
use std::collections::BTreeMap;

/// Role names that never make a named user (PRODUCT.md §3), for roles known only by name.
const NOT_NAMED: &[&str] = &["Patron", "Instructor", "Trial Participant"];

fn named_name(name: &str) -> bool {
    !NOT_NAMED
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name.trim()))
}

/// True when a role known only by name makes a named user: active, and not one of the
/// roles the licence never counts.
pub(crate) fn unmatched_is_named(u: &super::UnmatchedRole) -> bool {
    u.active && named_name(&u.name)
}

/// Named users per institution code, from the state.
pub fn named_counts(state: &State, catalog: &Catalog) -> Result<BTreeMap<String, u32>, StateError> {
    let mut stmt = state.conn().prepare(
        "SELECT institution, primary_id, role_code FROM state_role WHERE status = 'ACTIVE'",
    )?;
    let mut named: BTreeMap<String, std::collections::HashSet<String>> = BTreeMap::new();
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u32>(2)?,
        ))
    })?;
    for row in rows {
        let (inst, id, code) = row?;
        if super::named_code(catalog, code) {
            named.entry(inst).or_default().insert(id.to_lowercase());
        }
    }
    // Roles the catalog does not know by name count, to be safe, unless they are ones the
    // licence never counts (PRODUCT.md: Patron, Instructor, Trial Participant).
    let mut stmt = state.conn().prepare(
        "SELECT institution, primary_id, role_name FROM state_role_unmatched WHERE status = 'ACTIVE'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (inst, id, name) = row?;
        if named_name(&name) {
            named.entry(inst).or_default().insert(id.to_lowercase());
        }
    }
    Ok(named
        .into_iter()
        .map(|(k, v)| (k, v.len() as u32))
        .collect())
}

/// One institution's licence use.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LicenceUse {
    /// Institution code.
    pub institution: String,
    /// Institution name.
    pub name: String,
    /// Named users now.
    pub named_users: u32,
    /// The catalog's allotment.
    pub allotment: u32,
}

impl LicenceUse {
    /// Allotment minus named users (negative when over).
    pub fn headroom(&self) -> i64 {
        i64::from(self.allotment) - i64::from(self.named_users)
    }
}

/// Licence use of every catalog institution, in catalog order.
pub fn licence_use(state: &State, catalog: &Catalog) -> Result<Vec<LicenceUse>, StateError> {
    let counts = named_counts(state, catalog)?;
    Ok(catalog
        .institutions
        .iter()
        .map(|i| LicenceUse {
            institution: i.code.clone(),
            name: i.name.clone(),
            named_users: counts.get(&i.code).copied().unwrap_or(0),
            allotment: i.named_user_allotment,
        })
        .collect())
}

/// Name of the workbook's sheet.
pub const SHEET: &str = "Licence use";

/// The `audit licence` workbook: per institution the count, the allotment, the headroom;
/// then the consortium total.
pub fn workbook(uses: &[LicenceUse], as_of: &str) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET)?;
    let bold = Format::new().set_bold();
    let header = Format::new()
        .set_bold()
        .set_background_color("#DDEBF7")
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let over = Format::new()
        .set_font_color("#9C0006")
        .set_background_color("#FFC7CE");
    ws.write_string_with_format(0, 0, format!("Named-user licence use, {as_of}"), &bold)?;
    ws.write_string(
        1,
        0,
        "Named users hold an active role other than Patron (the catalog's named_user flag).",
    )?;
    let headings = [
        ("Institution", 16.0),
        ("Name", 34.0),
        ("Named users", 12.0),
        ("Allotment", 12.0),
        ("Headroom", 12.0),
    ];
    for (c, (h, w)) in headings.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, *h, &header)?;
        ws.set_column_width(c as u16, *w)?;
    }
    let mut row = 3;
    for u in uses {
        row += 1;
        ws.write_string(row, 0, &u.institution)?;
        ws.write_string(row, 1, &u.name)?;
        ws.write_number(row, 2, f64::from(u.named_users))?;
        ws.write_number(row, 3, f64::from(u.allotment))?;
        if u.headroom() < 0 {
            ws.write_number_with_format(row, 4, u.headroom() as f64, &over)?;
        } else {
            ws.write_number(row, 4, u.headroom() as f64)?;
        }
    }
    row += 1;
    let named: u32 = uses.iter().map(|u| u.named_users).sum();
    let allot: u32 = uses.iter().map(|u| u.allotment).sum();
    ws.write_string_with_format(row, 0, "Consortium total", &bold)?;
    ws.write_number_with_format(row, 2, f64::from(named), &bold)?;
    ws.write_number_with_format(row, 3, f64::from(allot), &bold)?;
    ws.write_number_with_format(row, 4, i64::from(allot) as f64 - f64::from(named), &bold)?;
    ws.set_freeze_panes(4, 0)?;
    wb.save_to_buffer()
}
