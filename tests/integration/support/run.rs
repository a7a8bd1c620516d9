//! Running the real `rolecall` binary in a temporary folder and reading what it wrote, for
//! the end-to-end tests. Results are read back cell by cell, never compared as bytes.

#![allow(dead_code)] // each test module uses its own part of it

use super::test::Test;
use calamine::{Data, Reader, open_workbook_auto};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The clock every run sees (`ROLECALL_NOW`).
pub const NOW: &str = "2026-11-24T15:00:00Z";

/// The crate root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One run of the binary in a temporary folder.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `rolecall ARGS` in a fresh temporary folder.
    pub fn new(args: &[&str]) -> Run {
        Run::in_dir(tempfile::tempdir().unwrap(), args)
    }

    /// Runs `rolecall ARGS` in `dir`.
    pub fn in_dir(dir: tempfile::TempDir, args: &[&str]) -> Run {
        Run::in_dir_with_env(dir, args, &[])
    }

    /// Runs `rolecall ARGS` in `dir` with these environment variables set (and none of
    /// Rolecall's own path variables unless given here).
    pub fn in_dir_with_env(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Run {
        env.iter()
            .fold(Test::in_dir(dir).args(args), |t, (k, v)| t.env(k, v))
            .run()
    }

    /// A path inside the run's folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Standard output as JSON.
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// `process --json` entry for the submission whose source ends with `name`.
    pub fn submission(&self, name: &str) -> Json {
        let json = self.json();
        json["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no submission {name} in {json:#}"))
            .clone()
    }

    /// A file the run wrote, named by a path relative to the run's folder (as `--json` gives).
    pub fn output(&self, rel: &Json) -> PathBuf {
        self.path(rel.as_str().unwrap_or_else(|| panic!("not a path: {rel}")))
    }
}

/// `rolecall [EXTRA...] process --json --out out FILES...` in a fresh folder.
pub fn process_json(extra: &[&str], files: &[PathBuf]) -> Run {
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(["process", "--json", "--out", "out"].map(String::from));
    args.extend(files.iter().map(|f| f.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Run::new(&refs)
}

/// A sheet as rows of text (1-based positions are index + 1).
pub fn sheet(path: &Path, name: &str) -> Vec<Vec<String>> {
    let mut wb = open_workbook_auto(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let range = wb
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("{}: sheet {name}: {e}", path.display()));
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let (r1, c1) = range.end().unwrap_or((0, 0));
    (0..=r1)
        .map(|r| {
            (0..=c1)
                .map(|c| {
                    if r < r0 || c < c0 {
                        return String::new();
                    }
                    match range.get_value((r, c)) {
                        None | Some(Data::Empty) => String::new(),
                        Some(Data::String(s)) => s.clone(),
                        Some(Data::Float(f)) if f.fract() == 0.0 => format!("{f:.0}"),
                        Some(other) => other.to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

/// Column index (0-based) of a heading in a header row.
pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

/// One row of the Problems sheet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub rule: String,
    pub location: String,
    pub severity: String,
    pub message: String,
}

/// Every row of the Problems sheet.
pub fn problem_rows(workbook: &Path) -> Vec<Problem> {
    let rows = sheet(workbook, "Problems");
    let header = &rows[0];
    let (rule, loc) = (col(header, "Rule"), col(header, "Location"));
    let severity = col(header, "Severity");
    let message = col(header, "Message");
    rows[1..]
        .iter()
        .filter(|r| !r[rule].is_empty())
        .map(|r| Problem {
            rule: r[rule].clone(),
            // The stable reference is the first line; a form field's label follows it.
            location: r[loc].lines().next().unwrap_or_default().to_string(),
            severity: r[severity].clone(),
            message: r[message].clone(),
        })
        .collect()
}

/// (rule, location) pairs of the Problems sheet.
pub fn problems(workbook: &Path) -> BTreeSet<(String, String)> {
    problem_rows(workbook)
        .into_iter()
        .map(|p| (p.rule, p.location))
        .collect()
}

/// `process --json` as the README and `docs/json.md` document it, written here by hand from
/// the docs: a field they do not show fails to parse (`deny_unknown_fields`), and so does a
/// status word they do not list.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessJson {
    pub submissions: Vec<SubmissionJson>,
    pub skipped: Vec<SkippedJson>,
}

/// One submission of [`ProcessJson`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionJson {
    pub source: String,
    pub submission_id: String,
    pub status: StatusJson,
    pub accepted: usize,
    pub needs_approval: usize,
    pub rejected: usize,
    pub workbook: Option<String>,
    pub changeset: Option<String>,
    pub emails: Vec<String>,
    pub state: Option<StateJson>,
    /// Only for a worksheet over the line cap: the lines counted but not read.
    #[serde(default)]
    pub not_read: usize,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// The documented submission statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusJson {
    Accepted,
    NeedsAttention,
    Rejected,
    Unreadable,
}

/// The account state a change set was diffed against.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateJson {
    pub path: String,
    pub version: i64,
}

/// A skipped file of [`ProcessJson`].
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkippedJson {
    pub path: String,
    pub reason: String,
}

impl Run {
    /// Standard output as the documented `process --json` document.
    pub fn process(&self) -> ProcessJson {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "process --json does not match the documented schema ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}
