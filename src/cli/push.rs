//! `rolecall push CHANGESET|SUBMISSION_ID [--dry-run] [--rebase] [--json]`: carries a change
//! set into Alma ([`crate::alma::push`]) and prints a report per run, one line per account
//! and a count per outcome. Exit 0 when every account is done, 1 when one was refused,
//! failed or left pending, 2 when nothing could be tried (no `[alma]`, no change set).

use super::{Exit, now};
use crate::alma::AlmaConfig;
use crate::alma::push::{Options, Outcome, PushReport, push};
use crate::catalog::Catalog;
use crate::changeset::ChangeSet;
use crate::config::Config;
use crate::state::State;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The arguments of `rolecall push`.
#[derive(Debug, clap::Args)]
pub(super) struct PushArgs {
    /// A change set (`*-changeset.json`), or the id of a submission the watcher processed
    #[arg(value_name = "CHANGESET|SUBMISSION_ID")]
    target: String,
    /// Do the GETs and print each account's role changes; write nothing
    #[arg(long)]
    dry_run: bool,
    /// Apply the operations to the roles Alma holds now, even where they differ from the state
    #[arg(long)]
    rebase: bool,
    /// Print the report as one JSON document
    #[arg(long)]
    json: bool,
}

/// The change set a push target names: a file, else a submission id of the ledger in `data`
/// (its newest change set: that of the last `reprocess`, if any).
fn changeset_path(target: &str, data: &Path) -> Result<PathBuf, String> {
    let path = PathBuf::from(target);
    if path.is_file() {
        return Ok(path);
    }
    let ledger = crate::ledger::Ledger::open(data).map_err(|e| e.to_string())?;
    let s = ledger
        .by_id(target)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "{target} is neither a change set file nor a submission id in {}",
                data.display()
            )
        })?;
    let folder = data.join(
        s.folder
            .ok_or_else(|| format!("{target} has no outputs yet"))?,
    );
    let stem = Path::new(&s.file_name)
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{stem}-changeset.json");
    let newest = (1..)
        .map(|n| folder.join(format!("reprocess-{n}")).join(&name))
        .take_while(|p| p.is_file())
        .last();
    let path = newest.unwrap_or_else(|| folder.join(&name));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{target}: no change set at {}", path.display()))
    }
}

/// With `[alma]` configured, `catalog check` also reports each institution the push cannot
/// create accounts at (no `[institution.create]`), at the line of its code.
pub(super) fn catalog_problems(catalog: &Catalog) -> Vec<crate::catalog::CatalogProblem> {
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
            crate::catalog::CatalogProblem::warning(
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
pub(super) fn alma_config(config: &Config) -> Result<&AlmaConfig, String> {
    let alma = config
        .alma
        .as_ref()
        .ok_or("no [alma] section in the configuration: see `Pushing to Alma` in the README")?;
    alma.base()?;
    Ok(alma)
}

pub(super) fn run(
    args: PushArgs,
    catalog: &Catalog,
    config: &Config,
    state: &State,
    data: &Path,
) -> Result<Exit, String> {
    let alma = alma_config(config)?;
    let path = changeset_path(&args.target, data)?;
    let cs: ChangeSet = super::state::read_changeset(&path)?;
    let opts = Options {
        dry_run: args.dry_run,
        rebase: args.rebase,
        expect_environment: alma.expect_environment,
    };
    let make = |inst: &str| alma.client(inst);
    let stamp = now()?.timestamp().to_string();
    let report = push(state, &cs, catalog, &make, &opts, &stamp).map_err(|e| e.to_string())?;
    print(&report, args.json);
    Ok(if report.needs_attention() {
        Exit::Attention
    } else {
        Exit::Ok
    })
}

fn print(report: &PushReport, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let _ = serde_json::to_writer_pretty(&mut out, report);
        let _ = writeln!(out);
        return;
    }
    for a in &report.accounts {
        let _ = writeln!(
            out,
            "{} {}: {}",
            a.institution,
            a.primary_id,
            words(a.outcome)
        );
        for c in &a.changes {
            let _ = writeln!(out, "  {c}");
        }
        for r in &a.reasons {
            let _ = writeln!(out, "  {r}");
        }
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
    .map(|o| format!("{} {}", report.count(*o), words(*o)))
    .collect();
    let _ = writeln!(
        out,
        "{}: {}{}",
        report.submission_id,
        counts.join(", "),
        if report.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
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
