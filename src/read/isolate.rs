//! Reading untrusted workbooks and PDF forms in a child process with memory and time limits,
//! and where that happens: [`read_raw_file`] and [`read_form_file`] are the one place that
//! decides between this process and a child ([`super::Isolation`]); the readers themselves
//! ([`super::raw`], [`super::form`]) know nothing of it.
//!
//! The child is a sandbox for hostile files: it starts with an empty environment (no
//! `ROLECALL_SMTP_PASSWORD`, nothing else the parent holds), in a scratch folder of its own
//! that is removed after it, and before reading sets its own limits: address space, CPU time
//! (the wall-clock timeout stays in the parent), a handful of open files, and a file size of
//! zero, so that it can write no file anywhere (its only output is the pipe); where the
//! kernel has Landlock, it may not even create, remove or rename a file outside its scratch
//! folder. Setting limits from the child itself keeps `unsafe` out (a `pre_exec` hook would
//! need it).
//!
//! calamine can abort the whole process on a tiny hostile file (an allocation failure is an
//! abort, not a panic, so `catch_unwind` cannot stop it), and so can a stack overflow or an
//! allocation failure inside lopdf. The parent therefore runs
//! `rolecall __read-cells FORMAT PATH`: the child sets an address-space limit, runs
//! [`super::raw::read_raw`] (or, for `pdf`, [`super::form::read_form`]), prints the result
//! as JSON and exits. Whatever happens to the child (abort, signal, timeout, garbage
//! output) becomes a [`RawFailure`] (or a [`FormFailure`]) in the parent, and the run goes
//! on with the next file.

use super::Isolation;
use super::form::{self, Form, FormFailKind, FormFailure};
use super::raw::{self, FailKind, RawFailure, RawWorkbook};
use crate::document::Format;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The hidden first argument that makes the binary a cell-reading child.
pub const CHILD_ARG: &str = "__read-cells";
/// The most JSON the parent accepts from a child (caps are far below this).
const MAX_REPLY_BYTES: u64 = 512 * 1024 * 1024;

/// Open files the child may hold: stdin, stdout, stderr, the file it reads and a few that
/// the runtime and the parsers open on the way.
const CHILD_MAX_FILES: u64 = 16;

/// Reads a workbook's cells, in this process or in a child as `isolation` says.
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

/// Reads a PDF file's form fields, in this process or in a child as `isolation` says.
///
/// Checks the file size before reading it. With [`Isolation::Child`] the parse runs in
/// `exe __read-cells pdf PATH` under the child's limits; a crash, timeout or out-of-memory
/// of the child becomes a [`FormFailure`] (`Damaged` or `TooLarge`). Never panics.
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

/// What the child prints on stdout for a workbook.
type Reply = Result<RawWorkbook, RawFailure>;
/// What the child prints on stdout for a PDF form.
type FormReply = Result<Form, FormFailure>;

/// The format's name on the child's command line.
pub fn format_arg(format: Format) -> &'static str {
    match format {
        Format::Xlsx => "xlsx",
        Format::Xlsb => "xlsb",
        Format::Xls => "xls",
        Format::Ods => "ods",
        Format::Pdf => "pdf",
    }
}

fn parse_format(s: &str) -> Option<Format> {
    Some(match s {
        "xlsx" => Format::Xlsx,
        "xlsb" => Format::Xlsb,
        "xls" => Format::Xls,
        "ods" => Format::Ods,
        "pdf" => Format::Pdf,
        _ => return None,
    })
}

/// Child mode: when the process was started as
/// `EXE __read-cells FORMAT PATH [MEMORY_MB [CPU_SECONDS]]`, sets its limits, reads the
/// cells, prints them as JSON and returns the exit code; otherwise `None`.
pub fn run_child_if_requested() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(CHILD_ARG) {
        return None;
    }
    let (Some(format), Some(path)) = (args.get(1).and_then(|f| parse_format(f)), args.get(2))
    else {
        eprintln!(
            "usage: rolecall {CHILD_ARG} xlsx|xlsb|xls|ods|pdf PATH [MEMORY_MB [CPU_SECONDS]]"
        );
        return Some(ExitCode::from(2));
    };
    let number = |i: usize| args.get(i).and_then(|m| m.parse::<u64>().ok());
    limit_child(number(3), number(4));
    // The parent starts the child in its scratch folder: the one place it may write to.
    if let Ok(scratch) = std::env::current_dir() {
        confine_writes(&scratch);
    }
    let mut out = std::io::stdout().lock();
    let written = if format == Format::Pdf {
        let reply: FormReply = form::read_form_file_here(Path::new(path));
        serde_json::to_writer(&mut out, &reply)
    } else {
        let reply: Reply = raw::read_raw(Path::new(path), format);
        serde_json::to_writer(&mut out, &reply)
    };
    if written.is_err() || out.flush().is_err() {
        return Some(ExitCode::from(3));
    }
    Some(ExitCode::SUCCESS)
}

/// The child's own limits, set before it reads anything. If one cannot be set the read
/// still runs: the parent's timeout remains.
#[cfg(unix)]
fn limit_child(memory_mb: Option<u64>, cpu_secs: Option<u64>) {
    use rlimit::Resource;
    if let Some(mb) = memory_mb {
        let bytes = mb.saturating_mul(1024 * 1024);
        let _ = rlimit::setrlimit(Resource::AS, bytes, bytes);
    }
    if let Some(secs) = cpu_secs {
        // SIGXCPU at the soft limit, SIGKILL a second later.
        let _ = rlimit::setrlimit(Resource::CPU, secs, secs + 1);
    }
    let _ = rlimit::setrlimit(Resource::NOFILE, CHILD_MAX_FILES, CHILD_MAX_FILES);
    // No file may grow at all: the child writes only to its stdout pipe.
    let _ = rlimit::setrlimit(Resource::FSIZE, 0, 0);
}

#[cfg(not(unix))]
fn limit_child(_memory_mb: Option<u64>, _cpu_secs: Option<u64>) {}

/// Landlock, where the kernel has it: from here on this process may create, remove, rename
/// or write files only under `scratch` (reading stays allowed: the file to read is
/// elsewhere). Best effort: a kernel without Landlock leaves the other limits in place.
#[cfg(target_os = "linux")]
pub fn confine_writes(scratch: &Path) -> bool {
    use landlock::{
        ABI, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
    };
    let abi = ABI::V3;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_write(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules([scratch], AccessFs::from_write(abi))))
        .and_then(|r| r.restrict_self());
    matches!(status, Ok(s) if s.ruleset != RulesetStatus::NotEnforced)
}

#[cfg(not(target_os = "linux"))]
pub fn confine_writes(_scratch: &Path) -> bool {
    false
}

/// An empty folder of one child's own, removed when the run ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
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

/// How a child run ended.
enum ChildEnd {
    /// The child could not be started.
    NotStarted(std::io::Error),
    /// Killed after the timeout.
    TimedOut,
    /// Exited (or was killed by a signal) with this output.
    Exited {
        status: std::process::ExitStatus,
        out: Vec<u8>,
        err: String,
    },
}

impl ChildEnd {
    /// An allocation failure under the address-space limit aborts with one of these
    /// messages; the kernel's OOM killer sends SIGKILL, the CPU limit SIGXCPU (then
    /// SIGKILL). Either way the file asked for too much.
    fn out_of_resources(status: &std::process::ExitStatus, err: &str) -> bool {
        err.contains("memory allocation")
            || err.contains("out of memory")
            || err.contains("capacity overflow")
            || killed_by_resource_signal(status)
    }
}

/// Runs `exe __read-cells FORMAT PATH MEMORY_MB CPU_SECONDS` with an empty environment in
/// a scratch folder, and waits for it, at most `timeout`.
fn run_child(
    exe: &Path,
    memory_mb: u64,
    timeout: Duration,
    path: &Path,
    format: Format,
) -> ChildEnd {
    let scratch = match Scratch::new() {
        Ok(dir) => dir,
        Err(e) => return ChildEnd::NotStarted(e),
    };
    // CPU time never exceeds wall-clock time: the same bound, kept by the kernel even if
    // the parent is gone.
    let cpu_secs = timeout.as_secs().max(1);
    let mut child = match Command::new(exe)
        .arg(CHILD_ARG)
        .arg(format_arg(format))
        .arg(absolute(path))
        .arg(memory_mb.to_string())
        .arg(cpu_secs.to_string())
        .env_clear()
        .current_dir(&scratch.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return ChildEnd::NotStarted(e),
    };
    // Read both pipes on threads so that a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take().map(|s| drain(s, MAX_REPLY_BYTES));
    let stderr = child.stderr.take().map(|s| drain(s, 64 * 1024));

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let out = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    match status {
        None => ChildEnd::TimedOut,
        Some(status) => ChildEnd::Exited {
            status,
            out,
            err: String::from_utf8_lossy(&err).into_owned(),
        },
    }
}

/// Runs the child on one file and turns whatever happens into cells or a failure.
pub fn read_in_child(
    exe: &Path,
    memory_mb: u64,
    timeout: Duration,
    path: &Path,
    format: Format,
) -> Reply {
    let format_label = raw::format_label(format);
    let (status, out, err) = match run_child(exe, memory_mb, timeout, path, format) {
        ChildEnd::NotStarted(e) => {
            return Err(RawFailure {
                kind: FailKind::Unreadable,
                message: format!(
                    "Rolecall could not start its workbook reader ({e}); this is a problem on \
                     the help desk's side, not in the file."
                ),
            });
        }
        ChildEnd::TimedOut => {
            return Err(RawFailure {
                kind: FailKind::TooLarge,
                message: format!(
                    "This workbook could not be read within Rolecall's time limit ({} seconds): \
                     it is too large or built in an unusual way. Copy the request lines into a \
                     new Accounts Worksheet and resend it.",
                    timeout.as_secs()
                ),
            });
        }
        ChildEnd::Exited { status, out, err } => (status, out, err),
    };
    if status.success()
        && let Ok(reply) = serde_json::from_slice::<Reply>(&out)
    {
        return reply;
    }
    if ChildEnd::out_of_resources(&status, &err) {
        Err(RawFailure {
            kind: FailKind::TooLarge,
            message: format!(
                "This workbook could not be read within Rolecall's memory limit ({memory_mb} \
                 MB): it is too large, or built to look small and unpack to something huge. \
                 Copy the request lines into a new Accounts Worksheet and resend it."
            ),
        })
    } else {
        Err(RawFailure {
            kind: FailKind::Unreadable,
            message: format!(
                "This file could not be opened as {format_label}: it looks damaged. Save it \
                 again from your spreadsheet program and resend it."
            ),
        })
    }
}

/// Runs the child on one PDF (`__read-cells pdf PATH`) and turns whatever happens into the
/// form or a [`FormFailure`]: a timeout or memory exhaustion is `TooLarge`, any other crash
/// (a stack overflow, an abort, garbage output) is `Damaged`.
pub fn read_form_in_child(exe: &Path, memory_mb: u64, timeout: Duration, path: &Path) -> FormReply {
    let (status, out, err) = match run_child(exe, memory_mb, timeout, path, Format::Pdf) {
        ChildEnd::NotStarted(e) => {
            return Err(FormFailure {
                kind: FormFailKind::Damaged,
                message: format!(
                    "Rolecall could not start its PDF reader ({e}); this is a problem on the \
                     help desk's side, not in the file. The help desk has been told."
                ),
            });
        }
        ChildEnd::TimedOut => {
            return Err(FormFailure::too_large(&format!(
                "it could not be read within {} seconds",
                timeout.as_secs()
            )));
        }
        ChildEnd::Exited { status, out, err } => (status, out, err),
    };
    if status.success()
        && let Ok(reply) = serde_json::from_slice::<FormReply>(&out)
    {
        return reply;
    }
    if ChildEnd::out_of_resources(&status, &err) {
        Err(FormFailure::too_large(&format!(
            "reading it needs more than {memory_mb} MB of memory"
        )))
    } else {
        Err(FormFailure::damaged())
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

fn drain<R: Read + Send + 'static>(r: R, limit: u64) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut r = r.take(limit);
        let _ = r.read_to_end(&mut buf);
        // Keep draining past the limit so the child is not blocked; discard the rest.
        let _ = std::io::copy(&mut r.into_inner(), &mut std::io::sink());
        buf
    })
}

/// The child may run in another working directory some day; give it an absolute path.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in child that writes what it was given (environment, folder) beside the file
    /// it is asked to read, then prints nothing a reader would take.
    fn spy(dir: &Path) -> PathBuf {
        let exe = dir.join("spy.sh");
        std::fs::write(
            &exe,
            "#!/bin/sh\n/usr/bin/env > \"$(dirname \"$3\")/env.txt\"\npwd > \"$(dirname \"$3\")/pwd.txt\"\necho \"$5\" > \"$(dirname \"$3\")/cpu.txt\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exe
    }

    #[test]
    fn the_child_starts_with_no_environment_in_a_scratch_folder_it_does_not_keep() {
        // This process has an environment (PATH at least; the watcher's has the SMTP
        // password): none of it may reach the process that parses hostile files.
        assert!(std::env::var_os("PATH").is_some());
        let dir = tempfile::tempdir().unwrap();
        let exe = spy(dir.path());
        let file = dir.path().join("book.xlsx");
        std::fs::write(&file, b"PK").unwrap();
        let got = read_in_child(&exe, 64, Duration::from_secs(7), &file, Format::Xlsx);
        assert_eq!(got.unwrap_err().kind, FailKind::Unreadable);
        let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
        let names: Vec<&str> = env
            .lines()
            .filter_map(|l| l.split('=').next())
            // sh itself sets these three.
            .filter(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n))
            .collect();
        assert!(names.is_empty(), "the child saw {names:?}");
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
            "the scratch folder is removed after the child"
        );
        let cpu = std::fs::read_to_string(dir.path().join("cpu.txt")).unwrap();
        assert_eq!(cpu.trim(), "7", "the CPU limit follows the timeout");
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
        assert!(text.contains("probe: cpu 3 4"), "{text}");
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
    fn under_landlock_the_child_changes_nothing_outside_its_scratch_folder() {
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
    }

    #[test]
    #[cfg(target_os = "linux")]
    #[ignore = "run by under_landlock_the_child_changes_nothing_outside_its_scratch_folder"]
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
        if !confine_writes(&scratch) {
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
        let written = std::fs::write(&path, b"x");
        let _ = std::fs::remove_file(&path);
        if written.is_ok() {
            println!("probe: written");
        }
    }
}
