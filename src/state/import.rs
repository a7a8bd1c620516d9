//! `rolecall state import`: what Alma exports, into the state (`docs/state.md` lists the
//! columns each kind expects).
//!
//! - **Alma Users API JSON** (`.json`): one user, or `{"user": [...]}`.
//! - **Analytics "users with roles"** (`.csv`, `.xlsx`, `.xls`, `.ods`): one row per role.
//! - **Staff Login Report** (`.csv`, `.xlsx`, ...): primary ID and login date, *appended* to
//!   the login history, because Alma keeps only 90 days of it and the inactivity audit needs
//!   more.
//!
//! A user file is a snapshot: each account in it gets exactly the roles the file lists
//! (duplicate entries, which Alma exports do contain, collapse into one). A role that our own
//! suspension set inactive keeps its mark, so that a later restore still finds it. Each file
//! is imported in one transaction: a bad file changes nothing.

use super::table::{Table, cell, parse_date};
use super::{Account, Assignment, State, StateError, put_account, put_role, roles_of};
use crate::catalog::{Catalog, Institution, ParameterKind};
use crate::validate::{AccountType, Parameter, Scope};
use rusqlite::params;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::Path;

/// What kind of export a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Alma Users API JSON.
    AlmaJson,
    /// Analytics "users with roles".
    UsersWithRoles,
    /// Staff Login Report.
    StaffLogins,
}

impl std::fmt::Display for ImportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImportKind::AlmaJson => "Alma Users API JSON",
            ImportKind::UsersWithRoles => "Analytics users with roles",
            ImportKind::StaffLogins => "Staff Login Report",
        })
    }
}

/// What one import did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    /// The file.
    pub file: String,
    /// Its kind.
    pub kind: ImportKind,
    /// Accounts created or updated.
    pub accounts: usize,
    /// Role entries stored (after normalising duplicates).
    pub roles: usize,
    /// Duplicate role entries collapsed.
    pub duplicates: usize,
    /// Login dates added to the history (already known ones are not counted).
    pub logins: usize,
    /// Rows or users skipped, each with where and why.
    pub skipped: Vec<String>,
}

/// Column names (first) and the aliases accepted, for the documentation and the errors.
pub mod columns {
    /// Primary identifier.
    pub const PRIMARY_ID: &[&str] = &[
        "Primary Identifier",
        "Primary ID",
        "User Primary Identifier",
    ];
    /// Institution code.
    pub const INSTITUTION: &[&str] = &["Institution Code", "Institution"];
    /// Given name.
    pub const FIRST_NAME: &[&str] = &["First Name"];
    /// Family name.
    pub const LAST_NAME: &[&str] = &["Last Name"];
    /// Email.
    pub const EMAIL: &[&str] = &["Preferred Email", "Email", "Email Address"];
    /// Internal or External.
    pub const ACCOUNT_TYPE: &[&str] = &["User Type", "Account Type"];
    /// User status.
    pub const USER_STATUS: &[&str] = &["User Status", "Status"];
    /// Role name or code.
    pub const ROLE_TYPE: &[&str] = &["Role Type", "Role", "Role Name"];
    /// Active or Inactive.
    pub const ROLE_STATUS: &[&str] = &["Role Status"];
    /// Library or institution code.
    pub const ROLE_SCOPE: &[&str] = &["Role Scope", "Scope"];
    /// Expiry date.
    pub const ROLE_EXPIRY: &[&str] = &["Role Expiry Date", "Expiry Date"];
    /// `CirculationDesk=DESK@LIBRARY; ServiceUnit=UNIT@LIBRARY`.
    pub const ROLE_PARAMETERS: &[&str] = &["Role Parameters", "Parameters"];
    /// Login date.
    pub const LOGIN_DATE: &[&str] = &["Login Date", "Last Login", "Last Login Date", "Login Time"];
}

/// Imports one file. `institution` is used for rows and users that do not say theirs and
/// whose roles do not tell it; `now` (RFC 3339) is when, for the import log.
pub fn import_file(
    state: &mut State,
    path: &Path,
    catalog: &Catalog,
    institution: Option<&str>,
    now: &str,
) -> Result<ImportReport, StateError> {
    let fail = |message: String| StateError::Import {
        file: path.to_path_buf(),
        message,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let default_inst = match institution {
        Some(code) => Some(
            catalog
                .institution(code)
                .ok_or_else(|| fail(format!("{code} is not an institution in the catalog")))?,
        ),
        None => None,
    };
    let mut users: Vec<ImportedUser> = Vec::new();
    let mut report = ImportReport {
        file: name.clone(),
        kind: ImportKind::AlmaJson,
        accounts: 0,
        roles: 0,
        duplicates: 0,
        logins: 0,
        skipped: Vec::new(),
    };
    let mut logins: Vec<(String, String, String)> = Vec::new();
    if ext == "json" {
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let json: Json =
            serde_json::from_str(&text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
        let list = match json.get("user") {
            Some(Json::Array(list)) => list.clone(),
            Some(_) => return Err(fail("\"user\" is not a list".into())),
            None if json.get("primary_id").is_some() => vec![json],
            None => {
                return Err(fail(
                    "neither an Alma user (no \"primary_id\") nor a list of users (no \"user\")"
                        .into(),
                ));
            }
        };
        for (i, user) in list.iter().enumerate() {
            match alma_user(user, catalog, default_inst) {
                Ok(u) => users.push(u),
                Err(why) => report.skipped.push(format!("user {}: {why}", i + 1)),
            }
        }
    } else {
        let table = Table::read(path, columns::PRIMARY_ID).map_err(fail)?;
        let id_col = table.require(columns::PRIMARY_ID).map_err(fail)?;
        if table.column(columns::ROLE_TYPE).is_some() {
            report.kind = ImportKind::UsersWithRoles;
            users = users_with_roles(&table, id_col, catalog, default_inst, &mut report.skipped)
                .map_err(fail)?;
        } else if table.column(columns::LOGIN_DATE).is_some() {
            report.kind = ImportKind::StaffLogins;
            let date_col = table.column(columns::LOGIN_DATE);
            let inst_col = table.column(columns::INSTITUTION);
            for (row, cells) in &table.rows {
                let id = cell(cells, Some(id_col));
                let date = cell(cells, date_col);
                match parse_date(date) {
                    _ if id.is_empty() => {}
                    // A user who never logged in: the report lists them with no date.
                    None if date.is_empty() => {}
                    None => report
                        .skipped
                        .push(format!("row {row}: \"{date}\" is not a date")),
                    Some(d) => {
                        let inst = match cell(cells, inst_col) {
                            "" => default_inst.map(|i| i.code.clone()).unwrap_or_default(),
                            code => catalog
                                .institution(code)
                                .map_or_else(|| code.to_string(), |i| i.code.clone()),
                        };
                        logins.push((id.to_string(), inst, d.to_string()));
                    }
                }
            }
        } else {
            return Err(fail(format!(
                "the column \"{}\" (users with roles) or \"{}\" (staff login report) is missing",
                columns::ROLE_TYPE[0],
                columns::LOGIN_DATE[0]
            )));
        }
    }

    let tx = state.conn.transaction()?;
    for user in &users {
        let old = roles_of(&tx, &user.account.institution, &user.account.primary_id)?;
        put_account(&tx, &user.account, &name)?;
        tx.execute(
            "DELETE FROM state_role WHERE institution = ?1 AND primary_id = ?2",
            params![user.account.institution, user.account.primary_id],
        )?;
        let mut kept: BTreeMap<(u32, Scope, Vec<Parameter>), Assignment> = BTreeMap::new();
        for role in &user.roles {
            let key = (role.code, role.scope.clone(), role.parameters.clone());
            match kept.get_mut(&key) {
                None => {
                    kept.insert(key, role.clone());
                }
                Some(first) => {
                    // Duplicates: an active entry wins, then the later expiry (none = never).
                    report.duplicates += 1;
                    let later = match (&first.expiry, &role.expiry) {
                        (Some(a), Some(b)) => b > a,
                        (Some(_), None) => true,
                        _ => false,
                    };
                    if (role.active && !first.active) || (role.active == first.active && later) {
                        *first = role.clone();
                    }
                }
            }
        }
        for mut role in kept.into_values() {
            if !role.active
                && let Some(prev) = old.iter().find(|o| {
                    o.code == role.code && o.scope == role.scope && o.parameters == role.parameters
                })
            {
                role.suspended_by = prev.suspended_by.clone();
            }
            put_role(
                &tx,
                &user.account.institution,
                &user.account.primary_id,
                &role,
            )?;
            report.roles += 1;
        }
        report.accounts += 1;
    }
    for (id, inst, date) in &logins {
        report.logins += tx.execute(
            "INSERT OR IGNORE INTO state_login (primary_id, institution, login_date, source)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, inst, date, name],
        )?;
    }
    tx.execute(
        "INSERT INTO state_import (file, kind, imported_at, accounts, roles, logins)
         VALUES (?1, ?2, ?6, ?3, ?4, ?5)",
        params![
            name,
            format!("{:?}", report.kind),
            report.accounts as i64,
            report.roles as i64,
            report.logins as i64,
            now
        ],
    )?;
    State::bump_version(&tx)?;
    tx.commit()?;
    Ok(report)
}

struct ImportedUser {
    account: Account,
    roles: Vec<Assignment>,
}

/// The institution a user belongs to: the scope of a role that is an institution code
/// (Patron always is), else a library code found in one institution only, else the default.
fn infer_institution<'c>(
    catalog: &'c Catalog,
    scopes: &[String],
    default: Option<&'c Institution>,
) -> Option<&'c Institution> {
    if let Some(d) = default {
        return Some(d);
    }
    if let Some(inst) = scopes.iter().find_map(|s| {
        catalog
            .institutions
            .iter()
            .find(|i| i.code.eq_ignore_ascii_case(s))
    }) {
        return Some(inst);
    }
    for s in scopes {
        let owners: Vec<&Institution> = catalog
            .institutions
            .iter()
            .filter(|i| i.library(s).is_some())
            .collect();
        if owners.len() == 1 {
            return Some(owners[0]);
        }
    }
    None
}

fn scope_of(inst: &Institution, text: &str) -> Scope {
    if text.eq_ignore_ascii_case(&inst.code) || text.eq_ignore_ascii_case(&inst.name) {
        return Scope::Institution(inst.code.clone());
    }
    match inst
        .libraries
        .iter()
        .find(|l| l.code.eq_ignore_ascii_case(text) || l.name.eq_ignore_ascii_case(text))
    {
        Some(l) => Scope::Library(l.code.clone()),
        None => Scope::Library(text.to_string()),
    }
}

fn account_type(text: &str) -> AccountType {
    if text.trim().eq_ignore_ascii_case("external") {
        AccountType::External
    } else {
        AccountType::Internal
    }
}

fn code_of(catalog: &Catalog, text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .or_else(|| catalog.role(text).map(|r| r.code))
}

fn parameter_kind(text: &str) -> Option<ParameterKind> {
    match text.trim().to_ascii_lowercase().as_str() {
        "circulationdesk" | "circulation desk" => Some(ParameterKind::CirculationDesk),
        "serviceunit" | "service unit" => Some(ParameterKind::ServiceUnit),
        _ => None,
    }
}

/// Alma dates come as `2027-05-31Z`.
fn alma_date(text: &str) -> Option<String> {
    parse_date(text.trim().trim_end_matches('Z')).map(|d| d.to_string())
}

fn alma_user(
    user: &Json,
    catalog: &Catalog,
    default: Option<&Institution>,
) -> Result<ImportedUser, String> {
    let s = |v: &Json| -> String {
        match v {
            Json::String(s) => s.trim().to_string(),
            Json::Number(n) => n.to_string(),
            Json::Object(o) => o
                .get("value")
                .map(|v| v.as_str().unwrap_or_default().trim().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    let primary_id = s(&user["primary_id"]);
    if primary_id.is_empty() {
        return Err("no primary_id".into());
    }
    let roles_json = match &user["user_role"] {
        Json::Array(list) => list.clone(),
        Json::Null => Vec::new(),
        _ => return Err(format!("{primary_id}: user_role is not a list")),
    };
    let scopes: Vec<String> = roles_json.iter().map(|r| s(&r["scope"])).collect();
    let inst = infer_institution(catalog, &scopes, default).ok_or_else(|| {
        format!("{primary_id}: no role tells its institution; import with --institution CODE")
    })?;
    let email = match &user["contact_info"]["email"] {
        Json::Array(list) => list
            .iter()
            .find(|e| e["preferred"].as_bool() == Some(true))
            .or(list.first())
            .map(|e| s(&e["email_address"]))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let mut roles = Vec::new();
    for r in &roles_json {
        let code_text = s(&r["role_type"]);
        let Some(code) = code_of(catalog, &code_text) else {
            return Err(format!(
                "{primary_id}: role type \"{code_text}\" is not a role code"
            ));
        };
        let parameters = match &r["parameter"] {
            Json::Array(list) => list
                .iter()
                .filter_map(|p| {
                    Some(Parameter {
                        kind: parameter_kind(&s(&p["type"]))?,
                        value: s(&p["value"]),
                        scope: s(&p["scope"]),
                    })
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut parameters: Vec<Parameter> = parameters;
        parameters.sort();
        roles.push(Assignment {
            code,
            scope: scope_of(inst, &s(&r["scope"])),
            parameters,
            active: !s(&r["status"]).eq_ignore_ascii_case("inactive"),
            expiry: r["expiry_date"].as_str().and_then(alma_date),
            suspended_by: None,
        });
    }
    let status = s(&user["status"]);
    Ok(ImportedUser {
        account: Account {
            institution: inst.code.clone(),
            primary_id,
            first_name: s(&user["first_name"]),
            last_name: s(&user["last_name"]),
            email,
            account_type: account_type(&s(&user["account_type"])),
            status: if status.is_empty() {
                "ACTIVE".into()
            } else {
                status.to_ascii_uppercase()
            },
        },
        roles,
    })
}

/// `CirculationDesk=DEFAULT_CIRC_DESK@MAIN; ServiceUnit=ACQ_RECEIVING@MAIN`.
fn parse_parameters(text: &str, role_scope: &Scope) -> Result<Vec<Parameter>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, rest) = part
            .split_once('=')
            .ok_or_else(|| format!("\"{part}\" is not Type=VALUE@LIBRARY"))?;
        let kind = parameter_kind(kind)
            .ok_or_else(|| format!("\"{kind}\" is not CirculationDesk or ServiceUnit"))?;
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

fn users_with_roles(
    table: &Table,
    id_col: usize,
    catalog: &Catalog,
    default: Option<&Institution>,
    skipped: &mut Vec<String>,
) -> Result<Vec<ImportedUser>, String> {
    let role_col = table.require(columns::ROLE_TYPE)?;
    let status_col = table.require(columns::ROLE_STATUS)?;
    let scope_col = table.require(columns::ROLE_SCOPE)?;
    let expiry_col = table.column(columns::ROLE_EXPIRY);
    let params_col = table.column(columns::ROLE_PARAMETERS);
    let inst_col = table.column(columns::INSTITUTION);
    let first_col = table.column(columns::FIRST_NAME);
    let last_col = table.column(columns::LAST_NAME);
    let email_col = table.column(columns::EMAIL);
    let type_col = table.column(columns::ACCOUNT_TYPE);
    let user_status_col = table.column(columns::USER_STATUS);

    // Rows of one user are grouped (by institution column when present, and ID).
    type Rows<'t> = Vec<&'t (usize, Vec<String>)>;
    let mut groups: BTreeMap<(String, String), Rows> = BTreeMap::new();
    let mut order = Vec::new();
    for row in &table.rows {
        let id = cell(&row.1, Some(id_col));
        if id.is_empty() {
            continue;
        }
        let key = (cell(&row.1, inst_col).to_string(), id.to_lowercase());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(row);
    }
    let mut users = Vec::new();
    'user: for key in order {
        let rows = &groups[&key];
        let first = &rows[0].1;
        let inst = match cell(first, inst_col) {
            "" => {
                let scopes: Vec<String> = rows
                    .iter()
                    .map(|r| cell(&r.1, Some(scope_col)).to_string())
                    .collect();
                infer_institution(catalog, &scopes, default)
            }
            code => catalog.institution(code),
        };
        let Some(inst) = inst else {
            skipped.push(format!(
                "row {}: the institution of {} is not known (give an \"{}\" column or --institution)",
                rows[0].0,
                cell(first, Some(id_col)),
                columns::INSTITUTION[0]
            ));
            continue;
        };
        let mut roles = Vec::new();
        for (row, cells) in rows.iter().map(|r| (&r.0, &r.1)) {
            let role_text = cell(cells, Some(role_col));
            if role_text.is_empty() {
                continue; // a user with no roles at all
            }
            let Some(code) = code_of(catalog, role_text) else {
                skipped.push(format!(
                    "row {row}: \"{role_text}\" is not a role in the catalog"
                ));
                continue;
            };
            let scope = scope_of(inst, cell(cells, Some(scope_col)));
            let parameters = match parse_parameters(cell(cells, params_col), &scope) {
                Ok(p) => p,
                Err(why) => {
                    skipped.push(format!("row {row}: {why}; the user is not imported"));
                    continue 'user;
                }
            };
            let expiry = match cell(cells, expiry_col) {
                "" => None,
                text => match parse_date(text) {
                    Some(d) => Some(d.to_string()),
                    None => {
                        skipped.push(format!(
                            "row {row}: \"{text}\" is not a date; no expiry kept"
                        ));
                        None
                    }
                },
            };
            roles.push(Assignment {
                code,
                scope,
                parameters,
                active: !cell(cells, Some(status_col)).eq_ignore_ascii_case("inactive"),
                expiry,
                suspended_by: None,
            });
        }
        let status = cell(first, user_status_col).to_ascii_uppercase();
        users.push(ImportedUser {
            account: Account {
                institution: inst.code.clone(),
                primary_id: cell(first, Some(id_col)).to_string(),
                first_name: cell(first, first_col).to_string(),
                last_name: cell(first, last_col).to_string(),
                email: cell(first, email_col).to_string(),
                account_type: account_type(cell(first, type_col)),
                status: if status.is_empty() {
                    "ACTIVE".into()
                } else {
                    status
                },
            },
            roles,
        });
    }
    Ok(users)
}
