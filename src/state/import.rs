//! `rolecall state import`: what Alma exports, into the state (`docs/state.md` lists the
//! columns each kind expects).
//!
//! - **Alma Users API JSON** (`.json`): one user, or `{"user": [...]}` ([`json`]).
//! - **Analytics "users with roles"** (`.csv`, `.xlsx`, `.xls`, `.ods`): one row per role
//!   ([`rows`]).
//! - **Staff Login Report** (`.csv`, `.xlsx`, ...): primary ID (or *User Name*) and last
//!   login, *appended* to the login history, because Alma keeps only 90 days of it and the
//!   inactivity audit needs more ([`rows`]).
//!
//! A user file is a snapshot: each account in it gets exactly the roles the file lists
//! (duplicate entries, which Alma exports do contain, collapse into one). A role that our own
//! suspension set inactive keeps its mark, so that a later restore still finds it. Roles the
//! catalog does not know are kept (by code, or by name when the export gives no code) and
//! reported, never dropped; a report with no parameter column marks its roles' parameters
//! unknown, not empty. Each file is imported in one transaction: a bad file changes nothing.

mod json;
mod rows;

use super::table::Table;
use super::{
    Account, Assignment, State, StateError, UnmatchedRole, put_account, put_role, put_unmatched,
    roles_of,
};
use crate::catalog::{Catalog, Institution, ParameterKind};
use crate::validate::{AccountType, Parameter, Scope};
use rusqlite::{Connection, params};
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
    /// Roles the catalog does not know, kept all the same, each with where it was.
    pub not_in_catalog: Vec<String>,
    /// What the file could not tell, in words (e.g. no parameter column).
    pub notes: Vec<String>,
}

/// Column names (first) and the aliases accepted, for the documentation and the errors.
pub mod columns {
    /// Primary identifier.
    pub const PRIMARY_ID: &[&str] = &[
        "Primary Identifier",
        "Primary ID",
        "User Primary Identifier",
    ];
    /// The Staff Login Report's user column: the primary identifier (CARLI), which the
    /// report's own page calls "User Name".
    pub const LOGIN_USER: &[&str] = &[
        "Primary Identifier",
        "Primary ID",
        "User Primary Identifier",
        "User Name",
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

/// One account read from a user file, with every role it lists.
struct ImportedUser {
    account: Account,
    roles: Vec<Assignment>,
    /// Roles named by a name the catalog does not know.
    unmatched: Vec<UnmatchedRole>,
    /// False when the file does not list the user's roles at all (a JSON user without
    /// `user_role`, as a brief view gives it): the state's roles are kept, not emptied.
    roles_listed: bool,
}

impl ImportedUser {
    /// Keeps a role the catalog does not know by name, and says so in the report (`at`:
    /// where the file lists it).
    fn keep_by_name(&mut self, role: UnmatchedRole, at: &str, report: &mut ImportReport) {
        report.not_in_catalog.push(format!(
            "{at}: \"{}\" is not a role in the catalog; kept by name (at {})",
            role.name, role.scope
        ));
        self.unmatched.push(role);
    }
}

/// One login read from a Staff Login Report: (primary ID, institution or "", date).
type Login = (String, String, String);

/// What a file held, before it is stored.
#[derive(Default)]
struct Parsed {
    users: Vec<ImportedUser>,
    logins: Vec<Login>,
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
    let default_inst = match institution {
        Some(code) => Some(
            catalog
                .institution(code)
                .ok_or_else(|| fail(format!("{code} is not an institution in the catalog")))?,
        ),
        None => None,
    };
    let mut report = ImportReport {
        file: name.clone(),
        kind: ImportKind::AlmaJson,
        accounts: 0,
        roles: 0,
        duplicates: 0,
        logins: 0,
        skipped: Vec::new(),
        not_in_catalog: Vec::new(),
        notes: Vec::new(),
    };
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if is_json {
        json::read(path, catalog, default_inst, &mut report).map_err(fail)?
    } else {
        let table = Table::read(path, columns::LOGIN_USER).map_err(fail)?;
        rows::read(&table, catalog, default_inst, &mut report).map_err(fail)?
    };
    store(state, &parsed, &name, now, &mut report)?;
    Ok(report)
}

/// Writes what a file held, in one transaction, and logs the import.
fn store(
    state: &mut State,
    parsed: &Parsed,
    name: &str,
    now: &str,
    report: &mut ImportReport,
) -> Result<(), StateError> {
    let tx = state.conn.transaction()?;
    for user in &parsed.users {
        store_user(&tx, user, name, report)?;
    }
    for (id, inst, date) in &parsed.logins {
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
    Ok(())
}

/// Replaces one account's roles with the file's (a snapshot), keeping our suspension marks.
fn store_user(
    conn: &Connection,
    user: &ImportedUser,
    name: &str,
    report: &mut ImportReport,
) -> Result<(), StateError> {
    let (inst, id) = (&user.account.institution, &user.account.primary_id);
    if !user.roles_listed {
        // A partial record: it updates what it gives, and keeps the roles, the account
        // type and the status on record.
        let account = match State::account_in(conn, inst, id)? {
            Some(old) => fill_in(&user.account, old),
            None => user.account.clone(),
        };
        put_account(conn, &account, name)?;
        report.accounts += 1;
        report.notes.push(format!(
            "{id}: the file lists no user_role (a brief view?): the roles on record are kept"
        ));
        return Ok(());
    }
    let old = roles_of(conn, inst, id)?;
    put_account(conn, &user.account, name)?;
    report.accounts += 1;
    conn.execute(
        "DELETE FROM state_role WHERE institution = ?1 AND primary_id = ?2",
        params![inst, id],
    )?;
    conn.execute(
        "DELETE FROM state_role_unmatched WHERE institution = ?1 AND primary_id = ?2",
        params![inst, id],
    )?;
    let (kept, duplicates) = merge_duplicates(&user.roles);
    report.duplicates += duplicates;
    for mut role in kept {
        if !role.active
            && let Some(prev) = old.iter().find(|o| {
                o.code == role.code && o.scope == role.scope && o.parameters == role.parameters
            })
        {
            role.suspended_by = prev.suspended_by.clone();
        }
        put_role(conn, inst, id, &role)?;
        report.roles += 1;
    }
    for u in &user.unmatched {
        put_unmatched(conn, inst, id, u)?;
        report.roles += 1;
    }
    Ok(())
}

/// `old` with the names and email `new` gives (the ones it leaves empty stay as they were).
fn fill_in(new: &Account, old: Account) -> Account {
    let pick = |n: &str, o: String| if n.is_empty() { o } else { n.to_string() };
    Account {
        first_name: pick(&new.first_name, old.first_name),
        last_name: pick(&new.last_name, old.last_name),
        email: pick(&new.email, old.email),
        ..old
    }
}

/// Collapses duplicate entries (same code, scope and parameters): an active entry wins,
/// then the later expiry (none = never). Returns the roles kept and how many collapsed.
fn merge_duplicates(roles: &[Assignment]) -> (Vec<Assignment>, usize) {
    let mut kept: BTreeMap<(u32, Scope, Vec<Parameter>), Assignment> = BTreeMap::new();
    let mut duplicates = 0;
    for role in roles {
        let key = (role.code, role.scope.clone(), role.parameters.clone());
        let Some(first) = kept.get_mut(&key) else {
            kept.insert(key, role.clone());
            continue;
        };
        duplicates += 1;
        let later = match (&first.expiry, &role.expiry) {
            (Some(a), Some(b)) => b > a,
            (Some(_), None) => true,
            _ => false,
        };
        if (role.active && !first.active) || (role.active == first.active && later) {
            *first = role.clone();
        }
    }
    (kept.into_values().collect(), duplicates)
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

/// A user status as the state keeps it: upper case, ACTIVE when the export says nothing.
fn user_status(text: &str) -> String {
    match text.trim() {
        "" => "ACTIVE".to_string(),
        s => s.to_ascii_uppercase(),
    }
}

/// What a role's text names: a code (the catalog's or not), or a name the catalog does
/// not know. The name look-up is the catalog's, so its aliases count.
enum RoleText {
    Code(u32),
    Unmatched(String),
}

fn role_text(catalog: &Catalog, text: &str) -> RoleText {
    let text = text.trim();
    match text.parse::<u32>() {
        Ok(code) => RoleText::Code(code),
        Err(_) => match catalog.role(text) {
            Some(r) => RoleText::Code(r.code),
            None => RoleText::Unmatched(text.to_string()),
        },
    }
}

/// The parameter kind of an Alma parameter type (`CirculationDesk`, `ServiceUnit`,
/// `MetadataType`: the types of the Users API's model), or of the words for it.
fn parameter_kind(text: &str) -> Option<ParameterKind> {
    match text.trim().to_ascii_lowercase().as_str() {
        "circulationdesk" | "circulation desk" => Some(ParameterKind::CirculationDesk),
        "serviceunit" | "service unit" => Some(ParameterKind::ServiceUnit),
        "metadatatype" | "metadata type" => Some(ParameterKind::MetadataType),
        _ => None,
    }
}

/// "role 9999 (not in the catalog) at MAIN" for the report.
fn unknown_code_note(catalog: &Catalog, code: u32, at: &str) -> Option<String> {
    catalog
        .role_by_code(code)
        .is_none()
        .then(|| format!("{at}: role {code} is not in the catalog; kept"))
}
