//! Filled forms from other producers (pypdf, pdf-lib, pdftk; re-saved by qpdf with object
//! streams, RC4-128, AES-128 and AES-256 encryption; an incremental update), each beside
//! `<name>.expected.json`: what the producer was told to write. The reader must give back
//! exactly those values. `tests/fixtures/form/make_fixtures.py` made them from the blank
//! form of the bundled catalog.

use rolecall::layout::form as names;
use rolecall::read::form::{FieldKind, FieldValue, Form, read_form};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(PathBuf, BTreeMap<String, Value>, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/form");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        else {
            continue;
        };
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let fields = doc["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("{}: no fields", path.display()))
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let producer = doc["producer"].as_str().unwrap().to_string();
        out.push((dir.join(format!("{stem}.pdf")), fields, producer));
    }
    out
}

/// The expected fields whose value the reader did not give back: (wanted, read).
fn wrong_values(
    form: &Form,
    expected: &BTreeMap<String, Value>,
) -> BTreeMap<String, (FieldValue, Option<FieldValue>)> {
    // pypdf writes a radio group's value as the string "(/Add)", not the name /Add; the
    // reader hands it over as it is and the request mapping reads it as Add (a viewer
    // goes by the kids' /AS, which pypdf sets right). Compare button states that way.
    let got: BTreeMap<&str, Option<FieldValue>> = form
        .fields
        .iter()
        .map(|f| {
            let value = match (&f.kind, &f.value) {
                (Some(FieldKind::Radio | FieldKind::Checkbox), Some(FieldValue::Text(t))) => {
                    Some(FieldValue::Text(t.trim_start_matches('/').to_string()))
                }
                (_, v) => v.clone(),
            };
            (f.name.as_str(), value)
        })
        .collect();
    let mut wrong = BTreeMap::new();
    for (field, want) in expected {
        let want: FieldValue = serde_json::from_value(want.clone()).unwrap();
        let have = got.get(field.as_str()).cloned().flatten();
        if have.as_ref() != Some(&want) {
            wrong.insert(field.clone(), (want, have));
        }
    }
    wrong
}

#[test]
fn every_fixture_has_its_oracle_and_names_only_form_fields() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 8, "only {} fixtures", fixtures.len());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/form");
    let pdfs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("pdf".as_ref()))
        .count();
    assert_eq!(pdfs, fixtures.len(), "a PDF without an .expected.json");
    for (pdf, fields, _) in &fixtures {
        assert!(pdf.exists(), "{} is missing", pdf.display());
        assert!(!fields.is_empty());
        for name in fields.keys() {
            assert!(
                names::FIXED_FIELDS.contains(&name.as_str())
                    || names::parse_role_field(name).is_some(),
                "{}: {name} is not a form field",
                pdf.display()
            );
        }
    }
}

#[test]
fn the_reader_gives_back_what_each_producer_wrote() {
    let failed_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("form-fixtures");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (pdf, expected, producer) in fixtures() {
        let name = pdf.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&pdf).unwrap();
        let form = match read_form(&bytes) {
            Ok(form) => form,
            Err(e) => {
                failures.push(format!("{name} ({producer}): {e:?}"));
                continue;
            }
        };
        checked += expected.len();
        let wrong = wrong_values(&form, &expected);
        if !wrong.is_empty() {
            // Like mail-parser's golden files: what was read goes beside the run, for a diff.
            std::fs::create_dir_all(&failed_dir).unwrap();
            let out = failed_dir.join(format!("{name}.failed.json"));
            std::fs::write(&out, serde_json::to_string_pretty(&form).unwrap()).unwrap();
            failures.push(format!(
                "{name} ({producer}): {wrong:?}; everything read is in {}",
                out.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 50, "only {checked} values checked");
}

/// pypdf's fixture with the radio groups' own `/V` removed (`as-only/make.py`): only the
/// widgets' `/AS` say which button is on. `inspect` shows the groups as `Off` (their own
/// value, as pypdf and pdftk do); the request reads what the widgets show.
#[test]
fn radio_groups_set_only_in_their_widgets_count_as_what_they_show() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/form/as-only");
    let bytes = std::fs::read(dir.join("pypdf-as-only.pdf")).unwrap();
    let form = read_form(&bytes).unwrap();
    let action = form
        .fields
        .iter()
        .find(|f| f.name == names::PERSON_ACTION)
        .unwrap();
    assert_eq!(action.value, Some(FieldValue::Text("Off".into())));
    assert_eq!(action.shown.as_deref(), Some("Add"));
    let doc = rolecall::read::request_form::build_document(&form, &rolecall::catalog::bundled());
    let row = &doc.rows[0];
    assert_eq!(row.text(rolecall::layout::Field::Action), Some("Add"));
    assert_eq!(
        row.text(rolecall::layout::Field::AccountType),
        Some("Internal")
    );
}

/// The pypdf fixture with its field list gone (`pages-only/make.py`): the filled widgets
/// are only on the pages, as some viewers save forms. Every value is still read.
#[test]
fn a_form_whose_fields_are_only_on_the_pages_is_read_whole() {
    let (_, expected, _) = fixtures()
        .into_iter()
        .find(|(pdf, _, _)| pdf.ends_with("pypdf.pdf"))
        .unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/form/pages-only");
    for name in ["pypdf-empty-fields.pdf", "pypdf-no-acroform.pdf"] {
        let form = read_form(&std::fs::read(dir.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let wrong = wrong_values(&form, &expected);
        assert!(wrong.is_empty(), "{name}: {wrong:?}");
        assert!(form.fields.len() >= 160, "{name}: {}", form.fields.len());
    }
}
