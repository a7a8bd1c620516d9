//! `rolecall apply CHANGESET [--dry-run]`: a change set, once carried out in Alma, recorded
//! into the account state.

use crate::cli::args::ApplyArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, count, to_json};
use crate::state::apply::{self, Applied};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// What `apply` did, or with `--dry-run` would do.
#[derive(Serialize)]
pub struct ApplyReport {
    changeset: PathBuf,
    /// The change set's operations.
    operations: usize,
    /// With `--dry-run`: each operation in words; nothing recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<Vec<String>>,
    /// Without `--dry-run`: what was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<Applied>,
}

/// Runs `apply`.
pub fn run(ctx: &Context, args: ApplyArgs) -> Result<ApplyReport, CliError> {
    let cs = super::state::read_changeset(&args.changeset)?;
    let mut report = ApplyReport {
        changeset: args.changeset,
        operations: cs.operations.len(),
        dry_run: None,
        applied: None,
    };
    if args.dry_run {
        report.dry_run = Some(cs.operations.iter().map(apply::describe).collect());
        return Ok(report);
    }
    let mut state = super::state::open(ctx)?;
    let now = now()?.timestamp().to_string();
    report.applied = Some(apply::apply(&mut state, &cs, &now)?);
    Ok(report)
}

impl Report for ApplyReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(lines) = &self.dry_run {
            for line in lines {
                writeln!(out, "{line}")?;
            }
            let ops = count(self.operations, "operation", "operations");
            return writeln!(out, "{ops}; nothing recorded (dry run)");
        }
        let Some(done) = &self.applied else {
            return Ok(());
        };
        if let Some(at) = &done.already_applied_at {
            let file = self.changeset.display();
            return writeln!(out, "{file}: already applied at {at}; nothing changed");
        }
        if done.rechecked {
            writeln!(
                out,
                "made against an older state: re-checked each operation"
            )?;
        }
        for note in &done.rechecks {
            writeln!(out, "re-check: {note}")?;
        }
        for note in &done.notes {
            writeln!(out, "unchanged: {note}")?;
        }
        writeln!(
            out,
            "{}: {} of {} recorded",
            self.changeset.display(),
            done.changed,
            count(self.operations, "operation", "operations")
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
