//! `rolecall export CHANGESET -o DIR`: a change set as Alma Users API payloads.

use crate::cli::args::ExportArgs;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, count, to_json};
use crate::state::alma::Exported;
use serde::Serialize;
use std::io::Write;

/// What `export` wrote.
#[derive(Serialize)]
pub struct ExportReport(Exported);

/// Runs `export`.
pub fn run(ctx: &Context, args: ExportArgs) -> Result<ExportReport, CliError> {
    let cs = super::state::read_changeset(&args.changeset)?;
    let catalog = ctx.catalog()?;
    let state = super::state::open(ctx)?;
    let done = crate::state::alma::export(&state, &cs, catalog, &args.out)?;
    Ok(ExportReport(done))
}

impl Report for ExportReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{}, {}; requests in {}",
            count(self.0.users.len(), "user body", "user bodies"),
            count(self.0.id_lists.len(), "ID list", "ID lists"),
            self.0.requests.display()
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, &self.0)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
