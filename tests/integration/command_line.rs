//! The command line's conventions, through the real binary: every command's `--json` document
//! has only the fields `docs/json.md` shows, shell completions and the man page are produced,
//! wrong paths and missing data folders are usage errors that create nothing, the environment
//! stands in for the path flags, and `-q`, `--color` and the old flag spellings work.

use crate::support::run::{Run, repo};
use crate::support::test::Test;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sample(name: &str) -> String {
    repo()
        .join("samples/worksheets")
        .join(name)
        .display()
        .to_string()
}

fn state_fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/state")
        .join(name)
        .display()
        .to_string()
}

/// The example documents of `docs/json.md`, by the command of their section heading
/// (`template worksheet`, `audit inactive`, ...; a section for two commands gives one
/// document to each in turn).
pub(crate) fn documented() -> BTreeMap<String, Vec<Json>> {
    let doc = std::fs::read_to_string(repo().join("docs/json.md")).unwrap();
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    let mut commands: Vec<String> = Vec::new();
    let mut block: Option<String> = None;
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            commands = heading
                .split(", ")
                .map(|c| c.trim_matches('`').to_string())
                .collect();
        } else if line == "```json" {
            block = Some(String::new());
        } else if line == "```" {
            let text = block.take().expect("a ```json block");
            let json: Json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("docs/json.md {commands:?}: {e}\n{text}"));
            match commands.len() {
                1 => out.entry(commands[0].clone()).or_default().push(json),
                _ => {
                    // `audit licence, audit inactive`: the n-th block is the n-th command's.
                    let n = commands
                        .iter()
                        .filter(|c| out.contains_key(c.as_str()))
                        .count();
                    let c = commands.get(n).unwrap_or(&commands[0]).clone();
                    out.entry(c).or_default().push(json);
                }
            }
        } else if let Some(b) = block.as_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    // `template form` is documented with `template worksheet`.
    if let Some(t) = out.get("template worksheet").cloned() {
        out.entry("template form".into()).or_insert(t);
    }
    out
}

/// Every field of `actual` is one the documented example shows, at every depth (the entries
/// of a list against the example's first entry). Maps of counts (`folders`, `mail`) are
/// checked as maps of numbers.
pub(crate) fn only_documented_fields(path: &str, actual: &Json, example: &Json) {
    match (actual, example) {
        (Json::Object(a), Json::Object(e)) => {
            let counts = !e.is_empty() && e.values().all(Json::is_number);
            for (key, value) in a {
                if counts {
                    assert!(value.is_number(), "{path}.{key}: a count, got {value}");
                    continue;
                }
                let documented = e
                    .get(key)
                    .unwrap_or_else(|| panic!("{path}.{key} is not in docs/json.md: {actual:#}"));
                only_documented_fields(&format!("{path}.{key}"), value, documented);
            }
        }
        (Json::Array(a), Json::Array(e)) => {
            if let Some(first) = e.first() {
                for item in a {
                    only_documented_fields(&format!("{path}[]"), item, first);
                }
            }
        }
        // `null` in the example stands for "none" of any type, and a value may be `null`.
        (_, Json::Null) | (Json::Null, _) => {}
        (a, e) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(e),
            "{path}: {a} is not of the documented type ({e})"
        ),
    }
}

/// Checks one command's document against the documented examples for it (any one fits).
fn check(docs: &BTreeMap<String, Vec<Json>>, command: &str, run: &Run) -> Json {
    let json = run.json();
    let examples = docs
        .get(command)
        .unwrap_or_else(|| panic!("docs/json.md has no section for `{command}`"));
    let fits =
        |e: &Json| std::panic::catch_unwind(|| only_documented_fields(command, &json, e)).is_ok();
    if !examples.iter().any(fits) {
        only_documented_fields(command, &json, &examples[0]);
    }
    json
}

/// Runs `rolecall --json ARGS` in a fresh folder inside `dir`; it must not fail (exit 2).
fn json_run(dir: &Path, args: &[&str]) -> Run {
    let copy = tempfile::TempDir::new_in(dir).unwrap();
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = Run::in_dir(copy, &all);
    assert!(run.code < 2, "{args:?}: {}{}", run.stdout, run.stderr);
    run
}

#[test]
fn every_command_that_prints_takes_json_and_prints_the_documented_fields() {
    let docs = documented();
    let top = tempfile::tempdir().unwrap();
    let dir = top.path();
    let db = dir.join("rolecall.db").display().to_string();
    let db = db.as_str();
    let out = dir.join("results").display().to_string();

    let run = json_run(
        dir,
        &["--db", db, "state", "import", &state_fixture("users.json")],
    );
    let import = check(&docs, "state import", &run);
    assert_eq!(import["files"][0]["kind"], "alma_json");

    let clean = sample("clean-batch.xlsx");
    let run = json_run(dir, &["--db", db, "process", "-o", &out, &clean]);
    let process = check(&docs, "process", &run);
    let cs_path = process["submissions"][0]["changeset"].as_str().unwrap();
    let cs: Json = serde_json::from_str(&std::fs::read_to_string(cs_path).unwrap()).unwrap();
    let operations = cs["operations"].as_array().unwrap();

    let run = json_run(dir, &["--db", db, "apply", "--dry-run", cs_path]);
    let dry = check(&docs, "apply", &run);
    assert_eq!(dry["dry_run"].as_array().unwrap().len(), operations.len());
    assert!(dry.get("applied").is_none(), "{dry:#}");
    let run = json_run(dir, &["--db", db, "apply", cs_path]);
    let applied = check(&docs, "apply", &run);
    assert_eq!(applied["applied"]["changed"], operations.len());

    let alma = dir.join("alma").display().to_string();
    let run = json_run(dir, &["--db", db, "export", cs_path, "-o", &alma]);
    let export = check(&docs, "export", &run);
    // One roles file per account the change set touches, counted here from the change set.
    let accounts: BTreeSet<&str> = operations
        .iter()
        .filter_map(|op| op["primary_id"].as_str())
        .collect();
    assert_eq!(export["roles"].as_array().unwrap().len(), accounts.len());

    let licence = dir.join("licence.xlsx").display().to_string();
    let run = json_run(dir, &["--db", db, "audit", "licence", "-o", &licence]);
    assert_eq!(check(&docs, "audit licence", &run)["audit"], "licence");
    let audit = dir.join("audit").display().to_string();
    let args = [
        "--db",
        db,
        "audit",
        "inactive",
        "--as-of",
        "2026-11-24",
        "-o",
        &audit,
    ];
    let run = json_run(dir, &args);
    assert_eq!(check(&docs, "audit inactive", &run)["audit"], "inactive");

    let run = json_run(dir, &["catalog", "check"]);
    let catalog = check(&docs, "catalog check", &run);
    assert_eq!(catalog["errors"], 0);
    let blank = dir.join("blank.xlsx").display().to_string();
    let run = json_run(dir, &["template", "worksheet", "-o", &blank]);
    assert_eq!(check(&docs, "template worksheet", &run)["file"], blank);
    let form = dir.join("blank.pdf").display().to_string();
    let run = json_run(dir, &["template", "form", "-o", &form]);
    assert_eq!(check(&docs, "template form", &run)["template"], "form");

    let run = json_run(dir, &["inspect", &form]);
    let fields = check(&docs, "inspect", &run);
    assert!(
        fields["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "person.email"),
        "{fields:#}"
    );
    let run = json_run(dir, &["inspect", &clean]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{}", run.stderr);

    the_data_folder_commands_print_the_documented_fields(&docs, dir);
}

fn the_data_folder_commands_print_the_documented_fields(
    docs: &BTreeMap<String, Vec<Json>>,
    dir: &Path,
) {
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    std::fs::copy(
        sample("clean-batch.xlsx"),
        data.join("inbox/clean-batch.xlsx"),
    )
    .unwrap();
    let data = data.display().to_string();
    let run = json_run(dir, &["--data", &data, "watch", "--once"]);
    assert_eq!(check(docs, "watch", &run)["failures"], 0);
    let run = json_run(dir, &["--data", &data, "status"]);
    let status = check(docs, "status", &run);
    assert_eq!(status["folders"]["inbox"], 0);
    assert_eq!(status["folders"]["archive"], 1);
    let id = status["last_processed"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = json_run(dir, &["--data", &data, "outbox"]);
    let outbox = check(docs, "outbox", &run);
    assert_eq!(outbox["waiting"].as_array().unwrap().len(), 1);
    assert!(outbox.get("retry").is_none());
    let run = json_run(dir, &["--data", &data, "outbox", "retry"]);
    assert_eq!(check(docs, "outbox", &run)["retry"]["not_sent"], "no_smtp");
    let run = json_run(dir, &["--data", &data, "reprocess", &id, "--dry-run"]);
    let again = check(docs, "reprocess", &run);
    assert_eq!(again["dry_run"], true);
    assert_eq!(again["submissions"][0]["id"], id.as_str());
}

#[test]
fn completions_for_each_shell_and_the_man_page_are_produced() {
    // What each shell needs to load the script, from the shells' own documentation.
    for (shell, marker) in [
        ("bash", "complete -F _rolecall"),
        ("zsh", "#compdef rolecall"),
        ("fish", "complete -c rolecall"),
        ("elvish", "edit:completion:arg-completer[rolecall]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = Run::new(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}:\n{}", run.stdout);
        // Every command can be completed.
        assert!(run.stdout.contains("reprocess"), "{shell}");
    }
    let run = Run::new(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH rolecall 1"), "{}", run.stdout);
    assert!(run.stdout.contains("reprocess"), "the commands are listed");
    let run = Run::new(&["man", "process"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(".TH rolecall-process 1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\\-\\-out"), "its flags are described");
    let run = Run::new(&["man", "nope"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("reprocess"), "{}", run.stderr);
    let bad = Run::new(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
}

#[test]
fn a_path_that_is_not_there_is_a_usage_error_and_creates_nothing() {
    let run = Run::new(&["process", "missing/"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("missing/: no such file or folder"),
        "{}",
        run.stderr
    );
    assert!(
        !run.path("rolecall-out").exists(),
        "no output folder is made"
    );

    for args in [
        &["outbox"][..],
        &["outbox", "retry"],
        &["reprocess", "20261124-1ab3b53742"],
        &["status"],
    ] {
        let run = Run::new(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains("is not a data folder"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("--data"), "{}", run.stderr);
        assert!(
            !run.path("rolecall-data").exists(),
            "{args:?} made a data folder"
        );
    }
    let run = Run::new(&["--data", "nowhere", "outbox"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("nowhere is not a data folder"),
        "{}",
        run.stderr
    );
    assert!(!run.path("nowhere").exists());

    let run = Run::new(&["state", "import", "no-export.csv"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no-export.csv: no such file"),
        "{}",
        run.stderr
    );
    assert!(!run.path("rolecall-data").exists(), "no database is made");
}

#[test]
fn the_environment_names_the_catalog_the_data_folder_and_the_configuration() {
    let run = Test::new()
        .args(&["catalog", "check"])
        .env("ROLECALL_CATALOG", "no-such-catalog")
        .code(1) // the missing files are catalog errors
        .run();
    assert!(run.stdout.contains("no-such-catalog"), "{}", run.stdout);

    // A data folder with its configuration file inside: found without --config, and its
    // relative paths are taken from the data folder.
    let clean = sample("clean-batch.xlsx");
    let run = Test::new()
        .write("desk/rolecall.toml", "out = \"replies\"\n")
        .args(&["process", &clean])
        .env("ROLECALL_DATA", "desk")
        .code(0)
        .run();
    assert!(
        run.path("desk/replies/clean-batch-xlsx").is_dir(),
        "{}",
        run.stdout
    );
    assert!(!run.path("rolecall-out").exists());

    let run = Test::new()
        .write("elsewhere.toml", "outt = \"x\"\n")
        .args(&["process", &clean])
        .env("ROLECALL_CONFIG", "elsewhere.toml")
        .code(2)
        .run();
    assert!(run.stderr.contains("elsewhere.toml"), "{}", run.stderr);
}

#[test]
fn quiet_prints_nothing_and_counts_agree_in_number() {
    let clean = sample("clean-batch.xlsx");
    let run = Run::new(&["process", &clean]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Which account state is used (none), the submission's line (printed as it was done)
    // once, then the closing line.
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("account state: none"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("clean-batch.xlsx: accepted")
    );
    let last = run.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("1 submission processed, 0 skipped;") && last.contains(", 1 email in "),
        "{last}"
    );
    let run = Run::new(&["-q", "process", &sample("mistakes.xlsx")]);
    assert_eq!(
        run.code, 1,
        "the exit code still says something needs attention"
    );
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "");
}

#[test]
fn logs_are_coloured_only_when_asked_and_never_with_no_color() {
    let watch = || Test::new().inbox(&[]).args(&["--data", "data"]);
    let run = watch()
        .args(&["--color", "always", "watch", "--once"])
        .code(0)
        .run();
    assert!(run.stderr.contains("\u{1b}["), "{}", run.stderr);
    let run = watch()
        .args(&["watch", "--once"])
        .env("NO_COLOR", "1")
        .run();
    assert!(run.stderr.contains("watching"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.stderr);
    let run = watch().args(&["-q", "watch", "--once"]).run();
    assert!(
        !run.stderr.contains("watching"),
        "-q logs warnings only: {}",
        run.stderr
    );
}

#[test]
fn the_old_flag_spellings_still_work() {
    let run = Run::new(&["template", "worksheet", "--output", "a.xlsx"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.path("a.xlsx").is_file());
    let run = Run::new(&["template", "form", "--out", "a.pdf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.path("a.pdf").is_file());
}

#[test]
fn inspect_on_a_worksheet_tells_the_help_desk_to_process_it() {
    let run = Run::new(&["inspect", &sample("clean-batch.xlsx")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("is a workbook (.xlsx), not a PDF"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rolecall process"), "{}", run.stderr);
    assert!(!run.stderr.contains("Please send"), "{}", run.stderr);
}
