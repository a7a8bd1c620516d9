//! The blank Staff User Request Form, read back the way a PDF viewer reads it: lopdf parses
//! the bytes, a small walker builds the field tree, and each test checks what a person or a
//! filling script relies on (names, types, on-states, choices, appearances, pages).

use crate::support::test::rolecall;
use lopdf::{Dictionary, Document, Object, ObjectId};
use rolecall::catalog::{self, Catalog, ParameterKind};
use rolecall::layout::form::{self as names, FORM_VERSION, RolePart};
use rolecall::template::form::{form_bytes, write_form};
use std::collections::{BTreeMap, BTreeSet};

/// One terminal field with what it inherited from its parents.
#[derive(Debug)]
struct Field {
    id: ObjectId,
    ft: Option<String>,
    ff: i64,
    dict: Dictionary,
    /// Widgets: the field itself when it has no kids, else its kids.
    widgets: Vec<ObjectId>,
}

fn dict(doc: &Document, obj: &Object) -> Dictionary {
    match obj {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap().clone(),
        Object::Dictionary(d) => d.clone(),
        other => panic!("not a dictionary: {other:?}"),
    }
}

fn text(obj: &Object) -> String {
    match obj {
        Object::String(bytes, _) => {
            if let Some(utf16) = bytes.strip_prefix(&[0xfe, 0xff]) {
                let units: Vec<u16> = utf16
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).unwrap()
            } else {
                String::from_utf8(bytes.clone()).unwrap()
            }
        }
        Object::Name(n) => String::from_utf8(n.clone()).unwrap(),
        other => panic!("not a string: {other:?}"),
    }
}

fn name_of(d: &Dictionary, key: &[u8]) -> Option<String> {
    d.get(key).ok().map(text)
}

struct Form {
    doc: Document,
    fields: BTreeMap<String, Field>,
    acroform: Dictionary,
}

fn walk(
    doc: &Document,
    id: ObjectId,
    prefix: &str,
    ft: Option<String>,
    ff: i64,
    out: &mut BTreeMap<String, Field>,
) {
    let d = doc.get_dictionary(id).unwrap().clone();
    let name = match name_of(&d, b"T") {
        Some(t) if prefix.is_empty() => t,
        Some(t) => format!("{prefix}.{t}"),
        None => prefix.to_string(),
    };
    let ft = name_of(&d, b"FT").or(ft);
    let ff = d.get(b"Ff").and_then(Object::as_i64).unwrap_or(ff);
    let kids: Vec<ObjectId> = d
        .get(b"Kids")
        .and_then(Object::as_array)
        .map(|a| a.iter().map(|k| k.as_reference().unwrap()).collect())
        .unwrap_or_default();
    // Kids without /T are widgets of this field (a radio group's buttons).
    let field_kids: Vec<ObjectId> = kids
        .iter()
        .copied()
        .filter(|k| doc.get_dictionary(*k).unwrap().has(b"T"))
        .collect();
    if kids.is_empty() || field_kids.is_empty() {
        let widgets = if kids.is_empty() { vec![id] } else { kids };
        let previous = out.insert(
            name.clone(),
            Field {
                id,
                ft,
                ff,
                dict: d,
                widgets,
            },
        );
        assert!(previous.is_none(), "field {name} appears twice");
    } else {
        for kid in field_kids {
            walk(doc, kid, &name, ft.clone(), ff, out);
        }
    }
}

fn parse(bytes: &[u8]) -> Form {
    let doc = Document::load_mem(bytes).expect("lopdf opens the blank form");
    let root = doc.catalog().unwrap().clone();
    let acroform = dict(&doc, root.get(b"AcroForm").unwrap());
    let mut fields = BTreeMap::new();
    for f in acroform.get(b"Fields").unwrap().as_array().unwrap() {
        walk(&doc, f.as_reference().unwrap(), "", None, 0, &mut fields);
    }
    Form {
        doc,
        fields,
        acroform,
    }
}

fn sample() -> (Catalog, Form) {
    let catalog = catalog::bundled();
    let form = parse(&form_bytes(&catalog).unwrap());
    (catalog, form)
}

/// Roles the form offers: all but Patron, which is never requested.
fn offered(catalog: &Catalog) -> impl Iterator<Item = &catalog::Role> {
    catalog.roles.iter().filter(|r| !r.is_patron())
}

const COMBO: i64 = 1 << 17;
const EDIT: i64 = 1 << 18;
const RADIO: i64 = 1 << 15;
const PUSH: i64 = 1 << 16;
const MULTILINE: i64 = 1 << 12;

impl Form {
    fn field(&self, name: &str) -> &Field {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    /// Export values of a choice field's /Opt.
    fn options(&self, name: &str) -> Vec<String> {
        let f = self.field(name);
        f.dict
            .get(b"Opt")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| match o {
                Object::Array(pair) => text(&pair[0]),
                other => text(other),
            })
            .collect()
    }

    /// The state names of a widget's /AP /N (or /D) dictionary.
    fn states(&self, widget: ObjectId, which: &[u8]) -> BTreeSet<String> {
        let w = self.doc.get_dictionary(widget).unwrap();
        let ap = dict(&self.doc, w.get(b"AP").unwrap());
        let states = dict(&self.doc, ap.get(which).unwrap());
        states
            .iter()
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect()
    }
}

#[test]
fn every_fixed_field_exists_with_its_type_and_flags() {
    let (_, form) = sample();
    let text_fields = [
        names::REQUESTER_NAME,
        names::REQUESTER_EMAIL,
        names::REQUESTER_PHONE,
        names::REQUESTER_DATE,
        names::PERSON_PRIMARY_ID,
        names::PERSON_LAST_NAME,
        names::PERSON_FIRST_NAME,
        names::PERSON_EMAIL,
        names::PERSON_POSITION,
        names::PERSON_EXPIRY,
    ];
    for name in names::FIXED_FIELDS {
        let f = form.field(name);
        let ft = f.ft.as_deref();
        match name {
            n if text_fields.contains(&n) => {
                assert_eq!(ft, Some("Tx"), "{n}");
                assert_eq!(f.ff & MULTILINE, 0, "{n} is one line");
            }
            names::NOTES => {
                assert_eq!(ft, Some("Tx"));
                assert_ne!(f.ff & MULTILINE, 0, "notes is multi-line");
            }
            names::REQUESTER_INSTITUTION | names::PROFILE => {
                assert_eq!(ft, Some("Ch"), "{name}");
                assert_ne!(f.ff & COMBO, 0, "{name} is a combo");
                assert_eq!(f.ff & EDIT, 0, "{name} takes only listed values");
            }
            names::PROFILE_LIBRARY | names::PROFILE_UNIT => {
                assert_eq!(ft, Some("Ch"), "{name}");
                assert_ne!(f.ff & COMBO, 0, "{name} is a combo");
                assert_ne!(f.ff & EDIT, 0, "{name} takes a typed code too");
            }
            names::PERSON_ACTION | names::PERSON_ACCOUNT_TYPE => {
                assert_eq!(ft, Some("Btn"), "{name}");
                assert_ne!(f.ff & RADIO, 0, "{name} is a radio group");
            }
            names::FORM_VERSION_FIELD | names::CATALOG_VERSION_FIELD => {
                assert_eq!(ft, Some("Tx"), "{name}");
            }
            other => panic!("the test does not know {other}"),
        }
    }
}

#[test]
fn radio_groups_have_exactly_the_documented_on_states() {
    let (_, form) = sample();
    for (name, expected) in [
        (names::PERSON_ACTION, &names::ACTIONS[..]),
        (names::PERSON_ACCOUNT_TYPE, &names::ACCOUNT_TYPES[..]),
    ] {
        let f = form.field(name);
        assert_eq!(f.widgets.len(), expected.len(), "{name}: one button each");
        let on: Vec<String> = f
            .widgets
            .iter()
            .map(|w| {
                let states = form.states(*w, b"N");
                assert!(states.contains("Off"), "{name}: a button without Off");
                assert_eq!(states, form.states(*w, b"D"), "{name}: /D as /N");
                states.into_iter().find(|s| s != "Off").unwrap()
            })
            .collect();
        assert_eq!(on, expected, "{name}");
        assert_eq!(text(f.dict.get(b"V").unwrap()), "Off", "{name} starts off");
    }
}

#[test]
fn every_role_but_patron_has_its_fields_and_no_others() {
    let (catalog, form) = sample();
    let mut expected = BTreeSet::new();
    for role in offered(&catalog) {
        for part in [RolePart::Add, RolePart::Remove] {
            let name = names::role_field(role.code, part);
            let f = form.field(&name);
            assert_eq!(f.ft.as_deref(), Some("Btn"), "{name}");
            assert_eq!(f.ff & (RADIO | PUSH), 0, "{name} is a check box");
            for which in [b"N".as_slice(), b"D"] {
                assert_eq!(
                    form.states(f.id, which),
                    BTreeSet::from([names::CHECKBOX_ON.to_string(), "Off".to_string()]),
                    "{name}"
                );
            }
            assert_eq!(text(f.dict.get(b"V").unwrap()), "Off");
            assert_eq!(text(f.dict.get(b"AS").unwrap()), "Off");
            expected.insert(name);
        }
        if role.needs_library() {
            expected.insert(names::role_field(role.code, RolePart::Library));
        }
        if role.parameter.is_some() {
            expected.insert(names::role_field(role.code, RolePart::Unit));
        }
    }
    let actual: BTreeSet<String> = form
        .fields
        .keys()
        .filter(|k| k.starts_with("role."))
        .cloned()
        .collect();
    assert_eq!(actual, expected);
    assert!(
        !form.fields.keys().any(|k| k.starts_with("role.200.")),
        "Patron is never requested"
    );
    // Every name parses back to a role and a part.
    for name in &actual {
        assert!(names::parse_role_field(name).is_some(), "{name}");
    }
}

#[test]
fn role_choices_list_exactly_the_catalog_codes() {
    let (catalog, form) = sample();
    let libraries: BTreeSet<String> = catalog
        .institutions
        .iter()
        .flat_map(|i| i.libraries.iter().map(|l| l.code.clone()))
        .collect();
    let units = |kind: ParameterKind| -> BTreeSet<String> {
        catalog
            .institutions
            .iter()
            .flat_map(|i| &i.libraries)
            .flat_map(|l| l.units(kind).iter().map(|u| u.code.clone()))
            .collect()
    };
    let mut checked = 0;
    for role in offered(&catalog) {
        if role.needs_library() {
            let name = names::role_field(role.code, RolePart::Library);
            let f = form.field(&name);
            assert_eq!(f.ft.as_deref(), Some("Ch"));
            assert_eq!(
                f.ff & (COMBO | EDIT),
                COMBO | EDIT,
                "{name}: editable combo"
            );
            let options = form.options(&name);
            assert_eq!(options.len(), libraries.len(), "{name}: no repeats");
            assert_eq!(options.into_iter().collect::<BTreeSet<_>>(), libraries);
            checked += 1;
        }
        if let Some(kind) = role.parameter {
            let name = names::role_field(role.code, RolePart::Unit);
            let f = form.field(&name);
            assert_eq!(
                f.ff & (COMBO | EDIT),
                COMBO | EDIT,
                "{name}: editable combo"
            );
            let options = form.options(&name);
            let expected = units(kind);
            assert_eq!(options.len(), expected.len(), "{name}: no repeats");
            assert_eq!(options.into_iter().collect::<BTreeSet<_>>(), expected);
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} choices checked");
    // A desk role offers desks, not service units.
    let desk = form.options(&names::role_field(32, RolePart::Unit));
    assert!(desk.contains(&"DEFAULT_CIRC_DESK".to_string()));
    assert!(!desk.contains(&"ACQ_RECEIVING".to_string()));
}

#[test]
fn institution_and_profile_choices_come_from_the_catalog() {
    let (catalog, form) = sample();
    let codes: Vec<String> = catalog
        .institutions
        .iter()
        .map(|i| i.code.clone())
        .collect();
    assert_eq!(form.options(names::REQUESTER_INSTITUTION), codes);
    // The display text names the institution, the export value is its code.
    let opt = form
        .field(names::REQUESTER_INSTITUTION)
        .dict
        .get(b"Opt")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    let Object::Array(first) = &opt[0] else {
        panic!("institution options are [export, display] pairs")
    };
    assert_eq!(
        text(&first[1]),
        format!(
            "{} \u{2014} {}",
            catalog.institutions[0].code, catalog.institutions[0].name
        )
    );
    let mut profiles = vec![String::new()];
    profiles.extend(catalog.profiles.iter().map(|p| p.name.clone()));
    assert_eq!(
        form.options(names::PROFILE),
        profiles,
        "empty first, then profiles"
    );
}

#[test]
fn hidden_fields_carry_the_form_and_catalog_versions() {
    let (catalog, form) = sample();
    for (name, value) in [
        (names::FORM_VERSION_FIELD, FORM_VERSION.to_string()),
        (names::CATALOG_VERSION_FIELD, catalog.version.clone()),
    ] {
        let f = form.field(name);
        assert_eq!(text(f.dict.get(b"V").unwrap()), value, "{name}");
        let flags = f.dict.get(b"F").unwrap().as_i64().unwrap();
        assert_ne!(flags & 2, 0, "{name} is hidden");
        assert_ne!(f.ff & 1, 0, "{name} is read-only");
    }
}

#[test]
fn every_widget_has_an_appearance_a_font_and_a_page() {
    let (_, form) = sample();
    // Each page's /Annots, by page id.
    let pages = form.doc.get_pages();
    let mut on_page: BTreeMap<ObjectId, ObjectId> = BTreeMap::new();
    for page_id in pages.values() {
        let page = form.doc.get_dictionary(*page_id).unwrap();
        for a in page.get(b"Annots").unwrap().as_array().unwrap() {
            let prev = on_page.insert(a.as_reference().unwrap(), *page_id);
            assert!(prev.is_none(), "a widget listed on two pages");
        }
    }
    assert!(pages.len() >= 2, "the roles take more than one page");
    let mut widgets = 0;
    for (name, f) in &form.fields {
        for w in &f.widgets {
            widgets += 1;
            let wd = form.doc.get_dictionary(*w).unwrap();
            assert_eq!(text(wd.get(b"Subtype").unwrap()), "Widget", "{name}");
            let ap = dict(
                &form.doc,
                wd.get(b"AP").unwrap_or_else(|_| panic!("{name}: no /AP")),
            );
            assert!(ap.has(b"N"), "{name}: no /AP /N");
            let page = on_page
                .get(w)
                .unwrap_or_else(|| panic!("{name}: widget on no page's /Annots"));
            assert_eq!(
                wd.get(b"P").unwrap().as_reference().unwrap(),
                *page,
                "{name}: /P is not the page listing it"
            );
        }
        // /DA is on the field (radio groups) or the widget.
        let da = f
            .dict
            .get(b"DA")
            .map(text)
            .unwrap_or_else(|_| panic!("{name}: no /DA"));
        assert!(
            da.contains("/Helv") || da.contains("/ZaDb"),
            "{name}: /DA {da}"
        );
    }
    assert_eq!(
        widgets,
        on_page.len(),
        "every annotation is a field's widget"
    );
    assert_eq!(
        form.acroform.get(b"NeedAppearances").unwrap(),
        &Object::Boolean(true)
    );
    let dr = dict(&form.doc, form.acroform.get(b"DR").unwrap());
    let fonts = dict(&form.doc, dr.get(b"Font").unwrap());
    assert!(fonts.has(b"Helv") && fonts.has(b"ZaDb"));
}

#[test]
fn no_two_text_or_choice_widgets_share_an_appearance_stream() {
    // pypdf rewrites a field's appearance stream in place when it fills the field: a stream
    // shared by two boxes would show one box's value in the other.
    let (_, form) = sample();
    let mut seen = BTreeMap::new();
    for (name, f) in &form.fields {
        if !matches!(f.ft.as_deref(), Some("Tx" | "Ch")) {
            continue;
        }
        let wd = form.doc.get_dictionary(f.widgets[0]).unwrap();
        let ap = dict(&form.doc, wd.get(b"AP").unwrap());
        let stream = ap.get(b"N").unwrap().as_reference().unwrap();
        if let Some(other) = seen.insert(stream, name.clone()) {
            panic!("{name} and {other} share the appearance stream {stream:?}");
        }
    }
    assert!(seen.len() > 20);
}

#[test]
fn the_form_is_letter_sized_and_the_same_catalog_gives_the_same_bytes() {
    let catalog = catalog::bundled();
    let a = form_bytes(&catalog).unwrap();
    assert_eq!(a, form_bytes(&catalog).unwrap());
    let form = parse(&a);
    for page_id in form.doc.get_pages().values() {
        let page = form.doc.get_dictionary(*page_id).unwrap();
        let mb: Vec<f32> = page
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_float().unwrap())
            .collect();
        assert_eq!(mb, [0.0, 0.0, 612.0, 792.0]);
    }
    // Small enough to mail around and to commit filled copies of.
    assert!(a.len() < 150_000, "{} bytes", a.len());
}

#[test]
fn the_form_follows_the_catalog_it_is_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/catalog");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let inst = dir.path().join("institutions.toml");
    let mut text = std::fs::read_to_string(&inst).unwrap();
    text.push_str(
        "\n[[institution.library]]\ncode = \"ANNEX\"\nname = \"Storage Annex\"\n\
         desks = [ { code = \"ANNEX_DESK\", name = \"Annex Desk\" } ]\n",
    );
    std::fs::write(&inst, text).unwrap();
    let catalog = catalog::load_catalog(dir.path()).unwrap();
    assert_ne!(catalog.version, catalog::bundled().version);
    let out = dir.path().join("form.pdf");
    write_form(&catalog, &out).unwrap();
    let form = parse(&std::fs::read(&out).unwrap());
    assert!(
        form.options(&names::role_field(32, RolePart::Library))
            .contains(&"ANNEX".to_string())
    );
    assert!(
        form.options(&names::role_field(32, RolePart::Unit))
            .contains(&"ANNEX_DESK".to_string())
    );
    assert_eq!(
        text_of(&form, names::CATALOG_VERSION_FIELD),
        catalog.version
    );
}

fn text_of(form: &Form, name: &str) -> String {
    text(form.field(name).dict.get(b"V").unwrap())
}

#[test]
fn template_form_command_writes_the_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let out = rolecall(dir.path())
        .args(["template", "form", "-o", "blank.pdf"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let version = catalog::bundled().version;
    assert!(stdout.contains(&version), "{stdout}");
    let bytes = std::fs::read(dir.path().join("blank.pdf")).unwrap();
    assert!(bytes.starts_with(b"%PDF-1.7"));
    assert_eq!(
        text_of(&parse(&bytes), names::CATALOG_VERSION_FIELD),
        version
    );
}

#[test]
fn sample_forms_carry_the_bundled_catalog_version() {
    // samples/forms/make_forms.py fills blanks made from the bundled catalog; rerun it after
    // editing samples/catalog/, or the samples would be reported as made from an old catalog.
    let version = catalog::bundled().version;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/forms");
    for name in ["clean.pdf", "mistakes.pdf", "other-producer.pdf"] {
        let form = parse(&std::fs::read(dir.join(name)).unwrap());
        assert_eq!(
            text_of(&form, names::CATALOG_VERSION_FIELD),
            version,
            "{name}: rerun samples/forms/make_forms.py"
        );
        assert_eq!(text_of(&form, names::FORM_VERSION_FIELD), FORM_VERSION);
    }
    let oracle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mistakes.expected.json")).unwrap())
            .unwrap();
    for mistake in oracle["mistakes"].as_array().unwrap() {
        let field = mistake["field"].as_str().unwrap();
        assert!(
            names::FIXED_FIELDS.contains(&field) || names::parse_role_field(field).is_some(),
            "{field}"
        );
        assert!(!mistake["rule"].as_str().unwrap().is_empty());
    }
}

#[test]
fn a_form_for_one_institution_is_filled_in_and_lists_only_its_libraries() {
    use rolecall::read::form::{FieldValue, read_form};
    let catalog = catalog::bundled();
    let pru = catalog.for_institution("01FALSC_PRU").unwrap();
    let own: std::collections::BTreeSet<String> = pru.institutions[0]
        .libraries
        .iter()
        .map(|l| l.code.clone())
        .collect();
    let all: std::collections::BTreeSet<String> = catalog
        .institutions
        .iter()
        .flat_map(|i| i.libraries.iter().map(|l| l.code.clone()))
        .collect();
    assert!(all.len() > own.len(), "the sample has other libraries too");

    let form = read_form(&form_bytes(&pru).unwrap()).unwrap();
    let inst = form
        .fields
        .iter()
        .find(|f| f.name == names::REQUESTER_INSTITUTION)
        .unwrap();
    assert_eq!(inst.value, Some(FieldValue::Text("01FALSC_PRU".into())));
    assert_eq!(inst.options.len(), 1);
    let mut library_fields = 0;
    for f in form.fields.iter().filter(|f| f.name.ends_with(".library")) {
        library_fields += 1;
        let listed: std::collections::BTreeSet<String> = f
            .options
            .iter()
            .map(|(export, _)| export.clone())
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(listed, own, "{}", f.name);
    }
    assert!(library_fields > 10);
    // The catalog version is the whole catalog's: a form for one institution is the same form.
    let stamp = form
        .fields
        .iter()
        .find(|f| f.name == names::CATALOG_VERSION_FIELD)
        .unwrap();
    assert_eq!(stamp.value, Some(FieldValue::Text(catalog.version.clone())));
}
