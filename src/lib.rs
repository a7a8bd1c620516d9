//! Rolecall: a staff-account request processor for a library consortium's Alma help desk.
//!
//! The pipeline, one module per stage (see `ARCHITECTURE.md`):
//!
//! ```text
//! intake ──► read ──► validate ──► changeset ──► report ──► deliver
//! (sniff,    (worksheet,  (catalog,     (operations)  (result      (outbox,
//!  hash)      PDF form)    policy)                     workbook)    SMTP)
//! ```
//!
//! [`process`] runs one submission through all of them; the command line in [`cli`] and the
//! tests compose the same stage functions.

pub mod alma;
pub mod catalog;
pub mod changeset;
pub mod cli;
pub mod config;
pub mod db;
pub mod deliver;
pub mod document;
pub mod finding;
pub mod fsx;
pub mod intake;
pub mod layout;
pub mod ledger;
pub mod lifecycle;
pub mod location;
pub mod parallel;
pub mod process;
pub mod read;
pub mod report;
pub mod state;
pub mod template;
pub mod textcells;
pub mod validate;
pub mod watch;
