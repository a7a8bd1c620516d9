//! The watcher's push worker: with `[alma] push = "accepted"` it carries each
//! submission's pushable operations into Alma ([`crate::lifecycle::push_submission`]: the
//! journal, the rate limit, the drift refusal), both right after the submission is processed
//! and after the help desk approves a line; and, whatever the push setting, once every
//! operation of a submission is decided it queues the one "done" email
//! ([`crate::deliver::compose_done`]).
//!
//! It runs in a thread of its own with its own database connections (like the mail sender),
//! so a slow Alma never holds up the inbox; with `--once` it runs once after the intake. It
//! keeps no state but the database: the lifecycle says what may be pushed, and the mail row
//! `<submission id>-done` is the ledger's step "done email queued", so a restart after
//! `kill -9` neither pushes twice (the journal) nor queues the email twice.

use super::{WatchError, queue_file};
use crate::alma::push::{Options, PushReport};
use crate::alma::{AlmaConfig, PushMode};
use crate::catalog::Catalog;
use crate::deliver::{DoneContext, Envelope, PersonDone, compose_done, re_subject};
use crate::ledger::{Ledger, Submission};
use crate::lifecycle::{Lifecycle, LifecycleError, OpRecord, OpState, push_submission};
use crate::process::Origin;
use crate::read::Isolation;
use crate::state::State;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What the push worker needs from the configuration.
#[derive(Debug, Clone)]
pub struct PushWork {
    /// `[alma] push`.
    pub mode: PushMode,
    /// `[alma]`, when configured (without it nothing is pushed).
    pub alma: Option<AlmaConfig>,
    /// The account state's database (the data folder's unless `--db` says otherwise).
    pub state_db: PathBuf,
}

/// The worker's parts that are not its own connections.
pub(super) struct Parts<'a> {
    pub(super) root: PathBuf,
    pub(super) work: &'a PushWork,
    pub(super) catalog: &'a Catalog,
    pub(super) from: &'a str,
    pub(super) isolation: &'a Isolation,
    /// `[limits] max_lines`: the done workbook reads the original as its first reply did.
    pub(super) max_lines: usize,
    pub(super) now: &'a (dyn Fn() -> jiff::Zoned + Sync),
}

/// The push worker, with its own connections.
pub(super) struct Pusher<'a> {
    parts: Parts<'a>,
    life: Lifecycle,
    ledger: Ledger,
    state: State,
    /// Submissions that could not be pushed or told in this run (a change set that does
    /// not match the lifecycle, a message that cannot be composed): logged once, left for a
    /// person, tried again when the watcher restarts. Also those with nothing to tell
    /// (every operation superseded), so that no round looks at them again.
    broken: HashSet<String>,
}

impl<'a> Pusher<'a> {
    /// Opens the worker's own connections.
    pub(super) fn open(parts: Parts<'a>) -> Result<Pusher<'a>, WatchError> {
        let life = Lifecycle::open(&parts.root)?;
        let ledger = Ledger::open(&parts.root)?;
        let state = State::open(&parts.work.state_db)?;
        Ok(Pusher {
            parts,
            life,
            ledger,
            state,
            broken: HashSet::new(),
        })
    }

    /// One round: push what may be pushed (with `push = "accepted"`), then queue the "done"
    /// email of each submission whose operations are all decided.
    pub(super) fn round(&mut self, stop: &std::sync::atomic::AtomicBool) -> Result<(), WatchError> {
        use std::sync::atomic::Ordering;
        if self.parts.work.mode == PushMode::Accepted
            && let Some(alma) = self.parts.work.alma.clone()
        {
            for id in self.ids(WAITING_PUSH)? {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                self.push(&id, &alma)?;
            }
        }
        for id in self.ids(NOT_TOLD)? {
            if self.life.decided(&id)? {
                self.tell(&id)?;
            }
        }
        Ok(())
    }

    /// Submission ids a query gives, less those broken in this run.
    fn ids(&self, sql: &str) -> Result<Vec<String>, WatchError> {
        let mut stmt = self.ledger.conn().prepare(sql)?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids
            .into_iter()
            .filter(|id| !self.broken.contains(id))
            .collect())
    }

    /// Pushes one submission's pushable operations and logs each account's outcome.
    fn push(&mut self, id: &str, alma: &AlmaConfig) -> Result<(), WatchError> {
        let opts = Options {
            dry_run: false,
            rebase: false,
            expect_environment: alma.expect_environment,
        };
        let make = |inst: &str| alma.client(inst);
        let now = (self.parts.now)().timestamp().to_string();
        let p = &self.parts;
        match push_submission(&p.root, &self.state, id, p.catalog, &make, &opts, &now) {
            Ok(report) => {
                log_push(&report);
                Ok(())
            }
            Err(e @ (LifecycleError::Db { .. } | LifecycleError::Open(_))) => Err(e.into()),
            Err(e) => {
                tracing::error!(submission = %id, error = %e,
                    "not pushed: `rolecall push` says the same; the watcher tries again when restarted");
                self.broken.insert(id.to_string());
                Ok(())
            }
        }
    }

    /// Queues the "done" email of a decided submission, once.
    fn tell(&mut self, id: &str) -> Result<(), WatchError> {
        let key = format!("{id}-done");
        if self.ledger.mail_exists(&key)? {
            return Ok(());
        }
        let Some(s) = self.ledger.by_id(id)? else {
            self.broken.insert(id.to_string());
            return Ok(());
        };
        let ops = self.life.ops(id)?;
        if ops.iter().all(|o| o.state == OpState::Superseded) {
            // Nothing of it happened: a later request for the same people replaced all of
            // it, and that one's done email tells them.
            self.broken.insert(id.to_string());
            return Ok(());
        }
        let ctx = DoneContext {
            submission_id: id.to_string(),
            source_name: s.file_name.clone(),
            subject: String::new(),
            people: self.people(&ops)?,
            help_desk_name: self.parts.catalog.policy.help_desk_name.clone(),
            help_desk_email: self.parts.catalog.policy.help_desk_email.clone(),
            workbook_name: format!("{}-done.xlsx", stem(&s.file_name)),
        };
        let (envelope, subject) = self.envelope(&s)?;
        let ctx = DoneContext { subject, ..ctx };
        let now = (self.parts.now)();
        let workbook = self.workbook(&s, &ops, &ctx.workbook_name);
        let mail = match compose_done(&ctx, &envelope, workbook, now.timestamp()) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(submission = %id, error = %e, "the done email cannot be composed");
                self.broken.insert(id.to_string());
                return Ok(());
            }
        };
        let row = queue_file(&self.parts.root, &key, Some(id), &mail, &now)?;
        self.ledger.queue(&[row])?;
        tracing::info!(submission = %id, to = %mail.recipients().join(", "), "done email queued");
        Ok(())
    }

    /// Per person, in change-set order: what became of each operation, and the staff roles
    /// the state holds now (the push records what Alma answered).
    fn people(&self, ops: &[OpRecord]) -> Result<Vec<PersonDone>, WatchError> {
        let mut people: Vec<PersonDone> = Vec::new();
        for op in ops {
            let i = match people.iter().position(|p| {
                p.institution == op.institution && p.primary_id.eq_ignore_ascii_case(&op.primary_id)
            }) {
                Some(i) => i,
                None => {
                    people.push(PersonDone {
                        institution: op.institution.clone(),
                        primary_id: op.primary_id.clone(),
                        ..PersonDone::default()
                    });
                    people.len() - 1
                }
            };
            sort_op(&mut people[i], op);
        }
        for p in &mut people {
            p.holds = self
                .state
                .roles(&p.institution, &p.primary_id)?
                .iter()
                .filter(|r| r.is_staff() && r.active)
                .map(|r| r.describe(self.parts.catalog))
                .collect();
        }
        Ok(people)
    }

    /// Who gets the done email and how it threads: the first reply's recipients, in reply
    /// to the first reply (which answered the request's own message, if an email brought
    /// it), with the request's thread and the first reply in `References`; its subject with
    /// "Re:".
    fn envelope(&self, s: &Submission) -> Result<(Envelope, String), WatchError> {
        let reply: serde_json::Value = s
            .reply_to
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let list = |k: &str| -> Vec<String> {
            reply[k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let origin: Option<Origin> = s
            .origin
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok());
        let first: Option<(String, String)> = {
            use rusqlite::OptionalExtension;
            self.ledger
                .conn()
                .query_row(
                    "SELECT message_id, subject FROM mail WHERE key = ?1",
                    [format!("{}-reply", s.id)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
        };
        let mut references = origin
            .as_ref()
            .map(|o| o.references.clone())
            .unwrap_or_default();
        references.extend(first.as_ref().map(|f| f.0.clone()));
        let subject = first
            .as_ref()
            .map(|f| f.1.clone())
            .or_else(|| origin.as_ref().and_then(|o| o.subject.clone()))
            .unwrap_or_else(|| format!("[Rolecall] {}", s.file_name));
        let envelope = Envelope {
            from: self.parts.from.to_string(),
            to: list("to"),
            cc: list("cc"),
            in_reply_to: first
                .map(|f| f.0)
                .or_else(|| origin.and_then(|o| o.message_id)),
            references,
        };
        Ok((envelope, re_subject(&subject)))
    }

    /// The result workbook with its Done column, also kept beside the results; when the
    /// original cannot be read again, the first result workbook as it was.
    fn workbook(&self, s: &Submission, ops: &[OpRecord], name: &str) -> Vec<u8> {
        let folder = self.parts.root.join(s.folder.as_deref().unwrap_or(""));
        match self.done_workbook(s, ops) {
            Ok(bytes) => {
                if let Err(e) = crate::fsx::write_durably(&folder.join(name), &bytes) {
                    tracing::warn!(submission = %s.id, error = %e, "done workbook not kept");
                }
                bytes
            }
            Err(why) => {
                tracing::warn!(submission = %s.id, error = %why,
                    "the Done column could not be added: the first result workbook is attached");
                let first = folder.join(format!("{}-result.xlsx", stem(&s.file_name)));
                std::fs::read(first).unwrap_or_default()
            }
        }
    }

    fn done_workbook(&self, s: &Submission, ops: &[OpRecord]) -> Result<Vec<u8>, String> {
        let original = self.parts.root.join(s.original.as_deref().unwrap_or(""));
        let format = crate::intake::sniff(&original).map_err(|r| r.to_string())?;
        let origin: Option<Origin> = s
            .origin
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok());
        let p = &self.parts;
        let today = (p.now)().date();
        let outcome = crate::process::revalidate(
            &original,
            format,
            origin.as_ref(),
            (p.catalog, p.isolation, p.max_lines),
            today,
        );
        let folder = p.root.join(s.folder.as_deref().unwrap_or(""));
        let path = crate::lifecycle::push::newest_changeset(&folder, &s.file_name);
        let cs = crate::changeset::read(&path).map_err(|e| e.to_string())?;
        crate::report::done_bytes(&outcome, &cs, p.catalog, &done_cells(ops))
            .map_err(|e| e.to_string())
    }
}

/// Submissions with an operation waiting to be pushed (a failed one is not tried again by
/// the watcher by itself: `rolecall push ID` does that, when a person has looked).
const WAITING_PUSH: &str = "SELECT DISTINCT submission_id FROM lifecycle_op \
     WHERE state IN ('waiting_push', 'approved') ORDER BY submission_id";

/// Submissions whose "done" email is not queued yet.
const NOT_TOLD: &str = "SELECT DISTINCT o.submission_id FROM lifecycle_op o \
     WHERE NOT EXISTS (SELECT 1 FROM mail m WHERE m.key = o.submission_id || '-done') \
     ORDER BY o.submission_id";

/// Puts an operation where the done email says it.
fn sort_op(p: &mut PersonDone, op: &OpRecord) {
    let words = op.words.clone();
    match op.state {
        OpState::Pushed if is_removal(&op.words) => p.removed.push(words),
        OpState::Pushed => p.carried_out.push(words),
        OpState::Failed => p.failed.push((
            words,
            op.reason
                .clone()
                .unwrap_or_else(|| "Alma gave no reason".into()),
        )),
        OpState::Denied => p
            .denied
            .push((words, op.reason.clone().unwrap_or_default())),
        OpState::Superseded => p.superseded.push(words),
        OpState::WaitingApproval | OpState::Approved | OpState::WaitingPush => {}
    }
}

fn is_removal(words: &str) -> bool {
    words.starts_with("remove ")
}

/// The Done column: per request line (`Accounts!9`), what became of its operations.
pub fn done_cells(ops: &[OpRecord]) -> BTreeMap<String, String> {
    let mut by_line: BTreeMap<String, Vec<&OpRecord>> = BTreeMap::new();
    for op in ops {
        for line in &op.lines {
            by_line.entry(line.clone()).or_default().push(op);
        }
    }
    by_line
        .into_iter()
        .map(|(line, ops)| (line, done_words(&ops)))
        .collect()
}

fn done_words(ops: &[&OpRecord]) -> String {
    let reason = |o: &&&OpRecord| o.reason.clone().unwrap_or_default();
    if let Some(o) = ops.iter().find(|o| o.state == OpState::Failed) {
        return format!("Failed: {}", reason(&o));
    }
    if let Some(o) = ops.iter().find(|o| o.state == OpState::Denied) {
        return match reason(&o) {
            r if r.is_empty() => "Denied".into(),
            r => format!("Denied: {r}"),
        };
    }
    if ops.iter().all(|o| o.state == OpState::Superseded) {
        return "Superseded".into();
    }
    if ops
        .iter()
        .all(|o| matches!(o.state, OpState::Pushed | OpState::Superseded))
    {
        return "Done".into();
    }
    ops.first()
        .map_or(String::new(), |o| o.state.words().to_string())
}

fn log_push(report: &PushReport) {
    for a in &report.accounts {
        tracing::info!(submission = %report.submission_id, institution = %a.institution,
            account = %a.primary_id, outcome = ?a.outcome,
            changes = %a.changes.join("; "), reasons = %a.reasons.join("; "), "pushed");
    }
}

fn stem(file_name: &str) -> String {
    Path::new(file_name)
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| "submission".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(lines: &[&str], state: OpState, reason: Option<&str>) -> OpRecord {
        OpRecord {
            submission_id: "s".into(),
            generation: 0,
            index: 0,
            institution: "I".into(),
            primary_id: "p".into(),
            words: "add X, to p".into(),
            needs_approval: false,
            approvals_needed: 0,
            exception: None,
            state,
            reason: reason.map(str::to_string),
            reason_kind: None,
            lines: lines.iter().map(|l| l.to_string()).collect(),
            approvers: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_line_is_done_only_when_all_its_operations_are_pushed() {
        let ops = [
            op(&["Accounts!9"], OpState::Pushed, None),
            op(
                &["Accounts!9", "Accounts!10"],
                OpState::Failed,
                Some("Alma said no"),
            ),
            op(&["Accounts!11"], OpState::Pushed, None),
            op(&["Accounts!12"], OpState::Denied, Some("not for students")),
            op(&["Accounts!13"], OpState::Superseded, None),
            op(&["Accounts!14"], OpState::Denied, None),
        ];
        let cells = done_cells(&ops);
        assert_eq!(cells["Accounts!9"], "Failed: Alma said no");
        assert_eq!(cells["Accounts!10"], "Failed: Alma said no");
        assert_eq!(cells["Accounts!11"], "Done");
        assert_eq!(cells["Accounts!12"], "Denied: not for students");
        assert_eq!(cells["Accounts!13"], "Superseded");
        assert_eq!(cells["Accounts!14"], "Denied");
        assert_eq!(cells.len(), 6);
    }
}
