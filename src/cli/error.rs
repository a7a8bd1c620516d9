//! Why a command could not run at all: one typed error for the edge, each variant carrying
//! what it was doing and the typed cause from below. Every one ends the run with exit code 2;
//! a per-item problem (one bad file, one notice not sent) is a row of a command's report
//! instead, and the run goes on.

use std::path::PathBuf;

/// A fatal or usage error of one command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What was asked cannot be done as asked (a path that does not exist, a data folder
    /// that is not one, an unknown institution); the message says what to do instead.
    #[error("{0}")]
    Usage(String),
    /// The configuration file cannot be read or has mistakes.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The catalog cannot be loaded.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// The account state cannot be read or changed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// An inactivity audit cannot be made as asked (an `--as-of` before a change recorded).
    #[error(transparent)]
    Audit(#[from] crate::state::inactive::AuditError),
    /// The data folder's database cannot be opened.
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    /// The ledger of the data folder cannot be read.
    #[error("the ledger cannot be read: {0}")]
    Ledger(#[from] rusqlite::Error),
    /// The data folder, its ledger or the watcher failed.
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    /// The SMTP settings cannot work.
    #[error("SMTP configuration: {0}")]
    Smtp(crate::deliver::DeliverError),
    /// A folder for the results cannot be made.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A result file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A workbook cannot be built.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A workbook of an audit cannot be built.
    #[error("cannot build the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// The blank PDF form cannot be written.
    #[error(transparent)]
    Form(#[from] crate::template::form::FormTemplateError),
    /// A file given as a change set is not one this Rolecall reads.
    #[error("{} {problem}", path.display())]
    ChangeSet {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// `ROLECALL_NOW` is set but is not a time.
    #[error("ROLECALL_NOW={text} is not an RFC 3339 time: {source}")]
    Clock {
        /// The variable's value.
        text: String,
        /// The parser's error.
        source: jiff::Error,
    },
    /// The signal handlers of `watch` cannot be installed.
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    /// `reprocess` found nothing to do, or failed; its message is in the desk's words.
    #[error("{0}")]
    Reprocess(String),
    /// The request lifecycle (approvals, the queue, a submission's push) failed.
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    /// The report cannot be printed as JSON (a bug, not a user's mistake).
    #[error("cannot print the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<crate::changeset::ReadError> for CliError {
    fn from(e: crate::changeset::ReadError) -> CliError {
        match e {
            crate::changeset::ReadError::Io { path, source } => CliError::Read { path, source },
            crate::changeset::ReadError::Invalid { path, problem } => {
                CliError::ChangeSet { path, problem }
            }
        }
    }
}
