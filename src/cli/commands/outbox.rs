//! `rolecall outbox [retry]`: mail waiting, held and dead; `retry` puts dead letters and
//! held replies back in the queue and sends what is due.

use super::status::{mail_exit, write_mail};
use super::watch::with_watcher;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::ledger::QueuedMail;
use crate::watch::desk;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What `outbox` found (and, with `retry`, did).
#[derive(Serialize)]
pub struct OutboxReport {
    /// What `retry` did; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<Retried>,
    waiting: Vec<QueuedMail>,
    held: Vec<QueuedMail>,
    dead: Vec<QueuedMail>,
}

/// What `outbox retry` did.
#[derive(Serialize)]
struct Retried {
    /// Dead letters put back in the queue.
    revived: usize,
    /// Held replies put back in the queue.
    held: usize,
    sent: usize,
    waiting: usize,
    dead: usize,
    /// Why nothing could be sent by this command, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_sent: Option<NotSent>,
}

/// Why `outbox retry` sent nothing itself.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum NotSent {
    /// No `[smtp]` in the configuration.
    NoSmtp,
    /// A running `rolecall watch` holds the data folder and sends the mail.
    WatcherRunning,
}

/// Runs `outbox` (`retry`: true for `outbox retry`) on an existing data folder.
pub fn run(ctx: &Context, retry: bool) -> Result<OutboxReport, CliError> {
    let data = ctx.existing_data_dir()?;
    let stop = Arc::new(AtomicBool::new(false));
    with_watcher(ctx, &data, stop, |w, locked| {
        let retried = match retry {
            true => {
                let held = desk::status(&data)?.held.len();
                let (revived, pass) = desk::retry(w)?;
                Some(Retried {
                    revived,
                    held,
                    sent: pass.sent,
                    waiting: pass.waiting,
                    dead: pass.dead,
                    not_sent: match (ctx.config.smtp.is_some(), locked) {
                        (false, _) => Some(NotSent::NoSmtp),
                        (true, false) => Some(NotSent::WatcherRunning),
                        (true, true) => None,
                    },
                })
            }
            false => None,
        };
        let st = desk::status(&data)?;
        Ok(OutboxReport {
            retry: retried,
            waiting: st.waiting,
            held: st.held,
            dead: st.dead,
        })
    })
}

impl Report for OutboxReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(r) = &self.retry {
            if matches!(r.not_sent, Some(NotSent::WatcherRunning)) {
                writeln!(
                    out,
                    "a `rolecall watch` is running on this data folder: it sends the mail; dead \
                     letters are put back in its queue"
                )?;
            }
            writeln!(
                out,
                "{} and {} back in the queue; sent {}, waiting {}, dead {}{}",
                crate::cli::report::count(r.revived, "dead letter", "dead letters"),
                crate::cli::report::count(r.held, "held reply", "held replies"),
                r.sent,
                r.waiting,
                r.dead,
                match r.not_sent {
                    Some(NotSent::NoSmtp) => " (no SMTP server configured: nothing can be sent)",
                    Some(NotSent::WatcherRunning) => " (left to the running watcher)",
                    None => "",
                }
            )?;
        }
        write_mail(out, &self.waiting, &self.held, &self.dead)?;
        if self.waiting.is_empty() && self.dead.is_empty() && self.held.is_empty() {
            writeln!(out, "no mail waiting, none held, no dead letters")?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        mail_exit(&self.held, &self.dead)
    }
}
