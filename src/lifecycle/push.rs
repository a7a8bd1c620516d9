//! A submission's push through the lifecycle: the change set `push ID` finds, only the
//! operations that may go to Alma now ([`Lifecycle::pushable`]), [`crate::alma::push`], and
//! what Alma did recorded per operation ([`Lifecycle::record_push`]).

use super::{Lifecycle, LifecycleError, OpRecord, OpState, ReasonKind, SYSTEM, op_json};
use crate::alma::push::{MakeClient, NotPushed, Options, Outcome, PushReport, push};
use crate::catalog::Catalog;
use crate::changeset::{ChangeSet, Operation};
use crate::state::State;
use std::path::{Path, PathBuf};

impl Lifecycle {
    /// `cs` (the submission's change set) with only the operations that may go to Alma
    /// now: waiting to be pushed, approved by all they need, or failed before (tried
    /// again). Never one that waits for approval, was denied, superseded or pushed.
    pub fn pushable(
        &self,
        submission_id: &str,
        cs: &ChangeSet,
    ) -> Result<ChangeSet, LifecycleError> {
        let ops = self.matching(submission_id, cs)?;
        let mut out = cs.clone();
        out.operations = cs
            .operations
            .iter()
            .zip(&ops)
            .filter(|(_, r)| may_push(r.state))
            .map(|(op, _)| op.clone())
            .collect();
        Ok(out)
    }

    /// The records of `cs`'s operations, checked against the change set: the same
    /// operations in the same order, or [`LifecycleError::Mismatch`].
    fn matching(
        &self,
        submission_id: &str,
        cs: &ChangeSet,
    ) -> Result<Vec<OpRecord>, LifecycleError> {
        let ops = self.ops(submission_id)?;
        let stored = self.stored_json(submission_id)?;
        let mismatch = |index| LifecycleError::Mismatch {
            submission: submission_id.to_string(),
            path: "given".into(),
            index,
        };
        if stored.len() != cs.operations.len() {
            return Err(mismatch(stored.len().min(cs.operations.len())));
        }
        if let Some(i) = (0..stored.len()).find(|&i| stored[i] != op_json(&cs.operations[i])) {
            return Err(mismatch(i));
        }
        Ok(ops)
    }

    fn stored_json(&self, submission_id: &str) -> Result<Vec<String>, LifecycleError> {
        let db = |e| self.db(e);
        let Some(g) = super::latest_generation(&self.conn, submission_id).map_err(db)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT operation FROM lifecycle_op WHERE submission_id = ?1 AND generation = ?2 ORDER BY idx",
            )
            .map_err(db)?;
        stmt.query_map(rusqlite::params![submission_id, g], |r| r.get(0))
            .and_then(|m| m.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(db)
    }

    /// Records what a push of `pushed` (what [`Lifecycle::pushable`] gave) did: per
    /// account, its operations pushed, or failed with the reason in words (a drift refusal
    /// is a failure of kind [`ReasonKind::Drift`]); a pending account's stay as they were.
    /// A dry run records nothing.
    pub fn record_push(
        &mut self,
        submission_id: &str,
        pushed: &ChangeSet,
        report: &PushReport,
        now: &str,
    ) -> Result<(), LifecycleError> {
        if report.dry_run {
            return Ok(());
        }
        let stored = self.stored_json(submission_id)?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(super::WRITE)
            .map_err(|source| LifecycleError::Db {
                path: path.clone(),
                source,
            })?;
        for account in &report.accounts {
            let Some((to, reason)) = account_result(account) else {
                continue;
            };
            for op in pushed
                .operations
                .iter()
                .filter(|op| same_account(op, account))
            {
                let json = op_json(op);
                let Some(index) = stored.iter().position(|s| *s == json) else {
                    continue;
                };
                let reason = reason.as_ref().map(|(r, k)| (r.as_str(), *k));
                let step = (to, reason);
                match super::transition_in(&tx, submission_id, index, step, SYSTEM, None, now) {
                    // Superseded while the push ran (a later submission for the person):
                    // it stays superseded; the later submission's push finds Alma as it is.
                    Err(LifecycleError::NotAllowed { from, .. }) => {
                        tracing::warn!(submission = %submission_id, index, state = %from,
                            "pushed while no longer waiting: left as it is");
                    }
                    other => {
                        other?;
                    }
                }
            }
        }
        tx.commit()
            .map_err(|source| LifecycleError::Db { path, source })
    }
}

/// True for the states whose operations go to Alma on the next push.
fn may_push(state: OpState) -> bool {
    matches!(
        state,
        OpState::WaitingPush | OpState::Approved | OpState::Failed
    )
}

fn same_account(op: &Operation, a: &crate::alma::push::AccountReport) -> bool {
    let (inst, id) = op.account();
    inst == a.institution && id.eq_ignore_ascii_case(&a.primary_id)
}

/// What an account's outcome means for its operations; `None` leaves them as they are.
fn account_result(
    a: &crate::alma::push::AccountReport,
) -> Option<(OpState, Option<(String, ReasonKind)>)> {
    // The reasons hold Alma's errors in words already (code, message, tracking id).
    let why = || a.reasons.join("; ");
    match a.outcome {
        Outcome::Changed | Outcome::Unchanged | Outcome::AlreadyDone => {
            Some((OpState::Pushed, None))
        }
        Outcome::Refused => Some((OpState::Failed, Some((why(), ReasonKind::Drift)))),
        Outcome::Failed => Some((OpState::Failed, Some((why(), ReasonKind::Alma)))),
        Outcome::Pending | Outcome::WouldChange => None,
    }
}

/// The change set a push target names: a file, else a submission id of the ledger in `data`
/// (its newest change set: that of the last `reprocess`, if any). `Ok(None)` for a file.
pub fn submission_changeset(
    target: &str,
    data: &Path,
) -> Result<(PathBuf, Option<String>), LifecycleError> {
    let path = PathBuf::from(target);
    if path.is_file() {
        return Ok((path, None));
    }
    let nothing = |why: String| LifecycleError::ChangeSet(why);
    if !data.join(crate::db::FILE_NAME).is_file() {
        return Err(nothing(format!(
            "{target} is not a change set file, and {} is not a data folder to look it up in",
            data.display()
        )));
    }
    let ledger = crate::ledger::Ledger::open(data)?;
    let s = ledger
        .by_id(target)
        .map_err(|source| LifecycleError::Db {
            path: data.join(crate::db::FILE_NAME),
            source,
        })?
        .ok_or_else(|| {
            nothing(format!(
                "{target} is neither a change set file nor a submission id in {}",
                data.display()
            ))
        })?;
    let folder = data.join(
        s.folder
            .ok_or_else(|| nothing(format!("{target} has no outputs yet")))?,
    );
    let path = newest_changeset(&folder, &s.file_name);
    if path.is_file() {
        Ok((path, Some(s.id)))
    } else {
        Err(nothing(format!(
            "{target}: no change set at {}",
            path.display()
        )))
    }
}

/// `<stem>-changeset.json` in the folder, or in its newest `reprocess-N/`.
pub fn newest_changeset(folder: &Path, file_name: &str) -> PathBuf {
    let stem = Path::new(file_name)
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{stem}-changeset.json");
    (1..)
        .map(|n| folder.join(format!("reprocess-{n}")).join(&name))
        .take_while(|p| p.is_file())
        .last()
        .unwrap_or_else(|| folder.join(&name))
}

/// Pushes submission `submission_id` of the data folder: its change set (as `push ID`
/// finds it), only the operations [`Lifecycle::pushable`] gives, recorded with
/// [`Lifecycle::record_push`]. A submission processed before the lifecycle existed is
/// recorded first. The report lists the operations not sent and why.
pub fn push_submission(
    data_dir: &Path,
    state: &State,
    submission_id: &str,
    catalog: &Catalog,
    make: MakeClient,
    opts: &Options,
    now: &str,
) -> Result<PushReport, LifecycleError> {
    let (path, _) = submission_changeset(submission_id, data_dir)?;
    let cs = crate::changeset::read(&path).map_err(|e| LifecycleError::ChangeSet(e.to_string()))?;
    let mut life = Lifecycle::open(data_dir)?;
    if life.ops(submission_id)?.is_empty() {
        life.record(submission_id, &cs, catalog, now)?;
    }
    let sendable = life.pushable(submission_id, &cs).map_err(|e| match e {
        LifecycleError::Mismatch {
            submission, index, ..
        } => LifecycleError::Mismatch {
            submission,
            path: path.display().to_string(),
            index,
        },
        other => other,
    })?;
    let mut report = push(state, &sendable, catalog, make, opts, now)?;
    life.record_push(submission_id, &sendable, &report, now)?;
    report.not_pushed = life
        .ops(submission_id)?
        .into_iter()
        .filter(|o| !o.state.is_decided() && !may_push(o.state) || o.state == OpState::Denied)
        .map(|o| not_pushed(&o))
        .collect();
    Ok(report)
}

/// A change set file pushed outside the lifecycle: every operation that needs approval
/// (or breaks a separation-of-duties rule) is left out and listed, never sent.
pub fn without_unapproved(cs: &ChangeSet) -> (ChangeSet, Vec<NotPushed>) {
    let mut out = cs.clone();
    let (held, send): (Vec<Operation>, Vec<Operation>) = cs
        .operations
        .iter()
        .cloned()
        .partition(super::waits_for_approval);
    out.operations = send;
    let held = held
        .iter()
        .map(|op| {
            let (inst, id) = op.account();
            NotPushed {
                institution: inst.to_string(),
                primary_id: id.to_string(),
                operation: crate::state::apply::describe(op),
                lines: op.lines().to_vec(),
                why: "needs approval: not pushed".into(),
            }
        })
        .collect();
    (out, held)
}

fn not_pushed(o: &OpRecord) -> NotPushed {
    let why = match o.state {
        OpState::WaitingApproval if o.approvals_needed > 1 => {
            format!("needs approval ({}): not pushed", o.approvals_words())
        }
        OpState::WaitingApproval => "needs approval: not pushed".to_string(),
        OpState::Denied => format!(
            "denied{}: not pushed",
            o.reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        other => format!("{}: not pushed", other.words()),
    };
    NotPushed {
        institution: o.institution.clone(),
        primary_id: o.primary_id.clone(),
        operation: o.words.clone(),
        lines: o.lines.clone(),
        why,
    }
}
