//! The form reader on hostile and broken PDFs (`tests/fixtures/pdf-hostile/`, written by
//! its `make_fixtures.py`): each file gives the right failure kind or a bounded result,
//! never a panic, both in this process (`read_form`) and through the child-process reader
//! (`read_form_file` with `Isolation::Child`, the built binary as the child).

use rolecall::read::Isolation;
use rolecall::read::form::{FieldKind, FieldValue, Form, FormFailKind, FormFailure, read_form};
use rolecall::read::read_form_file;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pdf-hostile")
        .join(name)
}

fn child(timeout: Duration) -> Isolation {
    Isolation::Child {
        exe: env!("CARGO_BIN_EXE_rolecall").into(),
        memory_mb: 1024,
        timeout,
    }
}

enum Expect {
    /// The four fields of small_form.pdf; `true` when the file was encrypted.
    SmallForm(bool),
    /// Exactly these (name, text value) fields.
    Fields(&'static [(&'static str, Option<&'static str>)]),
    Fail(FormFailKind),
}

const CASES: &[(&str, Expect)] = &[
    ("small_form.pdf", Expect::SmallForm(false)),
    ("small_form_objstm.pdf", Expect::SmallForm(false)),
    ("small_form_rc4_40.pdf", Expect::SmallForm(true)),
    ("small_form_rc4_128.pdf", Expect::SmallForm(true)),
    ("small_form_aes128.pdf", Expect::SmallForm(true)),
    ("small_form_aes256.pdf", Expect::SmallForm(true)),
    // Cut inside the objects: lopdf rebuilds the cross-reference table and the form reads.
    ("truncated_plain.pdf", Expect::SmallForm(false)),
    ("truncated_objstm.pdf", Expect::Fail(FormFailKind::Damaged)),
    ("header_only.pdf", Expect::Fail(FormFailKind::Damaged)),
    ("deep_inline_kids.pdf", Expect::Fail(FormFailKind::Damaged)),
    (
        "password_aes256.pdf",
        Expect::Fail(FormFailKind::NeedsPassword),
    ),
    (
        "password_rc4.pdf",
        Expect::Fail(FormFailKind::NeedsPassword),
    ),
    ("not_a_pdf.pdf", Expect::Fail(FormFailKind::NotPdf)),
    ("empty.pdf", Expect::Fail(FormFailKind::NotPdf)),
    ("zip_named_pdf.pdf", Expect::Fail(FormFailKind::NotPdf)),
    ("no_form.pdf", Expect::Fail(FormFailKind::NoFields)),
    ("deep_kids.pdf", Expect::Fail(FormFailKind::TooLarge)),
    ("wide_kids.pdf", Expect::Fail(FormFailKind::TooLarge)),
    ("bomb_value.pdf", Expect::Fail(FormFailKind::TooLarge)),
    ("bomb_objstm.pdf", Expect::Fail(FormFailKind::TooLarge)),
    (
        "kids_cycle.pdf",
        Expect::Fields(&[("ok", Some("still read"))]),
    ),
    (
        "parent_cycle.pdf",
        Expect::Fields(&[("parent.child", Some("value")), ("ok", Some("still read"))]),
    ),
    ("inline_kids_45.pdf", Expect::Fields(&[("z", None)])),
];

fn text(s: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(s.into()))
}

fn check(name: &str, how: &str, got: &Result<Form, FormFailure>, expect: &Expect) {
    match (expect, got) {
        (Expect::SmallForm(encrypted), Ok(form)) => {
            let f = &form.fields;
            let summary: Vec<_> = f
                .iter()
                .map(|f| (f.name.as_str(), f.kind, f.value.clone()))
                .collect();
            assert_eq!(
                summary,
                [
                    ("person.name", Some(FieldKind::Text), text("José Núñez")),
                    ("agree", Some(FieldKind::Checkbox), text("Ja")),
                    ("action", Some(FieldKind::Radio), text("Delete")),
                    (
                        "libraries",
                        Some(FieldKind::Choice),
                        Some(FieldValue::List(vec!["MAIN".into(), "LAW".into()]))
                    ),
                ],
                "{name} ({how})"
            );
            assert_eq!(f[1].states, ["Ja"], "{name}: check box on-state");
            assert_eq!(
                f[2].states,
                ["Add", "Delete"],
                "{name}: radio on-states from the kids"
            );
            assert_eq!(
                f[3].options,
                [
                    ("MAIN".to_string(), "Main Library".to_string()),
                    ("LAW".to_string(), "Law Library".to_string())
                ],
                "{name}: options as (export, display)"
            );
            assert_eq!(form.encrypted, *encrypted, "{name} ({how}): encrypted flag");
        }
        (Expect::Fields(want), Ok(form)) => {
            let got: Vec<(&str, Option<FieldValue>)> = form
                .fields
                .iter()
                .map(|f| (f.name.as_str(), f.value.clone()))
                .collect();
            let want: Vec<(&str, Option<FieldValue>)> = want
                .iter()
                .map(|(n, v)| (*n, v.map(text).unwrap_or(None)))
                .collect();
            assert_eq!(got, want, "{name} ({how})");
        }
        (Expect::Fail(kind), Err(failure)) => {
            assert_eq!(failure.kind, *kind, "{name} ({how}): {}", failure.message);
            assert!(
                failure.message.len() > 40,
                "{name}: a message that says what to do"
            );
        }
        (_, got) => panic!("{name} ({how}): unexpected {got:?}"),
    }
}

#[test]
fn every_hostile_file_in_process_gives_its_failure_or_a_bounded_result() {
    for (name, expect) in CASES {
        let bytes = std::fs::read(fixture(name)).expect(name);
        let started = Instant::now();
        let got = read_form(&bytes);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: took {:?}",
            started.elapsed()
        );
        check(name, "in process", &got, expect);
    }
}

#[test]
fn every_hostile_file_through_the_child_process_gives_the_same_answer() {
    // One file after another in one run: a bad file never stops the next.
    for (name, expect) in CASES {
        let got = read_form_file(&fixture(name), &child(Duration::from_secs(60)));
        check(name, "child process", &got, expect);
    }
}

#[test]
fn each_failure_kind_has_its_own_message() {
    let mut seen = std::collections::HashMap::new();
    for (name, expect) in CASES {
        if let Expect::Fail(kind) = expect {
            let bytes = std::fs::read(fixture(name)).unwrap();
            let failure = read_form(&bytes).unwrap_err();
            seen.entry(*kind).or_insert(failure.message);
        }
    }
    let messages: std::collections::HashSet<&String> = seen.values().collect();
    assert_eq!(messages.len(), seen.len(), "{seen:#?}");
    let no_fields = &seen[&FormFailKind::NoFields];
    assert!(no_fields.contains("Save (not Print)"), "{no_fields}");
    assert!(seen[&FormFailKind::NeedsPassword].contains("password"));
}

/// A classic-xref PDF built in memory: `objects` are numbered from 1, object 1 the catalog.
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn a_hundred_thousand_nested_fields_are_refused_quickly_without_recursion() {
    let depth = 100_000;
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 3 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
        b"<< /Fields [4 0 R] >>".to_vec(),
    ];
    for i in 0..depth {
        let n = 4 + i;
        let parent = if i == 0 {
            String::new()
        } else {
            format!(" /Parent {} 0 R", n - 1)
        };
        let kids = if i + 1 == depth {
            " /FT /Tx".to_string()
        } else {
            format!(" /Kids [{} 0 R]", n + 1)
        };
        objects.push(format!("<< /T (f{i}){kids}{parent} >>").into_bytes());
    }
    let bytes = pdf(&objects);
    let started = Instant::now();
    let failure = read_form(&bytes).unwrap_err();
    assert_eq!(failure.kind, FormFailKind::TooLarge, "{}", failure.message);
    assert!(failure.message.contains("nested"), "{}", failure.message);
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[cfg(unix)]
mod child_mishaps {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for the reader child that behaves badly.
    fn fake_child(dir: &Path, script: &str) -> PathBuf {
        let path = dir.join("fake-rolecall");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn read_with(exe: PathBuf, timeout: Duration) -> FormFailure {
        let isolation = Isolation::Child {
            exe,
            memory_mb: 256,
            timeout,
        };
        // A script just written can be "busy" (ETXTBSY) for a moment while another test
        // thread forks; starting it again is the usual cure.
        for _ in 0..20 {
            let f = read_form_file(&fixture("small_form.pdf"), &isolation).unwrap_err();
            if !f.message.contains("could not start") {
                return f;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the fake child never started");
    }

    #[test]
    fn a_child_that_hangs_is_killed_and_reported_as_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let f = read_with(
            fake_child(dir.path(), "exec sleep 30"),
            Duration::from_millis(500),
        );
        assert_eq!(f.kind, FormFailKind::TooLarge, "{}", f.message);
        assert!(f.message.contains("within"), "{}", f.message);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_child_killed_for_memory_is_reported_as_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let f = read_with(
            fake_child(dir.path(), "kill -9 $$"),
            Duration::from_secs(10),
        );
        assert_eq!(f.kind, FormFailKind::TooLarge, "{}", f.message);
        assert!(f.message.contains("memory"), "{}", f.message);
    }

    #[test]
    fn a_child_that_crashes_or_prints_garbage_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        for script in [
            "echo 'thread main has overflowed its stack' >&2; kill -6 $$",
            "echo '{not json'",
        ] {
            let f = read_with(fake_child(dir.path(), script), Duration::from_secs(10));
            assert_eq!(f.kind, FormFailKind::Damaged, "{script}: {}", f.message);
        }
    }
}

fn inspect(args: &[&str]) -> std::process::Output {
    crate::support::test::rolecall(&std::env::temp_dir())
        .arg("inspect")
        .args(args)
        .output()
        .expect("run rolecall inspect")
}

#[test]
fn inspect_prints_an_aligned_table_and_json() {
    let path = fixture("small_form.pdf");
    let out = inspect(&[path.to_str().unwrap()]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        table,
        "name         type       value\n\
         person.name  text       José Núñez\n\
         agree        checkbox   Ja\n\
         action       radio      Delete\n\
         libraries    choice     [\"MAIN\", \"LAW\"]\n"
    );
    let out = inspect(&["--json", path.to_str().unwrap()]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"fields": [
            {"name": "person.name", "type": "text", "value": "José Núñez"},
            {"name": "agree", "type": "checkbox", "value": "Ja"},
            {"name": "action", "type": "radio", "value": "Delete"},
            {"name": "libraries", "type": "choice", "value": ["MAIN", "LAW"]},
        ]})
    );
}

#[test]
fn inspect_explains_an_unreadable_form_on_stderr_with_exit_code_1() {
    for (name, words) in [
        ("password_aes256.pdf", "password"),
        ("no_form.pdf", "Save (not Print)"),
        ("not_a_pdf.pdf", "not a PDF"),
        ("bomb_value.pdf", "beyond what Rolecall reads"),
    ] {
        let out = inspect(&["--json", fixture(name).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the message names the file: {err}"
        );
    }
    let help = inspect(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit codes"));
}

/// lopdf below 0.45 has stack-overflow and crash bugs on hostile files, and form helper
/// crates pin such versions: none may enter the dependency tree.
#[test]
fn no_lopdf_below_0_45_in_the_lock_file() {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
        .expect("Cargo.lock");
    let versions: Vec<&str> = lock
        .split("[[package]]")
        .filter(|p| p.contains("\nname = \"lopdf\"\n"))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"'))
        .collect();
    assert!(!versions.is_empty(), "lopdf is in the lock file");
    for v in versions {
        let mut parts = v.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        assert!(major > 0 || minor >= 45, "lopdf {v} is in Cargo.lock");
    }
}
