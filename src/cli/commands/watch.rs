//! `rolecall watch [--once]`: the inbox loop. Also builds the watcher that `outbox` and
//! `reprocess` drive ([`with_watcher`]): SMTP only for the holder of the data folder's lock.

use crate::cli::args::WatchArgs;
use crate::cli::context::{Context, clock};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::deliver::RawTransport;
use crate::read::Isolation;
use crate::watch::{self, Services, Watcher};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// How a `watch` run ended; its events were logged as they happened.
#[derive(Serialize)]
pub struct WatchReport {
    /// The data folder.
    data: PathBuf,
    /// Submissions that could not be finished in this run.
    failures: usize,
}

/// Builds the watcher. Only the holder of the data folder's lock sends mail: when a
/// `rolecall watch` is running, the other commands leave sending to it.
pub(super) fn with_watcher<T>(
    ctx: &Context,
    data: &Path,
    stop: Arc<AtomicBool>,
    f: impl FnOnce(&mut Watcher<'_>, bool) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let catalog = ctx.catalog()?;
    // The first log line of every run: which catalog requests are checked against.
    tracing::info!(
        "checking requests against {} (version {})",
        catalog.source(),
        catalog.version
    );
    let lock = watch::try_lock(data)?;
    let smtp = if lock.is_some() { ctx.smtp()? } else { None };
    let clock = clock()?;
    // Requests are diffed against the account state, kept in the same database as the
    // ledger unless `--db` puts it elsewhere.
    let state = crate::state::State::open(&ctx.db_in(data))?;
    let services = Services {
        catalog,
        from: ctx.sender()?,
        smtp: smtp.as_ref().map(|s| s as &(dyn RawTransport + Sync)),
        isolation: Isolation::child_default(),
        now: &clock,
        state: Some((&state, ctx.diff_options()?)),
        push: None,
        max_lines: ctx.config.limits.max_lines(),
        kit: Arc::new(crate::report::Kit::new(catalog)),
    };
    let mut watcher = Watcher::new(data, ctx.config.watch.settings(), services, stop)?;
    let result = f(&mut watcher, lock.is_some());
    drop(lock);
    result
}

/// Runs `watch`: until SIGTERM or Ctrl-C, or one pass with `--once`.
pub fn run(ctx: &Context, args: WatchArgs) -> Result<WatchReport, CliError> {
    let data = ctx.data_dir();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while the first is being honoured stops at once.
        signal_hook::flag::register_conditional_shutdown(signal, 2, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(CliError::Signal)?;
    }
    let failures = with_watcher(ctx, &data, stop, |w, locked| {
        if ctx.config.smtp.is_none() {
            tracing::info!(
                "no SMTP server configured: replies wait in {}/outbox as .eml files",
                data.display()
            );
        }
        if !locked {
            return Err(CliError::Usage(format!(
                "another `rolecall watch` is running on {}: one watcher per data folder",
                data.display()
            )));
        }
        // Only `watch` pushes and sends the "done" emails; `outbox` and `reprocess` build the
        // same watcher for their own errands.
        w.set_push(watch::PushWork {
            mode: ctx.config.alma.as_ref().map(|a| a.push).unwrap_or_default(),
            alma: ctx.config.alma.clone().filter(|a| a.base().is_ok()),
            state_db: ctx.db_in(&data),
        });
        w.run(args.once)?;
        Ok(w.failures())
    })?;
    Ok(WatchReport { data, failures })
}

impl Report for WatchReport {
    fn write_text(&self, _out: &mut dyn Write) -> std::io::Result<()> {
        // Every event was logged on standard error as it happened.
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        if self.failures > 0 {
            Exit::Attention
        } else {
            Exit::Ok
        }
    }
}
