//! Configuration: a TOML file (`--config FILE`) for paths and mail; flags override it.
//!
//! Everything has a default, so Rolecall runs with no file at all: the bundled sample
//! catalog, `./rolecall-out`, and email written to the outbox folder. See `docs/config.md`.

use crate::deliver::SmtpConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The configuration file's contents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Catalog folder (relative paths are taken from the config file's folder).
    pub catalog: Option<PathBuf>,
    /// Output folder for `process`.
    pub out: Option<PathBuf>,
    /// Mail settings.
    #[serde(default)]
    pub mail: MailConfig,
    /// SMTP server; without it, email is written to the outbox folder.
    pub smtp: Option<SmtpConfig>,
    /// Account state settings.
    #[serde(default)]
    pub state: StateConfig,
}

/// `[state]`: the account state database and how the diff treats licences.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The database file; `process` diffs against it when set (or with `--db`).
    pub db: Option<PathBuf>,
    /// `"refuse"` (default) or `"warn"`: what a request past the named-user allotment gets.
    pub over_allotment: Option<String>,
}

/// Mail settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Sender of replies, e.g. `Help Desk <help@consortium.example.org>`; default: the
    /// catalog's help desk address.
    pub from: Option<String>,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads a configuration file; relative paths in it become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: e.message().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut config.catalog, &mut config.out, &mut config.state.db]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(config)
    }
}
