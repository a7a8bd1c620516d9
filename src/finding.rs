//! Findings: what is wrong (or worth saying) about a submission, as data.
//!
//! A finding is never an early return. Readers and validators push findings and go on, so
//! that the requester gets every problem in one reply. Each finding has a stable [`Rule`]
//! code, documented in `docs/rules.md`, that the help desk can search for.

use crate::location::Location;
use serde::Serialize;
use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the line is still carried out.
    Warning,
    /// The line (or the whole submission) cannot be carried out as it stands.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, )*) => {
        /// Stable rule codes. The code string never changes once released; `docs/rules.md`
        /// documents each one with an example message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[$doc])* $variant, )*
        }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable code, e.g. `unknown-role`.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code,)* }
            }
        }
    };
}

rules! {
    // --- the file as a whole ---
    /// The file is not a workbook (or PDF) that can be opened at all.
    Unreadable = "unreadable-file",
    /// The file could not be read within the memory and time limits.
    TooLarge = "file-too-large",
    /// The workbook has no sheet with the Accounts header row.
    NoHeader = "no-header-row",
    /// The header row was found but has no request lines under it.
    NoRequests = "no-requests",
    /// A column heading that Rolecall does not know; the column is ignored.
    UnknownColumn = "unknown-column",
    /// The worksheet was made from another version of the catalog.
    CatalogVersion = "catalog-version",
    // --- PDF forms ---
    /// The PDF needs a password to open.
    PasswordProtected = "password-protected",
    /// The PDF has no form fields: printed to PDF or flattened.
    NoFormFields = "no-form-fields",
    /// An XFA-only (LiveCycle dynamic) form: no AcroForm fields to read.
    XfaForm = "xfa-only-form",
    /// A fillable PDF, but not the Staff User Request Form.
    UnknownForm = "unknown-form",
    /// The Staff User Request Form, but every field is empty.
    EmptyForm = "empty-form",
    /// The form was made by another version of the form template.
    FormVersion = "form-version",
    /// The Staff User Request Form, but some of its fields are gone (a viewer dropped them).
    FormFieldsMissing = "form-fields-missing",
    /// A role's library or desk is filled in, but neither Add nor Remove is ticked.
    RoleNotTicked = "role-not-ticked",
    // --- the requester ---
    /// Requester name or email is missing from the requester block.
    RequesterMissing = "requester-missing",
    /// The requester is not a registered coordinator of the institution.
    NotCoordinator = "requester-not-coordinator",
    /// The worksheet came by email from another address than its requester block names; the
    /// sender is taken as the requester.
    RequesterNotSender = "requester-not-sender",
    /// An email whose sender cannot be established: several `From` fields, several mailboxes
    /// in one `From` without a `Sender`, or a `Sender` that is not the `From` address. The
    /// message is quarantined; no line of it is read.
    SenderAmbiguous = "sender-ambiguous",
    /// An email whose sender (or `Reply-To`) address cannot be answered: a domain literal,
    /// a quoted or routed local part, an empty label, a control or invisible character. The
    /// message is quarantined; no line of it is read.
    SenderUnanswerable = "sender-unanswerable",
    // --- fields of one request line ---
    /// A field that the action needs is empty.
    MissingField = "missing-field",
    /// The action is not Add, Modify or Delete.
    UnknownAction = "unknown-action",
    /// The email address is not a valid address.
    InvalidEmail = "invalid-email",
    /// The account type is not Internal or External.
    InvalidAccountType = "invalid-account-type",
    /// A date that cannot be read, or an expiry date in the past.
    InvalidDate = "invalid-date",
    /// A numeric primary ID may have lost its leading zeros in the spreadsheet.
    IdLeadingZeros = "id-leading-zeros",
    /// A primary ID with characters no ID has (`=cmd|...`), or not of the institution's form.
    InvalidPrimaryId = "invalid-primary-id",
    /// The institution code is not in the catalog.
    UnknownInstitution = "unknown-institution",
    /// The library is not one of that institution's libraries.
    UnknownLibrary = "library-not-in-institution",
    /// The role is not in the catalog.
    UnknownRole = "unknown-role",
    /// The role profile is not in the catalog.
    UnknownProfile = "unknown-profile",
    /// The role needs a library (scope) and none was given.
    ScopeRequired = "scope-required",
    /// The role needs a circulation desk or service unit and none was given.
    ParameterRequired = "parameter-required",
    /// The circulation desk or service unit is not in that library.
    UnknownParameter = "parameter-not-in-library",
    /// A desk or service unit was given for a role that takes none.
    UnexpectedParameter = "parameter-not-used",
    /// The add/remove column holds something other than Add or Remove.
    InvalidChange = "invalid-role-change",
    /// The same person appears with requests that contradict each other.
    Conflict = "conflicting-requests",
    /// The same role is asked for twice for one person.
    DuplicateRole = "duplicate-role",
    /// Delete combined with roles to add.
    DeleteWithRoles = "delete-with-roles",
    /// Patron was requested or removed; it is kept automatically.
    PatronImplicit = "patron-implicit",
    /// The account looks generic or shared.
    GenericAccount = "generic-account",
    /// A privileged role: accepted only with the help desk's approval.
    NeedsApproval = "needs-approval",
    /// Two roles one person may not hold together (`[[separation_of_duties]]`): the line
    /// waits for approval, as an exception.
    SeparationOfDuties = "separation-of-duties",
    // --- against the account state ---
    /// Add for an account that already exists: its roles are added (a Modify).
    AccountExists = "account-exists",
    /// A role to add is already held: nothing to do.
    AlreadyHasRole = "already-has-role",
    /// A role to remove is not held (or Delete on an account with no staff roles).
    RoleNotHeld = "role-not-held",
    /// Modify, Delete or Restore for an account the state does not know.
    UnknownAccount = "unknown-account",
    /// The account belongs to another institution.
    OtherInstitution = "other-institution-account",
    /// A name or email change for an external account: the SIS feed owns those fields.
    ExternalFieldChange = "external-field-change",
    /// A Modify changes an internal account's name or email (`update_account`).
    AccountUpdate = "account-update",
    /// The request would take the institution past its named-user allotment.
    OverAllotment = "over-allotment",
    /// Restore for an account with no suspended roles.
    NothingSuspended = "nothing-suspended",
}

impl Rule {
    /// True for the rules that say the file as a whole could not be read (a damaged
    /// or oversized file, no Accounts sheet, a PDF that is not a filled request form).
    pub fn means_unreadable(self) -> bool {
        matches!(
            self,
            Rule::Unreadable
                | Rule::TooLarge
                | Rule::NoHeader
                | Rule::PasswordProtected
                | Rule::NoFormFields
                | Rule::XfaForm
                | Rule::UnknownForm
                | Rule::EmptyForm
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One thing to tell the requester, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Stable rule code.
    pub rule: Rule,
    /// Where it is, as the person sees it.
    pub location: Location,
    /// What is wrong, in plain words.
    pub message: String,
    /// How to fix it, when Rolecall can tell ("did you mean ...?").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Finding {
    /// An error finding.
    pub fn error(rule: Rule, location: Location, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            rule,
            location,
            message: message.into(),
            suggestion: None,
        }
    }

    /// A warning finding.
    pub fn warning(rule: Rule, location: Location, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            rule,
            location,
            message: message.into(),
            suggestion: None,
        }
    }

    /// The same finding with a suggestion attached.
    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{}] {}",
            self.location, self.severity, self.rule, self.message
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_codes_are_unique() {
        let mut codes: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        codes.sort();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len());
    }
}
