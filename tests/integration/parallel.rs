//! Submissions on several threads (`process --jobs N`, `[watch] jobs`): every output is
//! what a serial run gives, whatever order the work finishes in.

use super::support::run::{Run, repo};
use super::support::test::Test;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn sample(rel: &str) -> PathBuf {
    repo().join("samples").join(rel)
}

/// The submission id of these bytes on the test clock's day, worked out here from the
/// documented rule (`<day>-<first 10 hex digits of the SHA-256>`).
fn submission_id(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("20261124-{}", &hex[..10])
}

/// A folder of submissions where order matters: the same bytes three times (twice under
/// the same name), a form, a worksheet with mistakes, and a file named like a workbook that
/// is not one. In path order: `a/clean-batch.xlsx`, `b/clean-batch.xlsx`, `c-copy.xlsx`,
/// `clean.pdf`, `mistakes.xlsx`, `notes.xlsx`.
fn batch(test: Test) -> Test {
    let clean = std::fs::read(sample("worksheets/clean-batch.xlsx")).unwrap();
    test.write("in/a/clean-batch.xlsx", &clean)
        .write("in/b/clean-batch.xlsx", &clean)
        .write("in/c-copy.xlsx", &clean)
        .write(
            "in/clean.pdf",
            std::fs::read(sample("forms/clean.pdf")).unwrap(),
        )
        .write(
            "in/mistakes.xlsx",
            std::fs::read(sample("worksheets/mistakes.xlsx")).unwrap(),
        )
        .write("in/notes.xlsx", "meeting notes, not a workbook\n")
}

fn process(jobs: &str, json: bool) -> Run {
    let mut args = vec!["process", "in", "--out", "out", "--jobs", jobs];
    if json {
        args.push("--json");
    }
    batch(Test::new()).args(&args).code(1).run()
}

fn outbox(run: &Run) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.path("out/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn emails_of(run: &Run, source: &str) -> Vec<String> {
    run.submission(source)["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            Path::new(e.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn four_jobs_print_write_and_exit_exactly_as_one() {
    let one = process("1", false);
    let four = process("4", false);
    assert_eq!(four.stdout, one.stdout, "the same lines, in the same order");
    assert_eq!(outbox(&four), outbox(&one));
    let lines: Vec<&str> = four.stdout.lines().collect();
    let order: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split(": ").next())
        .filter(|p| p.starts_with("in/"))
        .collect();
    assert_eq!(
        order,
        [
            "in/a/clean-batch.xlsx",
            "in/b/clean-batch.xlsx",
            "in/c-copy.xlsx",
            "in/clean.pdf",
            "in/mistakes.xlsx",
            "in/notes.xlsx"
        ],
        "{}",
        four.stdout
    );
}

#[test]
fn the_same_bytes_three_times_are_named_in_input_order_on_four_jobs() {
    let run = process("4", true);
    let id = submission_id(&std::fs::read(sample("worksheets/clean-batch.xlsx")).unwrap());
    // The outbox names a reply after its submission id; the second and third of the same
    // id get -2 and -3, in input order, as a serial run gives them.
    assert_eq!(emails_of(&run, "a/clean-batch.xlsx"), [format!("{id}.eml")]);
    assert_eq!(
        emails_of(&run, "b/clean-batch.xlsx"),
        [format!("{id}-2.eml")]
    );
    assert_eq!(emails_of(&run, "c-copy.xlsx"), [format!("{id}-3.eml")]);
    let third = std::fs::read_to_string(run.path(&format!("out/outbox/{id}-3.eml"))).unwrap();
    assert!(
        third.contains("c-copy"),
        "the -3 reply is c-copy's:\n{third}"
    );
    // Folders are named after the file, the second of a name with -2, in input order.
    let a = run.submission("a/clean-batch.xlsx");
    let b = run.submission("b/clean-batch.xlsx");
    assert_eq!(
        a["workbook"].as_str().unwrap(),
        "out/clean-batch-xlsx/clean-batch-result.xlsx"
    );
    assert_eq!(
        b["workbook"].as_str().unwrap(),
        "out/clean-batch-xlsx-2/clean-batch-result.xlsx"
    );
    let json = run.json();
    let sources: Vec<&str> = json["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.first(), Some(&"in/a/clean-batch.xlsx"));
    assert_eq!(sources.last(), Some(&"in/notes.xlsx"));
}

#[test]
fn jobs_must_be_at_least_one() {
    let run = batch(Test::new())
        .args(&["process", "in", "--jobs", "0"])
        .code(2)
        .run();
    assert!(run.stderr.contains("--jobs"), "{}", run.stderr);
    assert!(!run.path("rolecall-out").exists(), "nothing created");
}

/// An email from Dana with one attachment, the same bytes every time it is asked for
/// (lettre draws its MIME boundary at random).
fn email_with(name: &str, bytes: Vec<u8>) -> Vec<u8> {
    static MADE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    MADE.get_or_init(|| crate::inbox::email_with(1, name, bytes))
        .clone()
}

/// `watch --once` over an inbox where order matters, on `jobs` threads; returns the run
/// and what the ledger holds, row by row (ids are the same in every run: fixed clock).
fn watch_once(jobs: usize) -> (Run, Vec<String>) {
    let clean = std::fs::read(sample("worksheets/clean-batch.xlsx")).unwrap();
    let mut test = Test::new().config(&format!(
        "data = \"data\"\n[watch]\nsettle_ms = 0\njobs = {jobs}\nreplies_per_hour = 2\n"
    ));
    // In name order: the same bytes are first `clean-batch.xlsx`, then a copy, then an
    // email's attachment.
    for (name, bytes) in [
        (
            "clean-batch.ods",
            std::fs::read(sample("worksheets/clean-batch.ods")).unwrap(),
        ),
        ("clean-batch.xlsx", clean.clone()),
        (
            "clean.pdf",
            std::fs::read(sample("forms/clean.pdf")).unwrap(),
        ),
        ("copy-of-clean.xlsx", clean.clone()),
        ("m.eml", email_with("again.xlsx", clean.clone())),
        (
            "mistakes.pdf",
            std::fs::read(sample("forms/mistakes.pdf")).unwrap(),
        ),
        (
            "mistakes.xlsx",
            std::fs::read(sample("worksheets/mistakes.xlsx")).unwrap(),
        ),
        ("notes.txt", b"not a submission\n".to_vec()),
    ] {
        test = test.write(&format!("data/inbox/{name}"), bytes);
    }
    let run = test.args(&["watch", "--once"]).code(0).run();
    let db = rusqlite::Connection::open(run.path("data/rolecall.db")).unwrap();
    let mut rows = Vec::new();
    for sql in [
        "SELECT id || ' ' || kind || ' ' || file_name || ' ' || state || ' ' || status || ' ' || original || ' ' || coalesce(folder, '-') FROM submissions ORDER BY id",
        "SELECT key || ' ' || state || ' ' || file || ' ' || recipients FROM mail ORDER BY key",
        "SELECT submission_id || ' ' || file_name || ' ' || state || ' ' || kept FROM duplicates ORDER BY kept",
    ] {
        let mut stmt = db.prepare(sql).unwrap();
        let found = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.extend(found.map(Result::unwrap).map(|row| untagged(&row)));
    }
    (run, rows)
}

/// A duplicate's copy is kept as `duplicates/<tag>-<name>`, the tag made from its arrival
/// (its modification time among it): the same in two runs but for the tag.
fn untagged(row: &str) -> String {
    match row.split_once("/duplicates/") {
        Some((before, after)) => {
            let name = after.split_once('-').map_or(after, |(_, name)| name);
            format!("{before}/duplicates/TAG-{name}")
        }
        None => row.to_string(),
    }
}

#[test]
fn the_watcher_on_four_jobs_records_what_it_records_on_one() {
    let (one, serial) = watch_once(1);
    let (four, parallel) = watch_once(4);
    assert_eq!(parallel, serial, "the same ledger rows");
    let inbox = |run: &Run| std::fs::read_dir(run.path("data/inbox")).unwrap().count();
    assert_eq!((inbox(&one), inbox(&four)), (0, 0), "every file taken");
    // Worked out by hand: the copy and the email's attachment are duplicates of the first
    // `clean-batch.xlsx` in name order, never the other way round.
    let id = submission_id(&std::fs::read(sample("worksheets/clean-batch.xlsx")).unwrap());
    let first = parallel
        .iter()
        .find(|r| r.starts_with(&format!("{id} file clean-batch.xlsx filed accepted")));
    assert!(first.is_some(), "{parallel:#?}");
    let copy = parallel
        .iter()
        .find(|r| r.starts_with(&format!("{id} copy-of-clean.xlsx filed")));
    assert!(copy.is_some(), "the copy is the duplicate: {parallel:#?}");
    let notice = format!("-dup-{id} ");
    assert!(
        parallel.iter().any(|r| r.contains(&notice)),
        "the email's attachment is answered \"already processed\": {parallel:#?}"
    );
    // Two replies an hour to one address: the third reply to it and later are held, in
    // input order, as one thread holds them.
    let held = parallel.iter().filter(|r| r.contains(" held ")).count();
    let held_one = serial.iter().filter(|r| r.contains(" held ")).count();
    assert!(held > 0, "the flood limit was reached: {parallel:#?}");
    assert_eq!(held, held_one);
}
