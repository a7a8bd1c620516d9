//! `rolecall state import FILE...`: Alma exports into the account state, one line per file.

use crate::cli::args::ImportArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, as_text, count, to_json};
use crate::state::import::{self, ImportReport};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// What `state import` did, file by file.
#[derive(Serialize)]
pub struct ImportRun {
    files: Vec<Imported>,
}

/// One file: what it held, or why it could not be imported.
#[derive(Serialize)]
#[serde(untagged)]
enum Imported {
    Done(ImportReport),
    Failed {
        file: PathBuf,
        #[serde(serialize_with = "as_text")]
        error: crate::state::StateError,
    },
}

/// Runs `state import`: every file is tried, one that fails does not stop the others.
pub fn run(ctx: &Context, args: ImportArgs) -> Result<ImportRun, CliError> {
    if let Some(missing) = args.files.iter().find(|p| !p.is_file()) {
        return Err(CliError::Usage(format!(
            "{}: no such file; give the Alma export files to import",
            missing.display()
        )));
    }
    let catalog = ctx.catalog()?;
    let mut state = super::state::open(ctx)?;
    let now = now()?.timestamp().to_string();
    let institution = args.institution.as_deref();
    let files = args
        .files
        .into_iter()
        .map(
            |file| match import::import_file(&mut state, &file, catalog, institution, &now) {
                Ok(r) => Imported::Done(r),
                Err(error) => Imported::Failed { file, error },
            },
        )
        .collect();
    Ok(ImportRun { files })
}

impl Report for ImportRun {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for f in &self.files {
            let Imported::Done(r) = f else { continue };
            writeln!(
                out,
                "{}: {}: {}, {} ({} merged), {} added",
                r.file,
                r.kind,
                count(r.accounts, "account", "accounts"),
                count(r.roles, "role", "roles"),
                count(r.duplicates, "duplicate entry", "duplicate entries"),
                count(r.logins, "login", "logins"),
            )?;
            for s in &r.skipped {
                writeln!(out, "  skipped {s}")?;
            }
            for s in &r.not_in_catalog {
                writeln!(out, "  not in the catalog, kept: {s}")?;
            }
            for s in &r.notes {
                writeln!(out, "  note: {s}")?;
            }
        }
        Ok(())
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        let exit = |f: &Imported| match f {
            Imported::Failed { .. } => Exit::Fatal,
            Imported::Done(r) if !r.skipped.is_empty() => Exit::Attention,
            Imported::Done(_) => Exit::Ok,
        };
        self.files.iter().map(exit).max().unwrap_or(Exit::Ok)
    }

    fn write_errors(&self, err: &mut dyn Write) -> std::io::Result<()> {
        for f in &self.files {
            if let Imported::Failed { error, .. } = f {
                writeln!(err, "rolecall: error: {error}")?;
            }
        }
        Ok(())
    }
}
