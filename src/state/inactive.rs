//! The inactivity audit (the seed page's monthly process): accounts holding active staff
//! roles that never logged in, or whose last login on record is more than the policy's
//! `inactivity_days` before the audit date, have their staff roles suspended.
//!
//! An account created or given a role less than `inactivity_grace_days` before the audit
//! date (a change set recorded with `apply`) is left alone: it cannot have logged in yet.
//! For the same reason an audit dated before the newest change recorded is refused: it
//! would judge accounts by roles they did not have on that date.
//!
//! "Last login" comes from the login history built by importing Staff Login Reports, which
//! reaches further back than Alma's own 90 days. The catalog's allow-list (IDs or emails)
//! exempts accounts. The audit writes a suspension change set (to carry out in Alma and
//! then `rolecall apply`), and per institution a workbook and a notice to its coordinators
//! saying who is suspended and how to ask for restoration (a Restore line).

use super::{Account, Assignment, State, StateError, roles_of};
use crate::catalog::Catalog;
use crate::changeset::{ChangeSet, Operation, SCHEMA, StateRef, SubmissionInfo};
use jiff::civil::Date;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::collections::HashMap;

/// One account to suspend.
#[derive(Debug, Clone)]
pub struct Inactive {
    /// The account.
    pub account: Account,
    /// Last login on record; `None` when it never logged in.
    pub last_login: Option<Date>,
    /// The active staff roles to suspend.
    pub roles: Vec<Assignment>,
}

impl Inactive {
    /// Why, in words.
    pub fn reason(&self, days: u32) -> String {
        match self.last_login {
            None => "never logged in".to_string(),
            Some(d) => format!("no login since {d} (more than {days} days)"),
        }
    }
}

/// The audit's findings.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The audit date.
    pub as_of: Date,
    /// The policy's days.
    pub days: u32,
    /// Accounts to suspend, by institution and ID.
    pub inactive: Vec<Inactive>,
    /// Accounts that would be suspended but are on the allow-list.
    pub exempt: Vec<Account>,
    /// Accounts that would be suspended but were created or given a role within the
    /// grace period, with that date.
    pub in_grace: Vec<(Account, Date)>,
    /// The state audited.
    pub state: StateRef,
}

/// Why an audit was not made.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `--as-of` is before a change the state already holds.
    #[error(
        "--as-of {as_of} is before the newest change recorded in the account state (change set {submission}, applied {newest}): an audit as of {as_of} would judge accounts by roles they did not have yet; use --as-of {newest} or later"
    )]
    AsOfBeforeChange {
        /// The date asked for.
        as_of: Date,
        /// The date of the newest change set applied.
        newest: Date,
        /// Its submission id.
        submission: String,
    },
    /// The state could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The date part of an RFC 3339 time as recorded in `state_changeset.applied_at`.
fn date_of(time: &str) -> Option<Date> {
    match time.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t.to_zoned(jiff::tz::TimeZone::UTC).date()),
        Err(_) => time.get(..10).and_then(|d| d.parse().ok()),
    }
}

/// Every change set applied: (applied date, submission id, change set JSON), oldest first.
fn applied(state: &State) -> Result<Vec<(Date, String, String)>, StateError> {
    let mut stmt = state
        .conn()
        .prepare("SELECT applied_at, submission_id, changeset FROM state_changeset ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, id, json) = row?;
        if let Some(date) = date_of(&at) {
            out.push((date, id, json));
        }
    }
    Ok(out)
}

/// Accounts a push wrote to Alma and recorded (the `alma_journal` of migration `alma-1`):
/// (date, change set fingerprint, institution, primary ID). A push records accounts without
/// `apply`, so these count as changes too; which operations they carried is not kept, so
/// every account written counts as given roles (the grace may spare an account that only
/// lost some: it is audited again next month).
fn pushed(state: &State) -> Result<Vec<(Date, String, String, String)>, StateError> {
    let mut stmt = state.conn().prepare(
        "SELECT updated_at, changeset, institution, primary_id FROM alma_journal
         WHERE step = 'recorded'",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, cs, inst, id) = row?;
        if let Some(date) = date_of(&at) {
            out.push((date, cs, inst, id));
        }
    }
    Ok(out)
}

/// Refuses an audit date before the newest change set applied.
fn check_as_of(changes: &[(Date, String, String)], as_of: Date) -> Result<(), AuditError> {
    match changes.iter().max_by_key(|(d, _, _)| *d) {
        Some((newest, submission, _)) if *newest > as_of => Err(AuditError::AsOfBeforeChange {
            as_of,
            newest: *newest,
            submission: submission.clone(),
        }),
        _ => Ok(()),
    }
}

/// The latest date each account (institution, lower-case ID) was created or given roles
/// (`create_account`, `add_role`, `restore_roles`), from the change sets applied.
fn granted(changes: &[(Date, String, String)]) -> HashMap<(String, String), Date> {
    let mut out: HashMap<(String, String), Date> = HashMap::new();
    for (date, _, json) in changes {
        let Ok(cs) = serde_json::from_str::<ChangeSet>(json) else {
            continue;
        };
        for op in &cs.operations {
            if matches!(
                op,
                Operation::CreateAccount { .. }
                    | Operation::AddRole { .. }
                    | Operation::RestoreRoles { .. }
            ) {
                let (inst, id) = op.account();
                let e = out
                    .entry((inst.to_string(), id.to_lowercase()))
                    .or_insert(*date);
                *e = (*e).max(*date);
            }
        }
    }
    out
}

fn days_before(date: Date, days: u32) -> Date {
    date.checked_sub(jiff::Span::new().days(i64::from(days)))
        .unwrap_or(date)
}

/// Finds the accounts to suspend as of `as_of`.
pub fn audit(state: &State, catalog: &Catalog, as_of: Date) -> Result<Audit, AuditError> {
    let mut changes = applied(state)?;
    let pushes = pushed(state)?;
    let mut granted = granted(&changes);
    for (date, cs, inst, id) in pushes {
        let e = granted.entry((inst, id.to_lowercase())).or_insert(date);
        *e = (*e).max(date);
        changes.push((date, format!("pushed {cs}"), String::new()));
    }
    check_as_of(&changes, as_of)?;
    let days = catalog.policy.inactivity_days;
    let cutoff = days_before(as_of, days);
    let grace_from = days_before(as_of, catalog.policy.inactivity_grace_days);
    let allowed = |a: &Account| {
        catalog.policy.allow_list.iter().any(|x| {
            x.eq_ignore_ascii_case(a.primary_id.trim()) || x.eq_ignore_ascii_case(a.email.trim())
        })
    };
    let mut out = Audit {
        as_of,
        days,
        inactive: Vec::new(),
        exempt: Vec::new(),
        in_grace: Vec::new(),
        state: state.reference()?,
    };
    for account in state.accounts()? {
        let roles: Vec<Assignment> =
            roles_of(state.conn(), &account.institution, &account.primary_id)?
                .into_iter()
                .filter(|r| r.active && r.is_staff())
                .collect();
        if roles.is_empty() {
            continue;
        }
        let last = state.last_login(&account.institution, &account.primary_id)?;
        if last.is_some_and(|d| d >= cutoff) {
            continue;
        }
        if allowed(&account) {
            out.exempt.push(account);
            continue;
        }
        let key = (
            account.institution.clone(),
            account.primary_id.to_lowercase(),
        );
        if let Some(on) = granted.get(&key).filter(|d| **d > grace_from) {
            out.in_grace.push((account, *on));
            continue;
        }
        out.inactive.push(Inactive {
            account,
            last_login: last,
            roles,
        });
    }
    Ok(out)
}

/// The suspension change set. `now` stamps it; its id is `inactive-<date>`.
pub fn changeset(audit: &Audit, catalog: &Catalog, now: &jiff::Zoned) -> ChangeSet {
    let mut operations: Vec<Operation> = audit
        .inactive
        .iter()
        .map(|i| Operation::SuspendRoles {
            institution: i.account.institution.clone(),
            primary_id: i.account.primary_id.clone(),
            roles: i
                .roles
                .iter()
                .map(|a| super::diff::grant(a, catalog))
                .collect(),
            reason: i.reason(audit.days),
            lines: Vec::new(),
        })
        .collect();
    Operation::sort(&mut operations);
    let id = format!("inactive-{}", audit.as_of);
    ChangeSet {
        schema: SCHEMA.to_string(),
        submission: SubmissionInfo {
            id: id.clone(),
            source: format!("rolecall audit inactive --as-of {}", audit.as_of),
            sha256: crate::intake::sha256_hex(id.as_bytes()),
            processed_at: now.timestamp().to_string(),
            requester_name: Some(catalog.policy.help_desk_name.clone()),
            requester_email: Some(catalog.policy.help_desk_email.clone()),
        },
        catalog_version: catalog.version.clone(),
        state_version: Some(audit.state.version),
        state: Some(audit.state.clone()),
        operations,
    }
}

/// Name of the workbook's sheet.
pub const SHEET: &str = "Suspended";

/// One institution's workbook: who is suspended, why, and which roles.
pub fn workbook(audit: &Audit, institution: &str, catalog: &Catalog) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET)?;
    let bold = Format::new().set_bold();
    let header = Format::new()
        .set_bold()
        .set_background_color("#DDEBF7")
        .set_text_wrap();
    let wrap = Format::new().set_text_wrap();
    let name = catalog
        .institution(institution)
        .map_or(institution.to_string(), |i| i.name.clone());
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{name} ({institution}): staff roles to be suspended for inactivity, {}",
            audit.as_of
        ),
        &bold,
    )?;
    ws.write_string(
        1,
        0,
        format!(
            "Accounts that never logged in to Alma, or not in the {} days before {}. The help desk suspends these roles next; once it has, a worksheet line with Action \"Restore\" and the Primary ID puts an account's roles back.",
            audit.days, audit.as_of
        ),
    )?;
    let heads = [
        ("Primary ID", 16.0),
        ("Name", 26.0),
        ("Email", 32.0),
        ("Last login", 12.0),
        ("Reason", 34.0),
        ("Roles to suspend", 60.0),
    ];
    for (c, (h, w)) in heads.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, *h, &header)?;
        ws.set_column_width(c as u16, *w)?;
    }
    let mut row = 3;
    for i in audit
        .inactive
        .iter()
        .filter(|i| i.account.institution == institution)
    {
        row += 1;
        ws.write_string(row, 0, &i.account.primary_id)?;
        ws.write_string(row, 1, i.account.display_name())?;
        ws.write_string(row, 2, &i.account.email)?;
        ws.write_string(
            row,
            3,
            i.last_login.map_or("never".to_string(), |d| d.to_string()),
        )?;
        ws.write_string(row, 4, i.reason(audit.days))?;
        let roles: Vec<String> = i.roles.iter().map(|r| r.describe(catalog)).collect();
        ws.write_string_with_format(row, 5, roles.join("\n"), &wrap)?;
    }
    ws.set_freeze_panes(4, 0)?;
    wb.save_to_buffer()
}

/// The notice's body for one institution.
pub fn notice_text(audit: &Audit, institution: &str, catalog: &Catalog) -> String {
    let name = catalog
        .institution(institution)
        .map_or(institution.to_string(), |i| i.name.clone());
    let mine: Vec<&Inactive> = audit
        .inactive
        .iter()
        .filter(|i| i.account.institution == institution)
        .collect();
    let mut text = format!(
        "Hello,\n\nThe consortium's policy is to suspend the Alma staff roles of accounts that never logged in, or have not logged in for more than {} days. As of {}, {} account(s) of {name} ({institution}) are due for suspension; the help desk will suspend their staff roles next:\n\n",
        audit.days,
        audit.as_of,
        mine.len()
    );
    for i in &mine {
        text.push_str(&format!(
            "- {} {} ({}): {}\n",
            i.account.primary_id,
            i.account.display_name(),
            i.roles.len(),
            i.reason(audit.days)
        ));
    }
    text.push_str(&format!(
        "\nThe attached workbook lists the roles each account will have suspended. After the suspension, send the help desk an Accounts Worksheet with a line whose Action is \"Restore\" and whose Primary ID is the account's, and its roles are put back exactly as they were.\n\n{}\n{}\n",
        catalog.policy.help_desk_name, catalog.policy.help_desk_email
    ));
    text
}

/// The notice's subject for one institution, with `n` accounts.
pub fn notice_subject(institution: &str, n: usize) -> String {
    format!("Alma staff roles to be suspended for inactivity: {n} account(s) of {institution}")
}

/// Institutions with at least one account to suspend, in catalog order (then others).
pub fn institutions(audit: &Audit, catalog: &Catalog) -> Vec<String> {
    let mut list: Vec<String> = catalog
        .institutions
        .iter()
        .map(|i| i.code.clone())
        .filter(|c| audit.inactive.iter().any(|i| &i.account.institution == c))
        .collect();
    for i in &audit.inactive {
        if !list.contains(&i.account.institution) {
            list.push(i.account.institution.clone());
        }
    }
    list
}
