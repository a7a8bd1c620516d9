//! The change set: the operations that the accepted lines of a submission mean, as a
//! documented, versioned JSON document (`docs/changeset.md`).
//!
//! Today an operation is what the request says. The type is built so that a later stage can
//! diff it against the known state of accounts: every operation names its account
//! (institution + primary ID) and carries the request line it came from.

use crate::catalog::PATRON_CODE;
use crate::validate::{AccountType, Action, Change, Outcome, Parameter, Scope};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleRef {
    /// Alma role code.
    pub code: u32,
    /// Alma role name.
    pub name: String,
}

/// A role as an account holds it: for suspensions and restorations, which must name each
/// role exactly (scope, desks, expiry) so that it can be put back as it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleGrant {
    /// The role.
    pub role: RoleRef,
    /// Its scope.
    pub scope: Scope,
    /// Desk or service unit.
    pub parameters: Vec<Parameter>,
    /// Expiry date `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expiry: Option<String>,
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
        /// True when every role the account is created for waits for the help desk's
        /// approval: the account waits with them (absent when false).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_approval: bool,
        /// Request lines it came from.
        lines: Vec<String>,
    },
    /// Change an existing internal account's name or email: only the fields that change
    /// are set (an external account's come from the SIS load and are never changed here).
    UpdateAccount {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// New given name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        first_name: Option<String>,
        /// New family name.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        last_name: Option<String>,
        /// New email.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        email: Option<String>,
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
        /// The separation-of-duties rule the person would break by holding it (its reason,
        /// in words): it waits for approval, and approving it is an exception with a note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        separation_of_duties: Option<String>,
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
    /// Suspend roles (set them inactive) under the inactivity policy; `restore_roles`
    /// puts back exactly these.
    SuspendRoles {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// The roles suspended, each as Alma holds it.
        roles: Vec<RoleGrant>,
        /// Why, in words ("no login since 2026-05-02").
        reason: String,
        /// Request lines it came from (none for the audit).
        lines: Vec<String>,
    },
    /// Put back the roles a suspension set inactive (a Restore request).
    RestoreRoles {
        /// Institution code.
        institution: String,
        /// Alma primary identifier.
        primary_id: String,
        /// The suspended roles to make active again, filled in from the account state.
        roles: Vec<RoleGrant>,
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
    /// Version of the account state it was diffed against (absent when made without a
    /// state); `apply` re-checks a change set made against an older state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<i64>,
    /// The account state it was diffed against: its database file and version, or `null`
    /// when it was made without one (`docs/changeset.md`). Absent in change sets written
    /// before Rolecall said so, which reads as `null`.
    #[serde(default)]
    pub state: Option<StateRef>,
    /// Operations in a stable order: by institution, primary ID, then create, remove-all,
    /// remove, add; then role code and scope.
    pub operations: Vec<Operation>,
}

/// Which account state a change set was diffed against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    /// The database file, as given (`--db`, `[state] db`, or the data folder's).
    pub path: String,
    /// Its version when the change set was made (as `state_version`).
    pub version: i64,
}

impl std::fmt::Display for StateRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (version {})", self.path, self.version)
    }
}

/// Which state a result was diffed against, in words: "rolecall.db (version 7)", or that
/// none was (the text output, the Summary sheet).
pub fn state_words(state: Option<&StateRef>) -> String {
    match state {
        Some(s) => s.to_string(),
        None => "none: not compared with what Alma holds (no --db or [state] db given)".into(),
    }
}

/// A change set file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// It is not a change set this Rolecall reads.
    #[error("{} {problem}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// Reads a change set written by `process` (or by an audit), of the schema this Rolecall
/// reads.
pub fn read(path: &std::path::Path) -> Result<ChangeSet, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let problem = |problem: String| ReadError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let cs: ChangeSet =
        serde_json::from_str(&text).map_err(|e| problem(format!("is not a change set: {e}")))?;
    if cs.schema != SCHEMA {
        return Err(problem(format!(
            "has schema {}; this Rolecall reads {SCHEMA}",
            cs.schema
        )));
    }
    Ok(cs)
}

/// Builds the change set from the accepted and needs-approval lines of an outcome.
///
/// Lines of one person are merged: one `create_account`, one operation per distinct role,
/// each listing every line it came from.
pub fn build(outcome: &Outcome, submission: SubmissionInfo, catalog_version: &str) -> ChangeSet {
    // Every line's operations in line order, then one stable sort into the documented
    // order, so that equal operations are side by side in line order and merge into the
    // first. A map keyed by owned sort keys held each key beside its operation: at 100,000
    // lines the map was the run's largest allocation (130 MB), and its keys copied every
    // institution, ID, scope and desk once more.
    // The list made at its size: grown by doubling, it held room for some 30,000
    // operations more than the 233,333 of a 100,000-line worksheet.
    let requests = || outcome.lines.iter().filter_map(|l| l.request.as_ref());
    let mut operations: Vec<Operation> = Vec::with_capacity(requests().map(op_count).sum());
    for line in &outcome.lines {
        let Some(request) = &line.request else {
            continue;
        };
        line_operations(request, &line.row.location.to_string(), &mut operations);
    }
    Operation::sort_merging(&mut operations);
    ChangeSet {
        schema: SCHEMA.to_string(),
        submission,
        catalog_version: catalog_version.to_string(),
        state_version: None,
        state: None,
        operations,
    }
}

/// How many operations [`line_operations`] makes of a request.
fn op_count(request: &crate::validate::Request) -> usize {
    match request.action {
        Action::Delete | Action::Restore => 1,
        Action::Add | Action::Modify => {
            let create = request.action == Action::Add
                && request.person.account_type == AccountType::Internal;
            usize::from(create) + request.roles.len()
        }
    }
}

/// The operations one line asks for, in the order they merge, each naming `source`, pushed
/// onto `ops`.
fn line_operations(request: &crate::validate::Request, source: &str, ops: &mut Vec<Operation>) {
    let person = &request.person;
    let (inst, id) = (request.institution.clone(), person.primary_id.clone());
    let lines = vec![source.to_string()];
    match request.action {
        Action::Delete => ops.push(Operation::RemoveAllStaffRoles {
            institution: inst,
            primary_id: id,
            keep: vec![RoleRef {
                code: PATRON_CODE,
                name: "Patron".to_string(),
            }],
            lines,
        }),
        // The roles come from the account state (what the suspension took away).
        Action::Restore => ops.push(Operation::RestoreRoles {
            institution: inst,
            primary_id: id,
            roles: Vec::new(),
            lines,
        }),
        Action::Add | Action::Modify => {
            // External accounts are created by the SIS load, never here.
            if request.action == Action::Add && person.account_type == AccountType::Internal {
                ops.push(Operation::CreateAccount {
                    institution: inst.clone(),
                    primary_id: id.clone(),
                    first_name: person.first_name.clone().unwrap_or_default(),
                    last_name: person.last_name.clone().unwrap_or_default(),
                    email: person.email.clone().unwrap_or_default(),
                    account_type: AccountType::Internal,
                    needs_approval: waits_for_approval(request),
                    lines: lines.clone(),
                });
            }
            for role in &request.roles {
                let role_ref = RoleRef {
                    code: role.code,
                    name: role.name.clone(),
                };
                ops.push(match role.change {
                    Change::Add => Operation::AddRole {
                        institution: inst.clone(),
                        primary_id: id.clone(),
                        role: role_ref,
                        scope: role.scope.clone(),
                        parameters: role.parameters.clone(),
                        expiry: role.expiry.clone(),
                        needs_approval: role.needs_approval,
                        separation_of_duties: role.separation_of_duties.clone(),
                        profile: role.profile.clone(),
                        lines: lines.clone(),
                    },
                    Change::Remove => Operation::RemoveRole {
                        institution: inst.clone(),
                        primary_id: id.clone(),
                        role: role_ref,
                        scope: role.scope.clone(),
                        parameters: role.parameters.clone(),
                        lines: lines.clone(),
                    },
                });
            }
        }
    }
}

/// Reorders `items` so that position `i` holds what was at `order[i]`, by swaps along each
/// cycle of the permutation: no second list of operations (56 MB at 100,000 lines).
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    const PLACED: usize = usize::MAX;
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != PLACED {
            let from = order[at];
            order[at] = PLACED;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// True when every role a line adds waits for approval (a line whose only role is
/// privileged): an account created for it must wait too.
fn waits_for_approval(request: &crate::validate::Request) -> bool {
    let mut added = request.roles.iter().filter(|r| r.change == Change::Add);
    let first = added.next();
    first.is_some_and(|r| r.needs_approval) && added.all(|r| r.needs_approval)
}

/// The name and email changes of an [`Operation::UpdateAccount`], in words:
/// `email → jo@example.edu; last name → Smith`.
pub fn describe_update(
    first_name: &Option<String>,
    last_name: &Option<String>,
    email: &Option<String>,
) -> String {
    [
        ("first name", first_name),
        ("last name", last_name),
        ("email", email),
    ]
    .iter()
    .filter_map(|(what, v)| v.as_ref().map(|v| format!("{what} \u{2192} {v}")))
    .collect::<Vec<_>>()
    .join("; ")
}

/// `text` in lower case (as `str::to_lowercase`), copied only when that changes it.
pub(crate) fn lowercase(text: &str) -> Cow<'_, str> {
    let unchanged = |c: char| {
        let mut lower = c.to_lowercase();
        lower.next() == Some(c) && lower.next().is_none()
    };
    if text.chars().all(unchanged) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// What an operation does to which account, its lines aside: equal keys are merged. It
/// borrows from the operation (only an ID with capitals is copied, to lower case).
type OpKey<'a> = (
    &'a str,
    Cow<'a, str>,
    u8,
    u32,
    Option<&'a Scope>,
    &'a [Parameter],
);

impl Operation {
    /// The account it applies to: (institution, primary ID).
    pub fn account(&self) -> (&str, &str) {
        match self {
            Operation::CreateAccount {
                institution,
                primary_id,
                ..
            }
            | Operation::UpdateAccount {
                institution,
                primary_id,
                ..
            }
            | Operation::AddRole {
                institution,
                primary_id,
                ..
            }
            | Operation::RemoveRole {
                institution,
                primary_id,
                ..
            }
            | Operation::RemoveAllStaffRoles {
                institution,
                primary_id,
                ..
            }
            | Operation::SuspendRoles {
                institution,
                primary_id,
                ..
            }
            | Operation::RestoreRoles {
                institution,
                primary_id,
                ..
            } => (institution, primary_id),
        }
    }

    /// Sorts operations into the documented order.
    /// Stable: equal operations keep their order.
    pub fn sort(operations: &mut [Operation]) {
        let (order, _) = Self::sorted_order(operations);
        permute(operations, order);
    }

    /// Sorts operations into the documented order and merges each run of equal ones into
    /// its first (the lines of the later ones listed on it), in one pass over keys made
    /// once: a key made per comparison lower-cased the ID some 40 times per operation at
    /// 100,000 lines, and the merge made two more per operation.
    fn sort_merging(operations: &mut Vec<Operation>) {
        let (order, same) = Self::sorted_order(operations);
        permute(operations, order);
        let mut kept = 0;
        // `same` is false at the first position: `kept` is at least 1 before any merge.
        for (read, same) in same.into_iter().enumerate() {
            if same {
                let (before, from) = operations.split_at_mut(read);
                before[kept - 1].merge(&from[0]);
            } else {
                operations.swap(kept, read);
                kept += 1;
            }
        }
        operations.truncate(kept);
    }

    /// Where each operation goes in the documented order (position → index, stable), and
    /// for each position whether its operation equals the one before (the same key).
    fn sorted_order(operations: &[Operation]) -> (Vec<usize>, Vec<bool>) {
        let keys: Vec<OpKey<'_>> = operations.iter().map(Operation::sort_key).collect();
        let mut order: Vec<usize> = (0..operations.len()).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let same = (0..order.len())
            .map(|i| i > 0 && keys[order[i]] == keys[order[i - 1]])
            .collect();
        (order, same)
    }

    /// Merges an equal operation from a later line: its lines are listed, and an account
    /// created for several lines waits for approval only if every one of them waits.
    fn merge(&mut self, other: &Operation) {
        if let (
            Operation::CreateAccount { needs_approval, .. },
            Operation::CreateAccount {
                needs_approval: other_waits,
                ..
            },
        ) = (&mut *self, other)
        {
            *needs_approval &= *other_waits;
        }
        let lines = self.lines_mut();
        for source in other.lines() {
            if !lines.contains(source) {
                lines.push(source.clone());
            }
        }
    }

    /// The request lines it came from (`Accounts!9`).
    pub fn lines(&self) -> &[String] {
        match self {
            Operation::CreateAccount { lines, .. }
            | Operation::UpdateAccount { lines, .. }
            | Operation::AddRole { lines, .. }
            | Operation::RemoveRole { lines, .. }
            | Operation::RemoveAllStaffRoles { lines, .. }
            | Operation::SuspendRoles { lines, .. }
            | Operation::RestoreRoles { lines, .. } => lines,
        }
    }

    fn lines_mut(&mut self) -> &mut Vec<String> {
        match self {
            Operation::CreateAccount { lines, .. }
            | Operation::UpdateAccount { lines, .. }
            | Operation::AddRole { lines, .. }
            | Operation::RemoveRole { lines, .. }
            | Operation::RemoveAllStaffRoles { lines, .. }
            | Operation::SuspendRoles { lines, .. }
            | Operation::RestoreRoles { lines, .. } => lines,
        }
    }

    /// The operation's name as written in the JSON (`add_role`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateAccount { .. } => "create_account",
            Operation::UpdateAccount { .. } => "update_account",
            Operation::AddRole { .. } => "add_role",
            Operation::RemoveRole { .. } => "remove_role",
            Operation::RemoveAllStaffRoles { .. } => "remove_all_staff_roles",
            Operation::SuspendRoles { .. } => "suspend_roles",
            Operation::RestoreRoles { .. } => "restore_roles",
        }
    }

    /// The documented order: account, then create (or update), remove-all, suspend, remove,
    /// restore, add;
    /// then role and scope.
    fn sort_key(&self) -> OpKey<'_> {
        let (inst, id) = self.account();
        let (rank, code, scope, params): (u8, u32, Option<&Scope>, &[Parameter]) = match self {
            Operation::CreateAccount { .. } => (0, 0, None, &[]),
            Operation::UpdateAccount { .. } => (0, 1, None, &[]),
            Operation::RemoveAllStaffRoles { .. } => (1, 0, None, &[]),
            Operation::SuspendRoles { .. } => (2, 0, None, &[]),
            Operation::RemoveRole {
                role,
                scope,
                parameters,
                ..
            } => (3, role.code, Some(scope), parameters),
            Operation::RestoreRoles { .. } => (4, 0, None, &[]),
            Operation::AddRole {
                role,
                scope,
                parameters,
                ..
            } => (5, role.code, Some(scope), parameters),
        };
        (inst, lowercase(id), rank, code, scope, params)
    }
}

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn a_permutation_puts_each_item_where_the_order_says() {
        // Position 0 takes what was at 2, 1 what was at 0, 2 what was at 1 (one cycle),
        // 3 stays, 4 and 5 trade places.
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        permute(&mut items, vec![2, 0, 1, 3, 5, 4]);
        assert_eq!(items, vec!['c', 'a', 'b', 'd', 'f', 'e']);
        let mut none: Vec<char> = Vec::new();
        permute(&mut none, Vec::new());
        assert!(none.is_empty());
    }
}
