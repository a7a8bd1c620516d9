//! `rolecall push`: a change set carried into Alma, one account at a time, each succeeding
//! or failing on its own.
//!
//! Per account: GET the live user; refuse it when its roles are not what the state says
//! (someone changed it in Alma meanwhile; `--rebase` applies the operations to the live
//! list instead); build the body from the live user with `user_role` replaced (and an
//! internal account's names and email for `update_account`); skip when nothing changes;
//! PUT; check the roles Alma answered with; record them in the state. A new account is a
//! POST with the institution's create defaults from the catalog, after a GET shows it is not
//! there. Every step is in the [`journal`](super::journal) first, so a run killed at any
//! moment resumes without writing twice.

use super::Environment;
use super::client::{AlmaError, ApiError, Client};
use super::journal::{Journal, Step};
use super::sync::record_user;
use super::user::{self, apply_ops, diff_words, keys, roles_of};
use crate::catalog::Catalog;
use crate::changeset::{ChangeSet, Operation};
use crate::state::{Assignment, State, StateError, apply::fingerprint};
use crate::validate::AccountType;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Do the GETs and say what would change; write nothing (not even the journal).
    pub dry_run: bool,
    /// Apply the operations to the live roles even when they are not what the state says.
    pub rebase: bool,
    /// The environment the keys must belong to; a write needs it.
    pub expect_environment: Option<Environment>,
}

/// What happened to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written to Alma and recorded.
    Changed,
    /// Alma already held what the change set asks.
    Unchanged,
    /// Done by an earlier run of the same change set.
    AlreadyDone,
    /// Dry run: this is what a push would write.
    WouldChange,
    /// Alma's roles are not what the state says: not touched.
    Refused,
    /// Alma refused or failed; see the reasons.
    Failed,
    /// Not tried (the institution stopped: a threshold, a key).
    Pending,
}

/// One account's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountReport {
    /// Institution.
    pub institution: String,
    /// Primary ID.
    pub primary_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// The role changes ("+ role", "- role"), and any other field changed.
    pub changes: Vec<String>,
    /// Why it was refused, failed or left pending; notes.
    pub reasons: Vec<String>,
    /// Alma's error list, when Alma answered with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alma_errors: Vec<ApiError>,
}

/// The report of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushReport {
    /// The change set's submission id.
    pub submission_id: String,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Each account, in change-set order.
    pub accounts: Vec<AccountReport>,
    /// Operations of the change set that were not sent, and why (they wait for approval,
    /// were denied, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_pushed: Vec<NotPushed>,
}

/// An operation left out of a push.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotPushed {
    /// Institution.
    pub institution: String,
    /// Primary ID.
    pub primary_id: String,
    /// The operation in words.
    pub operation: String,
    /// Request lines it came from.
    pub lines: Vec<String>,
    /// Why it was not sent: "needs approval: not pushed".
    pub why: String,
}

impl PushReport {
    /// Accounts with this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.accounts
            .iter()
            .filter(|a| a.outcome == outcome)
            .count()
    }

    /// True when an account was refused, failed or left pending.
    pub fn needs_attention(&self) -> bool {
        [Outcome::Refused, Outcome::Failed, Outcome::Pending]
            .iter()
            .any(|o| self.count(*o) > 0)
    }
}

/// Makes the client of an institution (its key from the configuration).
pub type MakeClient<'a> = &'a dyn Fn(&str) -> Result<Client, AlmaError>;

struct Ctx<'a> {
    state: &'a State,
    catalog: &'a Catalog,
    journal: Journal<'a>,
    opts: &'a Options,
    tag: String,
}

/// Per institution: its client, whether its environment was checked, why it stopped.
struct Institutions<'a> {
    make: MakeClient<'a>,
    clients: HashMap<String, Client>,
    checked: Vec<String>,
    stopped: HashMap<String, (Outcome, String)>,
}

impl Institutions<'_> {
    fn client(&mut self, inst: &str) -> Result<&mut Client, AlmaError> {
        if !self.clients.contains_key(inst) {
            let c = (self.make)(inst)?;
            self.clients.insert(inst.to_string(), c);
        }
        Ok(self.clients.get_mut(inst).expect("inserted above"))
    }
}

/// Pushes `cs`. `now` stamps the journal (RFC 3339).
pub fn push(
    state: &State,
    cs: &ChangeSet,
    catalog: &Catalog,
    make: MakeClient,
    opts: &Options,
    now: &str,
) -> Result<PushReport, StateError> {
    let fp = fingerprint(cs);
    let ctx = Ctx {
        state,
        catalog,
        journal: Journal::new(state.conn(), &fp, now),
        opts,
        tag: cs.submission.id.clone(),
    };
    let people = accounts(cs);
    if !opts.dry_run {
        for (inst, id, _) in &people {
            if ctx.journal.entry(inst, id)?.is_none() {
                ctx.journal.set(inst, id, Step::Pending, None, None, "")?;
            }
        }
    }
    let mut insts = Institutions {
        make,
        clients: HashMap::new(),
        checked: Vec::new(),
        stopped: HashMap::new(),
    };
    let mut report = PushReport {
        submission_id: cs.submission.id.clone(),
        dry_run: opts.dry_run,
        accounts: Vec::new(),
        not_pushed: Vec::new(),
    };
    for (inst, id, ops) in &people {
        let one = match insts.stopped.get(inst) {
            Some((outcome, why)) => blank(inst, id, *outcome, vec![why.clone()]),
            None => push_account(&ctx, &mut insts, inst, id, ops)?,
        };
        report.accounts.push(one);
    }
    Ok(report)
}

/// The accounts of a change set, in its order, each with its operations.
fn accounts(cs: &ChangeSet) -> Vec<(String, String, Vec<&Operation>)> {
    let mut out: Vec<(String, String, Vec<&Operation>)> = Vec::new();
    for op in &cs.operations {
        let (inst, id) = op.account();
        match out
            .iter_mut()
            .find(|(i, p, _)| i == inst && p.eq_ignore_ascii_case(id))
        {
            Some((_, _, ops)) => ops.push(op),
            None => out.push((inst.to_string(), id.to_string(), vec![op])),
        }
    }
    out
}

fn blank(inst: &str, id: &str, outcome: Outcome, reasons: Vec<String>) -> AccountReport {
    AccountReport {
        institution: inst.to_string(),
        primary_id: id.to_string(),
        outcome,
        changes: Vec::new(),
        reasons,
        alma_errors: Vec::new(),
    }
}

/// One account, from wherever its journal row stands.
fn push_account(
    ctx: &Ctx,
    insts: &mut Institutions,
    inst: &str,
    id: &str,
    ops: &[&Operation],
) -> Result<AccountReport, StateError> {
    let entry = ctx.journal.entry(inst, id)?;
    if let Some(e) = &entry {
        if e.step.is_done() {
            let mut r = blank(inst, id, Outcome::AlreadyDone, vec![]);
            r.reasons
                .push(format!("done by an earlier run ({})", e.detail));
            return Ok(r);
        }
        if let (Step::Written, Some(answer), false) = (e.step, &e.answer, ctx.opts.dry_run) {
            // Alma answered an earlier run's write, which was killed before recording it.
            let mut r = finish(ctx, inst, id, answer, e.intent.as_ref(), ops)?;
            r.reasons
                .push("written by an earlier run; recorded now".into());
            return Ok(r);
        }
    }
    let intent = entry.and_then(|e| e.intent);
    let got = match insts.client(inst) {
        Ok(c) => c.get_user(id),
        Err(e) => Err(e),
    };
    let creates = ops
        .iter()
        .any(|op| matches!(op, Operation::CreateAccount { .. }));
    match got {
        Ok(user) => update(ctx, insts, inst, id, ops, user, intent.as_ref(), creates),
        Err(e) if e.is_not_found() && creates => create(ctx, insts, inst, id, ops),
        Err(e) => failed(ctx, insts, inst, id, &e),
    }
}

/// An Alma error ends this account; a stop (key, threshold) also the institution's others.
fn failed(
    ctx: &Ctx,
    insts: &mut Institutions,
    inst: &str,
    id: &str,
    e: &AlmaError,
) -> Result<AccountReport, StateError> {
    let pending = matches!(
        e,
        AlmaError::Stopped {
            stop: super::client::Stop::DailyThreshold | super::client::Stop::RemainingLow { .. },
            ..
        }
    );
    let outcome = if pending {
        Outcome::Pending
    } else {
        Outcome::Failed
    };
    let why = e.to_string();
    if e.stops_institution() {
        insts
            .stopped
            .insert(inst.to_string(), (outcome, why.clone()));
    }
    if !ctx.opts.dry_run {
        let step = if pending { Step::Pending } else { Step::Failed };
        ctx.journal.set(inst, id, step, None, None, &why)?;
    }
    let mut r = blank(inst, id, outcome, vec![why]);
    r.alma_errors = e.api_errors().to_vec();
    Ok(r)
}

fn refuse(
    ctx: &Ctx,
    inst: &str,
    id: &str,
    reasons: Vec<String>,
) -> Result<AccountReport, StateError> {
    if !ctx.opts.dry_run {
        ctx.journal
            .set(inst, id, Step::Refused, None, None, &reasons.join("; "))?;
    }
    Ok(blank(inst, id, Outcome::Refused, reasons))
}

/// Why the live user is not the one the change set was made against (empty: it is).
fn drift(ctx: &Ctx, inst: &str, id: &str, user: &Json) -> Result<Vec<String>, StateError> {
    let Some(held) = ctx.state.account(inst, id)? else {
        return Ok(vec![format!(
            "the state does not hold {id} at {inst}: run `rolecall state sync` first, or push with --rebase"
        )]);
    };
    let mut out = Vec::new();
    let live_type = user::account_type(user);
    if live_type != held.account_type {
        out.push(format!(
            "Alma has {id} as {:?}, the state as {:?}",
            live_type, held.account_type
        ));
    }
    let roles = ctx.state.roles(inst, id)?;
    out.extend(user::drift(&roles_of(user), &roles, ctx.catalog));
    if !out.is_empty() {
        out.insert(
            0,
            format!("{id} was changed in Alma since the state was made"),
        );
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn update(
    ctx: &Ctx,
    insts: &mut Institutions,
    inst: &str,
    id: &str,
    ops: &[&Operation],
    user: Json,
    intent: Option<&Json>,
    creates: bool,
) -> Result<AccountReport, StateError> {
    let live = roles_of(&user);
    if let (Some(intent), false) = (intent, ctx.opts.dry_run)
        && keys(&live) == keys(&as_list(intent))
    {
        // An earlier run's write landed; it was killed before hearing so.
        let mut r = finish(ctx, inst, id, &user, Some(intent), ops)?;
        r.reasons
            .push("written by an earlier run; recorded now".into());
        return Ok(r);
    }
    let mut notes = Vec::new();
    if creates {
        notes.push(format!(
            "{id} exists in Alma already: the roles are merged onto it"
        ));
    } else if !ctx.opts.rebase {
        let why = drift(ctx, inst, id, &user)?;
        if !why.is_empty() {
            return refuse(ctx, inst, id, why);
        }
    }
    let (body, mut changes) = merged(&user, ops, inst, &mut notes);
    let new_roles = roles_of(&body);
    if body == user {
        if !ctx.opts.dry_run {
            let tx = ctx.state.conn().unchecked_transaction()?;
            record_user(&tx, inst, &user, &ctx.tag, &[])?;
            ctx.journal.set(
                inst,
                id,
                Step::Unchanged,
                None,
                None,
                "Alma held it already",
            )?;
            tx.commit()?;
        }
        notes.push("Alma holds this already: nothing written".into());
        return Ok(report(inst, id, Outcome::Unchanged, Vec::new(), notes));
    }
    changes.splice(0..0, diff_words(&live, &new_roles, ctx.catalog));
    if ctx.opts.dry_run {
        return Ok(report(inst, id, Outcome::WouldChange, changes, notes));
    }
    let intent = json!(new_roles);
    let answer = match write(ctx, insts, inst, id, &intent, |c| c.put_user(id, &body)) {
        Ok(a) => a,
        Err(e) => return failed(ctx, insts, inst, id, &e),
    };
    let mut r = finish(ctx, inst, id, &answer, Some(&intent), ops)?;
    r.changes = changes;
    r.reasons.splice(0..0, notes);
    Ok(r)
}

fn as_list(intent: &Json) -> Vec<Json> {
    intent.as_array().cloned().unwrap_or_default()
}

fn report(
    inst: &str,
    id: &str,
    outcome: Outcome,
    changes: Vec<String>,
    reasons: Vec<String>,
) -> AccountReport {
    let mut r = blank(inst, id, outcome, reasons);
    r.changes = changes;
    r
}

/// The body to PUT: the live user, `user_role` replaced, and an internal account's names
/// and email for `update_account`. Returns it with the field changes in words.
fn merged(
    user: &Json,
    ops: &[&Operation],
    inst: &str,
    notes: &mut Vec<String>,
) -> (Json, Vec<String>) {
    let mut body = user.clone();
    let mut roles = roles_of(user);
    apply_ops(&mut roles, ops);
    user::ensure_not_empty(&mut roles, inst);
    body["user_role"] = json!(roles);
    let mut changes = Vec::new();
    for op in ops
        .iter()
        .filter(|op| matches!(op, Operation::UpdateAccount { .. }))
    {
        if user::account_type(user) == AccountType::External {
            notes
                .push("an external account's name and email come from the SIS: not changed".into());
            continue;
        }
        let before = body.clone();
        user::apply_update(&mut body, op);
        for field in ["first_name", "last_name"] {
            if before[field] != body[field] {
                changes.push(format!("{field}: {} → {}", before[field], body[field]));
            }
        }
        if before["contact_info"] != body["contact_info"] {
            changes.push(format!("email → {}", user::account(inst, &body).email));
        }
    }
    (body, changes)
}

/// Checks the environment once per institution, journals the intent, and writes. A write
/// with no clear answer is followed by a GET: if the intent is there it landed; if not, it
/// is tried once more.
fn write(
    ctx: &Ctx,
    insts: &mut Institutions,
    inst: &str,
    id: &str,
    intent: &Json,
    send: impl Fn(&mut Client) -> Result<Json, AlmaError>,
) -> Result<Json, AlmaError> {
    check_environment(ctx, insts, inst)?;
    let journal_err = |e: StateError| AlmaError::Unanswered {
        call: "the journal".into(),
        why: e.to_string(),
    };
    ctx.journal
        .set(inst, id, Step::Fetched, Some(intent), None, "")
        .map_err(|e| journal_err(e.into()))?;
    let client = insts.client(inst)?;
    let mut answer = send(client);
    for _ in 0..2 {
        let Err(AlmaError::Unanswered { .. }) = &answer else {
            break;
        };
        match client.get_user(id) {
            Ok(live) if keys(&roles_of(&live)) == keys(&as_list(intent)) => {
                answer = Ok(live);
            }
            Ok(_) => answer = send(client),
            Err(e) if e.is_not_found() => answer = send(client),
            Err(e) => return Err(e),
        }
    }
    let answer = answer?;
    ctx.journal
        .set(inst, id, Step::Written, None, Some(&answer), "")
        .map_err(|e| journal_err(e.into()))?;
    Ok(answer)
}

fn check_environment(ctx: &Ctx, insts: &mut Institutions, inst: &str) -> Result<(), AlmaError> {
    if insts.checked.iter().any(|i| i == inst) {
        return Ok(());
    }
    let stop = |why: String| AlmaError::NoKey {
        institution: inst.to_string(),
        why,
    };
    let Some(want) = ctx.opts.expect_environment else {
        return Err(stop(
            "set [alma] expect_environment = \"sandbox\" or \"production\" before writing".into(),
        ));
    };
    let got = insts.client(inst)?.environment()?;
    if !got.eq_ignore_ascii_case(want.word()) {
        return Err(stop(format!(
            "the key belongs to Alma's {} environment, and [alma] expect_environment is {}: nothing written",
            if got.is_empty() {
                "unknown"
            } else {
                got.as_str()
            },
            want.word()
        )));
    }
    insts.checked.push(inst.to_string());
    Ok(())
}

/// Checks Alma's answer against the intent and records it in the state; a role that Alma
/// left inactive fails the account, in words.
fn finish(
    ctx: &Ctx,
    inst: &str,
    id: &str,
    answer: &Json,
    intent: Option<&Json>,
    ops: &[&Operation],
) -> Result<AccountReport, StateError> {
    let mut problems = Vec::new();
    if let Some(intent) = intent {
        let got = keys(&roles_of(answer));
        for want in keys(&as_list(intent)) {
            if got.contains(&want) {
                continue;
            }
            let inactive = got
                .iter()
                .any(|g| !g.active && want.active && g.code == want.code && g.scope == want.scope);
            problems.push(if inactive {
                format!(
                    "Alma left {} inactive: a scope, desk or service unit it needs is missing or unknown in Alma",
                    user::describe(&want, ctx.catalog)
                )
            } else {
                format!("Alma did not save {}", user::describe(&want, ctx.catalog))
            });
        }
    }
    let suspended = suspended_grants(ops);
    let tx = ctx.state.conn().unchecked_transaction()?;
    // What the state cannot hold stays in Alma; `state sync` reports it, the push need not.
    record_user(&tx, inst, answer, &ctx.tag, &suspended)?;
    State::bump_version(&tx)?;
    let (step, outcome) = if problems.is_empty() {
        (Step::Recorded, Outcome::Changed)
    } else {
        (Step::Failed, Outcome::Failed)
    };
    let detail = match problems.is_empty() {
        true => "written to Alma and recorded".to_string(),
        false => problems.join("; "),
    };
    ctx.journal
        .set(inst, id, step, None, Some(answer), &detail)?;
    tx.commit()?;
    Ok(blank(inst, id, outcome, problems))
}

/// The roles a `suspend_roles` operation names, as the state keys them.
fn suspended_grants(ops: &[&Operation]) -> Vec<Assignment> {
    let mut out = Vec::new();
    for op in ops {
        if let Operation::SuspendRoles { roles, .. } = op {
            for g in roles {
                let mut parameters = g.parameters.clone();
                parameters.sort();
                out.push(Assignment {
                    code: g.role.code,
                    scope: g.scope.clone(),
                    parameters,
                    active: false,
                    expiry: g.expiry.clone(),
                    suspended_by: None,
                    parameters_known: crate::state::ParameterKnowledge::Known,
                });
            }
        }
    }
    out
}

/// A new account: POST with the institution's create defaults, after the GET found none.
fn create(
    ctx: &Ctx,
    insts: &mut Institutions,
    inst: &str,
    id: &str,
    ops: &[&Operation],
) -> Result<AccountReport, StateError> {
    let Some(body) = create_body(ctx.catalog, inst, ops) else {
        let why = format!(
            "the catalog has no [institution.create] defaults for {inst}: {id} cannot be created"
        );
        if !ctx.opts.dry_run {
            ctx.journal.set(inst, id, Step::Failed, None, None, &why)?;
        }
        return Ok(blank(inst, id, Outcome::Failed, vec![why]));
    };
    let roles = roles_of(&body);
    let mut changes = vec![format!("create {id} at {inst}")];
    changes.extend(diff_words(&[], &roles, ctx.catalog));
    if ctx.opts.dry_run {
        return Ok(report(inst, id, Outcome::WouldChange, changes, vec![]));
    }
    let intent = json!(roles);
    match write(ctx, insts, inst, id, &intent, |c| c.post_user(&body)) {
        Ok(answer) => {
            let mut r = finish(ctx, inst, id, &answer, Some(&intent), ops)?;
            r.changes = changes;
            Ok(r)
        }
        Err(e) if e.has_code(&["401851"]) => {
            // The user exists (created meanwhile): the update path, onto the live user.
            let got = insts.client(inst).and_then(|c| c.get_user(id));
            match got {
                Ok(user) => update(ctx, insts, inst, id, ops, user, None, true),
                Err(e) => failed(ctx, insts, inst, id, &e),
            }
        }
        Err(e) => failed(ctx, insts, inst, id, &e),
    }
}

/// The POST body of a new account: the request's person, the catalog's defaults, the roles.
fn create_body(catalog: &Catalog, inst: &str, ops: &[&Operation]) -> Option<Json> {
    let defaults = catalog.institution(inst)?.create.as_ref()?;
    let (first, last, email, id) = ops.iter().find_map(|op| match op {
        Operation::CreateAccount {
            first_name,
            last_name,
            email,
            primary_id,
            ..
        } => Some((first_name, last_name, email, primary_id)),
        _ => None,
    })?;
    let mut roles = Vec::new();
    apply_ops(&mut roles, ops);
    let has_patron = roles
        .iter()
        .any(|r| user::key_of(r).code == crate::catalog::PATRON_CODE);
    if !has_patron {
        let mut patron = vec![];
        user::ensure_not_empty(&mut patron, inst);
        roles.splice(0..0, patron);
    }
    let mut body = json!({
        "record_type": { "value": defaults.record_type },
        "primary_id": id,
        "first_name": first,
        "last_name": last,
        "account_type": { "value": "INTERNAL" },
        "status": { "value": "ACTIVE" },
        "user_group": { "value": defaults.user_group },
        "contact_info": { "email": [{
            "email_address": email,
            "preferred": true,
            "email_type": [{ "value": "work" }],
        }] },
        "user_role": roles,
    });
    if let Some(j) = &defaults.job_category {
        body["job_category"] = json!({ "value": j });
    }
    if let Some(l) = &defaults.preferred_language {
        body["preferred_language"] = json!({ "value": l });
    }
    Some(body)
}
