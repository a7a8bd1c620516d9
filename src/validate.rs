//! Validation: every request line checked against the catalog and the policy.
//!
//! Takes a [`Document`] and the [`Catalog`], returns an [`Outcome`]: each line with its
//! status, its findings and, when it can be carried out, its typed request. All findings are
//! collected; nothing stops at the first. Rule codes are documented in `docs/rules.md`.

use crate::catalog::{Catalog, ParameterKind};
use crate::document::{Document, RequestRow};
use crate::finding::Finding;
use serde::{Deserialize, Serialize};

pub mod duties;
mod lookups;
mod rules;

pub(crate) use rules::parse_date;

/// What a line asks for (the FLVC request types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// New staff account, or first staff roles on a patron-only account.
    Add,
    /// Add or remove roles.
    Modify,
    /// Remove every role except Patron.
    Delete,
    /// Put back the roles the inactivity audit suspended (the roles come from the account
    /// state, so the line names none).
    Restore,
}

/// Internal (managed in Alma) or external (synced from another system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountType {
    /// Managed in Alma.
    Internal,
    /// Loaded and synced from the SIS; only roles may be changed here.
    External,
}

/// Whether a role is added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Grant the role.
    Add,
    /// Take the role away.
    Remove,
}

/// A role's scope in Alma.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "lowercase")]
pub enum Scope {
    /// The institution (code).
    Institution(String),
    /// One library (code).
    Library(String),
}

/// A role parameter: a circulation desk or a service unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Parameter {
    /// `CirculationDesk` or `ServiceUnit`.
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    /// Desk or service-unit code.
    pub value: String,
    /// Library the desk or unit belongs to (a parameter has its own scope).
    pub scope: String,
}

/// One role to add or remove, resolved against the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRequest {
    /// Add or remove.
    pub change: Change,
    /// Alma role code.
    pub code: u32,
    /// Alma role name.
    pub name: String,
    /// Scope.
    pub scope: Scope,
    /// Parameters (desk or service unit).
    pub parameters: Vec<Parameter>,
    /// Expiry date (`YYYY-MM-DD`), if any.
    pub expiry: Option<String>,
    /// True for privileged roles: granted only after the help desk approves.
    pub needs_approval: bool,
    /// The profile this role came from, if any.
    pub profile: Option<String>,
    /// The separation-of-duties rule granting it would break, in words (it then needs
    /// approval, as an exception).
    pub separation_of_duties: Option<String>,
}

/// The person a line is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Alma primary identifier.
    pub primary_id: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Internal or external.
    pub account_type: AccountType,
}

/// A line that can be carried out, in typed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Add, Modify or Delete.
    pub action: Action,
    /// Whom it is about.
    pub person: Person,
    /// Institution code.
    pub institution: String,
    /// Roles to add or remove (empty for Delete).
    pub roles: Vec<RoleRequest>,
}

/// What becomes of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// Goes into the change set.
    Accepted,
    /// Goes into the change set, marked as waiting for the help desk's approval.
    NeedsApproval,
    /// Not carried out: see the line's errors.
    Rejected,
}

impl LineStatus {
    /// Words for the status column.
    pub fn label(self) -> &'static str {
        match self {
            LineStatus::Accepted => "Accepted",
            LineStatus::NeedsApproval => "Needs approval",
            LineStatus::Rejected => "Rejected",
        }
    }
}

/// One request line after validation.
#[derive(Debug, Clone)]
pub struct Line {
    /// The line as read.
    pub row: RequestRow,
    /// Its status.
    pub status: LineStatus,
    /// Findings about this line.
    pub findings: Vec<Finding>,
    /// Set when an error about the person (a wrong email on a form, shared by every role
    /// line) was reported on the person's first line with it: this line is rejected for it
    /// too, pointing there, without repeating the message. The first line's location.
    pub rejected_with: Option<crate::location::Location>,
    /// The typed request, unless the line is rejected.
    pub request: Option<Request>,
}

/// The verdict on a whole submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    /// Every line accepted.
    Accepted,
    /// Some lines need approval or were rejected, or there are warnings to read.
    NeedsAttention,
    /// Nothing can be carried out.
    Rejected,
    /// The file could not be read at all.
    Unreadable,
}

impl SubmissionStatus {
    /// Outcome in words, for subjects and summaries.
    pub fn words(self) -> &'static str {
        match self {
            SubmissionStatus::Accepted => "accepted",
            SubmissionStatus::NeedsAttention => "needs attention",
            SubmissionStatus::Rejected => "rejected",
            SubmissionStatus::Unreadable => "could not be read",
        }
    }
}

/// Line counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Accepted lines.
    pub accepted: usize,
    /// Lines waiting for approval.
    pub needs_approval: usize,
    /// Rejected lines.
    pub rejected: usize,
    /// Request lines past the line cap, counted but not read (so neither accepted nor
    /// rejected: the requester must send them again).
    pub not_read: usize,
}

/// The validated submission.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The document as read (requester block, columns); its rows have moved into `lines`
    /// (each line owns its row, so the lines are held once).
    pub document: Document,
    /// Findings about the submission as a whole (reader findings, requester block).
    pub findings: Vec<Finding>,
    /// Each request line.
    pub lines: Vec<Line>,
    /// Requester name, if given.
    pub requester_name: Option<String>,
    /// Requester email, if given and valid.
    pub requester_email: Option<String>,
    /// Institution of the submission (the requester block's, else the lines' if all agree).
    pub institution: Option<String>,
}

impl Outcome {
    /// Line counts by status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            not_read: self.document.unread_lines,
            ..Counts::default()
        };
        for line in &self.lines {
            match line.status {
                LineStatus::Accepted => c.accepted += 1,
                LineStatus::NeedsApproval => c.needs_approval += 1,
                LineStatus::Rejected => c.rejected += 1,
            }
        }
        c
    }

    /// The people and roles that will be carried out, one line per person in file order:
    /// `Sofia Alvarez (00412345), Add: Circulation Desk Operator (MAIN, DEFAULT_CIRC_DESK)`;
    /// roles waiting for approval say so. Only the first `listed` people are put in words;
    /// the second value is how many people there are in all.
    pub fn accepted_people(&self, listed: usize) -> (Vec<String>, usize) {
        let mut people: Vec<(String, Vec<String>)> = Vec::new();
        // Where each person is in file order: a linear search made 100,000 lines take
        // minutes.
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        // Each line's person in words, made in one buffer and copied only for a new person.
        let mut who = String::new();
        for request in self.lines.iter().filter_map(|l| l.request.as_ref()) {
            who.clear();
            person_words(request, &mut who);
            let roles = request.roles.iter().map(role_words);
            match index.get(who.as_str()) {
                Some(&i) if i < listed => people[i].1.extend(roles),
                Some(_) => {}
                None => {
                    let i = index.len();
                    index.insert(who.clone(), i);
                    if i < listed {
                        people.push((who.clone(), roles.collect()));
                    }
                }
            }
        }
        let listed = people
            .into_iter()
            .map(|(who, roles)| match roles.is_empty() {
                true => who,
                false => format!("{who}: {}", roles.join("; ")),
            })
            .collect();
        (listed, index.len())
    }

    /// Every finding, submission-level first, then by line; a finding repeated on several
    /// lines (the requester is not a coordinator) is listed once.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        let mut seen = std::collections::HashSet::new();
        self.findings
            .iter()
            .chain(self.lines.iter().flat_map(|l| l.findings.iter()))
            .filter(move |f| seen.insert(*f))
    }

    /// The verdict: it speaks of the lines, not of warnings (those are listed, and the lines
    /// they are on are still carried out). A submission with an error of its own (lines
    /// left unread, an unknown institution in the requester block) is never "accepted".
    pub fn status(&self) -> SubmissionStatus {
        let c = self.counts();
        if self.lines.is_empty() {
            let unreadable = self.findings.iter().any(|f| f.rule.means_unreadable());
            return if unreadable {
                SubmissionStatus::Unreadable
            } else {
                SubmissionStatus::Rejected
            };
        }
        let submission_error = self.findings.iter().any(Finding::is_error);
        if c.accepted + c.needs_approval == 0 {
            SubmissionStatus::Rejected
        } else if c.rejected > 0 || c.needs_approval > 0 || c.not_read > 0 || submission_error {
            SubmissionStatus::NeedsAttention
        } else {
            SubmissionStatus::Accepted
        }
    }
}

/// Checks every line of `document` against `catalog`. `today` is a parameter (for expiry
/// dates in the past) so that nothing here reads the clock.
pub fn validate(document: Document, catalog: &Catalog, today: jiff::civil::Date) -> Outcome {
    rules::validate(document, catalog, today)
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Add => "Add",
        Action::Modify => "Modify",
        Action::Delete => "Delete (all staff roles removed)",
        Action::Restore => "Restore (suspended roles put back)",
    }
}

/// `Remove Circulation Desk Operator (MAIN, DEFAULT_CIRC_DESK)`, `Cataloger, waits for approval`.
fn role_words(role: &RoleRequest) -> String {
    let verb = match role.change {
        Change::Add => "",
        Change::Remove => "remove ",
    };
    let mut words = String::with_capacity(verb.len() + role.name.len() + 24);
    words.push_str(verb);
    words.push_str(&role.name);
    let library = match &role.scope {
        Scope::Library(code) => Some(code.as_str()),
        _ => None,
    };
    let mut place = library
        .into_iter()
        .chain(role.parameters.iter().map(|p| p.value.as_str()));
    if let Some(first) = place.next() {
        words.push_str(" (");
        words.push_str(first);
        for more in place {
            words.push_str(", ");
            words.push_str(more);
        }
        words.push(')');
    }
    if role.needs_approval {
        words.push_str(", waits for approval");
    }
    words
}

/// A request's person and action in words, pushed onto `out`: `Sofia Alvarez (00412345),
/// Add`, or without a name `00412345, Add`.
fn person_words(request: &Request, out: &mut String) {
    let p = &request.person;
    let start = out.len();
    let names = [p.first_name.as_deref(), p.last_name.as_deref()];
    for (i, name) in names.into_iter().flatten().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(name);
    }
    // The names joined by a space, as `join(" ")` would: an empty join is no name.
    if out.len() == start {
        out.push_str(&p.primary_id);
    } else {
        out.push_str(" (");
        out.push_str(&p.primary_id);
        out.push(')');
    }
    out.push_str(", ");
    out.push_str(action_word(request.action));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(first: Option<&str>, last: Option<&str>, action: Action) -> String {
        let request = Request {
            action,
            person: Person {
                primary_id: "00412345".into(),
                first_name: first.map(String::from),
                last_name: last.map(String::from),
                email: None,
                account_type: AccountType::Internal,
            },
            institution: "01FALSC_GCSU".into(),
            roles: Vec::new(),
        };
        let mut out = String::new();
        person_words(&request, &mut out);
        out
    }

    #[test]
    fn a_person_is_named_as_the_reply_lists_them() {
        let both = words(Some("Sofia"), Some("Alvarez"), Action::Add);
        assert_eq!(both, "Sofia Alvarez (00412345), Add");
        assert_eq!(
            words(None, Some("Alvarez"), Action::Modify),
            "Alvarez (00412345), Modify"
        );
        // No name, or only an empty one: the ID alone.
        assert_eq!(words(None, None, Action::Add), "00412345, Add");
        assert_eq!(words(Some(""), None, Action::Add), "00412345, Add");
        // Two empty names still join to a space, as `join(" ")` does.
        assert_eq!(words(Some(""), Some(""), Action::Add), "  (00412345), Add");
    }
}
