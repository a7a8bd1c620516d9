//! Alma files: `rolecall export CHANGESET --alma DIR` writes, per account, the roles the
//! change set leaves it with ("roles only — merge into a GET"), and plain lists of primary
//! IDs for Alma's *Update/Notify Users* job (`docs/state.md` has the format and the merge
//! rule).
//!
//! It never writes a whole user. Updating a user in Alma is swap-all: a PUT replaces every
//! list of the user (identifiers, addresses, notes, blocks, ...) with the body's, and gives
//! missing fields default values, so a body rebuilt from what the state knows would wipe
//! the rest. What the state knows well is the role list: each file carries that list after
//! the change (kept roles included, Patron always), and the documented merge puts it into
//! the user as a GET returns it, leaving every other field as Alma has it. Where the state
//! does not know a role's parameters or code (an Analytics import), the file says so, and
//! the merge takes those from the GET.

use super::{
    Account, Assignment, State, StateError, UnmatchedRole, apply::preview, roles_of, unmatched_of,
};
use crate::catalog::{Catalog, PATRON_CODE};
use crate::changeset::{ChangeSet, Operation};
use crate::textcells;
use crate::validate::Scope;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The label every roles file carries: it is not a body to send as it is.
pub const ROLES_ONLY: &str = "roles only — merge into a GET";

/// What the export wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exported {
    /// One roles file per account.
    pub roles: Vec<PathBuf>,
    /// `requests.tsv`: method, API path, roles file.
    pub requests: PathBuf,
    /// The ID lists for the Update/Notify Users job.
    pub id_lists: Vec<PathBuf>,
    /// The operations the job cannot do, in words (they are listed in `README.txt`).
    pub api_only: Vec<String>,
    /// `README.txt`: the format, the merge rule and the API-only operations.
    pub readme: PathBuf,
}

fn coded(value: &str, desc: &str) -> Json {
    json!({ "value": value, "desc": desc })
}

/// The name Alma gives a scope code: the institution's or a library's name from the catalog.
fn scope_desc(catalog: &Catalog, institution: &str, code: &str) -> String {
    catalog
        .institution(institution)
        .and_then(|i| {
            if i.code == code {
                Some(i.name.clone())
            } else {
                i.library(code).map(|l| l.name.clone())
            }
        })
        .unwrap_or_else(|| code.to_string())
}

/// One role in the Users API's `user_role` shape.
fn role_json(institution: &str, a: &Assignment, catalog: &Catalog) -> Json {
    let inst = catalog.institution(institution);
    let scope = match &a.scope {
        Scope::Institution(c) | Scope::Library(c) => c.clone(),
    };
    let parameters: Vec<Json> = a
        .parameters
        .iter()
        .map(|p| {
            let unit_name = inst
                .and_then(|i| i.library(&p.scope))
                .and_then(|l| l.units(p.kind).iter().find(|u| u.code == p.value))
                .map_or(p.value.clone(), |u| u.name.clone());
            json!({
                "type": { "value": format!("{:?}", p.kind) },
                "scope": coded(&p.scope, &scope_desc(catalog, institution, &p.scope)),
                "value": coded(&p.value, &unit_name),
            })
        })
        .collect();
    let mut role = json!({
        "status": if a.active { coded("ACTIVE", "Active") } else { coded("INACTIVE", "Inactive") },
        "scope": coded(&scope, &scope_desc(catalog, institution, &scope)),
        "role_type": coded(&a.code.to_string(), &super::role_name(catalog, a.code)),
        "parameter": parameters,
    });
    if let Some(e) = &a.expiry {
        role["expiry_date"] = json!(format!("{e}Z"));
    }
    role
}

/// The `user_role` list of an account with these roles, in the Users API's shape, Patron
/// always in it: a body with no roles keeps the old ones, so a person whose staff roles
/// are all removed is sent Patron alone.
pub fn user_role_list(institution: &str, roles: &[Assignment], catalog: &Catalog) -> Vec<Json> {
    let mut list: Vec<Json> = roles
        .iter()
        .map(|a| role_json(institution, a, catalog))
        .collect();
    if !roles.iter().any(|a| a.code == PATRON_CODE) {
        list.insert(
            0,
            json!({
                "status": coded("ACTIVE", "Active"),
                "scope": coded(institution, &scope_desc(catalog, institution, institution)),
                "role_type": coded(&PATRON_CODE.to_string(), "Patron"),
                "parameter": [],
            }),
        );
    }
    list
}

/// What the export knows of one account after the change set.
struct After {
    institution: String,
    primary_id: String,
    account: Option<Account>,
    roles: Vec<Assignment>,
    unmatched: Vec<UnmatchedRole>,
    /// The change set creates it: there is no user to GET yet.
    created: bool,
}

/// The roles file of one account (the format is in `docs/state.md`).
fn roles_file(after: &After, cs: &ChangeSet, catalog: &Catalog) -> Json {
    let (inst, id) = (&after.institution, &after.primary_id);
    let path = format!("/almaws/v1/users/{}", crate::alma::client::encode(id));
    let mut file = json!({
        "rolecall": ROLES_ONLY,
        "merge": if after.created {
            format!("create the user first (POST /almaws/v1/users with the institution's mandatory fields and the fields under \"create\"), then GET {path}?view=full&expand=none, replace user_role as below and PUT it back")
        } else {
            format!("GET {path}?view=full&expand=none; replace user_role only, as docs/state.md says (parameters_from_get, keep_from_get); PUT the whole user back to {path}")
        },
        "institution": inst,
        "primary_id": id,
        "user_role": user_role_list(inst, &after.roles, catalog),
        "parameters_from_get": after.roles.iter().filter(|a| a.parameters_unknown()).map(|a| json!({
            "role_type": a.code.to_string(),
            "scope": match &a.scope { Scope::Institution(c) | Scope::Library(c) => c },
        })).collect::<Vec<_>>(),
        "keep_from_get": after.unmatched.iter().map(|u| json!({
            "role_type_desc": u.name,
            "scope": u.scope,
        })).collect::<Vec<_>>(),
    });
    if let Some(update) = update_fields(cs, inst, id) {
        file["update"] = update;
    }
    if after.created
        && let Some(a) = &after.account
    {
        file["create"] = json!({
            "primary_id": a.primary_id,
            "first_name": a.first_name,
            "last_name": a.last_name,
            "email": a.email,
            "account_type": super::account_type_code(a.account_type),
        });
    }
    file
}

/// The name and email an `update_account` of the change set sets on this account.
fn update_fields(cs: &ChangeSet, inst: &str, id: &str) -> Option<Json> {
    cs.operations.iter().find_map(|op| match op {
        Operation::UpdateAccount {
            institution,
            primary_id,
            first_name,
            last_name,
            email,
            ..
        } if institution == inst && primary_id.eq_ignore_ascii_case(id) => {
            let mut u = serde_json::Map::new();
            for (key, value) in [
                ("first_name", first_name),
                ("last_name", last_name),
                ("email", email),
            ] {
                if let Some(v) = value {
                    u.insert(key.into(), json!(v));
                }
            }
            Some(Json::Object(u))
        }
        _ => None,
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
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
}

/// True when the change set creates this account. Decided from the change set, not the
/// state, so that exporting after `apply` gives the same files.
fn creates(cs: &ChangeSet, inst: &str, id: &str) -> bool {
    cs.operations.iter().any(|op| {
        let (i, p) = op.account();
        matches!(op, Operation::CreateAccount { .. }) && i == inst && p.eq_ignore_ascii_case(id)
    })
}

/// Every account of the change set as the state would hold it after it.
fn after_changeset(state: &State, cs: &ChangeSet) -> Result<Vec<After>, StateError> {
    let people = super::accounts_touched(cs);
    preview(state.conn(), &cs.operations, &cs.submission.id, |conn| {
        people
            .iter()
            .map(|(inst, id)| {
                Ok(After {
                    institution: inst.clone(),
                    primary_id: id.clone(),
                    account: State::account_in(conn, inst, id)?,
                    roles: roles_of(conn, inst, id)?,
                    unmatched: unmatched_of(conn, inst, id)?,
                    created: creates(cs, inst, id),
                })
            })
            .collect()
    })
}

/// Writes the files of `cs` under `dir`.
pub fn export(
    state: &State,
    cs: &ChangeSet,
    catalog: &Catalog,
    dir: &Path,
) -> Result<Exported, StateError> {
    let mut out = Exported {
        requests: dir.join("requests.tsv"),
        readme: dir.join("README.txt"),
        ..Exported::default()
    };
    let mut requests: Vec<[String; 3]> = vec![["method".into(), "path".into(), "roles".into()]];
    for after in after_changeset(state, cs)? {
        if after.account.is_none() {
            continue;
        }
        let rel = format!(
            "{}/{}.roles.json",
            safe(&after.institution),
            safe(&after.primary_id)
        );
        let path = dir.join(&rel);
        let mut body =
            serde_json::to_vec_pretty(&roles_file(&after, cs, catalog)).unwrap_or_default();
        body.push(b'\n');
        write(&path, &body)?;
        requests.push(if after.created {
            ["POST".into(), "/almaws/v1/users".into(), rel]
        } else {
            [
                "PUT".into(),
                format!(
                    "/almaws/v1/users/{}",
                    crate::alma::client::encode(&after.primary_id)
                ),
                rel,
            ]
        });
        out.roles.push(path);
    }
    write(&out.requests, &textcells::table(b'\t', &requests))?;
    let jobs = job_lists(cs, catalog);
    out.api_only = jobs.api_only;
    write_job_lists(dir, &jobs.lists, &mut out)?;
    write(&out.readme, readme(&out).as_bytes())?;
    Ok(out)
}

/// The ID lists for the Update/Notify Users job, and what it cannot do.
struct Jobs {
    /// `<institution>/<action>-<role>-<scope>` → primary IDs.
    lists: BTreeMap<String, Vec<String>>,
    /// Operations for the API only, in words.
    api_only: Vec<String>,
}

/// Sorts each operation into a job list, or the API-only list. The job adds or removes a
/// role by code and scope, and nothing else a public source shows: not a role that takes
/// a parameter (Ex Libris's KC), not an expiry, not setting roles inactive or active
/// again, not "every role but Patron" (alma-api.md 1.6).
fn job_lists(cs: &ChangeSet, catalog: &Catalog) -> Jobs {
    let mut jobs = Jobs {
        lists: BTreeMap::new(),
        api_only: Vec::new(),
    };
    let takes_parameter = |code: u32| {
        catalog
            .role_by_code(code)
            .is_none_or(|r| r.parameter.is_some())
    };
    for op in &cs.operations {
        let (inst, id) = op.account();
        let list = match op {
            Operation::AddRole {
                role,
                scope,
                parameters,
                expiry,
                ..
            } if parameters.is_empty() && expiry.is_none() && !takes_parameter(role.code) => {
                Some(format!("add_role-{}-{}", role.code, scope_code(scope)))
            }
            Operation::RemoveRole {
                role,
                scope,
                parameters,
                ..
            } if parameters.is_empty() && !takes_parameter(role.code) => {
                Some(format!("remove_role-{}-{}", role.code, scope_code(scope)))
            }
            // The job cannot create accounts or change names: nothing to list, and nothing
            // API-only to warn about beyond the roles files (they say "create").
            Operation::CreateAccount { .. } | Operation::UpdateAccount { .. } => continue,
            _ => None,
        };
        match list {
            Some(name) => jobs
                .lists
                .entry(format!("{}/{name}", safe(inst)))
                .or_default()
                .push(id.to_string()),
            None => jobs.api_only.push(super::apply::describe(op)),
        }
    }
    jobs
}

/// Writes each list (a `USERNAME` header, as a user set made from a file needs, then one
/// primary ID a line) and their index, `update-users.txt`.
fn write_job_lists(
    dir: &Path,
    lists: &BTreeMap<String, Vec<String>>,
    out: &mut Exported,
) -> Result<(), StateError> {
    let mut index: Vec<[String; 2]> = vec![["file".into(), "IDs".into()]];
    for (name, ids) in lists {
        let rel = format!("update-users/{name}.txt");
        let path = dir.join(&rel);
        let rows = std::iter::once("USERNAME".to_string())
            .chain(ids.iter().cloned())
            .map(|id| [id]);
        write(&path, &textcells::table(b'\t', rows))?;
        index.push([rel, ids.len().to_string()]);
        out.id_lists.push(path);
    }
    write(
        &dir.join("update-users.txt"),
        &textcells::table(b'\t', &index),
    )
}

/// `README.txt`: what each file is, the merge rule, and what only the API can do.
fn readme(out: &Exported) -> String {
    let mut text = format!(
        "Alma files written by rolecall export --alma\n\n\
         <institution>/<primary_id>.roles.json: {ROLES_ONLY}. Each holds the account's whole\n\
         role list after the change set (user_role, Patron always in it). Never PUT such a file\n\
         as it is: a PUT replaces the whole user. GET the user (view=full&expand=none), replace\n\
         its user_role with this list (take the parameters of the roles in parameters_from_get,\n\
         and keep the roles in keep_from_get, from the GET), apply \"update\" when present, and\n\
         PUT the whole user back. requests.tsv lists the call for each file. docs/state.md has\n\
         the rule step by step.\n\n\
         update-users/<institution>/<action>-<role>-<scope>.txt: IDs for Alma's Update/Notify\n\
         Users job, one set per file (first line USERNAME, as a set made from a file needs);\n\
         indexed in update-users.txt. The job adds or removes roles that take no parameter.\n"
    );
    if out.api_only.is_empty() {
        text.push_str("\nEvery role change here can also be done by the job.\n");
    } else {
        text.push_str(&format!(
            "\nAPI only ({} operations): the job cannot do these (a desk or service unit, an\n\
             expiry, suspending, restoring, removing every role but Patron); use the roles files:\n",
            out.api_only.len()
        ));
        for op in &out.api_only {
            text.push_str(&format!("  {op}\n"));
        }
    }
    text
}

fn scope_code(s: &Scope) -> String {
    match s {
        Scope::Institution(c) | Scope::Library(c) => safe(c),
    }
}
