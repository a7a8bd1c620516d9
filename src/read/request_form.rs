//! From the fields of a filled Staff User Request Form to a [`Document`]: the same request
//! lines a worksheet gives, each value located by its form field name
//! (`form field person.email`), so validation, change sets and reports never care where a
//! line came from.
//!
//! One form is one person. Each role whose Add or Remove box is ticked becomes one request
//! line (with the role's library and desk); a chosen role profile is one more line; a form
//! with neither (a Delete, say) is one line for the person. The field names are the contract
//! in [`crate::layout::form`] (`docs/form-fields.md`).
//!
//! This stage also tells apart the forms that are fillable but not ours (`unknown-form`),
//! ours but empty (`empty-form`), ours from another form version (`form-version`), and ours
//! with fields a viewer dropped (`form-fields-missing`).

use super::form::{FieldKind, FieldValue, Form, FormField};
use crate::catalog::Catalog;
use crate::document::{Document, RequestRow, Value, ValueKind, Values};
use crate::finding::{Finding, Rule};
use crate::layout::form::{self as names, RolePart};
use crate::layout::{Field, RequesterField};
use crate::location::Location;
use std::collections::BTreeMap;

/// The requester block's fields.
const REQUESTER_FIELDS: [(&str, RequesterField); 5] = [
    (names::REQUESTER_NAME, RequesterField::Name),
    (names::REQUESTER_EMAIL, RequesterField::Email),
    (names::REQUESTER_PHONE, RequesterField::Phone),
    (names::REQUESTER_INSTITUTION, RequesterField::Institution),
    (names::CATALOG_VERSION_FIELD, RequesterField::CatalogVersion),
];

/// How many unknown field names an `unknown-form` message quotes.
const QUOTED_NAMES: usize = 5;

/// Builds the request lines of a filled Staff User Request Form.
///
/// The catalog only names the roles (a line says "Circulation Desk Operator (32)", not
/// "32"); whether a role, library or desk is right is validation's business.
pub fn build_document(form: &Form, catalog: &Catalog) -> Document {
    let fields = Fields::new(form);
    let mut doc = Document::default();
    if !fields.is_request_form() {
        doc.findings.push(unknown_form(form));
        return doc;
    }
    if fields.all_empty() {
        doc.findings.push(empty_form());
        return doc;
    }
    doc.findings.extend(missing_fields(&fields));
    doc.findings.extend(version_warning(&fields));
    doc.requester = requester(&fields);
    let person = person(&fields);
    for role in roles(&fields, &mut doc.findings) {
        doc.rows.push(role_row(role, &person, catalog));
    }
    doc.rows.extend(profile_row(&fields, &person));
    if doc.rows.is_empty() {
        // No role and no profile: one line for the person (a Delete, or a mistake that
        // validation will name on the right field).
        doc.rows.push(RequestRow {
            location: Location::FormField {
                name: names::PERSON_ACTION.to_string(),
            },
            values: person,
        });
    }
    doc
}

/// `empty-form`: every field is empty.
fn empty_form() -> Finding {
    Finding::error(
        Rule::EmptyForm,
        Location::File,
        "Every field of this form is empty: it was sent before it was filled in, or \
         the program that saved it did not keep the values.",
    )
    .suggest(
        "Fill in the form in a PDF reader (Adobe Acrobat Reader, or a web browser), \
         use Save, check that the values are still there when you open it again, and \
         send it.",
    )
}

/// `form-fields-missing`: some of our fixed fields are gone (a viewer dropped them).
fn missing_fields(fields: &Fields) -> Option<Finding> {
    let missing: Vec<&str> = names::FIXED_FIELDS
        .iter()
        .copied()
        .filter(|n| !fields.by_name.contains_key(n))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let shown: Vec<&str> = missing.iter().copied().take(QUOTED_NAMES).collect();
    let more = if missing.len() > QUOTED_NAMES {
        ", ..."
    } else {
        ""
    };
    let finding = Finding::warning(
        Rule::FormFieldsMissing,
        Location::File,
        format!(
            "This form lacks {} of the Staff User Request Form's fields ({}{more}): \
             the program that saved it may have dropped them.",
            missing.len(),
            shown.join(", ")
        ),
    )
    .suggest(
        "If values you typed are missing below, fill in the form in Adobe Acrobat \
         Reader or a web browser and send it again.",
    );
    Some(finding)
}

/// `form-version`: the form says it is another version than the one this Rolecall reads.
fn version_warning(fields: &Fields) -> Option<Finding> {
    let v = fields.value(names::FORM_VERSION_FIELD)?;
    if v.text == names::FORM_VERSION {
        return None;
    }
    let finding = Finding::warning(
        Rule::FormVersion,
        v.location.clone(),
        format!(
            "This form is {}; this Rolecall reads {}. Fields may have moved or been \
             renamed.",
            v.text,
            names::FORM_VERSION
        ),
    )
    .suggest("If anything below looks wrong, fill in a new blank form and send that.");
    Some(finding)
}

/// The requester block (the institution as its export value: the code).
fn requester(fields: &Fields) -> BTreeMap<RequesterField, Value> {
    let mut block = BTreeMap::new();
    for (name, field) in REQUESTER_FIELDS {
        if let Some(mut v) = fields.value(name) {
            if field == RequesterField::Institution {
                v.text = fields.export_value(name, &v.text);
            }
            block.insert(field, v);
        }
    }
    block
}

/// The person's fields, shared by every line of the form.
fn person(fields: &Fields) -> Values {
    let mut person = Values::new();
    for (name, field) in names::PERSON_COLUMNS {
        if let Some(v) = fields.value(name) {
            person.insert(field, v);
        }
    }
    if let Some(notes) = notes(fields) {
        person.insert(Field::Notes, notes);
    }
    person
}

/// One ticked role's line: the person's fields, the role as the catalog names it, the
/// change, and the role's own library and desk; located at the ticked box.
fn role_row(role: TickedRole, person: &Values, catalog: &Catalog) -> RequestRow {
    let mut values = person.clone();
    let role_text = match catalog.role_by_code(role.code) {
        Some(r) => format!("{} ({})", r.name, r.code),
        None => role.code.to_string(),
    };
    values.insert(
        Field::Role,
        located(role_text, &role.ticked, ValueKind::Text),
    );
    values.insert(
        Field::Change,
        located(role.change.to_string(), &role.ticked, ValueKind::Text),
    );
    if let Some(v) = role.library {
        values.insert(Field::Library, v);
    }
    if let Some(v) = role.unit {
        values.insert(Field::Unit, v);
    }
    RequestRow {
        location: Location::FormField { name: role.ticked },
        values,
    }
}

/// The chosen role profile's line, with its library and desk (export values: codes).
fn profile_row(fields: &Fields, person: &Values) -> Option<RequestRow> {
    let mut profile = fields.value(names::PROFILE)?;
    profile.text = fields.export_value(names::PROFILE, &profile.text);
    let mut values = person.clone();
    values.insert(Field::Profile, profile);
    for (name, field) in [
        (names::PROFILE_LIBRARY, Field::Library),
        (names::PROFILE_UNIT, Field::Unit),
    ] {
        if let Some(mut v) = fields.value(name) {
            v.text = fields.export_value(name, &v.text);
            values.insert(field, v);
        }
    }
    Some(RequestRow {
        location: Location::FormField {
            name: names::PROFILE.to_string(),
        },
        values,
    })
}

/// One ticked role.
struct TickedRole {
    code: u32,
    /// The ticked box's field name: the line's location.
    ticked: String,
    change: &'static str,
    library: Option<Value>,
    unit: Option<Value>,
}

/// The ticked roles in form order; a role with both boxes ticked gives two lines (validation
/// reports the conflict); details of an unticked role are a warning.
fn roles(fields: &Fields, findings: &mut Vec<Finding>) -> Vec<TickedRole> {
    let mut codes: Vec<u32> = Vec::new();
    for f in &fields.form.fields {
        if let Some((code, _)) = names::parse_role_field(&f.name)
            && !codes.contains(&code)
        {
            codes.push(code);
        }
    }
    let mut out = Vec::new();
    for code in codes {
        let detail = |part| {
            let name = names::role_field(code, part);
            fields.value(&name).map(|mut v| {
                v.text = fields.export_value(&name, &v.text);
                v
            })
        };
        let library = detail(RolePart::Library);
        let unit = detail(RolePart::Unit);
        let mut any = false;
        for (part, change) in [(RolePart::Add, "Add"), (RolePart::Remove, "Remove")] {
            let name = names::role_field(code, part);
            if fields.is_ticked(&name) {
                any = true;
                out.push(TickedRole {
                    code,
                    ticked: name,
                    change,
                    library: library.clone(),
                    unit: unit.clone(),
                });
            }
        }
        if !any && let Some(v) = library.as_ref().or(unit.as_ref()) {
            findings.push(
                Finding::warning(
                    Rule::RoleNotTicked,
                    v.location.clone(),
                    format!(
                        "\"{}\" is filled in for role {code}, but neither Add nor Remove is \
                         ticked, so the role is left as it is.",
                        v.text
                    ),
                )
                .suggest("Tick Add or Remove for the role, or clear its library and desk."),
            );
        }
    }
    out
}

/// Notes, with the position (which has no column of its own) in front.
fn notes(fields: &Fields) -> Option<Value> {
    let notes = fields.value(names::NOTES);
    let position = fields.value(names::PERSON_POSITION);
    match (position, notes) {
        (None, notes) => notes,
        (Some(p), None) => Some(Value {
            text: format!("Position: {}", p.text),
            ..p
        }),
        (Some(p), Some(n)) => Some(Value {
            text: format!("Position: {}. {}", p.text, n.text),
            ..n
        }),
    }
}

fn located(text: String, field: &str, kind: ValueKind) -> Value {
    Value {
        text,
        location: Location::FormField {
            name: field.to_string(),
        },
        kind,
    }
}

/// The form's fields by name, with the look-ups the mapping needs.
struct Fields<'a> {
    form: &'a Form,
    by_name: BTreeMap<&'a str, &'a FormField>,
}

impl<'a> Fields<'a> {
    fn new(form: &'a Form) -> Self {
        let mut by_name = BTreeMap::new();
        for f in &form.fields {
            // The first field of a name wins, as in PDF viewers.
            by_name.entry(f.name.as_str()).or_insert(f);
        }
        Fields { form, by_name }
    }

    /// True when at least one field has a name only the Staff User Request Form uses: a
    /// `requester.` or `person.` field or a role's box (`notes` or `profile` alone could be
    /// anyone's form).
    fn is_request_form(&self) -> bool {
        self.by_name.keys().any(|n| {
            names::FIXED_FIELDS.contains(n)
                && (n.starts_with("requester.") || n.starts_with("person."))
                || names::parse_role_field(n).is_some()
        })
    }

    /// True when no field a person fills in holds anything.
    fn all_empty(&self) -> bool {
        self.form
            .fields
            .iter()
            .filter(|f| !f.name.starts_with("form."))
            .all(|f| text_of(f).is_none())
    }

    /// A field's value as a trimmed, non-empty text with its location; a check box or radio
    /// group that is off is no value.
    fn value(&self, name: &str) -> Option<Value> {
        let field = self.by_name.get(name)?;
        let text = text_of(field)?;
        let kind = match field.kind {
            Some(FieldKind::Checkbox | FieldKind::Radio) => ValueKind::Bool,
            _ => ValueKind::Text,
        };
        Some(located(text, name, kind))
    }

    /// A ticked check box: any on-state counts (`Yes`, `On`, a custom export value).
    fn is_ticked(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|f| text_of(f).is_some())
    }

    /// The export value of a choice whose value a tool wrote as the display text
    /// ("01FALSC_GCSU — Gulf Coast State University" → "01FALSC_GCSU").
    fn export_value(&self, name: &str, text: &str) -> String {
        let Some(field) = self.by_name.get(name) else {
            return text.to_string();
        };
        field
            .options
            .iter()
            .find(|(export, display)| export != display && display.trim() == text)
            .map(|(export, _)| export.trim().to_string())
            .unwrap_or_else(|| text.to_string())
    }
}

/// The text of a field's value; `None` when empty, unset or off. A button with no value of
/// its own counts as what its widgets show.
fn text_of(field: &FormField) -> Option<String> {
    if let Some(shown) = &field.shown {
        return Some(shown.clone());
    }
    let text = match field.value.as_ref()? {
        FieldValue::Text(t) => t.trim().to_string(),
        // A multi-select list: the form has none, but a value is a value.
        FieldValue::List(items) => items
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let button = matches!(field.kind, Some(FieldKind::Checkbox | FieldKind::Radio));
    // pypdf writes a radio group's value as the string "(/Add)" instead of the name /Add.
    let text = if button {
        text.trim_start_matches('/').to_string()
    } else {
        text
    };
    let off = button && text.eq_ignore_ascii_case("off");
    (!text.is_empty() && !off).then_some(text)
}

fn unknown_form(form: &Form) -> Finding {
    let found: Vec<String> = form
        .fields
        .iter()
        .take(QUOTED_NAMES)
        .map(|f| format!("\"{}\"", f.name))
        .collect();
    let more = if form.fields.len() > QUOTED_NAMES {
        format!(" and {} more", form.fields.len() - QUOTED_NAMES)
    } else {
        String::new()
    };
    Finding::error(
        Rule::UnknownForm,
        Location::File,
        format!(
            "This PDF form is not the Staff User Request Form: its fields are {}{more}, but \
             Rolecall expects fields named {}, {}, {} and role.<code>.add.",
            found.join(", "),
            names::PERSON_PRIMARY_ID,
            names::PERSON_LAST_NAME,
            names::REQUESTER_EMAIL,
        ),
    )
    .suggest(
        "Fill in the Staff User Request Form (ask the help desk for the blank form, or run \
         `rolecall template form`), or send the Accounts Worksheet instead.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::bundled;

    fn text(name: &str, value: &str) -> FormField {
        FormField {
            name: name.into(),
            kind: Some(FieldKind::Text),
            value: Some(FieldValue::Text(value.into())),
            states: vec![],
            shown: None,
            options: vec![],
        }
    }

    fn check(name: &str, on: bool) -> FormField {
        FormField {
            name: name.into(),
            kind: Some(FieldKind::Checkbox),
            value: Some(FieldValue::Text(if on { "Yes" } else { "Off" }.into())),
            states: vec!["Yes".into()],
            shown: None,
            options: vec![],
        }
    }

    fn radio(name: &str, value: &str) -> FormField {
        FormField {
            kind: Some(FieldKind::Radio),
            ..text(name, value)
        }
    }

    fn form(fields: Vec<FormField>) -> Form {
        Form {
            fields,
            ..Default::default()
        }
    }

    fn filled() -> Vec<FormField> {
        vec![
            text(names::REQUESTER_NAME, "Dana Whitfield"),
            text(names::REQUESTER_EMAIL, "dwhitfield@gcsu.example.edu"),
            FormField {
                options: vec![(
                    "01FALSC_GCSU".into(),
                    "01FALSC_GCSU — Gulf Coast State University".into(),
                )],
                kind: Some(FieldKind::Choice),
                ..text(
                    names::REQUESTER_INSTITUTION,
                    "01FALSC_GCSU — Gulf Coast State University",
                )
            },
            radio(names::PERSON_ACTION, "Add"),
            text(names::PERSON_PRIMARY_ID, "0012345"),
            text(names::PERSON_LAST_NAME, "Núñez"),
            text(names::PERSON_FIRST_NAME, "José"),
            radio(names::PERSON_ACCOUNT_TYPE, "Off"),
            text(names::PERSON_POSITION, "Evening supervisor"),
            check("role.32.add", true),
            check("role.32.remove", false),
            text("role.32.library", "MAIN"),
            text("role.32.unit", "DEFAULT_CIRC_DESK"),
            check("role.51.add", false),
            check("role.51.remove", false),
            text("role.51.library", "LAW"),
            text(names::FORM_VERSION_FIELD, names::FORM_VERSION),
        ]
        .into_iter()
        .chain(unset_others())
        .collect()
    }

    /// The form's other fixed fields, present and empty, as in a real form.
    fn unset_others() -> Vec<FormField> {
        let given = [
            names::REQUESTER_NAME,
            names::REQUESTER_EMAIL,
            names::REQUESTER_INSTITUTION,
            names::PERSON_ACTION,
            names::PERSON_PRIMARY_ID,
            names::PERSON_LAST_NAME,
            names::PERSON_FIRST_NAME,
            names::PERSON_ACCOUNT_TYPE,
            names::PERSON_POSITION,
            names::FORM_VERSION_FIELD,
        ];
        names::FIXED_FIELDS
            .iter()
            .filter(|n| !given.contains(n))
            .map(|n| FormField {
                value: None,
                ..text(n, "")
            })
            .collect()
    }

    #[test]
    fn each_ticked_role_is_a_line_with_the_person_and_located_values() {
        let doc = build_document(&form(filled()), &bundled());
        assert_eq!(doc.rows.len(), 1, "{doc:#?}");
        let row = &doc.rows[0];
        assert_eq!(row.text(Field::Action), Some("Add"));
        assert_eq!(row.text(Field::PrimaryId), Some("0012345"));
        assert_eq!(row.text(Field::FirstName), Some("José"));
        assert_eq!(
            row.text(Field::Role),
            Some("Circulation Desk Operator (32)")
        );
        assert_eq!(row.text(Field::Change), Some("Add"));
        assert_eq!(row.text(Field::Library), Some("MAIN"));
        assert_eq!(row.text(Field::Unit), Some("DEFAULT_CIRC_DESK"));
        assert_eq!(
            row.text(Field::AccountType),
            None,
            "an unset radio is no value"
        );
        assert_eq!(row.text(Field::Notes), Some("Position: Evening supervisor"));
        assert_eq!(
            row.values[&Field::LastName].location.to_string(),
            "form field person.last_name"
        );
        assert_eq!(
            doc.requester[&RequesterField::Institution].text,
            "01FALSC_GCSU",
            "a display text is mapped back to its export value"
        );
        // Role 51's library without a ticked box is a warning on that field.
        assert_eq!(doc.findings.len(), 1, "{:?}", doc.findings);
        assert_eq!(doc.findings[0].rule, Rule::RoleNotTicked);
        assert_eq!(
            doc.findings[0].location.to_string(),
            "form field role.51.library"
        );
    }

    #[test]
    fn a_form_that_lost_some_of_its_fields_says_which() {
        let fields: Vec<FormField> = filled()
            .into_iter()
            .filter(|f| f.name != names::PERSON_EMAIL)
            .collect();
        let doc = build_document(&form(fields), &bundled());
        let f = doc
            .findings
            .iter()
            .find(|f| f.rule == Rule::FormFieldsMissing)
            .expect("a form-fields-missing warning");
        assert!(f.message.contains("person.email"), "{}", f.message);
        assert!(!doc.is_unreadable());
    }

    #[test]
    fn a_radio_group_set_only_in_its_widgets_reads_as_what_they_show() {
        let mut fields = filled();
        let action = fields
            .iter_mut()
            .find(|f| f.name == names::PERSON_ACTION)
            .unwrap();
        action.value = Some(FieldValue::Text("Off".into()));
        action.shown = Some("Modify".into());
        let doc = build_document(&form(fields), &bundled());
        assert_eq!(doc.rows[0].text(Field::Action), Some("Modify"));
    }

    #[test]
    fn a_form_without_our_field_names_is_another_template() {
        let doc = build_document(
            &form(vec![
                text("Name", "x"),
                text("Date", "y"),
                text("notes", "z"),
            ]),
            &bundled(),
        );
        assert!(doc.rows.is_empty());
        assert_eq!(doc.findings[0].rule, Rule::UnknownForm);
        assert!(doc.findings[0].message.contains("\"Name\", \"Date\""));
        assert!(doc.is_unreadable());
    }

    #[test]
    fn our_form_with_nothing_filled_in_is_empty() {
        let mut fields: Vec<FormField> = filled()
            .into_iter()
            .map(|mut f| {
                f.value = match f.kind {
                    Some(FieldKind::Checkbox | FieldKind::Radio) => {
                        Some(FieldValue::Text("Off".into()))
                    }
                    _ => None,
                };
                f
            })
            .collect();
        fields.push(text(names::CATALOG_VERSION_FIELD, "abc"));
        let doc = build_document(&form(fields), &bundled());
        assert_eq!(doc.findings[0].rule, Rule::EmptyForm);
        assert!(doc.is_unreadable());
    }

    #[test]
    fn a_delete_without_roles_is_one_line_and_a_profile_is_its_own_line() {
        let doc = build_document(
            &form(vec![
                radio(names::PERSON_ACTION, "Delete"),
                text(names::PERSON_PRIMARY_ID, "42"),
            ]),
            &bundled(),
        );
        assert_eq!(doc.rows.len(), 1);
        assert_eq!(doc.rows[0].text(Field::Action), Some("Delete"));

        let mut fields = filled();
        fields
            .iter_mut()
            .find(|f| f.name == names::PROFILE)
            .unwrap()
            .value = Some(FieldValue::Text("Circulation Student Worker".into()));
        let doc = build_document(&form(fields), &bundled());
        assert_eq!(doc.rows.len(), 2);
        assert_eq!(
            doc.rows[1].text(Field::Profile),
            Some("Circulation Student Worker")
        );
    }
}
