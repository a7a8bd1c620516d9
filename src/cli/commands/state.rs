//! What the account-state commands share: opening the state (the database is made on first
//! use, in the data folder unless `--db` says otherwise) and reading a change set file.

use crate::changeset::{self, ChangeSet};
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::state::State;
use std::path::Path;

/// Opens the account state, making its folder and database when there is none yet.
pub(super) fn open(ctx: &Context) -> Result<State, CliError> {
    let db = ctx.db_path();
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CliError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(State::open(&db)?)
}

/// Reads a change set written by `process` (or by an audit), of the schema this Rolecall
/// reads.
pub(super) fn read_changeset(path: &Path) -> Result<ChangeSet, CliError> {
    changeset::read(path).map_err(CliError::from)
}
