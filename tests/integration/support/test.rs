//! The one way the tests run the binary, in the manner of just's `tests/test.rs`: a builder
//! that knows the catalog, the configuration, the inbox, the arguments, the environment and
//! the expected exit code, and runs the real `rolecall` in a fresh temporary folder.
//!
//! ```ignore
//! let run = Test::new()
//!     .config("[state]\nover_allotment = \"warn\"\n")
//!     .inbox(&[sample("clean-batch.xlsx")])
//!     .args(&["--data", "data", "watch", "--once"])
//!     .code(0)
//!     .run();
//! ```
//!
//! Every run gets the fixed clock (`ROLECALL_NOW`) and none of Rolecall's own path variables
//! or the SMTP password from the environment the tests run in, unless a test sets them.

use super::run::{NOW, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A run of the binary, being set up.
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    code: Option<i32>,
}

impl Default for Test {
    fn default() -> Test {
        Test::new()
    }
}

impl Test {
    /// A fresh temporary folder, no arguments yet.
    pub fn new() -> Test {
        Test::in_dir(tempfile::tempdir().unwrap())
    }

    /// In a folder the test has prepared.
    pub fn in_dir(dir: tempfile::TempDir) -> Test {
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            code: None,
        }
    }

    /// Writes a file into the run's folder (its folders made as needed).
    pub fn write(self, rel: &str, bytes: impl AsRef<[u8]>) -> Test {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
        self
    }

    /// A copy of this catalog folder, passed with `--catalog`.
    pub fn catalog(self, dir: &Path) -> Test {
        let copy = self.dir.path().join("catalog");
        std::fs::create_dir_all(&copy).unwrap();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
        self.args(&["--catalog", "catalog"])
    }

    /// This configuration as `rolecall.toml`, passed with `--config`.
    pub fn config(self, toml: &str) -> Test {
        self.write("rolecall.toml", toml)
            .args(&["--config", "rolecall.toml"])
    }

    /// These files copied into the data folder's inbox (`data/inbox`); the arguments name
    /// the data folder themselves (`--data data`).
    pub fn inbox(self, files: &[PathBuf]) -> Test {
        let inbox = self.dir.path().join("data/inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        for file in files {
            std::fs::copy(file, inbox.join(file.file_name().unwrap())).unwrap();
        }
        self
    }

    /// More arguments.
    pub fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// An environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The exit code the run must end with.
    pub fn code(mut self, code: i32) -> Test {
        self.code = Some(code);
        self
    }

    /// Runs `rolecall ARGS` in the folder; checks the exit code when one is expected.
    pub fn run(self) -> Run {
        let out = rolecall(self.dir.path())
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        let run = Run {
            dir: self.dir,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if let Some(code) = self.code {
            assert_eq!(
                run.code, code,
                "rolecall {:?}\nstdout:\n{}\nstderr:\n{}",
                self.args, run.stdout, run.stderr
            );
        }
        run
    }
}

/// The binary, to run in `dir`: the one place a test starts `rolecall`. Every run gets the
/// fixed clock and none of Rolecall's own path variables or the SMTP password from the
/// environment the tests run in; a test adds its own arguments and variables. Tests that
/// keep a long-lived folder (a watcher's data folder, a state, a fake Alma) start their runs
/// here; one-shot runs use [`Test`].
pub fn rolecall(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolecall"));
    cmd.current_dir(dir)
        .env("ROLECALL_NOW", NOW)
        .env_remove("ROLECALL_SMTP_PASSWORD")
        .env_remove("ROLECALL_CONFIG")
        .env_remove("ROLECALL_DATA")
        .env_remove("ROLECALL_CATALOG");
    cmd
}

/// How a run in a long-lived folder ended, and what it printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts that standard output says `words`, showing what it said instead.
    #[track_caller]
    pub fn prints(&self, words: &str) {
        assert!(
            self.stdout.contains(words),
            "stdout does not say {words:?}:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

impl From<std::process::Output> for Out {
    fn from(out: std::process::Output) -> Out {
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
