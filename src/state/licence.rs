//! Licence allotments: named users per institution (holders of an active role the catalog
//! counts: any but Patron), against the catalog's `named_user_allotment`; and the
//! `rolecall audit licence` workbook.

use super::{State, StateError};
use crate::catalog::Catalog;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};
use std::collections::{BTreeMap, HashSet};

/// Role names that never make a named user (PRODUCT.md §3), for roles known only by name.
const NOT_NAMED: [&str; 3] = ["Patron", "Instructor", "Trial Participant"];

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
    let mut named: BTreeMap<String, HashSet<String>> = BTreeMap::new();
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

/// Named users of each of `institutions` (codes), from the state: what [`named_counts`]
/// gives for them, without reading every role of the state.
///
/// The codes that never make a named user are few (Patron and the catalog's roles without
/// `named_user`), so the roles that do are the ranges of codes between them: each range is
/// one scan of the index `state_role_by_code` (migration `state-3`), which reads only the
/// holders of a named role. The IDs are folded with Unicode's `to_lowercase` in Rust, as
/// [`named_counts`] folds them (the columns' `COLLATE NOCASE` folds ASCII only), so two
/// accounts whose IDs differ only in a non-ASCII letter's case count once in both.
pub fn named_counts_of<'i>(
    state: &State,
    catalog: &Catalog,
    institutions: impl IntoIterator<Item = &'i str>,
) -> Result<BTreeMap<String, u32>, StateError> {
    let gaps = named_code_ranges(catalog);
    let mut out = BTreeMap::new();
    for inst in institutions {
        if out.contains_key(inst) {
            continue;
        }
        let mut named: HashSet<String> = HashSet::new();
        let mut roles = state.conn().prepare_cached(
            "SELECT primary_id FROM state_role INDEXED BY state_role_by_code
             WHERE institution = ?1 AND status = 'ACTIVE' AND role_code > ?2 AND role_code < ?3",
        )?;
        for (above, below) in &gaps {
            let ids = roles.query_map(rusqlite::params![inst, above, below], |r| {
                r.get::<_, String>(0)
            })?;
            for id in ids {
                named.insert(id?.to_lowercase());
            }
        }
        // The names the licence never counts are left out in SQL when they are written
        // exactly so (any ASCII case); `named_name` decides the rest, as `named_counts` does.
        let mut unmatched = state.conn().prepare_cached(
            "SELECT primary_id, role_name FROM state_role_unmatched
             WHERE institution = ?1 AND status = 'ACTIVE'
               AND role_name COLLATE NOCASE NOT IN (?2, ?3, ?4)",
        )?;
        let [a, b, c] = NOT_NAMED;
        let rows = unmatched.query_map(rusqlite::params![inst, a, b, c], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (id, name) = row?;
            if named_name(&name) {
                named.insert(id.to_lowercase());
            }
        }
        out.insert(inst.to_string(), named.len() as u32);
    }
    Ok(out)
}

/// The role codes that make a named user, as open ranges `(above, below)`: every code
/// between two that do not ([`super::named_code`]: Patron, unless the catalog counts it,
/// and the catalog's roles without `named_user`). Codes are `u32`, so the first range
/// starts above -1 and the last ends below 2^32.
fn named_code_ranges(catalog: &Catalog) -> Vec<(i64, i64)> {
    let mut not_named: Vec<i64> = catalog
        .roles
        .iter()
        .map(|r| r.code)
        .chain([crate::catalog::PATRON_CODE])
        .filter(|code| !super::named_code(catalog, *code))
        .map(i64::from)
        .collect();
    not_named.sort_unstable();
    not_named.dedup();
    let bounds: Vec<i64> = std::iter::once(-1)
        .chain(not_named)
        .chain([i64::from(u32::MAX) + 1])
        .collect();
    bounds
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(above, below)| below - above > 1)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{
        Account, Assignment, ParameterKnowledge, UnmatchedRole, put_account, put_role,
        put_unmatched,
    };
    use crate::validate::{AccountType, Scope};

    fn account(state: &State, inst: &str, id: &str) {
        let a = Account {
            institution: inst.into(),
            primary_id: id.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            email: String::new(),
            account_type: AccountType::Internal,
            status: "ACTIVE".into(),
        };
        put_account(state.conn(), &a, "test").unwrap();
    }

    fn role(state: &State, inst: &str, id: &str, code: u32, active: bool) {
        let a = Assignment {
            code,
            scope: Scope::Institution(inst.into()),
            parameters: Vec::new(),
            parameters_known: ParameterKnowledge::Known,
            active,
            expiry: None,
            suspended_by: None,
        };
        put_role(state.conn(), inst, id, &a).unwrap();
    }

    fn by_name(state: &State, inst: &str, id: &str, name: &str, active: bool) {
        let u = UnmatchedRole {
            name: name.into(),
            scope: inst.into(),
            active,
            expiry: None,
        };
        put_unmatched(state.conn(), inst, id, &u).unwrap();
    }

    /// Institution A, worked out by hand: "ÉMILE" and "émile" are two accounts to SQLite
    /// (NOCASE folds ASCII only) but one named user (Unicode lower case), 1; Hal holds a
    /// named role and, written "HAL", a role known only by name, 1; a code the catalog does
    /// not know counts, 1; a role known by name counts unless the licence never counts it
    /// (" patron ", "INSTRUCTOR"), 1. Not counted: inactive roles, Patron, and Cataloger
    /// (204) once the catalog says it makes no named user. Institution B: 2.
    fn state() -> State {
        let state = State::in_memory().unwrap();
        let s = &state;
        for id in [
            "ÉMILE", "émile", "Hal", "ann", "bob", "cy", "dee", "eve", "fay", "gus",
        ] {
            account(s, "A", id);
        }
        role(s, "A", "ÉMILE", 32, true);
        role(s, "A", "émile", 52, true);
        role(s, "A", "émile", 200, true);
        role(s, "A", "Hal", 32, true);
        by_name(s, "A", "HAL", "Designs Analytics", true);
        role(s, "A", "ann", 32, false);
        role(s, "A", "ann", 200, true);
        role(s, "A", "bob", 200, true);
        role(s, "A", "cy", 4_000_000_000, true);
        by_name(s, "A", "dee", "Designs Analytics", true);
        by_name(s, "A", "eve", " patron ", true);
        by_name(s, "A", "eve", "INSTRUCTOR", true);
        by_name(s, "A", "fay", "Designs Analytics", false);
        role(s, "A", "gus", 204, true);
        for id in ["x1", "X2"] {
            account(s, "B", id);
            role(s, "B", id, 32, true);
        }
        state
    }

    fn catalog() -> Catalog {
        let mut catalog = crate::catalog::bundled();
        let cataloger = catalog.roles.iter_mut().find(|r| r.code == 204).unwrap();
        cataloger.named_user = false;
        catalog
    }

    #[test]
    fn the_count_of_the_touched_institutions_is_the_count_of_the_whole_state() {
        let (state, catalog) = (state(), catalog());
        let whole = named_counts(&state, &catalog).unwrap();
        let by_hand = BTreeMap::from([("A".to_string(), 4), ("B".to_string(), 2)]);
        assert_eq!(whole, by_hand);
        let touched = named_counts_of(&state, &catalog, ["A", "B", "A"]).unwrap();
        assert_eq!(touched, by_hand);
        let one = named_counts_of(&state, &catalog, ["B"]).unwrap();
        assert_eq!(one, BTreeMap::from([("B".to_string(), 2)]));
        let none = named_counts_of(&state, &catalog, ["C"]).unwrap();
        assert_eq!(none, BTreeMap::from([("C".to_string(), 0)]));
    }

    #[test]
    fn patron_counts_when_the_catalog_says_so_and_the_ranges_skip_only_what_does_not() {
        let mut catalog = catalog();
        assert_eq!(
            named_code_ranges(&catalog),
            [(-1, 200), (200, 204), (204, 1 << 32)]
        );
        let patron = catalog.roles.iter_mut().find(|r| r.code == 200).unwrap();
        patron.named_user = true;
        assert_eq!(named_code_ranges(&catalog), [(-1, 204), (204, 1 << 32)]);
        // Now ann and bob (Patron only) count too, and émile already did: A has 6.
        let counts = named_counts_of(&state(), &catalog, ["A"]).unwrap();
        assert_eq!(counts["A"], 6);
        assert_eq!(named_counts(&state(), &catalog).unwrap()["A"], 6);
    }
}
