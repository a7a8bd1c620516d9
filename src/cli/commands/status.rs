//! `rolecall status`: what the data folder holds, mail waiting, last processed, failures.

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::ledger::QueuedMail;
use crate::watch::desk;
use std::io::Write;

/// `status`'s report: the desk's [`desk::Status`], printed.
pub struct StatusReport(desk::Status);

/// Runs `status` on an existing data folder.
pub fn run(ctx: &Context) -> Result<StatusReport, CliError> {
    let data = ctx.existing_data_dir()?;
    Ok(StatusReport(desk::status(&data)?))
}

impl Report for StatusReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let st = &self.0;
        writeln!(out, "data folder {}", st.data)?;
        let folders: Vec<String> = st.folders.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(out, "  files: {}", folders.join(", "))?;
        let subs: Vec<String> = st
            .submissions
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        writeln!(out, "  submissions: {}", or_none(&subs.join(", ")))?;
        let mail: Vec<String> = st.mail.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(out, "  mail: {}", or_none(&mail.join(", ")))?;
        let queue: Vec<String> = st
            .queue
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {}", k.words()))
            .collect();
        writeln!(out, "  queue: {}", or_none(&queue.join(", ")))?;
        for s in &st.last_processed {
            writeln!(
                out,
                "  last: {} {} {} ({})",
                s.processed_at.as_deref().unwrap_or(""),
                s.id,
                s.file_name,
                s.status.map_or("", |s| s.as_str())
            )?;
        }
        for s in &st.quarantined {
            writeln!(
                out,
                "  quarantined: {} {} (see quarantine/{}-{}.reason.txt)",
                s.id, s.file_name, s.id, s.file_name
            )?;
        }
        write_mail(out, &st.waiting, &st.held, &st.dead)?;
        for m in &st.refused {
            for r in &m.refused {
                writeln!(
                    out,
                    "  refused: {} for {}: {}",
                    r.address, m.letter.file, r.error
                )?;
            }
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, &self.0)
    }

    fn exit(&self) -> Exit {
        mail_exit(&self.0.held, &self.0.dead)
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

/// The mail lists of `status` and `outbox`: one line per message.
pub(super) fn write_mail(
    out: &mut dyn Write,
    waiting: &[QueuedMail],
    held: &[QueuedMail],
    dead: &[QueuedMail],
) -> std::io::Result<()> {
    for (label, list) in [("waiting", waiting), ("held", held), ("dead", dead)] {
        for m in list {
            writeln!(
                out,
                "  {label}: {} to {} ({} attempts){}",
                m.letter.file,
                m.letter.recipients.join(", "),
                m.attempts,
                m.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// Dead letters and held replies need the help desk; mail merely waiting does not.
pub(super) fn mail_exit(held: &[QueuedMail], dead: &[QueuedMail]) -> Exit {
    if dead.is_empty() && held.is_empty() {
        Exit::Ok
    } else {
        Exit::Attention
    }
}
