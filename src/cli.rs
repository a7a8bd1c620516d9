//! The command line, in two stages (as ripgrep does): [`args`] holds the clap definitions
//! alone; [`context`] resolves them with the environment and the configuration into one
//! [`context::Context`], built once. Each command lives in its own file under [`commands`]
//! and returns a report ([`report::Report`]) that [`report::print`] writes as text or JSON;
//! errors are typed ([`error::CliError`]) up to here, where they are printed once.
//!
//! Exit codes (documented in the README): 0 everything accepted, 1 something needs
//! attention (a line rejected or waiting for approval, a file unreadable or skipped), 2 a
//! fatal or usage error (no catalog, output not writable, bad flags, a path that is not there).

pub mod args;
pub mod commands;
pub mod context;
pub mod error;
pub mod report;

use args::{CatalogCommand, Cli, Command, OutboxCommand, StateCommand};
use clap::Parser;
use commands as cmd;
use context::Context;
use error::CliError;
use report::{Exit, Report};
use std::process::ExitCode;

/// Runs the command line and returns the exit code.
pub fn main() -> ExitCode {
    if let Some(code) = crate::read::run_child_if_requested() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Exit::Fatal as u8
            } else {
                Exit::Ok as u8
            });
        }
    };
    context::init_logging(&cli.global);
    let result = Context::new(&cli.global).and_then(|ctx| {
        let report = run(&ctx, cli.command)?;
        report::print(report.as_ref(), ctx.json, ctx.quiet)?;
        Ok(report.exit())
    });
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("rolecall: error: {e}");
            ExitCode::from(Exit::Fatal as u8)
        }
    }
}

/// One arm per command, and no catch-all: a new command does not compile until it is
/// dispatched here.
fn run(ctx: &Context, command: Command) -> Result<Box<dyn Report>, CliError> {
    Ok(match command {
        Command::Process(args) => Box::new(cmd::process::run(ctx, args)?),
        Command::Watch(args) => Box::new(cmd::watch::run(ctx, args)?),
        Command::Status => Box::new(cmd::status::run(ctx)?),
        Command::Outbox { command } => {
            let retry = matches!(command, Some(OutboxCommand::Retry));
            Box::new(cmd::outbox::run(ctx, retry)?)
        }
        Command::Reprocess(args) => Box::new(cmd::reprocess::run(ctx, args)?),
        Command::Catalog {
            command: CatalogCommand::Check,
        } => Box::new(cmd::catalog::check(ctx)),
        Command::Template { command } => Box::new(cmd::template::run(ctx, command)?),
        Command::Inspect(args) => Box::new(cmd::inspect::run(args)),
        Command::State {
            command: StateCommand::Import(args),
        } => Box::new(cmd::import::run(ctx, args)?),
        Command::State {
            command: StateCommand::Sync(args),
        } => Box::new(cmd::sync::run(ctx, args)?),
        Command::Apply(args) => Box::new(cmd::apply::run(ctx, args)?),
        Command::Push(args) => Box::new(cmd::push::run(ctx, args)?),
        Command::Approve(args) => Box::new(cmd::approve::approve(ctx, args)?),
        Command::Deny(args) => Box::new(cmd::approve::deny(ctx, args)?),
        Command::Queue(args) => Box::new(cmd::queue::run(ctx, args)?),
        Command::Audit { command } => Box::new(cmd::audit::run(ctx, command)?),
        Command::Export(args) => Box::new(cmd::export::run(ctx, args)?),
        Command::Completions(args) => Box::new(cmd::completions::completions(args)),
        Command::Man(args) => Box::new(cmd::completions::man(args)?),
    })
}
