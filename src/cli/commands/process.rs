//! `rolecall process PATH...`: every submission among the paths through the pipeline, one
//! line each (or one `process --json` document, schema in the README and `docs/json.md`).

use crate::cli::args::ProcessArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Progress, Report, count, to_json};
use crate::document::Format;
use crate::intake::{self, SUBMISSION_EXTENSIONS};
use crate::process::{Processed, Processor};
use crate::read::Isolation;
use crate::state::State;
use crate::validate::SubmissionStatus;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The `process --json` document (documented in the README).
#[derive(Serialize)]
pub struct ProcessReport {
    submissions: Vec<Processed>,
    skipped: Vec<SkippedEntry>,
    #[serde(skip)]
    out: PathBuf,
    /// Where the emails went, in words: " sent" or " in OUTBOX".
    #[serde(skip)]
    emails_went: String,
    /// True when each line was printed as it was done: the text is then the last line.
    #[serde(skip)]
    printed: bool,
}

#[derive(Serialize)]
struct SkippedEntry {
    path: PathBuf,
    reason: crate::intake::SkipReason,
}

/// One file to answer.
enum Todo {
    /// A submission, in this format.
    Read(PathBuf, Format),
    /// Named like a submission but not one: answered with why.
    Unrecognised(PathBuf, String),
}

impl Todo {
    fn path(&self) -> &Path {
        match self {
            Todo::Read(path, _) | Todo::Unrecognised(path, _) => path,
        }
    }
}

/// Runs `process`.
pub fn run(ctx: &Context, args: ProcessArgs) -> Result<ProcessReport, CliError> {
    let catalog = ctx.catalog()?;
    // On standard error, so that `--json` stays one document on standard output.
    if !ctx.quiet {
        eprintln!(
            "rolecall: checking requests against {} (version {})",
            catalog.source(),
            catalog.version
        );
    }
    // A mistyped path is the help desk's mistake, not a file to answer: nothing is created.
    if let Some(missing) = args.paths.iter().find(|p| !p.exists()) {
        return Err(CliError::Usage(format!(
            "{}: no such file or folder; give the submissions (files or folders) to process",
            missing.display()
        )));
    }
    let out = args
        .out
        .or(ctx.config.out.clone())
        .unwrap_or_else(|| PathBuf::from("rolecall-out"));
    std::fs::create_dir_all(&out).map_err(|source| CliError::CreateDir {
        path: out.clone(),
        source,
    })?;
    let outbox = out.join("outbox");
    let transport = ctx.transport(outbox.clone())?;
    let state = loose_state(ctx)?;
    let mut processor = Processor::new(
        catalog,
        out.clone(),
        Isolation::child_default(),
        transport.as_ref(),
        ctx.sender()?,
        now()?,
    )
    .with_max_lines(ctx.config.limits.max_lines());
    if let Some(state) = &state {
        processor = processor.with_state(state, ctx.diff_options()?);
    }
    let (todo, skipped) = plan(&args.paths);
    let mut live = Progress::new(ctx);
    live.line(&state_line(state.as_ref())?);
    for line in skipped_lines(&skipped) {
        live.line(&line);
    }
    let submissions = todo
        .into_iter()
        .map(|todo| {
            let done = match todo {
                Todo::Read(path, format) => processor.process(&path, format),
                Todo::Unrecognised(path, reason) => processor.process_unrecognised(&path, &reason),
            };
            live.line(&summary_line(&done));
            done
        })
        .collect();
    Ok(ProcessReport {
        submissions,
        skipped,
        printed: live.printed(),
        out,
        emails_went: match ctx.config.smtp {
            Some(_) => " sent".to_string(),
            None => format!(" in {}", outbox.display()),
        },
    })
}

/// The account state `process` diffs against: only one that was asked for, so that the
/// results never depend on the folder it runs from. `--db` or `[state] db`; else the
/// database of a data folder that is named (`--data`, `ROLECALL_DATA`, `data =`), when it
/// exists; else none (`./rolecall-data` is not looked at).
fn loose_state(ctx: &Context) -> Result<Option<State>, CliError> {
    let db = ctx.db_path();
    Ok(match ctx.db_named() || (ctx.data_named() && db.exists()) {
        true => Some(State::open(&db)?),
        false => None,
    })
}

/// The first line of `process`: which account state it compares with, or that it uses none.
fn state_line(state: Option<&State>) -> Result<String, CliError> {
    Ok(match state {
        None => format!("account state: {}", crate::changeset::state_words(None)),
        Some(s) => match s.reference()? {
            r if r.version == 0 => {
                format!("account state: {r}: nothing imported or applied yet, so not compared")
            }
            r => format!("account state: {r}"),
        },
    })
}

/// What to answer, sorted by path, and what to skip: a file named like a submission is
/// answered even when it is not one, so that its sender learns why.
fn plan(paths: &[PathBuf]) -> (Vec<Todo>, Vec<SkippedEntry>) {
    let collected = intake::collect(paths);
    let mut todo: Vec<Todo> = collected
        .submissions
        .into_iter()
        .map(|(p, f)| Todo::Read(p, f))
        .collect();
    let mut skipped = Vec::new();
    for s in collected.skipped {
        let named_like_submission = s
            .path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SUBMISSION_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if named_like_submission && s.path.is_file() {
            todo.push(Todo::Unrecognised(s.path, s.reason.to_string()));
        } else {
            skipped.push(SkippedEntry {
                path: s.path,
                reason: s.reason,
            });
        }
    }
    todo.sort_by(|a, b| a.path().cmp(b.path()));
    (todo, skipped)
}

impl Report for ProcessReport {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if !self.printed {
            for line in skipped_lines(&self.skipped) {
                writeln!(out, "{line}")?;
            }
            for s in &self.submissions {
                writeln!(out, "{}", summary_line(s))?;
            }
        }
        let emails: usize = self.submissions.iter().map(|s| s.emails.len()).sum();
        writeln!(
            out,
            "{} processed, {} skipped; results in {}, {}{}",
            count(self.submissions.len(), "submission", "submissions"),
            self.skipped.len(),
            self.out.display(),
            count(emails, "email", "emails"),
            self.emails_went
        )
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, self)
    }

    fn exit(&self) -> Exit {
        let attention = self
            .submissions
            .iter()
            .any(|d| d.status != SubmissionStatus::Accepted || !d.errors.is_empty());
        if attention || (self.submissions.is_empty() && !self.skipped.is_empty()) {
            Exit::Attention
        } else {
            Exit::Ok
        }
    }
}

/// Skipped files one line each, but a folder's many text files (a catalog, scripts) as one
/// line per reason, so that the submissions stand out.
fn skipped_lines(skipped: &[SkippedEntry]) -> Vec<String> {
    let mut reasons: Vec<(&crate::intake::SkipReason, Vec<&Path>)> = Vec::new();
    for s in skipped {
        match reasons.iter_mut().find(|(r, _)| **r == s.reason) {
            Some((_, paths)) => paths.push(&s.path),
            None => reasons.push((&s.reason, vec![&s.path])),
        }
    }
    let mut lines = Vec::new();
    for (reason, paths) in reasons {
        if paths.len() <= 2 {
            for p in paths {
                lines.push(format!("{}: skipped ({reason})", p.display()));
            }
            continue;
        }
        let names: Vec<String> = paths
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        let more = match paths.len() - names.len() {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        lines.push(format!(
            "{} files skipped ({reason}): {}{more}",
            paths.len(),
            names.join(", ")
        ));
    }
    lines
}

fn summary_line(p: &Processed) -> String {
    let mut line = format!(
        "{}: {} ({} accepted, {} need approval, {} rejected)",
        p.source.display(),
        p.status.words(),
        p.accepted,
        p.needs_approval,
        p.rejected
    );
    if p.not_read > 0 {
        line.insert_str(line.len() - 1, &format!(", {} not read", p.not_read));
    }
    if let Some(wb) = &p.workbook {
        line.push_str(&format!(" -> {}", wb.display()));
    }
    for e in &p.errors {
        line.push_str(&format!("\n  error: {e}"));
    }
    line
}
