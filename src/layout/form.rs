//! The Staff User Request Form's field names: one definition shared by the PDF template
//! (`template::form`), the form reader (`read::request_form`) and `docs/form-fields.md`.
//!
//! Names are hierarchical, parents joined with `.`, exactly as a PDF viewer or
//! `rolecall inspect` shows them. They are a public contract: third-party tools fill forms
//! by these names, so never rename one; add new names instead and keep reading the old.
//!
//! | name | type | values |
//! |---|---|---|
//! | `requester.name`, `requester.email`, `requester.phone` | text | |
//! | `requester.institution` | combo | institution code (export value) |
//! | `requester.date` | text | `YYYY-MM-DD` |
//! | `person.action` | radio | `Add`, `Modify`, `Delete`, `Restore` (or `Off`) |
//! | `person.primary_id`, `person.last_name`, `person.first_name`, `person.email`, `person.position` | text | |
//! | `person.account_type` | radio | `Internal`, `External` (or `Off`) |
//! | `person.expiry` | text | `YYYY-MM-DD` |
//! | `role.<code>.add`, `role.<code>.remove` | check box | on-state `Yes` |
//! | `role.<code>.library` | combo (editable) | library code; only for roles scoped to a library |
//! | `role.<code>.unit` | combo (editable) | desk or service-unit code; only for roles with a parameter |
//! | `profile` | combo | profile name, or empty |
//! | `profile_library`, `profile_unit` | combo (editable) | library / desk or service-unit code for the profile |
//! | `notes` | multi-line text | |
//! | `form.version` | hidden text | [`FORM_VERSION`] |
//! | `form.catalog_version` | hidden text | the catalog version the form was made from |

use super::Field;

/// The form version written into `form.version` by the template.
pub const FORM_VERSION: &str = "rolecall-form/1";

/// The on-state (export value) of every check box of the form.
pub const CHECKBOX_ON: &str = "Yes";

/// Requester's full name.
pub const REQUESTER_NAME: &str = "requester.name";
/// Requester's email: must be a registered coordinator.
pub const REQUESTER_EMAIL: &str = "requester.email";
/// Requester's phone (optional).
pub const REQUESTER_PHONE: &str = "requester.phone";
/// Institution code the request is for. The combo's export values are the codes and its
/// display texts `CODE — Name`; pdf-lib writes the display text as the value, so accept both.
pub const REQUESTER_INSTITUTION: &str = "requester.institution";
/// Date of the request (`YYYY-MM-DD`), informational.
pub const REQUESTER_DATE: &str = "requester.date";

/// Radio group: `Add`, `Modify`, `Delete` or `Restore` (put back the roles the inactivity
/// audit suspended).
pub const PERSON_ACTION: &str = "person.action";
/// The on-states of [`PERSON_ACTION`], in the order the form shows them.
pub const ACTIONS: [&str; 4] = ["Add", "Modify", "Delete", "Restore"];
/// Alma primary identifier.
pub const PERSON_PRIMARY_ID: &str = "person.primary_id";
/// Family name.
pub const PERSON_LAST_NAME: &str = "person.last_name";
/// Given name.
pub const PERSON_FIRST_NAME: &str = "person.first_name";
/// The person's email.
pub const PERSON_EMAIL: &str = "person.email";
/// Radio group: `Internal` or `External`.
pub const PERSON_ACCOUNT_TYPE: &str = "person.account_type";
/// The on-states of [`PERSON_ACCOUNT_TYPE`].
pub const ACCOUNT_TYPES: [&str; 2] = ["Internal", "External"];
/// Job title / position (informational, carried into notes).
pub const PERSON_POSITION: &str = "person.position";
/// Expiry date of the roles (`YYYY-MM-DD`).
pub const PERSON_EXPIRY: &str = "person.expiry";

/// Role profile to apply (combo box of profile names).
pub const PROFILE: &str = "profile";
/// Library for the profile's library-scoped roles (editable combo).
pub const PROFILE_LIBRARY: &str = "profile_library";
/// Desk or service unit for the profile's roles that need one (editable combo).
pub const PROFILE_UNIT: &str = "profile_unit";
/// Free-text notes (multi-line).
pub const NOTES: &str = "notes";
/// Hidden: [`FORM_VERSION`].
pub const FORM_VERSION_FIELD: &str = "form.version";
/// Hidden: the catalog version the form was generated from.
pub const CATALOG_VERSION_FIELD: &str = "form.catalog_version";

/// What a per-role field is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RolePart {
    /// Check box: grant the role.
    Add,
    /// Check box: take the role away.
    Remove,
    /// Combo: library code the role is scoped to.
    Library,
    /// Combo: circulation desk or service unit code.
    Unit,
}

impl RolePart {
    /// Every part, in the order the form lays them out.
    pub const ALL: [RolePart; 4] = [
        RolePart::Add,
        RolePart::Remove,
        RolePart::Library,
        RolePart::Unit,
    ];

    /// The last segment of the field name.
    pub fn suffix(self) -> &'static str {
        match self {
            RolePart::Add => "add",
            RolePart::Remove => "remove",
            RolePart::Library => "library",
            RolePart::Unit => "unit",
        }
    }
}

/// The full name of a per-role field: `role.32.add`.
pub fn role_field(code: u32, part: RolePart) -> String {
    format!("role.{code}.{}", part.suffix())
}

/// Splits a per-role field name back into role code and part: `role.32.add` → `(32, Add)`.
pub fn parse_role_field(name: &str) -> Option<(u32, RolePart)> {
    let rest = name.strip_prefix("role.")?;
    let (code, suffix) = rest.split_once('.')?;
    let code = code.parse().ok()?;
    let part = RolePart::ALL.into_iter().find(|p| p.suffix() == suffix)?;
    Some((code, part))
}

/// The person block's fields that fill a request line's columns; every line of a form
/// carries them.
pub const PERSON_COLUMNS: [(&str, Field); 7] = [
    (PERSON_ACTION, Field::Action),
    (PERSON_PRIMARY_ID, Field::PrimaryId),
    (PERSON_LAST_NAME, Field::LastName),
    (PERSON_FIRST_NAME, Field::FirstName),
    (PERSON_EMAIL, Field::Email),
    (PERSON_ACCOUNT_TYPE, Field::AccountType),
    (PERSON_EXPIRY, Field::Expiry),
];

/// The form field that holds a column's value on a request line read from a form, whose
/// line is located at `line_field` (the ticked `role.32.add`, `profile`, or `person.action`).
/// Used to point at an *empty* field: "form field person.primary_id".
pub fn field_for(field: Field, line_field: &str) -> Option<String> {
    if let Some((name, _)) = PERSON_COLUMNS.iter().find(|(_, c)| *c == field) {
        return Some(name.to_string());
    }
    let role = parse_role_field(line_field).map(|(code, _)| code);
    match (field, role) {
        (Field::Role | Field::Change, Some(code)) => Some(role_field(code, RolePart::Add)),
        (Field::Library, Some(code)) => Some(role_field(code, RolePart::Library)),
        (Field::Unit, Some(code)) => Some(role_field(code, RolePart::Unit)),
        (Field::Profile, _) => Some(PROFILE.to_string()),
        (Field::Library, None) if line_field == PROFILE => Some(PROFILE_LIBRARY.to_string()),
        (Field::Unit, None) if line_field == PROFILE => Some(PROFILE_UNIT.to_string()),
        (Field::Notes, _) => Some(NOTES.to_string()),
        (Field::Institution, _) => Some(REQUESTER_INSTITUTION.to_string()),
        _ => None,
    }
}

/// The label the blank form prints beside a fixed field (`person.first_name` → `First
/// name`), for replies that speak the form's language.
pub fn fixed_label(name: &str) -> Option<&'static str> {
    Some(match name {
        REQUESTER_NAME => "Your name",
        REQUESTER_EMAIL => "Your email",
        REQUESTER_PHONE => "Your phone",
        REQUESTER_INSTITUTION => "Institution",
        REQUESTER_DATE => "Date",
        PERSON_ACTION => "What to do",
        PERSON_PRIMARY_ID => "Primary ID (Alma)",
        PERSON_LAST_NAME => "Last name",
        PERSON_FIRST_NAME => "First name",
        PERSON_EMAIL => "Email",
        PERSON_ACCOUNT_TYPE => "Account type",
        PERSON_POSITION => "Position / job title",
        PERSON_EXPIRY => "Roles expire on",
        PROFILE => "Role profile",
        PROFILE_LIBRARY => "Role profile — Library",
        PROFILE_UNIT => "Role profile — Desk or service unit",
        NOTES => "Notes",
        FORM_VERSION_FIELD => "Form version",
        CATALOG_VERSION_FIELD => "Catalog version",
        _ => return None,
    })
}

/// A field as the form shows it: `First name`, `Circulation Desk Manager — Remove`;
/// `role_name` gives a role's name from its code (the catalog's). `None` for a field the
/// form does not have.
pub fn label(name: &str, role_name: impl Fn(u32) -> Option<String>) -> Option<String> {
    if let Some(fixed) = fixed_label(name) {
        return Some(fixed.to_string());
    }
    let (code, part) = parse_role_field(name)?;
    let role = role_name(code).unwrap_or_else(|| format!("Role {code}"));
    let part = match part {
        RolePart::Add => "Add",
        RolePart::Remove => "Remove",
        RolePart::Library => "Library",
        RolePart::Unit => "Desk or service unit",
    };
    Some(format!("{role} \u{2014} {part}"))
}

/// Where something is, in the words of the person who filled it: a form field by the label
/// the form prints (`Circulation Desk Manager — Remove`), anything else as it is.
pub fn place(location: &crate::location::Location, catalog: &crate::catalog::Catalog) -> String {
    match location {
        crate::location::Location::FormField { name } => label(name, |code| {
            catalog.role_by_code(code).map(|r| r.name.clone())
        })
        .unwrap_or_else(|| location.to_string()),
        other => other.to_string(),
    }
}

/// Every fixed (not per-role) field name, for "is this our form?" checks and the docs.
pub const FIXED_FIELDS: [&str; 19] = [
    REQUESTER_NAME,
    REQUESTER_EMAIL,
    REQUESTER_PHONE,
    REQUESTER_INSTITUTION,
    REQUESTER_DATE,
    PERSON_ACTION,
    PERSON_PRIMARY_ID,
    PERSON_LAST_NAME,
    PERSON_FIRST_NAME,
    PERSON_EMAIL,
    PERSON_ACCOUNT_TYPE,
    PERSON_POSITION,
    PERSON_EXPIRY,
    PROFILE,
    PROFILE_LIBRARY,
    PROFILE_UNIT,
    NOTES,
    FORM_VERSION_FIELD,
    CATALOG_VERSION_FIELD,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_field_names_round_trip() {
        for part in RolePart::ALL {
            let name = role_field(32, part);
            assert_eq!(parse_role_field(&name), Some((32, part)));
        }
        assert_eq!(role_field(32, RolePart::Add), "role.32.add");
        assert_eq!(parse_role_field("role.x.add"), None);
        assert_eq!(parse_role_field("role.32.other"), None);
        assert_eq!(parse_role_field("person.email"), None);
    }

    #[test]
    fn fields_are_named_as_the_form_prints_them() {
        let names = |code: u32| (code == 221).then(|| "Circulation Desk Manager".to_string());
        assert_eq!(
            label("role.221.remove", names).as_deref(),
            Some("Circulation Desk Manager \u{2014} Remove")
        );
        assert_eq!(
            label("person.first_name", names).as_deref(),
            Some("First name")
        );
        assert_eq!(
            label("role.9.unit", names).as_deref(),
            Some("Role 9 \u{2014} Desk or service unit")
        );
        assert_eq!(label("other", names), None);
    }

    #[test]
    fn an_empty_field_is_found_by_its_form_field_name() {
        assert_eq!(
            field_for(Field::PrimaryId, "role.32.add").as_deref(),
            Some("person.primary_id")
        );
        assert_eq!(
            field_for(Field::Unit, "role.32.add").as_deref(),
            Some("role.32.unit")
        );
        assert_eq!(field_for(Field::Library, "person.action"), None);
    }
}
