//! Replies a person understands: a form's problems named by the labels the form prints, a
//! person's problem said once, the accepted people and roles listed, a Summary a coordinator
//! reads. The real binary on the bundled samples; results read back cell by cell.

use crate::support::run;

use crate::support::test::Test;
use run::{Run, col, repo, sheet};
use serde_json::Value as Json;
use std::path::Path;

/// `rolecall process --json` on one sample, in the UTC zone.
fn process(sample: &str) -> (Run, Json) {
    let dir = tempfile::tempdir().unwrap();
    let file = repo().join(sample);
    let file = file.display().to_string();
    let run = Test::in_dir(dir)
        .args(&["process", "--json", "--out", "out", &file])
        .env("TZ", "UTC")
        .run();
    let name = Path::new(sample).file_name().unwrap().to_str().unwrap();
    let sub = run.submission(name);
    (run, sub)
}

fn email(run: &Run, sub: &Json) -> mail_parser::Message<'static> {
    let raw = std::fs::read(run.output(&sub["emails"][0])).unwrap();
    mail_parser::MessageParser::default()
        .parse(&raw)
        .unwrap()
        .into_owned()
}

#[test]
fn a_form_reply_names_fields_by_their_printed_labels_in_the_forms_words() {
    let (run, sub) = process("samples/forms/mistakes.pdf");
    let msg = email(&run, &sub);
    let body = msg.body_text(0).unwrap();
    // make_forms.py leaves the first name empty and ticks Remove for role 221 on an Add.
    assert!(body.contains("- First name: First name is empty"), "{body}");
    assert!(
        body.contains("Fill in the First name field of the form."),
        "{body}"
    );
    assert!(!body.contains("person's first line"), "{body}");
    assert!(
        body.contains("- Circulation Desk Manager \u{2014} Remove: Add creates an account"),
        "{body}"
    );
    let problems = sheet(&run.output(&sub["workbook"]), "Problems");
    let location = col(&problems[0], "Location");
    assert!(
        problems.iter().any(|r| r[location]
            == "form field role.221.remove\nCirculation Desk Manager \u{2014} Remove"),
        "{problems:?}"
    );
}

#[test]
fn a_wrong_email_on_a_form_is_said_once_and_rejects_every_role_line() {
    let (run, sub) = process("samples/forms/mistakes.pdf");
    assert_eq!(sub["rejected"], 6);
    let accounts = sheet(&run.output(&sub["workbook"]), "Accounts");
    let header = &accounts[7];
    let (status, messages) = (col(header, "Status"), col(header, "Messages"));
    let lines: Vec<&Vec<String>> = accounts[8..]
        .iter()
        .filter(|r| !r[status].is_empty())
        .collect();
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|r| r[status] == "Rejected"));
    let saying = |text: &str| lines.iter().filter(|r| r[messages].contains(text)).count();
    assert_eq!(saying("rnakamura@@gcsu.example.edu"), 1, "{lines:?}");
    assert_eq!(saying("reported on its first line"), 5, "{lines:?}");
}

#[test]
fn the_reply_lists_the_people_and_roles_accepted() {
    let (run, sub) = process("samples/worksheets/clean-batch.xlsx");
    let msg = email(&run, &sub);
    let body = msg.body_text(0).unwrap();
    // make_samples.py: Jordan Brooks gets two desk roles at LAW and one more row.
    assert!(
        body.contains(
            "- Jordan Brooks (00455120), Add: Circulation Desk Operator (LAW, DEFAULT_CIRC_DESK); \
             Requests Operator (LAW, DEFAULT_CIRC_DESK); Physical Inventory Operator (LAW)"
        ),
        "{body}"
    );
    assert!(
        body.contains("- Morgan Hughes (00276543), Delete"),
        "{body}"
    );
    assert!(
        body.contains("Erin Campbell (00301122), Modify: remove Circulation Desk Operator (HEALTH, DEFAULT_CIRC_DESK)"),
        "{body}"
    );
    let html = msg.body_html(0).unwrap();
    assert!(
        html.contains("<li>Jordan Brooks (00455120), Add:"),
        "{html}"
    );
}

#[test]
fn warnings_do_not_look_like_errors_in_the_html_reply() {
    // The form's problems are few enough to be listed in full, its one warning included.
    let (run, sub) = process("samples/forms/mistakes.pdf");
    let html = email(&run, &sub).body_html(0).unwrap().into_owned();
    let items: Vec<&str> = html
        .split("<li")
        .skip(1)
        .map(|i| i.split("</li>").next().unwrap())
        .collect();
    let warnings: Vec<&&str> = items
        .iter()
        .filter(|i| i.contains(">Warning</span>"))
        .collect();
    let errors: Vec<&&str> = items
        .iter()
        .filter(|i| i.contains(">Error</span>"))
        .collect();
    assert!(!warnings.is_empty() && !errors.is_empty(), "{html}");
    assert!(
        warnings.iter().all(|w| !w.contains("<strong>")),
        "{warnings:?}"
    );
}

#[test]
fn the_summary_shows_a_local_time_to_the_minute_and_no_hash() {
    let (run, sub) = process("samples/worksheets/clean-batch.xlsx");
    let summary = sheet(&run.output(&sub["workbook"]), "Summary");
    let value = |label: &str| summary.iter().find(|r| r[0] == label).map(|r| r[1].clone());
    assert_eq!(
        value("Processed at").as_deref(),
        Some("2026-11-24 15:00 UTC")
    );
    assert!(
        summary.iter().flatten().all(|c| !c.contains("SHA-256")),
        "{summary:?}"
    );
}
