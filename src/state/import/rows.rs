//! Tables: Analytics "users with roles" (one row per role) and the Staff Login Report (one
//! row per user with the last login), told apart by their columns.

use super::super::table::{Table, cell, parse_date};
use super::{
    ImportKind, ImportReport, ImportedUser, Login, Parsed, RoleText, account_type, columns,
    infer_institution, parameter_kind, role_text, scope_of, unknown_code_note, user_status,
};
use crate::catalog::{Catalog, Institution};
use crate::state::{Account, Assignment, ParameterKnowledge, UnmatchedRole};
use crate::validate::{Parameter, Scope};
use std::collections::BTreeMap;

/// Reads a table as users with roles (it has a Role Type column) or as logins (a Last
/// Login column); a table with neither is an error naming both.
pub(super) fn read(
    table: &Table,
    catalog: &Catalog,
    default: Option<&Institution>,
    report: &mut ImportReport,
) -> Result<Parsed, String> {
    if table.column(columns::ROLE_TYPE).is_some() {
        report.kind = ImportKind::UsersWithRoles;
        let users = users_with_roles(table, catalog, default, report)?;
        Ok(Parsed {
            users,
            logins: Vec::new(),
        })
    } else if table.column(columns::LOGIN_DATE).is_some() {
        report.kind = ImportKind::StaffLogins;
        let logins = logins(table, catalog, default, &mut report.skipped)?;
        Ok(Parsed {
            users: Vec::new(),
            logins,
        })
    } else {
        Err(format!(
            "the column \"{}\" (users with roles) or \"{}\" (staff login report) is missing",
            columns::ROLE_TYPE[0],
            columns::LOGIN_DATE[0]
        ))
    }
}

/// The Staff Login Report: an empty cell or a dash (CARLI: "-" in Last Login) is a user who
/// never logged in, and adds nothing to the history.
fn logins(
    table: &Table,
    catalog: &Catalog,
    default: Option<&Institution>,
    skipped: &mut Vec<String>,
) -> Result<Vec<Login>, String> {
    let id_col = table.require(columns::LOGIN_USER)?;
    let date_col = table.column(columns::LOGIN_DATE);
    let inst_col = table.column(columns::INSTITUTION);
    let mut out = Vec::new();
    for (row, cells) in &table.rows {
        let id = cell(cells, Some(id_col));
        let date = cell(cells, date_col);
        if id.is_empty() || never_logged_in(date) {
            continue;
        }
        let Some(d) = parse_date(date) else {
            skipped.push(format!("row {row}: \"{date}\" is not a date"));
            continue;
        };
        let inst = match cell(cells, inst_col) {
            "" => default.map(|i| i.code.clone()).unwrap_or_default(),
            code => catalog
                .institution(code)
                .map_or_else(|| code.to_string(), |i| i.code.clone()),
        };
        out.push((id.to_string(), inst, d.to_string()));
    }
    Ok(out)
}

/// An empty Last Login, or a dash of any kind (`-`, `–`, `—`).
fn never_logged_in(date: &str) -> bool {
    date.chars()
        .all(|c| matches!(c, '-' | '\u{2013}' | '\u{2014}'))
}

/// The columns of a users-with-roles table.
struct RoleColumns {
    id: usize,
    role: usize,
    status: usize,
    scope: usize,
    expiry: Option<usize>,
    /// `None`: the report has no parameter column, so no role's parameters are known.
    params: Option<usize>,
    inst: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    email: Option<usize>,
    kind: Option<usize>,
    user_status: Option<usize>,
}

impl RoleColumns {
    fn find(table: &Table) -> Result<RoleColumns, String> {
        Ok(RoleColumns {
            id: table.require(columns::PRIMARY_ID)?,
            role: table.require(columns::ROLE_TYPE)?,
            status: table.require(columns::ROLE_STATUS)?,
            scope: table.require(columns::ROLE_SCOPE)?,
            expiry: table.column(columns::ROLE_EXPIRY),
            params: table.column(columns::ROLE_PARAMETERS),
            inst: table.column(columns::INSTITUTION),
            first: table.column(columns::FIRST_NAME),
            last: table.column(columns::LAST_NAME),
            email: table.column(columns::EMAIL),
            kind: table.column(columns::ACCOUNT_TYPE),
            user_status: table.column(columns::USER_STATUS),
        })
    }
}

type Row = (usize, Vec<String>);

/// Rows grouped by user (institution column when present, and ID), in file order.
fn group_by_user<'t>(table: &'t Table, c: &RoleColumns) -> Vec<Vec<&'t Row>> {
    let mut groups: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out: Vec<Vec<&Row>> = Vec::new();
    for row in &table.rows {
        let id = cell(&row.1, Some(c.id));
        if id.is_empty() {
            continue;
        }
        let key = (cell(&row.1, c.inst).to_string(), id.to_lowercase());
        let at = *groups.entry(key).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[at].push(row);
    }
    out
}

fn users_with_roles(
    table: &Table,
    catalog: &Catalog,
    default: Option<&Institution>,
    report: &mut ImportReport,
) -> Result<Vec<ImportedUser>, String> {
    let c = RoleColumns::find(table)?;
    if c.params.is_none() {
        report.notes.push(format!(
            "no \"{}\" column (Analytics reports have none): the desks and service units of these roles are not known, and are taken from Alma when the roles are written back",
            columns::ROLE_PARAMETERS[0]
        ));
    }
    let mut users = Vec::new();
    for rows in group_by_user(table, &c) {
        if let Some(user) = user_of(&rows, &c, catalog, default, report) {
            users.push(user);
        }
    }
    Ok(users)
}

/// One user's rows, or `None` (and a skipped line) when the user cannot be imported.
fn user_of(
    rows: &[&Row],
    c: &RoleColumns,
    catalog: &Catalog,
    default: Option<&Institution>,
    report: &mut ImportReport,
) -> Option<ImportedUser> {
    let first = &rows[0].1;
    let inst = match cell(first, c.inst) {
        "" => {
            let scopes: Vec<String> = rows
                .iter()
                .map(|r| cell(&r.1, Some(c.scope)).to_string())
                .collect();
            infer_institution(catalog, &scopes, default)
        }
        code => catalog.institution(code),
    };
    let Some(inst) = inst else {
        report.skipped.push(format!(
            "row {}: the institution of {} is not known (give an \"{}\" column or --institution)",
            rows[0].0,
            cell(first, Some(c.id)),
            columns::INSTITUTION[0]
        ));
        return None;
    };
    let mut user = ImportedUser {
        account: Account {
            institution: inst.code.clone(),
            primary_id: cell(first, Some(c.id)).to_string(),
            first_name: cell(first, c.first).to_string(),
            last_name: cell(first, c.last).to_string(),
            email: cell(first, c.email).to_string(),
            account_type: account_type(cell(first, c.kind)),
            status: user_status(cell(first, c.user_status)),
        },
        roles: Vec::new(),
        unmatched: Vec::new(),
        roles_listed: true,
    };
    for (row, cells) in rows.iter().map(|r| (r.0, &r.1)) {
        if let Err(why) = role_row(row, cells, c, catalog, inst, &mut user, report) {
            report
                .skipped
                .push(format!("row {row}: {why}; the user is not imported"));
            return None;
        }
    }
    Some(user)
}

/// One role row into `user`. An error (bad parameters) means the user is not imported: a
/// partial role list would be taken for the whole one.
fn role_row(
    row: usize,
    cells: &[String],
    c: &RoleColumns,
    catalog: &Catalog,
    inst: &Institution,
    user: &mut ImportedUser,
    report: &mut ImportReport,
) -> Result<(), String> {
    let role_text_cell = cell(cells, Some(c.role));
    if role_text_cell.is_empty() {
        return Ok(()); // a user with no roles at all
    }
    let scope_text = cell(cells, Some(c.scope));
    let active = !cell(cells, Some(c.status)).eq_ignore_ascii_case("inactive");
    let expiry = expiry(row, cell(cells, c.expiry), &mut report.skipped);
    let code = match role_text(catalog, role_text_cell) {
        RoleText::Code(code) => code,
        RoleText::Unmatched(name) => {
            let role = UnmatchedRole {
                name,
                scope: scope_text.to_string(),
                active,
                expiry,
            };
            user.keep_by_name(role, &format!("row {row}"), report);
            return Ok(());
        }
    };
    report
        .not_in_catalog
        .extend(unknown_code_note(catalog, code, &format!("row {row}")));
    let scope = scope_of(inst, scope_text);
    let (parameters, parameters_known) = match c.params {
        Some(col) => (
            parse_parameters(cell(cells, Some(col)), &scope)?,
            ParameterKnowledge::Known,
        ),
        None => (Vec::new(), ParameterKnowledge::Unknown),
    };
    user.roles.push(Assignment {
        code,
        scope,
        parameters,
        parameters_known,
        active,
        expiry,
        suspended_by: None,
    });
    Ok(())
}

/// A role's expiry cell; a cell that is not a date is noted and no expiry kept.
fn expiry(row: usize, text: &str, skipped: &mut Vec<String>) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    let date = parse_date(text).map(|d| d.to_string());
    if date.is_none() {
        skipped.push(format!(
            "row {row}: \"{text}\" is not a date; no expiry kept"
        ));
    }
    date
}

/// `CirculationDesk=DEFAULT_CIRC_DESK@MAIN; ServiceUnit=ACQ_RECEIVING@MAIN`.
fn parse_parameters(text: &str, role_scope: &Scope) -> Result<Vec<Parameter>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, rest) = part
            .split_once('=')
            .ok_or_else(|| format!("\"{part}\" is not Type=VALUE@LIBRARY"))?;
        let kind = parameter_kind(kind).ok_or_else(|| {
            format!("\"{kind}\" is not CirculationDesk, ServiceUnit or MetadataType")
        })?;
        let (value, scope) = match rest.split_once('@') {
            Some((v, s)) => (v.trim().to_string(), s.trim().to_string()),
            None => (
                rest.trim().to_string(),
                match role_scope {
                    Scope::Library(l) | Scope::Institution(l) => l.clone(),
                },
            ),
        };
        out.push(Parameter { kind, value, scope });
    }
    out.sort();
    Ok(out)
}
