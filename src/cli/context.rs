//! The second stage of the command line (like ripgrep's `hiargs`): the parsed flags, the
//! environment and the configuration file resolved once into one [`Context`], which every
//! command is given. It owns the configuration, loads the catalog once (on first use: `catalog
//! check`, `status`, `inspect` never need it), and knows where the data folder, the account
//! state and the results are. The one logging set-up for every command is here too.

use super::args::{Color, GlobalArgs};
use super::error::CliError;
use crate::catalog::{self, Catalog};
use crate::config::CatalogChoice;
use crate::config::Config;
use crate::deliver::{OutboxFolder, Smtp, Transport};
use crate::state::diff::DiffOptions;
use std::cell::OnceCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The data folder when neither a flag, `ROLECALL_DATA` nor the configuration names one.
const DEFAULT_DATA: &str = "rolecall-data";

/// Why a configuration with `[smtp]` and no catalog is refused.
const UNNAMED_CATALOG: &str = "the configuration has an [smtp] section but names no catalog: \
     replies would go out checked against the bundled sample catalog, whose coordinators \
     and allotments are fiction. Add `catalog = \"FOLDER\"` to the configuration (or give \
     --catalog FOLDER); `catalog = \"sample\"` uses the sample on purpose";

/// Everything a command needs from the flags, the environment and the configuration.
pub struct Context {
    /// The configuration (a default one when there is no file).
    pub config: Config,
    /// `--json`: print one JSON document.
    pub json: bool,
    /// `-q`: print nothing but errors.
    pub quiet: bool,
    catalog_choice: CatalogChoice,
    catalog: OnceCell<Catalog>,
    data: Option<PathBuf>,
}

impl Context {
    /// Resolves the global flags: `--config` (or `ROLECALL_CONFIG`, or `rolecall.toml` in
    /// the data folder), then the flags over the file's values.
    pub fn new(global: &GlobalArgs) -> Result<Context, CliError> {
        let mut config = Config::find(global.config.as_deref(), global.data.as_deref())?;
        if global.db.is_some() {
            config.state.db = global.db.clone();
        }
        let catalog_choice = CatalogChoice::new(global.catalog.as_deref(), &config);
        let data = global.data.clone().or_else(|| config.data.clone());
        // The reader pools are process-wide: their size and recycling are set here, once,
        // before any command reads a file.
        crate::read::isolate::pool::configure(config.limits.recycling());
        // So is how outputs are flushed (`[output] flush`): every write follows it.
        crate::fsx::set_flush(config.output.flush);
        Ok(Context {
            config,
            json: global.json,
            quiet: global.quiet,
            catalog_choice,
            catalog: OnceCell::new(),
            data,
        })
    }

    /// The catalog folder, when one is named (else the bundled sample is used).
    pub fn catalog_dir(&self) -> Option<&Path> {
        match &self.catalog_choice {
            CatalogChoice::Folder(dir) => Some(dir),
            CatalogChoice::Sample | CatalogChoice::Unnamed => None,
        }
    }

    /// The catalog, loaded on first use and kept for the rest of the run.
    pub fn catalog(&self) -> Result<&Catalog, CliError> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let loaded = match &self.catalog_choice {
            CatalogChoice::Folder(dir) => catalog::load_catalog(dir)?,
            CatalogChoice::Sample => catalog::load::bundled(),
            CatalogChoice::Unnamed => return Err(CliError::Usage(UNNAMED_CATALOG.to_string())),
        };
        Ok(self.catalog.get_or_init(|| loaded))
    }

    /// The data folder: `--data`, `ROLECALL_DATA`, the configuration's `data`, else
    /// `./rolecall-data`.
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
    }

    /// The data folder of a command that reads one (`status`, `outbox`, `reprocess`): a
    /// folder that is not one is a usage error, and nothing is created.
    pub fn existing_data_dir(&self) -> Result<PathBuf, CliError> {
        let data = self.data_dir();
        if data.join(crate::db::FILE_NAME).is_file() {
            return Ok(data);
        }
        let named = if self.data.is_some() {
            String::new()
        } else {
            " (no --data given, nor ROLECALL_DATA)".to_string()
        };
        Err(CliError::Usage(format!(
            "{} is not a data folder{named}: it has no {}. Name the watcher's data folder with \
             --data DIR, or start one with `rolecall watch --data DIR`.",
            data.display(),
            crate::db::FILE_NAME,
        )))
    }

    /// Where the account state is: `--db` (or `[state] db`), else `rolecall.db` in the data
    /// folder, where the watcher keeps its ledger: by default one database holds both.
    pub fn db_path(&self) -> PathBuf {
        self.db_in(&self.data_dir())
    }

    /// The account state of the data folder `data`, unless `--db` puts it elsewhere.
    pub fn db_in(&self, data: &Path) -> PathBuf {
        self.config
            .state
            .db
            .clone()
            .unwrap_or_else(|| data.join(crate::db::FILE_NAME))
    }

    /// True when a data folder is named (`--data`, `ROLECALL_DATA`, `data =`), not the
    /// default `./rolecall-data`.
    pub fn data_named(&self) -> bool {
        self.data.is_some()
    }

    /// True when `--db` or `[state] db` names the account state.
    pub fn db_named(&self) -> bool {
        self.config.state.db.is_some()
    }

    /// `From` of every reply: the configured sender, else the catalog's help desk.
    pub fn sender(&self) -> Result<String, CliError> {
        let catalog = self.catalog()?;
        Ok(self.config.mail.from.clone().unwrap_or_else(|| {
            format!(
                "{} <{}>",
                catalog.policy.help_desk_name, catalog.policy.help_desk_email
            )
        }))
    }

    /// How requests are diffed against the account state (`[state]` in the config).
    pub fn diff_options(&self) -> Result<DiffOptions, CliError> {
        Ok(DiffOptions {
            over_allotment: self.config.state.over_allotment.severity(),
        })
    }

    /// The SMTP transport, when `[smtp]` is configured.
    pub fn smtp(&self) -> Result<Option<Smtp>, CliError> {
        self.config
            .smtp
            .as_ref()
            .map(|s| Smtp::new(s).map_err(CliError::Smtp))
            .transpose()
    }

    /// How mail leaves: SMTP when configured, else `.eml` files in `outbox`.
    pub fn transport(&self, outbox: PathBuf) -> Result<Box<dyn Transport + Sync>, CliError> {
        Ok(match self.smtp()? {
            Some(smtp) => Box::new(smtp),
            None => Box::new(OutboxFolder::new(outbox)),
        })
    }
}

/// The current time, or `ROLECALL_NOW` (RFC 3339, e.g. `2026-11-24T09:00:00-05:00`) to
/// reproduce a run exactly.
pub fn now() -> Result<jiff::Zoned, CliError> {
    match std::env::var("ROLECALL_NOW") {
        Ok(text) => match text.parse::<jiff::Timestamp>() {
            Ok(t) => Ok(t.to_zoned(jiff::tz::TimeZone::UTC)),
            Err(source) => Err(CliError::Clock { text, source }),
        },
        Err(_) => Ok(jiff::Zoned::now()),
    }
}

/// Checks `ROLECALL_NOW` once, then reads the clock (or the fixed time) on each call.
pub fn clock() -> Result<impl Fn() -> jiff::Zoned, CliError> {
    now()?;
    Ok(|| now().unwrap_or_else(|_| jiff::Zoned::now()))
}

/// The one logging set-up of every command: standard error, one line per event.
/// `ROLECALL_LOG` filters (`debug`, `rolecall=info`, ...); else `-q` warnings and errors
/// only, `-v` debug, `-vv` trace, default info. Colour follows `--color`, and in `auto` only
/// on a terminal with `NO_COLOR` unset (<https://no-color.org>).
pub fn init_logging(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLECALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_color(global.color))
        .with_target(false)
        .try_init();
}

/// Whether logs get ANSI colours.
fn use_color(color: Color) -> bool {
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            !no_color && std::io::stderr().is_terminal()
        }
    }
}
