//! `rolecall reprocess ID|FILE [--dry-run]`: a submission through the pipeline again (after a
//! catalog fix, say), with what changed in its change set.

use super::watch::with_watcher;
use crate::cli::args::ReprocessArgs;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::watch::desk::{self, Reprocessed};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What `reprocess` did or would do.
#[derive(Serialize)]
pub struct ReprocessReport {
    dry_run: bool,
    /// One entry per submission (an email's id reprocesses each of its attachments).
    submissions: Vec<Reprocessed>,
    /// What this command sent, when it holds the data folder and SMTP is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<MailSent>,
    #[serde(skip)]
    data: PathBuf,
}

#[derive(Serialize)]
struct MailSent {
    sent: usize,
    waiting: usize,
}

/// Runs `reprocess` on an existing data folder.
pub fn run(ctx: &Context, args: ReprocessArgs) -> Result<ReprocessReport, CliError> {
    let data = ctx.existing_data_dir()?;
    let stop = Arc::new(AtomicBool::new(false));
    with_watcher(ctx, &data, stop, |w, locked| {
        let submissions =
            desk::reprocess(w, &args.target, args.dry_run).map_err(CliError::Reprocess)?;
        let mail = match !args.dry_run && ctx.config.smtp.is_some() && locked {
            true => {
                let pass = desk::send_due(w)?;
                Some(MailSent {
                    sent: pass.sent,
                    waiting: pass.waiting,
                })
            }
            false => None,
        };
        Ok(ReprocessReport {
            dry_run: args.dry_run,
            submissions,
            mail,
            data: data.clone(),
        })
    })
}

impl Report for ReprocessReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in &self.submissions {
            writeln!(
                out,
                "{} {}: {} -> {} ({} accepted, {} need approval, {} rejected){}",
                r.id,
                r.file_name,
                r.before.map_or("-", |s| s.as_str()),
                r.after,
                r.accepted,
                r.needs_approval,
                r.rejected,
                if self.dry_run {
                    " [dry run: nothing kept]"
                } else {
                    ""
                }
            )?;
            for op in &r.added {
                writeln!(out, "  + {op}")?;
            }
            for op in &r.removed {
                writeln!(out, "  - {op}")?;
            }
            if let Some(f) = &r.folder {
                writeln!(out, "  results in {}", self.data.join(f).display())?;
            }
            if let Some(m) = &r.mail {
                writeln!(out, "  reply queued: {}", self.data.join(m).display())?;
            }
        }
        if let Some(m) = &self.mail {
            writeln!(out, "  mail sent {}, waiting {}", m.sent, m.waiting)?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        if self
            .submissions
            .iter()
            .all(|r| r.after == crate::ledger::Status::Accepted)
        {
            Exit::Ok
        } else {
            Exit::Attention
        }
    }
}
