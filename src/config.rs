//! Configuration: a TOML file (`--config FILE`, `ROLECALL_CONFIG`, or `rolecall.toml` in
//! the data folder) for paths and mail; flags override it.
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
    /// Data folder of `watch`, `status`, `outbox` and `reprocess` (inbox, archive, outbox,
    /// database); default `./rolecall-data`.
    pub data: Option<PathBuf>,
    /// Watcher settings.
    #[serde(default)]
    pub watch: WatchConfig,
    /// Mail settings.
    #[serde(default)]
    pub mail: MailConfig,
    /// SMTP server; without it, email is written to the outbox folder.
    pub smtp: Option<SmtpConfig>,
    /// Account state settings.
    #[serde(default)]
    pub state: StateConfig,
    /// The Alma Users API (`rolecall push`, `state sync`); without it those commands stop.
    pub alma: Option<crate::alma::AlmaConfig>,
    /// Limits on what one submission may hold.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// How outputs are made durable.
    #[serde(default)]
    pub output: OutputConfig,
}

/// `[output]`: how outputs are made durable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// `flush = "submission"` (the default: on Linux, one flush of the file system for a
    /// submission's files, another for their names) or `"file"` (each file and folder
    /// flushed on its own), see [`crate::fsx::Flush`].
    #[serde(default)]
    pub flush: crate::fsx::Flush,
}

/// `[limits]`: how much of one submission is read, and by how many reader workers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most request lines read from one worksheet (default 100,000); the lines past it are
    /// counted, and the verdict says how many were not read.
    #[serde(default, deserialize_with = "max_lines")]
    pub max_lines: Option<usize>,
    /// Reader workers at most (default: one per core).
    #[serde(default, deserialize_with = "reader_workers")]
    pub reader_workers: Option<usize>,
    /// Files a reader worker reads before a fresh one replaces it (default 100).
    #[serde(default, deserialize_with = "reader_files")]
    pub reader_files: Option<u32>,
    /// MiB of input a reader worker reads before a fresh one replaces it (default 256).
    #[serde(default, deserialize_with = "reader_mb")]
    pub reader_mb: Option<u64>,
}

/// The most reader workers a configuration may ask for: each is a process with up to
/// 1 GiB of address space.
pub const MAX_READER_WORKERS: u64 = 256;

/// A whole number from `low` to `high`, else an error on its line naming the key.
fn whole_in<'de, D: serde::Deserializer<'de>>(
    d: D,
    key: &str,
    (low, high): (u64, u64),
    default: &str,
) -> Result<u64, D::Error> {
    let n = i64::deserialize(d)?;
    match u64::try_from(n) {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ => Err(serde::de::Error::custom(format!(
            "{key} must be a whole number from {low} to {high}, not {n}; leave it out for \
             the default, {default}"
        ))),
    }
}

/// `reader_workers = N`, 1 ≤ N ≤ [`MAX_READER_WORKERS`].
fn reader_workers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let range = (1, MAX_READER_WORKERS);
    whole_in(d, "reader_workers", range, "one per core").map(|n| Some(n as usize))
}

/// `reader_files = N`, 1 ≤ N ≤ 1,000,000.
fn reader_files<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let default = crate::read::isolate::pool::FILES_PER_WORKER.to_string();
    whole_in(d, "reader_files", (1, 1_000_000), &default).map(|n| Some(n as u32))
}

/// `reader_mb = N`, 1 ≤ N ≤ 1,048,576 (1 TiB).
fn reader_mb<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let default = (crate::read::isolate::pool::BYTES_PER_WORKER >> 20).to_string();
    whole_in(d, "reader_mb", (1, 1 << 20), &default).map(Some)
}

/// Excel's last row: no sheet can hold more lines than this.
pub const MAX_LINES_CEILING: usize = 1_048_576;

impl LimitsConfig {
    /// The line cap, default filled in.
    pub fn max_lines(&self) -> usize {
        self.max_lines.unwrap_or(crate::read::DEFAULT_MAX_LINES)
    }

    /// How many reader workers run and when each is replaced, defaults filled in.
    pub fn recycling(&self) -> crate::read::isolate::pool::Recycling {
        let d = crate::read::isolate::pool::Recycling::default();
        crate::read::isolate::pool::Recycling {
            workers: self.reader_workers.unwrap_or(d.workers),
            files_per_worker: self.reader_files.unwrap_or(d.files_per_worker),
            bytes_per_worker: self.reader_mb.map_or(d.bytes_per_worker, |mb| mb << 20),
        }
    }
}

/// `max_lines = N` with 1 ≤ N ≤ Excel's last row; anything else is an error on its line.
fn max_lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = i64::deserialize(d)?;
    match usize::try_from(n) {
        Ok(n) if (1..=MAX_LINES_CEILING).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "max_lines must be a whole number from 1 to {MAX_LINES_CEILING} (Excel's last \
             row), not {n}; leave it out for the default, {}",
            crate::read::DEFAULT_MAX_LINES
        ))),
    }
}

/// `[state]`: the account state database and how the diff treats licences.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The database file; `process` diffs against it when set (or with `--db`).
    pub db: Option<PathBuf>,
    /// What a request past the named-user allotment gets (default: refused).
    #[serde(default)]
    pub over_allotment: OverAllotment,
}

/// `over_allotment = "refuse" | "warn"`: any other word is an error when the file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverAllotment {
    /// The line is rejected (`over-allotment` is an error).
    #[default]
    Refuse,
    /// The line is carried out with a warning.
    Warn,
}

impl OverAllotment {
    /// The severity of the `over-allotment` finding.
    pub fn severity(self) -> crate::finding::Severity {
        match self {
            OverAllotment::Refuse => crate::finding::Severity::Error,
            OverAllotment::Warn => crate::finding::Severity::Warning,
        }
    }
}

/// Mail settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Sender of replies, e.g. `Help Desk <help@consortium.example.org>`; default: the
    /// catalog's help desk address.
    pub from: Option<String>,
}

/// The `[watch]` section: timings of the watcher and the mail queue. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// A file must be unchanged this long before it is read (default 500).
    pub settle_ms: Option<u64>,
    /// Rescan the inbox this often even without file events (default 5000).
    pub rescan_ms: Option<u64>,
    /// First wait before sending again after a transient failure (default 60000).
    pub retry_base_ms: Option<u64>,
    /// Longest wait between attempts (default 3600000).
    pub retry_max_ms: Option<u64>,
    /// Attempts before a message goes to `dead/` (default 12).
    pub max_attempts: Option<u32>,
    /// Replies to one sender per hour, at most (default 20).
    pub replies_per_hour: Option<u32>,
    /// Submissions processed at once (default: two per core).
    pub jobs: Option<std::num::NonZeroUsize>,
}

impl WatchConfig {
    /// The settings, defaults filled in.
    pub fn settings(&self) -> crate::watch::Settings {
        use std::time::Duration;
        let d = crate::watch::Settings::default();
        let ms = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_millis);
        crate::watch::Settings {
            settle: ms(self.settle_ms, d.settle),
            rescan: ms(self.rescan_ms, d.rescan),
            retry: crate::deliver::RetryPolicy {
                base: ms(self.retry_base_ms, d.retry.base),
                max: ms(self.retry_max_ms, d.retry.max),
                max_attempts: self.max_attempts.unwrap_or(d.retry.max_attempts).max(1),
            },
            replies_per_hour: self.replies_per_hour.unwrap_or(d.replies_per_hour),
            jobs: self.jobs.map_or(d.jobs, usize::from),
        }
    }
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

/// Which catalog a run uses: the bundled sample only when asked for by name, or when
/// nothing is configured at all (the README's demo); a named folder otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogChoice {
    /// The sample catalog compiled into the binary.
    Sample,
    /// A catalog folder.
    Folder(PathBuf),
    /// Nothing named, with `[smtp]` configured: real replies would go out from a fictional
    /// catalog's coordinators and allotments, so loading it is refused.
    Unnamed,
}

/// The word that asks for the bundled sample catalog (`--catalog sample`, `catalog = "sample"`).
pub const SAMPLE_CATALOG: &str = "sample";

impl CatalogChoice {
    /// The choice for a run: the `--catalog` flag, else the configuration's `catalog`.
    pub fn new(flag: Option<&Path>, config: &Config) -> CatalogChoice {
        match flag.or(config.catalog.as_deref()) {
            Some(p) if p == Path::new(SAMPLE_CATALOG) => CatalogChoice::Sample,
            Some(p) => CatalogChoice::Folder(p.to_path_buf()),
            None if config.smtp.is_some() => CatalogChoice::Unnamed,
            None => CatalogChoice::Sample,
        }
    }
}

/// The configuration file's name in a data folder.
pub const FILE_NAME: &str = "rolecall.toml";

impl Config {
    /// The configuration in use: `explicit` (`--config` or `ROLECALL_CONFIG`), else
    /// `rolecall.toml` in the data folder `data` when it holds one, else the defaults. Only a
    /// data folder that was named counts: results never depend on the folder Rolecall runs
    /// from.
    pub fn find(explicit: Option<&Path>, data: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        match data.map(|d| d.join(FILE_NAME)).filter(|p| p.is_file()) {
            Some(path) => Config::load(&path),
            None => Ok(Config::default()),
        }
    }

    /// Reads a configuration file; relative paths in it become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            // The catalog's line index: a span starting a line is on that line, not the one
            // before (counting the lines before the span was one short there).
            line: e.span().map_or(1, |s| {
                crate::catalog::raw::LineIndex::new(&text).line(s.start)
            }),
            message: e.message().trim().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        // `catalog = "sample"` names the bundled catalog, not a folder beside the file.
        let sample = config.catalog.as_deref() == Some(Path::new(SAMPLE_CATALOG));
        for p in [
            config.catalog.as_mut().filter(|_| !sample),
            config.out.as_mut(),
            config.state.db.as_mut(),
            config.data.as_mut(),
        ]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_the_named_file_else_the_data_folders_else_none() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("desk");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(FILE_NAME), "out = \"replies\"\n").unwrap();
        let named = dir.path().join("named.toml");
        std::fs::write(&named, "out = \"named-out\"\n").unwrap();

        // Relative paths are taken from the file's folder: the data folder here.
        let found = Config::find(None, Some(&data)).unwrap();
        assert_eq!(found.out, Some(data.join("replies")));
        let explicit = Config::find(Some(&named), Some(&data)).unwrap();
        assert_eq!(explicit.out, Some(dir.path().join("named-out")));
        assert!(Config::find(None, None).unwrap().out.is_none());
        assert!(Config::find(None, Some(dir.path())).unwrap().out.is_none());
        let missing = Config::find(Some(&dir.path().join("nope.toml")), Some(&data));
        assert!(matches!(missing, Err(ConfigError::Io { .. })));
    }

    #[test]
    fn the_line_cap_is_100_000_unless_set_and_at_least_one() {
        let parse = |text: &str| toml::from_str::<Config>(text).map(|c| c.limits.max_lines());
        assert_eq!(parse("").unwrap(), 100_000);
        assert_eq!(parse("[limits]\n").unwrap(), 100_000);
        assert_eq!(parse("[limits]\nmax_lines = 1\n").unwrap(), 1);
        assert_eq!(parse("[limits]\nmax_lines = 1048576\n").unwrap(), 1_048_576);
        for bad in ["0", "-1", "1048577", "\"many\"", "2.5"] {
            assert!(
                parse(&format!("[limits]\nmax_lines = {bad}\n")).is_err(),
                "{bad}"
            );
        }
        assert!(
            parse("[limits]\nmax_rows = 5\n").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn the_reader_workers_and_their_recycling_are_set_within_bounds() {
        use crate::read::isolate::pool::Recycling;
        let parse = |text: &str| toml::from_str::<Config>(text).map(|c| c.limits.recycling());
        assert_eq!(parse("").unwrap(), Recycling::default());
        let set = "[limits]\nreader_workers = 3\nreader_files = 7\nreader_mb = 2\n";
        let expected = Recycling {
            workers: 3,
            files_per_worker: 7,
            bytes_per_worker: 2 * 1024 * 1024,
        };
        assert_eq!(parse(set).unwrap(), expected);
        for (key, bad) in [
            ("reader_workers", "0"),
            ("reader_workers", "257"),
            ("reader_files", "0"),
            ("reader_files", "-3"),
            ("reader_mb", "0"),
            ("reader_mb", "1048577"),
            ("reader_mb", "\"lots\""),
        ] {
            let error = parse(&format!("[limits]\n{key} = {bad}\n")).unwrap_err();
            assert!(
                bad.starts_with('"') || error.to_string().contains(&format!("{key} must be")),
                "{key} = {bad}: {error}"
            );
        }
    }

    #[test]
    fn outputs_are_flushed_per_submission_unless_the_file_says_per_file() {
        use crate::fsx::Flush;
        let parse = |text: &str| toml::from_str::<Config>(text).map(|c| c.output.flush);
        assert_eq!(parse("").unwrap(), Flush::Submission);
        assert_eq!(
            parse(
                "[output]
"
            )
            .unwrap(),
            Flush::Submission
        );
        assert_eq!(
            parse(
                "[output]
flush = \"file\"
"
            )
            .unwrap(),
            Flush::File
        );
        assert_eq!(
            parse(
                "[output]
flush = \"submission\"
"
            )
            .unwrap(),
            Flush::Submission
        );
        // A word it does not know is an error on its line, not a default.
        assert!(
            parse(
                "[output]
flush = \"never\"
"
            )
            .is_err()
        );
        assert!(
            parse(
                "[output]
fsync = \"file\"
"
            )
            .is_err()
        );
    }
}
