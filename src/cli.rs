//! The command line: parses arguments (clap), builds the real objects (catalog, transport,
//! processor) and maps outcomes to exit codes. Commands compose the library's stage
//! functions; nothing here knows about cells or rules.
//!
//! Exit codes (documented in the README): 0 everything accepted, 1 something needs
//! attention (a line rejected or waiting for approval, a file unreadable or skipped), 2 a
//! fatal or usage error (no catalog, output not writable, bad flags).

use crate::catalog::{self, Catalog};
use crate::config::{CatalogChoice, Config};
use crate::deliver::{OutboxFolder, Smtp, Transport};
use crate::intake;
use crate::process::{Processed, Processor};
use crate::read::Isolation;
use crate::state::State;
use crate::state::diff::DiffOptions;
use crate::template;
use crate::validate::SubmissionStatus;
use clap::{Parser, Subcommand};

mod push;
mod state;
mod sync;
mod watch;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Rolecall reads Alma staff-account requests (Accounts Worksheets), checks them against the
/// catalog, and answers each with a result workbook, a change set and an email.
#[derive(Debug, Parser)]
#[command(name = "rolecall", version, about, max_term_width = 100)]
struct Cli {
    /// Catalog folder, or `sample` for the bundled sample catalog [default: the sample,
    /// unless the configuration has [smtp]]
    #[arg(long, global = true, value_name = "DIR")]
    catalog: Option<PathBuf>,

    /// Configuration file (paths, SMTP); flags override it
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// The account-state database [default: rolecall.db in the data folder, beside the
    /// watcher's ledger]; `process` diffs requests against the state when there is one
    #[arg(long, global = true, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Data folder of the watcher (inbox, archive, outbox, database) [default: ./rolecall-data]
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Process submissions: files, or folders of files
    Process {
        /// Files or folders; in a folder, every file that is a submission (by content)
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// Where results go [default: ./rolecall-out]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,

        /// Print one JSON document instead of a line per file
        #[arg(long)]
        json: bool,
    },
    /// Watch the inbox folder: process every file dropped there once, and send the replies
    Watch {
        /// Process what is in the inbox, try the due mail once, and exit
        #[arg(long)]
        once: bool,
    },
    /// What the data folder holds: files per folder, mail waiting, last processed, failures
    Status {
        /// Print one JSON document
        #[arg(long)]
        json: bool,
    },
    /// List mail waiting and dead letters; `outbox retry` sends them again
    Outbox {
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// Process a submission again (after a catalog fix, say), by id or by file
    Reprocess {
        /// Submission id (e.g. 20261124-3fa9c2d41b) or a file with the same content
        #[arg(value_name = "ID|FILE")]
        target: String,

        /// Show what would change; keep nothing, send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Check the catalog and list every mistake with its file and line
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Write a blank template generated from the catalog
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// List every form field of a PDF (name, type, value)
    #[command(
        after_help = "Exit codes: 0 the fields were read; 1 the PDF's form could not be \
        read (the reason is printed on stderr: not a PDF, damaged, password-protected, no form \
        fields, XFA-only, too large); 2 usage error."
    )]
    Inspect {
        /// A PDF file
        #[arg(value_name = "FILE")]
        file: PathBuf,

        /// Print {"fields": [{"name", "type", "value"}]} as JSON
        #[arg(long)]
        json: bool,
    },
    /// The account state: what Alma holds
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Record a change set, once carried out in Alma, into the account state
    Apply {
        /// The change set (`*-changeset.json`)
        #[arg(value_name = "CHANGESET")]
        changeset: PathBuf,
        /// Print what would change, one line per operation, and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Audits of the account state
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Carry a change set into Alma (Users API): GET, merge, PUT, account by account
    Push(push::PushArgs),
    /// Write a change set as Alma Users API payloads
    Export {
        /// The change set (`*-changeset.json`)
        #[arg(value_name = "CHANGESET")]
        changeset: PathBuf,
        /// Folder for the JSON bodies and ID lists
        #[arg(long, value_name = "DIR", required = true)]
        alma: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Import Alma exports: Users API JSON, Analytics users with roles (.csv/.xlsx), Staff
    /// Login Report (.csv/.xlsx)
    Import {
        /// Export files
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Institution of rows that do not tell theirs
        #[arg(long, value_name = "CODE")]
        institution: Option<String>,
    },
    /// Refresh accounts from Alma by GET: roles with parameters, account type
    Sync(sync::SyncArgs),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Named users per institution against the allotments
    Licence {
        /// Output workbook
        #[arg(short, long, value_name = "FILE.xlsx")]
        output: PathBuf,
    },
    /// Accounts to suspend under the inactivity policy
    Inactive {
        /// The audit date (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Output folder [default: ./rolecall-out/inactive-DATE]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Send dead letters and waiting mail again, now
    Retry,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Validate the catalog files
    Check,
}

#[derive(Debug, Subcommand)]
enum TemplateCommand {
    /// The blank Accounts Worksheet (.xlsx) with drop-down lists
    Worksheet {
        /// Output file
        #[arg(short, long, value_name = "FILE.xlsx")]
        output: PathBuf,
        /// Make the worksheet for one institution: named, with only its libraries and desks
        #[arg(long, value_name = "CODE")]
        institution: Option<String>,
    },
    /// The blank Staff User Request Form (.pdf), fillable in any PDF reader
    Form {
        /// Output file
        #[arg(short, long, value_name = "FILE.pdf")]
        output: PathBuf,
        /// Make the form for one institution: filled in, with only its libraries and desks
        #[arg(long, value_name = "CODE")]
        institution: Option<String>,
    },
}

/// Exit codes, as documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    Attention = 1,
    Fatal = 2,
}

/// Runs the command line and returns the exit code.
pub fn main() -> ExitCode {
    if let Some(code) = crate::read::run_child_if_requested() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Fatal as u8
            } else {
                Exit::Ok as u8
            });
        }
    };
    match run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(message) => {
            eprintln!("rolecall: error: {message}");
            ExitCode::from(Exit::Fatal as u8)
        }
    }
}

fn run(cli: Cli) -> Result<Exit, String> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if cli.db.is_some() {
        config.state.db = cli.db.clone();
    }
    let catalog_dir = CatalogChoice::new(cli.catalog.as_deref(), &config);
    match cli.command {
        Command::Catalog {
            command: CatalogCommand::Check,
        } => check_catalog(&catalog_dir, config.alma.is_some()),
        Command::Template {
            command:
                TemplateCommand::Worksheet {
                    output,
                    institution,
                },
        } => {
            let catalog = one_institution(load_catalog(&catalog_dir)?, institution)?;
            template::write_worksheet(&catalog, &output).map_err(|e| e.to_string())?;
            println!(
                "wrote {} (catalog version {})",
                output.display(),
                catalog.version
            );
            Ok(Exit::Ok)
        }
        Command::Template {
            command:
                TemplateCommand::Form {
                    output,
                    institution,
                },
        } => {
            let catalog = one_institution(load_catalog(&catalog_dir)?, institution)?;
            template::form::write_form(&catalog, &output).map_err(|e| e.to_string())?;
            println!(
                "wrote {} (catalog version {})",
                output.display(),
                catalog.version
            );
            Ok(Exit::Ok)
        }
        Command::Inspect { file, json } => inspect(&file, json),
        Command::Watch { once } => {
            let catalog = load_catalog(&catalog_dir)?;
            let data = data_dir(&cli.data, &config);
            watch::run(&catalog, &config, &data, once)
        }
        Command::Status { json } => {
            let data = data_dir(&cli.data, &config);
            watch::status(&data, json)
        }
        Command::Outbox { command } => {
            let catalog = load_catalog(&catalog_dir)?;
            let data = data_dir(&cli.data, &config);
            watch::outbox(&catalog, &config, &data, command.is_some())
        }
        Command::Reprocess { target, dry_run } => {
            let catalog = load_catalog(&catalog_dir)?;
            let data = data_dir(&cli.data, &config);
            watch::reprocess(&catalog, &config, &data, &target, dry_run)
        }
        Command::Process { paths, out, json } => {
            let catalog = load_catalog(&catalog_dir)?;
            // On standard error, so that `--json` stays one document on standard output.
            eprintln!(
                "rolecall: checking requests against {} (version {})",
                catalog.source(),
                catalog.version
            );
            let out = out
                .or(config.out.clone())
                .unwrap_or_else(|| PathBuf::from("rolecall-out"));
            // Loose files are diffed against the account state when there is one.
            let db = db_path(&cli.data, &config);
            let state = match db.exists() || cli.db.is_some() {
                true => Some(State::open(&db).map_err(|e| e.to_string())?),
                false => None,
            };
            process(&catalog, &config, &paths, &out, json, state.as_ref())
        }
        command @ (Command::Push(_)
        | Command::State {
            command: StateCommand::Sync(_),
        }) => alma_command(command, &catalog_dir, &cli.data, &config),
        command => {
            let catalog = load_catalog(&catalog_dir)?;
            let mut state = open_state(&cli.data, &config)?;
            state::run(command, &catalog, &config, &mut state)
        }
    }
}

/// `rolecall inspect`: the form's fields on stdout, or why it cannot be read on stderr.
fn inspect(file: &Path, json: bool) -> Result<Exit, String> {
    match crate::read::form::read_form_file(file, &Isolation::child_default()) {
        Ok(form) => {
            let text = if json {
                let mut s = serde_json::to_string_pretty(&form.inspect_json())
                    .map_err(|e| e.to_string())?;
                s.push('\n');
                s
            } else {
                form.inspect_table()
            };
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(Exit::Ok)
        }
        Err(failure) => {
            eprintln!("{}: {}", file.display(), failure.message);
            Ok(Exit::Attention)
        }
    }
}

/// `push` and `state sync`: the commands that talk to Alma (`[alma]` in the configuration).
fn alma_command(
    command: Command,
    catalog_dir: &CatalogChoice,
    data: &Option<PathBuf>,
    config: &Config,
) -> Result<Exit, String> {
    let catalog = load_catalog(catalog_dir)?;
    let state = open_state(data, config)?;
    match command {
        Command::Push(args) => push::run(args, &catalog, config, &state, &data_dir(data, config)),
        Command::State {
            command: StateCommand::Sync(args),
        } => sync::run(args, &catalog, config, &state),
        _ => Err("this command does not talk to Alma".to_string()),
    }
}

/// The account state (created, with its folder, when missing).
fn open_state(data: &Option<PathBuf>, config: &Config) -> Result<State, String> {
    let db = db_path(data, config);
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    State::open(&db).map_err(|e| e.to_string())
}

/// How requests are diffed against the account state (`[state]` in the config).
fn diff_options(config: &Config) -> Result<DiffOptions, String> {
    Ok(DiffOptions {
        over_allotment: config.state.over_allotment.severity(),
    })
}

/// Where the account state is: `--db` (or `[state] db`), else `rolecall.db` in the data
/// folder, where the watcher keeps its ledger: by default one database holds both.
fn db_path(data: &Option<PathBuf>, config: &Config) -> PathBuf {
    config
        .state
        .db
        .clone()
        .unwrap_or_else(|| data_dir(data, config).join(crate::db::FILE_NAME))
}

fn data_dir(flag: &Option<PathBuf>, config: &Config) -> PathBuf {
    flag.clone()
        .or_else(|| config.data.clone())
        .unwrap_or_else(|| PathBuf::from("rolecall-data"))
}

/// The catalog as `institution` sees it (`--institution` of the templates), or all of it.
fn one_institution(catalog: Catalog, institution: Option<String>) -> Result<Catalog, String> {
    let Some(code) = institution else {
        return Ok(catalog);
    };
    catalog.for_institution(&code).ok_or_else(|| {
        let codes: Vec<&str> = catalog
            .institutions
            .iter()
            .map(|i| i.code.as_str())
            .collect();
        format!(
            "{code} is not an institution of the catalog; the codes are {}",
            codes.join(", ")
        )
    })
}

fn load_catalog(choice: &CatalogChoice) -> Result<Catalog, String> {
    match choice {
        CatalogChoice::Folder(dir) => catalog::load_catalog(dir).map_err(|e| e.to_string()),
        CatalogChoice::Sample => Ok(catalog::load::bundled()),
        CatalogChoice::Unnamed => Err(UNNAMED_CATALOG.to_string()),
    }
}

/// Why a configuration with `[smtp]` and no catalog is refused.
const UNNAMED_CATALOG: &str = "the configuration has an [smtp] section but names no catalog: \
     replies would go out checked against the bundled sample catalog, whose coordinators \
     and allotments are fiction. Add `catalog = \"FOLDER\"` to the configuration (or give \
     --catalog FOLDER); `catalog = \"sample\"` uses the sample on purpose";

fn check_catalog(choice: &CatalogChoice, alma: bool) -> Result<Exit, String> {
    let (mut problems, name) = match choice {
        CatalogChoice::Folder(dir) => (catalog::check_catalog(dir), dir.display().to_string()),
        CatalogChoice::Sample => (
            catalog::check::check_sources(&catalog::load::bundled_sources()),
            "bundled sample catalog".to_string(),
        ),
        CatalogChoice::Unnamed => return Err(UNNAMED_CATALOG.to_string()),
    };
    if alma && let Ok(catalog) = load_catalog(choice) {
        problems.extend(push::catalog_problems(&catalog));
    }
    let mut out = std::io::stdout().lock();
    for p in &problems {
        let _ = writeln!(out, "{p}");
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == crate::finding::Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    let _ = writeln!(out, "{name}: {errors} errors, {warnings} warnings");
    Ok(if errors > 0 {
        Exit::Attention
    } else {
        Exit::Ok
    })
}

/// The `process --json` document (documented in the README).
#[derive(Serialize)]
struct Report {
    submissions: Vec<Processed>,
    skipped: Vec<SkippedEntry>,
}

#[derive(Serialize)]
struct SkippedEntry {
    path: PathBuf,
    reason: String,
}

use crate::intake::SUBMISSION_EXTENSIONS;

fn process(
    catalog: &Catalog,
    config: &Config,
    paths: &[PathBuf],
    out: &Path,
    json: bool,
    state: Option<&State>,
) -> Result<Exit, String> {
    std::fs::create_dir_all(out)
        .map_err(|e| format!("cannot create the output folder {}: {e}", out.display()))?;
    let outbox_dir = out.join("outbox");
    let transport: Box<dyn Transport> = match &config.smtp {
        Some(smtp) => Box::new(Smtp::new(smtp).map_err(|e| format!("SMTP configuration: {e}"))?),
        None => Box::new(OutboxFolder::new(outbox_dir.clone())),
    };
    let from = sender(catalog, config);
    let now = now()?;
    let mut processor = Processor::new(
        catalog,
        out.to_path_buf(),
        Isolation::child_default(),
        transport.as_ref(),
        from,
        now,
    );
    if let Some(state) = state {
        processor = processor.with_state(state, diff_options(config)?);
    }

    let collected = intake::collect(paths);
    let mut report = Report {
        submissions: Vec::new(),
        skipped: Vec::new(),
    };
    let mut stdout = std::io::stdout().lock();
    let mut print = |line: String| {
        if !json {
            let _ = writeln!(stdout, "{line}");
        }
    };
    let mut todo: Vec<(PathBuf, Option<crate::document::Format>, String)> = collected
        .submissions
        .into_iter()
        .map(|(p, f)| (p, Some(f), String::new()))
        .collect();
    for skipped in collected.skipped {
        let named_like_submission = skipped
            .path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| SUBMISSION_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if named_like_submission && skipped.path.is_file() {
            todo.push((skipped.path, None, skipped.reason));
        } else {
            report.skipped.push(SkippedEntry {
                path: skipped.path,
                reason: skipped.reason,
            });
        }
    }
    // Skipped files one line each, but a folder's many text files (a catalog, scripts) as one
    // line per reason, so that the submissions stand out.
    let mut reasons: Vec<(&str, Vec<&Path>)> = Vec::new();
    for s in &report.skipped {
        match reasons.iter_mut().find(|(r, _)| *r == s.reason) {
            Some((_, paths)) => paths.push(&s.path),
            None => reasons.push((&s.reason, vec![&s.path])),
        }
    }
    for (reason, paths) in reasons {
        if paths.len() <= 2 {
            for p in paths {
                print(format!("{}: skipped ({reason})", p.display()));
            }
        } else {
            let names: Vec<String> = paths
                .iter()
                .take(3)
                .map(|p| p.display().to_string())
                .collect();
            let more = match paths.len() - names.len() {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            print(format!(
                "{} files skipped ({reason}): {}{more}",
                paths.len(),
                names.join(", ")
            ));
        }
    }
    todo.sort_by(|a, b| a.0.cmp(&b.0));

    let mut exit = Exit::Ok;
    for (path, format, reason) in todo {
        let done = match format {
            Some(format) => processor.process(&path, format),
            None => processor.process_unrecognised(&path, &reason),
        };
        print(summary_line(&done));
        if done.status != SubmissionStatus::Accepted || !done.errors.is_empty() {
            exit = Exit::Attention;
        }
        report.submissions.push(done);
    }
    if !report.skipped.is_empty() && exit == Exit::Ok && report.submissions.is_empty() {
        exit = Exit::Attention;
    }

    if json {
        let _ = serde_json::to_writer_pretty(&mut stdout, &report);
        let _ = writeln!(stdout);
    } else {
        let emails: usize = report.submissions.iter().map(|s| s.emails.len()).sum();
        let _ = writeln!(
            stdout,
            "{} submissions processed, {} skipped; results in {}, {emails} emails{}",
            report.submissions.len(),
            report.skipped.len(),
            out.display(),
            if config.smtp.is_some() {
                " sent".to_string()
            } else {
                format!(" in {}", outbox_dir.display())
            }
        );
    }
    Ok(exit)
}

/// `From` of every reply: the configured sender, else the catalog's help desk.
fn sender(catalog: &Catalog, config: &Config) -> String {
    config.mail.from.clone().unwrap_or_else(|| {
        format!(
            "{} <{}>",
            catalog.policy.help_desk_name, catalog.policy.help_desk_email
        )
    })
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

/// The current time, or `ROLECALL_NOW` (RFC 3339, e.g. `2026-11-24T09:00:00-05:00`) to
/// reproduce a run exactly.
fn now() -> Result<jiff::Zoned, String> {
    match std::env::var("ROLECALL_NOW") {
        Ok(text) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
            .map_err(|e| format!("ROLECALL_NOW={text} is not an RFC 3339 time: {e}")),
        Err(_) => Ok(jiff::Zoned::now()),
    }
}
