//! `rolecall queue [--institution CODE]`: what waits on the help desk, per institution and
//! oldest first, each item with its age and the command that moves it on
//! ([`crate::lifecycle::queue`]). Exit 0 whether or not something waits.

use crate::cli::args::QueueArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::lifecycle::queue::{Item, queue};
use serde::Serialize;
use std::io::Write;

/// The queue, as printed.
#[derive(Debug, Serialize)]
pub struct QueueReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    institution: Option<String>,
    items: Vec<Item>,
}

/// Runs `queue` on an existing data folder.
pub fn run(ctx: &Context, args: QueueArgs) -> Result<QueueReport, CliError> {
    let data = ctx.existing_data_dir()?;
    let items = queue(&data, now()?.timestamp(), args.institution.as_deref())?;
    Ok(QueueReport {
        institution: args.institution,
        items,
    })
}

impl Report for QueueReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.items.is_empty() {
            return writeln!(out, "Nothing waits.");
        }
        let mut last: Option<Option<&str>> = None;
        for i in &self.items {
            let inst = i.institution.as_deref();
            if last != Some(inst) {
                writeln!(out, "{}", inst.unwrap_or("(no institution)"))?;
                last = Some(inst);
            }
            let sub = i
                .submission_id
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            writeln!(out, "  {:>6}  {}{sub}: {}", i.age, i.kind.words(), i.what)?;
            if let Some(r) = &i.reason {
                writeln!(out, "          why: {r}")?;
            }
            writeln!(out, "          next: {}", i.command)?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
