//! Blank templates generated from the catalog: the Accounts Worksheet (here) and the Staff
//! User Request Form ([`form`]).
//!
//! The workbook is a self-contained reference for the coordinator who fills it in:
//! `Accounts` (the form, with drop-downs from the catalog), `Instructions`, and the `Roles`,
//! `Libraries` and `Profiles` sheets listing what the drop-downs offer. The layout is the
//! one in [`crate::layout`], shared with the reader and the result workbook
//! (`docs/worksheet.md`).

pub mod form;

use crate::catalog::{Catalog, EntryParameter, EntryScope, ScopeKind};
use crate::layout::{INSTRUCTIONS_SHEET, RequesterField};
use crate::report::accounts::{self, Content};
use crate::report::lists::Lists;
use crate::report::style::Styles;
use crate::report::{ReportError, fit_row, save, text};
use rust_xlsxwriter::{DocProperties, Workbook, Worksheet, XlsxError};
use std::path::Path;

/// Name of the sheet listing the roles.
pub const ROLES_SHEET: &str = "Roles";
/// Name of the sheet listing institutions, libraries, desks and service units.
pub const LIBRARIES_SHEET: &str = "Libraries";
/// Name of the sheet listing the role profiles.
pub const PROFILES_SHEET: &str = "Profiles";
/// Workbook custom property holding the catalog version.
pub const VERSION_PROPERTY: &str = "rolecall_catalog_version";

/// Writes the blank Accounts Worksheet for `catalog` to `path`.
pub fn write_worksheet(catalog: &Catalog, path: &Path) -> Result<(), ReportError> {
    save(&worksheet_bytes(catalog)?, path)
}

/// The blank Accounts Worksheet for `catalog`, as xlsx bytes. With a catalog of one
/// institution ([`Catalog::for_institution`]), its drop-downs list only that institution's
/// libraries, desks and service units, and the requester block names it.
pub fn worksheet_bytes(catalog: &Catalog) -> Result<Vec<u8>, ReportError> {
    let styles = Styles::new();
    let lists = Lists::from_catalog(catalog);
    let mut wb = Workbook::new();
    wb.set_properties(
        &DocProperties::new()
            .set_title("Alma staff accounts request")
            .set_subject("Accounts Worksheet")
            .set_company(catalog.policy.help_desk_name.as_str())
            .set_author("Rolecall")
            .set_custom_property(VERSION_PROPERTY, catalog.version.as_str()),
    );
    // A worksheet made for one institution (`Catalog::for_institution`) has it filled in.
    let mut content = Content::default();
    if let [only] = catalog.institutions.as_slice() {
        content
            .requester
            .insert(RequesterField::Institution, only.code.clone());
    }
    accounts::write(wb.add_worksheet(), catalog, &lists, &styles, &content)?;
    instructions(wb.add_worksheet(), catalog, &styles)?;
    roles(wb.add_worksheet(), catalog, &styles)?;
    libraries(wb.add_worksheet(), catalog, &styles)?;
    profiles(wb.add_worksheet(), catalog, &styles)?;
    lists.write(wb.add_worksheet(), &styles)?;
    Ok(wb.save_to_buffer()?)
}

/// The Instructions sheet's paragraphs that do not depend on the catalog: topic, text.
const GUIDANCE: &[(&str, &str)] = &[
    (
        "Who asks",
        "Fill in the requester block at the top of the Accounts sheet: your name, your \
         email and your institution. Only a registered coordinator of the institution may \
         request changes for it; a request from anyone else is refused as a whole.",
    ),
    (
        "One row per role",
        "Each row gives one role to one person. A person who needs three roles takes three \
         rows with the same Primary ID; the names and email need only be on the first. \
         Roles that share the row's library and desk may go in one Role cell, separated by \
         a semicolon (for example: Cataloger; Selector).",
    ),
    (
        "Role profiles",
        "A role profile grants a common bundle of roles in one row (see the Profiles \
         sheet). Give the library, and the desk or service unit, that the profile needs.",
    ),
    (
        "Add",
        "A new staff account, or the first staff roles for someone who has only a patron \
         account. Give the primary ID, last name, first name, email, account type and the \
         roles.",
    ),
    (
        "Modify",
        "Add roles to, or remove roles from, an existing staff account. Put Add or Remove \
         in the Add or remove column (empty means Add).",
    ),
    (
        "Delete",
        "The person has left the library: every staff role is removed and the patron \
         account stays. The primary ID is enough; leave Role empty.",
    ),
    (
        "Patron",
        "Patron is kept on every account automatically: do not request it or remove it.",
    ),
    (
        "Personal accounts only",
        "No generic or shared accounts (circdesk, frontdesk, student1, ...): every staff \
         member, student workers included, needs an account of their own.",
    ),
    (
        "Approval",
        "Privileged roles (Privileged = yes on the Roles sheet) are granted only after the \
         help desk approves them; such lines come back as Needs approval.",
    ),
    (
        "Library and desk",
        "Library-scoped roles need a Library. Circulation desk roles need a desk, and \
         receiving or work order roles a service unit, of that library (see the Libraries \
         sheet). Codes are shown in the drop-downs; type them as listed.",
    ),
    (
        "External accounts",
        "Accounts loaded from your campus system (External): only roles can be changed \
         here; change names and emails in the campus system.",
    ),
];

/// The paragraphs that name the help desk and the catalog version.
fn sending(catalog: &Catalog) -> [(&'static str, String); 2] {
    let desk = &catalog.policy;
    [
        (
            "Send it",
            format!(
                "Email the filled-in workbook as an attachment to {} <{}>. You get a result \
                 workbook back: every row with its status, and each problem highlighted with a \
                 note on the cell. Fix the highlighted cells and send that workbook back.",
                desk.help_desk_name, desk.help_desk_email
            ),
        ),
        (
            "Catalog version",
            format!(
                "{}. This worksheet was made from that version of the help desk's catalog of \
                 roles, profiles and libraries. Ask for a new blank worksheet when the help desk \
                 announces changes.",
                catalog.version
            ),
        ),
    ]
}

/// The Instructions sheet: how to fill in the form, in the help desk's words.
fn instructions(ws: &mut Worksheet, catalog: &Catalog, styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(INSTRUCTIONS_SHEET)?;
    ws.set_column_width(0, 24)?;
    ws.set_column_width(1, 100)?;
    text(
        ws,
        0,
        0,
        "How to fill in the Alma staff accounts request",
        &styles.title,
    )?;
    ws.set_row_height(0, 22)?;
    let fixed = GUIDANCE
        .iter()
        .map(|&(topic, body)| (topic, body.to_string()));
    let paragraphs: Vec<(&str, String)> = fixed.chain(sending(catalog)).collect();
    for (i, (topic, body)) in paragraphs.iter().enumerate() {
        let row = 2 + i as u32;
        text(ws, row, 0, topic, &styles.label)?;
        text(ws, row, 1, body, &styles.para)?;
        fit_row(ws, row, &[(body, 100.0)])?;
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// Headings in row 1, frozen, with a filter over `rows` rows.
fn table_header(
    ws: &mut Worksheet,
    styles: &Styles,
    headings: &[(&str, u16)],
    rows: u32,
) -> Result<(), XlsxError> {
    for (col, (heading, width)) in headings.iter().enumerate() {
        text(ws, 0, col as u16, heading, &styles.header)?;
        ws.set_column_width(col as u16, *width)?;
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, rows.max(1), headings.len() as u16 - 1)?;
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The Roles sheet: every role with what it needs.
fn roles(ws: &mut Worksheet, catalog: &Catalog, styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(ROLES_SHEET)?;
    table_header(
        ws,
        styles,
        &[
            ("Code", 8),
            ("Role", 40),
            ("Area", 22),
            ("Scope", 22),
            ("Needs", 18),
            ("Privileged", 11),
            ("Named user", 11),
        ],
        catalog.roles.len() as u32,
    )?;
    for (i, role) in catalog.roles.iter().enumerate() {
        let row = 1 + i as u32;
        let scope = match role.scope {
            ScopeKind::Institution => "institution",
            ScopeKind::Library => "library",
            ScopeKind::Either => "institution or library",
        };
        let needs = match role.parameter {
            Some(kind) => kind.describe().to_string(),
            None if role.is_patron() => "kept automatically".into(),
            None => String::new(),
        };
        ws.write_number_with_format(row, 0, role.code, &styles.number)?;
        text(ws, row, 1, &role.name, &styles.para)?;
        text(ws, row, 2, &role.area, &styles.para)?;
        text(ws, row, 3, scope, &styles.para)?;
        text(ws, row, 4, &needs, &styles.para)?;
        text(ws, row, 5, yes_no(role.privileged), &styles.para)?;
        text(ws, row, 6, yes_no(role.named_user), &styles.para)?;
    }
    Ok(())
}

/// The Libraries sheet's headings and column widths.
const LIBRARY_HEADINGS: &[(&str, u16)] = &[
    ("Institution", 18),
    ("Institution name", 30),
    ("Library", 12),
    ("Library name", 30),
    ("Circulation desks", 40),
    ("Service units", 40),
];

/// The Profiles sheet's headings and column widths.
const PROFILE_HEADINGS: &[(&str, u16)] = &[
    ("Profile", 30),
    ("What it is for", 40),
    ("Role code", 10),
    ("Role", 36),
    ("Scope", 22),
    ("Needs", 30),
];

/// The Libraries sheet: one row per library, with its desks and service units.
fn libraries(ws: &mut Worksheet, catalog: &Catalog, styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(LIBRARIES_SHEET)?;
    let count = catalog
        .institutions
        .iter()
        .map(|i| i.libraries.len())
        .sum::<usize>() as u32;
    table_header(ws, styles, LIBRARY_HEADINGS, count)?;
    let units = |us: &[crate::catalog::Unit]| {
        us.iter()
            .map(|u| format!("{} — {}", u.code, u.name))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut row = 0;
    for inst in &catalog.institutions {
        for lib in &inst.libraries {
            row += 1;
            text(ws, row, 0, &inst.code, &styles.para)?;
            text(ws, row, 1, &inst.name, &styles.para)?;
            text(ws, row, 2, &lib.code, &styles.para)?;
            text(ws, row, 3, &lib.name, &styles.para)?;
            let (desks, service_units) = (units(&lib.desks), units(&lib.service_units));
            text(ws, row, 4, &desks, &styles.para)?;
            text(ws, row, 5, &service_units, &styles.para)?;
            fit_row(
                ws,
                row,
                &[
                    (&inst.name, 30.0),
                    (&lib.name, 30.0),
                    (&desks, 40.0),
                    (&service_units, 40.0),
                ],
            )?;
        }
    }
    Ok(())
}

/// The Profiles sheet: one row per role of each profile.
fn profiles(ws: &mut Worksheet, catalog: &Catalog, styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(PROFILES_SHEET)?;
    let count = catalog
        .profiles
        .iter()
        .map(|p| p.entries.len())
        .sum::<usize>() as u32;
    table_header(ws, styles, PROFILE_HEADINGS, count)?;
    let mut row = 0;
    for profile in &catalog.profiles {
        for entry in &profile.entries {
            row += 1;
            let name = catalog
                .role_by_code(entry.role)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let scope = match entry.scope {
                EntryScope::Institution => "institution",
                EntryScope::RequestLibrary => "the row's library",
            };
            let needs = match &entry.parameter {
                EntryParameter::None => String::new(),
                EntryParameter::FromRequest(kind) => format!("the row's {}", kind.describe()),
            };
            text(ws, row, 0, &profile.name, &styles.para)?;
            text(ws, row, 1, &profile.description, &styles.para)?;
            ws.write_number_with_format(row, 2, entry.role, &styles.number)?;
            text(ws, row, 3, &name, &styles.para)?;
            text(ws, row, 4, scope, &styles.para)?;
            text(ws, row, 5, &needs, &styles.para)?;
            fit_row(ws, row, &[(&profile.description, 40.0), (&name, 36.0)])?;
        }
    }
    Ok(())
}
