//! `rolecall completions SHELL` and `rolecall man`: the shell completion script and the
//! manual page, generated from the same clap definitions as `--help`, so they never drift.
//! Both print a file's contents, not a report (with `--json`, as one JSON string).

use crate::cli::args::{Cli, CompletionsArgs, ManArgs};
use crate::cli::error::CliError;
use crate::cli::report::{Exit, Report, to_json};
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

/// Runs `man`: the page of `rolecall` (its commands listed in their own section), or of one
/// command as `rolecall-COMMAND(1)`.
pub fn man(args: ManArgs) -> Result<Generated, CliError> {
    let mut top = Cli::command();
    // Built, so that each command carries the global flags and is named `rolecall COMMAND`.
    top.build();
    let command = match &args.command {
        None => top,
        Some(name) => {
            let sub = top.find_subcommand(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = top.get_subcommands().map(|c| c.get_name()).collect();
                CliError::Usage(format!(
                    "{name} is not a rolecall command; the commands are {}",
                    names.join(", ")
                ))
            })?;
            sub.display_name(format!("rolecall-{name}"))
        }
    };
    let mut bytes = Vec::new();
    clap_mangen::Man::new(command)
        .source(format!("rolecall {}", env!("CARGO_PKG_VERSION")))
        .render(&mut bytes)
        .map_err(|source| CliError::Write {
            path: "the manual page".into(),
            source,
        })?;
    Ok(Generated(bytes))
}

impl Report for Generated {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        out.write_all(&self.0)
    }

    fn write_json(&self, out: &mut dyn Write) -> Result<(), serde_json::Error> {
        to_json(out, &String::from_utf8_lossy(&self.0))
    }

    fn exit(&self) -> Exit {
        Exit::Ok
    }
}
