//! Account state: what Alma holds for each account (roles, scopes, parameters, logins),
//! kept in the embedded database ([`crate::db`]) so that change sets become diffs.
//!
//! Not built yet (issue 5).

/// Tables of the account state (migration `state-1`).
pub const SCHEMA: &str = "";
