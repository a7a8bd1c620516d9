//! `rolecall completions SHELL` and `rolecall man`: the shell completion script and the
//! manual page, generated from the same clap definitions as `--help`, so they never drift.
//! Both print a file's contents, not a report (with `--json`, as one JSON string).

use crate::cli::args::{Cli, CompletionsArgs};
use crate::cli::report::{Exit, Report};
use clap::CommandFactory;
use std::io::Write;

/// A generated file, printed as it is.
pub struct Generated(Vec<u8>);

/// Runs `completions`.
pub fn completions(args: CompletionsArgs) -> Generated {
    let mut bytes = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "rolecall", &mut bytes);
    Generated(bytes)
}

/// Runs `man`: the page of `rolecall`, its subcommands listed in their own section.
pub fn man() -> Result<Generated, std::io::Error> {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut bytes)?;
    Ok(Generated(bytes))
}

impl Report for Generated {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&self.0)
    }

    fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        Ok(serde_json::Value::String(
            String::from_utf8_lossy(&self.0).into_owned(),
        ))
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
