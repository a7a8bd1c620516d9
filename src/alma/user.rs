//! The Alma user JSON as the push and the sync use it: a role's comparable key, the change
//! set's operations applied to a live `user_role` list, and a user read into the state's
//! [`Account`] and [`Assignment`]s.
//!
//! A live role is kept as the JSON Alma returned (every field it has, including ones this
//! program does not know), and only the roles an operation names are touched. Roles are
//! compared by [`RoleKey`]: code, scope, status, expiry and the parameters the state can
//! hold (`CirculationDesk`, `ServiceUnit`, `MetadataType`; another type is kept in Alma
//! but not compared).

use crate::catalog::{Catalog, PATRON_CODE, ParameterKind};
use crate::changeset::{Operation, RoleGrant};
use crate::state::{Account, Assignment};
use crate::validate::{AccountType, Parameter, Scope};
use serde_json::{Value as Json, json};

/// A parameter as compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ParamKey {
    /// `CirculationDesk`, `ServiceUnit`.
    pub kind: String,
    /// The parameter's library.
    pub scope: String,
    /// Desk or unit code.
    pub value: String,
}

/// A role as compared: what makes two roles the same grant in the same state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RoleKey {
    /// Role code.
    pub code: u32,
    /// Scope code (the institution or a library).
    pub scope: String,
    /// Desks, service units: sorted.
    pub parameters: Vec<ParamKey>,
    /// ACTIVE.
    pub active: bool,
    /// `YYYY-MM-DD`.
    pub expiry: Option<String>,
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        Json::Object(_) => text(&v["value"]),
        _ => String::new(),
    }
}

/// The parameter kinds the state can hold; others are kept in Alma and not compared.
fn state_kind(kind: &str) -> Option<ParameterKind> {
    match kind {
        "CirculationDesk" => Some(ParameterKind::CirculationDesk),
        "ServiceUnit" => Some(ParameterKind::ServiceUnit),
        "MetadataType" => Some(ParameterKind::MetadataType),
        _ => None,
    }
}

fn kind_word(kind: ParameterKind) -> &'static str {
    match kind {
        ParameterKind::CirculationDesk => "CirculationDesk",
        ParameterKind::ServiceUnit => "ServiceUnit",
        ParameterKind::MetadataType => "MetadataType",
    }
}

/// The comparable parameters of a live role, sorted.
fn live_params(role: &Json) -> Vec<ParamKey> {
    let mut ps: Vec<ParamKey> = role["parameter"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|p| ParamKey {
            kind: text(&p["type"]),
            scope: text(&p["scope"]),
            value: text(&p["value"]),
        })
        .filter(|p| state_kind(&p.kind).is_some())
        .collect();
    ps.sort();
    ps.dedup();
    ps
}

fn param_keys(ps: &[Parameter]) -> Vec<ParamKey> {
    let mut v: Vec<ParamKey> = ps
        .iter()
        .map(|p| ParamKey {
            kind: kind_word(p.kind).to_string(),
            scope: p.scope.clone(),
            value: p.value.clone(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The key of a live role.
pub fn key_of(role: &Json) -> RoleKey {
    let status = text(&role["status"]);
    let expiry = text(&role["expiry_date"]);
    RoleKey {
        code: text(&role["role_type"]).parse().unwrap_or(u32::MAX),
        scope: text(&role["scope"]),
        parameters: live_params(role),
        // Alma: an empty status means Active.
        active: status.is_empty() || status.eq_ignore_ascii_case("ACTIVE"),
        expiry: (!expiry.is_empty()).then(|| expiry.chars().take(10).collect()),
    }
}

/// The key of a role the state holds.
pub fn key_of_assignment(a: &Assignment) -> RoleKey {
    RoleKey {
        code: a.code,
        scope: scope_code(&a.scope).to_string(),
        parameters: param_keys(&a.parameters),
        active: a.active,
        expiry: a.expiry.clone(),
    }
}

/// Whether the state knows this role's parameters (migration `state-2`: an Analytics
/// import has no parameter column). This is the one place the drift check asks.
pub fn params_known(a: &Assignment) -> bool {
    !a.parameters_unknown()
}

/// Sorted keys of a live role list.
pub fn keys(roles: &[Json]) -> Vec<RoleKey> {
    let mut v: Vec<RoleKey> = roles.iter().map(key_of).collect();
    v.sort();
    v.dedup();
    v
}

/// The live roles against the state's: the differences in words (empty when they agree).
/// A role whose parameters the state does not know is compared without them.
pub fn drift(live: &[Json], state: &[Assignment], catalog: &Catalog) -> Vec<String> {
    let unknown: Vec<(u32, String)> = state
        .iter()
        .filter(|a| !params_known(a))
        .map(|a| (a.code, scope_code(&a.scope).to_string()))
        .collect();
    let blind = |mut k: RoleKey| {
        if unknown.contains(&(k.code, k.scope.clone())) {
            k.parameters.clear();
        }
        k
    };
    let mut have: Vec<RoleKey> = keys(live).into_iter().map(blind).collect();
    let mut want: Vec<RoleKey> = state.iter().map(key_of_assignment).map(blind).collect();
    have.sort();
    have.dedup();
    want.sort();
    want.dedup();
    let mut out = Vec::new();
    for k in have.iter().filter(|k| !want.contains(k)) {
        out.push(format!(
            "in Alma, not in the state: {}",
            describe(k, catalog)
        ));
    }
    for k in want.iter().filter(|k| !have.contains(k)) {
        out.push(format!(
            "in the state, not in Alma: {}",
            describe(k, catalog)
        ));
    }
    out
}

/// The role list of a user (empty when there is none).
pub fn roles_of(user: &Json) -> Vec<Json> {
    user["user_role"].as_array().cloned().unwrap_or_default()
}

fn scope_code(s: &Scope) -> &str {
    match s {
        Scope::Institution(c) | Scope::Library(c) => c,
    }
}

/// Same grant: code, scope and (when given) the comparable parameters.
fn same(role: &Json, code: u32, scope: &Scope, params: Option<&[Parameter]>) -> bool {
    let k = key_of(role);
    k.code == code
        && k.scope.eq_ignore_ascii_case(scope_code(scope))
        && params.is_none_or(|ps| k.parameters == param_keys(ps))
}

fn coded(value: &str) -> Json {
    json!({ "value": value })
}

/// A new role entry in Alma's shape (`desc` values are Alma's to fill).
fn role_json(code: u32, scope: &Scope, params: &[Parameter], expiry: Option<&str>) -> Json {
    let mut role = json!({
        "status": coded("ACTIVE"),
        "scope": coded(scope_code(scope)),
        "role_type": coded(&code.to_string()),
        "parameter": params.iter().map(|p| json!({
            "type": coded(kind_word(p.kind)),
            "scope": coded(&p.scope),
            "value": coded(&p.value),
        })).collect::<Vec<_>>(),
    });
    if let Some(e) = expiry {
        role["expiry_date"] = json!(format!("{e}Z"));
    }
    role
}

fn set_status(role: &mut Json, active: bool) {
    role["status"] = coded(if active { "ACTIVE" } else { "INACTIVE" });
}

fn matches_grant(role: &Json, g: &RoleGrant) -> bool {
    same(role, g.role.code, &g.scope, Some(&g.parameters))
}

/// Applies the role operations to a live list: only the roles they name change; every other
/// entry stays as Alma returned it.
pub fn apply_ops(roles: &mut Vec<Json>, ops: &[&Operation]) {
    for op in ops {
        match op {
            Operation::AddRole {
                role,
                scope,
                parameters,
                expiry,
                ..
            } => {
                let held = roles
                    .iter_mut()
                    .find(|r| same(r, role.code, scope, Some(parameters)));
                match held {
                    Some(r) => {
                        set_status(r, true);
                        match expiry {
                            Some(e) => r["expiry_date"] = json!(format!("{e}Z")),
                            None => {
                                if let Some(o) = r.as_object_mut() {
                                    o.remove("expiry_date");
                                }
                            }
                        }
                    }
                    None => roles.push(role_json(role.code, scope, parameters, expiry.as_deref())),
                }
            }
            Operation::RemoveRole {
                role,
                scope,
                parameters,
                ..
            } => {
                // Without parameters: at that scope, whatever its desks (as `apply`).
                let ps = Some(parameters.as_slice()).filter(|p| !p.is_empty());
                roles.retain(|r| !same(r, role.code, scope, ps));
            }
            Operation::RemoveAllStaffRoles { keep, .. } => {
                roles.retain(|r| keep.iter().any(|k| key_of(r).code == k.code));
            }
            Operation::SuspendRoles { roles: gs, .. } => {
                for r in roles
                    .iter_mut()
                    .filter(|r| gs.iter().any(|g| matches_grant(r, g)))
                {
                    set_status(r, false);
                }
            }
            Operation::RestoreRoles { roles: gs, .. } => {
                for r in roles
                    .iter_mut()
                    .filter(|r| gs.iter().any(|g| matches_grant(r, g)))
                {
                    set_status(r, true);
                }
            }
            Operation::CreateAccount { .. } | Operation::UpdateAccount { .. } => {}
        }
    }
}

/// Swap-all: a PUT without roles keeps the old ones, so a list left empty (every staff role
/// removed from an account without Patron) gets Patron, and Alma drops the rest.
pub fn ensure_not_empty(roles: &mut Vec<Json>, institution: &str) {
    if roles.is_empty() {
        roles.push(role_json(
            PATRON_CODE,
            &Scope::Institution(institution.to_string()),
            &[],
            None,
        ));
    }
}

/// An internal account's `update_account`: names and the preferred email, edited in place.
pub fn apply_update(user: &mut Json, op: &Operation) {
    let Operation::UpdateAccount {
        first_name,
        last_name,
        email,
        ..
    } = op
    else {
        return;
    };
    if let Some(f) = first_name {
        user["first_name"] = json!(f);
    }
    if let Some(l) = last_name {
        user["last_name"] = json!(l);
    }
    let Some(email) = email else { return };
    if !user["contact_info"].is_object() {
        user["contact_info"] = json!({});
    }
    let list = &mut user["contact_info"]["email"];
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(items) = list.as_array_mut() else {
        return;
    };
    let preferred = items
        .iter()
        .position(|e| e["preferred"] == json!(true))
        .or((!items.is_empty()).then_some(0));
    match preferred {
        Some(i) => items[i]["email_address"] = json!(email),
        None => items.push(json!({
            "email_address": email,
            "preferred": true,
            "email_type": [{ "value": "work" }],
        })),
    }
}

/// Is the user EXTERNAL (loaded from the SIS)?
pub fn account_type(user: &Json) -> AccountType {
    if text(&user["account_type"]).eq_ignore_ascii_case("EXTERNAL") {
        AccountType::External
    } else {
        AccountType::Internal
    }
}

/// The user as the state keeps an account.
pub fn account(institution: &str, user: &Json) -> Account {
    let emails = user["contact_info"]["email"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e["preferred"] == json!(true))
        .or(emails.first())
        .map(|e| text(&e["email_address"]))
        .unwrap_or_default();
    let status = text(&user["status"]);
    Account {
        institution: institution.to_string(),
        primary_id: text(&user["primary_id"]),
        first_name: text(&user["first_name"]),
        last_name: text(&user["last_name"]),
        email,
        account_type: account_type(user),
        status: if status.is_empty() {
            "ACTIVE".into()
        } else {
            status.to_uppercase()
        },
    }
}

/// The live roles as the state keeps them, and a note for each thing the state cannot hold
/// (it stays in Alma untouched).
pub fn assignments(institution: &str, roles: &[Json]) -> (Vec<Assignment>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out: Vec<Assignment> = Vec::new();
    for r in roles {
        let k = key_of(r);
        if k.code == u32::MAX {
            notes.push(format!(
                "a role without a numeric code ({}) is not kept in the state",
                text(&r["role_type"])
            ));
            continue;
        }
        for p in r["parameter"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let kind = text(&p["type"]);
            if state_kind(&kind).is_none() {
                notes.push(format!(
                    "role {} at {}: parameter {kind} {} stays in Alma; the state cannot hold it",
                    k.code,
                    k.scope,
                    text(&p["value"])
                ));
            }
        }
        let scope = if k.scope.eq_ignore_ascii_case(institution) {
            Scope::Institution(institution.to_string())
        } else {
            Scope::Library(k.scope.clone())
        };
        out.push(Assignment {
            code: k.code,
            scope,
            parameters: k
                .parameters
                .iter()
                .filter_map(|p| {
                    Some(Parameter {
                        kind: state_kind(&p.kind)?,
                        value: p.value.clone(),
                        scope: p.scope.clone(),
                    })
                })
                .collect(),
            active: k.active,
            expiry: k.expiry.clone(),
            suspended_by: None,
            // A live GET lists every parameter.
            parameters_known: crate::state::ParameterKnowledge::Known,
        });
    }
    out.sort();
    out.dedup();
    (out, notes)
}

/// A role in words: "Circulation Desk Operator (32) at MAIN, desk DEFAULT_CIRC_DESK".
pub fn describe(k: &RoleKey, catalog: &Catalog) -> String {
    let mut s = format!("{} ({})", crate::state::role_name(catalog, k.code), k.code);
    s.push_str(&format!(" at {}", k.scope));
    for p in &k.parameters {
        let kind = state_kind(&p.kind).map_or(p.kind.as_str(), |k| k.describe());
        s.push_str(&format!(", {kind} {}", p.value));
        if p.scope != k.scope {
            s.push_str(&format!(" ({})", p.scope));
        }
    }
    if let Some(e) = &k.expiry {
        s.push_str(&format!(", until {e}"));
    }
    if !k.active {
        s.push_str(" [inactive]");
    }
    s
}

/// What changes from `before` to `after`, in words: "+ role" and "- role".
pub fn diff_words(before: &[Json], after: &[Json], catalog: &Catalog) -> Vec<String> {
    let (b, a) = (keys(before), keys(after));
    let mut out: Vec<String> = b
        .iter()
        .filter(|k| !a.contains(k))
        .map(|k| format!("- {}", describe(k, catalog)))
        .collect();
    out.extend(
        a.iter()
            .filter(|k| !b.contains(k))
            .map(|k| format!("+ {}", describe(k, catalog))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::RoleRef;

    fn live() -> Vec<Json> {
        // A Receiving Operator with service units in two libraries, as in SLSP's
        // test/data/user_test1.json, and a field this program does not know.
        vec![
            json!({ "status": { "value": "ACTIVE" }, "scope": { "value": "01X_I" },
                    "role_type": { "value": "200" }, "parameter": [] }),
            json!({ "status": { "value": "ACTIVE", "desc": "Active" }, "scope": { "value": "A100", "desc": "Main" },
                    "role_type": { "value": "37", "desc": "Receiving Operator" }, "unknown_field": 7,
                    "parameter": [
                        { "type": { "value": "ServiceUnit", "desc": null }, "scope": { "value": "A140" }, "value": { "value": "AcqDeptA140" } },
                        { "type": { "value": "ServiceUnit", "desc": null }, "scope": { "value": "A100" }, "value": { "value": "AcqDeptA100" } },
                    ] }),
        ]
    }

    fn op_add(code: u32, scope: Scope) -> Operation {
        Operation::AddRole {
            institution: "01X_I".into(),
            primary_id: "u1".into(),
            role: RoleRef {
                code,
                name: String::new(),
            },
            scope,
            parameters: vec![],
            expiry: None,
            needs_approval: false,
            separation_of_duties: None,
            profile: None,
            lines: vec![],
        }
    }

    #[test]
    fn operations_touch_only_the_roles_they_name() {
        let mut roles = live();
        let add = op_add(46, Scope::Institution("01X_I".into()));
        apply_ops(&mut roles, &[&add]);
        assert_eq!(roles.len(), 3);
        assert_eq!(
            roles[..2],
            live()[..],
            "the held roles are sent back byte for byte"
        );
        assert_eq!(roles[2]["role_type"]["value"], "46");
        let all = Operation::RemoveAllStaffRoles {
            institution: "01X_I".into(),
            primary_id: "u1".into(),
            keep: vec![RoleRef {
                code: 200,
                name: "Patron".into(),
            }],
            lines: vec![],
        };
        apply_ops(&mut roles, &[&all]);
        assert_eq!(roles, live()[..1].to_vec());
        let mut none = Vec::new();
        apply_ops(&mut none, &[&all]);
        ensure_not_empty(&mut none, "01X_I");
        assert_eq!(
            none[0]["role_type"]["value"], "200",
            "an empty list would keep the old roles"
        );
    }

    #[test]
    fn drift_names_each_role_that_differs_and_ignores_parameter_order() {
        let catalog = crate::catalog::bundled();
        let (state, notes) = assignments("01X_I", &live());
        assert!(notes.is_empty());
        assert!(drift(&live(), &state, &catalog).is_empty());
        let mut reordered = live();
        reordered[1]["parameter"].as_array_mut().unwrap().reverse();
        assert!(drift(&reordered, &state, &catalog).is_empty());
        let mut changed = live();
        changed[1]["status"] = json!({ "value": "INACTIVE" });
        assert_eq!(
            drift(&changed, &state, &catalog),
            vec![
                "in Alma, not in the state: Receiving Operator (37) at A100, service unit AcqDeptA100, service unit AcqDeptA140 (A140) [inactive]",
                "in the state, not in Alma: Receiving Operator (37) at A100, service unit AcqDeptA100, service unit AcqDeptA140 (A140)",
            ]
        );
    }
}
