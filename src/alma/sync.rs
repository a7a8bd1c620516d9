//! `rolecall state sync`: refreshing the account state from Alma, one GET per account (the
//! accounts the state holds, one institution's, or given IDs), with roles, parameters and
//! account type. Roles outside the catalog are kept and reported, never dropped.
//!
//! [`record_user`] is also how the push records what Alma answered: the account and its
//! roles replaced by Alma's, keeping which roles the inactivity audit suspended.

use super::user::{self, assignments};
use super::{AlmaError, Client};
use crate::catalog::Catalog;
use crate::state::{Assignment, State, StateError, put_account, put_role, roles_of};
use rusqlite::{Connection, params};
use serde_json::Value as Json;

/// What the sync did for one account.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Synced {
    /// Institution.
    pub institution: String,
    /// Primary ID.
    pub primary_id: String,
    /// True when the state now holds what Alma does.
    pub refreshed: bool,
    /// Roles held, after the sync.
    pub roles: usize,
    /// What is worth saying: roles outside the catalog, parameters the state cannot hold,
    /// the error when the GET failed.
    pub notes: Vec<String>,
}

/// Replaces the state's account and roles with the user Alma returned. A role left
/// inactive keeps the suspension mark it had (so `Restore` still finds it); `suspended_by`
/// marks the roles a push just suspended. Returns notes on what the state cannot hold.
pub(crate) fn record_user(
    conn: &Connection,
    institution: &str,
    user: &Json,
    tag: &str,
    suspended: &[Assignment],
) -> Result<Vec<String>, StateError> {
    let mut account = user::account(institution, user);
    let (mut roles, notes) = assignments(institution, &user::roles_of(user));
    let before = roles_of(conn, institution, &account.primary_id)?;
    if let Some(old) = State::account_in(conn, institution, &account.primary_id)? {
        // The state's spelling of the ID stays its key.
        account.primary_id = old.primary_id;
    }
    for r in roles.iter_mut().filter(|r| !r.active) {
        let same =
            |a: &Assignment| a.code == r.code && a.scope == r.scope && a.parameters == r.parameters;
        if suspended.iter().any(same) {
            r.suspended_by = Some(tag.to_string());
        } else if let Some(old) = before.iter().find(|a| same(a) && !a.active) {
            r.suspended_by = old.suspended_by.clone();
        }
    }
    put_account(conn, &account, tag)?;
    conn.execute(
        "DELETE FROM state_role WHERE institution = ?1 AND primary_id = ?2",
        params![institution, account.primary_id],
    )?;
    // The live list names every role by code: roles an export knew only by name are in it.
    conn.execute(
        "DELETE FROM state_role_unmatched WHERE institution = ?1 AND primary_id = ?2",
        params![institution, account.primary_id],
    )?;
    for r in &roles {
        put_role(conn, institution, &account.primary_id, r)?;
    }
    Ok(notes)
}

/// The accounts a sync refreshes: the given IDs (at `institution`, or wherever the state
/// holds them), else every account of `institution`, else every account.
pub fn targets(
    state: &State,
    institution: Option<&str>,
    ids: &[String],
) -> Result<Vec<(String, String)>, String> {
    let all = state.accounts().map_err(|e| e.to_string())?;
    if ids.is_empty() {
        return Ok(all
            .into_iter()
            .filter(|a| institution.is_none_or(|i| a.institution == i))
            .map(|a| (a.institution, a.primary_id))
            .collect());
    }
    let mut out = Vec::new();
    for id in ids {
        let held: Vec<String> = all
            .iter()
            .filter(|a| a.primary_id.eq_ignore_ascii_case(id))
            .filter(|a| institution.is_none_or(|i| a.institution == i))
            .map(|a| a.institution.clone())
            .collect();
        match (held.is_empty(), institution) {
            (false, _) => out.extend(held.into_iter().map(|i| (i, id.clone()))),
            (true, Some(i)) => out.push((i.to_string(), id.clone())),
            (true, None) => {
                return Err(format!(
                    "{id} is not in the state: say which institution with --institution CODE"
                ));
            }
        }
    }
    Ok(out)
}

/// GETs one account and records it.
pub fn sync_one(
    state: &State,
    client: &mut Client,
    catalog: &Catalog,
    primary_id: &str,
    tag: &str,
) -> Result<Synced, AlmaError> {
    let institution = client.institution().to_string();
    let mut synced = Synced {
        institution: institution.clone(),
        primary_id: primary_id.to_string(),
        refreshed: false,
        roles: 0,
        notes: Vec::new(),
    };
    let user = match client.get_user(primary_id) {
        Ok(u) => u,
        Err(e) if e.is_not_found() => {
            synced
                .notes
                .push("not in Alma: the state keeps what it had".to_string());
            return Ok(synced);
        }
        Err(e) => return Err(e),
    };
    for k in user::keys(&user::roles_of(&user)) {
        if catalog.role_by_code(k.code).is_none() {
            synced.notes.push(format!(
                "keeps {}, a role outside the catalog",
                user::describe(&k, catalog)
            ));
        }
    }
    let conn = state.conn();
    let recorded = (|| -> Result<Vec<String>, StateError> {
        let tx = conn.unchecked_transaction()?;
        let notes = record_user(&tx, &institution, &user, tag, &[])?;
        State::bump_version(&tx)?;
        tx.commit()?;
        Ok(notes)
    })();
    match recorded {
        Ok(notes) => {
            synced.notes.extend(notes);
            synced.refreshed = true;
            synced.roles = user::keys(&user::roles_of(&user)).len();
        }
        Err(e) => synced.notes.push(format!("not recorded: {e}")),
    }
    Ok(synced)
}
