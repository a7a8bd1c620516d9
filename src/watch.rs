//! The inbox watcher: the loop around the pipeline. It takes files (and whole `.eml`
//! messages) from `<data>/inbox/`, runs each through [`crate::process`] exactly once,
//! files the original in `archive/` or `quarantine/`, and sends the queued replies
//! ([`crate::deliver::queue`]).
//!
//! The watcher keeps no state but what is on disk: the ledger ([`crate::ledger`]) and the
//! folders of the data folder ([`Layout`]). Each step is recorded before the next one and
//! can be run again with the same result, so a watcher killed at any moment and restarted
//! finishes every file once (`docs/inbox.md` walks through the steps).

use crate::catalog::Catalog;
use crate::deliver::queue::{self, RawTransport, RetryPolicy, rename_durably};
use crate::deliver::{self, DeliverError, Delivery, Envelope, Mail, Notice, Transport};
use crate::intake::{self, email};
use crate::ledger::{Kind, Ledger, NewMail, NewSubmission, Recorded, State, Submission};
use crate::process::{Origin, Placement, Processor};
use crate::read::Isolation;
use crate::validate::SubmissionStatus;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub mod desk;

/// Extensions people use for submissions: a file named like one is answered even when its
/// content is something else, so that the sender learns why.
pub const SUBMISSION_EXTENSIONS: &[&str] = &["xlsx", "xlsm", "xls", "xlsb", "ods", "pdf"];

/// The folders of a data folder.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The data folder.
    pub root: PathBuf,
}

impl Layout {
    /// The folders, in the order a file travels.
    pub const FOLDERS: [&'static str; 6] =
        ["inbox", "archive", "quarantine", "outbox", "sent", "dead"];

    /// The layout of `root`.
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// `<root>/<name>`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates every folder.
    pub fn create(&self) -> std::io::Result<()> {
        for name in Self::FOLDERS {
            std::fs::create_dir_all(self.dir(name))?;
        }
        Ok(())
    }
}

/// Held by the one process that takes inbox files and sends mail for a data folder: an
/// exclusive SQLite transaction on `<data>/watch.lock`, which the operating system releases
/// when the process ends, however it ends (a `kill -9` leaves no stale lock).
pub struct DataLock {
    _conn: rusqlite::Connection,
}

/// Takes the data folder's lock; `None` when another process holds it.
pub fn try_lock(data: &Path) -> Result<Option<DataLock>, WatchError> {
    std::fs::create_dir_all(data).map_err(|source| WatchError::Io {
        path: data.to_path_buf(),
        source,
    })?;
    let conn = rusqlite::Connection::open(data.join("watch.lock"))?;
    conn.busy_timeout(Duration::ZERO)?;
    match conn.execute_batch("BEGIN EXCLUSIVE") {
        Ok(()) => Ok(Some(DataLock { _conn: conn })),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// How the watcher behaves; `[watch]` in the config file.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A file must be unchanged this long before it is read (a slow copy is still growing).
    pub settle: Duration,
    /// The inbox is rescanned this often even with no file event (network shares send none).
    pub rescan: Duration,
    /// Mail retries.
    pub retry: RetryPolicy,
    /// Replies to one sender per hour, at most; more are held back (a mail loop, a flood).
    pub replies_per_hour: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            settle: Duration::from_millis(500),
            rescan: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            replies_per_hour: 20,
        }
    }
}

/// What the watcher needs from outside: the catalog, the sender address, the mail server
/// (none: mail waits in `outbox/` for someone to send it), and the clock.
pub struct Services<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// `From` of every reply.
    pub from: String,
    /// The mail server, when configured.
    pub smtp: Option<&'a dyn RawTransport>,
    /// How untrusted files are read.
    pub isolation: Isolation,
    /// The time stamped on submissions and mail (`ROLECALL_NOW` reproduces a run).
    pub now: &'a dyn Fn() -> jiff::Zoned,
}

/// Why the watcher stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The data folder could not be set up.
    #[error("data folder {}: {source}", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// A ledger query failed.
    #[error("ledger: {0}")]
    Ledger(#[from] rusqlite::Error),
}

/// The watcher over one data folder.
pub struct Watcher<'a> {
    layout: Layout,
    settings: Settings,
    services: Services<'a>,
    ledger: Ledger,
    stop: Arc<AtomicBool>,
    /// First sight of each inbox file still settling: (size, mtime, when seen).
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, Instant)>,
    /// Submissions whose file left the inbox unprocessed, already reported.
    vanished: std::collections::HashSet<String>,
    /// Files that failed in this run (our own output could not be written); retried on
    /// the next rescan.
    failures: usize,
}

/// A reply captured instead of sent: the watcher queues it.
struct Capture(RefCell<Vec<Mail>>);

impl Transport for Capture {
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError> {
        self.0.borrow_mut().push(mail.clone());
        Ok(Delivery::Written(PathBuf::from(format!(
            "outbox/{}.eml",
            mail.file_stem()
        ))))
    }
}

/// What one submission came to, before it is recorded.
struct Done {
    recorded: Recorded,
    mails: Vec<NewMail>,
}

impl<'a> Watcher<'a> {
    /// A watcher on `data` (its folders and database are created if needed). `stop` is set
    /// by a signal handler: the watcher finishes the current file and returns.
    pub fn new(
        data: &Path,
        settings: Settings,
        services: Services<'a>,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, WatchError> {
        let layout = Layout::new(data);
        layout.create().map_err(|source| WatchError::Io {
            path: data.to_path_buf(),
            source,
        })?;
        let ledger = Ledger::open(data)?;
        Ok(Watcher {
            layout,
            settings,
            services,
            ledger,
            stop,
            seen: HashMap::new(),
            vanished: Default::default(),
            failures: 0,
        })
    }

    /// Runs until `stop` is set: processes what is in the inbox, then reacts to file events
    /// (and rescans every [`Settings::rescan`] in case events are missed), sending mail as
    /// it comes due. With `once`, returns as soon as the inbox is empty and due mail has
    /// had one attempt. The caller holds the data folder's lock ([`try_lock`]).
    pub fn run(&mut self, once: bool) -> Result<(), WatchError> {
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let _watcher = if once {
            None
        } else {
            use notify::Watcher as _;
            let inbox = self.layout.dir("inbox");
            match notify::recommended_watcher(tx) {
                Ok(mut w) => match w.watch(&inbox, notify::RecursiveMode::NonRecursive) {
                    Ok(()) => Some(w),
                    Err(e) => {
                        tracing::warn!(error = %e, "no file events; rescanning instead");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "no file events; rescanning instead");
                    None
                }
            }
        };
        // Temporary files a killed run left in the outbox (ours: `.<name>.<pid>.tmp`); only
        // the watcher, one per data folder, cleans them. Never in the inbox: there a `.tmp`
        // file is someone's copy in progress.
        if let Ok(entries) = std::fs::read_dir(self.layout.dir("outbox")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        tracing::info!(data = %self.layout.root.display(), "watching");
        loop {
            let settling = self.pass()?;
            if self.stopped() {
                break;
            }
            if once && settling.is_none() {
                break;
            }
            let mut wait = self.settings.rescan;
            if let Some(s) = settling {
                wait = wait.min(s);
            }
            if self.services.smtp.is_some()
                && let Some(due) = self.ledger.next_due_ms()?
            {
                let ms = (due - wall_ms()).max(0) as u64;
                wait = wait.min(Duration::from_millis(ms));
            }
            let deadline = Instant::now() + wait.max(Duration::from_millis(20));
            // Wake up early on a file event, and often enough to notice a stop signal.
            while Instant::now() < deadline && !self.stopped() {
                let slice = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200));
                match rx.recv_timeout(slice) {
                    Ok(_) => {
                        // Let a burst of events (a batch copied in) arrive before scanning.
                        std::thread::sleep(Duration::from_millis(50));
                        while rx.try_recv().is_ok() {}
                        break;
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(slice);
                    }
                }
            }
            if self.stopped() {
                break;
            }
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// Files that could not be finished in this run (each is logged, and stays in the
    /// inbox to be tried again).
    pub fn failures(&self) -> usize {
        self.failures
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// One pass: finish what a crash interrupted, take every settled inbox file, send due
    /// mail. Returns how long until the next unsettled file may be ready, if any.
    pub fn pass(&mut self) -> Result<Option<Duration>, WatchError> {
        self.resume()?;
        let settling = self.scan()?;
        if let Some(smtp) = self.services.smtp
            && !self.stopped()
        {
            queue::tidy(&self.layout.root, &self.ledger)?;
            let stamp = (self.services.now)().timestamp().to_string();
            queue::send_due(
                &self.layout.root,
                &self.ledger,
                smtp,
                &self.settings.retry,
                wall_ms(),
                &stamp,
                &self.stop,
            )?;
        }
        Ok(settling)
    }

    /// Ledger rows a crash left before `filed` whose inbox file is gone: the move happened,
    /// the last update did not.
    fn resume(&mut self) -> Result<(), WatchError> {
        for s in self.ledger.unfinished()? {
            let in_inbox = self.layout.dir("inbox").join(&s.file_name);
            if in_inbox.exists() {
                continue; // the scan resumes it
            }
            let kept = s.original.as_ref().map(|o| self.layout.root.join(o));
            if s.state == State::Processed && kept.as_ref().is_some_and(|k| k.exists()) {
                self.ledger.mark_filed(&s.id)?;
                tracing::info!(submission = %s.id, file = %s.file_name, "filed (resumed)");
            } else if s.state == State::Received && self.vanished.insert(s.id.clone()) {
                // Removed by hand before it was processed: the row stays `received` (status
                // shows it), and the same bytes dropped again are processed as this
                // submission.
                tracing::warn!(submission = %s.id, file = %s.file_name,
                    "left the inbox before it was processed (removed by hand?)");
            }
        }
        for (arrival, kept) in self.ledger.unfinished_duplicates()? {
            if !kept.is_empty() && self.layout.root.join(&kept).exists() {
                self.ledger.duplicate_filed(&arrival)?;
            }
        }
        Ok(())
    }

    /// Takes every settled file in the inbox, oldest name first.
    fn scan(&mut self) -> Result<Option<Duration>, WatchError> {
        let inbox = self.layout.dir("inbox");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&inbox) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .filter(|p| !ignored(p))
                .collect(),
            Err(source) => {
                return Err(WatchError::Io {
                    path: inbox,
                    source,
                });
            }
        };
        files.sort();
        self.seen.retain(|p, _| files.contains(p));
        let mut settling: Option<Duration> = None;
        for path in files {
            if self.stopped() {
                break;
            }
            match self.settled(&path) {
                Ok(()) => {}
                Err(Some(left)) => {
                    settling = Some(settling.map_or(left, |s| s.min(left)));
                    continue;
                }
                Err(None) => continue,
            }
            if let Err(e) = self.take(&path) {
                // A database failure stops the watcher (nothing can be recorded); anything
                // else is this file's problem, retried on the next pass.
                if let WatchError::Ledger(_) | WatchError::Db(_) = e {
                    return Err(e);
                }
                tracing::error!(file = %path.display(), error = %e, "will retry");
                self.failures += 1;
            }
            self.seen.remove(&path);
        }
        Ok(settling)
    }

    /// `Ok` when a file has stopped changing; `Err(Some(wait))` while it may still be being
    /// written; `Err(None)` when it is gone.
    fn settled(&mut self, path: &Path) -> Result<(), Option<Duration>> {
        let meta = std::fs::metadata(path).map_err(|_| None)?;
        let mtime = meta.modified().ok();
        let now = Instant::now();
        let settle = self.settings.settle;
        let entry = self
            .seen
            .entry(path.to_path_buf())
            .or_insert((meta.len(), mtime, now));
        if (entry.0, entry.1) != (meta.len(), mtime) {
            *entry = (meta.len(), mtime, now);
        }
        let quiet_since_mtime = mtime
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        let quiet_seen = now.duration_since(entry.2);
        let quiet = quiet_since_mtime.max(quiet_seen);
        if quiet >= settle {
            Ok(())
        } else {
            Err(Some(settle - quiet))
        }
    }

    /// One inbox file, from first sight to filed.
    fn take(&mut self, path: &Path) -> Result<(), WatchError> {
        let io = |source| WatchError::Io {
            path: path.to_path_buf(),
            source,
        };
        let before = std::fs::metadata(path).map_err(io)?;
        let sha256 = hash_file(path).map_err(io)?;
        let after = std::fs::metadata(path).map_err(io)?;
        if (before.len(), before.modified().ok()) != (after.len(), after.modified().ok()) {
            return Ok(()); // still being written after all: next pass
        }
        let name = file_name(path);
        let is_eml = has_extension(path, &["eml"]);
        let existing = self.ledger.by_hash(&sha256)?;
        let submission = match existing {
            Some(s) if s.state == State::Filed || s.kind == Kind::Attachment => {
                let arrival = format!(
                    "{sha256}:{name}:{}:{}",
                    after.len(),
                    after
                        .modified()
                        .ok()
                        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos())
                );
                return self.duplicate(path, &s, &arrival);
            }
            Some(s) => s,
            None => {
                let now = (self.services.now)();
                let id = intake::submission_id(now.date(), &sha256);
                self.ledger.insert_received(&NewSubmission {
                    id: &id,
                    sha256: &sha256,
                    kind: if is_eml { Kind::Email } else { Kind::File },
                    parent: None,
                    file_name: &name,
                    received_at: &now.timestamp().to_string(),
                    origin: None,
                })?;
                tracing::info!(submission = %id, file = %name, "received");
                self.ledger
                    .by_hash(&sha256)?
                    .ok_or(rusqlite::Error::QueryReturnedNoRows)?
            }
        };
        if submission.state == State::Received {
            let done = match submission.kind {
                Kind::Email => self.email(&submission, path)?,
                _ => self.file(&submission, path)?,
            };
            self.ledger
                .record_outcome(&submission.id, &done.recorded, &done.mails)?;
            tracing::info!(
                submission = %submission.id,
                file = %name,
                status = %done.recorded.status,
                mails = done.mails.len(),
                "processed"
            );
        }
        let s = self
            .ledger
            .by_id(&submission.id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        let kept = self.layout.root.join(s.original.as_deref().unwrap_or(""));
        if path.exists() {
            rename_durably(path, &kept).map_err(|source| WatchError::Io {
                path: kept.clone(),
                source,
            })?;
        }
        self.ledger.mark_filed(&s.id)?;
        tracing::info!(submission = %s.id, to = %rel(&kept, &self.layout.root), "filed");
        Ok(())
    }

    /// The archive folder of a submission: `archive/<received date>/<id>`.
    fn folder_of(&self, s: &Submission) -> String {
        let date = s.received_at.get(..10).unwrap_or("undated");
        format!("archive/{date}/{}", s.id)
    }

    /// A loose file: through the pipeline; unreadable ones end in quarantine.
    fn file(&mut self, s: &Submission, path: &Path) -> Result<Done, WatchError> {
        let now = (self.services.now)();
        let folder = self.folder_of(s);
        let format = intake::sniff(path);
        if let Err(reason) = &format
            && !has_extension(path, SUBMISSION_EXTENSIONS)
        {
            // Not a submission and not named like one: nobody to answer, nothing to read.
            let kept = self.quarantine(s, &format!("This file is {reason}."))?;
            return Ok(Done {
                recorded: Recorded {
                    status: "quarantined".into(),
                    outcome: serde_json::json!({ "reason": reason }).to_string(),
                    original: Some(kept),
                    folder: None,
                    reply_to: None,
                    processed_at: now.timestamp().to_string(),
                },
                mails: Vec::new(),
            });
        }
        let (result, mails, reply_to) = self.run_pipeline(
            path,
            format.as_ref().map(|f| *f).map_err(String::as_str),
            None,
            &Placement {
                folder: self.layout.root.join(&folder),
                submission_id: s.id.clone(),
                file_name: s.file_name.clone(),
            },
            &format!("{}-reply", s.id),
        )?;
        let original = if result.status == SubmissionStatus::Unreadable {
            self.quarantine(s, &result.reason)?
        } else {
            format!("{folder}/{}", s.file_name)
        };
        Ok(Done {
            recorded: Recorded {
                status: status_word(result.status).into(),
                outcome: serde_json::to_string(&result).unwrap_or_default(),
                original: Some(original),
                folder: Some(folder),
                reply_to,
                processed_at: now.timestamp().to_string(),
            },
            mails,
        })
    }

    /// Runs the pipeline with the reply captured, writes the reply to `outbox/<key>.eml`
    /// (and a copy beside the results), and returns what to record.
    fn run_pipeline(
        &self,
        path: &Path,
        format: Result<crate::document::Format, &str>,
        origin: Option<&Origin>,
        placement: &Placement,
        key: &str,
    ) -> Result<(PipelineResult, Vec<NewMail>, Option<String>), WatchError> {
        self.run_pipeline_inner(path, format, origin, placement, key, true)
    }

    /// [`Self::run_pipeline`]; without `queue` the reply is only kept beside the results.
    fn run_pipeline_inner(
        &self,
        path: &Path,
        format: Result<crate::document::Format, &str>,
        origin: Option<&Origin>,
        placement: &Placement,
        key: &str,
        queue: bool,
    ) -> Result<(PipelineResult, Vec<NewMail>, Option<String>), WatchError> {
        let capture = Capture(RefCell::new(Vec::new()));
        let now = (self.services.now)();
        let mut processor = Processor::new(
            self.services.catalog,
            placement.folder.clone(),
            self.services.isolation.clone(),
            &capture,
            self.services.from.clone(),
            now.clone(),
        );
        let processed = processor.process_as(path, format, origin, placement);
        if let Some(e) = processed.errors.first() {
            // Our own output could not be written (disk full, permissions): not the
            // sender's fault; leave the file in the inbox and try again later.
            return Err(WatchError::Io {
                path: placement.folder.clone(),
                source: std::io::Error::other(e.clone()),
            });
        }
        let reason = first_error_message(&processed);
        let result = PipelineResult {
            status: processed.status,
            accepted: processed.accepted,
            needs_approval: processed.needs_approval,
            rejected: processed.rejected,
            reason,
        };
        let mut mails = Vec::new();
        let mut reply_to = None;
        for mail in capture.0.into_inner() {
            let stem = Path::new(&placement.file_name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "submission".into());
            write_durably(
                &placement.folder.join(format!("{stem}-reply.eml")),
                &mail.to_eml(),
            )
            .map_err(|source| WatchError::Io {
                path: placement.folder.clone(),
                source,
            })?;
            reply_to = Some(serde_json::json!({ "to": mail.to(), "cc": mail.cc() }).to_string());
            if !queue {
                continue;
            }
            if self.rate_limited(&mail)? {
                tracing::warn!(submission = %placement.submission_id, to = %mail.to().join(", "),
                    "reply held back: too many replies to this sender in the last hour");
                continue;
            }
            mails.push(self.queue_file(key, Some(&placement.submission_id), &mail, &now)?);
        }
        Ok((result, mails, reply_to))
    }

    /// Writes a message into `outbox/<key>.eml` (overwriting a copy a crash left behind:
    /// the row is what counts) and returns the row to record with the outcome.
    fn queue_file(
        &self,
        key: &str,
        submission: Option<&str>,
        mail: &Mail,
        now: &jiff::Zoned,
    ) -> Result<NewMail, WatchError> {
        let file = format!("{}.eml", safe_key(key));
        let path = self.layout.dir("outbox").join(&file);
        write_durably(&path, &mail.to_eml()).map_err(|source| WatchError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(NewMail {
            key: key.to_string(),
            submission_id: submission.map(str::to_string),
            message_id: mail.message_id().to_string(),
            subject: mail.subject().to_string(),
            recipients: mail.recipients(),
            file,
            created_at: now.timestamp().to_string(),
            created_ms: wall_ms(),
        })
    }

    fn rate_limited(&self, mail: &Mail) -> Result<bool, WatchError> {
        let Some(first) = mail.to().first() else {
            return Ok(false);
        };
        let since = wall_ms() - 3_600_000;
        Ok(self.ledger.mails_to_since(first, since)? >= i64::from(self.settings.replies_per_hour))
    }

    /// Moves a copy of the submission's file's reason into `quarantine/` and returns where
    /// the original will go: `quarantine/<id>-<name>` with `<id>-<name>.reason.txt` beside.
    fn quarantine(&self, s: &Submission, reason: &str) -> Result<String, WatchError> {
        let name = format!("{}-{}", s.id, s.file_name);
        let reason_path = self
            .layout
            .dir("quarantine")
            .join(format!("{name}.reason.txt"));
        let text = format!(
            "{}\n\nsubmission: {}\nreceived: {}\nfile: {}\n",
            reason.trim(),
            s.id,
            s.received_at,
            s.file_name
        );
        write_durably(&reason_path, text.as_bytes()).map_err(|source| WatchError::Io {
            path: reason_path.clone(),
            source,
        })?;
        Ok(format!("quarantine/{name}"))
    }

    /// A whole email: each attachment becomes a submission of its own; the sender gets one
    /// reply per attachment, or one short note when there is nothing usable.
    fn email(&mut self, s: &Submission, path: &Path) -> Result<Done, WatchError> {
        let now = (self.services.now)();
        let stamp = now.timestamp().to_string();
        let folder = self.folder_of(s);
        let bytes = std::fs::read(path).map_err(|source| WatchError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let message = match email::parse(&bytes) {
            Ok(m) => m,
            Err(reason) => {
                let kept = self.quarantine(s, &format!("This .eml file is {reason}."))?;
                return Ok(Done {
                    recorded: Recorded {
                        status: "quarantined".into(),
                        outcome: serde_json::json!({ "reason": reason }).to_string(),
                        original: Some(kept),
                        processed_at: stamp,
                        ..Recorded::default()
                    },
                    mails: Vec::new(),
                });
            }
        };
        let original = Some(format!("{folder}/{}", s.file_name));
        if let Some(why) = &message.automatic {
            tracing::info!(submission = %s.id, reason = %why, "automatic message: no reply");
            return Ok(Done {
                recorded: Recorded {
                    status: "ignored".into(),
                    outcome: serde_json::json!({ "reason": format!("not answered: {why}") })
                        .to_string(),
                    original,
                    folder: Some(folder),
                    processed_at: stamp,
                    ..Recorded::default()
                },
                mails: Vec::new(),
            });
        }
        let origin = Origin {
            from: message.from.clone(),
            reply_to: message.reply_to.clone(),
            message_id: message.message_id.clone(),
            references: message.references.clone(),
            subject: message.subject.clone(),
        };
        let origin_json = serde_json::to_string(&origin).unwrap_or_default();
        let reply_to_json = serde_json::json!({ "to": [origin.reply_to], "cc": [] }).to_string();
        let attach_dir = self.layout.root.join(&folder).join("attachments");
        let mut notes = message.notes.clone();
        let mut mails = Vec::new();
        let mut results = Vec::new();
        let mut used = std::collections::HashSet::new();
        for (i, att) in message.attachments.iter().enumerate() {
            let mut name = att.name.clone();
            if !used.insert(name.to_lowercase()) {
                name = format!("{}-{}", i + 1, att.name);
                used.insert(name.to_lowercase());
            }
            let att_path = attach_dir.join(&name);
            write_durably(&att_path, &att.bytes).map_err(|source| WatchError::Io {
                path: att_path.clone(),
                source,
            })?;
            let format = intake::sniff(&att_path);
            if let Err(reason) = &format
                && !has_extension(&att_path, SUBMISSION_EXTENSIONS)
            {
                notes.push(format!(
                    "{name} is {reason}, so it was not read. Rolecall reads the Accounts Worksheet (.xlsx, .xls, .xlsb, .ods) and the Staff User Request Form (PDF)."
                ));
                continue;
            }
            let sha = intake::sha256_hex(&att.bytes);
            let child = match self.ledger.by_hash(&sha)? {
                Some(c) if c.parent.as_deref() == Some(s.id.as_str()) => c,
                Some(c) => {
                    // Sent before, by this email or another: say so rather than answer twice.
                    let key = format!("{}-dup-{}", s.id, c.id);
                    let mail = self.notice(
                        &key,
                        &format!("[Rolecall] {name}: already processed"),
                        &already_processed_text(&name, &c),
                        &origin,
                        &[],
                        &now,
                    )?;
                    mails.push(self.queue_file(&key, Some(&s.id), &mail, &now)?);
                    results.push(serde_json::json!({ "file": name, "duplicate_of": c.id }));
                    continue;
                }
                None => {
                    let id = intake::submission_id(now.date(), &sha);
                    self.ledger.insert_received(&NewSubmission {
                        id: &id,
                        sha256: &sha,
                        kind: Kind::Attachment,
                        parent: Some(&s.id),
                        file_name: &name,
                        received_at: &stamp,
                        origin: Some(&origin_json),
                    })?;
                    self.ledger
                        .by_hash(&sha)?
                        .ok_or(rusqlite::Error::QueryReturnedNoRows)?
                }
            };
            let child_folder = format!("{folder}/{}", child.id);
            if child.state == State::Received {
                let (result, child_mails, reply_to) = self.run_pipeline(
                    &att_path,
                    format.as_ref().map(|f| *f).map_err(String::as_str),
                    Some(&origin),
                    &Placement {
                        folder: self.layout.root.join(&child_folder),
                        submission_id: child.id.clone(),
                        file_name: name.clone(),
                    },
                    &format!("{}-reply", child.id),
                )?;
                let kept = if result.status == SubmissionStatus::Unreadable {
                    let q = self.quarantine(&child, &result.reason)?;
                    let _ = std::fs::copy(&att_path, self.layout.root.join(&q));
                    q
                } else {
                    format!("{folder}/attachments/{name}")
                };
                self.ledger.record_outcome(
                    &child.id,
                    &Recorded {
                        status: status_word(result.status).into(),
                        outcome: serde_json::to_string(&result).unwrap_or_default(),
                        original: Some(kept),
                        folder: Some(child_folder),
                        reply_to,
                        processed_at: stamp.clone(),
                    },
                    &child_mails,
                )?;
                tracing::info!(submission = %child.id, email = %s.id, file = %name,
                    status = %status_word(result.status), "processed");
            }
            if child.state != State::Filed {
                // An attachment's copy is in the archive already: recorded is filed.
                self.ledger.mark_filed(&child.id)?;
            }
            results.push(serde_json::json!({ "file": name, "submission": child.id }));
        }
        let status = if results.is_empty() {
            let key = format!("{}-no-attachment", s.id);
            let mail = self.notice(
                &key,
                "[Rolecall] No worksheet or form found in your message",
                &no_attachment_text(message.subject.as_deref(), &notes),
                &origin,
                &[],
                &now,
            )?;
            if !self.rate_limited(&mail)? {
                mails.push(self.queue_file(&key, Some(&s.id), &mail, &now)?);
            }
            "no_attachment"
        } else {
            "email"
        };
        Ok(Done {
            recorded: Recorded {
                status: status.into(),
                outcome: serde_json::json!({
                    "from": origin.from,
                    "subject": origin.subject,
                    "attachments": results,
                    "notes": notes,
                })
                .to_string(),
                original,
                folder: Some(folder),
                reply_to: Some(reply_to_json),
                processed_at: stamp,
            },
            mails,
        })
    }

    /// A short plain-text message in the sender's thread.
    fn notice(
        &self,
        key: &str,
        subject: &str,
        text: &str,
        origin: &Origin,
        cc: &[String],
        now: &jiff::Zoned,
    ) -> Result<Mail, WatchError> {
        let policy = &self.services.catalog.policy;
        let envelope = Envelope {
            from: self.services.from.clone(),
            to: origin.reply_to.iter().cloned().collect(),
            cc: cc.to_vec(),
            in_reply_to: origin.message_id.clone(),
            references: origin.references.clone(),
        };
        let notice = Notice {
            key: key.to_string(),
            subject: subject.to_string(),
            text: format!(
                "{text}\n\n-- \n{}\n{}\n",
                policy.help_desk_name, policy.help_desk_email
            ),
            help_desk_name: policy.help_desk_name.clone(),
            help_desk_email: policy.help_desk_email.clone(),
        };
        deliver::compose_notice(&notice, &envelope, now.timestamp()).map_err(|e| WatchError::Io {
            path: PathBuf::from(key),
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// The same bytes again, after they were processed: tell whoever got the first reply,
    /// and keep the copy beside the first one.
    fn duplicate(&mut self, path: &Path, s: &Submission, arrival: &str) -> Result<(), WatchError> {
        let mut arrival = arrival.to_string();
        let mut n = 1;
        // The very same arrival filed before (the file came back with the same time stamp):
        // count it as a new one.
        while self.ledger.duplicate_state(&arrival)? == Some(State::Filed) {
            n += 1;
            arrival = format!("{arrival}#{n}");
        }
        let tag = &intake::sha256_hex(arrival.as_bytes())[..10];
        let name = file_name(path);
        let folder = s.folder.clone().unwrap_or_else(|| self.folder_of(s));
        let kept = format!("{folder}/duplicates/{tag}-{name}");
        if self.ledger.duplicate_state(&arrival)?.is_none() {
            let now = (self.services.now)();
            let mut mails = Vec::new();
            let reply: Option<serde_json::Value> = s
                .reply_to
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok());
            let list = |v: &serde_json::Value, k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            if let Some(reply) = reply
                && !list(&reply, "to").is_empty()
            {
                let key = format!("{}-dup-{tag}", s.id);
                // A message dropped again is answered in its own thread.
                let threading = if s.kind == Kind::Email {
                    std::fs::read(path)
                        .ok()
                        .and_then(|b| email::parse(&b).ok())
                        .filter(|m| m.automatic.is_none())
                } else {
                    None
                };
                let origin = Origin {
                    reply_to: list(&reply, "to").first().cloned(),
                    message_id: threading.as_ref().and_then(|m| m.message_id.clone()),
                    references: threading.map(|m| m.references).unwrap_or_default(),
                    ..Origin::default()
                };
                let mail = self.notice(
                    &key,
                    &format!("[Rolecall] {name}: already processed"),
                    &already_processed_text(&name, s),
                    &origin,
                    &list(&reply, "cc"),
                    &now,
                )?;
                if !self.rate_limited(&mail)? {
                    mails.push(self.queue_file(&key, Some(&s.id), &mail, &now)?);
                }
            }
            self.ledger.record_duplicate(
                &arrival,
                &s.id,
                &name,
                &now.timestamp().to_string(),
                &kept,
                &mails,
            )?;
            tracing::info!(submission = %s.id, file = %name, "already processed: duplicate");
        }
        let dest = self.layout.root.join(&kept);
        if path.exists() {
            rename_durably(path, &dest).map_err(|source| WatchError::Io {
                path: dest.clone(),
                source,
            })?;
        }
        self.ledger.duplicate_filed(&arrival)?;
        Ok(())
    }
}

/// What the ledger keeps of a pipeline run.
#[derive(Debug, Clone, Serialize)]
struct PipelineResult {
    status: SubmissionStatus,
    accepted: usize,
    needs_approval: usize,
    rejected: usize,
    /// Why it could not be read, for the quarantine reason file.
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
}

fn status_word(s: SubmissionStatus) -> &'static str {
    match s {
        SubmissionStatus::Accepted => "accepted",
        SubmissionStatus::NeedsAttention => "needs_attention",
        SubmissionStatus::Rejected => "rejected",
        SubmissionStatus::Unreadable => "unreadable",
    }
}

/// Why an unreadable submission could not be read, for the quarantine reason file.
fn first_error_message(processed: &crate::process::Processed) -> String {
    if processed.status != SubmissionStatus::Unreadable {
        return String::new();
    }
    processed.unreadable_reason.clone().unwrap_or_else(|| {
        "The file could not be read as an Accounts Worksheet or a Staff User Request Form.".into()
    })
}

fn already_processed_text(name: &str, s: &Submission) -> String {
    let date = s.processed_at.as_deref().unwrap_or(&s.received_at);
    let date = date.get(..10).unwrap_or(date);
    format!(
        "Hello,\n\nThe file {name} was already processed on {date} as submission {id}, and its result was sent then. \
Rolecall does not process the same file twice.\n\nIf you meant to send a corrected version, please check that you attached the new file. \
If the same file should be processed again (after a catalog change, say), ask the help desk to reprocess submission {id}.",
        id = s.id
    )
}

fn no_attachment_text(subject: Option<&str>, notes: &[String]) -> String {
    let mut text = format!(
        "Hello,\n\nYour message{} reached the help desk's account robot, but it holds no Accounts Worksheet or Staff User Request Form, so there was nothing to process.\n",
        subject
            .map(|s| format!(" \"{}\"", s.trim()))
            .unwrap_or_default()
    );
    for note in notes {
        text.push_str(&format!("\n- {note}"));
    }
    if !notes.is_empty() {
        text.push('\n');
    }
    text.push_str(
        "\nRolecall reads these, attached to a message:\n\
- the Accounts Worksheet, as an Excel workbook (.xlsx, .xls, .xlsb) or OpenDocument spreadsheet (.ods);\n\
- the Staff User Request Form, as a filled-in PDF.\n\n\
Please attach one of them and send your message again. A person at the help desk reads questions sent to the address below.",
    );
    text
}

/// Files the watcher never takes: hidden files, partial downloads and office lock files.
/// Writing `.name.tmp` and renaming it to `name` is the drop convention (`docs/inbox.md`).
fn ignored(path: &Path) -> bool {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".tmp", ".part", ".partial", ".crdownload", ".download", "~"]
            .iter()
            .any(|s| lower.ends_with(s))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn has_extension(path: &Path, list: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.contains(&e.to_ascii_lowercase().as_str()))
}

fn safe_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn rel(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Unix milliseconds by the wall clock: retry times (never `ROLECALL_NOW`, so that a fixed
/// clock in tests does not freeze the backoff).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Writes through a temporary file, flushed to disk, then renamed: the name appears whole
/// or not at all, and survives a crash once this returns.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", file_name(path), std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_hidden_files_wait() {
        for name in [".x.xlsx.tmp", "a.xlsx.part", "~$book.xlsx", "a.crdownload"] {
            assert!(ignored(Path::new(name)), "{name}");
        }
        assert!(!ignored(Path::new("book.xlsx")));
    }
}
