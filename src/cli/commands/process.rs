//! `rolecall process PATH...`: every submission among the paths through the pipeline, one
//! line each (or one `process --json` document, schema in the README and `docs/json.md`).

use crate::catalog::Catalog;
use crate::cli::args::ProcessArgs;
use crate::cli::context::{Context, now};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Progress, Report, count, to_json};
use crate::deliver::{DeliverError, Delivery, Mail, Transport};
use crate::document::Format;
use crate::fsx::{Batch, hash_file};
use crate::intake::{self, SUBMISSION_EXTENSIONS};
use crate::parallel::{self, TurnGuard, Turns};
use crate::process::{FolderNames, Placement, Processed, Processor};
use crate::read::Isolation;
use crate::state::State;
use crate::state::diff::DiffOptions;
use crate::validate::SubmissionStatus;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    let (todo, skipped) = plan(&args.paths);
    let mut live = Progress::new(ctx);
    live.line(&state_line(state.as_ref())?);
    for line in skipped_lines(&skipped) {
        live.line(&line);
    }
    let jobs = args.jobs.map_or_else(parallel::process_jobs, usize::from);
    let run = Run {
        catalog,
        out: &out,
        transport: transport.as_ref(),
        from: ctx.sender()?,
        now: now()?,
        diff: ctx.diff_options()?,
        isolation: Isolation::child_default(),
        max_lines: ctx.config.limits.max_lines(),
        kit: std::sync::Arc::new(crate::report::Kit::new(catalog)),
    };
    let states = Mutex::new(states(state, jobs.min(todo.len()))?);
    let todo = placed(todo, &out);
    let turns = Turns::new(todo.len());
    let mut submissions = Vec::with_capacity(todo.len());
    parallel::ordered(
        todo,
        jobs,
        || {
            states
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .flatten()
        },
        |state, i, (todo, folder)| run.one(state.as_ref(), (&turns, i), todo, folder),
        |done| {
            live.line(&summary_line(&done));
            submissions.push(done);
        },
    );
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

/// What every submission of one run shares; each thread makes its own [`Processor`] from
/// it (and has its own connection to the account state).
struct Run<'a> {
    catalog: &'a Catalog,
    out: &'a Path,
    transport: &'a (dyn Transport + Sync),
    from: String,
    now: jiff::Zoned,
    diff: DiffOptions,
    isolation: Isolation,
    /// `[limits] max_lines`.
    max_lines: usize,
    /// The result workbook's fixed parts, built once for every thread's processor.
    kit: std::sync::Arc<crate::report::Kit>,
}

impl Run<'_> {
    /// One submission, in its folder. The reply is written in its turn: the outbox names a
    /// reply after its submission id (`-2` for the second of the same id), so replies of
    /// the same content go out in input order, as in a serial run.
    fn one(
        &self,
        state: Option<&State>,
        (turns, i): (&Turns<String>, usize),
        todo: Todo,
        folder: PathBuf,
    ) -> Processed {
        let _turn = TurnGuard::new(turns, i);
        let path = todo.path().to_path_buf();
        let sha256 = hash_file(&path).ok();
        let hash = sha256.clone().unwrap_or_else(|| intake::sha256_hex(&[]));
        let id = intake::submission_id(self.now.date(), &hash);
        turns.declare(i, Some(id.clone()));
        let transport = InTurn {
            inner: self.transport,
            turns,
            index: i,
            key: id.clone(),
        };
        let mut processor = Processor::new(
            self.catalog,
            self.out.to_path_buf(),
            self.isolation.clone(),
            &transport,
            self.from.clone(),
            self.now.clone(),
        )
        .with_max_lines(self.max_lines)
        .with_kit(std::sync::Arc::clone(&self.kit));
        if let Some(state) = state {
            processor = processor.with_state(state, self.diff);
        }
        let placement = Placement {
            folder,
            submission_id: id,
            file_name: file_name(&path),
            // Given to `process_hashed` beside it.
            sha256: None,
        };
        let format = match &todo {
            Todo::Read(_, format) => Ok(*format),
            Todo::Unrecognised(_, reason) => Err(reason.as_str()),
        };
        processor.process_hashed(&path, format, &placement, sha256)
    }
}

/// A transport that waits for the submission's turn ([`Turns`]) before it sends.
struct InTurn<'t> {
    inner: &'t (dyn Transport + Sync),
    turns: &'t Turns<String>,
    index: usize,
    key: String,
}

impl Transport for InTurn<'_> {
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError> {
        self.turns.wait(self.index, &self.key);
        let sent = self.inner.send(mail);
        self.turns.done(self.index);
        sent
    }

    fn hands_over(&self) -> bool {
        self.inner.hands_over()
    }

    /// In its turn too: an outbox file takes its name (the order-dependent part) in there.
    fn send_in(&self, mail: &Mail, batch: &mut Batch) -> Result<Delivery, DeliverError> {
        self.turns.wait(self.index, &self.key);
        let sent = self.inner.send_in(mail, batch);
        self.turns.done(self.index);
        sent
    }
}

/// Each submission's folder, named in input order (a second `book.xlsx` is `book-xlsx-2`
/// whichever finishes first).
fn placed(todo: Vec<Todo>, out: &Path) -> Vec<(Todo, PathBuf)> {
    let mut names = FolderNames::default();
    todo.into_iter()
        .map(|t| {
            let folder = out.join(names.next(&file_name(t.path())));
            (t, folder)
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One connection to the account state per thread (the one already open, and `threads - 1`
/// more): a SQLite connection is never shared between threads.
fn states(state: Option<State>, threads: usize) -> Result<Vec<Option<State>>, CliError> {
    let Some(first) = state else {
        return Ok((0..threads.max(1)).map(|_| None).collect());
    };
    let mut all = Vec::with_capacity(threads.max(1));
    for _ in 1..threads {
        all.push(Some(State::open(first.path())?));
    }
    all.push(Some(first));
    Ok(all)
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
