//! What Rolecall accepts is right: verdicts that never say "accepted" over an error, account
//! creations that wait with their privileged roles, primary IDs checked against the
//! institution's pattern. The real binary on worksheets written here with rust_xlsxwriter.

use crate::support::run;
use crate::support::test::Test;

use run::{Run, problem_rows};
use std::path::{Path, PathBuf};

const HEADINGS: [&str; 6] = [
    "Action",
    "Primary ID",
    "Last name",
    "First name",
    "Email",
    "Role",
];

/// A worksheet from Dana Whitfield (a GCSU coordinator) with these request lines, each
/// `[action, id, last, first, email, role]`; an ID written as a number when it parses.
fn worksheet(dir: &Path, name: &str, lines: &[[&str; 6]]) -> PathBuf {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Accounts").unwrap();
    for (row, (label, value)) in [
        ("Requester name", "Dana Whitfield"),
        ("Requester email", "dwhitfield@gcsu.example.edu"),
        ("Institution", "01FALSC_GCSU"),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(row as u32 + 1, 0, *label).unwrap();
        ws.write_string(row as u32 + 1, 1, *value).unwrap();
    }
    for (col, h) in HEADINGS.iter().enumerate() {
        ws.write_string(7, col as u16, *h).unwrap();
    }
    for (i, line) in lines.iter().enumerate() {
        for (col, text) in line.iter().enumerate() {
            if text.is_empty() {
                continue;
            }
            ws.write_string(8 + i as u32, col as u16, *text).unwrap();
        }
    }
    let path = dir.join(name);
    wb.save(&path).unwrap();
    path
}

fn process(dir: tempfile::TempDir, file: &Path) -> Run {
    let file = file.display().to_string();
    Run::in_dir(dir, &["process", "--json", "--out", "out", &file])
}

/// `n` lines, each adding Cataloger for its own person.
fn cataloger_lines(ids: &[String]) -> Vec<[&str; 6]> {
    ids.iter()
        .map(|id| {
            [
                "Add",
                id.as_str(),
                "Okafor",
                "Chidi",
                "cokafor@gcsu.example.edu",
                "Cataloger",
            ]
        })
        .collect()
}

#[test]
fn a_worksheet_over_the_line_cap_is_never_accepted_and_names_the_lines_not_read() {
    let dir = tempfile::tempdir().unwrap();
    // With the cap set to 10,000 lines, 10,000 are read; the 37 after them are not.
    let ids: Vec<String> = (0..10_037).map(|i| format!("G{i:08}")).collect();
    let file = worksheet(dir.path(), "huge.xlsx", &cataloger_lines(&ids));
    let file = file.display().to_string();
    let run = Test::in_dir(dir)
        .config("[limits]\nmax_lines = 10000\n")
        .args(&["process", "--json", "--out", "out", &file])
        .code(1)
        .run();
    let sub = run.submission("huge.xlsx");
    assert_eq!(sub["status"], "needs_attention");
    assert_eq!(sub["not_read"], 37);
    assert_eq!(sub["accepted"], 10_000);
    let eml = std::fs::read_to_string(run.output(&sub["emails"][0])).unwrap();
    let subject = eml.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject.contains("needs attention"), "{subject}");
    assert!(subject.contains("37 not read"), "{subject}");
    // The reply names the first 100 people and counts the rest: the workbook lists them all.
    let message = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap();
    let body = message.body_text(0).unwrap();
    let listed = body
        .lines()
        .filter(|l| l.starts_with("  - Chidi Okafor (G"))
        .count();
    assert_eq!(listed, 100, "{body}");
    assert!(
        body.contains("  - Chidi Okafor (G00000099), Add: Cataloger"),
        "{body}"
    );
    assert!(!body.contains("(G00000100)"), "{body}");
    assert!(
        body.contains("... and 9900 more in the attached workbook."),
        "{body}"
    );
    let problems = problem_rows(&run.output(&sub["workbook"]));
    assert!(
        problems.iter().any(|p| p.rule == "file-too-large"
            && p.message.contains("more than 10,000 request lines")
            && p.message.contains("37 more were not read")),
        "{problems:?}"
    );
}

/// `[limits] KEY = VALUE` makes `process` stop with `message` located on the key's line
/// (line 4 of the configuration), before it writes anything.
fn limit_is_refused_on_its_line(key: &str, value: &str, message: &str) {
    let run = Test::new()
        .config(&format!("out = \"out\"\n\n[limits]\n{key} = {value}\n"))
        .args(&["process", "--out", "out", "."])
        .code(2)
        .run();
    assert!(
        run.stderr.contains("rolecall.toml:4") && run.stderr.contains(message),
        "{key} = {value}: {}",
        run.stderr
    );
    assert!(!run.path("out").exists(), "{value}: nothing is written");
}

#[test]
fn a_reader_worker_count_of_zero_is_refused_on_its_line() {
    let message = "reader_workers must be a whole number from 1 to 256";
    limit_is_refused_on_its_line("reader_workers", "0", message);
}

#[test]
fn a_line_cap_below_one_is_refused_on_its_line() {
    for bad in ["0", "-5", "2000000"] {
        let message = "max_lines must be a whole number from 1 to 1048576";
        limit_is_refused_on_its_line("max_lines", bad, message);
    }
}

fn changeset(run: &Run, sub: &serde_json::Value) -> serde_json::Value {
    let text = std::fs::read_to_string(run.output(&sub["changeset"])).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_large_batch_out_of_order_becomes_one_sorted_change_set_merged_per_person() {
    let dir = tempfile::tempdir().unwrap();
    // 2,000 people from the highest ID down, each on two lines asking for Cataloger.
    let people = 2_000;
    let ids: Vec<String> = (0..people)
        .rev()
        .flat_map(|i| [format!("G{i:08}"), format!("G{i:08}")])
        .collect();
    let file = worksheet(dir.path(), "batch.xlsx", &cataloger_lines(&ids));
    let run = process(dir, &file);
    let sub = run.submission("batch.xlsx");
    assert_eq!(sub["accepted"], 2 * people);
    let ops = changeset(&run, &sub)["operations"]
        .as_array()
        .unwrap()
        .clone();
    // Worked out by hand: per person a create_account and an add_role, in ascending ID
    // order, each naming both of the person's rows. Person i's lines are the
    // (people - 1 - i)-th pair of lines, which start at row 9.
    assert_eq!(ops.len(), 2 * people);
    for (i, pair) in ops.chunks(2).enumerate() {
        let id = format!("G{i:08}");
        let first = 9 + 2 * (people - 1 - i);
        let lines = serde_json::json!([
            format!("Accounts!{first}:{first}"),
            format!("Accounts!{0}:{0}", first + 1)
        ]);
        assert_eq!(pair[0]["op"], "create_account", "{id}");
        assert_eq!(pair[1]["op"], "add_role", "{id}");
        assert_eq!(pair[1]["role"]["name"], "Cataloger", "{id}");
        for op in pair {
            assert_eq!(op["primary_id"], id.as_str());
            assert_eq!(op["lines"], lines, "{id}");
        }
    }
}

#[test]
fn an_account_made_for_privileged_roles_only_waits_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = worksheet(
        dir.path(),
        "admins.xlsx",
        &[
            // Only a privileged role: the account waits with it.
            [
                "Add",
                "G00000101",
                "Nakamura",
                "Aiko",
                "anakamura@gcsu.example.edu",
                "General System Administrator",
            ],
            // A privileged role and an ordinary one: the account is created now.
            [
                "Add",
                "G00000102",
                "Ferreira",
                "Luis",
                "lferreira@gcsu.example.edu",
                "User Manager",
            ],
            ["Add", "G00000102", "", "", "", "Cataloger"],
        ],
    );
    let run = process(dir, &file);
    let sub = run.submission("admins.xlsx");
    assert_eq!(sub["needs_approval"], 2, "{}", run.stdout);
    let cs = changeset(&run, &sub);
    let create = |id: &str| {
        cs["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["op"] == "create_account" && o["primary_id"] == id)
            .unwrap_or_else(|| panic!("no create_account {id} in {cs:#}"))
            .clone()
    };
    assert_eq!(create("G00000101")["needs_approval"], true);
    assert!(create("G00000102").get("needs_approval").is_none());
}

#[test]
fn the_sample_id_that_lost_its_zeros_is_refused_with_the_padded_form() {
    let file = run::repo().join("samples/worksheets/mistakes.xlsx");
    let run = process(tempfile::tempdir().unwrap(), &file);
    let sub = run.submission("mistakes.xlsx");
    let problems = problem_rows(&run.output(&sub["workbook"]));
    let id = problems
        .iter()
        .find(|p| p.location == "Accounts!B15")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(id.rule, "invalid-primary-id");
    assert_eq!(id.severity, "error");
    let accounts = run::sheet(&run.output(&sub["workbook"]), "Accounts");
    let status = run::col(&accounts[7], "Status");
    assert_eq!(accounts[14][status], "Rejected");
    // The suggestion: 5510007 as GCSU writes its IDs, a 0 and seven digits.
    let rows = run::sheet(&run.output(&sub["workbook"]), "Problems");
    let suggestion = run::col(&rows[0], "Suggestion");
    let row = rows
        .iter()
        .find(|r| r.contains(&"Accounts!B15".to_string()))
        .unwrap();
    assert!(
        row[suggestion].contains("Did you mean 05510007?"),
        "{row:?}"
    );
    let cs = changeset(&run, &sub);
    assert!(
        !cs["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["primary_id"] == "5510007"),
        "{cs:#}"
    );
}

#[test]
fn text_that_looks_like_a_formula_is_not_a_primary_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = worksheet(
        dir.path(),
        "formula.xlsx",
        &[
            [
                "Add",
                "=cmd|' /C calc'!A0",
                "Okafor",
                "Chidi",
                "cokafor@gcsu.example.edu",
                "Cataloger",
            ],
            [
                "Add",
                "@SUM(A1)",
                "Okafor",
                "Ada",
                "aokafor@gcsu.example.edu",
                "Cataloger",
            ],
            [
                "Add",
                "0041277",
                "Okafor",
                "Ngozi",
                "nokafor@gcsu.example.edu",
                "Cataloger",
            ],
        ],
    );
    let run = process(dir, &file);
    let sub = run.submission("formula.xlsx");
    assert_eq!(sub["rejected"], 2, "{}", run.stdout);
    assert_eq!(sub["accepted"], 1);
    let problems = problem_rows(&run.output(&sub["workbook"]));
    for cell in ["Accounts!B9", "Accounts!B10"] {
        assert!(
            problems
                .iter()
                .any(|p| p.rule == "invalid-primary-id" && p.location == cell),
            "{cell}: {problems:?}"
        );
    }
    let cs = changeset(&run, &sub);
    let ids: Vec<&str> = cs["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["primary_id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| *id == "0041277"), "{ids:?}");
}

#[test]
fn with_smtp_and_no_catalog_named_the_sample_catalog_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rolecall.toml"),
        "[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\n",
    )
    .unwrap();
    let clean = run::repo().join("samples/worksheets/clean-batch.xlsx");
    let clean = clean.display().to_string();
    let run = Run::in_dir(
        dir,
        &[
            "--config",
            "rolecall.toml",
            "process",
            "--out",
            "out",
            &clean,
        ],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("names no catalog"), "{}", run.stderr);
    assert!(
        run.stderr.contains("catalog = \"sample\""),
        "{}",
        run.stderr
    );
    assert!(!run.path("out").exists(), "nothing is written");
}

#[test]
fn every_run_names_its_catalog_first_and_the_summary_says_which() {
    let clean = run::repo().join("samples/worksheets/clean-batch.xlsx");
    let clean = clean.display().to_string();
    let run = Run::new(&[
        "--catalog",
        "sample",
        "process",
        "--json",
        "--out",
        "out",
        &clean,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("the bundled sample catalog"),
        "{}",
        run.stderr
    );
    let sub = run.submission("clean-batch.xlsx");
    let summary = run::sheet(&run.output(&sub["workbook"]), "Summary");
    let row = summary
        .iter()
        .find(|r| r[0] == "Catalog")
        .expect("a Catalog row");
    assert_eq!(row[1], "the bundled sample catalog");

    let dir = tempfile::tempdir().unwrap();
    let catalog = run::repo().join("samples/catalog");
    let catalog = catalog.display().to_string();
    std::fs::create_dir_all(dir.path().join("data/inbox")).unwrap();
    let watch = Run::in_dir(
        dir,
        &["--catalog", &catalog, "watch", "--data", "data", "--once"],
    );
    let first = watch.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("catalog {catalog}")),
        "first log line: {first}\n{}",
        watch.stderr
    );
}

#[test]
fn the_configuration_reports_an_unknown_key_and_a_wrong_word_on_their_own_lines() {
    for (text, line, words) in [
        ("out = \"x\"\n\nsmpt = 1\n", 3, "smpt"),
        (
            "out = \"x\"\n[state]\nover_allotment = \"warm\"\n",
            3,
            "warm",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let run = Run::in_dir(dir, &["--config", "bad.toml", "catalog", "check"]);
        assert_eq!(run.code, 2, "{text}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("bad.toml:{line}: ")) && run.stderr.contains(words),
            "{text}: {}",
            run.stderr
        );
    }
}
