//! `rolecall apply CHANGESET`: records a change set into the state once the help desk has
//! carried it out in Alma.
//!
//! Every operation is idempotent on its own (adding a role held, removing one not held,
//! creating an account that exists change nothing), and the whole change set is recorded in
//! the audit log under a fingerprint of its content: applying it twice changes nothing the
//! second time. A change set made against an older state (its `state_version` is not the
//! current one) is re-checked: each operation that no longer changes anything is reported.
//! The same code previews a change set (inside a savepoint that is rolled back) for the
//! before/after sheet and the Alma payloads.

use super::touched::Holding;
use super::{
    Account, Assignment, ParameterKnowledge, State, StateError, put_account, put_role, roles_of,
};
use crate::catalog::PATRON_CODE;
use crate::changeset::{ChangeSet, Operation, RoleGrant};
use crate::validate::{AccountType, Parameter, Scope};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// True when this change set was recorded before: nothing changed now.
    pub already_applied_at: Option<String>,
    /// True when the change set was made against another state version.
    pub rechecked: bool,
    /// Operations that changed the state.
    pub changed: usize,
    /// One line per operation that changed nothing, saying why.
    pub notes: Vec<String>,
    /// What the re-check of a change set made against an older state found: accounts the
    /// state does not hold where the change set says.
    pub rechecks: Vec<String>,
}

/// A stable fingerprint of a change set: its submission and operations.
pub fn fingerprint(cs: &ChangeSet) -> String {
    let mut h = Sha256::new();
    h.update(cs.submission.id.as_bytes());
    h.update(cs.submission.sha256.as_bytes());
    h.update(serde_json::to_vec(&cs.operations).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Records `cs` into the state. `now` is when it was applied (RFC 3339).
pub fn apply(state: &mut State, cs: &ChangeSet, now: &str) -> Result<Applied, StateError> {
    let fp = fingerprint(cs);
    let version = state.version()?;
    let tx = state.conn.transaction()?;
    let before: Option<String> = tx
        .query_row(
            "SELECT applied_at FROM state_changeset WHERE fingerprint = ?1",
            [&fp],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(at) = before {
        return Ok(Applied {
            already_applied_at: Some(at),
            rechecked: false,
            changed: 0,
            notes: Vec::new(),
            rechecks: Vec::new(),
        });
    }
    let mut applied = Applied {
        already_applied_at: None,
        rechecked: cs.state_version.is_some_and(|v| v != version),
        changed: 0,
        notes: Vec::new(),
        rechecks: Vec::new(),
    };
    if applied.rechecked {
        applied.rechecks = recheck(&tx, cs)?;
    }
    for op in &cs.operations {
        match apply_op(&tx, op, &cs.submission.id)? {
            None => applied.changed += 1,
            Some(note) => applied.notes.push(format!("{}: {note}", describe(op))),
        }
    }
    tx.execute(
        "INSERT INTO state_changeset (fingerprint, submission_id, source, requester_name,
             requester_email, processed_at, applied_at, operations, state_version_before, changeset)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            fp,
            cs.submission.id,
            cs.submission.source,
            cs.submission.requester_name,
            cs.submission.requester_email,
            cs.submission.processed_at,
            now,
            cs.operations.len() as i64,
            version,
            serde_json::to_string(cs).unwrap_or_default(),
        ],
    )?;
    State::bump_version(&tx)?;
    tx.commit()?;
    Ok(applied)
}

/// A change set made against another state version: the accounts it changes that the state
/// no longer holds where the change set says (each said once). The operations that no
/// longer change anything are noted as they are applied.
fn recheck(conn: &Connection, cs: &ChangeSet) -> Result<Vec<String>, StateError> {
    let mut notes = Vec::new();
    // The accounts the change set creates are new on purpose.
    let mut seen: std::collections::HashSet<(String, String)> = cs
        .operations
        .iter()
        .filter(|op| matches!(op, Operation::CreateAccount { .. }))
        .map(|op| {
            let (inst, id) = op.account();
            (inst.to_string(), id.to_lowercase())
        })
        .collect();
    for op in &cs.operations {
        let (inst, id) = op.account();
        if !seen.insert((inst.to_string(), id.to_lowercase())) || exists(conn, inst, id)? {
            continue;
        }
        let elsewhere: Option<String> = conn
            .query_row(
                "SELECT institution FROM state_account WHERE primary_id = ?1 AND institution != ?2
                 ORDER BY institution LIMIT 1",
                params![id, inst],
                |r| r.get(0),
            )
            .optional()?;
        notes.push(match elsewhere {
            Some(other) => format!(
                "{id} is not an account of {inst} in the state but of {other} (the change set \
                 was made against an older state): recorded at {inst}, as the change set says"
            ),
            None => format!(
                "{id} is not in the state at {inst} (the change set was made against an older \
                 state): recorded as a new account; its name and email come with the next import"
            ),
        });
    }
    Ok(notes)
}

/// Runs `f` with `ops` applied, then rolls them back: a preview of the state after a
/// change set.
pub(crate) fn preview<T>(
    conn: &Connection,
    ops: &[Operation],
    tag: &str,
    f: impl FnOnce(&Connection) -> Result<T, StateError>,
) -> Result<T, StateError> {
    conn.execute_batch("SAVEPOINT rolecall_preview")?;
    let result = (|| {
        for op in ops {
            apply_op(conn, op, tag)?;
        }
        f(conn)
    })();
    conn.execute_batch("ROLLBACK TO rolecall_preview; RELEASE rolecall_preview")?;
    result
}

fn exists(conn: &Connection, inst: &str, id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM state_account WHERE institution = ?1 AND primary_id = ?2)",
        params![inst, id],
        |r| r.get(0),
    )
}

fn patron(inst: &str) -> Assignment {
    Assignment {
        code: PATRON_CODE,
        scope: Scope::Institution(inst.to_string()),
        parameters: Vec::new(),
        active: true,
        expiry: None,
        suspended_by: None,
        parameters_known: ParameterKnowledge::Known,
    }
}

/// Makes sure the account exists (an operation on an account the state does not hold yet:
/// e.g. an external account the campus system loaded after the last import).
fn ensure_account(conn: &Connection, inst: &str, id: &str, tag: &str) -> rusqlite::Result<bool> {
    if exists(conn, inst, id)? {
        return Ok(false);
    }
    put_account(
        conn,
        &Account {
            institution: inst.into(),
            primary_id: id.into(),
            first_name: String::new(),
            last_name: String::new(),
            email: String::new(),
            account_type: AccountType::Internal,
            status: "ACTIVE".into(),
        },
        tag,
    )?;
    put_role(conn, inst, id, &patron(inst))?;
    Ok(true)
}

/// Deletes a held role: at `scope` with exactly `parameters`, or with any when `None`.
/// Returns how many rows went.
fn delete_role(
    conn: &Connection,
    inst: &str,
    id: &str,
    code: u32,
    scope: &Scope,
    parameters: Option<&[Parameter]>,
) -> rusqlite::Result<usize> {
    let (kind, scope) = super::scope_columns(scope);
    match parameters {
        None => conn.execute(
            "DELETE FROM state_role WHERE institution = ?1 AND primary_id = ?2
             AND role_code = ?3 AND scope_kind = ?4 AND scope = ?5",
            params![inst, id, code, kind, scope],
        ),
        Some(parameters) => conn.execute(
            "DELETE FROM state_role WHERE institution = ?1 AND primary_id = ?2
             AND role_code = ?3 AND scope_kind = ?4 AND scope = ?5 AND parameters = ?6",
            params![inst, id, code, kind, scope, super::params_key(parameters)],
        ),
    }
}

fn same_grant(a: &Assignment, g: &RoleGrant) -> bool {
    a.code == g.role.code && a.scope == g.scope && a.parameters == sorted(&g.parameters)
}

/// The active assignment an `AddRole` asks for, as the state holds it.
fn requested(
    code: u32,
    scope: &Scope,
    parameters: &[Parameter],
    expiry: &Option<String>,
) -> Assignment {
    Assignment {
        code,
        scope: scope.clone(),
        parameters: sorted(parameters),
        active: true,
        expiry: expiry.clone(),
        suspended_by: None,
        parameters_known: ParameterKnowledge::Known,
    }
}

fn sorted(ps: &[Parameter]) -> Vec<Parameter> {
    let mut v = ps.to_vec();
    v.sort();
    v
}

/// Applies one operation; `Some(reason)` when it changed nothing.
pub(crate) fn apply_op(
    conn: &Connection,
    op: &Operation,
    tag: &str,
) -> Result<Option<String>, StateError> {
    let (inst, id) = op.account();
    let changed = match op {
        Operation::CreateAccount {
            first_name,
            last_name,
            email,
            account_type,
            ..
        } => {
            let account = Account {
                institution: inst.into(),
                primary_id: id.into(),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                email: email.clone(),
                account_type: *account_type,
                status: "ACTIVE".into(),
            };
            create_account(conn, &account, tag)?.or_note("the account exists already")
        }
        Operation::UpdateAccount {
            first_name,
            last_name,
            email,
            ..
        } => update_account(conn, (inst, id), [first_name, last_name, email], tag)?
            .or_note(&format!("{id} has these already (or is not in the state)")),
        Operation::AddRole {
            role,
            scope,
            parameters,
            expiry,
            ..
        } => {
            let want = requested(role.code, scope, parameters, expiry);
            add_role(conn, (inst, id), &want, tag)?.or_note(&format!("{id} already has it"))
        }
        Operation::RemoveRole {
            role,
            scope,
            parameters,
            ..
        } => {
            // Without parameters: at that scope, whatever its desks.
            let desks = Some(parameters.as_slice()).filter(|p| !p.is_empty());
            (delete_role(conn, inst, id, role.code, scope, desks)? > 0)
                .or_note(&format!("{id} does not have it"))
        }
        Operation::RemoveAllStaffRoles { keep, .. } => {
            remove_all_staff_roles(conn, (inst, id), keep)?
                .or_note(&format!("{id} has no staff roles"))
        }
        Operation::SuspendRoles { roles, .. } => set_active(conn, (inst, id), roles, false, tag)?
            .or_note(&format!("none of these roles of {id} is active")),
        Operation::RestoreRoles { roles, .. } => set_active(conn, (inst, id), roles, true, tag)?
            .or_note(&format!("{id} has none of these roles suspended")),
    };
    Ok(changed)
}

/// What [`apply_op`] does to one account, done to what the state holds for it in memory
/// (the preview of a change set: the roles after, without writing). It must keep to
/// `apply_op` rule for rule; a test runs both on the same operations and compares.
pub(crate) fn apply_in_memory(h: &mut Holding, op: &Operation, tag: &str) {
    let (inst, id) = op.account();
    match op {
        Operation::CreateAccount {
            first_name,
            last_name,
            email,
            account_type,
            ..
        } => {
            let names = [first_name, last_name, email];
            create_in_memory(h, || new_account(inst, id, names, *account_type));
        }
        Operation::UpdateAccount {
            first_name,
            last_name,
            email,
            ..
        } => {
            if let Some(a) = &mut h.account {
                for (field, new) in [
                    (&mut a.first_name, first_name),
                    (&mut a.last_name, last_name),
                    (&mut a.email, email),
                ] {
                    if let Some(new) = new {
                        field.clone_from(new);
                    }
                }
            }
        }
        Operation::AddRole {
            role,
            scope,
            parameters,
            expiry,
            ..
        } => {
            let blank = String::new();
            let names = [&blank, &blank, &blank];
            create_in_memory(h, || new_account(inst, id, names, AccountType::Internal));
            let want = requested(role.code, scope, parameters, expiry);
            if !h.roles.contains(&want) {
                upsert(&mut h.roles, want);
            }
        }
        Operation::RemoveRole {
            role,
            scope,
            parameters,
            ..
        } => {
            // Without parameters: at that scope, whatever its desks.
            let desks = sorted(parameters);
            h.roles.retain(|a| {
                !(a.code == role.code
                    && a.scope == *scope
                    && (desks.is_empty() || a.parameters == desks))
            });
        }
        Operation::RemoveAllStaffRoles { keep, .. } => {
            h.roles.retain(|a| keep.iter().any(|k| k.code == a.code));
            h.unmatched.clear();
        }
        Operation::SuspendRoles { roles, .. } => set_active_in_memory(h, roles, false, tag),
        Operation::RestoreRoles { roles, .. } => set_active_in_memory(h, roles, true, tag),
    }
    h.roles.sort();
}

/// An account as `apply` creates it: the names, email and type given, active.
fn new_account(
    inst: &str,
    id: &str,
    [first, last, email]: [&String; 3],
    account_type: AccountType,
) -> Account {
    Account {
        institution: inst.into(),
        primary_id: id.into(),
        first_name: first.clone(),
        last_name: last.clone(),
        email: email.clone(),
        account_type,
        status: "ACTIVE".into(),
    }
}

/// [`create_account`] and [`ensure_account`] in memory: an account the state lacks is
/// created, with Patron (Alma gives every account Patron); one it holds stays as it is.
fn create_in_memory(h: &mut Holding, account: impl FnOnce() -> Account) {
    if h.account.is_none() {
        let account = account();
        let inst = account.institution.clone();
        h.account = Some(account);
        upsert(&mut h.roles, patron(&inst));
    }
}

/// [`put_role`] in memory: a role with the same code, scope and parameters is the same row,
/// and takes the new status, expiry, suspension and parameter knowledge.
fn upsert(roles: &mut Vec<Assignment>, want: Assignment) {
    let same_row = |a: &Assignment| {
        a.code == want.code && a.scope == want.scope && a.parameters == want.parameters
    };
    match roles.iter_mut().find(|a| same_row(a)) {
        Some(row) => {
            row.active = want.active;
            row.expiry = want.expiry;
            row.suspended_by = want.suspended_by;
            row.parameters_known = want.parameters_known;
        }
        None => roles.push(want),
    }
}

/// [`set_active`] in memory.
fn set_active_in_memory(h: &mut Holding, roles: &[RoleGrant], active: bool, tag: &str) {
    for a in &mut h.roles {
        let eligible = if active {
            !a.active && a.suspended_by.is_some()
        } else {
            a.active
        };
        if eligible && roles.iter().any(|g| same_grant(a, g)) {
            a.active = active;
            a.suspended_by = (!active).then(|| tag.to_string());
        }
    }
}

/// `changed.or_note(why)`: `None` when the operation changed something, else why it did not.
trait ChangedOr {
    fn or_note(self, why: &str) -> Option<String>;
}

impl ChangedOr for bool {
    fn or_note(self, why: &str) -> Option<String> {
        (!self).then(|| why.to_string())
    }
}

/// An account: (institution, primary ID).
type Who<'a> = (&'a str, &'a str);

fn create_account(conn: &Connection, account: &Account, tag: &str) -> Result<bool, StateError> {
    let (inst, id) = (account.institution.as_str(), account.primary_id.as_str());
    if exists(conn, inst, id)? {
        return Ok(false);
    }
    put_account(conn, account, tag)?;
    // Alma gives every account Patron.
    put_role(conn, inst, id, &patron(inst))?;
    Ok(true)
}

/// Sets the given name, family name and email that are `Some`; true when one changed.
fn update_account(
    conn: &Connection,
    (inst, id): Who,
    [first_name, last_name, email]: [&Option<String>; 3],
    tag: &str,
) -> Result<bool, StateError> {
    let n = conn.execute(
        "UPDATE state_account SET
             first_name = COALESCE(?3, first_name),
             last_name = COALESCE(?4, last_name),
             email = COALESCE(?5, email),
             updated_by = ?6
         WHERE institution = ?1 AND primary_id = ?2
           AND (first_name IS NOT COALESCE(?3, first_name)
                OR last_name IS NOT COALESCE(?4, last_name)
                OR email IS NOT COALESCE(?5, email))",
        params![inst, id, first_name, last_name, email, tag],
    )?;
    Ok(n > 0)
}

fn add_role(
    conn: &Connection,
    (inst, id): Who,
    want: &Assignment,
    tag: &str,
) -> Result<bool, StateError> {
    ensure_account(conn, inst, id, tag)?;
    if roles_of(conn, inst, id)?.contains(want) {
        return Ok(false);
    }
    put_role(conn, inst, id, want)?;
    Ok(true)
}

/// Every role but those kept (Patron), roles known only by name included.
fn remove_all_staff_roles(
    conn: &Connection,
    (inst, id): Who,
    keep: &[crate::changeset::RoleRef],
) -> Result<bool, StateError> {
    let keep: Vec<u32> = keep.iter().map(|r| r.code).collect();
    let mut n = 0;
    for a in roles_of(conn, inst, id)? {
        if !keep.contains(&a.code) {
            n += delete_role(conn, inst, id, a.code, &a.scope, Some(&a.parameters))?;
        }
    }
    // Roles known only by name are staff roles too (Patron is always in the catalog).
    n += conn.execute(
        "DELETE FROM state_role_unmatched WHERE institution = ?1 AND primary_id = ?2",
        params![inst, id],
    )?;
    Ok(n > 0)
}

/// Suspends (`active` false: the active ones, marked with `tag`) or restores (`active`
/// true: the ones a suspension marked) exactly the roles listed.
fn set_active(
    conn: &Connection,
    (inst, id): Who,
    roles: &[RoleGrant],
    active: bool,
    tag: &str,
) -> Result<bool, StateError> {
    let mut n = 0;
    for mut a in roles_of(conn, inst, id)? {
        let eligible = if active {
            !a.active && a.suspended_by.is_some()
        } else {
            a.active
        };
        if eligible && roles.iter().any(|g| same_grant(&a, g)) {
            a.active = active;
            a.suspended_by = (!active).then(|| tag.to_string());
            put_role(conn, inst, id, &a)?;
            n += 1;
        }
    }
    Ok(n > 0)
}

fn grant_words(g: &RoleGrant) -> String {
    let mut text = format!("{}{}", g.role.name, super::scope_words(&g.scope));
    for p in &g.parameters {
        text.push_str(&format!(", {} {}", p.kind.describe(), p.value));
    }
    text
}

/// One operation in words, for `apply --dry-run`: "add Circulation Desk Operator at MAIN,
/// desk DEFAULT_CIRC_DESK, to jdoe".
pub fn describe(op: &Operation) -> String {
    let (inst, id) = op.account();
    let params = |ps: &[Parameter]| {
        ps.iter()
            .map(|p| format!(", {} {}", super::short_kind(p), p.value))
            .collect::<String>()
    };
    let list = |gs: &[RoleGrant]| gs.iter().map(grant_words).collect::<Vec<_>>().join("; ");
    match op {
        Operation::CreateAccount {
            first_name,
            last_name,
            email,
            ..
        } => format!("create {id} ({first_name} {last_name} <{email}>) at {inst}"),
        Operation::AddRole {
            role,
            scope,
            parameters,
            expiry,
            ..
        } => format!(
            "add {}{}{}{}, to {id}",
            role.name,
            super::scope_words(scope),
            params(parameters),
            expiry
                .as_ref()
                .map(|e| format!(", until {e}"))
                .unwrap_or_default()
        ),
        Operation::RemoveRole {
            role,
            scope,
            parameters,
            ..
        } => format!(
            "remove {}{}{}, from {id}",
            role.name,
            super::scope_words(scope),
            params(parameters)
        ),
        Operation::RemoveAllStaffRoles { .. } => {
            format!("remove every staff role (Patron kept) from {id} at {inst}")
        }
        Operation::UpdateAccount {
            first_name,
            last_name,
            email,
            ..
        } => format!(
            "update {id} at {inst}: {}",
            crate::changeset::describe_update(first_name, last_name, email)
        ),
        Operation::SuspendRoles { roles, reason, .. } => {
            format!("suspend {} of {id} ({reason})", list(roles))
        }
        Operation::RestoreRoles { roles, .. } => {
            format!("restore {} to {id}", list(roles))
        }
    }
}
