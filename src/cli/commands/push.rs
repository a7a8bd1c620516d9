//! `rolecall push CHANGESET|SUBMISSION_ID [--dry-run] [--rebase]`: carries a change set into
//! Alma ([`crate::alma::push`]) and reports per run, one line per account and a count per
//! outcome. Exit 0 when every account is done, 1 when one was refused, failed or left
//! pending, 2 when nothing could be tried (no `[alma]`, no change set).

use crate::alma::AlmaConfig;
use crate::alma::push::{Options, Outcome, PushReport, push};
use crate::catalog::{Catalog, CatalogProblem};
use crate::cli::args::PushArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
use crate::config::Config;
use crate::lifecycle::push::{push_submission, submission_changeset, without_unapproved};
use std::io::Write;

/// Runs `push`: a submission id goes through the lifecycle (only what may go to Alma now);
/// a change set file is pushed without the operations that need approval.
pub fn run(ctx: &Context, args: PushArgs) -> Result<PushReport, CliError> {
    let alma = alma_config(&ctx.config)?;
    let data = ctx.data_dir();
    let (path, submission) = submission_changeset(&args.target, &data)?;
    let state = super::state::open(ctx)?;
    let opts = Options {
        dry_run: args.dry_run,
        rebase: args.rebase,
        expect_environment: alma.expect_environment,
    };
    let make = |inst: &str| alma.client(inst);
    let stamp = now()?.timestamp().to_string();
    if let Some(id) = submission {
        let catalog = ctx.catalog()?;
        return Ok(push_submission(
            &data, &state, &id, catalog, &make, &opts, &stamp,
        )?);
    }
    let cs = super::state::read_changeset(&path)?;
    let (sendable, held) = without_unapproved(&cs);
    let mut report = push(&state, &sendable, ctx.catalog()?, &make, &opts, &stamp)?;
    report.not_pushed = held;
    Ok(report)
}

/// With `[alma]` configured, `catalog check` also reports each institution the push cannot
/// create accounts at (no `[institution.create]`), at the line of its code.
pub fn catalog_problems(catalog: &Catalog) -> Vec<CatalogProblem> {
    let file = crate::catalog::load::INSTITUTIONS_FILE;
    let text = std::fs::read_to_string(catalog.dir.join(file)).unwrap_or_default();
    catalog
        .institutions
        .iter()
        .filter(|i| i.create.is_none())
        .map(|i| {
            let quoted = format!("\"{}\"", i.code);
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with("code") && l.contains(&quoted))
                .map_or(1, |n| n + 1);
            CatalogProblem::warning(
                file,
                line,
                format!(
                    "institution {} has no [institution.create] defaults (user_group, ...): \
                     `rolecall push` cannot create accounts there",
                    i.code
                ),
            )
        })
        .collect()
}

/// The `[alma]` section, with a usable base URL: without it nothing can be tried.
pub fn alma_config(config: &Config) -> Result<&AlmaConfig, CliError> {
    let alma = config.alma.as_ref().ok_or_else(|| {
        CliError::Usage(
            "no [alma] section in the configuration: see `Pushing to Alma` in the README"
                .to_string(),
        )
    })?;
    alma.base().map_err(CliError::Usage)?;
    Ok(alma)
}

impl Report for PushReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for a in &self.accounts {
            writeln!(
                out,
                "{} {}: {}",
                a.institution,
                a.primary_id,
                words(a.outcome)
            )?;
            for line in a.changes.iter().chain(&a.reasons) {
                writeln!(out, "  {line}")?;
            }
        }
        for n in &self.not_pushed {
            writeln!(
                out,
                "{} {}: {} ({}): {}",
                n.institution,
                n.primary_id,
                n.operation,
                n.lines.join(", "),
                n.why
            )?;
        }
        let counts: Vec<String> = [
            Outcome::Changed,
            Outcome::WouldChange,
            Outcome::Unchanged,
            Outcome::AlreadyDone,
            Outcome::Refused,
            Outcome::Failed,
            Outcome::Pending,
        ]
        .iter()
        .map(|o| format!("{} {}", self.count(*o), words(*o)))
        .collect();
        let dry = if self.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        writeln!(out, "{}: {}{dry}", self.submission_id, counts.join(", "))
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        if self.needs_attention() {
            Exit::Attention
        } else {
            Exit::Ok
        }
    }
}

fn words(o: Outcome) -> &'static str {
    match o {
        Outcome::Changed => "changed",
        Outcome::WouldChange => "would change",
        Outcome::Unchanged => "unchanged",
        Outcome::AlreadyDone => "done earlier",
        Outcome::Refused => "refused (changed in Alma)",
        Outcome::Failed => "failed",
        Outcome::Pending => "pending",
    }
}
