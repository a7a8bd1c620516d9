//! The submission ledger and the mail queue, in the embedded database ([`crate::db`]):
//! which content hash was processed when and as which submission, and what mail waits.
//!
//! Not built yet (issue 4).

/// Tables of the ledger (migration `ledger-1`).
pub const SCHEMA: &str = "";
