//! The Accounts Worksheet layout: one definition shared by the blank template, the reader
//! and the result workbook, so that a result workbook can be corrected and sent back.
//!
//! Layout (see `docs/worksheet.md`): sheet `Accounts`; a requester block in the first rows
//! (label in column A, value in column B); then one header row and **one row per role**.
//! A person who gets several roles takes several rows with the same Primary ID; name and
//! email need only be filled on the first of them. A Role cell may also hold several roles
//! separated by `;` or line breaks when they share the row's library and desk.

pub mod form;

/// Name of the sheet that holds the requests.
pub const ACCOUNTS_SHEET: &str = "Accounts";
/// Name of the sheet with instructions.
pub const INSTRUCTIONS_SHEET: &str = "Instructions";
/// Name of the hidden sheet holding the drop-down lists.
pub const LISTS_SHEET: &str = "Lists";

/// 1-based row of the header in the sheets Rolecall writes (the reader looks anywhere in the
/// first [`HEADER_SEARCH_ROWS`] rows).
pub const HEADER_ROW: u32 = 8;
/// How many rows from the top the reader searches for the header row.
pub const HEADER_SEARCH_ROWS: u32 = 30;

/// A field of the requester block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequesterField {
    /// Requester's full name.
    Name,
    /// Requester's email address: must be a registered coordinator.
    Email,
    /// Institution code the requests are for (the default for every line).
    Institution,
    /// Phone number (optional).
    Phone,
    /// Catalog version stamp written by the template.
    CatalogVersion,
}

impl RequesterField {
    /// Block rows in the order the template writes them (row 2 onwards).
    pub const ALL: [RequesterField; 5] = [
        RequesterField::Name,
        RequesterField::Email,
        RequesterField::Institution,
        RequesterField::Phone,
        RequesterField::CatalogVersion,
    ];

    /// The label written in column A.
    pub fn label(self) -> &'static str {
        match self {
            RequesterField::Name => "Requester name",
            RequesterField::Email => "Requester email",
            RequesterField::Institution => "Institution",
            RequesterField::Phone => "Requester phone",
            RequesterField::CatalogVersion => "Catalog version",
        }
    }

    /// Labels accepted when reading (compared after [`normalize_header`]).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            RequesterField::Name => &[
                "requestername",
                "requestedby",
                "yourname",
                "coordinatorname",
                "submittedby",
            ],
            RequesterField::Email => &[
                "requesteremail",
                "requesteremailaddress",
                "youremail",
                "coordinatoremail",
                "submitteremail",
            ],
            RequesterField::Institution => {
                &["institution", "institutioncode", "requesterinstitution"]
            }
            RequesterField::Phone => &["requesterphone", "phone", "yourphone", "telephone"],
            RequesterField::CatalogVersion => &["catalogversion", "templateversion"],
        }
    }

    /// 1-based row the template writes this field on.
    pub fn template_row(self) -> u32 {
        2 + RequesterField::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or(0) as u32
    }
}

/// A column of the Accounts sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Add, Modify or Delete.
    Action,
    /// Alma primary identifier.
    PrimaryId,
    /// Family name.
    LastName,
    /// Given name.
    FirstName,
    /// The person's email.
    Email,
    /// Internal or External.
    AccountType,
    /// Institution code (defaults to the requester block's).
    Institution,
    /// A role profile to apply.
    Profile,
    /// One or several roles.
    Role,
    /// Add or Remove (for Modify); Add when empty.
    Change,
    /// Library code (the role's scope).
    Library,
    /// Circulation desk or service unit code.
    Unit,
    /// Role expiry date.
    Expiry,
    /// Free text.
    Notes,
}

impl Field {
    /// Columns in template order.
    pub const ALL: [Field; 14] = [
        Field::Action,
        Field::PrimaryId,
        Field::LastName,
        Field::FirstName,
        Field::Email,
        Field::AccountType,
        Field::Institution,
        Field::Profile,
        Field::Role,
        Field::Change,
        Field::Library,
        Field::Unit,
        Field::Expiry,
        Field::Notes,
    ];

    /// The heading the template writes.
    pub fn header(self) -> &'static str {
        match self {
            Field::Action => "Action",
            Field::PrimaryId => "Primary ID",
            Field::LastName => "Last name",
            Field::FirstName => "First name",
            Field::Email => "Email",
            Field::AccountType => "Account type",
            Field::Institution => "Institution",
            Field::Profile => "Role profile",
            Field::Role => "Role",
            Field::Change => "Add or remove",
            Field::Library => "Library",
            Field::Unit => "Circulation desk / service unit",
            Field::Expiry => "Expiry date",
            Field::Notes => "Notes",
        }
    }

    /// Headings accepted when reading, after [`normalize_header`]; the first is the template's.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Action => &[
                "action",
                "requesttype",
                "request",
                "operation",
                "addmodifydelete",
                "actiontype",
            ],
            Field::PrimaryId => &[
                "primaryid",
                "primaryidentifier",
                "userid",
                "id",
                "useridentifier",
                "employeeid",
                "almaid",
                "univid",
                "netid",
                "uid",
            ],
            Field::LastName => &["lastname", "surname", "familyname"],
            Field::FirstName => &["firstname", "givenname", "forename"],
            Field::Email => &[
                "email",
                "emailaddress",
                "useremail",
                "staffemail",
                "preferredemail",
            ],
            Field::AccountType => &["accounttype", "internalexternal", "accttype"],
            Field::Institution => &["institution", "institutioncode", "inst", "campus"],
            Field::Profile => &["roleprofile", "profile", "profilename"],
            Field::Role => &[
                "role",
                "roles",
                "rolename",
                "almarole",
                "almaroles",
                "roletype",
            ],
            Field::Change => &[
                "addorremove",
                "addremove",
                "rolechange",
                "change",
                "roleaction",
            ],
            Field::Library => &[
                "library",
                "librarycode",
                "scope",
                "rolescope",
                "libraryscope",
            ],
            Field::Unit => &[
                "circulationdeskserviceunit",
                "circulationdesk",
                "desk",
                "serviceunit",
                "deskserviceunit",
                "deskorserviceunit",
                "parameter",
                "circdesk",
            ],
            Field::Expiry => &[
                "expirydate",
                "expiry",
                "expirationdate",
                "expires",
                "roleexpirydate",
                "enddate",
            ],
            Field::Notes => &["notes", "note", "comments", "comment", "remarks"],
        }
    }

    /// Column width in the template (characters).
    pub fn width(self) -> f64 {
        match self {
            Field::Action | Field::Change | Field::AccountType => 13.0,
            Field::PrimaryId => 16.0,
            Field::LastName | Field::FirstName => 16.0,
            Field::Email => 30.0,
            Field::Institution => 18.0,
            Field::Profile => 30.0,
            Field::Role => 34.0,
            Field::Library => 14.0,
            Field::Unit => 24.0,
            Field::Expiry => 13.0,
            Field::Notes => 30.0,
        }
    }

    /// 1-based column the template writes this field in.
    pub fn template_col(self) -> u32 {
        1 + Field::ALL.iter().position(|f| *f == self).unwrap_or(0) as u32
    }

    /// The field whose aliases include this normalised heading.
    pub fn from_header(header: &str) -> Option<Field> {
        let key = normalize_header(header);
        if key.is_empty() {
            return None;
        }
        Field::ALL
            .into_iter()
            .find(|f| f.aliases().contains(&key.as_str()))
    }
}

/// Headings compared without case, spaces or punctuation: `"E-mail address "` → `emailaddress`.
pub fn normalize_header(text: &str) -> String {
    crate::catalog::lookup_key(text)
}

/// Extra columns the result workbook adds after the request columns; the reader ignores them.
pub const STATUS_HEADER: &str = "Status";
/// Column of messages in the result workbook.
pub const MESSAGES_HEADER: &str = "Messages";
/// Column of the "done" email's result workbook: what became of each line in Alma.
pub const DONE_HEADER: &str = "Done";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_match_whatever_the_spacing_and_case() {
        assert_eq!(Field::from_header(" E-mail Address "), Some(Field::Email));
        assert_eq!(Field::from_header("PRIMARY_ID"), Some(Field::PrimaryId));
        assert_eq!(
            Field::from_header("Circulation desk / service unit"),
            Some(Field::Unit)
        );
        assert_eq!(Field::from_header("Status"), None);
    }

    #[test]
    fn every_template_header_is_its_own_first_alias() {
        for f in Field::ALL {
            assert_eq!(f.aliases()[0], normalize_header(f.header()), "{f:?}");
        }
        for f in RequesterField::ALL {
            assert!(
                f.aliases().contains(&normalize_header(f.label()).as_str()),
                "{f:?}"
            );
        }
    }
}
