//! Alma payloads: `rolecall export CHANGESET --alma DIR` writes, per account, the JSON body
//! of the Alma Users API call that carries the change set out, and plain lists of primary
//! IDs for Alma's *Update/Notify Users* job (`docs/state.md` has the mapping).
//!
//! Updating a user in Alma is swap-all: the PUT body replaces the whole user, role list
//! included, and a body with no roles keeps the old ones. So every body carries the
//! account's complete role list after the change, computed by previewing the change set on
//! the state, and Patron is always in it (a person whose staff roles are all removed keeps
//! Patron, and sending it is what makes Alma drop the rest).

use super::{Account, Assignment, State, StateError, apply::preview, roles_of};
use crate::catalog::{Catalog, PATRON_CODE};
use crate::changeset::{ChangeSet, Operation};
use crate::validate::{AccountType, Scope};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the export wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exported {
    /// One JSON body per account.
    pub users: Vec<PathBuf>,
    /// `requests.tsv`: method, API path, body file.
    pub requests: PathBuf,
    /// The ID lists for the Update/Notify Users job.
    pub id_lists: Vec<PathBuf>,
}

fn coded(value: &str, desc: &str) -> Json {
    json!({ "value": value, "desc": desc })
}

/// The Alma Users API JSON of an account with these roles.
pub fn user_json(account: &Account, roles: &[Assignment], catalog: &Catalog) -> Json {
    let inst = catalog.institution(&account.institution);
    let scope_desc = |code: &str| -> String {
        inst.and_then(|i| {
            if i.code == code {
                Some(i.name.clone())
            } else {
                i.library(code).map(|l| l.name.clone())
            }
        })
        .unwrap_or_else(|| code.to_string())
    };
    let mut list: Vec<Json> = Vec::new();
    let mut has_patron = false;
    for a in roles {
        has_patron |= a.code == PATRON_CODE;
        let scope = match &a.scope {
            Scope::Institution(c) | Scope::Library(c) => c.clone(),
        };
        let mut role = json!({
            "status": if a.active { coded("ACTIVE", "Active") } else { coded("INACTIVE", "Inactive") },
            "scope": coded(&scope, &scope_desc(&scope)),
            "role_type": coded(&a.code.to_string(), &super::role_name(catalog, a.code)),
            "parameter": a.parameters.iter().map(|p| {
                let unit_name = inst
                    .and_then(|i| i.library(&p.scope))
                    .and_then(|l| l.units(p.kind).iter().find(|u| u.code == p.value))
                    .map_or(p.value.clone(), |u| u.name.clone());
                json!({
                    "type": { "value": format!("{:?}", p.kind) },
                    "scope": coded(&p.scope, &scope_desc(&p.scope)),
                    "value": coded(&p.value, &unit_name),
                })
            }).collect::<Vec<_>>(),
        });
        if let Some(e) = &a.expiry {
            role["expiry_date"] = json!(format!("{e}Z"));
        }
        list.push(role);
    }
    if !has_patron {
        // Swap-all: Patron must be in the list, or "no staff roles" would keep the old ones.
        list.insert(
            0,
            json!({
                "status": coded("ACTIVE", "Active"),
                "scope": coded(&account.institution, &scope_desc(&account.institution)),
                "role_type": coded(&PATRON_CODE.to_string(), "Patron"),
                "parameter": [],
            }),
        );
    }
    let (kind, kind_desc) = match account.account_type {
        AccountType::Internal => ("INTERNAL", "Internal"),
        AccountType::External => ("EXTERNAL", "External"),
    };
    json!({
        "primary_id": account.primary_id,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "account_type": coded(kind, kind_desc),
        "status": coded(&account.status, if account.status == "ACTIVE" { "Active" } else { "Inactive" }),
        "contact_info": {
            "email": if account.email.is_empty() { json!([]) } else { json!([{
                "email_address": account.email,
                "preferred": true,
                "email_type": [{ "value": "work", "desc": "Work" }],
            }]) },
        },
        "user_role": list,
    })
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Percent-encodes an ID for the API path.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Writes the payloads of `cs` under `dir`.
pub fn export(
    state: &State,
    cs: &ChangeSet,
    catalog: &Catalog,
    dir: &Path,
) -> Result<Exported, StateError> {
    let write = |path: &Path, bytes: &[u8]| -> Result<(), StateError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StateError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(path, bytes).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut people: Vec<(String, String)> = Vec::new();
    for op in &cs.operations {
        let (i, p) = op.account();
        if !people
            .iter()
            .any(|(a, b)| a == i && b.eq_ignore_ascii_case(p))
        {
            people.push((i.to_string(), p.to_string()));
        }
    }
    // POST for the accounts the change set creates, PUT for the others: decided from the
    // change set, not the state, so that exporting after `apply` gives the same calls.
    let existed: Vec<bool> = people
        .iter()
        .map(|(inst, id)| {
            !cs.operations.iter().any(|op| {
                let (i, p) = op.account();
                matches!(op, Operation::CreateAccount { .. })
                    && i == inst
                    && p.eq_ignore_ascii_case(id)
            })
        })
        .collect();
    let after = preview(state.conn(), &cs.operations, &cs.submission.id, |conn| {
        people
            .iter()
            .map(|(inst, id)| {
                Ok((
                    State::account_in(conn, inst, id)?,
                    roles_of(conn, inst, id)?,
                ))
            })
            .collect::<Result<Vec<_>, StateError>>()
    })?;
    let mut out = Exported {
        requests: dir.join("requests.tsv"),
        ..Exported::default()
    };
    let mut requests = String::from("method\tpath\tbody\n");
    for (((inst, id), existed), (account, roles)) in people.iter().zip(existed).zip(after) {
        let Some(account) = account else { continue };
        let rel = format!("{}/{}.json", safe(inst), safe(id));
        let path = dir.join(&rel);
        let mut body =
            serde_json::to_vec_pretty(&user_json(&account, &roles, catalog)).unwrap_or_default();
        body.push(b'\n');
        write(&path, &body)?;
        let (method, api) = if existed {
            ("PUT", format!("/almaws/v1/users/{}", encode(id)))
        } else {
            ("POST", "/almaws/v1/users".to_string())
        };
        requests.push_str(&format!("{method}\t{api}\t{rel}\n"));
        out.users.push(path);
    }
    write(&out.requests, requests.as_bytes())?;

    // ID lists for the Update/Notify Users job: one file per institution, operation and role.
    let mut lists: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
    for op in &cs.operations {
        let (inst, id) = op.account();
        let (what, with_params) = match op {
            Operation::AddRole {
                role,
                scope,
                parameters,
                ..
            } => (
                format!("add_role-{}-{}", role.code, scope_code(scope)),
                !parameters.is_empty(),
            ),
            Operation::RemoveRole { role, scope, .. } => (
                format!("remove_role-{}-{}", role.code, scope_code(scope)),
                false,
            ),
            Operation::RemoveAllStaffRoles { .. } => ("remove_all_staff_roles".into(), false),
            Operation::SuspendRoles { .. } => ("suspend_roles".into(), false),
            Operation::RestoreRoles { roles, .. } => (
                "restore_roles".into(),
                roles.iter().any(|g| !g.parameters.is_empty()),
            ),
            // The job cannot create accounts or change names: the API bodies do that.
            Operation::CreateAccount { .. } | Operation::UpdateAccount { .. } => continue,
        };
        let entry = lists.entry(format!("{}/{what}", safe(inst))).or_default();
        entry.0.push(id.to_string());
        entry.1 |= with_params;
    }
    let mut index = String::from(
        "ID lists for Alma's Update/Notify Users job (Admin > Manage Jobs and Sets), one set per file.\n\
         The job adds or removes a role without parameters only: roles marked CANNOT below take a\n\
         circulation desk or service unit, so carry those out with the API bodies in this folder.\n\n",
    );
    for (name, (ids, with_params)) in &lists {
        let rel = format!("update-users/{name}.txt");
        let path = dir.join(&rel);
        write(&path, (ids.join("\n") + "\n").as_bytes())?;
        index.push_str(&format!(
            "{rel}\t{} IDs{}\n",
            ids.len(),
            if *with_params {
                "\tCANNOT be done by the job (role with parameters): use the API bodies"
            } else {
                ""
            }
        ));
        out.id_lists.push(path);
    }
    write(&dir.join("update-users.txt"), index.as_bytes())?;
    Ok(out)
}

fn scope_code(s: &Scope) -> String {
    match s {
        Scope::Institution(c) | Scope::Library(c) => safe(c),
    }
}
