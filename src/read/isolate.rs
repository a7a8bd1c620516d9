//! Reading untrusted workbooks and PDF forms in a child process with memory and time limits.
//!
//! calamine can abort the whole process on a tiny hostile file (an allocation failure is an
//! abort, not a panic, so `catch_unwind` cannot stop it), and so can a stack overflow or an
//! allocation failure inside lopdf. The parent therefore runs
//! `rolecall __read-cells FORMAT PATH`: the child sets an address-space limit, runs
//! [`super::raw::read_raw`] (or, for `pdf`, [`super::form::read_form`]), prints the result
//! as JSON and exits. Whatever happens to the child (abort, signal, timeout, garbage
//! output) becomes a [`RawFailure`] (or a [`FormFailure`]) in the parent, and the run goes
//! on with the next file.

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

/// Child mode: when the process was started as `EXE __read-cells FORMAT PATH [MEMORY_MB]`,
/// reads the cells, prints them as JSON and returns the exit code; otherwise `None`.
pub fn run_child_if_requested() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some(CHILD_ARG) {
        return None;
    }
    let (Some(format), Some(path)) = (args.get(1).and_then(|f| parse_format(f)), args.get(2))
    else {
        eprintln!("usage: rolecall {CHILD_ARG} xlsx|xlsb|xls|ods|pdf PATH [MEMORY_MB]");
        return Some(ExitCode::from(2));
    };
    if let Some(mb) = args.get(3).and_then(|m| m.parse::<u64>().ok()) {
        limit_memory(mb);
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

#[cfg(unix)]
fn limit_memory(mb: u64) {
    let bytes = mb.saturating_mul(1024 * 1024);
    // If the limit cannot be set the read still runs; the parent's timeout remains.
    let _ = rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes);
}

#[cfg(not(unix))]
fn limit_memory(_mb: u64) {}

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
    /// messages; the kernel's OOM killer sends SIGKILL. Either way the file asked for too
    /// much memory.
    fn out_of_memory(status: &std::process::ExitStatus, err: &str) -> bool {
        err.contains("memory allocation")
            || err.contains("out of memory")
            || err.contains("capacity overflow")
            || killed_by_memory_signal(status)
    }
}

/// Runs `exe __read-cells FORMAT PATH MEMORY_MB` and waits for it, at most `timeout`.
fn run_child(
    exe: &Path,
    memory_mb: u64,
    timeout: Duration,
    path: &Path,
    format: Format,
) -> ChildEnd {
    let mut child = match Command::new(exe)
        .arg(CHILD_ARG)
        .arg(format_arg(format))
        .arg(absolute(path))
        .arg(memory_mb.to_string())
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
    if ChildEnd::out_of_memory(&status, &err) {
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
    if ChildEnd::out_of_memory(&status, &err) {
        Err(FormFailure::too_large(&format!(
            "reading it needs more than {memory_mb} MB of memory"
        )))
    } else {
        Err(FormFailure::damaged())
    }
}

#[cfg(unix)]
fn killed_by_memory_signal(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

#[cfg(not(unix))]
fn killed_by_memory_signal(_status: &std::process::ExitStatus) -> bool {
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
