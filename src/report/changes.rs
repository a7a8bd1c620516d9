//! The `Change set` sheet: the change set's operations as rows, for people who do not read
//! JSON. The JSON file stays the reference; this sheet is a view of it.

use super::style::Styles;
use super::{owned, plain, row_lines, text};
use crate::changeset::{ChangeSet, Operation, RoleGrant, RoleRef};
use crate::validate::{AccountType, Parameter, Scope};
use rust_xlsxwriter::{Format, Note, Worksheet, XlsxError};

/// Name of the sheet.
pub const CHANGES_SHEET: &str = "Change set";
/// Column headings, with widths.
pub const HEADERS: [(&str, u16); 11] = [
    ("Operation", 20),
    ("Institution", 18),
    ("Primary ID", 16),
    ("Role code", 10),
    ("Role name", 30),
    ("Scope", 24),
    ("Desk / service unit", 30),
    ("Expiry", 12),
    ("Needs approval", 10),
    ("Source lines", 18),
    ("Details", 40),
];
/// 0-based header row: row 1 says what the sheet is.
const HEADER: u32 = 2;

fn scope(s: &Scope) -> String {
    match s {
        Scope::Institution(code) => format!("Institution {code}"),
        Scope::Library(code) => format!("Library {code}"),
    }
}

fn parameters(ps: &[Parameter]) -> String {
    ps.iter()
        .map(|p| format!("{} {} ({})", p.kind.describe(), p.value, p.scope))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One operation as the cells of a row.
fn cells(op: &Operation) -> [String; 11] {
    match op {
        Operation::AddRole {
            institution,
            primary_id,
            role,
            scope: s,
            parameters: ps,
            expiry,
            needs_approval,
            profile,
            lines,
            ..
        } => {
            let from = profile.as_ref().map(|p| format!("from profile {p}"));
            let mut cells = role_cells("Add role", institution, primary_id, role, s, ps, lines);
            cells[7] = expiry.clone().unwrap_or_default();
            cells[8] = yes_no(*needs_approval);
            cells[10] = from.unwrap_or_default();
            cells
        }
        Operation::RemoveRole {
            institution,
            primary_id,
            role,
            scope: s,
            parameters: ps,
            lines,
        } => role_cells("Remove role", institution, primary_id, role, s, ps, lines),
        _ => account_cells(op),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// A row for one role granted or removed at one scope; expiry, approval and notes empty.
fn role_cells(
    what: &str,
    institution: &str,
    primary_id: &str,
    role: &RoleRef,
    s: &Scope,
    ps: &[Parameter],
    lines: &[String],
) -> [String; 11] {
    [
        what.into(),
        institution.to_string(),
        primary_id.to_string(),
        role.code.to_string(),
        role.name.clone(),
        scope(s),
        parameters(ps),
        String::new(),
        "no".into(),
        lines.join(", "),
        String::new(),
    ]
}

/// The row of an operation on an account as a whole or on a list of held roles.
fn account_cells(op: &Operation) -> [String; 11] {
    match op {
        Operation::CreateAccount {
            institution,
            primary_id,
            first_name,
            last_name,
            email,
            account_type,
            needs_approval,
            lines,
        } => {
            let kind = match account_type {
                AccountType::Internal => "internal",
                AccountType::External => "external",
            };
            let who = format!("{first_name} {last_name} <{email}>, {kind} account");
            let mut cells =
                grant_cells("Create account", institution, primary_id, &[], lines, &who);
            cells[8] = yes_no(*needs_approval);
            cells
        }
        Operation::UpdateAccount {
            institution,
            primary_id,
            first_name,
            last_name,
            email,
            lines,
        } => {
            let what = crate::changeset::describe_update(first_name, last_name, email);
            grant_cells("Update account", institution, primary_id, &[], lines, &what)
        }
        Operation::SuspendRoles {
            institution,
            primary_id,
            roles,
            reason,
            lines,
        } => grant_cells(
            "Suspend roles",
            institution,
            primary_id,
            roles,
            lines,
            reason,
        ),
        Operation::RestoreRoles {
            institution,
            primary_id,
            roles,
            lines,
        } => {
            let what = "puts back the roles the inactivity audit suspended";
            grant_cells("Restore roles", institution, primary_id, roles, lines, what)
        }
        Operation::RemoveAllStaffRoles {
            institution,
            primary_id,
            keep,
            lines,
        } => {
            let kept: Vec<String> = keep
                .iter()
                .map(|r| format!("{} ({})", r.name, r.code))
                .collect();
            let what = format!("keeps {}", kept.join(", "));
            grant_cells(
                "Remove all staff roles",
                institution,
                primary_id,
                &[],
                lines,
                &what,
            )
        }
        Operation::AddRole { .. } | Operation::RemoveRole { .. } => cells(op),
    }
}

/// An operation on an account as a whole (`roles` empty: create, update, remove-all) or on
/// a list of held roles (suspend, restore: one cell line per role).
fn grant_cells(
    what: &str,
    institution: &str,
    primary_id: &str,
    roles: &[RoleGrant],
    lines: &[String],
    details: &str,
) -> [String; 11] {
    let each =
        |f: &dyn Fn(&RoleGrant) -> String| roles.iter().map(f).collect::<Vec<_>>().join("\n");
    [
        what.into(),
        institution.into(),
        primary_id.into(),
        each(&|g| g.role.code.to_string()),
        each(&|g| g.role.name.clone()),
        each(&|g| scope(&g.scope)),
        each(&|g| parameters(&g.parameters)),
        each(&|g| g.expiry.clone().unwrap_or_default()),
        "no".into(),
        lines.join(", "),
        details.into(),
    ]
}

/// Every format [`write`] names, in the order it first names each: the sheet's line, the
/// headings, then its rows' (see `accounts::body_formats` for why the order matters).
pub fn formats<'a>(changeset: &ChangeSet, styles: &'a Styles) -> [&'a Format; 3] {
    let rows = match changeset.operations.is_empty() {
        true => &styles.para,
        false => &styles.wrap,
    };
    [&styles.subtitle, &styles.header, rows]
}

/// One operation's row, ready to be written: its cells, and the lines its tallest cell
/// wraps to. Made apart from the writing so that another thread can make them
/// (`Book::bodies`): the writing is most of the sheet's cost, and cannot be shared.
#[derive(Debug, PartialEq)]
pub struct Row {
    cells: [String; 11],
    lines: usize,
}

impl Row {
    /// The row of `op`.
    pub fn of(op: &Operation) -> Row {
        let cells = cells(op);
        let widths =
            std::array::from_fn::<_, 11, _>(|i| (cells[i].as_str(), f64::from(HEADERS[i].1)));
        let lines = row_lines(&widths);
        Row { cells, lines }
    }
}

/// Writes the sheet, each operation's row made here.
pub fn write(ws: &mut Worksheet, changeset: &ChangeSet, styles: &Styles) -> Result<(), XlsxError> {
    write_rows(
        ws,
        changeset,
        styles,
        changeset.operations.iter().map(Row::of),
    )
}

/// Writes the sheet from `rows`, one for each of the change set's operations in order.
pub fn write_rows(
    ws: &mut Worksheet,
    changeset: &ChangeSet,
    styles: &Styles,
    rows: impl Iterator<Item = Row>,
) -> Result<(), XlsxError> {
    write_head(ws, changeset, styles)?;
    let mut row = HEADER;
    let last_col = HEADERS.len() as u16 - 1;
    for Row { cells, lines } in rows.take(changeset.operations.len()) {
        row += 1;
        super::fit_lines(ws, row, lines)?;
        for (col, value) in cells.into_iter().enumerate() {
            owned(ws, row, col as u16, value)?;
        }
        // One format for the whole row: a format is hashed on every call that names one.
        // The Operation cell is never empty, so the row is started (a streamed sheet
        // formats only its current row).
        ws.set_range_format(row, 0, row, last_col, &styles.wrap)?;
    }
    if changeset.operations.is_empty() {
        row += 1;
        text(
            ws,
            row,
            0,
            "No operations: no line can be carried out.",
            &styles.para,
        )?;
    }
    super::print_as_list(ws, HEADER)?;
    ws.set_freeze_panes(HEADER + 1, 0)?;
    ws.autofilter(HEADER, 0, row, HEADERS.len() as u16 - 1)?;
    Ok(())
}

/// The sheet's name, its line, the headings and their note.
fn write_head(ws: &mut Worksheet, changeset: &ChangeSet, styles: &Styles) -> Result<(), XlsxError> {
    ws.set_name(CHANGES_SHEET)?;
    let about = format!(
        "Change set {} · schema {} · catalog version {}",
        changeset.submission.id, changeset.schema, changeset.catalog_version
    );
    text(ws, 0, 0, &about, &styles.subtitle)?;
    for (col, (heading, width)) in HEADERS.iter().enumerate() {
        plain(ws, HEADER, col as u16, heading)?;
        ws.set_column_width(col as u16, *width)?;
    }
    // One format for the headings, once the row is started.
    ws.set_range_format(HEADER, 0, HEADER, HEADERS.len() as u16 - 1, &styles.header)?;
    ws.set_row_height(HEADER, 30)?;
    ws.insert_note(
        HEADER,
        0,
        &Note::new(format!(
            "One row per operation of the change set (JSON schema {}). Lines that were \
             rejected have no operations.",
            changeset.schema
        ))
        .set_author("Rolecall")
        .set_width(300),
    )?;
    Ok(())
}
