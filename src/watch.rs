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
use crate::deliver::queue::{self, RawTransport, RetryPolicy};
use crate::deliver::{self, DeliverError, Delivery, Envelope, Mail, Notice, Transport};
use crate::fsx::{self, Charset, hash_file, rename_durably, write_durably};
use crate::intake::{self, email};
use crate::ledger::{Kind, Ledger, NewMail, NewSubmission, Recorded, Stage, Status, Submission};
use crate::process::{Origin, Placement, Processor};
use crate::read::Isolation;
use crate::validate::SubmissionStatus;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub mod desk;
mod events;
mod pusher;
mod steps;
mod workers;

pub use pusher::PushWork;

use steps::{PipelineResult, Steps};

pub use crate::intake::SUBMISSION_EXTENSIONS;

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
    /// Submissions processed at once (intake worker threads); 1 takes them one by one.
    pub jobs: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            settle: Duration::from_millis(500),
            rescan: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            replies_per_hour: 20,
            jobs: crate::parallel::default_jobs(),
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
    /// The mail server, when configured. `Sync`: the watcher sends from its own thread.
    pub smtp: Option<&'a (dyn RawTransport + Sync)>,
    /// How untrusted files are read.
    pub isolation: Isolation,
    /// The time stamped on submissions and mail (`ROLECALL_NOW` reproduces a run).
    pub now: &'a (dyn Fn() -> jiff::Zoned + Sync),
    /// The account state requests are diffed against, if any.
    pub state: Option<(&'a crate::state::State, crate::state::diff::DiffOptions)>,
    /// The push worker's settings: pushing with `[alma] push = "accepted"`, and the "done"
    /// email either way. `None`: neither (a watcher built only to send mail or reprocess).
    pub push: Option<PushWork>,
    /// Most request lines read from one worksheet (`[limits] max_lines`).
    pub max_lines: usize,
    /// The result workbook's fixed parts, built once from `catalog` for every submission.
    pub kit: std::sync::Arc<crate::report::Kit>,
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
    /// The request lifecycle could not record a change set.
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    /// A ledger query failed.
    #[error("ledger: {0}")]
    Ledger(#[from] rusqlite::Error),
    /// The account state failed (an intake worker opening it, the push worker reading it).
    #[error(transparent)]
    State(#[from] crate::state::StateError),
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
    vanished: HashSet<String>,
    /// Files that failed in this run (our own output could not be written); retried on
    /// the next rescan.
    failures: usize,
    /// Inbox files whose last attempt failed: (failed attempts, not before). A file that
    /// keeps failing is tried again later and later, never in a tight loop.
    backoff: HashMap<PathBuf, (u32, Instant)>,
    /// Mail is sent by the sender thread of [`Watcher::run`], not by [`Watcher::pass`].
    sender_thread: bool,
    /// Pushes and "done" emails are the push thread's, not [`Watcher::pass`]'s.
    pusher_thread: bool,
    /// Inbox files known complete by a file event (renamed in, or closed after writing)
    /// and not written to since: taken without settling.
    ready: HashSet<PathBuf>,
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
            backoff: HashMap::new(),
            sender_thread: false,
            pusher_thread: false,
            ready: HashSet::new(),
        })
    }

    /// Gives the watcher its push worker ([`Services::push`]).
    pub fn set_push(&mut self, work: PushWork) {
        self.services.push = Some(work);
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
        self.remove_stale_temps();
        tracing::info!(data = %self.layout.root.display(), "watching");
        // Mail goes out from a thread of its own, so that a slow or hung mail server never
        // holds up the inbox, and pushes from another, so that a slow Alma does not either
        // (`--once` keeps to one thread: take the inbox, push, then send).
        let smtp = self.services.smtp.filter(|_| !once);
        let push = self.services.push.clone().filter(|_| !once);
        self.sender_thread = smtp.is_some();
        self.pusher_thread = push.is_some();
        let root = self.layout.root.clone();
        let retry = self.settings.retry;
        let stop = Arc::clone(&self.stop);
        let now = self.services.now;
        let (catalog, from) = (self.services.catalog, self.services.from.clone());
        let isolation = self.services.isolation.clone();
        let max_lines = self.services.max_lines;
        let result = std::thread::scope(|scope| {
            let sending = smtp.map(|smtp| {
                scope.spawn(|| {
                    let sent = send_loop(&root, smtp, (&retry, &stop), now, (catalog, &from));
                    stop_all_on_error(&sent, &stop, "the mail sender");
                    sent
                })
            });
            let pushing = push.as_ref().map(|work| {
                let parts = pusher::Parts {
                    root: root.clone(),
                    work,
                    catalog,
                    from: &from,
                    isolation: &isolation,
                    max_lines,
                    now,
                };
                scope.spawn(|| {
                    let pushed = push_loop(parts, &stop);
                    stop_all_on_error(&pushed, &stop, "the push worker");
                    pushed
                })
            });
            let intake = self.intake_loop(once, &rx);
            // However the intake ended, the workers end too.
            stop.store(true, Ordering::SeqCst);
            let sent = join_worker(sending, &root, "the mail sender");
            let pushed = join_worker(pushing, &root, "the push worker");
            intake.and(sent).and(pushed)
        });
        self.sender_thread = false;
        self.pusher_thread = false;
        tracing::info!("stopped");
        result
    }

    /// Takes inbox files until `stop` (or, with `once`, until the inbox is empty).
    fn intake_loop(
        &mut self,
        once: bool,
        rx: &std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
    ) -> Result<(), WatchError> {
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
                && !self.sender_thread
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
                    Ok(event) => {
                        let mut sign = self.note(event);
                        if sign == Wake::Changed {
                            // Let a burst of events (a batch copied in) arrive before
                            // scanning; a file known complete is taken at once.
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        while let Ok(event) = rx.try_recv() {
                            sign = sign.max(self.note(event));
                        }
                        if sign != Wake::No {
                            break;
                        }
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
        Ok(())
    }

    /// Takes note of one file event: which inbox files are complete ([`events`]).
    fn note(&mut self, event: notify::Result<notify::Event>) -> Wake {
        let Ok(event) = event else {
            // An overflowed or failed event queue: rescan.
            return Wake::Changed;
        };
        // Events name files under the folder as watched (made absolute): name them as the
        // scan does.
        let inbox = self.layout.dir("inbox");
        let ours = |paths: Vec<PathBuf>| -> Vec<PathBuf> {
            paths
                .iter()
                .filter_map(|p| p.file_name().map(|n| inbox.join(n)))
                .collect()
        };
        match events::sign(&event) {
            events::Sign::Ready(paths) => {
                self.ready.extend(ours(paths));
                Wake::Ready
            }
            events::Sign::Growing(paths) => {
                for path in ours(paths) {
                    self.ready.remove(&path);
                }
                Wake::Changed
            }
            events::Sign::Nothing => Wake::No,
        }
    }

    /// Temporary files (`.<name>.<pid>.tmp`) a killed run left in the data folder's own
    /// folders: only the watcher, one per data folder, cleans them, and only those of a
    /// process that is gone. Never in the inbox: there a `.tmp` file is someone's copy in
    /// progress.
    pub fn remove_stale_temps(&self) {
        let mut removed = 0;
        for name in ["outbox", "sent", "dead", "quarantine"] {
            removed += fsx::remove_stale_temps(&self.layout.dir(name), 1);
        }
        // archive/<date>/<email>/<attachment>/<file>: four levels at most.
        removed += fsx::remove_stale_temps(&self.layout.dir("archive"), 4);
        if removed > 0 {
            tracing::info!(
                files = removed,
                "removed temporary files a stopped run left"
            );
        }
    }

    /// Files that could not be finished in this run (each is logged, and stays in the
    /// inbox to be tried again).
    pub fn failures(&self) -> usize {
        self.failures
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// One submission's steps on this thread, with the watcher's own ledger connection.
    fn steps(&mut self) -> Steps<'_, 'a> {
        Steps {
            layout: &self.layout,
            settings: &self.settings,
            services: &self.services,
            ledger: &mut self.ledger,
            turn: None,
        }
    }

    /// One pass: finish what a crash interrupted, take every settled inbox file, send due
    /// mail. Returns how long until the next unsettled file may be ready, if any.
    pub fn pass(&mut self) -> Result<Option<Duration>, WatchError> {
        self.resume()?;
        let settling = self.scan()?;
        if !self.pusher_thread && !self.stopped() {
            self.push_round()?;
        }
        if let Some(smtp) = self.services.smtp
            && !self.stopped()
            && !self.sender_thread
        {
            queue::tidy(&self.layout.root, &self.ledger)?;
            let now = (self.services.now)();
            let pass = queue::send_due(
                &self.layout.root,
                &self.ledger,
                smtp,
                &self.settings.retry,
                wall_ms(),
                &now.timestamp().to_string(),
                &self.stop,
            )?;
            let desk = (self.services.catalog, self.services.from.as_str());
            tell_help_desk(
                &self.layout.root,
                &mut self.ledger,
                desk,
                &now,
                &pass.refused,
            )?;
        }
        Ok(settling)
    }

    /// One round of the push worker in this thread (`--once`, and callers of [`Self::pass`]).
    fn push_round(&mut self) -> Result<(), WatchError> {
        let Some(work) = &self.services.push else {
            return Ok(());
        };
        let parts = pusher::Parts {
            root: self.layout.root.clone(),
            work,
            catalog: self.services.catalog,
            from: &self.services.from,
            isolation: &self.services.isolation,
            max_lines: self.services.max_lines,
            now: self.services.now,
        };
        pusher::Pusher::open(parts)?.round(&self.stop)
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
            if s.state == Stage::Processed && kept.as_ref().is_some_and(|k| k.exists()) {
                self.ledger.mark_filed(&s.id)?;
                tracing::info!(submission = %s.id, file = %s.file_name, "filed (resumed)");
            } else if s.state == Stage::Received && self.vanished.insert(s.id.clone()) {
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
        self.backoff.retain(|p, _| files.contains(p));
        self.ready.retain(|p| files.contains(p));
        let mut settling: Option<Duration> = None;
        let mut settled = Vec::new();
        for path in files {
            if self
                .backoff
                .get(&path)
                .is_some_and(|(_, not_before)| Instant::now() < *not_before)
            {
                continue;
            }
            match self.settled(&path) {
                Ok(()) => settled.push(path),
                Err(Some(left)) => settling = Some(settling.map_or(left, |s| s.min(left))),
                Err(None) => {}
            }
        }
        self.take_all(settled)?;
        Ok(settling)
    }

    /// What became of one file taken: a database failure stops the watcher (nothing can be
    /// recorded); anything else is this file's problem, retried on a later pass.
    fn taken(&mut self, path: &Path, result: Result<(), WatchError>) -> Result<(), WatchError> {
        match result {
            Err(e @ (WatchError::Ledger(_) | WatchError::Db(_) | WatchError::State(_))) => {
                return Err(e);
            }
            Err(e) => {
                let wait = self.back_off(path);
                tracing::error!(file = %path.display(), error = %e,
                    retry_in_ms = wait.as_millis() as u64, "will retry");
                self.failures += 1;
            }
            Ok(()) => {
                self.backoff.remove(path);
            }
        }
        self.seen.remove(path);
        self.ready.remove(path);
        Ok(())
    }

    /// Records one more failed attempt at `path` and returns the wait before the next one:
    /// one second, doubling up to five minutes.
    fn back_off(&mut self, path: &Path) -> Duration {
        let entry = self
            .backoff
            .entry(path.to_path_buf())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
        let wait = Duration::from_secs(1u64 << (entry.0 - 1).min(8)).min(Duration::from_secs(300));
        entry.1 = Instant::now() + wait;
        wait
    }

    /// `Ok` when a file has stopped changing; `Err(Some(wait))` while it may still be being
    /// written; `Err(None)` when it is gone.
    fn settled(&mut self, path: &Path) -> Result<(), Option<Duration>> {
        let meta = std::fs::metadata(path).map_err(|_| None)?;
        if self.ready.contains(path) {
            // Renamed in, or closed by its writer: complete already (see `events`).
            return Ok(());
        }
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
}

/// What file events ask of the intake loop, least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    /// Nothing: keep waiting.
    No,
    /// Something changed: scan once the burst is over.
    Changed,
    /// A file is complete: scan now.
    Ready,
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

/// The sender thread of [`Watcher::run`]: sends due mail through its own database
/// connection until `stop`, looking again at least every 200 ms (a reply the intake just
/// queued is due at once).
fn send_loop(
    root: &Path,
    smtp: &(dyn RawTransport + Sync),
    (retry, stop): (&RetryPolicy, &AtomicBool),
    now: &(dyn Fn() -> jiff::Zoned + Sync),
    desk: (&Catalog, &str),
) -> Result<(), WatchError> {
    let mut ledger = Ledger::open(root)?;
    while !stop.load(Ordering::SeqCst) {
        queue::tidy(root, &ledger)?;
        let now = now();
        let stamp = now.timestamp().to_string();
        let pass = queue::send_due(root, &ledger, smtp, retry, wall_ms(), &stamp, stop)?;
        tell_help_desk(root, &mut ledger, desk, &now, &pass.refused)?;
        let wait = match ledger.next_due_ms()? {
            Some(due) => (due - wall_ms()).clamp(20, 200),
            None => 200,
        };
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    Ok(())
}

/// A worker thread that stopped with an error stops the watcher: without its sender it
/// would take files and never answer, without its pusher never push. The service manager
/// restarts it.
fn stop_all_on_error(result: &Result<(), WatchError>, stop: &AtomicBool, what: &str) {
    if let Err(e) = result {
        tracing::error!(error = %e, "{what} stopped; stopping");
        stop.store(true, Ordering::SeqCst);
    }
}

/// Waits for a worker thread of [`Watcher::run`]; a panic is an error of the data folder.
fn join_worker(
    handle: Option<std::thread::ScopedJoinHandle<'_, Result<(), WatchError>>>,
    root: &Path,
    what: &str,
) -> Result<(), WatchError> {
    handle.map_or(Ok(()), |h| {
        h.join().unwrap_or_else(|_| {
            Err(WatchError::Io {
                path: root.to_path_buf(),
                source: std::io::Error::other(format!("{what} thread panicked")),
            })
        })
    })
}

/// The push thread of [`Watcher::run`]: a round every 500 ms until `stop`, through its own
/// database connections.
fn push_loop(parts: pusher::Parts<'_>, stop: &AtomicBool) -> Result<(), WatchError> {
    let mut pusher = pusher::Pusher::open(parts)?;
    while !stop.load(Ordering::SeqCst) {
        pusher.round(stop)?;
        for _ in 0..5 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Tells the help desk (the catalog's help-desk address) of each recipient the mail server
/// refused while others got the message: most often a coordinator address in the catalog
/// that no longer exists, which would cost every reply to that institution its copy.
fn tell_help_desk(
    root: &Path,
    ledger: &mut Ledger,
    (catalog, from): (&Catalog, &str),
    now: &jiff::Zoned,
    refused: &[deliver::RefusedRecipient],
) -> Result<(), WatchError> {
    let policy = &catalog.policy;
    let mut mails = Vec::new();
    for r in refused {
        let key = format!(
            "{}-refused-{}",
            r.key,
            fsx::safe_name(&r.address, Charset::AsciiWord, 80, "address")
        );
        let mut text = format!(
            "The mail server refused {} for the message \"{}\" (submission {}): {}\nThe other recipients got it.\n",
            r.address,
            r.subject,
            r.submission_id.as_deref().unwrap_or("-"),
            r.error
        );
        if let Some(c) = catalog
            .coordinators
            .iter()
            .find(|c| c.email.eq_ignore_ascii_case(&r.address))
        {
            text.push_str(&format!(
                "\n{} is in the catalog as the address of {}, coordinator of {}: correct or remove it in coordinators.toml, or every reply to that institution will lose this copy.\n",
                r.address,
                c.name,
                c.institutions.join(", ")
            ));
        }
        let notice = Notice {
            key: key.clone(),
            subject: format!("[Rolecall] The mail server refused {}", r.address),
            text,
            help_desk_name: policy.help_desk_name.clone(),
            help_desk_email: policy.help_desk_email.clone(),
        };
        let envelope = Envelope {
            from: from.to_string(),
            to: vec![policy.help_desk_email.clone()],
            cc: Vec::new(),
            in_reply_to: None,
            references: Vec::new(),
        };
        let mail = deliver::compose_notice(&notice, &envelope, now.timestamp()).map_err(|e| {
            WatchError::Io {
                path: PathBuf::from(&key),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        mails.push(queue_file(
            root,
            &key,
            r.submission_id.as_deref(),
            &mail,
            now,
        )?);
    }
    if !mails.is_empty() {
        ledger.queue(&mails)?;
    }
    Ok(())
}

/// Writes a message into `outbox/<key>.eml` (overwriting a copy a crash left behind: the
/// row is what counts) and returns the row to record.
fn queue_file(
    root: &Path,
    key: &str,
    submission: Option<&str>,
    mail: &Mail,
    now: &jiff::Zoned,
) -> Result<NewMail, WatchError> {
    let mut batch = fsx::Batch::default();
    let queued = queue_file_in(
        &mut batch,
        root,
        key,
        submission,
        (mail, &mail.to_eml()),
        now,
    )?;
    // The row that points at this file is recorded after: the name must be on disk first.
    batch.commit().map_err(|e| WatchError::Io {
        path: root.join("outbox"),
        source: e.into_io(),
    })?;
    Ok(queued)
}

/// [`queue_file`], with the outbox folder flushed when `batch` is committed (before the row
/// is recorded), together with the other names of the same step. `eml` is `mail` as
/// [`Mail::to_eml`] gives it, formatted once by a caller that writes it twice.
fn queue_file_in(
    batch: &mut fsx::Batch,
    root: &Path,
    key: &str,
    submission: Option<&str>,
    (mail, eml): (&Mail, &[u8]),
    now: &jiff::Zoned,
) -> Result<NewMail, WatchError> {
    let file = format!(
        "{}.eml",
        fsx::safe_name(key, Charset::AsciiWord, fsx::MAX_NAME_BYTES - 4, "mail")
    );
    let path = root.join("outbox").join(&file);
    batch.write(&path, eml).map_err(|source| WatchError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(NewMail {
        letter: crate::ledger::Letter {
            key: key.to_string(),
            submission_id: submission.map(str::to_string),
            message_id: mail.message_id().to_string(),
            subject: mail.subject().to_string(),
            recipients: mail.recipients(),
            file,
        },
        created_at: now.timestamp().to_string(),
        created_ms: wall_ms(),
        held: false,
    })
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
