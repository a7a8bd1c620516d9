//! `rolecall export CHANGESET -o DIR`: a change set as Alma files: each account's roles to
//! merge into a GET ("roles only — merge into a GET"), and the Update/Notify Users ID lists.

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
            "{} ({}), {} for the Update/Notify Users job, {} for the API only; calls in {}, how to use them in {}",
            count(self.0.roles.len(), "roles file", "roles files"),
            crate::state::alma::ROLES_ONLY,
            count(self.0.id_lists.len(), "ID list", "ID lists"),
            count(self.0.api_only.len(), "operation", "operations"),
            self.0.requests.display(),
            self.0.readme.display()
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, &self.0)
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
