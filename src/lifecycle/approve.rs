//! Approvals and denials of a submission's waiting operations (`rolecall approve`,
//! `rolecall deny`): all that wait, or the operations of chosen request lines.
//!
//! One decision is one transaction that reads each operation's state first: either every
//! chosen operation takes the decision or, when one is refused (not waiting, the approver's
//! own request, a second approval by the same person, an exception without a note), none
//! does. An operation that needs two approvers stays waiting after the first.

use super::{Lifecycle, LifecycleError, OpRecord, OpState, ReasonKind};
use crate::catalog::lookup_key;
use rusqlite::params;
use serde::Serialize;

/// Approve or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The operations may go to Alma (once every approver needed has approved).
    Approve,
    /// The operations are never pushed; the note says why.
    Deny,
}

/// A decision of one person on a submission.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// Approve or deny.
    pub verdict: Verdict,
    /// The request lines chosen (`Accounts!9`, or `9` for that row); empty for every
    /// operation that waits.
    pub lines: &'a [String],
    /// Who decides.
    pub by: &'a str,
    /// Why; required to deny, and to approve a separation-of-duties exception.
    pub note: Option<&'a str>,
    /// The requester, as the change set names them: (name, email).
    pub requester: (Option<&'a str>, Option<&'a str>),
}

/// What a decision did to one operation.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    /// Its position in the change set.
    pub index: usize,
    /// Request lines it came from.
    pub lines: Vec<String>,
    /// The operation in words.
    pub operation: String,
    /// Where it stands now.
    pub state: OpState,
    /// Approvals given so far.
    pub approvals: usize,
    /// Approvals it needs.
    pub approvals_needed: u8,
}

/// Why a decision was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No operation of the submission comes from that line.
    #[error("submission {submission} has no operation from line {line}")]
    NoSuchLine {
        /// Submission id.
        submission: String,
        /// The line given.
        line: String,
    },
    /// Nothing waits for approval.
    #[error("nothing of submission {submission} waits for approval")]
    NothingWaits {
        /// Submission id.
        submission: String,
    },
    /// The operation does not wait for approval.
    #[error(
        "submission {submission}, line {line} ({operation}) does not wait for approval: it is {state}"
    )]
    NotWaiting {
        /// Submission id.
        submission: String,
        /// Its lines.
        line: String,
        /// The operation in words.
        operation: String,
        /// Where it stands, in words.
        state: &'static str,
    },
    /// The approver is the requester.
    #[error("{by} made this request (submission {submission}): someone else must approve it")]
    OwnRequest {
        /// Submission id.
        submission: String,
        /// The approver.
        by: String,
    },
    /// The approver approved this operation before.
    #[error(
        "{by} has approved line {line} ({operation}) already: it needs another person ({approvals})"
    )]
    Twice {
        /// The approver.
        by: String,
        /// Its lines.
        line: String,
        /// The operation in words.
        operation: String,
        /// "1 of 2 approvals".
        approvals: String,
    },
    /// A separation-of-duties exception approved without a note.
    #[error(
        "line {line} ({operation}) breaks a separation-of-duties rule ({conflict}): approving it is an exception, give the reason with --note"
    )]
    NeedsNote {
        /// Its lines.
        line: String,
        /// The operation in words.
        operation: String,
        /// The rule broken.
        conflict: String,
    },
}

impl Lifecycle {
    /// Applies a decision to the chosen operations of the submission's latest change set.
    pub fn decide(
        &mut self,
        submission_id: &str,
        d: &Decision,
        now: &str,
    ) -> Result<Vec<Decided>, LifecycleError> {
        let ops = self.ops(submission_id)?;
        let chosen = choose(submission_id, &ops, d.lines)?;
        for op in &chosen {
            check(submission_id, op, d)?;
        }
        let path = self.path.clone();
        let db = |source| LifecycleError::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(super::WRITE)
            .map_err(db)?;
        let mut out = Vec::new();
        for op in chosen {
            out.push(apply(&tx, op, d, now)?);
        }
        tx.commit().map_err(db)?;
        Ok(out)
    }
}

/// The operations a decision is about: those of the lines given, else every one waiting.
fn choose<'a>(
    submission_id: &str,
    ops: &'a [OpRecord],
    lines: &[String],
) -> Result<Vec<&'a OpRecord>, Refusal> {
    if lines.is_empty() {
        let waiting: Vec<&OpRecord> = ops
            .iter()
            .filter(|o| o.state == OpState::WaitingApproval)
            .collect();
        if waiting.is_empty() {
            return Err(Refusal::NothingWaits {
                submission: submission_id.to_string(),
            });
        }
        return Ok(waiting);
    }
    let mut chosen: Vec<&OpRecord> = Vec::new();
    for line in lines {
        let of_line: Vec<&OpRecord> = ops
            .iter()
            .filter(|o| o.lines.iter().any(|l| line_matches(l, line)))
            .collect();
        if of_line.is_empty() {
            return Err(Refusal::NoSuchLine {
                submission: submission_id.to_string(),
                line: line.clone(),
            });
        }
        // A line's operations that need no approval (its account, a removal) go along.
        let waiting: Vec<&OpRecord> = of_line
            .iter()
            .copied()
            .filter(|o| o.needs_approval)
            .collect();
        for op in if waiting.is_empty() { of_line } else { waiting } {
            if !chosen.iter().any(|c| c.index == op.index) {
                chosen.push(op);
            }
        }
    }
    Ok(chosen)
}

/// True when `given` names `line`: the same text (case aside), the same sheet and row
/// (`Accounts!9` for `Accounts!9:9`), or the row alone (`9`).
pub fn line_matches(line: &str, given: &str) -> bool {
    let given = given.trim();
    if line.eq_ignore_ascii_case(given) {
        return true;
    }
    match (sheet_row(line), sheet_row(given)) {
        (Some((sheet, row)), Some((wanted, want_row))) => {
            row == want_row
                && wanted.is_none_or(|w| sheet.is_some_and(|s| s.eq_ignore_ascii_case(w)))
        }
        _ => false,
    }
}

/// `Accounts!9:9` → (Some("Accounts"), 9); `9` → (None, 9); a form field has no row.
fn sheet_row(text: &str) -> Option<(Option<&str>, u32)> {
    let (sheet, cell) = match text.rsplit_once('!') {
        Some((s, c)) => (Some(s), c),
        None => (None, text),
    };
    let first = cell.split(':').next().unwrap_or(cell);
    let digits = first.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    digits.parse::<u32>().ok().map(|row| (sheet, row))
}

/// Why this operation cannot take the decision, if it cannot.
fn check(submission_id: &str, op: &OpRecord, d: &Decision) -> Result<(), Refusal> {
    let line = op.lines.join(", ");
    if op.state != OpState::WaitingApproval {
        return Err(Refusal::NotWaiting {
            submission: submission_id.to_string(),
            line,
            operation: op.words.clone(),
            state: op.state.words(),
        });
    }
    if d.verdict == Verdict::Deny {
        return Ok(());
    }
    let by = lookup_key(d.by);
    let (name, email) = d.requester;
    if [name, email]
        .into_iter()
        .flatten()
        .any(|r| lookup_key(r) == by)
    {
        return Err(Refusal::OwnRequest {
            submission: submission_id.to_string(),
            by: d.by.to_string(),
        });
    }
    if op.approvers.iter().any(|a| lookup_key(a) == by) {
        return Err(Refusal::Twice {
            by: d.by.to_string(),
            line,
            operation: op.words.clone(),
            approvals: op.approvals_words(),
        });
    }
    if let (Some(conflict), None) = (&op.exception, d.note.filter(|n| !n.trim().is_empty())) {
        return Err(Refusal::NeedsNote {
            line,
            operation: op.words.clone(),
            conflict: conflict.clone(),
        });
    }
    Ok(())
}

/// Records the decision on one operation (checked already) inside the transaction.
fn apply(
    tx: &rusqlite::Transaction,
    op: &OpRecord,
    d: &Decision,
    now: &str,
) -> Result<Decided, LifecycleError> {
    let db = |source| LifecycleError::Db {
        path: tx.path().map(Into::into).unwrap_or_default(),
        source,
    };
    let mut approvals = op.approvers.len();
    let to = match d.verdict {
        Verdict::Deny => {
            let note = d.note.unwrap_or("");
            let reason = Some((note, ReasonKind::Note));
            let id = &op.submission_id;
            super::transition_in(
                tx,
                id,
                op.index,
                (OpState::Denied, reason),
                d.by,
                d.note,
                now,
            )?;
            OpState::Denied
        }
        Verdict::Approve => {
            tx.execute(
                "INSERT INTO lifecycle_approval (submission_id, generation, idx, approver_key, approver, note, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![op.submission_id, op.generation, op.index as i64, lookup_key(d.by), d.by, d.note, now],
            )
            .map_err(db)?;
            // Counted inside the transaction: another approver may have approved meanwhile.
            approvals = tx
                .query_row(
                    "SELECT COUNT(*) FROM lifecycle_approval WHERE submission_id = ?1 AND generation = ?2 AND idx = ?3",
                    params![op.submission_id, op.generation, op.index as i64],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(db)? as usize;
            approve_step(tx, op, approvals, d, now)?
        }
    };
    Ok(Decided {
        index: op.index,
        lines: op.lines.clone(),
        operation: op.words.clone(),
        state: to,
        approvals,
        approvals_needed: op.approvals_needed,
    })
}

/// Approved once every approver needed has approved; before that, the approval is a row of
/// the audit log that leaves the operation waiting.
fn approve_step(
    tx: &rusqlite::Transaction,
    op: &OpRecord,
    approvals: usize,
    d: &Decision,
    now: &str,
) -> Result<OpState, LifecycleError> {
    let id = &op.submission_id;
    if approvals >= usize::from(op.approvals_needed.max(1)) {
        super::transition_in(
            tx,
            id,
            op.index,
            (OpState::Approved, None),
            d.by,
            d.note,
            now,
        )?;
        return Ok(OpState::Approved);
    }
    let note = format!(
        "approval {approvals} of {}{}",
        op.approvals_needed,
        d.note.map(|n| format!(": {n}")).unwrap_or_default()
    );
    let here = (op.submission_id.as_str(), op.generation, op.index);
    let state = OpState::WaitingApproval;
    super::log(tx, here, (Some(state), state), d.by, Some(&note), now).map_err(|source| {
        LifecycleError::Db {
            path: tx.path().map(Into::into).unwrap_or_default(),
            source,
        }
    })?;
    Ok(state)
}
