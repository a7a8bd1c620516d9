//! The intake workers: the settled files of one pass, taken on `[watch] jobs` threads, each
//! with its own ledger and account-state connections (a SQLite connection is never shared;
//! the database is in WAL mode with a busy timeout, `crate::db`).
//!
//! What a serial pass gives, a parallel one gives too. The watcher's own thread looks at
//! each file in name order, records new bytes `received` and hands them to a worker; each
//! worker runs the rest of the submission's steps (processed, filed) exactly as one thread
//! would, so every step is still in the ledger before the next and `kill -9` loses nothing.
//! Whatever depends on what came before is taken by the watcher's thread after every
//! submission handed out before it is done: an email (its attachments may be the bytes of
//! another file), the same bytes as a submission in hand (the first in name order is
//! processed, the second is its duplicate), and a duplicate (its notice counts the replies
//! before it). The per-sender limit counts replies in input order ([`Turns`]).

use super::steps::Admit;
use super::*;
use crate::parallel::{TurnGuard, Turns};
use std::sync::{Mutex, mpsc};

/// A submission handed to a worker.
struct Job {
    path: PathBuf,
    submission: Submission,
    /// Its place among the jobs of the pass.
    index: usize,
}

/// What a worker did with a job: `None` when the pass was given up before it began.
struct JobResult {
    path: PathBuf,
    sha256: String,
    result: Option<Result<(), WatchError>>,
}

/// What a worker thread needs to make its own [`Services`]: everything but the account
/// state, which it opens itself (at `state`, with these options).
#[derive(Clone)]
struct Seed<'a> {
    catalog: &'a Catalog,
    from: String,
    smtp: Option<&'a (dyn RawTransport + Sync)>,
    isolation: Isolation,
    now: &'a (dyn Fn() -> jiff::Zoned + Sync),
    state: Option<(PathBuf, crate::state::diff::DiffOptions)>,
    max_lines: usize,
    kit: std::sync::Arc<crate::report::Kit>,
}

impl<'a> Seed<'a> {
    fn of(services: &Services<'a>) -> Seed<'a> {
        Seed {
            catalog: services.catalog,
            from: services.from.clone(),
            smtp: services.smtp,
            isolation: services.isolation.clone(),
            now: services.now,
            state: services
                .state
                .map(|(state, options)| (state.path().to_path_buf(), options)),
            max_lines: services.max_lines,
            kit: std::sync::Arc::clone(&services.kit),
        }
    }

    fn services<'s>(&self, state: Option<&'s crate::state::State>) -> Services<'s>
    where
        'a: 's,
    {
        Services {
            catalog: self.catalog,
            from: self.from.clone(),
            smtp: self.smtp,
            isolation: self.isolation.clone(),
            now: self.now,
            state: state.zip(self.state.as_ref().map(|(_, options)| *options)),
            // An intake worker takes files; pushing is the push worker's.
            push: None,
            max_lines: self.max_lines,
            kit: std::sync::Arc::clone(&self.kit),
        }
    }
}

/// What the workers of a pass share with the watcher's thread.
struct Shared<'p> {
    layout: &'p Layout,
    settings: &'p Settings,
    /// Set when the watcher's thread gives up the pass (a database failure): the jobs not
    /// begun stay `received`, for the next pass.
    abandon: &'p AtomicBool,
    turns: &'p Turns<String>,
}

impl Watcher<'_> {
    /// Takes these settled files, in order: one by one, or with `jobs` above one on that
    /// many worker threads. This is the one place the watcher starts its intake workers.
    pub(super) fn take_all(&mut self, files: Vec<PathBuf>) -> Result<(), WatchError> {
        let workers = self.settings.jobs.min(files.len());
        if workers <= 1 {
            for path in files {
                if self.stopped() {
                    break;
                }
                let taken = self.steps().take(&path);
                self.taken(&path, taken)?;
            }
            return Ok(());
        }
        let seed = Seed::of(&self.services);
        let (layout, settings) = (self.layout.clone(), self.settings.clone());
        let abandon = AtomicBool::new(false);
        let turns = Turns::new(0);
        let shared = Shared {
            layout: &layout,
            settings: &settings,
            abandon: &abandon,
            turns: &turns,
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Mutex::new(queue);
        let (finished, done) = mpsc::channel::<JobResult>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (seed, shared, queue, finished) =
                    (seed.clone(), &shared, &queue, finished.clone());
                scope.spawn(move || work(&seed, shared, queue, finished));
            }
            drop(finished);
            let result = self.dispatch(files, jobs, &done, &turns);
            if result.is_err() {
                abandon.store(true, Ordering::SeqCst);
            }
            result
        })
    }

    /// The watcher's side of a parallel pass: each file looked at in order, handed out or
    /// taken here after everything before it (see the module's words), then every result
    /// collected. Dropping `jobs` on return lets the workers end.
    fn dispatch(
        &mut self,
        files: Vec<PathBuf>,
        jobs: mpsc::Sender<Job>,
        done: &mpsc::Receiver<JobResult>,
        turns: &Turns<String>,
    ) -> Result<(), WatchError> {
        let mut in_hand = HashSet::new();
        // No more in hand than there are workers: what is received is in hand, and a stop
        // lets what is in hand finish (no file is left `received` by a stop).
        let workers = self.settings.jobs;
        for path in files {
            self.collect(done, &mut in_hand, workers - 1)?;
            if self.stopped() {
                break;
            }
            let admitted = match has_extension(&path, &["eml"]) {
                true => None,
                false => Some(self.steps().admit(&path)),
            };
            match admitted {
                Some(Ok(Admit::Process(s))) if !in_hand.contains(&s.sha256) => {
                    in_hand.insert(s.sha256.clone());
                    let index = turns.add();
                    let job = Job {
                        path,
                        submission: s,
                        index,
                    };
                    if jobs.send(job).is_err() {
                        break; // every worker is gone: what is left waits for the next pass
                    }
                }
                Some(Ok(Admit::Later)) => self.taken(&path, Ok(()))?,
                Some(Err(e)) => self.taken(&path, Err(e))?,
                _ => {
                    self.collect(done, &mut in_hand, 0)?;
                    let taken = self.steps().take(&path);
                    self.taken(&path, taken)?;
                }
            }
        }
        drop(jobs);
        self.collect(done, &mut in_hand, 0)
    }

    /// Records the jobs the workers have finished, waiting until at most `keep` are in hand.
    fn collect(
        &mut self,
        done: &mpsc::Receiver<JobResult>,
        in_hand: &mut HashSet<String>,
        keep: usize,
    ) -> Result<(), WatchError> {
        loop {
            let finished = match done.try_recv() {
                Ok(f) => f,
                Err(_) if in_hand.len() <= keep => return Ok(()),
                Err(_) => match done.recv() {
                    Ok(f) => f,
                    Err(_) => return Ok(()), // no worker left (one panicked): the scope says so
                },
            };
            in_hand.remove(&finished.sha256);
            if let Some(result) = finished.result {
                self.taken(&finished.path, result)?;
            }
        }
    }
}

/// One worker thread: takes jobs until there are none, with its own connections (opened on
/// its first job, and again after a failure to open them).
fn work(
    seed: &Seed<'_>,
    shared: &Shared<'_>,
    queue: &Mutex<mpsc::Receiver<Job>>,
    finished: mpsc::Sender<JobResult>,
) {
    let mut own: Option<(Ledger, Option<crate::state::State>)> = None;
    loop {
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else { break };
        let _turn = TurnGuard::new(shared.turns, job.index);
        // A job handed out is in hand, and finishes even when the watcher is told to stop.
        let give_up = shared.abandon.load(Ordering::SeqCst);
        let result = (!give_up).then(|| one(seed, shared, &mut own, &job));
        let sha256 = job.submission.sha256;
        let report = JobResult {
            path: job.path,
            sha256,
            result,
        };
        if finished.send(report).is_err() {
            break;
        }
    }
}

/// One job on a worker: the submission's remaining steps, through a [`Steps`] of its own.
fn one(
    seed: &Seed<'_>,
    shared: &Shared<'_>,
    own: &mut Option<(Ledger, Option<crate::state::State>)>,
    job: &Job,
) -> Result<(), WatchError> {
    let (ledger, state) = match own.take() {
        Some(opened) => own.insert(opened),
        None => {
            let ledger = Ledger::open(&shared.layout.root)?;
            let state = match &seed.state {
                Some((path, _)) => Some(crate::state::State::open(path)?),
                None => None,
            };
            own.insert((ledger, state))
        }
    };
    let services = seed.services(state.as_ref());
    let mut steps = Steps {
        layout: shared.layout,
        settings: shared.settings,
        services: &services,
        ledger,
        turn: Some((shared.turns, job.index)),
    };
    steps.finish(&job.path, &job.submission)
}
