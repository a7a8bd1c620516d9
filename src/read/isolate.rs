//! Reading untrusted workbooks and PDF forms in sandboxed worker processes, and where that
//! happens: [`read_raw_file`] and [`read_form_file`] are the one place that decides between
//! this process and a worker ([`super::Isolation`]); the readers themselves ([`super::raw`],
//! [`super::form`]) know nothing of it.
//!
//! calamine can abort the whole process on a tiny hostile file (an allocation failure is an
//! abort, not a panic, so `catch_unwind` cannot stop it), and so can a stack overflow or an
//! allocation failure inside lopdf. So the parse runs in a child: a long-lived **worker**
//! (`rolecall __read-cells MEMORY_MB CPU_SECONDS`) that reads many files, one at a time,
//! from a pool of one per core by default ([`pool`]), started on first use and shared by
//! every thread of this process; a caller waits for a free worker. Requests and answers are
//! frames on the worker's stdin and stdout ([`frame`]: a version byte, a length): the
//! request is a format byte and the file's bytes, the answer the result of
//! [`super::raw::read_raw_bytes`] in the binary encoding of [`super::raw::wire`] (or, for a
//! PDF, the JSON of [`super::form::read_form`]).
//!
//! **The sandbox.** A worker starts with an empty environment (no `ROLECALL_SMTP_PASSWORD`,
//! nothing else the parent holds) in a scratch folder of its own, and before its first file
//! sets its own limits: address space, CPU time, a handful of open files, and a file size of
//! zero (its only output is the pipe); where the kernel has Landlock, it may then open,
//! create, remove or rename nothing outside the scratch folder, and the parent removes that
//! folder as soon as the worker says it is ready. **The file travels as bytes over the
//! pipe, not as a path**, and that is what lets a long-lived worker be confined so tightly:
//! with a path, it would have to keep read access to every folder a submission can come from
//! (the inbox, the archive, any folder given to `process`), and a parser bug turned into code
//! could read the configuration or the account state and hand it back as "cells" that go
//! out in a reply. With bytes it needs no file at all. The copy costs one memcpy of at most
//! 64 MB, against a parse that costs far more. Setting limits from the worker itself keeps
//! `unsafe` out (a `pre_exec` hook would need it).
//!
//! **Limits per file, in a worker that lives for many.** The wall-clock limit is the
//! parent's: it waits for each answer with the file's own deadline (counted from when the
//! worker has the request, so waiting for a free worker does not eat into it) and kills
//! the worker when it passes. `RLIMIT_CPU` counts a process's whole life, so the worker
//! moves its soft limit before each file to the CPU time it has used so far plus the file's
//! limit (read from `/proc/self/stat`, opened before it confines itself): SIGXCPU ends it
//! if one file spins, even when the parent is gone. The hard limit is set once, for a whole
//! life of [`pool::FILES_PER_WORKER`] files. The memory limit is per process, which a
//! recycled worker keeps per file in practice: a worker is replaced after
//! [`pool::FILES_PER_WORKER`] files or [`pool::BYTES_PER_WORKER`] bytes.
//!
//! **When a worker fails.** Whatever happens to it during a file (abort, signal, memory
//! limit, timeout, garbage on its stdout) becomes a [`RawFailure`] (or a [`FormFailure`])
//! for that file alone, exactly as a one-shot child's did; the worker is killed and reaped,
//! and the next request starts a fresh one in its place. Workers never outlive this
//! process: when it exits their stdin closes, and a worker exits at the end of its input
//! (a busy one when its answer cannot be written, within the file's CPU limit).

mod frame;
pub mod pool;

use super::Isolation;
use super::form::{self, Form, FormFailKind, FormFailure};
use super::raw::{self, FailKind, RawFailure, RawWorkbook};
use crate::document::Format;
use pool::Exchange;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The hidden first argument that makes the binary a reader worker.
pub const CHILD_ARG: &str = "__read-cells";

/// The largest request a worker takes: its format byte and the most a load returns (the
/// largest file read at all, and one byte more for a file that grew while it was read, which
/// the reader then refuses in its own words).
const MAX_REQUEST_BYTES: u64 = raw::MAX_FILE_BYTES + 2;

/// Open files the worker may hold: stdin, stdout, stderr, `/proc/self/stat` and a few that
/// the runtime may open on the way.
const CHILD_MAX_FILES: u64 = 16;

/// Reads a workbook's cells, in this process or in a worker as `isolation` says.
pub fn read_raw_file(path: &Path, format: Format, isolation: &Isolation) -> Reply {
    match isolation {
        Isolation::InProcess => raw::read_raw(path, format),
        Isolation::Child {
            exe,
            memory_mb,
            timeout,
        } => read_in_child(exe, *memory_mb, *timeout, path, format),
    }
}

/// Reads a PDF file's form fields, in this process or in a worker as `isolation` says.
///
/// Checks the file size before reading it. With [`Isolation::Child`] the parse runs in a
/// worker under its limits; a crash, timeout or out-of-memory of the worker becomes a
/// [`FormFailure`] (`Damaged` or `TooLarge`). Never panics; safe to call from several
/// threads at once.
pub fn read_form_file(path: &Path, isolation: &Isolation) -> FormReply {
    match isolation {
        Isolation::InProcess => form::read_form_file_here(path),
        Isolation::Child {
            exe,
            memory_mb,
            timeout,
        } => read_form_in_child(exe, *memory_mb, *timeout, path),
    }
}

/// What a worker answers for a workbook.
type Reply = Result<RawWorkbook, RawFailure>;
/// What a worker answers for a PDF form.
type FormReply = Result<Form, FormFailure>;

/// The format's name, as the fuzz targets and benchmarks spell it.
pub fn format_arg(format: Format) -> &'static str {
    match format {
        Format::Xlsx => "xlsx",
        Format::Xlsb => "xlsb",
        Format::Xls => "xls",
        Format::Ods => "ods",
        Format::Pdf => "pdf",
    }
}

/// The request's first byte: which reader the worker runs on the bytes after it.
fn format_code(format: Format) -> u8 {
    match format {
        Format::Xlsx => 0,
        Format::Xlsb => 1,
        Format::Xls => 2,
        Format::Ods => 3,
        Format::Pdf => 4,
    }
}

fn parse_format_code(code: u8) -> Option<Format> {
    [
        Format::Xlsx,
        Format::Xlsb,
        Format::Xls,
        Format::Ods,
        Format::Pdf,
    ]
    .into_iter()
    .find(|f| format_code(*f) == code)
}

/// Stops the reader workers this process started (at the end of a command; see
/// [`pool::stop_shared`]).
pub fn stop_workers() {
    pool::stop_shared();
}

/// Worker mode: when the process was started as `EXE __read-cells MEMORY_MB CPU_SECONDS`,
/// sets its limits and answers requests until its stdin ends; returns the exit code.
/// Otherwise `None`.
pub fn run_child_if_requested() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(CHILD_ARG) {
        return None;
    }
    let number = |i: usize| args.get(i).and_then(|m| m.parse::<u64>().ok());
    let (Some(memory_mb), Some(cpu_secs)) = (number(1), number(2)) else {
        eprintln!("usage: rolecall {CHILD_ARG} MEMORY_MB CPU_SECONDS (frames on stdin)");
        return Some(ExitCode::from(2));
    };
    Some(serve(memory_mb, cpu_secs))
}

/// The worker's loop: limits, confinement, a greeting, then one answer per request.
fn serve(memory_mb: u64, cpu_secs: u64) -> ExitCode {
    // Opened before confinement: afterwards the worker may open nothing.
    let clock = CpuClock::open();
    limit_child(Some(memory_mb), Some(cpu_secs));
    // The parent starts the worker in its scratch folder: the one place it may touch.
    if let Ok(scratch) = std::env::current_dir() {
        confine(&scratch);
    }
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    if frame::write(&mut out, b"").is_err() {
        return ExitCode::from(3);
    }
    loop {
        let request = match frame::read(&mut input, MAX_REQUEST_BYTES) {
            Ok(request) => request,
            Err(frame::FrameError::Closed) => return ExitCode::SUCCESS,
            Err(_) => return ExitCode::from(2),
        };
        let _ = std::io::stderr().write_all(pool::FILE_MARKER);
        clock.allow(cpu_secs);
        if frame::write(&mut out, &answer(&request)).is_err() {
            return ExitCode::from(3);
        }
    }
}

/// One request's answer: the reader's result, encoded (empty for a request no reader takes,
/// which the parent reads as damage).
fn answer(request: &[u8]) -> Vec<u8> {
    let Some((format, bytes)) = request
        .split_first()
        .and_then(|(code, bytes)| Some((parse_format_code(*code)?, bytes)))
    else {
        return Vec::new();
    };
    if format == Format::Pdf {
        form::wire::encode(&form::read_form(bytes))
    } else {
        raw::wire::encode(&raw::read_raw_bytes(bytes, format))
    }
}

/// The worker's own CPU time, from `/proc/self/stat` kept open (Linux); elsewhere unknown,
/// and the CPU limit stays the first file's.
struct CpuClock(Option<std::fs::File>);

impl CpuClock {
    fn open() -> CpuClock {
        CpuClock(std::fs::File::open("/proc/self/stat").ok())
    }

    /// Seconds of CPU used so far, rounded up.
    #[cfg(unix)]
    fn used_secs(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 1024];
        let n = self.0.as_ref()?.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        // After the command name in parentheses: state is field 3, utime 14, stime 15,
        // in clock ticks of USER_HZ, which Linux fixes at 100 for this interface.
        let fields: Vec<&str> = text.rsplit_once(") ")?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks.div_ceil(100))
    }

    #[cfg(not(unix))]
    fn used_secs(&self) -> Option<u64> {
        None
    }

    /// Lets the next file use `secs` more seconds of CPU: the soft limit moves to what is
    /// used plus `secs` (never past the hard limit, set once for the worker's life). When
    /// the time used cannot be read, the soft limit goes to the hard one: an innocent file
    /// must never pay for the CPU of the files before it, and the parent's wall-clock
    /// limit per file still holds.
    #[cfg(unix)]
    fn allow(&self, secs: u64) {
        use rlimit::Resource;
        let Ok((_, hard)) = rlimit::getrlimit(Resource::CPU) else {
            return;
        };
        let soft = self
            .used_secs()
            .map_or(hard, |used| (used + secs).min(hard));
        let _ = rlimit::setrlimit(Resource::CPU, soft, hard);
    }

    #[cfg(not(unix))]
    fn allow(&self, _secs: u64) {}
}

/// The worker's own limits, set before it reads anything. If one cannot be set the read
/// still runs: the parent's timeout remains. The CPU soft limit is the first file's; the
/// hard limit is a whole life's, so that [`CpuClock::allow`] can move the soft one.
#[cfg(unix)]
fn limit_child(memory_mb: Option<u64>, cpu_secs: Option<u64>) {
    use rlimit::Resource;
    if let Some(mb) = memory_mb {
        let bytes = mb.saturating_mul(1024 * 1024);
        let _ = rlimit::setrlimit(Resource::AS, bytes, bytes);
    }
    if let Some(secs) = cpu_secs {
        let life = secs.saturating_mul(u64::from(pool::FILES_PER_WORKER) + 1);
        // SIGXCPU at the soft limit; SIGKILL at the hard one.
        let _ = rlimit::setrlimit(Resource::CPU, secs, life);
    }
    let _ = rlimit::setrlimit(Resource::NOFILE, CHILD_MAX_FILES, CHILD_MAX_FILES);
    // No file may grow at all: the worker writes only to its pipes.
    let _ = rlimit::setrlimit(Resource::FSIZE, 0, 0);
}

#[cfg(not(unix))]
fn limit_child(_memory_mb: Option<u64>, _cpu_secs: Option<u64>) {}

/// Landlock, where the kernel has it: from here on this process may open, create, remove,
/// rename or run nothing outside `scratch` (reading included: the file to read comes over
/// the pipe). Best effort: a kernel without Landlock leaves the other limits in place.
#[cfg(target_os = "linux")]
pub fn confine(scratch: &Path) -> bool {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        path_beneath_rules,
    };
    let abi = ABI::V3;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules([scratch], AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self());
    matches!(status, Ok(s) if s.ruleset != RulesetStatus::NotEnforced)
}

#[cfg(not(target_os = "linux"))]
pub fn confine(_scratch: &Path) -> bool {
    false
}

/// How a worker's try at one file ended, once its answer is decoded.
enum Ended<T> {
    /// The reader's own result.
    Read(T),
    /// No worker could be started.
    NotStarted(std::io::Error),
    /// Killed after the time limit.
    TimedOut,
    /// It died asking for too much: memory, or CPU time.
    OutOfResources,
    /// It crashed, or answered something that is not a reader's result.
    Crashed,
}

/// Sends one file to a worker of `pool` and decodes what came back with `decode` (`None`:
/// not an answer of this build's reader).
fn run_in_worker<T>(
    pool: &pool::Pool,
    format: Format,
    bytes: &[u8],
    decode: impl FnOnce(&[u8]) -> Option<T>,
) -> Ended<T> {
    let mut request = Vec::with_capacity(bytes.len() + 1);
    request.push(format_code(format));
    request.extend_from_slice(bytes);
    match pool.exchange(request) {
        Exchange::Answer(answer) => decode(&answer).map_or(Ended::Crashed, Ended::Read),
        Exchange::NotStarted(e) => Ended::NotStarted(e),
        Exchange::TimedOut => Ended::TimedOut,
        Exchange::Died { status, err } if out_of_resources(&status, &err) => Ended::OutOfResources,
        Exchange::Died { .. } | Exchange::Garbled(_) => Ended::Crashed,
    }
}

/// An allocation failure under the address-space limit aborts with one of these messages;
/// the kernel's OOM killer sends SIGKILL, the CPU limit SIGXCPU (then SIGKILL). Either way
/// the file asked for too much.
fn out_of_resources(status: &std::process::ExitStatus, err: &str) -> bool {
    err.contains("memory allocation")
        || err.contains("out of memory")
        || err.contains("capacity overflow")
        || killed_by_resource_signal(status)
}

/// Reads one workbook in a worker and turns whatever happens into cells or a failure.
pub fn read_in_child(
    exe: &Path,
    memory_mb: u64,
    timeout: Duration,
    path: &Path,
    format: Format,
) -> Reply {
    pool::shared(exe, memory_mb, timeout).read_raw(path, format)
}

/// Reads one PDF in a worker and turns whatever happens into the form or a
/// [`FormFailure`]: a timeout or memory exhaustion is `TooLarge`, any other crash (a stack
/// overflow, an abort, garbage output) is `Damaged`.
pub fn read_form_in_child(exe: &Path, memory_mb: u64, timeout: Duration, path: &Path) -> FormReply {
    pool::shared(exe, memory_mb, timeout).read_form(path)
}

impl pool::Pool {
    /// Reads one workbook in a worker of this pool: cells, or the failure that says what
    /// happened. Blocks until a worker is free.
    pub fn read_raw(&self, path: &Path, format: Format) -> Reply {
        let (memory_mb, timeout) = (self.settings().memory_mb, self.settings().timeout);
        if format == Format::Pdf {
            // A PDF has no cells; the in-process reader says so in its words.
            return raw::read_raw_bytes(&[], format);
        }
        let bytes = raw::load(path)?;
        let format_label = raw::format_label(format);
        match run_in_worker(self, format, &bytes, raw::wire::decode) {
            Ended::Read(reply) => reply,
            Ended::NotStarted(e) => Err(RawFailure {
                kind: FailKind::Unreadable,
                message: format!(
                    "Rolecall could not start its workbook reader ({e}); this is a problem on \
                 the help desk's side, not in the file."
                ),
            }),
            Ended::TimedOut => Err(RawFailure {
                kind: FailKind::TooLarge,
                message: format!(
                    "This workbook could not be read within Rolecall's time limit ({} seconds): \
                 it is too large or built in an unusual way. Copy the request lines into a \
                 new Accounts Worksheet and resend it.",
                    timeout.as_secs()
                ),
            }),
            Ended::OutOfResources => Err(RawFailure {
                kind: FailKind::TooLarge,
                message: format!(
                    "This workbook could not be read within Rolecall's memory limit ({memory_mb} \
                 MB): it is too large, or built to look small and unpack to something huge. \
                 Copy the request lines into a new Accounts Worksheet and resend it."
                ),
            }),
            Ended::Crashed => Err(RawFailure {
                kind: FailKind::Unreadable,
                message: format!(
                    "This file could not be opened as {format_label}: it looks damaged. Save it \
                 again from your spreadsheet program and resend it."
                ),
            }),
        }
    }

    /// Reads one PDF's form in a worker of this pool. Blocks until a worker is free.
    pub fn read_form(&self, path: &Path) -> FormReply {
        let (memory_mb, timeout) = (self.settings().memory_mb, self.settings().timeout);
        let bytes = form::load(path)?;
        match run_in_worker(self, Format::Pdf, &bytes, form::wire::decode) {
            Ended::Read(reply) => reply,
            Ended::NotStarted(e) => Err(FormFailure {
                kind: FormFailKind::Damaged,
                message: format!(
                    "Rolecall could not start its PDF reader ({e}); this is a problem on the \
                 help desk's side, not in the file. The help desk has been told."
                ),
            }),
            Ended::TimedOut => Err(FormFailure::too_large(&format!(
                "it could not be read within {} seconds",
                timeout.as_secs()
            ))),
            Ended::OutOfResources => Err(FormFailure::too_large(&format!(
                "reading it needs more than {memory_mb} MB of memory"
            ))),
            Ended::Crashed => Err(FormFailure::damaged()),
        }
    }
}

#[cfg(unix)]
fn killed_by_resource_signal(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    // SIGKILL (the OOM killer, or the CPU hard limit) or SIGXCPU (the CPU soft limit).
    matches!(status.signal(), Some(9) | Some(24))
}

#[cfg(not(unix))]
fn killed_by_resource_signal(_status: &std::process::ExitStatus) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// A stand-in worker that writes what it was given (environment, folder, arguments)
    /// into `dir`, then ends without a word.
    fn spy(dir: &Path) -> std::path::PathBuf {
        let exe = dir.join("spy.sh");
        let out = dir.display();
        std::fs::write(
            &exe,
            format!(
                "#!/bin/sh\n/usr/bin/env > '{out}/env.txt'\npwd > '{out}/pwd.txt'\necho \"$1 $2 $3\" > '{out}/args.txt'\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    #[test]
    fn the_worker_starts_with_no_environment_in_a_scratch_folder_it_does_not_keep() {
        // This process has an environment (PATH at least; the watcher's has the SMTP
        // password): none of it may reach the process that parses hostile files.
        assert!(std::env::var_os("PATH").is_some());
        let dir = tempfile::tempdir().unwrap();
        let exe = spy(dir.path());
        let file = dir.path().join("book.xlsx");
        std::fs::write(&file, b"PK").unwrap();
        let got = (0..20)
            .map(|_| read_in_child(&exe, 64, Duration::from_secs(7), &file, Format::Xlsx))
            // A script just written can be "busy" (ETXTBSY) while another test forks.
            .find(|r| {
                !r.as_ref()
                    .is_err_and(|f| f.message.contains("could not start"))
            })
            .unwrap();
        assert_eq!(got.unwrap_err().kind, FailKind::Unreadable);
        let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split('=').next())
            // sh itself sets these three.
            .filter(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n))
            .collect();
        assert!(names.is_empty(), "the worker saw {names:?}");
        let pwd = std::fs::read_to_string(dir.path().join("pwd.txt")).unwrap();
        let pwd = Path::new(pwd.trim());
        assert!(
            pwd.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rolecall-reader-"),
            "{}",
            pwd.display()
        );
        assert!(
            !pwd.exists(),
            "the scratch folder is removed after the worker"
        );
        let args = std::fs::read_to_string(dir.path().join("args.txt")).unwrap();
        // The CPU limit per file follows the timeout.
        assert_eq!(args.trim(), format!("{CHILD_ARG} 64 7"));
    }

    #[test]
    fn the_child_limits_are_set_and_no_file_can_be_written() {
        // Run in a child of the test so that the limits do not bind the test runner.
        use std::os::unix::process::ExitStatusExt;
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args(["--exact", "read::isolate::tests::limits_probe"])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env("ROLECALL_PROBE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // The soft limit is one file's; the hard one a whole life's of 100 files and one.
        assert!(text.contains("probe: cpu 3 303"), "{text}");
        assert!(
            ["probe: next file cpu 5 303", "probe: next file cpu 6 303"]
                .iter()
                .any(|line| text.contains(line)),
            "{text}"
        );
        assert!(
            text.contains(&format!("probe: files {CHILD_MAX_FILES}")),
            "{text}"
        );
        // Writing one byte past the file-size limit of zero ends the process (SIGXFSZ).
        assert!(!text.contains("probe: written"), "{text}");
        assert_eq!(out.status.signal(), Some(25), "{:?}\n{text}", out.status);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn under_landlock_the_worker_opens_nothing_outside_its_scratch_folder() {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args(["--exact", "read::isolate::tests::landlock_probe"])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env("ROLECALL_PROBE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("probe: landlock not enforced") {
            // An older kernel: the file-size limit above still holds.
            return;
        }
        assert!(text.contains("probe: inside created"), "{text}");
        assert!(text.contains("probe: outside refused"), "{text}");
        assert!(text.contains("probe: removal refused"), "{text}");
        // The file to read comes over the pipe: no other may be opened.
        assert!(text.contains("probe: reading refused"), "{text}");
    }

    #[test]
    #[cfg(target_os = "linux")]
    #[ignore = "run by under_landlock_the_worker_opens_nothing_outside_its_scratch_folder"]
    fn landlock_probe() {
        if std::env::var_os("ROLECALL_PROBE").is_none() {
            return;
        }
        let base = std::env::temp_dir().join(format!("rolecall-landlock-{}", std::process::id()));
        let (scratch, outside) = (base.join("scratch"), base.join("outside"));
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let victim = outside.join("keep.txt");
        std::fs::write(&victim, b"keep").unwrap();
        let secret = outside.join("secret.txt");
        std::fs::write(&secret, b"secret").unwrap();
        if !confine(&scratch) {
            println!("probe: landlock not enforced");
            return;
        }
        if std::fs::create_dir(scratch.join("inside")).is_ok() {
            println!("probe: inside created");
        }
        if std::fs::create_dir(outside.join("new")).is_err() {
            println!("probe: outside refused");
        }
        if std::fs::remove_file(&victim).is_err() {
            println!("probe: removal refused");
        }
        if std::fs::read(&secret).is_err() {
            println!("probe: reading refused");
        }
    }

    #[test]
    #[ignore = "run by the_child_limits_are_set_and_no_file_can_be_written"]
    fn limits_probe() {
        if std::env::var_os("ROLECALL_PROBE").is_none() {
            return;
        }
        let path = std::env::temp_dir().join(format!("rolecall-probe-{}", std::process::id()));
        limit_child(Some(4096), Some(3));
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::CPU).unwrap();
        println!("probe: cpu {soft} {hard}");
        let (files, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        println!("probe: files {files}");
        // Before a file: the soft limit moves to the CPU used so far (under a second here,
        // rounded up) plus the file's limit; the hard one stays.
        CpuClock::open().allow(5);
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::CPU).unwrap();
        println!("probe: next file cpu {soft} {hard}");
        let written = std::fs::write(&path, b"x");
        let _ = std::fs::remove_file(&path);
        if written.is_ok() {
            println!("probe: written");
        }
    }
}
