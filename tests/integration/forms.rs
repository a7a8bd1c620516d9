//! End-to-end tests for PDF forms: the real binary on the filled sample forms (filled by
//! pypdf, pdf-lib and pdftk, see `samples/forms/make_forms.py`) and on every kind of form
//! that cannot be read. Each gets a result workbook and an email that say what happened, and
//! none stops the others.

use crate::support::run;

use run::{Run, problem_rows, problems, process_json, repo, sheet};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn form(name: &str) -> PathBuf {
    repo().join("samples/forms").join(name)
}

/// The real-world corpus, used in place (CI has `../shared` beside the checkout).
fn corpus(name: &str) -> Option<PathBuf> {
    let path = repo().join("../shared/corpus/pdf-forms").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED the {name} case: ../shared/corpus/pdf-forms is not beside the checkout");
        None
    }
}

fn email_text(run: &Run, submission: &Json) -> String {
    let path = run.output(&submission["emails"][0]);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    msg.body_text(0).unwrap_or_default().into_owned()
}

#[test]
fn the_clean_sample_form_is_accepted_with_its_roles_in_the_change_set() {
    let run = process_json(&[], &[form("clean.pdf")]);
    let s = run.submission("clean.pdf");
    assert_eq!(s["status"], "accepted", "{:#}\n{}", s, run.stderr);
    // Adaeze Okafor: Circulation Desk Operator and Reserves Operator at MAIN with their desks,
    // and Cataloger (see make_forms.py).
    assert_eq!(s["accepted"], 3, "{s:#}");
    let changeset: Json =
        serde_json::from_str(&std::fs::read_to_string(run.output(&s["changeset"])).unwrap())
            .unwrap();
    let ops = changeset["operations"].as_array().unwrap();
    let text = serde_json::to_string(ops).unwrap();
    assert!(text.contains("create_account"), "{text}");
    assert!(text.contains("DEFAULT_CIRC_DESK"), "{text}");
    assert!(text.contains("RESERVES_DESK"), "{text}");
    assert!(text.contains("Okafor"), "{text}");
    // The result workbook's Accounts sheet holds the form's lines, re-submittable.
    let rows = sheet(&run.output(&s["workbook"]), "Accounts");
    let flat: Vec<String> = rows.into_iter().flatten().collect();
    assert!(flat.iter().any(|c| c == "Circulation Desk Operator (32)"));
    assert!(email_text(&run, &s).contains("Every line was accepted"));
}

#[test]
fn the_mistakes_sample_form_reports_each_mistake_on_its_form_field() {
    let oracle: Json =
        serde_json::from_str(&std::fs::read_to_string(form("mistakes.expected.json")).unwrap())
            .unwrap();
    let run = process_json(&[], &[form("mistakes.pdf")]);
    let s = run.submission("mistakes.pdf");
    let found = problems(&run.output(&s["workbook"]));
    let expected: BTreeSet<(String, String)> = oracle["mistakes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["rule"].as_str().unwrap().to_string(),
                format!("form field {}", m["field"].as_str().unwrap()),
            )
        })
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "not reported: {missing:?}\nfound: {found:#?}"
    );
    // Nothing else is wrong with the form (the display-text institution is no mistake).
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(extra.is_empty(), "reported but not a mistake: {extra:?}");
    // The person's own mistakes (no first name, a bad email) stop every line of the Add.
    assert_eq!(s["status"], "rejected", "{s:#}");
    assert_eq!(s["accepted"], 0, "{s:#}");
    let body = email_text(&run, &s);
    // The reply speaks the form's language: the label printed beside the field.
    assert!(body.contains("- Email: \"rnakamura@@"), "{body}");
    assert!(!body.contains("form field person."), "{body}");
    assert!(body.contains("correct the form fields"), "{body}");
}

#[test]
fn a_form_filled_by_pdftk_with_non_ascii_names_is_read_exactly() {
    let run = process_json(&[], &[form("other-producer.pdf")]);
    let s = run.submission("other-producer.pdf");
    assert_ne!(s["status"], "unreadable", "{s:#}");
    let rows = sheet(&run.output(&s["workbook"]), "Accounts");
    let flat: BTreeSet<String> = rows.into_iter().flatten().collect();
    assert!(flat.contains("José"), "{flat:?}");
    assert!(flat.contains("Núñez"), "{flat:?}");
}

/// Cuts the TOML table that starts with `head` up to the next table headed `next`.
fn cut_table(text: &mut String, head: &str, next: &str) {
    let start = text.find(head).unwrap_or_else(|| panic!("no {head:?}"));
    let end = text[start + head.len()..]
        .find(next)
        .map_or(text.len(), |i| start + head.len() + i);
    text.replace_range(start..end, "");
}

/// A copy of the bundled catalog without the role Cataloger (204) and its profile: the
/// sample forms are then "from an older catalog".
fn catalog_without_cataloger(dir: &Path) -> PathBuf {
    let src = repo().join("samples/catalog");
    let dst = dir.join("catalog");
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        match path.file_name().unwrap().to_str().unwrap() {
            "roles.toml" => cut_table(&mut text, "[[role]]\ncode = 204\n", "[[role]]"),
            "profiles.toml" => cut_table(
                &mut text,
                "[[profile]]\nname = \"Cataloger\"\n",
                "[[profile]]\n",
            ),
            _ => {}
        }
        std::fs::write(dst.join(path.file_name().unwrap()), text).unwrap();
    }
    dst
}

#[test]
fn a_form_from_an_older_catalog_says_so_and_names_the_role_that_is_gone() {
    let scratch = tempfile::tempdir().unwrap();
    let catalog = catalog_without_cataloger(scratch.path());
    let catalog = catalog.display().to_string();
    let run = process_json(&["--catalog", &catalog], &[form("clean.pdf")]);
    let s = run.submission("clean.pdf");
    let found = problems(&run.output(&s["workbook"]));
    assert!(
        found.contains(&(
            "catalog-version".into(),
            "form field form.catalog_version".into()
        )),
        "{found:#?}"
    );
    assert!(
        found.contains(&("unknown-role".into(), "form field role.204.add".into())),
        "{found:#?}"
    );
    assert_eq!(s["accepted"], 2, "the other roles still go through: {s:#}");
}

#[test]
fn every_unreadable_form_gets_its_own_clear_answer_and_none_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let clean = std::fs::read(form("clean.pdf")).unwrap();

    let mut cases: Vec<(PathBuf, &str, &str)> = Vec::new();
    let text_pdf = d.join("not-a-pdf.pdf");
    std::fs::write(
        &text_pdf,
        "Please add Jane Doe as a circulation operator.\n",
    )
    .unwrap();
    cases.push((text_pdf, "unreadable-file", "not a"));

    let truncated = d.join("truncated.pdf");
    std::fs::write(&truncated, &clean[..clean.len() / 3]).unwrap();
    cases.push((truncated, "unreadable-file", "Save"));

    let empty = d.join("blank.pdf");
    let blank = Run::new(&["template", "form", "-o", &empty.display().to_string()]);
    assert_eq!(blank.code, 0, "{}", blank.stderr);
    cases.push((empty, "empty-form", "empty"));

    let hostile = repo().join("tests/fixtures/pdf-hostile");
    cases.push((
        hostile.join("password_aes256.pdf"),
        "password-protected",
        "password",
    ));
    cases.push((hostile.join("no_form.pdf"), "no-form-fields", "Print"));
    if let Some(xfa) = corpus("xfa_issue14315.pdf") {
        cases.push((xfa, "xfa-only-form", "XFA"));
    }
    if let Some(other) = corpus("english.pdf") {
        cases.push((other, "unknown-form", "not the Staff User Request Form"));
    }
    let mut files: Vec<PathBuf> = cases.iter().map(|c| c.0.clone()).collect();
    files.push(form("clean.pdf"));

    let run = process_json(&[], &files);
    assert_eq!(run.code, 1, "some submissions are rejected: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    for (path, rule, words) in &cases {
        let name = path.file_name().unwrap().to_str().unwrap();
        let s = run.submission(name);
        assert_eq!(s["status"], "unreadable", "{name}: {s:#}");
        let rows = problem_rows(&run.output(&s["workbook"]));
        let p = rows
            .iter()
            .find(|p| p.rule == *rule)
            .unwrap_or_else(|| panic!("{name}: no {rule} in {rows:#?}"));
        assert_eq!(p.severity, "error", "{name}");
        assert_eq!(
            rows.len(),
            1,
            "{name}: only the finding that matters: {rows:#?}"
        );
        let body = email_text(&run, &s);
        assert!(
            body.contains(words) || p.message.contains(words),
            "{name}: the answer should mention {words:?}:\n{body}"
        );
        assert!(
            body.contains("Staff User Request Form"),
            "{name}: the email says it was read as a form:\n{body}"
        );
    }
    // The good form after all the bad ones is still processed.
    assert_eq!(run.submission("clean.pdf")["status"], "accepted");
}

#[test]
fn inspect_lists_the_fields_of_a_filled_form() {
    let run = Run::new(&[
        "inspect",
        "--json",
        &form("clean.pdf").display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fields = run.json()["fields"].as_array().unwrap().clone();
    let get = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(get("person.action")["type"], "radio");
    // pypdf filled it, and writes the state as the string "/Add"; inspect shows the file as
    // it is.
    assert_eq!(get("person.action")["value"], "/Add");
    assert_eq!(get("role.32.add")["type"], "checkbox");
    assert_eq!(get("role.32.add")["value"], "Yes");
    assert_eq!(get("role.32.remove")["value"], "Off");
    assert_eq!(
        get("requester.email")["value"],
        "dwhitfield@gcsu.example.edu"
    );
}

#[test]
fn a_form_a_viewer_dropped_fields_from_says_which_are_gone() {
    // Made by pypdf from a filled form, with person.email and person.position removed from
    // the field tree and the page (tests/fixtures/form/dropped/make.py).
    let path = repo().join("tests/fixtures/form/dropped/pypdf-dropped.pdf");
    let run = process_json(&[], &[path]);
    let s = run.submission("pypdf-dropped.pdf");
    assert_ne!(s["status"], "unreadable", "{s:#}");
    let rows = problem_rows(&run.output(&s["workbook"]));
    let p = rows
        .iter()
        .find(|p| p.rule == "form-fields-missing")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(p.severity, "warning");
    assert!(p.message.contains("lacks 2 of"), "{}", p.message);
    assert!(p.message.contains("person.email"), "{}", p.message);
    assert!(p.message.contains("person.position"), "{}", p.message);
}
