//! Who may ask, through the watcher: every trick a stranger can play with the sender of a
//! message (`fixtures/eml/senders/make_senders.py`), each carrying the sample coordinator's
//! clean worksheet, dropped into one inbox and taken in ONE `watch --once` pass. The genuine
//! message is accepted; no trick gets a line accepted; the messages whose sender is in doubt
//! are quarantined with the rule that refused them, unanswered; every file leaves the inbox.

use crate::support::test::rolecall;
use rolecall::ledger::Ledger;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eml/senders")
}

/// The tricks whose sender is in doubt: quarantined, by this rule.
const REFUSED: &[(&str, &str)] = &[
    ("two-from", "sender-ambiguous"),
    ("two-from-lower", "sender-ambiguous"),
    ("two-from-space", "sender-ambiguous"),
    ("two-mailboxes", "sender-ambiguous"),
    ("other-sender", "sender-ambiguous"),
    ("domain-literal", "sender-unanswerable"),
    ("quoted-local", "sender-unanswerable"),
    ("quoted-coordinator", "sender-unanswerable"),
    ("source-route", "sender-unanswerable"),
    ("trailing-dot", "sender-unanswerable"),
    ("hyphen-label", "sender-unanswerable"),
    ("empty-label", "sender-unanswerable"),
    ("nul", "sender-unanswerable"),
    ("zero-width", "sender-unanswerable"),
];

/// The tricks that are someone else's address: read, every line refused by the
/// authorisation rule.
const SOMEONE_ELSE: &[&str] = &[
    "cyrillic",
    "dotless-i",
    "fullwidth",
    "display-quoted",
    "display-bare",
    "comment",
    "encoded-display",
];

struct Row {
    id: String,
    status: String,
    outcome: Json,
}

fn row(ledger: &Ledger, sql: &str, key: &str) -> Option<Row> {
    ledger
        .conn()
        .query_row(sql, [key], |r| {
            Ok(Row {
                id: r.get(0)?,
                status: r.get(1)?,
                outcome: serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or(Json::Null),
            })
        })
        .ok()
}

fn email(ledger: &Ledger, name: &str) -> Row {
    row(
        ledger,
        "SELECT id, status, outcome FROM submissions WHERE kind = 'email' AND file_name = ?1",
        &format!("{name}.eml"),
    )
    .unwrap_or_else(|| panic!("{name}.eml is not in the ledger"))
}

fn attachment(ledger: &Ledger, parent: &str) -> Option<Row> {
    row(
        ledger,
        "SELECT id, status, outcome FROM submissions WHERE parent = ?1",
        parent,
    )
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One `watch --once` pass over `data`: it ends well, the inbox is empty, nothing is left
/// to try again.
fn one_pass(data: &Path) {
    let out = rolecall(data)
        .args(["watch", "--once", "--data"])
        .arg(data)
        .env("ROLECALL_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_eq!(names(&data.join("inbox")), Vec::<String>::new(), "{log}");
    assert!(!log.contains("will retry"), "{log}");
}

#[test]
fn no_trick_with_the_sender_gets_a_line_accepted_and_every_file_ends_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    for name in names(&fixtures()).iter().filter(|n| n.ends_with(".eml")) {
        std::fs::copy(fixtures().join(name), data.join("inbox").join(name)).unwrap();
    }
    one_pass(&data);

    let ledger = Ledger::open(&data).unwrap();
    // The control: the same worksheet from the coordinator herself is accepted, so the
    // worksheet is not what the tricks below fail on.
    let genuine = email(&ledger, "genuine");
    let child = attachment(&ledger, &genuine.id).expect("the genuine attachment is read");
    assert_eq!(child.status, "accepted", "{}", child.outcome);
    assert!(child.outcome["accepted"].as_u64().unwrap() > 0);

    let quarantine = names(&data.join("quarantine"));
    for (name, rule) in REFUSED {
        let e = email(&ledger, name);
        assert_eq!(e.status, "quarantined", "{name}: {}", e.outcome);
        assert_eq!(e.outcome["rule"], *rule, "{name}: {}", e.outcome);
        assert!(
            attachment(&ledger, &e.id).is_none(),
            "{name}: its attachment was read"
        );
        let reason = format!("{}-{name}.eml.reason.txt", e.id);
        assert!(quarantine.contains(&reason), "{name}: {quarantine:?}");
        let text = std::fs::read_to_string(data.join("quarantine").join(&reason)).unwrap();
        assert!(text.contains(rule), "{name}: {text}");
        assert!(text.contains("no reply was sent"), "{name}: {text}");
    }
    for name in SOMEONE_ELSE {
        let e = email(&ledger, name);
        let child = attachment(&ledger, &e.id).unwrap_or_else(|| panic!("{name}: not read"));
        assert_eq!(child.status, "rejected", "{name}: {}", child.outcome);
        assert_eq!(child.outcome["accepted"], 0, "{name}: {}", child.outcome);
    }
    // An encoded word where the address belongs: no address, so nobody to answer.
    assert_eq!(email(&ledger, "encoded-address").status, "ignored");

    // No reply went to a message whose sender was refused.
    let outbox = data.join("outbox");
    for file in names(&outbox) {
        let text =
            String::from_utf8_lossy(&std::fs::read(outbox.join(&file)).unwrap()).into_owned();
        for (name, _) in REFUSED {
            assert!(
                !text.contains(&format!("<{name}@mail.example.net>")),
                "{file} answers {name}"
            );
        }
    }
}

#[test]
fn an_attachment_name_longer_than_a_file_name_may_be_is_read_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("inbox")).unwrap();
    std::fs::copy(
        fixtures().join("long-name.eml"),
        data.join("inbox/long-name.eml"),
    )
    .unwrap();
    one_pass(&data);
    let ledger = Ledger::open(&data).unwrap();
    let e = email(&ledger, "long-name");
    let child = attachment(&ledger, &e.id).expect("the attachment is read");
    assert_eq!(child.status, "accepted", "{}", child.outcome);
    // 105 characters of 3 bytes and `.xlsx` are 320 bytes; kept: 65 characters (195 bytes)
    // and the extension, within the 200 bytes an attachment name may have.
    let name: String = ledger
        .conn()
        .query_row(
            "SELECT file_name FROM submissions WHERE id = ?1",
            [&child.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, format!("{}.xlsx", "\u{8868}".repeat(65)));
    assert_eq!(names(&data.join("outbox")).len(), 1, "the reply is queued");
}
