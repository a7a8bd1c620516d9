//! Account state: what Alma holds for each account (roles with their scopes, parameters,
//! status and expiry; logins), kept in the embedded database ([`crate::db`]) so that a
//! request becomes a diff against it (`docs/state.md`).
//!
//! This module owns the `state_*` tables (migrations `state-1` to `state-3`) and the plain queries on
//! them; the sub-modules are the commands built on it: [`import`] (Alma exports in),
//! [`diff`] (requests against the state), [`apply`] (recording a change set carried out in
//! Alma), [`licence`] and [`inactive`] (the audits) and [`alma`] (Alma Users API payloads).

pub mod alma;
pub mod apply;
pub mod diff;
pub mod import;
pub mod inactive;
pub mod licence;
mod table;
pub mod touched;

use crate::catalog::{Catalog, PATRON_CODE};
use crate::validate::{AccountType, Parameter, Scope};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Tables of the account state (migration `state-1`).
///
/// Primary IDs compare without regard to case (Alma's do). A role assignment is keyed by
/// what makes it a distinct grant in Alma: code, scope and parameters (canonical JSON), so
/// duplicate entries in an export collapse into one row.
pub const SCHEMA: &str = "
CREATE TABLE state_account (
    institution  TEXT NOT NULL,
    primary_id   TEXT NOT NULL COLLATE NOCASE,
    first_name   TEXT NOT NULL DEFAULT '',
    last_name    TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    account_type TEXT NOT NULL DEFAULT 'INTERNAL' CHECK (account_type IN ('INTERNAL', 'EXTERNAL')),
    status       TEXT NOT NULL DEFAULT 'ACTIVE',
    updated_by   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (institution, primary_id)
);
CREATE INDEX state_account_by_id ON state_account (primary_id);
CREATE TABLE state_role (
    institution  TEXT NOT NULL,
    primary_id   TEXT NOT NULL COLLATE NOCASE,
    role_code    INTEGER NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('institution', 'library')),
    scope        TEXT NOT NULL,
    parameters   TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    expiry       TEXT,
    suspended_by TEXT,
    PRIMARY KEY (institution, primary_id, role_code, scope_kind, scope, parameters),
    FOREIGN KEY (institution, primary_id)
        REFERENCES state_account (institution, primary_id) ON DELETE CASCADE
);
CREATE TABLE state_login (
    primary_id   TEXT NOT NULL COLLATE NOCASE,
    institution  TEXT NOT NULL DEFAULT '',
    login_date   TEXT NOT NULL,
    source       TEXT NOT NULL,
    PRIMARY KEY (primary_id, institution, login_date)
);
CREATE TABLE state_changeset (
    id                   INTEGER PRIMARY KEY,
    fingerprint          TEXT NOT NULL UNIQUE,
    submission_id        TEXT NOT NULL,
    source               TEXT NOT NULL,
    requester_name       TEXT,
    requester_email      TEXT,
    processed_at         TEXT NOT NULL,
    applied_at           TEXT NOT NULL,
    operations           INTEGER NOT NULL,
    state_version_before INTEGER NOT NULL,
    changeset            TEXT NOT NULL
);
CREATE TABLE state_import (
    id          INTEGER PRIMARY KEY,
    file        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    accounts    INTEGER NOT NULL,
    roles       INTEGER NOT NULL,
    logins      INTEGER NOT NULL
);
CREATE TABLE state_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO state_meta (key, value) VALUES ('version', 0);
";

/// Migration `state-2`: what an export could not tell.
///
/// - `state_role.params_known`: 0 when the export had no parameter column (Analytics
///   reports have none), so the role's desks or service units are not known; they are not
///   "none" (see [`ParameterKnowledge`]).
/// - `state_role_unmatched`: roles an export names that the catalog does not know by name
///   (a code the catalog lacks is kept in `state_role`, but a name gives no code). Kept so
///   that they are reported and counted, never dropped.
pub const SCHEMA_2: &str = "
ALTER TABLE state_role ADD COLUMN params_known INTEGER NOT NULL DEFAULT 1
    CHECK (params_known IN (0, 1));
CREATE TABLE state_role_unmatched (
    institution  TEXT NOT NULL,
    primary_id   TEXT NOT NULL COLLATE NOCASE,
    role_name    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'INACTIVE')),
    expiry       TEXT,
    PRIMARY KEY (institution, primary_id, role_name, scope),
    FOREIGN KEY (institution, primary_id)
        REFERENCES state_account (institution, primary_id) ON DELETE CASCADE
);
";

/// Migration `state-3`: the active roles of an institution by code, so that the licence
/// check reads only the holders of a named role ([`licence::named_counts_of`]) instead of
/// every role of the state. It holds the primary ID, so that query reads the index alone.
pub const SCHEMA_3: &str = "
CREATE INDEX state_role_by_code ON state_role (institution, status, role_code, primary_id);
";

/// Why the state could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::db::DbError),
    /// A query failed.
    #[error("account state: {0}")]
    Sql(#[from] rusqlite::Error),
    /// An import file is not what it should be.
    #[error("{}: {message}", file.display())]
    Import {
        /// The file.
        file: PathBuf,
        /// What is wrong, with the row or column.
        message: String,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// An account as the state holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Institution code.
    pub institution: String,
    /// Alma primary identifier.
    pub primary_id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Preferred email.
    pub email: String,
    /// Internal or external.
    pub account_type: AccountType,
    /// Alma's user status (`ACTIVE`, `INACTIVE`).
    pub status: String,
}

impl Account {
    /// "First Last", or the ID when no name is known.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        let name = name.trim();
        if name.is_empty() {
            self.primary_id.clone()
        } else {
            name.to_string()
        }
    }
}

/// Whether the state knows a role's parameters (desks, service units, metadata types).
///
/// An Analytics "users with roles" report has no parameter column: a Circulation Desk
/// Operator imported from it has desks in Alma that the state does not know. Such a role
/// compares without its parameters, and its parameters are taken from Alma when it is
/// written back (`docs/state.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKnowledge {
    /// The export listed them: `parameters` is the whole list (empty means none).
    #[default]
    Known,
    /// The export could not tell: `parameters` is empty, and means nothing.
    Unknown,
}

/// A role an account holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Assignment {
    /// Alma role code.
    pub code: u32,
    /// Scope.
    pub scope: Scope,
    /// Desk or service unit, sorted (meaningful only when `parameters_known` is `Known`).
    pub parameters: Vec<Parameter>,
    /// Whether `parameters` is what Alma holds, or unknown (an Analytics import).
    pub parameters_known: ParameterKnowledge,
    /// True when ACTIVE.
    pub active: bool,
    /// Expiry date `YYYY-MM-DD`.
    pub expiry: Option<String>,
    /// The change set (submission id) that suspended it, when the inactivity audit did.
    pub suspended_by: Option<String>,
}

impl Assignment {
    /// True for a role that makes a staff account (anything but Patron).
    pub fn is_staff(&self) -> bool {
        self.code != PATRON_CODE
    }

    /// True when the export it came from could not tell its parameters.
    pub fn parameters_unknown(&self) -> bool {
        self.parameters_known == ParameterKnowledge::Unknown
    }

    /// True when it counts as a named (licensed) user: active, and a role the catalog
    /// counts (a code the catalog does not know counts, to be safe).
    pub fn is_named(&self, catalog: &Catalog) -> bool {
        self.active && named_code(catalog, self.code)
    }

    /// In words: "Circulation Desk Operator (32) at MAIN, desk DEFAULT_CIRC_DESK".
    pub fn describe(&self, catalog: &Catalog) -> String {
        use std::fmt::Write as _;
        // Written into one text (a `String` takes every `write!`): the Roles sheet
        // describes each role of each person twice, before and after.
        let role = catalog.role_by_code(self.code);
        let mut text = String::new();
        let _ = match role {
            Some(r) => write!(text, "{} ({})", r.name, self.code),
            None => write!(text, "Role {0} ({0})", self.code),
        };
        if let Scope::Library(l) = &self.scope {
            let _ = write!(text, " at {l}");
        }
        for p in &self.parameters {
            let _ = write!(text, ", {} {}", short_kind(p), p.value);
            if !matches!(&self.scope, Scope::Library(l) if *l == p.scope) {
                let _ = write!(text, " ({})", p.scope);
            }
        }
        if self.parameters_unknown() && role.is_none_or(|r| r.parameter.is_some()) {
            text.push_str(", parameters not in the export");
        }
        if let Some(e) = &self.expiry {
            let _ = write!(text, ", until {e}");
        }
        if !self.active {
            text.push_str(if self.suspended_by.is_some() {
                " [suspended]"
            } else {
                " [inactive]"
            });
        }
        text
    }
}

/// "desk", "service unit", "metadata type": a parameter's kind in a line of text.
pub(crate) fn short_kind(p: &Parameter) -> &'static str {
    match p.kind {
        crate::catalog::ParameterKind::CirculationDesk => "desk",
        other => other.describe(),
    }
}

/// " at MAIN" or "" for the institution.
pub(crate) fn scope_words(scope: &Scope) -> String {
    match scope {
        Scope::Institution(_) => String::new(),
        Scope::Library(l) => format!(" at {l}"),
    }
}

/// True when holding this role makes a named (licensed) user: the catalog's `named_user`
/// flag; a code the catalog does not know counts unless it is Patron.
pub fn named_code(catalog: &Catalog, code: u32) -> bool {
    catalog
        .role_by_code(code)
        .map_or(code != PATRON_CODE, |r| r.named_user)
}

/// Alma's name of a role, or "Role 123" for a code the catalog does not know.
pub fn role_name(catalog: &Catalog, code: u32) -> String {
    catalog
        .role_by_code(code)
        .map_or_else(|| format!("Role {code}"), |r| r.name.clone())
}

/// Canonical text of a parameter list (sorted JSON): part of a role's key.
pub(crate) fn params_key(parameters: &[Parameter]) -> String {
    let mut ps = parameters.to_vec();
    ps.sort();
    serde_json::to_string(&ps).unwrap_or_else(|_| "[]".to_string())
}

pub(crate) fn scope_columns(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Institution(c) => ("institution", c),
        Scope::Library(c) => ("library", c),
    }
}

/// A role an export names that the catalog does not know by name (so it has no code here):
/// kept beside the account, reported, and counted as a named user when active.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct UnmatchedRole {
    /// The name as the export wrote it ("Designs Analytics").
    pub name: String,
    /// The scope as the export wrote it (institution or library code).
    pub scope: String,
    /// True when ACTIVE.
    pub active: bool,
    /// Expiry date `YYYY-MM-DD`.
    pub expiry: Option<String>,
}

impl UnmatchedRole {
    /// In words: "Printout Queue Operator at MAIN (not in the catalog)".
    pub fn describe(&self) -> String {
        let mut text = format!("{} at {} (not in the catalog)", self.name, self.scope);
        if let Some(e) = &self.expiry {
            text.push_str(&format!(", until {e}"));
        }
        if !self.active {
            text.push_str(" [inactive]");
        }
        text
    }
}

/// The accounts a change set touches (institution, primary ID), in its order, each once.
/// Primary IDs compare without regard to ASCII case, as the state's columns do (`COLLATE
/// NOCASE`). Seen accounts are kept in a set: a linear search made a 10,000-line change set
/// cost 10,000 × 10,000 comparisons.
pub(crate) fn accounts_touched(cs: &crate::changeset::ChangeSet) -> Vec<(String, String)> {
    let mut seen: foldhash::HashSet<(&str, String)> = foldhash::HashSetExt::new();
    let mut people: Vec<(String, String)> = Vec::new();
    for op in &cs.operations {
        let (i, p) = op.account();
        if seen.insert((i, p.to_ascii_lowercase())) {
            people.push((i.to_string(), p.to_string()));
        }
    }
    people
}

/// One read of the state over many queries: see [`State::read_together`].
pub struct ReadTogether<'a> {
    conn: &'a Connection,
    open: bool,
}

impl Drop for ReadTogether<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// The account state in one database.
pub struct State {
    conn: Connection,
    path: PathBuf,
}

impl State {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<State, StateError> {
        Ok(State {
            conn: crate::db::open(path)?,
            path: path.to_path_buf(),
        })
    }

    /// An empty state in memory (tests).
    pub fn in_memory() -> Result<State, StateError> {
        Ok(State {
            conn: crate::db::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        })
    }

    /// The database file this state is in (`:memory:` for [`State::in_memory`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which state this is, for a change set and the outputs that say what a result was
    /// diffed against: its file and its version now.
    pub fn reference(&self) -> Result<crate::changeset::StateRef, StateError> {
        Ok(crate::changeset::StateRef {
            path: self.path.display().to_string(),
            version: self.version()?,
        })
    }

    /// The roles an export named that the catalog does not know, for one account.
    pub fn unmatched_roles(
        &self,
        institution: &str,
        primary_id: &str,
    ) -> Result<Vec<UnmatchedRole>, StateError> {
        unmatched_of(&self.conn, institution, primary_id)
    }

    /// Makes the queries until the guard is dropped one read of the state: one transaction
    /// instead of one per query, each of which took and released SQLite's file lock (a
    /// 10,000-line submission makes some 100,000 queries). Nothing is written through it:
    /// the guard ends the transaction with a rollback. Inside a transaction already, it does
    /// nothing. A state that cannot begin one is read query by query, as before.
    pub fn read_together(&self) -> ReadTogether<'_> {
        let open = self.conn.is_autocommit() && self.conn.execute_batch("BEGIN").is_ok();
        ReadTogether {
            conn: &self.conn,
            open,
        }
    }

    /// The connection, for the sub-modules.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The state's version: goes up by one with every import and every change set applied,
    /// so a change set can say which state it was made against.
    pub fn version(&self) -> Result<i64, StateError> {
        Ok(self.conn.query_row(
            "SELECT value FROM state_meta WHERE key = 'version'",
            [],
            |r| r.get(0),
        )?)
    }

    pub(crate) fn bump_version(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "UPDATE state_meta SET value = value + 1 WHERE key = 'version'",
            [],
        )?;
        Ok(())
    }

    /// The account of `institution` with this primary ID.
    pub fn account(
        &self,
        institution: &str,
        primary_id: &str,
    ) -> Result<Option<Account>, StateError> {
        Self::account_in(&self.conn, institution, primary_id)
    }

    pub(crate) fn account_in(
        conn: &Connection,
        institution: &str,
        primary_id: &str,
    ) -> Result<Option<Account>, StateError> {
        // Cached: a submission asks for each of its accounts several times.
        let mut stmt = conn.prepare_cached(
            "SELECT institution, primary_id, first_name, last_name, email, account_type, status
             FROM state_account WHERE institution = ?1 AND primary_id = ?2",
        )?;
        Ok(stmt
            .query_row(params![institution, primary_id.trim()], account_row)
            .optional()?)
    }

    /// Every account, by institution and primary ID.
    pub fn accounts(&self) -> Result<Vec<Account>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT institution, primary_id, first_name, last_name, email, account_type, status
             FROM state_account ORDER BY institution, primary_id",
        )?;
        let rows = stmt.query_map([], account_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The roles an account holds, sorted.
    pub fn roles(
        &self,
        institution: &str,
        primary_id: &str,
    ) -> Result<Vec<Assignment>, StateError> {
        roles_of(&self.conn, institution, primary_id)
    }

    /// The latest login on record for an account (from every Staff Login Report imported).
    pub fn last_login(
        &self,
        institution: &str,
        primary_id: &str,
    ) -> Result<Option<jiff::civil::Date>, StateError> {
        let text: Option<String> = self.conn.query_row(
            "SELECT MAX(login_date) FROM state_login
             WHERE primary_id = ?2 AND (institution = ?1 OR institution = '')",
            params![institution, primary_id.trim()],
            |r| r.get(0),
        )?;
        Ok(text.and_then(|t| t.parse().ok()))
    }
}

/// Whether text column `i` of the row is `want`, read without copying it.
fn text_is(r: &rusqlite::Row, i: usize, want: &str) -> rusqlite::Result<bool> {
    Ok(text_of(r, i)? == want)
}

/// Text column `i` of the row, borrowed (a column of another type is an error, as reading
/// it into a `String` gives).
fn text_of<'r>(r: &'r rusqlite::Row, i: usize) -> rusqlite::Result<&'r str> {
    let value = r.get_ref(i)?;
    value
        .as_str()
        .map_err(|_| rusqlite::Error::InvalidColumnType(i, String::new(), value.data_type()))
}

fn account_row(r: &rusqlite::Row) -> rusqlite::Result<Account> {
    let external = text_is(r, 5, "EXTERNAL")?;
    Ok(Account {
        institution: r.get(0)?,
        primary_id: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        email: r.get(4)?,
        account_type: if external {
            AccountType::External
        } else {
            AccountType::Internal
        },
        status: r.get(6)?,
    })
}

/// A role from the first eight columns of a `state_role` query, in the order `roles_of` selects.
pub(crate) fn role_row(r: &rusqlite::Row) -> rusqlite::Result<Assignment> {
    let library = text_is(r, 1, "library")?;
    let scope: String = r.get(2)?;
    // Most roles have no parameters: "[]" is the empty list without parsing it.
    let parameters = match text_of(r, 3)? {
        "[]" => Vec::new(),
        params => serde_json::from_str(params).unwrap_or_default(),
    };
    Ok(Assignment {
        code: r.get(0)?,
        scope: if library {
            Scope::Library(scope)
        } else {
            Scope::Institution(scope)
        },
        parameters,
        active: text_is(r, 4, "ACTIVE")?,
        expiry: r.get(5)?,
        suspended_by: r.get(6)?,
        parameters_known: if r.get::<_, bool>(7)? {
            ParameterKnowledge::Known
        } else {
            ParameterKnowledge::Unknown
        },
    })
}

pub(crate) fn roles_of(
    conn: &Connection,
    institution: &str,
    primary_id: &str,
) -> Result<Vec<Assignment>, StateError> {
    let mut stmt = conn.prepare_cached(
        "SELECT role_code, scope_kind, scope, parameters, status, expiry, suspended_by, params_known
         FROM state_role WHERE institution = ?1 AND primary_id = ?2",
    )?;
    let rows = stmt.query_map(params![institution, primary_id.trim()], role_row)?;
    let mut roles: Vec<Assignment> = rows.collect::<Result<_, _>>()?;
    roles.sort();
    Ok(roles)
}

/// Inserts or replaces one role of an account (the account must exist).
pub(crate) fn put_role(
    conn: &Connection,
    institution: &str,
    primary_id: &str,
    a: &Assignment,
) -> rusqlite::Result<()> {
    let (kind, scope) = scope_columns(&a.scope);
    conn.prepare_cached(
        "INSERT INTO state_role
             (institution, primary_id, role_code, scope_kind, scope, parameters, status, expiry,
              suspended_by, params_known)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT DO UPDATE SET status = excluded.status, expiry = excluded.expiry,
             suspended_by = excluded.suspended_by, params_known = excluded.params_known",
    )?
    .execute(params![
        institution,
        primary_id,
        a.code,
        kind,
        scope,
        params_key(&a.parameters),
        if a.active { "ACTIVE" } else { "INACTIVE" },
        a.expiry,
        a.suspended_by,
        !a.parameters_unknown(),
    ])?;
    Ok(())
}

/// A role known only by name from the first four columns of a `state_role_unmatched` query.
pub(crate) fn unmatched_row(r: &rusqlite::Row) -> rusqlite::Result<UnmatchedRole> {
    Ok(UnmatchedRole {
        name: r.get(0)?,
        scope: r.get(1)?,
        active: r.get::<_, String>(2)? == "ACTIVE",
        expiry: r.get(3)?,
    })
}

pub(crate) fn unmatched_of(
    conn: &Connection,
    institution: &str,
    primary_id: &str,
) -> Result<Vec<UnmatchedRole>, StateError> {
    let mut stmt = conn.prepare_cached(
        "SELECT role_name, scope, status, expiry FROM state_role_unmatched
         WHERE institution = ?1 AND primary_id = ?2 ORDER BY role_name, scope",
    )?;
    let rows = stmt.query_map(params![institution, primary_id.trim()], unmatched_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts one role the catalog does not know by name (the account must exist).
pub(crate) fn put_unmatched(
    conn: &Connection,
    institution: &str,
    primary_id: &str,
    u: &UnmatchedRole,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO state_role_unmatched (institution, primary_id, role_name, scope, status, expiry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO UPDATE SET status = excluded.status, expiry = excluded.expiry",
    )?
    .execute(params![
        institution,
        primary_id,
        u.name,
        u.scope,
        if u.active { "ACTIVE" } else { "INACTIVE" },
        u.expiry,
    ])?;
    Ok(())
}

/// Alma's code of an account type, as the state and the Users API write it.
pub(crate) fn account_type_code(t: AccountType) -> &'static str {
    match t {
        AccountType::Internal => "INTERNAL",
        AccountType::External => "EXTERNAL",
    }
}

/// Inserts an account, or updates its person fields when it exists.
pub(crate) fn put_account(conn: &Connection, a: &Account, by: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO state_account
             (institution, primary_id, first_name, last_name, email, account_type, status, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT DO UPDATE SET first_name = excluded.first_name,
             last_name = excluded.last_name, email = excluded.email,
             account_type = excluded.account_type, status = excluded.status,
             updated_by = excluded.updated_by",
    )?
    .execute(params![
        a.institution,
        a.primary_id,
        a.first_name,
        a.last_name,
        a.email,
        account_type_code(a.account_type),
        a.status,
        by,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_of_the_state_writes_nothing_and_ends_with_its_guard() {
        let state = State::in_memory().unwrap();
        let before = state.version().unwrap();
        {
            let _together = state.read_together();
            assert!(!state.conn().is_autocommit(), "one transaction");
            // A preview inside it (savepoint, writes, rollback to) still works.
            State::bump_version(state.conn()).unwrap();
            let nested = state.read_together();
            assert!(!nested.open, "inside a transaction it does nothing");
        }
        assert!(state.conn().is_autocommit());
        assert_eq!(state.version().unwrap(), before, "nothing written stays");
    }

    #[test]
    fn the_accounts_a_change_set_touches_are_listed_once_in_order_whatever_the_case() {
        let op = |inst: &str, id: &str| crate::changeset::Operation::RestoreRoles {
            institution: inst.into(),
            primary_id: id.into(),
            roles: Vec::new(),
            lines: Vec::new(),
        };
        let cs = crate::changeset::ChangeSet {
            schema: String::new(),
            submission: crate::changeset::SubmissionInfo {
                id: String::new(),
                source: String::new(),
                sha256: String::new(),
                processed_at: String::new(),
                requester_name: None,
                requester_email: None,
            },
            catalog_version: String::new(),
            state_version: None,
            state: None,
            operations: vec![op("B", "x1"), op("A", "y2"), op("B", "X1"), op("A", "x1")],
        };
        let touched = accounts_touched(&cs);
        let want = [("B", "x1"), ("A", "y2"), ("A", "x1")];
        assert_eq!(
            touched,
            want.map(|(i, p)| (i.to_string(), p.to_string())).to_vec()
        );
    }
}
