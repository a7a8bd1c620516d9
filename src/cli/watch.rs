//! The data-folder commands: `watch`, `status`, `outbox [retry]`, `reprocess`. They build
//! the real objects (SMTP transport, logging, signal handlers) and hand over to
//! [`crate::watch`].

use super::{Exit, now, sender};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::deliver::{RawTransport, Smtp};
use crate::read::Isolation;
use crate::watch::{self, Services, Watcher, desk};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Logs to standard error, one line per event; `ROLECALL_LOG` filters (`debug`,
/// `rolecall=info`, ...), default `info`.
/// The first log line of every run: which catalog requests are checked against.
fn log_catalog(catalog: &Catalog) {
    tracing::info!(
        "checking requests against {} (version {})",
        catalog.source(),
        catalog.version
    );
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLECALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn smtp(config: &Config) -> Result<Option<Smtp>, String> {
    config
        .smtp
        .as_ref()
        .map(|s| Smtp::new(s).map_err(|e| format!("SMTP configuration: {e}")))
        .transpose()
}

/// Checks `ROLECALL_NOW` once, then reads the clock (or the fixed time) on each call.
fn clock() -> Result<impl Fn() -> jiff::Zoned, String> {
    now()?;
    Ok(|| now().unwrap_or_else(|_| jiff::Zoned::now()))
}

/// Builds the watcher. Only the holder of the data folder's lock sends mail: when a
/// `rolecall watch` is running, the other commands leave sending to it.
fn with_watcher<T>(
    catalog: &Catalog,
    config: &Config,
    data: &Path,
    stop: Arc<AtomicBool>,
    f: impl FnOnce(&mut Watcher<'_>, bool) -> Result<T, String>,
) -> Result<T, String> {
    let lock = watch::try_lock(data).map_err(|e| e.to_string())?;
    let smtp = if lock.is_some() { smtp(config)? } else { None };
    let clock = clock()?;
    // Requests are diffed against the account state, kept in the same database as the
    // ledger unless `--db` puts it elsewhere.
    let state = crate::state::State::open(&super::db_path(&Some(data.to_path_buf()), config))
        .map_err(|e| e.to_string())?;
    let services = Services {
        catalog,
        from: sender(catalog, config),
        smtp: smtp.as_ref().map(|s| s as &(dyn RawTransport + Sync)),
        isolation: Isolation::child_default(),
        now: &clock,
        state: Some((&state, super::diff_options(config)?)),
    };
    let mut watcher =
        Watcher::new(data, config.watch.settings(), services, stop).map_err(|e| e.to_string())?;
    let result = f(&mut watcher, lock.is_some());
    drop(lock);
    result
}

/// `rolecall watch [--once]`.
pub(super) fn run(
    catalog: &Catalog,
    config: &Config,
    data: &Path,
    once: bool,
) -> Result<Exit, String> {
    init_logging();
    log_catalog(catalog);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while the first is being honoured stops at once.
        signal_hook::flag::register_conditional_shutdown(signal, 2, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    }
    if config.smtp.is_none() {
        tracing::info!(
            "no SMTP server configured: replies wait in {}/outbox as .eml files",
            data.display()
        );
    }
    with_watcher(catalog, config, data, stop, |w, locked| {
        if !locked {
            return Err(format!(
                "another `rolecall watch` is running on {}: one watcher per data folder",
                data.display()
            ));
        }
        w.run(once).map_err(|e| e.to_string())?;
        Ok(if w.failures() > 0 {
            Exit::Attention
        } else {
            Exit::Ok
        })
    })
}

/// `rolecall status [--json]`.
pub(super) fn status(data: &Path, json: bool) -> Result<Exit, String> {
    if !data.join(crate::db::FILE_NAME).exists() {
        return Err(format!(
            "{} is not a data folder yet (no {}): run `rolecall watch --data {}` first",
            data.display(),
            crate::db::FILE_NAME,
            data.display()
        ));
    }
    let st = desk::status(data).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    if json {
        let _ = serde_json::to_writer_pretty(&mut out, &st);
        let _ = writeln!(out);
    } else {
        let _ = writeln!(out, "data folder {}", st.data);
        let folders: Vec<String> = st.folders.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  files: {}", folders.join(", "));
        let subs: Vec<String> = st
            .submissions
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let _ = writeln!(out, "  submissions: {}", or_none(&subs.join(", ")));
        let mail: Vec<String> = st.mail.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(out, "  mail: {}", or_none(&mail.join(", ")));
        for s in &st.last_processed {
            let _ = writeln!(
                out,
                "  last: {} {} {} ({})",
                s.processed_at.as_deref().unwrap_or(""),
                s.id,
                s.file_name,
                s.status.as_deref().unwrap_or("")
            );
        }
        for s in &st.quarantined {
            let _ = writeln!(
                out,
                "  quarantined: {} {} (see quarantine/{}-{}.reason.txt)",
                s.id, s.file_name, s.id, s.file_name
            );
        }
        print_mail(&mut out, "waiting", &st.waiting);
        print_mail(&mut out, "held", &st.held);
        print_mail(&mut out, "dead", &st.dead);
    }
    Ok(if st.dead.is_empty() && st.held.is_empty() {
        Exit::Ok
    } else {
        Exit::Attention
    })
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

fn print_mail(out: &mut impl Write, label: &str, list: &[crate::ledger::QueuedMail]) {
    for m in list {
        let _ = writeln!(
            out,
            "  {label}: {} to {} ({} attempts){}",
            m.file,
            m.recipients.join(", "),
            m.attempts,
            m.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
}

/// `rolecall outbox [retry]`.
pub(super) fn outbox(
    catalog: &Catalog,
    config: &Config,
    data: &Path,
    retry: bool,
) -> Result<Exit, String> {
    init_logging();
    log_catalog(catalog);
    let stop = Arc::new(AtomicBool::new(false));
    with_watcher(catalog, config, data, stop, |w, locked| {
        let mut out = std::io::stdout().lock();
        if retry && !locked {
            let _ = writeln!(
                out,
                "a `rolecall watch` is running on this data folder: it sends the mail; dead \
                 letters are put back in its queue"
            );
        }
        if retry {
            let held = desk::status(data).map_err(|e| e.to_string())?.held.len();
            let (revived, pass) = desk::retry(w).map_err(|e| e.to_string())?;
            let _ = writeln!(
                out,
                "{revived} dead letters and {held} held replies back in the queue; sent {}, \
                 waiting {}, dead {}{}",
                pass.sent,
                pass.waiting,
                pass.dead,
                if config.smtp.is_none() {
                    " (no SMTP server configured: nothing can be sent)"
                } else if !locked {
                    " (left to the running watcher)"
                } else {
                    ""
                }
            );
        }
        let st = desk::status(data).map_err(|e| e.to_string())?;
        print_mail(&mut out, "waiting", &st.waiting);
        print_mail(&mut out, "held", &st.held);
        print_mail(&mut out, "dead", &st.dead);
        if st.waiting.is_empty() && st.dead.is_empty() && st.held.is_empty() {
            let _ = writeln!(out, "no mail waiting, none held, no dead letters");
        }
        Ok(if st.dead.is_empty() && st.held.is_empty() {
            Exit::Ok
        } else {
            Exit::Attention
        })
    })
}

/// `rolecall reprocess ID|FILE [--dry-run]`.
pub(super) fn reprocess(
    catalog: &Catalog,
    config: &Config,
    data: &Path,
    target: &str,
    dry_run: bool,
) -> Result<Exit, String> {
    init_logging();
    log_catalog(catalog);
    let stop = Arc::new(AtomicBool::new(false));
    with_watcher(catalog, config, data, stop, |w, locked| {
        let all = desk::reprocess(w, target, dry_run)?;
        let mut out = std::io::stdout().lock();
        for r in &all {
            let _ = writeln!(
                out,
                "{} {}: {} -> {} ({} accepted, {} need approval, {} rejected){}",
                r.id,
                r.file_name,
                r.before.as_deref().unwrap_or("-"),
                r.after,
                r.accepted,
                r.needs_approval,
                r.rejected,
                if dry_run {
                    " [dry run: nothing kept]"
                } else {
                    ""
                }
            );
            for op in &r.added {
                let _ = writeln!(out, "  + {op}");
            }
            for op in &r.removed {
                let _ = writeln!(out, "  - {op}");
            }
            if let Some(f) = &r.folder {
                let _ = writeln!(out, "  results in {}", data.join(f).display());
            }
            if let Some(m) = &r.mail {
                let _ = writeln!(out, "  reply queued: {}", data.join(m).display());
            }
        }
        if !dry_run && config.smtp.is_some() && locked {
            let pass = desk::send_due(w).map_err(|e| e.to_string())?;
            let _ = writeln!(out, "  mail sent {}, waiting {}", pass.sent, pass.waiting);
        }
        Ok(if all.iter().all(|r| r.after == "accepted") {
            Exit::Ok
        } else {
            Exit::Attention
        })
    })
}
