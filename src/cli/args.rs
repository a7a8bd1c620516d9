//! The command line as clap sees it: flags and subcommands, and nothing else (the first of
//! the two stages, like ripgrep's `lowargs`). Nothing here opens a file or reads the
//! configuration; [`super::context::Context`] turns these values into real objects.
//!
//! A new command is a variant of [`Command`] with its `Args` struct here, a file in
//! `src/cli/commands/`, and one arm in the `match` of [`super::run`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Rolecall reads Alma staff-account requests (Accounts Worksheets), checks them against the
/// catalog, and answers each with a result workbook, a change set and an email.
#[derive(Debug, Parser)]
#[command(name = "rolecall", version, about, max_term_width = 100)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes: where things are, and how to print.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Catalog folder, or `sample` for the bundled sample catalog [default: the sample,
    /// unless the configuration has [smtp]]
    #[arg(long, global = true, value_name = "DIR", env = "ROLECALL_CATALOG")]
    pub catalog: Option<PathBuf>,

    /// Configuration file (paths, SMTP); flags override it [default: rolecall.toml in the
    /// data folder, when --data or ROLECALL_DATA names one that holds it]
    #[arg(long, global = true, value_name = "FILE", env = "ROLECALL_CONFIG")]
    pub config: Option<PathBuf>,

    /// The account-state database [default: rolecall.db in the data folder, beside the
    /// watcher's ledger]; `process` diffs requests against the state when there is one
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,

    /// Data folder of the watcher (inbox, archive, outbox, database) [default: ./rolecall-data]
    #[arg(long, global = true, value_name = "DIR", env = "ROLECALL_DATA")]
    pub data: Option<PathBuf>,

    /// Print one JSON document instead of text (schemas: docs/json.md)
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors (the exit code says how it went)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Log more: -v debug, -vv trace (ROLECALL_LOG overrides)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour in logs: auto (a terminal, and NO_COLOR unset), always or never
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: Color,
}

/// When logs are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process submissions: files, or folders of files
    Process(ProcessArgs),
    /// Watch the inbox folder: process every file dropped there once, and send the replies
    Watch(WatchArgs),
    /// What the data folder holds: files per folder, mail waiting, last processed, failures
    Status,
    /// List mail waiting and dead letters; `outbox retry` sends them again
    Outbox {
        /// `retry`, or nothing to list.
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// Process a submission again (after a catalog fix, say), by id or by file
    Reprocess(ReprocessArgs),
    /// Check the catalog and list every mistake with its file and line
    Catalog {
        /// `check`.
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Write a blank template generated from the catalog
    Template {
        /// `worksheet` or `form`.
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// List every form field of a PDF (name, type, value)
    #[command(
        after_help = "Exit codes: 0 the fields were read; 1 the PDF's form could not be \
        read (the reason is printed on stderr: not a PDF, damaged, password-protected, no form \
        fields, XFA-only, too large); 2 usage error."
    )]
    Inspect(InspectArgs),
    /// The account state: what Alma holds
    State {
        /// `import`.
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Record a change set, once carried out in Alma, into the account state
    Apply(ApplyArgs),
    /// Carry a change set into Alma (Users API): GET, merge, PUT, account by account
    Push(PushArgs),
    /// Approve a submission's lines that wait for approval (all, or those of --line)
    Approve(DecisionArgs),
    /// Deny a submission's lines that wait for approval: they are never pushed
    Deny(DenyArgs),
    /// What waits on the help desk, per institution and oldest first
    Queue(QueueArgs),
    /// Audits of the account state
    Audit {
        /// `licence` or `inactive`.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a change set as Alma Users API payloads
    Export(ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the manual page (roff), for `man -l -` or a man folder
    Man(ManArgs),
}

/// `rolecall process`.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Files or folders; in a folder, every file that is a submission (by content)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Where results go [default: ./rolecall-out]
    #[arg(short, long, value_name = "DIR", alias = "output")]
    pub out: Option<PathBuf>,

    /// Submissions processed at once [default: four per core]; the outputs are the same
    /// whatever the number
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// `rolecall watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Process what is in the inbox, try the due mail once, and exit
    #[arg(long)]
    pub once: bool,
}

/// `rolecall reprocess`.
#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// Submission id (e.g. 20261124-3fa9c2d41b) or a file with the same content
    #[arg(value_name = "ID|FILE")]
    pub target: String,

    /// Show what would change; keep nothing, send nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// The lines of a submission that `approve` and `deny` decide on, and who decides.
#[derive(Debug, Args)]
pub struct Chosen {
    /// Submission id (e.g. 20261124-3fa9c2d41b)
    #[arg(value_name = "ID")]
    pub submission: String,
    /// A request line, as the change set writes it (`Accounts!9:9`), `Accounts!9` or its
    /// row (`9`); repeat for several. Without it, every line that waits
    #[arg(long = "line", value_name = "LINE")]
    pub lines: Vec<String>,
    /// Who decides (name or email); never the requester, to approve
    #[arg(long, value_name = "NAME")]
    pub by: String,
}

/// `rolecall approve`.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The submission, its lines, who approves.
    #[command(flatten)]
    pub chosen: Chosen,
    /// Why; required to approve a separation-of-duties exception
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// `rolecall deny`.
#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The submission, its lines, who denies.
    #[command(flatten)]
    pub chosen: Chosen,
    /// Why: the requester is told
    #[arg(long, value_name = "TEXT")]
    pub note: String,
}

/// `rolecall queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Only this institution (its code, e.g. 01FALSC_GCSU)
    #[arg(long, value_name = "CODE")]
    pub institution: Option<String>,
}

/// `rolecall inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A PDF file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `rolecall apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The change set (`*-changeset.json`)
    #[arg(value_name = "CHANGESET")]
    pub changeset: PathBuf,
    /// Print what would change, one line per operation, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `rolecall push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// A change set (`*-changeset.json`), or the id of a submission the watcher processed
    #[arg(value_name = "CHANGESET|SUBMISSION_ID")]
    pub target: String,
    /// Do the GETs and print each account's role changes; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the operations to the roles Alma holds now, even where they differ from the state
    #[arg(long)]
    pub rebase: bool,
}

/// `rolecall export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The change set (`*-changeset.json`)
    #[arg(value_name = "CHANGESET")]
    pub changeset: PathBuf,
    /// Folder for the JSON bodies and ID lists
    #[arg(short, long, value_name = "DIR", required = true, alias = "alma")]
    pub out: PathBuf,
}

/// `rolecall completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `rolecall man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// One command's page (`rolecall-process(1)`) instead of the main one
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// `rolecall state ...`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Import Alma exports: Users API JSON, Analytics users with roles (.csv/.xlsx), Staff
    /// Login Report (.csv/.xlsx)
    Import(ImportArgs),
    /// Refresh accounts from Alma by GET: roles with parameters, account type
    Sync(SyncArgs),
}

/// `rolecall state sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this institution's accounts (and the institution of IDs the state does not hold)
    #[arg(long, value_name = "CODE")]
    pub institution: Option<String>,
    /// Only these primary IDs [default: every account the state holds]
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
}

/// `rolecall state import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Export files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Institution of rows that do not tell theirs
    #[arg(long, value_name = "CODE")]
    pub institution: Option<String>,
}

/// `rolecall audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Named users per institution against the allotments
    Licence {
        /// Output workbook
        #[arg(short, long, value_name = "FILE.xlsx", alias = "output")]
        out: PathBuf,
    },
    /// Accounts to suspend under the inactivity policy
    Inactive {
        /// The audit date (YYYY-MM-DD)
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Output folder [default: ./rolecall-out/inactive-DATE]
        #[arg(short, long, value_name = "DIR", alias = "output")]
        out: Option<PathBuf>,
    },
}

/// `rolecall outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Send dead letters and waiting mail again, now
    Retry,
}

/// `rolecall catalog ...`.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Validate the catalog files
    Check,
}

/// `rolecall template ...`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// The blank Accounts Worksheet (.xlsx) with drop-down lists
    Worksheet(TemplateArgs),
    /// The blank Staff User Request Form (.pdf), fillable in any PDF reader
    Form(TemplateArgs),
}

/// `rolecall template worksheet|form`.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// Output file
    #[arg(short, long, value_name = "FILE", alias = "output")]
    pub out: PathBuf,
    /// Make it for one institution: named, with only its libraries and desks
    #[arg(long, value_name = "CODE")]
    pub institution: Option<String>,
}
