//! The help desk's commands on a data folder: `status` (what is where, what waits, what
//! failed), `outbox` (mail waiting and dead letters; `retry`), `reprocess` (a submission
//! again, after a catalog fix, say).

use super::steps::folder_of;
use super::{Layout, PipelineResult, WatchError, Watcher};
use crate::deliver::queue;
use crate::intake;
use crate::ledger::{Kind, Ledger, MailState, QueuedMail, Recorded, Status as Outcome};
use crate::process::{Origin, Placement};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// `rolecall status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The data folder.
    pub data: String,
    /// Files per folder: `inbox`, `archive` (submissions), `quarantine`, `outbox`, `sent`,
    /// `dead` (messages).
    pub folders: BTreeMap<String, usize>,
    /// Submissions by outcome (`accepted`, `needs_attention`, `quarantined`, `ignored`, ...).
    pub submissions: BTreeMap<String, i64>,
    /// Messages by state (`pending`, `sending`, `sent`, `dead`).
    pub mail: BTreeMap<String, i64>,
    /// Mail waiting to be sent.
    pub waiting: Vec<QueuedMail>,
    /// Mail given up.
    pub dead: Vec<QueuedMail>,
    /// Replies held back by the per-sender rate limit, until `outbox retry`.
    pub held: Vec<QueuedMail>,
    /// Messages with a recipient the mail server refused for good (the others got them):
    /// each refused address with the server's words in `refused`.
    pub refused: Vec<QueuedMail>,
    /// The last submissions processed, newest first.
    pub last_processed: Vec<Recent>,
    /// The last files that could not be read (in `quarantine/`), newest first.
    pub quarantined: Vec<Recent>,
    /// What waits on the help desk (`rolecall queue`), counted per kind.
    pub queue: BTreeMap<crate::lifecycle::queue::ItemKind, usize>,
}

/// One line of "last processed".
#[derive(Debug, Clone, Serialize)]
pub struct Recent {
    /// Submission id.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// Outcome.
    pub status: Option<Outcome>,
    /// When.
    pub processed_at: Option<String>,
}

impl From<crate::ledger::Submission> for Recent {
    fn from(s: crate::ledger::Submission) -> Self {
        Recent {
            id: s.id,
            file_name: s.file_name,
            status: s.status,
            processed_at: s.processed_at,
        }
    }
}

/// Counts and lists for `rolecall status`.
pub fn status(data: &Path) -> Result<Status, WatchError> {
    let layout = Layout::new(data);
    let ledger = Ledger::open(data)?;
    let mut folders = BTreeMap::new();
    for name in Layout::FOLDERS {
        let dir = layout.dir(name);
        let n = match name {
            // One folder per submission under each date.
            "archive" => count_dirs_at_depth(&dir, 2),
            _ => count_files(&dir, |n| !n.starts_with('.') && !n.ends_with(".reason.txt")),
        };
        folders.insert(name.to_string(), n);
    }
    Ok(Status {
        data: data.display().to_string(),
        folders,
        submissions: ledger.status_counts()?.into_iter().collect(),
        mail: ledger.mail_counts()?.into_iter().collect(),
        waiting: ledger.mails(&[MailState::Pending, MailState::Sending])?,
        dead: ledger.mails(&[MailState::Dead])?,
        held: ledger.mails(&[MailState::Held])?,
        refused: ledger.with_refused()?,
        last_processed: ledger.recent(5)?.into_iter().map(Recent::from).collect(),
        quarantined: ledger
            .recent_with_status(&[Outcome::Quarantined, Outcome::Unreadable], 10)?
            .into_iter()
            .map(Recent::from)
            .collect(),
        queue: crate::lifecycle::queue::counts(&crate::lifecycle::queue::queue(
            data,
            jiff::Timestamp::now(),
            None,
        )?),
    })
}

fn count_files(dir: &Path, keep: impl Fn(&str) -> bool) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter(|e| keep(&e.file_name().to_string_lossy()))
                .count()
        })
        .unwrap_or(0)
}

fn count_dirs_at_depth(dir: &Path, depth: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            if depth <= 1 {
                1
            } else {
                count_dirs_at_depth(&e.path(), depth - 1)
            }
        })
        .sum()
}

/// `rolecall outbox retry`: dead letters back into the outbox with a fresh count, every
/// waiting message due now; then one sending pass when a mail server is configured.
pub fn retry(watcher: &mut Watcher<'_>) -> Result<(usize, queue::SendPass), WatchError> {
    let revived = watcher.ledger.retry_all(super::wall_ms())?;
    Ok((revived.len(), send_due(watcher)?))
}

/// One sending pass over the mail that is due, when a mail server is configured.
pub fn send_due(watcher: &mut Watcher<'_>) -> Result<queue::SendPass, WatchError> {
    queue::tidy(&watcher.layout.root, &watcher.ledger)?;
    let mut pass = queue::SendPass::default();
    if let Some(smtp) = watcher.services.smtp {
        let stamp = (watcher.services.now)().timestamp().to_string();
        pass = queue::send_due(
            &watcher.layout.root,
            &watcher.ledger,
            smtp,
            &watcher.settings.retry,
            super::wall_ms(),
            &stamp,
            &watcher.stop,
        )?;
    }
    Ok(pass)
}

/// What `reprocess` did or would do.
#[derive(Debug, Clone, Serialize)]
pub struct Reprocessed {
    /// Submission id.
    pub id: String,
    /// File name.
    pub file_name: String,
    /// Outcome recorded before.
    pub before: Option<Outcome>,
    /// Outcome now.
    pub after: Outcome,
    /// Line counts now.
    pub accepted: usize,
    /// Lines waiting for approval now.
    pub needs_approval: usize,
    /// Rejected lines now.
    pub rejected: usize,
    /// Change-set operations that are new.
    pub added: Vec<serde_json::Value>,
    /// Change-set operations that are gone.
    pub removed: Vec<serde_json::Value>,
    /// Where the new results are (none for a dry run).
    pub folder: Option<String>,
    /// The reply queued (none for a dry run).
    pub mail: Option<String>,
}

/// Runs a submission (by id, or by a file with the same content) through the pipeline
/// again; an email's id reprocesses each of its attachments. With `dry_run`, nothing is
/// kept and no mail is queued: the result says what would change.
pub fn reprocess(
    watcher: &mut Watcher<'_>,
    target: &str,
    dry_run: bool,
) -> Result<Vec<Reprocessed>, String> {
    let s = find(&watcher.ledger, target)?;
    if s.kind == Kind::Email {
        // An email is its attachments: each is processed again, with its own reply.
        let children: Vec<String> = watcher
            .ledger
            .children(&s.id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|c| c.id)
            .collect();
        if children.is_empty() {
            return Err(format!(
                "{} is an email with no worksheet or form attached: nothing to reprocess",
                s.id
            ));
        }
        let mut all = Vec::new();
        for child in children {
            all.extend(reprocess(watcher, &child, dry_run)?);
        }
        return Ok(all);
    }
    reprocess_one(watcher, &s, dry_run).map(|r| vec![r])
}

/// The submission a `reprocess` target names: its id, or a file with the same content.
fn find(ledger: &Ledger, target: &str) -> Result<crate::ledger::Submission, String> {
    if let Some(s) = ledger.by_id(target).map_err(|e| e.to_string())? {
        return Ok(s);
    }
    if !Path::new(target).is_file() {
        return Err(format!(
            "no submission {target} (give a submission id or a file)"
        ));
    }
    let bytes = std::fs::read(target).map_err(|e| format!("{target}: {e}"))?;
    ledger
        .by_hash(&intake::sha256_hex(&bytes))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("{target} has never been processed (no submission has the same content)")
        })
}

/// One file submission through the pipeline again, into `reprocess-<n>` (or a dry-run
/// folder that is removed), with what changed in its change set.
fn reprocess_one(
    watcher: &mut Watcher<'_>,
    s: &crate::ledger::Submission,
    dry_run: bool,
) -> Result<Reprocessed, String> {
    let root = watcher.layout.root.clone();
    let original = root.join(s.original.as_deref().unwrap_or(""));
    if !original.is_file() {
        return Err(format!(
            "{}: the original is not where the ledger says ({})",
            s.id,
            original.display()
        ));
    }
    let origin: Option<Origin> = s
        .origin
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    let base = s.folder.clone().unwrap_or_else(|| folder_of(s));
    let n = next_run(&watcher.ledger, &s.id)?;
    let folder = match dry_run {
        true => format!("{base}/.dry-run"),
        false => format!("{base}/reprocess-{n}"),
    };
    let key = format!("{}-reprocess-{n}", s.id);
    let format = intake::sniff(&original).map_err(|r| r.to_string());
    let placement = Placement {
        folder: root.join(&folder),
        submission_id: s.id.clone(),
        file_name: s.file_name.clone(),
        // The archived copy is hashed again: it is what this run reads.
        sha256: None,
    };
    let old_ops = operations(&root.join(&base), &s.file_name);
    let run = watcher.steps().run_pipeline_inner(
        &original,
        format.as_ref().map(|f| *f).map_err(String::as_str),
        origin.as_ref(),
        &placement,
        &key,
        !dry_run,
    );
    let (result, mails, reply_to): (PipelineResult, _, _) = run.map_err(|e| e.to_string())?;
    let new_ops = operations(&root.join(&folder), &s.file_name);
    let mut out = Reprocessed {
        id: s.id.clone(),
        file_name: s.file_name.clone(),
        before: s.status,
        after: Outcome::from(result.status),
        accepted: result.accepted,
        needs_approval: result.needs_approval,
        rejected: result.rejected,
        added: missing_from(&new_ops, &old_ops),
        removed: missing_from(&old_ops, &new_ops),
        folder: None,
        mail: None,
    };
    if dry_run {
        let _ = std::fs::remove_dir_all(root.join(&folder));
        return Ok(out);
    }
    out.mail = mails.first().map(|m| format!("outbox/{}", m.letter.file));
    out.folder = Some(folder.clone());
    let stamp = (watcher.services.now)().timestamp().to_string();
    let recorded = Recorded {
        status: Some(out.after),
        outcome: serde_json::to_string(&result).unwrap_or_default(),
        original: s.original.clone(),
        folder: Some(folder),
        reply_to: reply_to.or(s.reply_to.clone()),
        processed_at: stamp,
    };
    watcher
        .ledger
        .record_outcome(&s.id, &recorded, &mails)
        .map_err(|e| e.to_string())?;
    tracing::info!(submission = %s.id, run = n, status = %out.after, "reprocessed");
    Ok(out)
}

/// The number of the next reprocess run of a submission (1 for the first).
fn next_run(ledger: &Ledger, id: &str) -> Result<i64, String> {
    Ok(ledger.reprocess_count(id).map_err(|e| e.to_string())? + 1)
}

/// The operations of `these` that are not in `those`.
fn missing_from(
    these: &[serde_json::Value],
    those: &[serde_json::Value],
) -> Vec<serde_json::Value> {
    these
        .iter()
        .filter(|o| !those.contains(o))
        .cloned()
        .collect()
}

/// The change-set operations written in `folder` for `file_name`, without their
/// provenance (line numbers stay, they are part of what an operation is).
fn operations(folder: &Path, file_name: &str) -> Vec<serde_json::Value> {
    let stem = Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::read(folder.join(format!("{stem}-changeset.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("operations").and_then(|o| o.as_array()).cloned())
        .unwrap_or_default()
}
