//! The help desk's work queue (`rolecall queue`): what waits on a person, per institution
//! and oldest first, each item with its age and the exact command that moves it on.
//!
//! It reads the lifecycle (approvals, pushes not done, failed pushes, accounts refused for
//! drift) and the ledger (replies that could not be sent, files in quarantine); it changes
//! nothing.

use super::{Lifecycle, LifecycleError, OpRecord, OpState, ReasonKind};
use crate::ledger::{Ledger, MailState, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// What kind of thing waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Lines that wait for approval.
    Approval,
    /// Operations that wait to be pushed to Alma.
    Push,
    /// A push Alma refused or failed.
    FailedPush,
    /// An account changed in Alma since the state was made: the push refused it.
    Drift,
    /// A reply that could not be sent (a dead letter, or one held back).
    UnsentReply,
    /// A file in quarantine.
    Quarantine,
}

/// Every kind, in the order `status` counts them.
pub const KINDS: [ItemKind; 6] = [
    ItemKind::Approval,
    ItemKind::Push,
    ItemKind::FailedPush,
    ItemKind::Drift,
    ItemKind::UnsentReply,
    ItemKind::Quarantine,
];

impl ItemKind {
    /// In words, for the text output.
    pub fn words(self) -> &'static str {
        match self {
            ItemKind::Approval => "approval",
            ItemKind::Push => "push",
            ItemKind::FailedPush => "failed push",
            ItemKind::Drift => "refused for drift",
            ItemKind::UnsentReply => "reply not sent",
            ItemKind::Quarantine => "quarantine",
        }
    }
}

/// One thing that waits.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// What kind.
    pub kind: ItemKind,
    /// The institution it is about; `None` when nothing says (a quarantined file).
    pub institution: Option<String>,
    /// The submission, when there is one.
    pub submission_id: Option<String>,
    /// What waits, in words.
    pub what: String,
    /// Why (Alma's error, the drift, the quarantine reason), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when it waits (RFC 3339).
    pub since: String,
    /// How long, in words: "3 h", "2 d".
    pub age: String,
    /// The command that moves it on.
    pub command: String,
    /// What ties operations into one item: the line of an approval, the account of a
    /// failure.
    #[serde(skip)]
    group: String,
}

/// The queue of a data folder at `now`, of one institution or all.
pub fn queue(
    data_dir: &Path,
    now: jiff::Timestamp,
    institution: Option<&str>,
) -> Result<Vec<Item>, LifecycleError> {
    let life = Lifecycle::open(data_dir)?;
    let ledger = Ledger::open(data_dir)?;
    let db = |source| LifecycleError::Db {
        path: data_dir.join(crate::db::FILE_NAME),
        source,
    };
    let ops = life.open_ops()?;
    let mut items = op_items(&ops);
    items.extend(mail_items(&ledger, &ops).map_err(db)?);
    items.extend(quarantine_items(&ledger).map_err(db)?);
    items.retain(|i| institution.is_none_or(|code| i.institution.as_deref() == Some(code)));
    for i in &mut items {
        i.age = age(&i.since, now);
    }
    // Per institution (those nothing names last), oldest first.
    items.sort_by(|a, b| {
        (a.institution.is_none(), &a.institution, &a.since, a.kind).cmp(&(
            b.institution.is_none(),
            &b.institution,
            &b.since,
            b.kind,
        ))
    });
    Ok(items)
}

/// How many items of each kind wait, for `status`.
pub fn counts(items: &[Item]) -> BTreeMap<ItemKind, usize> {
    let mut out: BTreeMap<ItemKind, usize> = KINDS.iter().map(|k| (*k, 0)).collect();
    for i in items {
        *out.entry(i.kind).or_default() += 1;
    }
    out
}

impl Lifecycle {
    /// The latest generation's operations of every submission that are not done: waiting,
    /// approved, or failed.
    fn open_ops(&self) -> Result<Vec<OpRecord>, LifecycleError> {
        let sql = format!(
            "SELECT {} FROM lifecycle_op o WHERE state IN ('waiting_approval', 'approved', 'waiting_push', 'failed') \
             AND generation = (SELECT MAX(generation) FROM lifecycle_op p WHERE p.submission_id = o.submission_id) \
             ORDER BY submission_id, idx",
            super::OP_COLUMNS
        );
        let mut ops = self.select(&sql, []).map_err(|e| self.db(e))?;
        for op in &mut ops {
            op.approvers = super::approvers(&self.conn, op).map_err(|e| self.db(e))?;
        }
        Ok(ops)
    }
}

/// Approvals per request line, pushes per submission, failures per account.
fn op_items(ops: &[OpRecord]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    for op in ops {
        let (kind, key) = match (op.state, op.reason_kind) {
            (OpState::WaitingApproval, _) => (ItemKind::Approval, op.lines.join(", ")),
            (OpState::Failed, Some(ReasonKind::Drift)) => (ItemKind::Drift, op.primary_id.clone()),
            (OpState::Failed, _) => (ItemKind::FailedPush, op.primary_id.clone()),
            _ => (ItemKind::Push, String::new()),
        };
        let same = |i: &&mut Item| {
            i.kind == kind
                && i.submission_id.as_deref() == Some(&op.submission_id)
                && i.institution.as_deref() == Some(&op.institution)
                && i.group == key
        };
        match items.iter_mut().find(same) {
            Some(item) => merge(item, op),
            None => items.push(op_item(kind, op, key)),
        }
    }
    items
}

fn op_item(kind: ItemKind, op: &OpRecord, group: String) -> Item {
    let id = &op.submission_id;
    let line = op.lines.first().cloned().unwrap_or_default();
    let (what, reason, command) = match kind {
        ItemKind::Approval => (
            format!("{}: {}", op.lines.join(", "), approval_words(op)),
            op.exception.clone(),
            approve_command(id, &line, op.exception.is_some()),
        ),
        ItemKind::Drift => (
            format!("{}: {}", op.primary_id, op.words),
            op.reason.clone(),
            format!("rolecall push {id} --rebase"),
        ),
        ItemKind::FailedPush => (
            format!("{}: {}", op.primary_id, op.words),
            op.reason.clone(),
            format!("rolecall push {id}"),
        ),
        _ => (
            "1 operation waits to be pushed".to_string(),
            None,
            format!("rolecall push {id}"),
        ),
    };
    Item {
        kind,
        institution: Some(op.institution.clone()),
        submission_id: Some(id.clone()),
        what,
        reason,
        since: op.updated_at.clone(),
        age: String::new(),
        command,
        group,
    }
}

fn merge(item: &mut Item, op: &OpRecord) {
    match item.kind {
        ItemKind::Push => {
            let n = item
                .what
                .split(' ')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1)
                + 1;
            item.what = format!("{n} operations wait to be pushed");
        }
        _ => {
            let more = match item.kind {
                ItemKind::Approval => approval_words(op),
                _ => op.words.clone(),
            };
            item.what = format!("{}; {more}", item.what);
        }
    }
    if op.updated_at < item.since {
        item.since = op.updated_at.clone();
    }
}

fn approval_words(op: &OpRecord) -> String {
    let mut words = op.words.clone();
    if op.approvals_needed > 1 {
        words.push_str(&format!(" ({})", op.approvals_words()));
    }
    words
}

fn approve_command(id: &str, line: &str, exception: bool) -> String {
    let note = if exception { " --note TEXT" } else { "" };
    format!("rolecall approve {id} --line {line} --by NAME{note}")
}

/// Replies that could not be sent: dead letters and those held back.
fn mail_items(ledger: &Ledger, ops: &[OpRecord]) -> rusqlite::Result<Vec<Item>> {
    let mails = ledger.mails(&[MailState::Dead, MailState::Held])?;
    Ok(mails
        .into_iter()
        .map(|m| {
            let institution = m.letter.submission_id.as_ref().and_then(|s| {
                ops.iter()
                    .find(|o| &o.submission_id == s)
                    .map(|o| o.institution.clone())
            });
            let how = if m.state == MailState::Dead {
                "could not be sent"
            } else {
                "held back (too many replies to this sender)"
            };
            Item {
                kind: ItemKind::UnsentReply,
                institution,
                submission_id: m.letter.submission_id.clone(),
                what: format!(
                    "{} to {}: {how}",
                    m.letter.subject,
                    m.letter.recipients.join(", ")
                ),
                reason: m.last_error.clone(),
                since: m.created_at.clone(),
                age: String::new(),
                command: "rolecall outbox retry".to_string(),
                group: String::new(),
            }
        })
        .collect())
}

/// Files in quarantine, with the reason the ledger keeps.
fn quarantine_items(ledger: &Ledger) -> rusqlite::Result<Vec<Item>> {
    let subs = ledger.recent_with_status(&[Status::Quarantined, Status::Unreadable], 10_000)?;
    Ok(subs
        .into_iter()
        .map(|s| {
            let reason = s
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
                .and_then(|v| v["reason"].as_str().map(str::to_string));
            Item {
                kind: ItemKind::Quarantine,
                institution: None,
                submission_id: Some(s.id.clone()),
                what: format!("{} is in quarantine", s.file_name),
                reason,
                since: s.received_at.clone(),
                age: String::new(),
                command: format!("rolecall reprocess {}", s.id),
                group: String::new(),
            }
        })
        .collect())
}

/// How long since `since`, in words: "5 min", "3 h", "2 d".
pub fn age(since: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = since.parse::<jiff::Timestamp>() else {
        return "unknown".to_string();
    };
    let secs = (now.as_second() - then.as_second()).max(0);
    match secs {
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 48 * 3_600 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}
