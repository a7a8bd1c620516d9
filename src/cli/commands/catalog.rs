//! `rolecall catalog check`: every mistake of the catalog with its file and line.

use crate::catalog;
use crate::cli::context::Context;
use crate::cli::report::{Exit, Report, count, to_json};
use crate::finding::Severity;
use serde::Serialize;
use std::io::Write;

/// What `catalog check` found.
#[derive(Serialize)]
pub struct CheckReport {
    /// The folder checked, or "bundled sample catalog".
    catalog: String,
    errors: usize,
    warnings: usize,
    problems: Vec<Problem>,
}

#[derive(Serialize)]
struct Problem {
    severity: Severity,
    /// `roles.toml:12`, or the file alone.
    location: String,
    message: String,
    /// The problem as the text output prints it.
    #[serde(skip)]
    line: String,
}

/// Runs `catalog check`: the named catalog folder, else the bundled sample.
pub fn check(ctx: &Context) -> CheckReport {
    let (mut problems, name) = match ctx.catalog_dir() {
        Some(dir) => (catalog::check_catalog(dir), dir.display().to_string()),
        None => (
            catalog::check::check_sources(&catalog::load::bundled_sources()),
            "bundled sample catalog".to_string(),
        ),
    };
    // Only a push creates accounts, so only with `[alma]` is a missing create table a problem.
    if ctx.config.alma.is_some()
        && let Ok(catalog) = ctx.catalog()
    {
        problems.extend(super::push::catalog_problems(catalog));
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    CheckReport {
        catalog: name,
        errors,
        warnings: problems.len() - errors,
        problems: problems
            .iter()
            .map(|p| Problem {
                severity: p.severity,
                location: p.location.to_string(),
                message: p.message.clone(),
                line: p.to_string(),
            })
            .collect(),
    }
}

impl Report for CheckReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for p in &self.problems {
            writeln!(out, "{}", p.line)?;
        }
        writeln!(
            out,
            "{}: {}, {}",
            self.catalog,
            count(self.errors, "error", "errors"),
            count(self.warnings, "warning", "warnings")
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        if self.errors > 0 {
            Exit::Attention
        } else {
            Exit::Ok
        }
    }
}
