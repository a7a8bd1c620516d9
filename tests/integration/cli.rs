//! End-to-end tests: the real `rolecall` binary, run the way a help-desk person runs it, on the
//! bundled samples (made by openpyxl and LibreOffice, see `samples/make_samples.py`) and on
//! files written here. Results are read back cell by cell, never compared as bytes.

use crate::support::run;
use crate::support::test::Test;

use run::{Run, col, problems, repo, sheet};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    repo().join("samples/worksheets").join(name)
}

fn process_json(files: &[PathBuf]) -> Run {
    run::process_json(&[], files)
}

fn changeset(path: &Json) -> Json {
    let text = std::fs::read_to_string(path.as_str().unwrap()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn clean_worksheet_is_accepted_with_a_workbook_a_changeset_and_an_email() {
    let run = process_json(&[sample("clean-batch.xlsx")]);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let sub = run.submission("clean-batch.xlsx");
    assert_eq!(sub["status"], "accepted");
    assert_eq!(sub["rejected"], 0);
    assert!(sub["accepted"].as_u64().unwrap() >= 6);

    let workbook = run.dir.path().join(sub["workbook"].as_str().unwrap());
    let accounts = sheet(&workbook, "Accounts");
    let header = &accounts[7];
    // Status and Messages come first, where the requester looks; the request follows.
    assert_eq!(header[0], "Status", "header row is row 8");
    assert_eq!(header[1], "Messages");
    assert_eq!(header[2], "Action");
    let status = col(header, "Status");
    let statuses: Vec<&str> = accounts[8..]
        .iter()
        .map(|r| r[status].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(statuses.len() as u64, sub["accepted"].as_u64().unwrap());
    assert!(statuses.iter().all(|s| *s == "Accepted"), "{statuses:?}");

    let cs = changeset(&Json::String(
        run.path(sub["changeset"].as_str().unwrap())
            .display()
            .to_string(),
    ));
    assert_eq!(cs["schema"], "rolecall.changeset/1");
    assert_eq!(cs["submission"]["source"], "clean-batch.xlsx");
    assert_eq!(cs["submission"]["sha256"].as_str().unwrap().len(), 64);
    let ops = cs["operations"].as_array().unwrap();
    assert!(ops.iter().any(|o| o["op"] == "create_account"));
    assert!(
        ops.iter()
            .any(|o| o["op"] == "remove_all_staff_roles" && o["keep"][0]["code"] == 200)
    );
    // Every desk role carries its desk, scoped to a library.
    for op in ops.iter().filter(|o| o["op"] == "add_role") {
        if [32, 51, 221, 299].contains(&op["role"]["code"].as_u64().unwrap()) {
            assert_eq!(op["scope"]["kind"], "library", "{op}");
            assert_eq!(op["parameters"][0]["type"], "CirculationDesk", "{op}");
        }
    }

    let emails = sub["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 1);
    let eml = std::fs::read_to_string(run.path(emails[0].as_str().unwrap())).unwrap();
    assert!(eml.contains("Auto-Submitted: auto-replied"), "{eml}");
    assert!(eml.contains("clean-batch"), "subject names the file");
}

#[test]
fn mistakes_sample_gives_each_expected_finding_at_its_cell() {
    let expected_path = sample("mistakes.expected.json");
    let expected: Vec<Json> =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
    assert!(
        expected.len() >= 15,
        "the oracle lists the typical mistakes"
    );
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|e| {
            (
                e["rule"].as_str().unwrap().to_string(),
                e["cell"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let run = process_json(&[sample("mistakes.xlsx")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let sub = run.submission("mistakes.xlsx");
    assert_eq!(sub["status"], "needs_attention");
    let found = problems(&run.path(sub["workbook"].as_str().unwrap()));
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nunexpected: {extra:#?}"
    );
}

#[test]
fn a_requester_who_is_not_a_coordinator_has_every_line_refused() {
    let run = process_json(&[sample("not-a-coordinator.xlsx")]);
    assert_eq!(run.code, 1);
    let sub = run.submission("not-a-coordinator.xlsx");
    assert_eq!(sub["status"], "rejected");
    assert_eq!(sub["accepted"], 0);
    let found = problems(&run.path(sub["workbook"].as_str().unwrap()));
    assert!(
        found.contains(&("requester-not-coordinator".into(), "Accounts!B3".into())),
        "{found:?}"
    );
    let cs = changeset(&Json::String(
        run.path(sub["changeset"].as_str().unwrap())
            .display()
            .to_string(),
    ));
    assert_eq!(cs["operations"].as_array().unwrap().len(), 0);
}

#[test]
fn the_same_worksheet_as_xlsx_xls_and_ods_gives_the_same_change_set() {
    let run = process_json(&[
        sample("clean-batch.xlsx"),
        sample("clean-batch.xls"),
        sample("clean-batch.ods"),
    ]);
    let ops: Vec<Json> = ["clean-batch.xlsx", "clean-batch.xls", "clean-batch.ods"]
        .iter()
        .map(|name| {
            let sub = run.submission(name);
            assert_eq!(sub["status"], "accepted", "{name}: {sub}");
            let path = run.path(sub["changeset"].as_str().unwrap());
            let cs: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            cs["operations"].clone()
        })
        .collect();
    assert!(!ops[0].as_array().unwrap().is_empty());
    assert_eq!(ops[0], ops[1], "xls differs from xlsx");
    assert_eq!(ops[0], ops[2], "ods differs from xlsx");
}

#[test]
fn files_that_are_not_worksheets_get_a_result_and_the_others_are_processed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(
        inbox.join("renamed-text.xlsx"),
        "Name,Role\nJane,Cataloger\n",
    )
    .unwrap();
    std::fs::write(inbox.join("notes.txt"), "not for us").unwrap();
    // A workbook with no request header: written by rust_xlsxwriter, opened by calamine.
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet()
        .write_string(0, 0, "Shopping list")
        .unwrap();
    wb.save(inbox.join("no-header.xlsx")).unwrap();
    let mut empty = rust_xlsxwriter::Workbook::new();
    empty.add_worksheet();
    empty.save(inbox.join("empty.xlsx")).unwrap();
    std::fs::copy(sample("clean-batch.xlsx"), inbox.join("good.xlsx")).unwrap();

    let run = Run::in_dir(dir, &["process", "--json", "inbox"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for name in ["renamed-text.xlsx", "no-header.xlsx", "empty.xlsx"] {
        let sub = run.submission(name);
        assert_eq!(sub["status"], "unreadable", "{name}: {sub}");
        assert_eq!(
            sub["emails"].as_array().unwrap().len(),
            1,
            "{name} gets an email"
        );
        let workbook = run.path(sub["workbook"].as_str().unwrap());
        let summary = sheet(&workbook, "Summary");
        assert!(
            summary
                .iter()
                .flatten()
                .any(|c| c.contains("could not be read")),
            "{name}: {summary:?}"
        );
    }
    assert_eq!(run.submission("good.xlsx")["status"], "accepted");
    let skipped = &run.json()["skipped"];
    assert!(
        skipped
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["path"].as_str().unwrap().ends_with("notes.txt"))
    );
    let outbox: Vec<_> = std::fs::read_dir(run.path("rolecall-out/outbox"))
        .unwrap()
        .collect();
    assert_eq!(outbox.len(), 4);
}

#[test]
fn processing_the_samples_folder_skips_the_catalog_with_a_reason() {
    let samples = repo().join("samples").display().to_string();
    let run = Test::new()
        .args(&["process", "--json", &samples])
        .code(1) // the samples include mistakes
        .run();
    let report = run.process();
    let roles = report
        .skipped
        .iter()
        .find(|s| s.path.ends_with("roles.toml"))
        .expect("roles.toml skipped");
    assert!(!roles.reason.is_empty());
    // 5 worksheets and 3 forms (samples/make_samples.py, samples/forms/make_forms.py).
    assert_eq!(report.submissions.len(), 8, "{}", run.stdout);
    let status = |name: &str| {
        let sub = report.submissions.iter().find(|s| s.source.ends_with(name));
        sub.unwrap_or_else(|| panic!("no {name}")).status
    };
    assert_eq!(status("clean-batch.xlsx"), run::StatusJson::Accepted);
    assert_ne!(status("mistakes.xlsx"), run::StatusJson::Accepted);
}

#[test]
fn the_readme_documents_the_process_json_that_process_prints() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the README's process --json example");
    let example: run::ProcessJson = serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("the README's example does not parse: {e}\n{block}"));
    assert_eq!(example.submissions[0].status, run::StatusJson::Accepted);
}

#[test]
fn a_corrected_result_workbook_sent_back_is_accepted() {
    // A worksheet with two typos, in the template layout.
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("typos.xlsx");
    let template = Run::new(&["template", "worksheet", "-o", "blank.xlsx"]);
    assert_eq!(template.code, 0, "{}", template.stderr);
    let blank = sheet(&template.path("blank.xlsx"), "Accounts");
    let header = blank[7].clone();
    let coordinator = coordinator_of_first_institution();
    let mut rows = blank.clone();
    // Requester block: name, email, institution in B2:B4.
    rows[1][1] = coordinator.0.clone();
    rows[2][1] = coordinator.1.clone();
    rows[3][1] = coordinator.2.clone();
    let mut line = vec![String::new(); header.len()];
    line[col(&header, "Action")] = "Add".into();
    line[col(&header, "Primary ID")] = "00770001".into();
    line[col(&header, "Last name")] = "Okafor".into();
    line[col(&header, "First name")] = "Chidi".into();
    line[col(&header, "Email")] = "cokafor@library.example.edu".into();
    line[col(&header, "Role")] = "Catalogr".into();
    rows.push(line);
    write_like_a_person(&rows, &first);

    let run1 = process_json(std::slice::from_ref(&first));
    let sub = run1.submission("typos.xlsx");
    assert_eq!(sub["status"], "rejected");
    assert_eq!(
        problems(&run1.path(sub["workbook"].as_str().unwrap())),
        BTreeSet::from([("unknown-role".to_string(), "Accounts!I9".to_string())])
    );
    let result = run1.path(sub["workbook"].as_str().unwrap());

    // The requester follows the suggestion in the flagged cell and sends the result back.
    let mut returned = sheet(&result, "Accounts");
    let role = col(&returned[7], "Role");
    assert_eq!(returned[8][role], "Catalogr");
    let messages = &returned[8][col(&returned[7], "Messages")];
    assert!(messages.contains("Did you mean Cataloger?"), "{messages}");
    // Status and Messages come first in the result, so Role moved from I to K.
    assert_eq!(
        returned[7][..3],
        ["Status", "Messages", "Action"],
        "{:?}",
        returned[7]
    );
    assert_eq!(role, 10);

    // Sent back with a new typo: the problem names the cell as it is in the file sent
    // (K9, not the template's I9), and Status and Messages are not "unknown columns".
    returned[8][role] = "Catalgoer".into();
    let again = dir.path().join("typos-again.xlsx");
    write_like_a_person(&returned, &again);
    let run_again = process_json(&[again]);
    let sub = run_again.submission("typos-again.xlsx");
    assert_eq!(sub["status"], "rejected");
    assert_eq!(
        problems(&run_again.path(sub["workbook"].as_str().unwrap())),
        BTreeSet::from([("unknown-role".to_string(), "Accounts!K9".to_string())])
    );

    returned[8][role] = "Cataloger".into();
    let second = dir.path().join("typos-fixed.xlsx");
    write_like_a_person(&returned, &second);

    let run2 = process_json(&[second]);
    let sub = run2.submission("typos-fixed.xlsx");
    let found = problems(&run2.path(sub["workbook"].as_str().unwrap()));
    assert_eq!(sub["status"], "accepted", "{found:?}");
    assert_eq!(sub["accepted"], 1);
}

/// (name, email, institution) of a coordinator in the bundled catalog.
fn coordinator_of_first_institution() -> (String, String, String) {
    let text = std::fs::read_to_string(repo().join("samples/catalog/coordinators.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let c = &doc["coordinator"].as_array().unwrap()[0];
    (
        c["name"].as_str().unwrap().to_string(),
        c["email"].as_str().unwrap().to_string(),
        c["institutions"].as_array().unwrap()[0]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Writes rows of text as a new workbook sheet `Accounts`, as a person retyping it would.
fn write_like_a_person(rows: &[Vec<String>], path: &Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Accounts").unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            if !text.is_empty() {
                ws.write_string(r as u32, c as u16, text).unwrap();
            }
        }
    }
    wb.save(path).unwrap();
}

#[test]
fn usage_errors_exit_with_2_and_say_what_is_wrong() {
    let run = Run::new(&["process"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("PATH"), "{}", run.stderr);
    let run = Run::new(&["process", "--catalog", "no-such-folder", "x.xlsx"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-folder"), "{}", run.stderr);
}

#[test]
fn catalog_check_passes_on_the_sample_and_template_is_stamped_with_its_version() {
    let run = Test::new()
        .catalog(&repo().join("samples/catalog"))
        .args(&["catalog", "check"])
        .code(0)
        .run();
    assert!(run.stdout.contains("0 errors"), "{}", run.stdout);

    let run = Run::new(&["template", "worksheet", "-o", "blank.xlsx"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let version = run
        .stdout
        .split("catalog version ")
        .nth(1)
        .unwrap()
        .trim_end_matches([')', '\n'])
        .to_string();
    let rows = sheet(&run.path("blank.xlsx"), "Accounts");
    assert_eq!(rows[5][0], "Catalog version");
    assert_eq!(rows[5][1], version);
    assert_eq!(rows[7][..3], ["Action", "Primary ID", "Last name"]);
}

#[test]
fn every_rule_is_documented() {
    let doc = std::fs::read_to_string(repo().join("docs/rules.md")).unwrap();
    for rule in rolecall::finding::Rule::ALL {
        assert!(
            doc.contains(&format!("`{}`", rule.code())),
            "docs/rules.md lacks {}",
            rule.code()
        );
    }
}

use crate::support::smtp;

#[test]
fn with_smtp_configured_the_reply_goes_over_a_real_smtp_conversation() {
    let (port, inbox) = smtp::smtp_server(None);
    let clean = sample("clean-batch.xlsx").display().to_string();
    let run = Test::new()
        .config(&format!(
            "catalog = \"sample\"\nout = \"results\"\n\n[mail]\nfrom = \"Help Desk <alma-help@consortium.example.org>\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n"
        ))
        .args(&["process", "--json", &clean])
        .code(0)
        .run();
    let sub = run.submission("clean-batch.xlsx");
    assert!(
        sub["workbook"].as_str().unwrap().starts_with("results"),
        "paths come from the config file"
    );
    assert!(
        !run.path("results/outbox").exists(),
        "nothing waits in the outbox when SMTP works"
    );

    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "alma-help@consortium.example.org");
    let (_, requester, _) = coordinator_of_first_institution();
    // The requester of the sample, and the institution's other coordinator in copy.
    let rcpt: BTreeSet<&str> = mail.rcpt.iter().map(String::as_str).collect();
    assert!(rcpt.contains(requester.as_str()), "{rcpt:?}");
    assert_eq!(
        rcpt.len(),
        2,
        "requester + the other coordinator of the institution: {rcpt:?}"
    );

    let message = mail_parser::MessageParser::default()
        .parse(&mail.data)
        .unwrap();
    assert_eq!(
        message.subject(),
        Some("[Rolecall] clean-batch.xlsx: accepted (9 lines)")
    );
    let attachment = message
        .attachment(0)
        .expect("the result workbook is attached");
    let workbook = run.dir.path().join("from-mail.xlsx");
    std::fs::write(&workbook, attachment.contents()).unwrap();
    let accounts = sheet(&workbook, "Accounts");
    assert_eq!(accounts[7][..3], ["Status", "Messages", "Action"]);
    let status = col(&accounts[7], "Status");
    assert_eq!(accounts[8][status], "Accepted");
}

#[test]
fn every_command_in_help_is_shown_in_the_readme() {
    let help = Run::new(&["--help"]);
    assert_eq!(help.code, 0);
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands: Vec<&str> = help
        .stdout
        .split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for c in commands {
        assert!(
            readme.contains(&format!("cargo run -- {c} "))
                || readme.contains(&format!("rolecall {c} ")),
            "README shows no use of `{c}`"
        );
    }
}

#[test]
fn a_folder_of_many_text_files_is_skipped_in_one_line_per_reason() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.toml", "b.toml", "c.py", "d.json"] {
        std::fs::write(dir.path().join(name), "text\n").unwrap();
    }
    std::fs::write(dir.path().join("notes.xlsx"), "not a workbook\n").unwrap();
    let run = Run::new(&["process", &dir.path().display().to_string()]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("4 files skipped (a text file")),
        "{}",
        run.stdout
    );
    // A file named like a workbook is still answered, on its own line.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("notes.xlsx: could not be read")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_worksheet_for_one_institution_names_it_and_lists_only_its_libraries() {
    let run = Run::new(&[
        "template",
        "worksheet",
        "--institution",
        "01FALSC_PRU",
        "-o",
        "pru.xlsx",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let book = run.path("pru.xlsx");
    let accounts = sheet(&book, "Accounts");
    assert_eq!(accounts[3][0], "Institution");
    assert_eq!(accounts[3][1], "01FALSC_PRU");
    let lists = sheet(&book, "Lists");
    let c = col(&lists[0], "Library");
    let listed: BTreeSet<String> = lists[1..]
        .iter()
        .map(|r| r.get(c).cloned().unwrap_or_default())
        .filter(|v| !v.is_empty())
        .collect();
    let catalog = rolecall::catalog::bundled();
    let own: BTreeSet<String> = catalog
        .institution("01FALSC_PRU")
        .unwrap()
        .libraries
        .iter()
        .map(|l| l.code.clone())
        .collect();
    assert_eq!(listed, own);
    let bad = Run::new(&[
        "template",
        "worksheet",
        "--institution",
        "NOPE",
        "-o",
        "x.xlsx",
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("01FALSC_PRU"), "{}", bad.stderr);
}
