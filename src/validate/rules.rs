//! The rules behind [`validate`](super::validate).
//!
//! Three passes: the requester block (who asks, for which institution), each line on its own
//! (fields, catalog look-ups, scopes and parameters), then the lines of one person together
//! (conflicts, duplicates, fields that only need filling once). Every rule pushes a finding
//! and goes on; a line is rejected when it holds at least one error.

use super::lookups::Lookups;
use super::{
    AccountType, Action, Change, Line, LineStatus, Outcome, Parameter, Person, Request,
    RoleRequest, Scope,
};
use crate::catalog::{Catalog, EntryScope, Institution, Library, ParameterKind, Role, ScopeKind};
use crate::document::{Document, RequestRow, Value, ValueKind};
use crate::finding::{Finding, Rule, Severity};
use crate::intake::sender::answerable;
use crate::layout::{Field, RequesterField};
use crate::location::Location;
use jiff::civil::Date;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use validator::ValidateEmail;

/// What the requester block says about who may ask.
enum Authority {
    /// A valid address; whether it coordinates a line's institution is checked per line.
    Known(String),
    /// Missing or invalid: every line is refused, pointing here.
    Unknown(Finding),
}

/// Shared, read-only facts for the per-line pass.
struct Context<'a> {
    catalog: &'a Catalog,
    /// The catalog's look-ups by text, each done once.
    lookups: Lookups,
    today: Date,
    columns: &'a BTreeMap<Field, u32>,
    authority: Authority,
    requester_email_location: Location,
    block_institution: Option<&'a Institution>,
    /// The block names an institution that is not in the catalog.
    block_institution_error: Option<Finding>,
}

/// One line after the per-line pass, before the person pass.
struct Draft<'a> {
    row: &'a RequestRow,
    findings: Vec<Finding>,
    action: Option<Action>,
    institution: Option<&'a Institution>,
    primary_id: Option<String>,
    account_type: Option<AccountType>,
    roles: Vec<(RoleRequest, Location)>,
}

pub(super) fn validate(mut document: Document, catalog: &Catalog, today: Date) -> Outcome {
    let mut findings = document.findings.clone();
    // The rows move into the outcome's lines: held twice, they were a third of a 100,000-line
    // run's memory. Everything below that asks whether there are rows asks `rows`.
    let rows = std::mem::take(&mut document.rows);
    let requester_name = document
        .requester(RequesterField::Name)
        .map(|v| v.text.clone());
    if requester_name.is_none() && !rows.is_empty() {
        findings.push(
            Finding::warning(
                Rule::RequesterMissing,
                block_location(&document, RequesterField::Name),
                "The requester's name is empty.",
            )
            .suggest("Fill in your name in the requester block."),
        );
    }
    let email_location = block_location(&document, RequesterField::Email);
    let authority = authority(&document, email_location.clone());
    // A file that could not be read has no requester block to speak of: saying so too would
    // only bury the one finding that matters.
    let unreadable = document.findings.iter().any(|f| f.rule.means_unreadable());
    if let Authority::Unknown(f) = &authority
        && !unreadable
    {
        findings.push(f.clone());
    }
    let (block_institution, block_institution_error) =
        match document.requester(RequesterField::Institution).map(|v| {
            catalog
                .institution(&v.text)
                .ok_or_else(|| unknown_institution(catalog, v))
        }) {
            Some(Ok(inst)) => (Some(inst), None),
            Some(Err(f)) => {
                findings.push(f.clone());
                (None, Some(f))
            }
            None => (None, None),
        };
    findings.extend(catalog_version_warning(&document, catalog));
    findings.extend(no_requests_error(&document, &rows));

    let cx = Context {
        catalog,
        lookups: Lookups::default(),
        today,
        columns: &document.columns,
        authority,
        requester_email_location: email_location,
        block_institution,
        block_institution_error,
    };
    let lines = check_lines(rows, &cx);
    let institution = block_institution
        .map(|i| i.code.clone())
        .or_else(|| common_institution(&lines));
    let requester_email = match &cx.authority {
        Authority::Known(email) => Some(email.clone()),
        Authority::Unknown(_) => None,
    };
    Outcome {
        document,
        findings,
        lines,
        requester_name,
        requester_email,
        institution,
    }
}

/// Where a requester field is, or would be when it is empty.
fn block_location(document: &Document, field: RequesterField) -> Location {
    match document.requester(field) {
        Some(v) => v.location.clone(),
        None => match &document.sheet {
            Some(sheet) => Location::cell(sheet, field.template_row(), 2),
            None => Location::File,
        },
    }
}

/// Who asks, from the requester block's email (at `email_location`).
fn authority(document: &Document, email_location: Location) -> Authority {
    match document.requester(RequesterField::Email) {
        None => Authority::Unknown(
            Finding::error(
                Rule::RequesterMissing,
                email_location,
                "The requester's email is empty, so Rolecall cannot tell who is asking: no line can be carried out.",
            )
            .suggest("Fill in your email address in the requester block (it must be a registered coordinator's)."),
        ),
        // An address no reply can be sent to (a domain literal, a quoted local part) is no
        // requester either: the reply could not be composed, and the file would never end.
        Some(v) if !v.text.validate_email() || answerable(&v.text).is_err() => Authority::Unknown(Finding::error(
            Rule::InvalidEmail,
            v.location.clone(),
            format!("The requester's email \"{}\" is not a valid address, so no line can be carried out.", v.text),
        )),
        Some(v) => Authority::Known(v.text.clone()),
    }
}

/// A worksheet made from another catalog version than the current one.
fn catalog_version_warning(document: &Document, catalog: &Catalog) -> Option<Finding> {
    let v = document.requester(RequesterField::CatalogVersion)?;
    if v.text.eq_ignore_ascii_case(&catalog.version) {
        return None;
    }
    Some(
        Finding::warning(
            Rule::CatalogVersion,
            v.location.clone(),
            format!(
                "This worksheet was made from catalog version {}; the current version is {}. Roles, libraries or desks may have changed since.",
                v.text, catalog.version
            ),
        )
        .suggest("Nothing to do if every line is accepted; otherwise start from a new blank worksheet."),
    )
}

/// A header row with no request lines under it.
fn no_requests_error(document: &Document, rows: &[RequestRow]) -> Option<Finding> {
    if !rows.is_empty() || document.columns.is_empty() {
        return None;
    }
    let location = match &document.sheet {
        Some(sheet) => Location::Sheet {
            sheet: sheet.as_str().into(),
        },
        None => Location::File,
    };
    Some(
        Finding::error(
            Rule::NoRequests,
            location,
            "The worksheet has its header row but no request lines under it.",
        )
        .suggest("Fill in one row per role under the header row and send it again."),
    )
}

/// The per-line pass, then the person pass, then each line's status and request; each
/// row moves into its line.
fn check_lines(rows: Vec<RequestRow>, cx: &Context) -> Vec<Line> {
    let mut drafts: Vec<Draft> = rows.iter().map(|row| check_row(row, cx)).collect();
    // Each person's lines, grouped once for both person passes.
    let groups = person_groups(&drafts);
    let mut people = check_people(&mut drafts, &groups, cx);
    let rejected_with = fold_repeated_errors(&mut drafts, &groups);
    let verdicts: Vec<Verdict> = drafts
        .into_iter()
        .enumerate()
        .map(|(index, draft)| {
            let with = rejected_with.get(&index).cloned();
            finish_line(draft, people[index].take(), with)
        })
        .collect();
    rows.into_iter()
        .zip(verdicts)
        .map(|(row, v)| Line {
            row,
            status: v.status,
            findings: v.findings,
            rejected_with: v.rejected_with,
            request: v.request,
        })
        .collect()
}

/// The one institution every request names, if they all name the same.
fn common_institution(lines: &[Line]) -> Option<String> {
    let mut codes = lines
        .iter()
        .filter_map(|l| l.request.as_ref().map(|r| r.institution.clone()));
    let first = codes.next()?;
    codes.all(|c| c == first).then_some(first)
}

/// The per-line pass.
fn check_row<'a>(row: &'a RequestRow, cx: &Context<'a>) -> Draft<'a> {
    let mut f = Vec::new();
    let action = check_action(row, cx, &mut f);
    let primary_id = check_primary_id_given(row, cx, &mut f);
    let account_type = check_account_type(row, &mut f);
    check_email(row, &mut f);
    let institution = check_institution(row, cx, &mut f);
    // Whether the ID looks generic, searched once: both the ID's check and the
    // generic-account check ask.
    let id = row.values.get(&Field::PrimaryId);
    let generic_id = id.map(|v| cx.catalog.policy.looks_generic(&v.text));
    if let Some(v) = id {
        let generic = generic_id == Some(true);
        f.extend(check_primary_id(v, institution, generic));
    }
    check_authority(cx, institution, &mut f);
    let library = check_library(row, cx, institution, &mut f);
    let library_given = row.values.contains_key(&Field::Library);
    let expiry = check_expiry(row, cx, &mut f);
    let change = check_change(row, action, &mut f);
    let role_value = row.values.get(&Field::Role);
    let profile_value = row.values.get(&Field::Profile);
    let roles = check_roles(role_value, cx, &mut f);
    let profile = check_profile(profile_value, cx, &mut f);
    let asked = Asked {
        role_value,
        profile_value,
        roles,
        profile,
        change,
        expiry,
        library,
        library_given,
    };
    let requests = line_requests(row, cx, action, institution, &asked, &mut f);

    // Generic or shared accounts (not for Delete: removing one is welcome).
    if matches!(action, Some(Action::Add | Action::Modify)) {
        check_generic(row, cx, generic_id, &mut f);
    }

    Draft {
        row,
        findings: f,
        action,
        institution,
        primary_id,
        account_type,
        roles: requests,
    }
}

/// The Action column.
fn check_action(row: &RequestRow, cx: &Context, f: &mut Vec<Finding>) -> Option<Action> {
    let v = required(row, cx, Field::Action, "Choose Add, Modify or Delete.", f)?;
    let parsed = parse_action(&v.text);
    if parsed.is_none() {
        f.push(
            Finding::error(
                Rule::UnknownAction,
                v.location.clone(),
                format!("\"{}\" is not an action Rolecall knows.", v.text),
            )
            .suggest("Choose Add (new account), Modify (add or remove roles), Delete (remove all staff roles) or Restore (put back suspended roles)."),
        );
    }
    parsed
}

/// The Primary ID column: present (its form is checked once the institution is known).
fn check_primary_id_given(row: &RequestRow, cx: &Context, f: &mut Vec<Finding>) -> Option<String> {
    let suggestion = "Every line needs the person's Alma primary identifier.";
    required(row, cx, Field::PrimaryId, suggestion, f).map(|v| v.text.clone())
}

/// A field every line must fill: its value, or an error saying it is empty.
fn required<'r>(
    row: &'r RequestRow,
    cx: &Context,
    field: Field,
    suggestion: &str,
    f: &mut Vec<Finding>,
) -> Option<&'r Value> {
    let value = row.values.get(&field);
    if value.is_none() {
        f.push(
            Finding::error(
                Rule::MissingField,
                row.location_of(field, cx.columns),
                format!("The {} is empty.", field.header()),
            )
            .suggest(suggestion),
        );
    }
    value
}

/// The Account type column.
fn check_account_type(row: &RequestRow, f: &mut Vec<Finding>) -> Option<AccountType> {
    row.values.get(&Field::AccountType).and_then(|v| {
        let parsed = parse_account_type(&v.text);
        if parsed.is_none() {
            f.push(
                Finding::error(
                    Rule::InvalidAccountType,
                    v.location.clone(),
                    format!("\"{}\" is not an account type.", v.text),
                )
                .suggest("Choose Internal (managed in Alma) or External (loaded from the campus system)."),
            );
        }
        parsed
    })
}

/// The Email column's syntax.
fn check_email(row: &RequestRow, f: &mut Vec<Finding>) {
    if let Some(v) = row.values.get(&Field::Email)
        && !v.text.validate_email()
    {
        f.push(
            Finding::error(
                Rule::InvalidEmail,
                v.location.clone(),
                format!("\"{}\" is not a valid email address.", v.text),
            )
            .suggest("Write the person's own address, like jdoe@library.example.edu."),
        );
    }
}

/// The line's institution: its own, else the requester block's.
fn check_institution<'a>(
    row: &RequestRow,
    cx: &Context<'a>,
    f: &mut Vec<Finding>,
) -> Option<&'a Institution> {
    let at = |field: Field| row.location_of(field, cx.columns);
    let catalog = cx.catalog;
    match row.values.get(&Field::Institution) {
        Some(v) => match cx.lookups.institution(catalog, &v.text) {
            Some(inst) => Some(inst),
            None => {
                f.push(unknown_institution(catalog, v));
                None
            }
        },
        None => {
            if let Some(err) = &cx.block_institution_error {
                f.push(err.clone());
            } else if cx.block_institution.is_none() {
                f.push(
                    Finding::error(
                        Rule::MissingField,
                        at(Field::Institution),
                        "No institution is given for this line.",
                    )
                    .suggest("Fill in the Institution in the requester block or on the line."),
                );
            }
            cx.block_institution
        }
    }
}

/// Who asks: refused unless a registered coordinator of this line's institution.
fn check_authority(cx: &Context, institution: Option<&Institution>, f: &mut Vec<Finding>) {
    let catalog = cx.catalog;
    match (&cx.authority, institution) {
        (Authority::Unknown(finding), _) => f.push(finding.clone()),
        (Authority::Known(email), Some(inst)) if !catalog.is_coordinator(email, &inst.code) => {
            let names: Vec<String> = catalog
                .coordinators_for(&inst.code)
                .map(|c| format!("{} <{}>", c.name, c.email))
                .collect();
            let mut finding = Finding::error(
                Rule::NotCoordinator,
                cx.requester_email_location.clone(),
                format!(
                    "{email} is not a registered coordinator of {} ({}); only its coordinators may request account changes.",
                    inst.name, inst.code
                ),
            );
            if !names.is_empty() {
                finding =
                    finding.suggest(format!("Ask {} to send the request.", names.join(" or ")));
            }
            f.push(finding);
        }
        _ => {}
    }
}

/// The Library column, a library of the line's institution.
fn check_library<'a>(
    row: &RequestRow,
    cx: &Context,
    institution: Option<&'a Institution>,
    f: &mut Vec<Finding>,
) -> Option<&'a Library> {
    let catalog = cx.catalog;
    match (row.values.get(&Field::Library), institution) {
        (Some(v), Some(inst)) => match find_library(inst, &v.text) {
            Some(lib) => Some(lib),
            None => {
                f.push(unknown_library(catalog, inst, v));
                None
            }
        },
        _ => None,
    }
}

/// The Expiry date column: a date Rolecall can read, not in the past.
fn check_expiry(row: &RequestRow, cx: &Context, f: &mut Vec<Finding>) -> Option<String> {
    row.values.get(&Field::Expiry).and_then(|v| match parse_date(&v.text) {
        None => {
            f.push(
                Finding::error(Rule::InvalidDate, v.location.clone(), format!("\"{}\" is not a date Rolecall can read.", v.text))
                    .suggest("Write the date as YYYY-MM-DD, e.g. 2027-06-30, or leave it empty for no expiry."),
            );
            None
        }
        Some(d) if d < cx.today => {
            f.push(
                Finding::error(Rule::InvalidDate, v.location.clone(), format!("The expiry date {d} is in the past."))
                    .suggest("Give a future date, or leave it empty for no expiry."),
            );
            None
        }
        Some(d) => Some(d.to_string()),
    })
}

/// The Add or remove column (Add when empty; never Remove on an Add line).
fn check_change(row: &RequestRow, action: Option<Action>, f: &mut Vec<Finding>) -> Change {
    match row.values.get(&Field::Change) {
        None => Change::Add,
        Some(v) => match parse_change(&v.text) {
            Some(Change::Remove) if action == Some(Action::Add) => {
                f.push(
                    Finding::error(
                        Rule::InvalidChange,
                        v.location.clone(),
                        "Add creates an account with roles; it cannot remove a role.",
                    )
                    .suggest("Use Modify to remove a role from an existing account."),
                );
                Change::Remove
            }
            Some(c) => c,
            None => {
                f.push(
                    Finding::error(
                        Rule::InvalidChange,
                        v.location.clone(),
                        format!("\"{}\" is neither Add nor Remove.", v.text),
                    )
                    .suggest("Write Add or Remove, or leave it empty to add the role."),
                );
                Change::Add
            }
        },
    }
}

/// The Role column: each role it names (Patron aside), in the catalog.
fn check_roles<'a>(
    role_value: Option<&Value>,
    cx: &Context<'a>,
    f: &mut Vec<Finding>,
) -> Vec<&'a Role> {
    let catalog = cx.catalog;
    let mut roles: Vec<&Role> = Vec::new();
    if let Some(v) = role_value {
        for text in split_roles(&v.text) {
            match cx.lookups.role(catalog, text) {
                Some(role) if role.is_patron() => f.push(
                    Finding::warning(
                        Rule::PatronImplicit,
                        v.location.clone(),
                        "Patron is kept on every account automatically; it is not added or removed here.",
                    )
                    .suggest("Leave Patron out of the request."),
                ),
                Some(role) => roles.push(role),
                None => {
                    let mut finding = Finding::error(
                        Rule::UnknownRole,
                        v.location.clone(),
                        format!("\"{text}\" is not an Alma role in the catalog."),
                    );
                    match Catalog::closest(text, catalog.roles.iter().map(|r| r.name.as_str())) {
                        Some(best) => finding = finding.suggest(format!("Did you mean {best}?")),
                        None => {
                            finding = finding.suggest("Pick a role from the drop-down list, or see the Roles sheet of the blank worksheet.")
                        }
                    }
                    f.push(finding);
                }
            }
        }
    }
    roles
}

/// The Role profile column: a profile in the catalog.
fn check_profile<'a>(
    profile_value: Option<&Value>,
    cx: &Context<'a>,
    f: &mut Vec<Finding>,
) -> Option<&'a crate::catalog::Profile> {
    let catalog = cx.catalog;
    profile_value.and_then(|v| {
        let found = cx.lookups.profile(catalog, &v.text);
        if found.is_none() {
            let mut finding = Finding::error(
                Rule::UnknownProfile,
                v.location.clone(),
                format!("\"{}\" is not a role profile in the catalog.", v.text),
            );
            if let Some(best) =
                Catalog::closest(&v.text, catalog.profiles.iter().map(|p| p.name.as_str()))
            {
                finding = finding.suggest(format!("Did you mean {best}?"));
            }
            f.push(finding);
        }
        found
    })
}

/// What a line asks for, once its columns are checked.
struct Asked<'a> {
    role_value: Option<&'a Value>,
    profile_value: Option<&'a Value>,
    roles: Vec<&'a Role>,
    profile: Option<&'a crate::catalog::Profile>,
    change: Change,
    expiry: Option<String>,
    library: Option<&'a Library>,
    library_given: bool,
}

/// The roles a line asks for, resolved (scope, desk), with where each was asked: none for
/// Delete and Restore, which must name none.
fn line_requests<'a>(
    row: &'a RequestRow,
    cx: &Context<'a>,
    action: Option<Action>,
    institution: Option<&'a Institution>,
    asked: &Asked<'a>,
    f: &mut Vec<Finding>,
) -> Vec<(RoleRequest, Location)> {
    match action {
        Some(action @ (Action::Delete | Action::Restore)) => {
            check_names_no_roles(action, asked, f);
            Vec::new()
        }
        Some(Action::Add | Action::Modify) => {
            if asked.role_value.is_none() && asked.profile_value.is_none() {
                f.push(
                    Finding::error(
                        Rule::MissingField,
                        row.location_of(Field::Role, cx.columns),
                        "No role or role profile is given.",
                    )
                    .suggest("Choose a role (or a role profile) for this line."),
                );
            }
            let Some(inst) = institution else {
                return Vec::new();
            };
            let requests = resolve_requests(row, cx, inst, asked, f);
            approval_warnings(&requests, f);
            requests
        }
        None => Vec::new(),
    }
}

/// Delete and Restore name no roles: the account state says which go or come back.
fn check_names_no_roles(action: Action, asked: &Asked, f: &mut Vec<Finding>) {
    let (role_value, profile_value, roles) = (asked.role_value, asked.profile_value, &asked.roles);
    if let Some(v) = role_value.filter(|_| !roles.is_empty()).or(profile_value) {
        let message = if action == Action::Delete {
            "Delete removes every staff role; it cannot also give roles."
        } else {
            "Restore puts back exactly the roles that were suspended; it names no roles."
        };
        f.push(
            Finding::error(
                Rule::DeleteWithRoles,
                v.location.clone(),
                message,
            )
            .suggest(if action == Action::Delete {
                "Leave the role and profile empty on a Delete line, or use Modify to change some roles."
            } else {
                "Leave the role and profile empty on a Restore line; to give other roles, add a Modify line."
            }),
        );
    }
}

/// The roles of an Add or Modify line (its own and its profile's), each resolved against
/// the institution: scope, desk or service unit.
fn resolve_requests<'a>(
    row: &'a RequestRow,
    cx: &Context<'a>,
    inst: &'a Institution,
    asked: &Asked<'a>,
    f: &mut Vec<Finding>,
) -> Vec<(RoleRequest, Location)> {
    let at = |field: Field| row.location_of(field, cx.columns);
    let catalog = cx.catalog;
    let (role_value, profile_value, roles, profile) = (
        asked.role_value,
        asked.profile_value,
        &asked.roles,
        asked.profile,
    );
    let (change, expiry, library, library_given) = (
        asked.change,
        &asked.expiry,
        asked.library,
        asked.library_given,
    );
    let mut requests = Vec::new();
    let role_location = role_value
        .or(profile_value)
        .map(|v| v.location.clone())
        .unwrap_or_else(|| at(Field::Role));
    let mut wanted: Vec<(&Role, Option<EntryScope>, Option<String>)> =
        roles.iter().map(|r| (*r, None, None)).collect();
    if let Some(p) = profile {
        for entry in &p.entries {
            if let Some(role) = catalog.role_by_code(entry.role) {
                wanted.push((role, Some(entry.scope.clone()), Some(p.name.clone())));
            }
        }
    }
    let mut resolver = Resolver {
        findings: f,
        row,
        cx,
        institution: inst,
        library,
        library_given,
        scope_reported: false,
        parameter_reported: false,
        parameter_used: false,
    };
    for (role, entry_scope, from_profile) in wanted {
        if let Some(request) =
            resolver.resolve(role, entry_scope, change, expiry.clone(), from_profile)
        {
            requests.push((request, role_location.clone()));
        }
    }
    let parameter_used = resolver.parameter_used;
    if let Some(v) = row.values.get(&Field::Unit)
        && !parameter_used
        && !requests.is_empty()
    {
        f.push(
                Finding::warning(
                    Rule::UnexpectedParameter,
                    v.location.clone(),
                    format!("No role on this line takes a circulation desk or service unit, so \"{}\" is not used.", v.text),
                )
                .suggest("Leave it empty, or check the role."),
            );
    }

    requests
}

/// A privileged role to add waits for the help desk: said where it was asked.
fn approval_warnings(requests: &[(RoleRequest, Location)], f: &mut Vec<Finding>) {
    for (request, location) in requests {
        if request.needs_approval && request.change == Change::Add {
            f.push(
                Finding::warning(
                    Rule::NeedsApproval,
                    location.clone(),
                    format!("{} is a privileged role: it is granted only after the help desk approves it.", request.name),
                )
                .suggest("Nothing to do: the help desk will contact you if it has questions."),
            );
        }
    }
}

/// Resolves one role of a line into a [`RoleRequest`]: scope, desk or service unit.
struct Resolver<'r, 'a> {
    findings: &'r mut Vec<Finding>,
    row: &'a RequestRow,
    cx: &'r Context<'a>,
    institution: &'a Institution,
    library: Option<&'a Library>,
    library_given: bool,
    scope_reported: bool,
    parameter_reported: bool,
    parameter_used: bool,
}

impl Resolver<'_, '_> {
    fn resolve(
        &mut self,
        role: &Role,
        entry_scope: Option<EntryScope>,
        change: Change,
        expiry: Option<String>,
        profile: Option<String>,
    ) -> Option<RoleRequest> {
        let scope = self.scope(role, entry_scope, profile.as_deref())?;
        let parameters = match role.parameter {
            Some(kind) => self.parameters(role, kind, change)?,
            None => Vec::new(),
        };
        Some(RoleRequest {
            change,
            code: role.code,
            name: role.name.clone(),
            scope,
            parameters,
            expiry: if change == Change::Add { expiry } else { None },
            needs_approval: role.privileged && change == Change::Add,
            profile,
            separation_of_duties: None,
        })
    }

    /// Where the role is granted: the line's library, or its institution. `None` when the
    /// role needs a library and the line gives none (reported once per line).
    fn scope(
        &mut self,
        role: &Role,
        entry_scope: Option<EntryScope>,
        profile: Option<&str>,
    ) -> Option<Scope> {
        let wants_library = match &entry_scope {
            Some(EntryScope::RequestLibrary) => true,
            Some(EntryScope::Institution) => false,
            None => role.needs_library(),
        };
        match (wants_library, self.library) {
            (true, Some(lib)) => Some(Scope::Library(lib.code.clone())),
            (true, None) => {
                // An unknown library was already reported; an empty one is reported once.
                if !self.library_given && !self.scope_reported {
                    self.scope_reported = true;
                    let what =
                        profile.map_or_else(|| role.name.clone(), |p| format!("The profile {p}"));
                    self.findings.push(self.library_required(&what));
                }
                None
            }
            // Roles that Alma grants at either level take the library when one is given.
            (false, Some(lib)) if entry_scope.is_none() && role.scope == ScopeKind::Either => {
                Some(Scope::Library(lib.code.clone()))
            }
            _ => Some(Scope::Institution(self.institution.code.clone())),
        }
    }

    /// `what` is granted per library, but the line gives none.
    fn library_required(&self, what: &str) -> Finding {
        let libraries: Vec<&str> = self
            .institution
            .libraries
            .iter()
            .map(|l| l.code.as_str())
            .collect();
        Finding::error(
            Rule::ScopeRequired,
            self.row.location_of(Field::Library, self.cx.columns),
            format!("{what} is granted per library, but no library is given."),
        )
        .suggest(format!(
            "Choose one of {}: {}.",
            self.institution.code,
            libraries.join(", ")
        ))
    }

    /// The desk or service unit a role of `kind` needs, from the line's unit field. `None`
    /// when the line has no library, or the unit is unknown, or an added role has none.
    fn parameters(
        &mut self,
        role: &Role,
        kind: ParameterKind,
        change: Change,
    ) -> Option<Vec<Parameter>> {
        let library = self.library?;
        self.parameter_used = true;
        let Some(v) = self.row.values.get(&Field::Unit) else {
            if change == Change::Add {
                if !self.parameter_reported {
                    self.parameter_reported = true;
                    self.findings
                        .push(self.parameter_required(role, kind, library));
                }
                return None;
            }
            return Some(Vec::new());
        };
        let units = library.units(kind);
        let key = v.text.trim();
        let found = units
            .iter()
            .find(|u| u.code.eq_ignore_ascii_case(key) || u.name.eq_ignore_ascii_case(key));
        match found {
            Some(unit) => Some(vec![Parameter {
                kind,
                value: unit.code.clone(),
                scope: library.code.clone(),
            }]),
            None => {
                if !self.parameter_reported {
                    self.parameter_reported = true;
                    self.findings.push(unknown_unit(v, key, kind, library));
                }
                None
            }
        }
    }

    /// An added role of `kind` needs a unit of `library`, but the line gives none.
    fn parameter_required(&self, role: &Role, kind: ParameterKind, library: &Library) -> Finding {
        let names: Vec<&str> = library
            .units(kind)
            .iter()
            .map(|u| u.code.as_str())
            .collect();
        let finding = Finding::error(
            Rule::ParameterRequired,
            self.row.location_of(Field::Unit, self.cx.columns),
            format!(
                "{} needs a {} of {}, but none is given; without it the role stays inactive in Alma.",
                role.name,
                kind.describe(),
                library.code
            ),
        );
        if names.is_empty() {
            finding
        } else {
            finding.suggest(format!("Choose one of {}.", names.join(", ")))
        }
    }
}

/// `key` (the line's unit field `v`) names no unit of `kind` in `library`.
fn unknown_unit(v: &Value, key: &str, kind: ParameterKind, library: &Library) -> Finding {
    let units = library.units(kind);
    let finding = Finding::error(
        Rule::UnknownParameter,
        v.location.clone(),
        format!(
            "\"{key}\" is not a {} of {} ({}).",
            kind.describe(),
            library.name,
            library.code
        ),
    );
    let codes: Vec<&str> = units.iter().map(|u| u.code.as_str()).collect();
    match Catalog::closest(key, codes.iter().copied()) {
        Some(best) => finding.suggest(format!("Did you mean {best}?")),
        None if !units.is_empty() => {
            finding.suggest(format!("Choose one of {}.", codes.join(", ")))
        }
        None => finding.suggest(format!(
            "{} has no {}s in the catalog.",
            library.code,
            kind.describe()
        )),
    }
}

/// The lines of each person (same institution and primary ID), in file order; the people
/// in the order of their first line. Each person's lines are checked on their own, so the
/// order of the people changes no finding. The keys borrow the lines' text (an ID is
/// copied only when it has capitals): a map of owned keys made two strings per line.
fn person_groups(drafts: &[Draft]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<(&str, Cow<'_, str>), usize> = HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        if let Some(id) = &d.primary_id {
            let inst = d.institution.map_or("", |i| i.code.as_str());
            let key = (inst, crate::changeset::lowercase(id));
            match index.entry(key) {
                Entry::Occupied(group) => groups[*group.get()].push(i),
                Entry::Vacant(slot) => {
                    slot.insert(groups.len());
                    groups.push(vec![i]);
                }
            }
        }
    }
    groups
}

/// An error repeated on several lines of one person (the same finding: a form's person
/// fields are shared by every role line) stays on the first line only; the later lines are
/// rejected with it, pointing at the first. Returns those lines and the first line's location.
fn fold_repeated_errors(drafts: &mut [Draft], groups: &[Vec<usize>]) -> HashMap<usize, Location> {
    let mut rejected_with = HashMap::new();
    for indices in groups {
        let first = indices[0];
        let mut said: HashSet<Finding> = HashSet::new();
        for &i in indices {
            let before = drafts[i].findings.len();
            drafts[i]
                .findings
                .retain(|f| !f.is_error() || said.insert(f.clone()) || i == first);
            if drafts[i].findings.len() < before {
                rejected_with.insert(i, drafts[first].row.location.clone());
            }
        }
    }
    rejected_with
}

/// The person pass: the lines of one person (same institution and primary ID) together.
/// Returns, for each line with a primary ID, the person its lines describe together (by
/// line index).
fn check_people(drafts: &mut [Draft], groups: &[Vec<usize>], cx: &Context) -> Vec<Option<Person>> {
    let mut facts = vec![None; drafts.len()];
    for indices in groups {
        let conflicting = check_one_action(drafts, indices, cx);
        let merged = merge_person_fields(drafts, indices);
        if drafts[indices[0]].action == Some(Action::Add) && !conflicting {
            check_person_filled(drafts, indices[0], &merged, cx);
        }
        check_repeated_roles(drafts, indices);
        check_duties(drafts, indices, cx);
        let person = person_of(drafts, indices, &merged);
        // Each line but the last gets a copy; the last takes the person itself.
        if let Some((&last, others)) = indices.split_last() {
            for &i in others {
                facts[i] = Some(person.clone());
            }
            facts[last] = Some(person);
        }
    }
    facts
}

/// One person, one action: every line whose action differs from another's gets an error.
/// Returns whether the person's actions conflict.
fn check_one_action(drafts: &mut [Draft], indices: &[usize], cx: &Context) -> bool {
    let actions: Vec<(usize, Action)> = indices
        .iter()
        .filter_map(|&i| drafts[i].action.map(|a| (i, a)))
        .collect();
    let conflicting = actions.iter().any(|(_, a)| *a != actions[0].1);
    if !conflicting {
        return false;
    }
    for &(i, action) in &actions {
        let others: Vec<String> = actions
            .iter()
            .filter(|(j, a)| *j != i && *a != action)
            .map(|(j, a)| format!("{} on {}", action_word(*a), row_words(drafts[*j].row)))
            .collect();
        let location = drafts[i].row.location_of(Field::Action, cx.columns);
        drafts[i].findings.push(
            Finding::error(
                Rule::Conflict,
                location,
                format!(
                    "This line asks to {} {}, but the same person also has {}.",
                    action_word(action).to_lowercase(),
                    drafts[i].primary_id.clone().unwrap_or_default(),
                    others.join(", ")
                ),
            )
            .suggest("Give each person one action: Add, Modify or Delete."),
        );
    }
    true
}

/// The person fields of one person, each with the line it was first given on.
type Merged<'a> = BTreeMap<Field, (&'a Value, usize)>;

/// Person fields: filled once, and the same wherever repeated. A line that repeats a field
/// with another value gets an error; the first value is kept.
fn merge_person_fields<'a>(drafts: &mut [Draft<'a>], indices: &[usize]) -> Merged<'a> {
    let mut merged: Merged<'a> = BTreeMap::new();
    for &i in indices {
        let row: &'a RequestRow = drafts[i].row;
        for field in [
            Field::LastName,
            Field::FirstName,
            Field::Email,
            Field::AccountType,
        ] {
            let Some(v) = row.values.get(&field) else {
                continue;
            };
            match merged.get(&field) {
                None => {
                    merged.insert(field, (v, i));
                }
                Some((first, j)) if !same_text(&first.text, &v.text) => {
                    let message = format!(
                        "{} is \"{}\" here but \"{}\" on {}.",
                        field.header(),
                        v.text,
                        first.text,
                        row_words(drafts[*j].row)
                    );
                    drafts[i].findings.push(
                        Finding::error(Rule::Conflict, v.location.clone(), message)
                            .suggest("Write the same value on every line of the person, or leave it empty after the first."),
                    );
                }
                Some(_) => {}
            }
        }
    }
    merged
}

/// A new account needs a name and an email: each one the person leaves empty is an error on
/// the person's first line.
fn check_person_filled(drafts: &mut [Draft], first: usize, merged: &Merged, cx: &Context) {
    for field in [Field::LastName, Field::FirstName, Field::Email] {
        if merged.contains_key(&field) {
            continue;
        }
        let location = drafts[first].row.location_of(field, cx.columns);
        // A form has one person block: its own words, not the worksheet's rows.
        let suggestion = match &location {
            Location::FormField { .. } => {
                format!("Fill in the {} field of the form.", field.header())
            }
            _ => format!(
                "Fill in the {} on the person's first line.",
                field.header().to_lowercase()
            ),
        };
        drafts[first].findings.push(
            Finding::error(
                Rule::MissingField,
                location,
                format!("{} is empty; a new account needs it.", field.header()),
            )
            .suggest(suggestion),
        );
    }
}

/// The same role twice (a warning), or added and removed (an error).
fn check_repeated_roles(drafts: &mut [Draft], indices: &[usize]) {
    let mut seen: HashMap<(u32, Scope, Vec<Parameter>), (Change, usize)> = HashMap::new();
    for &i in indices {
        let mut new_findings = Vec::new();
        for (role, location) in &drafts[i].roles {
            let key = (role.code, role.scope.clone(), role.parameters.clone());
            match seen.get(&key) {
                None => {
                    seen.insert(key, (role.change, i));
                }
                Some((change, j)) if *change == role.change => {
                    if *j != i || role.profile.is_none() {
                        new_findings.push(
                            Finding::warning(
                                Rule::DuplicateRole,
                                location.clone(),
                                format!(
                                    "{} is already asked for on {}.",
                                    role.name,
                                    row_words(drafts[*j].row)
                                ),
                            )
                            .suggest("Remove one of the two."),
                        );
                    }
                }
                Some((_, j)) => new_findings.push(
                    Finding::error(
                        Rule::Conflict,
                        location.clone(),
                        format!(
                            "{} is both added and removed (see {}).",
                            role.name,
                            row_words(drafts[*j].row)
                        ),
                    )
                    .suggest("Keep the one you mean."),
                ),
            }
        }
        drafts[i].findings.extend(new_findings);
    }
}

/// Separation of duties within one person's request: a role to add whose partner is also
/// asked for, on this line or another of the person's.
fn check_duties(drafts: &mut [Draft], indices: &[usize], cx: &Context) {
    let adding: Vec<u32> = indices
        .iter()
        .flat_map(|&i| drafts[i].roles.iter())
        .filter(|(r, _)| r.change == Change::Add)
        .map(|(r, _)| r.code)
        .collect();
    for &i in indices {
        let d = &mut drafts[i];
        let mut roles: Vec<(&mut RoleRequest, Location)> =
            d.roles.iter_mut().map(|(r, l)| (r, l.clone())).collect();
        let found = super::duties::check_roles(cx.catalog, &mut roles, &adding, false);
        d.findings.extend(found);
    }
}

/// The person one person's lines describe together.
fn person_of(drafts: &[Draft], indices: &[usize], merged: &Merged) -> Person {
    let text = |field: Field| merged.get(&field).map(|(v, _)| v.text.clone());
    let account_type = indices
        .iter()
        .find_map(|&i| drafts[i].account_type)
        .unwrap_or(AccountType::Internal);
    Person {
        primary_id: drafts[indices[0]].primary_id.clone().unwrap_or_default(),
        first_name: text(Field::FirstName),
        last_name: text(Field::LastName),
        email: text(Field::Email),
        account_type,
    }
}

/// A line's verdict: everything of its [`Line`] but the row it is about.
struct Verdict {
    status: LineStatus,
    findings: Vec<Finding>,
    rejected_with: Option<Location>,
    request: Option<Request>,
}

/// Status and typed request for one line.
fn finish_line(draft: Draft, person: Option<Person>, rejected_with: Option<Location>) -> Verdict {
    let mut findings = draft.findings;
    dedup(&mut findings);
    let status = if findings.iter().any(Finding::is_error) || rejected_with.is_some() {
        LineStatus::Rejected
    } else if findings
        .iter()
        .any(|f| matches!(f.rule, Rule::NeedsApproval | Rule::SeparationOfDuties))
    {
        LineStatus::NeedsApproval
    } else {
        LineStatus::Accepted
    };
    let request = match (status, draft.action, draft.institution, person) {
        (LineStatus::Rejected, ..) => None,
        (_, Some(action), Some(inst), Some(person)) => Some(Request {
            action,
            person,
            institution: inst.code.clone(),
            roles: roles_of(draft.roles),
        }),
        _ => None,
    };
    Verdict {
        status,
        findings,
        rejected_with,
        request,
    }
}

/// The roles of a line's request, without where each was asked, in a list of their own
/// size: collected in place, they kept the larger list of (role, location) pairs, grown
/// to four, which was 80 MB of a 100,000-line run.
fn roles_of(asked: Vec<(RoleRequest, Location)>) -> Vec<RoleRequest> {
    let mut roles = Vec::with_capacity(asked.len());
    roles.extend(asked.into_iter().map(|(r, _)| r));
    roles
}

fn dedup(findings: &mut Vec<Finding>) {
    // Most lines have no finding, or one: nothing to compare, no set to make.
    if findings.len() < 2 {
        return;
    }
    let mut seen = HashSet::new();
    findings.retain(|f| seen.insert((f.rule, f.location.clone(), f.message.clone())));
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity == Severity::Error));
}

/// A generic or shared account among the line's ID (`generic_id`: whether it looks generic,
/// already searched), email and name.
fn check_generic(row: &RequestRow, cx: &Context, generic_id: Option<bool>, f: &mut Vec<Finding>) {
    let policy = &cx.catalog.policy;
    let allowed = |text: &str| {
        policy
            .allow_list
            .iter()
            .any(|a| a.eq_ignore_ascii_case(text.trim()))
    };
    let id = row.values.get(&Field::PrimaryId);
    let email = row.values.get(&Field::Email);
    if id.is_some_and(|v| allowed(&v.text)) || email.is_some_and(|v| allowed(&v.text)) {
        return;
    }
    // Texts borrowed from the row, and a location copied only for a finding.
    let full_name = match (
        row.values.get(&Field::FirstName),
        row.values.get(&Field::LastName),
    ) {
        (Some(first), Some(last)) => Some((
            Cow::Owned(format!("{} {}", first.text, last.text)),
            &last.location,
        )),
        (Some(only), None) | (None, Some(only)) => {
            Some((Cow::Borrowed(&*only.text), &only.location))
        }
        (None, None) => None,
    };
    let candidates = [
        id.map(|v| {
            (
                Cow::Borrowed(&*v.text),
                &v.location,
                "primary ID",
                generic_id,
            )
        }),
        email.map(|v| (Cow::Borrowed(&*v.text), &v.location, "email", None)),
        full_name.map(|(t, l)| (t, l, "name", None)),
    ];
    for (text, location, what, known) in candidates.into_iter().flatten() {
        if known.unwrap_or_else(|| policy.looks_generic(&text)) {
            f.push(
                Finding::error(
                    Rule::GenericAccount,
                    location.clone(),
                    format!("The {what} \"{text}\" looks like a generic or shared account. Every staff member, student workers included, needs a personal account."),
                )
                .suggest("Request an account for each person with their own ID, name and email."),
            );
            return;
        }
    }
}

/// Longest primary ID Alma stores.
const MAX_ID_CHARS: usize = 255;

/// A primary ID's characters, then its form for the institution: an ID that does not fit is
/// an error (never a new account); a number that fits may still have lost zeros (a warning).
/// `generic`: the ID looks like a generic account's (the policy's patterns).
fn check_primary_id(
    v: &Value,
    institution: Option<&Institution>,
    generic: bool,
) -> Option<Finding> {
    let id = v.text.as_str();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    let starts_well = id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_well || !id.chars().all(plain) || id.chars().count() > MAX_ID_CHARS {
        return Some(
            Finding::error(
                Rule::InvalidPrimaryId,
                v.location.clone(),
                format!("\"{id}\" is not a primary ID: an ID begins with a letter or digit and holds only letters, digits and . _ - @."),
            )
            .suggest("Write the person's Alma primary identifier, as Alma shows it."),
        );
    }
    // A generic ID (`circdesk1`) gets the generic-account error, which says what to do.
    if let Some(inst) = institution
        && !inst.primary_id.fits(id)
        && !generic
    {
        let finding = Finding::error(
            Rule::InvalidPrimaryId,
            v.location.clone(),
            format!(
                "The Primary ID {id} is not a {} ({}) primary ID.",
                inst.name, inst.code
            ),
        );
        return Some(match inst.primary_id.padded(id) {
            Some(padded) => finding.suggest(format!(
                "Did you mean {padded}? Spreadsheets drop leading zeros: format the Primary ID column as Text and type the ID again."
            )),
            None => finding.suggest("Check the ID in Alma and type it as Alma shows it."),
        });
    }
    (v.kind == ValueKind::Number).then(|| {
        Finding::warning(
            Rule::IdLeadingZeros,
            v.location.clone(),
            format!(
                "The Primary ID {id} is stored as a number. If it began with zeros, the spreadsheet has removed them."
            ),
        )
        .suggest("Format the Primary ID column as Text and type the ID again, leading zeros included.")
    })
}

fn unknown_institution(catalog: &Catalog, v: &Value) -> Finding {
    let finding = Finding::error(
        Rule::UnknownInstitution,
        v.location.clone(),
        format!("\"{}\" is not a member institution in the catalog.", v.text),
    );
    let candidates = catalog
        .institutions
        .iter()
        .flat_map(|i| [i.code.as_str(), i.name.as_str()]);
    match Catalog::closest(&v.text, candidates) {
        Some(best) => {
            let code = catalog.institution(best).map_or(best, |i| i.code.as_str());
            finding.suggest(format!("Did you mean {code}?"))
        }
        None => {
            finding.suggest("Use the institution code from the drop-down list, like 01FALSC_XXX.")
        }
    }
}

fn find_library<'a>(inst: &'a Institution, text: &str) -> Option<&'a Library> {
    inst.library(text)
        .or_else(|| inst.libraries.iter().find(|l| same_text(&l.name, text)))
}

fn unknown_library(catalog: &Catalog, inst: &Institution, v: &Value) -> Finding {
    let elsewhere = catalog
        .institutions
        .iter()
        .filter(|i| i.code != inst.code)
        .find(|i| find_library(i, &v.text).is_some());
    let message = match elsewhere {
        Some(other) => format!(
            "{} is a library of {} ({}), not of {} ({}).",
            v.text, other.name, other.code, inst.name, inst.code
        ),
        None => format!(
            "\"{}\" is not a library of {} ({}).",
            v.text, inst.name, inst.code
        ),
    };
    let finding = Finding::error(Rule::UnknownLibrary, v.location.clone(), message);
    let codes: Vec<&str> = inst.libraries.iter().map(|l| l.code.as_str()).collect();
    match Catalog::closest(&v.text, codes.iter().copied()) {
        Some(best) => finding.suggest(format!("Did you mean {best}?")),
        None => finding.suggest(format!("Choose one of {}.", codes.join(", "))),
    }
}

fn parse_action(text: &str) -> Option<Action> {
    match norm(text).as_str() {
        "add" | "adduser" | "new" | "newuser" | "newaccount" | "create" | "createuser" => {
            Some(Action::Add)
        }
        "modify" | "modifyuser" | "change" | "update" | "edit" | "modifyroles" => {
            Some(Action::Modify)
        }
        "delete" | "deleteuser" | "removeuser" | "removeallroles" | "deleteroles" => {
            Some(Action::Delete)
        }
        "restore" | "restoreuser" | "restoreroles" | "reactivate" | "unsuspend" => {
            Some(Action::Restore)
        }
        _ => None,
    }
}

fn parse_change(text: &str) -> Option<Change> {
    match text.trim() {
        "+" => return Some(Change::Add),
        "-" | "\u{2212}" => return Some(Change::Remove),
        _ => {}
    }
    match norm(text).as_str() {
        "add" | "addrole" | "grant" | "give" | "yes" => Some(Change::Add),
        "remove" | "removerole" | "revoke" | "delete" | "take" => Some(Change::Remove),
        _ => None,
    }
}

fn parse_account_type(text: &str) -> Option<AccountType> {
    match norm(text).as_str() {
        "internal" | "int" | "i" => Some(AccountType::Internal),
        "external" | "ext" | "e" => Some(AccountType::External),
        _ => None,
    }
}

/// `2027-06-30`, `6/30/2027` (US order, as coordinators write it), `2027/06/30`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let text = text.split(['T', ' ']).next().unwrap_or(text);
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let nums: Vec<i32> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, d) = if parts[0].len() == 4 {
        (nums[0], nums[1], nums[2])
    } else if parts[2].len() == 4 {
        (nums[2], nums[0], nums[1])
    } else {
        return None;
    };
    Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// Several roles in one cell: separated by `;` or line breaks.
fn split_roles(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

use crate::catalog::lookup_key as norm;

fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Add => "Add",
        Action::Modify => "Modify",
        Action::Delete => "Delete",
        Action::Restore => "Restore",
    }
}

fn row_words(row: &RequestRow) -> String {
    match row.location.row() {
        Some(n) => format!("row {n}"),
        None => row.location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_coordinators_write() {
        assert_eq!(parse_date("2027-06-30"), Date::new(2027, 6, 30).ok());
        assert_eq!(parse_date("6/30/2027"), Date::new(2027, 6, 30).ok());
        assert_eq!(
            parse_date("2027-06-30T00:00:00"),
            Date::new(2027, 6, 30).ok()
        );
        assert_eq!(parse_date("30/06/27"), None);
        assert_eq!(parse_date("2027-02-30"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn actions_and_changes_accept_common_words() {
        assert_eq!(parse_action("Add user"), Some(Action::Add));
        assert_eq!(parse_action(" MODIFY "), Some(Action::Modify));
        assert_eq!(parse_action("Remove all roles"), Some(Action::Delete));
        assert_eq!(parse_action("Change roles please"), None);
        assert_eq!(parse_change("-"), Some(Change::Remove));
        assert_eq!(parse_change("Remove"), Some(Change::Remove));
        assert_eq!(parse_change("maybe"), None);
    }

    #[test]
    fn several_roles_in_one_cell() {
        let roles: Vec<_> = split_roles("Cataloger; Selector\nReceiving Operator;").collect();
        assert_eq!(roles, ["Cataloger", "Selector", "Receiving Operator"]);
    }
}
