//! Alma Users API JSON (`GET /almaws/v1/users/{id}`, or `{"user": [...]}`): accounts with
//! their roles, each role's parameters of every type the API has (`CirculationDesk`,
//! `ServiceUnit`, `MetadataType`).

use super::super::table::parse_date;
use super::{
    ImportReport, ImportedUser, Parsed, RoleText, account_type, infer_institution, parameter_kind,
    role_text, scope_of, unknown_code_note, user_status,
};
use crate::catalog::{Catalog, Institution};
use crate::state::{Account, Assignment, ParameterKnowledge, UnmatchedRole};
use crate::validate::Parameter;
use serde_json::Value as Json;
use std::path::Path;

/// Reads a JSON file of one user or a list of users; a user that cannot be used is skipped
/// and named in `report`.
pub(super) fn read(
    path: &Path,
    catalog: &Catalog,
    default: Option<&Institution>,
    report: &mut ImportReport,
) -> Result<Parsed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let json: Json = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let list = match json.get("user") {
        Some(Json::Array(list)) => list.clone(),
        Some(_) => return Err("\"user\" is not a list".into()),
        None if json.get("primary_id").is_some() => vec![json],
        None => {
            return Err(
                "neither an Alma user (no \"primary_id\") nor a list of users (no \"user\")".into(),
            );
        }
    };
    let mut parsed = Parsed::default();
    for (i, user) in list.iter().enumerate() {
        match alma_user(user, catalog, default, report) {
            Ok(u) => parsed.users.push(u),
            Err(why) => report.skipped.push(format!("user {}: {why}", i + 1)),
        }
    }
    Ok(parsed)
}

/// A coded value (`{"value": ..., "desc": ...}`), a string or a number, as trimmed text.
fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        Json::Object(o) => o
            .get("value")
            .map(|v| v.as_str().unwrap_or_default().trim().to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The preferred email, else the first.
fn email(user: &Json) -> String {
    match &user["contact_info"]["email"] {
        Json::Array(list) => list
            .iter()
            .find(|e| e["preferred"].as_bool() == Some(true))
            .or(list.first())
            .map(|e| text(&e["email_address"]))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn alma_user(
    user: &Json,
    catalog: &Catalog,
    default: Option<&Institution>,
    report: &mut ImportReport,
) -> Result<ImportedUser, String> {
    let primary_id = text(&user["primary_id"]);
    if primary_id.is_empty() {
        return Err("no primary_id".into());
    }
    let roles_json = match &user["user_role"] {
        Json::Array(list) => list.as_slice(),
        Json::Null => &[],
        _ => return Err(format!("{primary_id}: user_role is not a list")),
    };
    let scopes: Vec<String> = roles_json.iter().map(|r| text(&r["scope"])).collect();
    let inst = infer_institution(catalog, &scopes, default).ok_or_else(|| {
        format!("{primary_id}: no role tells its institution; import with --institution CODE")
    })?;
    let mut out = ImportedUser {
        account: Account {
            institution: inst.code.clone(),
            primary_id: primary_id.clone(),
            first_name: text(&user["first_name"]),
            last_name: text(&user["last_name"]),
            email: email(user),
            account_type: account_type(&text(&user["account_type"])),
            status: user_status(&text(&user["status"])),
        },
        roles: Vec::new(),
        unmatched: Vec::new(),
        roles_listed: user.get("user_role").is_some_and(|r| !r.is_null()),
    };
    for r in roles_json {
        alma_role(r, catalog, inst, &mut out, report);
    }
    Ok(out)
}

/// One `user_role` entry into `user`: by code, or kept by name when the catalog does not
/// know the name (no role is dropped).
fn alma_role(
    r: &Json,
    catalog: &Catalog,
    inst: &Institution,
    user: &mut ImportedUser,
    report: &mut ImportReport,
) {
    let id = &user.account.primary_id;
    let scope_text = text(&r["scope"]);
    let active = !text(&r["status"]).eq_ignore_ascii_case("inactive");
    let expiry = r["expiry_date"].as_str().and_then(alma_date);
    let code_text = text(&r["role_type"]);
    let code = match role_text(catalog, &code_text) {
        RoleText::Code(code) => code,
        RoleText::Unmatched(name) => {
            let at = id.clone();
            let role = UnmatchedRole {
                name,
                scope: scope_text,
                active,
                expiry,
            };
            user.keep_by_name(role, &at, report);
            return;
        }
    };
    report
        .not_in_catalog
        .extend(unknown_code_note(catalog, code, id));
    let mut parameters = Vec::new();
    for p in r["parameter"].as_array().map_or(&[][..], Vec::as_slice) {
        let kind_text = text(&p["type"]);
        match parameter_kind(&kind_text) {
            Some(kind) => parameters.push(Parameter {
                kind,
                value: text(&p["value"]),
                scope: text(&p["scope"]),
            }),
            None => report.skipped.push(format!(
                "{id}: role {code} has a parameter of type \"{kind_text}\", which Rolecall does not know; that parameter is not kept"
            )),
        }
    }
    parameters.sort();
    user.roles.push(Assignment {
        code,
        scope: scope_of(inst, &scope_text),
        parameters,
        parameters_known: ParameterKnowledge::Known,
        active,
        expiry,
        suspended_by: None,
    });
}

/// Alma dates come as `2027-05-31Z`.
fn alma_date(text: &str) -> Option<String> {
    parse_date(text.trim().trim_end_matches('Z')).map(|d| d.to_string())
}
