//! The parent's side of the reader workers: a bounded set of long-lived children of one
//! setting (binary, memory limit, time limit), started when first needed, each reading many
//! files, and replaced when one fails or has read enough.
//!
//! Each worker has three threads of ours, one per pipe: a writer that hands it requests (so
//! that a worker that stops reading can never block the caller), a reader that turns its
//! stdout into frames on a channel, and one that keeps the tail of its stderr. The caller
//! waits on the channel with the file's deadline (`recv_timeout`): no polling, no sleep.

use super::frame::{self, FrameError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// A worker reads at most this many files before a fresh one takes its place. The parsers
/// leave a fragmented heap behind a large file and a process's memory rarely shrinks, so
/// recycling bounds what a worker holds; one start-up (a few milliseconds) per 100 files
/// costs nothing measurable.
pub const FILES_PER_WORKER: u32 = 100;

/// ... or at most this many bytes of input (four of the largest workbooks read at all).
pub const BYTES_PER_WORKER: u64 = 256 * 1024 * 1024;

/// The most a worker's answer may be (caps are far below this).
const MAX_ANSWER_BYTES: u64 = 512 * 1024 * 1024;

/// The most of a worker's stderr kept: the end of it says why it died.
const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// What a worker writes on stderr before each file, so that what it wrote for an earlier
/// file (a caught panic's message) is never taken for why it died on this one.
pub const FILE_MARKER: &[u8] = b"\n\x01rolecall-reader: next file\n";

/// How a pool's workers are started and when they are replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `rolecall` binary.
    pub exe: PathBuf,
    /// Address-space limit of each worker, in MiB.
    pub memory_mb: u64,
    /// Wall-clock limit for one file (the CPU limit follows it).
    pub timeout: Duration,
    /// At most this many workers at once; a caller waits for a free one.
    pub workers: usize,
    /// A worker is replaced after this many files ...
    pub files_per_worker: u32,
    /// ... or this many bytes of input.
    pub bytes_per_worker: u64,
}

/// How many workers a pool runs and when each is replaced: `[limits] reader_workers`,
/// `reader_files` and `reader_mb` of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recycling {
    /// At most this many workers at once.
    pub workers: usize,
    /// A worker is replaced after this many files ...
    pub files_per_worker: u32,
    /// ... or this many bytes of input.
    pub bytes_per_worker: u64,
}

impl Default for Recycling {
    /// One worker per core, recycled after [`FILES_PER_WORKER`] files or
    /// [`BYTES_PER_WORKER`] bytes.
    fn default() -> Recycling {
        Recycling {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            files_per_worker: FILES_PER_WORKER,
            bytes_per_worker: BYTES_PER_WORKER,
        }
    }
}

/// What the configuration chose, set once by the command line before any file is read.
/// A process-wide setting rather than a field of `Isolation`, because the pools are
/// process-wide too: every caller of one setting shares the same workers.
static RECYCLING: OnceLock<Recycling> = OnceLock::new();

/// Sets how the process-wide pools ([`shared`]) run their workers; the first call wins
/// (the command line calls it once, from the configuration).
pub fn configure(recycling: Recycling) {
    let _ = RECYCLING.set(recycling);
}

impl Settings {
    /// The configured [`Recycling`] ([`configure`]), else its default.
    pub fn new(exe: &Path, memory_mb: u64, timeout: Duration) -> Settings {
        let r = RECYCLING.get().copied().unwrap_or_default();
        Settings {
            exe: exe.to_path_buf(),
            memory_mb,
            timeout,
            workers: r.workers,
            files_per_worker: r.files_per_worker,
            bytes_per_worker: r.bytes_per_worker,
        }
    }
}

/// How one request ended.
#[derive(Debug)]
pub enum Exchange {
    /// The worker's answer.
    Answer(Vec<u8>),
    /// No worker could be started.
    NotStarted(io::Error),
    /// No answer within the time limit: the worker was killed.
    TimedOut,
    /// The worker ended without answering: its exit status and what it wrote on stderr
    /// for this file.
    Died {
        /// How it ended.
        status: ExitStatus,
        /// Its stderr since the file was handed over.
        err: String,
    },
    /// The worker spoke something other than this build's frames: it was killed.
    Garbled(String),
}

/// A bounded set of workers of one [`Settings`]. Safe to share between threads: a request
/// blocks until a worker is free.
pub struct Pool {
    settings: Settings,
    slots: Mutex<Slots>,
    freed: Condvar,
    started: AtomicU64,
}

struct Slots {
    idle: Vec<Worker>,
    /// Workers that exist, idle or busy (or being started).
    live: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process-wide pools, one per setting.
static POOLS: OnceLock<Mutex<Vec<Arc<Pool>>>> = OnceLock::new();

/// Stops and reaps every idle worker of the process-wide pools, at the end of a command:
/// nothing is left for init to reap, and the command's CPU time (as `time` reports it)
/// includes its readers'. A later request starts fresh workers.
pub fn stop_shared() {
    if let Some(pools) = POOLS.get() {
        for pool in lock(pools).iter() {
            pool.stop_idle();
        }
    }
}

/// The process-wide pool for one setting, started lazily; its workers end with this
/// process (their stdin closes, and an idle worker exits on that).
pub fn shared(exe: &Path, memory_mb: u64, timeout: Duration) -> Arc<Pool> {
    let settings = Settings::new(exe, memory_mb, timeout);
    let mut pools = lock(POOLS.get_or_init(Mutex::default));
    if let Some(pool) = pools.iter().find(|p| p.settings == settings) {
        return Arc::clone(pool);
    }
    let pool = Arc::new(Pool::new(settings));
    pools.push(Arc::clone(&pool));
    pool
}

impl Pool {
    /// A pool that starts no worker until the first request.
    pub fn new(settings: Settings) -> Pool {
        Pool {
            settings,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
            started: AtomicU64::new(0),
        }
    }

    /// Stops and reaps the idle workers (a worker is killed only between files).
    pub fn stop_idle(&self) {
        let idle = {
            let mut slots = lock(&self.slots);
            let idle = std::mem::take(&mut slots.idle);
            slots.live -= idle.len();
            idle
        };
        // Dropping a worker kills it and waits for it.
        drop(idle);
        self.freed.notify_all();
    }

    /// How its workers are started and replaced.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many workers this pool has started so far.
    pub fn workers_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// The process ids of the idle workers.
    pub fn idle_pids(&self) -> Vec<u32> {
        lock(&self.slots)
            .idle
            .iter()
            .map(|w| w.child.id())
            .collect()
    }

    /// Sends one request to a free worker (starting one if there is room, else waiting for
    /// one) and waits for its answer, at most the time limit from when the worker has it.
    pub fn exchange(&self, request: Vec<u8>) -> Exchange {
        let mut worker = match self.acquire() {
            Ok(w) => w,
            Err(e) => return Exchange::NotStarted(e),
        };
        let size = request.len() as u64;
        let deadline = Instant::now() + self.settings.timeout;
        match worker.exchange(request, deadline) {
            Ok(answer) => {
                worker.files += 1;
                worker.bytes += size;
                let worn = worker.files >= self.settings.files_per_worker
                    || worker.bytes >= self.settings.bytes_per_worker;
                // A worn worker is dropped (killed while idle, and reaped) and its slot freed.
                self.release((!worn).then_some(worker));
                Exchange::Answer(answer)
            }
            Err(end) => {
                let end = worker.finish(end);
                self.release(None);
                end
            }
        }
    }

    fn acquire(&self) -> io::Result<Worker> {
        let mut slots = lock(&self.slots);
        loop {
            if let Some(worker) = slots.idle.pop() {
                return Ok(worker);
            }
            if slots.live < self.settings.workers.max(1) {
                slots.live += 1;
                break;
            }
            slots = self
                .freed
                .wait(slots)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(slots);
        match Worker::spawn(&self.settings) {
            Ok(worker) => {
                self.started.fetch_add(1, Ordering::Relaxed);
                Ok(worker)
            }
            Err(e) => {
                self.release(None);
                Err(e)
            }
        }
    }

    /// Puts a worker back, or frees its slot when it is gone.
    fn release(&self, worker: Option<Worker>) {
        let mut slots = lock(&self.slots);
        match worker {
            Some(w) => slots.idle.push(w),
            None => slots.live -= 1,
        }
        drop(slots);
        self.freed.notify_one();
    }
}

/// An empty folder of one worker's own: its working directory, removed once the worker has
/// confined itself (so nothing is left behind when this process exits), or with the worker.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rolecall-reader-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why a request got no answer, before the worker is put down.
enum End {
    TimedOut,
    Closed,
    Garbled(String),
}

/// One running worker and its three pipe threads.
struct Worker {
    child: Child,
    requests: Sender<Vec<u8>>,
    answers: Receiver<Result<Vec<u8>, FrameError>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_done: Receiver<()>,
    /// Until the worker says it is ready.
    scratch: Option<Scratch>,
    files: u32,
    bytes: u64,
}

impl Worker {
    /// Starts `exe __read-cells MEMORY_MB CPU_SECONDS` with an empty environment in a
    /// scratch folder.
    fn spawn(settings: &Settings) -> io::Result<Worker> {
        let scratch = Scratch::new()?;
        // CPU time never exceeds wall-clock time: the same bound per file, kept by the
        // kernel even if this process is gone.
        let cpu_secs = settings.timeout.as_secs().max(1);
        let mut command = Command::new(&settings.exe);
        // A process group of its own: a Ctrl-C meant for the watcher (which finishes its
        // step on the first one) must not kill the worker mid-file and turn the file into
        // a "damaged" reply; the worker ends when its parent does, by its stdin.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .arg(super::CHILD_ARG)
            .arg(settings.memory_mb.to_string())
            .arg(cpu_secs.to_string())
            .env_clear()
            .current_dir(&scratch.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(io::Error::other("the reader's pipes were not set up"));
                }
            };
        let tail = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, stderr_done) = mpsc::channel();
        Ok(Worker {
            child,
            requests: write_requests(stdin),
            answers: read_answers(stdout),
            stderr: Arc::clone(&tail),
            stderr_done: {
                keep_tail(stderr, tail, done_tx);
                stderr_done
            },
            scratch: Some(scratch),
            files: 0,
            bytes: 0,
        })
    }

    /// Hands the worker one request and waits for its answer until `deadline` (a fresh
    /// worker's start-up counts against the first file, as a one-shot child's did).
    fn exchange(&mut self, request: Vec<u8>, deadline: Instant) -> Result<Vec<u8>, End> {
        self.requests.send(request).map_err(|_| End::Closed)?;
        if self.scratch.is_some() {
            // The first frame says the worker has set its limits and confined itself.
            if !self.receive(deadline)?.is_empty() {
                return Err(End::Garbled("a greeting with content".to_string()));
            }
            self.scratch = None;
        }
        self.receive(deadline)
    }

    fn receive(&self, deadline: Instant) -> Result<Vec<u8>, End> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.answers.recv_timeout(wait) {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(FrameError::Garbled(why))) => Err(End::Garbled(why)),
            Ok(Err(FrameError::Closed)) => Err(End::Closed),
            Err(RecvTimeoutError::Timeout) => Err(End::TimedOut),
            Err(RecvTimeoutError::Disconnected) => Err(End::Closed),
        }
    }

    /// Puts the worker down and says how the request ended.
    fn finish(mut self, end: End) -> Exchange {
        // On `Closed` the worker has died already, and killing a dead (unreaped) process
        // leaves its exit status as it was; it only stops one that closed its stdout and
        // lives on.
        let _ = self.child.kill();
        let status = self.child.wait();
        match end {
            End::TimedOut => Exchange::TimedOut,
            End::Garbled(why) => Exchange::Garbled(why),
            End::Closed => match status {
                Ok(status) => {
                    // Its stderr ends with it; a grandchild holding the pipe is not waited for.
                    let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
                    Exchange::Died {
                        status,
                        err: last_file_text(&lock(&self.stderr)),
                    }
                }
                Err(e) => Exchange::NotStarted(e),
            },
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the worker wrote on stderr since its last [`FILE_MARKER`].
fn last_file_text(tail: &[u8]) -> String {
    let start = tail
        .windows(FILE_MARKER.len())
        .rposition(|w| w == FILE_MARKER)
        .map_or(0, |i| i + FILE_MARKER.len());
    String::from_utf8_lossy(&tail[start..]).into_owned()
}

/// The thread that writes requests to the worker's stdin; it ends (closing the pipe) when
/// the worker is dropped or stops reading.
fn write_requests(mut stdin: impl Write + Send + 'static) -> Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for request in rx {
            if frame::write(&mut stdin, &request).is_err() {
                break;
            }
        }
    });
    tx
}

/// The thread that reads the worker's frames; the first error (end of stream, garbage) is
/// the last thing it sends.
fn read_answers(stdout: impl Read + Send + 'static) -> Receiver<Result<Vec<u8>, FrameError>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = io::BufReader::new(stdout);
        loop {
            let frame = frame::read(&mut stdout, MAX_ANSWER_BYTES);
            let last = frame.is_err();
            if tx.send(frame).is_err() || last {
                break;
            }
        }
    });
    rx
}

/// The thread that keeps the last [`STDERR_TAIL_BYTES`] of the worker's stderr, and says
/// (by dropping `done`) when the pipe has ended.
fn keep_tail(mut stderr: impl Read + Send + 'static, tail: Arc<Mutex<Vec<u8>>>, done: Sender<()>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            let mut kept = lock(&tail);
            kept.extend_from_slice(&buf[..n]);
            let excess = kept.len().saturating_sub(STDERR_TAIL_BYTES);
            kept.drain(..excess);
        }
        drop(done);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_was_written_for_the_last_file_says_why_the_worker_died() {
        let mut tail = b"thread main panicked: capacity overflow".to_vec();
        tail.extend_from_slice(FILE_MARKER);
        tail.extend_from_slice(b"abort");
        assert_eq!(last_file_text(&tail), "abort");
        assert_eq!(last_file_text(b"no marker"), "no marker");
    }
}
