//! Requests against the state: what must change, given what each account already has.
//!
//! [`reconcile`] runs after validation and before the change set is built. It rewrites each
//! line's typed request and adds findings (`docs/state.md` lists every case):
//!
//! - Add for an account that already has staff roles becomes a Modify (`account-exists`);
//!   Add for a patron-only account adds roles without creating an account.
//! - A role to add that is already held is dropped (`already-has-role`); a role to remove
//!   that is not held is dropped with a warning (`role-not-held`).
//! - Modify, Delete or Restore for an unknown account (`unknown-account`) or for an account of
//!   another institution (`other-institution-account`) is an error.
//! - For an external account a different name or email is not carried out
//!   (`external-field-change`): the SIS feed owns those fields; its roles still change.
//! - A request that takes an institution past its named-user allotment is refused (or
//!   warned about) with the numbers (`over-allotment`).
//!
//! [`complete`] then fills what only the state knows into the change set (the roles a Restore
//! puts back, the state version) and returns each person's roles before and after.

use super::touched::{Holding, Touched};
use super::{Account, Assignment, State, StateError, UnmatchedRole};
use crate::catalog::Catalog;
use crate::changeset::{ChangeSet, Operation, RoleGrant, RoleRef};
use crate::finding::{Finding, Rule, Severity};
use crate::layout::Field;
use crate::location::Location;
use crate::report::PersonRoles;
use crate::validate::{
    AccountType, Action, Change, Line, LineStatus, Outcome, Parameter, Request, RoleRequest,
};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Settings of the diff.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// `Error` refuses a request past the allotment (the default); `Warning` lets it through
    /// with the numbers.
    pub over_allotment: Severity,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            over_allotment: Severity::Error,
        }
    }
}

fn at(line: &Line, columns: &BTreeMap<Field, u32>, field: Field) -> Location {
    line.row
        .values
        .get(&field)
        .map(|v| v.location.clone())
        .unwrap_or_else(|| line.row.location_of(field, columns))
}

/// The same words, whatever the ASCII case and the spacing: what comparing the texts with
/// their runs of whitespace made single spaces gives, word by word without making them.
fn same(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.split_whitespace(), b.split_whitespace());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

fn role_list(roles: &[Assignment], catalog: &Catalog) -> String {
    let staff: Vec<String> = roles
        .iter()
        .filter(|r| r.is_staff())
        .map(|r| r.describe(catalog))
        .collect();
    staff.join("; ")
}

/// Compares every carried-out line of `outcome` with the state (see the module doc):
/// `touched` holds the accounts its lines name ([`Touched::of_outcome`]), `state` the
/// institutions' named-user counts.
pub fn reconcile(
    state: &State,
    touched: &Touched,
    outcome: &mut Outcome,
    catalog: &Catalog,
    options: &DiffOptions,
) -> Result<(), StateError> {
    let columns = outcome.document.columns.clone();
    let mut noted_exists: HashSet<(String, String)> = HashSet::new();
    for line in &mut outcome.lines {
        let Some(request) = line.request.take() else {
            continue;
        };
        let ctx = LineContext {
            line,
            columns: &columns,
            catalog,
        };
        let (request, findings) = ctx.reconcile(touched, request, &mut noted_exists);
        line.request = request;
        finish(line, findings);
    }
    // Each line's person, once for the checks below (they take no request away but a
    // refused one's, and look at a line only while it has its request).
    let keys: Vec<Option<PersonKey>> = outcome
        .lines
        .iter()
        .map(|l| l.request.as_ref().map(person_key))
        .collect();
    check_duties(touched, outcome, catalog, &keys);
    check_allotment(state, touched, outcome, catalog, options, &keys)
}

/// Separation of duties against what each account holds: a role to add whose partner the
/// person holds (and this submission does not take away) needs approval, as an exception.
fn check_duties(
    touched: &Touched,
    outcome: &mut Outcome,
    catalog: &Catalog,
    keys: &[Option<PersonKey>],
) {
    if catalog.policy.separation_of_duties.is_empty() {
        return;
    }
    let removed = removals(outcome, keys);
    let columns = outcome.document.columns.clone();
    for (line, key) in outcome.lines.iter_mut().zip(keys) {
        let location = at(line, &columns, Field::Role);
        let (Some(request), Some(key)) = (line.request.as_mut(), key) else {
            continue;
        };
        let gone = removed.get(key);
        let held: Vec<u32> = touched
            .roles(&key.0, &request.person.primary_id)
            .iter()
            .filter(|r| r.active && gone.is_none_or(|g| !g.contains(&r.code)))
            .map(|r| r.code)
            .collect();
        let mut roles: Vec<(&mut RoleRequest, Location)> = request
            .roles
            .iter_mut()
            .map(|r| (r, location.clone()))
            .collect();
        let found = crate::validate::duties::check_roles(catalog, &mut roles, &held, true);
        crate::validate::duties::settle(&mut line.status, &found);
        line.findings.extend(found);
    }
}

/// The role codes each person's requests take away. (A Delete takes every role away and
/// adds none, so it has nothing to check.)
fn removals<'k>(
    outcome: &Outcome,
    keys: &'k [Option<PersonKey>],
) -> HashMap<&'k PersonKey, Vec<u32>> {
    let mut out: HashMap<&PersonKey, Vec<u32>> = HashMap::new();
    for (line, key) in outcome.lines.iter().zip(keys) {
        let (Some(r), Some(key)) = (&line.request, key) else {
            continue;
        };
        let entry = out.entry(key).or_default();
        entry.extend(
            r.roles
                .iter()
                .filter(|x| x.change == Change::Remove)
                .map(|x| x.code),
        );
    }
    out
}

/// One line being compared with the state.
struct LineContext<'a> {
    line: &'a Line,
    columns: &'a BTreeMap<Field, u32>,
    catalog: &'a Catalog,
}

impl LineContext<'_> {
    fn at(&self, field: Field) -> Location {
        at(self.line, self.columns, field)
    }

    fn institution_name(&self, code: &str) -> String {
        self.catalog
            .institution(code)
            .map_or(code.to_string(), |i| format!("{} ({})", i.name, i.code))
    }

    /// The request as it stands against the state (`None`: nothing left to do), and the
    /// findings to add to the line.
    fn reconcile(
        &self,
        touched: &Touched,
        mut request: Request,
        noted_exists: &mut HashSet<(String, String)>,
    ) -> (Option<Request>, Vec<Finding>) {
        let inst = request.institution.clone();
        let id = request.person.primary_id.trim().to_string();
        let holding = touched.holding(&inst, &id);
        let Some(account) = &holding.account else {
            let findings = match request.action {
                Action::Add => Vec::new(),
                _ => vec![self.not_here(touched, &inst, &id)],
            };
            return (Some(request), findings);
        };
        let held = &holding.roles;
        let mut findings = Vec::new();
        if account.account_type == AccountType::External {
            findings.extend(self.external_changes(&request, account));
        }
        // Roles the catalog does not know by name are staff roles too.
        let has_staff = held.iter().any(|r| r.is_staff()) || !holding.unmatched.is_empty();
        let facts = Held {
            roles: held,
            has_staff,
        };
        if let Some(stop) = self.action(&mut request, account, &facts, noted_exists) {
            findings.push(stop.finding);
            if stop.nothing_to_do {
                return (None, findings);
            }
        }
        let asked = std::mem::take(&mut request.roles);
        let (kept, dropped, role_findings) = self.roles(asked, &id, held);
        // With none kept, every role asked was dropped, in its order.
        let all_held = kept.is_empty()
            && !dropped.is_empty()
            && dropped.iter().all(|r| r.change == Change::Add);
        findings.extend(match all_held {
            // Every role the line adds is held already: most often a result workbook sent
            // back after its lines were carried out. Said once, on the line. (A removal of
            // a role not held keeps its own warning, which lists the roles held: it is as
            // often a mistaken role as one already removed.)
            true => vec![self.already_done(&dropped, &id)],
            false => role_findings,
        });
        request.roles = kept;
        (Some(request), findings)
    }

    /// The one finding of a line whose every role to add is held already.
    fn already_done(&self, asked: &[RoleRequest], id: &str) -> Finding {
        let roles: Vec<String> = asked
            .iter()
            .map(|r| format!("{}{}", r.name, super::scope_words(&r.scope)))
            .collect();
        Finding::warning(
            Rule::AlreadyDone,
            self.at(Field::Role),
            format!(
                "Already done: {id} has {}, as this line asks; nothing is sent to Alma again.",
                roles.join("; ")
            ),
        )
    }

    /// Modify, Delete or Restore for an account the state does not hold here: of another
    /// institution, or unknown.
    fn not_here(&self, touched: &Touched, inst: &str, id: &str) -> Finding {
        let inst_name = self.institution_name(inst);
        let id_at = self.at(Field::PrimaryId);
        match touched.accounts_by_id(id).first() {
            Some(other) => {
                let other_name = self.institution_name(&other.institution);
                Finding::error(
                    Rule::OtherInstitution,
                    id_at,
                    format!(
                        "{id} is an account of {other_name}, not of {inst_name}: it cannot be changed from here."
                    ),
                )
                .suggest(format!(
                    "Check the primary ID; changes to {other_name} accounts must come from its coordinators."
                ))
            }
            None => Finding::error(
                Rule::UnknownAccount,
                id_at,
                format!("{id} is not an account of {inst_name} in the account state, so it cannot be changed."),
            )
            .suggest("Check the primary ID against Alma; use Add for a new account."),
        }
    }

    /// External accounts: the SIS feed owns name and email, so a different one is not
    /// carried out (a warning on each cell).
    fn external_changes(&self, request: &Request, account: &Account) -> Vec<Finding> {
        let id = request.person.primary_id.trim();
        let fields = [
            (
                Field::FirstName,
                &request.person.first_name,
                &account.first_name,
                "first name",
            ),
            (
                Field::LastName,
                &request.person.last_name,
                &account.last_name,
                "last name",
            ),
            (Field::Email, &request.person.email, &account.email, "email"),
        ];
        let mut out = Vec::new();
        for (field, asked, has, words) in fields {
            let Some(asked) = asked else { continue };
            if has.is_empty() || same(asked, has) || !self.line.row.values.contains_key(&field) {
                continue;
            }
            out.push(
                Finding::warning(
                    Rule::ExternalFieldChange,
                    self.at(field),
                    format!(
                        "{id} is an external account: its {words} comes from the campus system (SIS), which would overwrite any change, so it stays \"{has}\" and is not changed to \"{asked}\". Its roles are changed as asked."
                    ),
                )
                .suggest(format!("Ask the campus system's office to correct the {words}.")),
            );
        }
        out
    }

    /// What the action means for an existing account: an Add becomes a Modify (said once
    /// per person: `noted_exists`); a Delete of an account without staff roles, or a
    /// Restore with nothing suspended, does nothing.
    fn action(
        &self,
        request: &mut Request,
        account: &Account,
        held: &Held,
        noted_exists: &mut HashSet<(String, String)>,
    ) -> Option<ActionNote> {
        let id = request.person.primary_id.trim().to_string();
        let inst_name = || self.institution_name(&request.institution);
        let (has_staff, held) = (held.has_staff, held.roles);
        match request.action {
            Action::Add => {
                // An existing account (even patron-only) is not created again.
                request.action = Action::Modify;
                let first = has_staff
                    && noted_exists.insert((request.institution.clone(), id.to_lowercase()));
                first.then(|| ActionNote {
                    finding: Finding::warning(
                        Rule::AccountExists,
                        self.at(Field::Action),
                        format!(
                            "{id} ({}) already has an account at {} with staff roles ({}); this Add is carried out as a Modify: only the roles it lacks are added.",
                            account.display_name(),
                            inst_name(),
                            role_list(held, self.catalog)
                        ),
                    )
                    .suggest("Use Modify for accounts that exist."),
                    nothing_to_do: false,
                })
            }
            Action::Delete if !has_staff => Some(ActionNote {
                finding: Finding::warning(
                    Rule::RoleNotHeld,
                    self.at(Field::Action),
                    format!(
                        "{id} ({}) has no staff roles at {}: nothing to remove.",
                        account.display_name(),
                        inst_name()
                    ),
                ),
                nothing_to_do: true,
            }),
            Action::Restore if !held.iter().any(|r| r.suspended_by.is_some() && !r.active) => {
                Some(ActionNote {
                    finding: Finding::warning(
                        Rule::NothingSuspended,
                        self.at(Field::Action),
                        format!(
                            "{id} ({}) has no suspended roles: nothing to restore.",
                            account.display_name()
                        ),
                    )
                    .suggest("Use Modify to add roles."),
                    nothing_to_do: true,
                })
            }
            _ => None,
        }
    }

    /// The roles left to add or remove, and the ones dropped (in their order): one already
    /// held (active, same desks) is not added again, one not held is not removed; each
    /// dropped role is a warning.
    fn roles(
        &self,
        roles: Vec<RoleRequest>,
        id: &str,
        held: &[Assignment],
    ) -> (Vec<RoleRequest>, Vec<RoleRequest>, Vec<Finding>) {
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut findings = Vec::new();
        for role in roles {
            match self.dropped_role(&role, id, held) {
                Some(finding) => {
                    findings.push(finding);
                    dropped.push(role);
                }
                None => kept.push(role),
            }
        }
        (kept, dropped, findings)
    }

    /// Why a role is not added or removed (already held, or not held), if it is not.
    fn dropped_role(&self, role: &RoleRequest, id: &str, held: &[Assignment]) -> Option<Finding> {
        let params: Cow<[Parameter]> = if role.parameters.is_sorted() {
            Cow::Borrowed(&role.parameters)
        } else {
            let mut sorted = role.parameters.clone();
            sorted.sort();
            Cow::Owned(sorted)
        };
        let mut matching = held
            .iter()
            .filter(|a| a.code == role.code && a.scope == role.scope);
        let where_ = || super::scope_words(&role.scope);
        match role.change {
            Change::Add if matching.any(|a| a.active && a.parameters[..] == params[..]) => {
                Some(Finding::warning(
                    Rule::AlreadyHasRole,
                    self.at(Field::Role),
                    format!("{id} already has {}{}: nothing to add.", role.name, where_()),
                ))
            }
            Change::Remove
                if !matching.any(|a| {
                    params.is_empty() || a.parameters_unknown() || a.parameters[..] == params[..]
                }) =>
            {
                Some(
                    Finding::warning(
                        Rule::RoleNotHeld,
                        self.at(Field::Role),
                        format!(
                            "{id} does not have {}{}, so there is nothing to remove. Roles held: {}.",
                            role.name,
                            where_(),
                            match role_list(held, self.catalog) {
                                s if s.is_empty() => "none but Patron".to_string(),
                                s => s,
                            }
                        ),
                    )
                    .suggest("Check the role and library."),
                )
            }
            _ => None,
        }
    }
}

/// What an account holds, as the action check needs it.
struct Held<'a> {
    roles: &'a [Assignment],
    /// A role other than Patron, including roles known only by name.
    has_staff: bool,
}

/// A finding about the line's action, and whether it leaves nothing to do.
struct ActionNote {
    finding: Finding,
    nothing_to_do: bool,
}

/// Adds findings to a line and settles its status: an error rejects it.
fn finish(line: &mut Line, findings: Vec<Finding>) {
    line.findings.extend(findings);
    if line.findings.iter().any(Finding::is_error) {
        line.status = LineStatus::Rejected;
        line.request = None;
    }
}

/// (institution, lower-case ID) of a request's person.
type PersonKey = (String, String);
/// Whether a person is a named user before the requests, and the named roles (code and
/// scope) they hold after them.
type NamedAfter<'a> = (bool, BTreeSet<NamedRole<'a>>);

/// A named role a person holds after the requests, borrowed from the state's roles or the
/// request (no text made per role: only whether any is left matters).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum NamedRole<'a> {
    /// A role of the catalog: code and scope.
    Coded(u32, &'a crate::validate::Scope),
    /// A role known only by name (a request never names one): name and scope.
    ByName(&'a str, &'a str),
}

fn person_key(r: &Request) -> PersonKey {
    (
        r.institution.clone(),
        r.person.primary_id.trim().to_lowercase(),
    )
}

/// Each person's named roles after the outcome's requests (active ones only), and the
/// people in the order the file first names them.
fn named_after<'a, 'k>(
    touched: &'a Touched,
    outcome: &'a Outcome,
    catalog: &Catalog,
    keys: &'k [Option<PersonKey>],
) -> (HashMap<&'k PersonKey, NamedAfter<'a>>, Vec<&'k PersonKey>) {
    let mut people: HashMap<&PersonKey, NamedAfter<'a>> = HashMap::new();
    let mut first_seen: Vec<&PersonKey> = Vec::new();
    for (line, key) in outcome.lines.iter().zip(keys) {
        let (Some(r), Some(key)) = (&line.request, key) else {
            continue;
        };
        if !people.contains_key(key) {
            first_seen.push(key);
            let holding = touched.holding(&r.institution, &r.person.primary_id);
            let held = &holding.roles;
            // Roles known only by name count as the licence audit counts them; they have no
            // code, so they are keyed apart from every code (a request never names them).
            let by_name: BTreeSet<NamedRole> = holding
                .unmatched
                .iter()
                .filter(|u| super::licence::unmatched_is_named(u))
                .map(|u| NamedRole::ByName(&u.name, &u.scope))
                .collect();
            let before = held.iter().any(|a| a.is_named(catalog)) || !by_name.is_empty();
            // Active after the request: what is active now, and for a Restore what was
            // suspended.
            let mut set: BTreeSet<NamedRole> = held
                .iter()
                .filter(|a| a.active || (r.action == Action::Restore && a.suspended_by.is_some()))
                .filter(|a| super::named_code(catalog, a.code))
                .map(|a| NamedRole::Coded(a.code, &a.scope))
                .collect();
            set.extend(by_name);
            people.insert(key, (before, set));
        }
        let entry = people.get_mut(key).expect("inserted above");
        if r.action == Action::Delete {
            entry.1.clear();
        }
        for role in &r.roles {
            let named = super::named_code(catalog, role.code);
            let k = NamedRole::Coded(role.code, &role.scope);
            match role.change {
                Change::Add if named => {
                    entry.1.insert(k);
                }
                Change::Remove => {
                    entry.1.remove(&k);
                }
                _ => {}
            }
        }
    }
    (people, first_seen)
}

/// Named-user counts before and after the outcome's requests; lines that make a new named
/// user past the allotment get `over-allotment`. Licences freed in the same submission count
/// first; new named users then take the headroom in file order.
fn check_allotment(
    state: &State,
    touched: &Touched,
    outcome: &mut Outcome,
    catalog: &Catalog,
    options: &DiffOptions,
    keys: &[Option<PersonKey>],
) -> Result<(), StateError> {
    let (people, first_seen) = named_after(touched, outcome, catalog, keys);
    // Licences this submission frees (people who lose their last named role), per institution.
    let mut freed: BTreeMap<String, i64> = BTreeMap::new();
    for ((inst, _), (before, after)) in &people {
        if *before && after.is_empty() {
            *freed.entry(inst.clone()).or_default() += 1;
        }
    }
    // New named users take the headroom in the order they appear in the file: the first
    // ones that fit go through, the rest are refused (not all of them for one too many).
    let mut position: HashMap<&PersonKey, i64> = HashMap::new();
    let mut taken: BTreeMap<&str, i64> = BTreeMap::new();
    for key in first_seen {
        let (before, after) = &people[key];
        if !*before && !after.is_empty() {
            let n = taken.entry(&key.0).or_default();
            *n += 1;
            position.insert(key, *n);
        }
    }
    drop(people);
    // The counts now of the institutions that gain a named user, the only ones read.
    let gaining: BTreeSet<&str> = position.keys().map(|(inst, _)| inst.as_str()).collect();
    let codes: BTreeSet<&str> = gaining
        .into_iter()
        .filter_map(|text| catalog.institution(text))
        .map(|i| i.code.as_str())
        .collect();
    let counts = super::licence::named_counts_of(state, catalog, codes)?;
    // Each institution's text looked up in the catalog once, not once per line.
    let mut institutions: HashMap<String, Option<&crate::catalog::Institution>> = HashMap::new();
    for (line, key) in outcome.lines.iter_mut().zip(keys) {
        let (Some(r), Some(key)) = (&line.request, key) else {
            continue;
        };
        let Some(nth) = position.get(key).copied() else {
            continue;
        };
        let found = match institutions.get(&r.institution) {
            Some(found) => *found,
            None => *institutions
                .entry(r.institution.clone())
                .or_insert_with(|| catalog.institution(&r.institution)),
        };
        let Some(inst) = found else {
            continue;
        };
        let now = counts.get(&inst.code).copied().unwrap_or(0);
        let after = now as i64 - freed.get(&inst.code).copied().unwrap_or(0) + nth;
        if after <= i64::from(inst.named_user_allotment) {
            continue;
        }
        let finding = over_allotment(line, inst, now, after, options);
        finish(line, vec![finding]);
    }
    Ok(())
}

/// The `over-allotment` finding, on the line's primary ID.
fn over_allotment(
    line: &Line,
    inst: &crate::catalog::Institution,
    now: u32,
    after: i64,
    options: &DiffOptions,
) -> Finding {
    let message = format!(
        "This would take {} ({}) past its named-user licence allotment: {now} named users now, {after} after this request, allotment {}.",
        inst.name, inst.code, inst.named_user_allotment
    );
    let location = line
        .row
        .values
        .get(&Field::PrimaryId)
        .map_or(line.row.location.clone(), |v| v.location.clone());
    Finding {
        severity: options.over_allotment,
        rule: Rule::OverAllotment,
        location,
        message,
        suggestion: Some(
            "Remove staff roles from accounts that no longer need them (Delete), or ask the help desk about the allotment."
                .into(),
        ),
    }
}

/// The name and email changes the carried-out Modify lines ask for on existing internal
/// accounts, one `update_account` per account with only the fields that change (external
/// accounts keep the SIS's values: see `external-field-change`). Add the result to the
/// change set before [`complete`].
pub fn account_updates(touched: &Touched, outcome: &mut Outcome) -> Vec<Operation> {
    let columns = outcome.document.columns.clone();
    let mut out: Vec<Operation> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for line in &mut outcome.lines {
        let Some(r) = &line.request else { continue };
        if r.action != Action::Modify {
            continue;
        }
        let id = r.person.primary_id.trim();
        let Some(account) = touched.account(&r.institution, id) else {
            continue;
        };
        if account.account_type != AccountType::Internal
            || !seen.insert((account.institution.clone(), id.to_lowercase()))
        {
            continue;
        }
        let changed = |asked: &Option<String>, has: &str| {
            asked
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty() && !same(a, has))
                .map(str::to_string)
        };
        let first_name = changed(&r.person.first_name, &account.first_name);
        let last_name = changed(&r.person.last_name, &account.last_name);
        let email = changed(&r.person.email, &account.email);
        // Said in the reply, field by field: a nickname written only to name the person
        // would otherwise rename the account unseen.
        let mut said = Vec::new();
        for (field, new, old, words) in [
            (
                Field::FirstName,
                &first_name,
                &account.first_name,
                "first name",
            ),
            (Field::LastName, &last_name, &account.last_name, "last name"),
            (Field::Email, &email, &account.email, "email"),
        ] {
            if let Some(new) = new {
                said.push(
                    Finding::warning(
                        Rule::AccountUpdate,
                        at(line, &columns, field),
                        format!("{id}'s {words} changes from \"{old}\" to \"{new}\"."),
                    )
                    .suggest(
                        "Nothing to do if that is meant; if you only wanted to name the \
                         person, write it as Alma has it.",
                    ),
                );
            }
        }
        line.findings.extend(said);
        if first_name.is_some() || last_name.is_some() || email.is_some() {
            out.push(Operation::UpdateAccount {
                institution: account.institution.clone(),
                primary_id: account.primary_id.clone(),
                first_name,
                last_name,
                email,
                lines: vec![line.row.location.to_string()],
            });
        }
    }
    out
}

/// People from whom their roles before and after a change set are worked out on two
/// threads ([`complete`]).
const HALVED_PEOPLE: usize = 1_000;

/// Fills in what only the state knows (the roles a Restore puts back; the state version)
/// and returns each person's roles before and after the change set, for the result workbook.
/// `touched` holds the accounts of the submission's lines; any other account an operation
/// names is read into it first.
pub fn complete(
    state: &State,
    touched: &mut Touched,
    changeset: &mut ChangeSet,
    catalog: &Catalog,
) -> Result<Vec<PersonRoles>, StateError> {
    changeset.state_version = Some(state.version()?);
    changeset.state = Some(state.reference()?);
    let people = super::accounts_touched(changeset);
    let unread: Vec<super::touched::Key> = people
        .iter()
        .filter(|(inst, id)| !touched.has(inst, id))
        .map(|(inst, id)| super::touched::key(inst, id))
        .collect();
    touched.load(state, unread)?;
    for op in &mut changeset.operations {
        if let Operation::RestoreRoles {
            institution,
            primary_id,
            roles,
            ..
        } = op
        {
            *roles = touched
                .roles(institution, primary_id)
                .iter()
                .filter(|a| !a.active && a.suspended_by.is_some())
                .map(|a| grant(a, catalog))
                .collect();
        }
    }
    let (ops, tag) = (&changeset.operations[..], changeset.submission.id.as_str());
    if people.len() < HALVED_PEOPLE {
        return Ok(people_roles(touched, &people, (ops, tag), catalog));
    }
    // Two halves at once, each person's key in one (as `Touched::after` keys them), then
    // put back in the change set's order.
    let (first, second): (Vec<usize>, Vec<usize>) = (0..people.len()).partition(|&i| {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        super::touched::key(&people[i].0, &people[i].1).hash(&mut h);
        h.finish() & 1 == 0
    });
    let roles_of = |half: &[usize]| {
        let some: Vec<(String, String)> = half.iter().map(|&i| people[i].clone()).collect();
        people_roles(touched, &some, (ops, tag), catalog)
    };
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| roles_of(&second));
        let mine = roles_of(&first);
        match other.join() {
            Ok(theirs) => (mine, theirs),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    let mut out: Vec<Option<PersonRoles>> = people.iter().map(|_| None).collect();
    for (&i, roles) in first.iter().zip(a).chain(second.iter().zip(b)) {
        out[i] = Some(roles);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Each person's roles before and after the operations (tagged with the submission).
fn people_roles(
    touched: &Touched,
    people: &[(String, String)],
    (ops, tag): (&[Operation], &str),
    catalog: &Catalog,
) -> Vec<PersonRoles> {
    let after = touched.after(people, ops, tag);
    let mut out = Vec::with_capacity(people.len());
    for ((inst, id), after) in people.iter().zip(after) {
        let before = touched.holding(inst, id);
        let name = after
            .account
            .as_ref()
            .or(before.account.as_ref())
            .map(|a| a.display_name())
            .unwrap_or_else(|| id.clone());
        out.push(PersonRoles {
            institution: inst.clone(),
            primary_id: id.clone(),
            name,
            before: role_words(before, catalog),
            after: role_words(&after, catalog),
        });
    }
    out
}

/// An account's roles in words, roles known only by name after the others.
fn role_words(h: &Holding, catalog: &Catalog) -> Vec<String> {
    h.roles
        .iter()
        .map(|a| a.describe(catalog))
        .chain(h.unmatched.iter().map(UnmatchedRole::describe))
        .collect()
}

/// An assignment as a change-set grant.
pub fn grant(a: &Assignment, catalog: &Catalog) -> RoleGrant {
    RoleGrant {
        role: RoleRef {
            code: a.code,
            name: super::role_name(catalog, a.code),
        },
        scope: a.scope.clone(),
        parameters: a.parameters.clone(),
        expiry: a.expiry.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ParameterKnowledge, put_account, put_role};
    use crate::validate::{AccountType, Scope};

    /// `n` people of one institution holding Cataloger (204); `sub-1` adds Physical
    /// Inventory Operator (210) to each, and also names every tenth again in capitals
    /// with a space before (another person in the change set, one key for the state).
    fn people_and_changeset(n: usize) -> (State, Touched, ChangeSet) {
        let state = State::in_memory().unwrap();
        let c = state.conn();
        let mut ops = Vec::new();
        for i in 0..n {
            let id = format!("gc{i:05}");
            let account = Account {
                institution: "A".into(),
                primary_id: id.clone(),
                first_name: format!("P{i}"),
                last_name: "Lee".into(),
                email: String::new(),
                account_type: AccountType::Internal,
                status: "ACTIVE".into(),
            };
            put_account(c, &account, "import").unwrap();
            let cataloger = Assignment {
                code: 204,
                scope: Scope::Institution("A".into()),
                parameters: Vec::new(),
                parameters_known: ParameterKnowledge::Known,
                active: true,
                expiry: None,
                suspended_by: None,
            };
            put_role(c, "A", &id, &cataloger).unwrap();
            let add = |primary_id: String| Operation::AddRole {
                institution: "A".into(),
                primary_id,
                role: RoleRef {
                    code: 210,
                    name: "Physical Inventory Operator".into(),
                },
                scope: Scope::Institution("A".into()),
                parameters: Vec::new(),
                expiry: None,
                needs_approval: false,
                separation_of_duties: None,
                profile: None,
                lines: Vec::new(),
            };
            ops.push(add(id.clone()));
            if i % 10 == 0 {
                ops.push(add(format!(" {}", id.to_uppercase())));
            }
        }
        crate::state::State::bump_version(c).unwrap();
        let changeset = ChangeSet {
            schema: crate::changeset::SCHEMA.into(),
            submission: crate::changeset::SubmissionInfo {
                id: "sub-1".into(),
                source: "w.xlsx".into(),
                sha256: "00".into(),
                processed_at: "2026-11-24T10:00:00Z".into(),
                requester_name: None,
                requester_email: None,
            },
            catalog_version: "x".into(),
            state_version: None,
            state: None,
            operations: ops,
        };
        (state, Touched::default(), changeset)
    }

    #[test]
    fn the_roles_worked_out_on_two_threads_are_those_of_one() {
        let catalog = crate::catalog::bundled();
        let (state, mut touched, mut changeset) = people_and_changeset(2 * HALVED_PEOPLE);
        let got = complete(&state, &mut touched, &mut changeset, &catalog).unwrap();
        let people = crate::state::accounts_touched(&changeset);
        assert!(people.len() >= HALVED_PEOPLE);
        let ops = (&changeset.operations[..], "sub-1");
        assert_eq!(got, people_roles(&touched, &people, ops, &catalog));
        // By hand: each person has Cataloger and gains the 210; the one named a second
        // time under the same key gets nothing the second time, as in one pass.
        assert_eq!(got[0].primary_id, "gc00000");
        assert_eq!(got[0].before, ["Cataloger (204)"]);
        assert_eq!(
            got[0].after,
            ["Cataloger (204)", "Physical Inventory Operator (210)"]
        );
        let again = got.iter().find(|p| p.primary_id == " GC00010").unwrap();
        assert_eq!(again.before, ["Cataloger (204)"]);
        assert!(again.after.is_empty(), "{again:?}");
    }

    #[test]
    fn the_same_words_whatever_the_ascii_case_and_the_spacing() {
        // By hand: spacing and ASCII case do not matter; words, their order and non-ASCII
        // case do.
        let cases = [
            ("Sam  Alvarez", " sam alvarez\t", true),
            ("SAM@GCSU.edu", "sam@gcsu.EDU", true),
            ("", "   ", true),
            ("Ann Lee", "AnnLee", false),
            ("ab c", "a bc", false),
            ("Ann", "Ann Lee", false),
            ("Lee Ann", "Ann Lee", false),
            ("Émile", "émile", false),
        ];
        // The rule as it was written: runs of whitespace made one space, then compared.
        let joined = |a: &str, b: &str| {
            let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
            words(a).eq_ignore_ascii_case(&words(b))
        };
        for (a, b, want) in cases {
            assert_eq!(same(a, b), want, "{a:?} / {b:?}");
            assert_eq!(joined(a, b), want, "{a:?} / {b:?}");
        }
    }
}
