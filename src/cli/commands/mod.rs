//! One file per command (as lychee's `commands/`): each takes the [`super::context::Context`]
//! and its own arguments, does its work through the library, and returns a report value
//! ([`super::report::Report`]) that prints as text or JSON. None of them prints or exits.

pub mod apply;
pub mod approve;
pub mod audit;
pub mod catalog;
pub mod completions;
pub mod export;
pub mod import;
pub mod inspect;
pub mod outbox;
pub mod process;
pub mod push;
pub mod queue;
pub mod reprocess;
mod state;
pub mod status;
pub mod sync;
pub mod template;
pub mod watch;
