//! The request lifecycle end to end (`docs/lifecycle.md`): worksheets processed by the real
//! watcher, `push ID` against the fake Alma (`support/alma.rs`), `approve`, `deny` and
//! `queue`. Every expectation is worked out by hand from the worksheet written here and the
//! users seeded in the fake.

use crate::alma::{Env, GCSU, add_role, sync};
use crate::support::alma::{Fault, rich_user};
use crate::support::test::Out;
use serde_json::{Value as Json, json};
use std::path::Path;

/// Requester block of Gulf Coast's coordinator Dana Whitfield, then one row per line
/// (Accounts!9, Accounts!10, ...) under these headings.
pub(crate) fn worksheet(path: &Path, header: &[&str], rows: &[&[&str]]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Accounts").unwrap();
    for (row, (label, value)) in [
        ("Requester name", "Dana Whitfield"),
        ("Requester email", "dwhitfield@gcsu.example.edu"),
        ("Institution", GCSU),
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1 + row as u32, 0, *label).unwrap();
        ws.write_string(1 + row as u32, 1, *value).unwrap();
    }
    for (c, h) in header.iter().enumerate() {
        ws.write_string(7, c as u16, *h).unwrap();
    }
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(8 + r as u32, c as u16, *v).unwrap();
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    wb.save(path).unwrap();
}

const HEADER: &[&str] = &[
    "Action",
    "Primary ID",
    "Last name",
    "First name",
    "Role",
    "Library",
];

/// Two Gulf Coast staff with IDs of its pattern, seeded in the fake as the rich user (Patron,
/// 32, 37, 204 and 9999) and synced into the state.
const JANE: &str = "0400101";
const ERIC: &str = "0400102";

fn desk() -> Env {
    let env = Env::new("[watch]\nsettle_ms = 0\n");
    env.fake
        .add_user(GCSU, rich_user(JANE, "Jane", "Doe", false));
    env.fake
        .add_user(GCSU, rich_user(ERIC, "Eric", "Smith", false));
    let out = env.run(&["state", "sync", "--institution", GCSU, JANE, ERIC]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    env
}

/// Jane's three lines: Vendor Manager (33, accepted), General System Administrator (26,
/// privileged, two approvers), Catalog Administrator (205, privileged, one approver).
fn three_lines(env: &Env) -> String {
    worksheet(
        &env.dir.path().join("data/inbox/jdoe.xlsx"),
        HEADER,
        &[
            &["Modify", JANE, "Doe", "Jane", "Vendor Manager", ""],
            &[
                "Modify",
                JANE,
                "Doe",
                "Jane",
                "General System Administrator",
                "",
            ],
            &["Modify", JANE, "Doe", "Jane", "Catalog Administrator", ""],
        ],
    );
    watch_once(env)
}

/// Runs the watcher once and returns the submission it processed.
fn watch_once(env: &Env) -> String {
    let out = env.run(&["watch", "--once"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status: Json = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    status["last_processed"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ok(out: &Out) {
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

fn refused(out: &Out, words: &str) {
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(words),
        "wanted {words:?} in:\n{}",
        out.stderr
    );
}

/// The role codes of a user's roles in the fake Alma.
fn alma_codes(env: &Env, id: &str) -> Vec<String> {
    let user = env.fake.user(GCSU, id).unwrap();
    let mut codes: Vec<String> = user["user_role"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role_type"]["value"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    codes
}

fn queue(env: &Env, now: &str) -> Json {
    let out = env
        .command(&["queue", "--json"])
        .env("ROLECALL_NOW", now)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `--json` of a command, checked against the examples of `docs/json.md` (any one fits).
fn documented_json(env: &Env, command: &str, args: &[&str]) -> Json {
    let mut all = args.to_vec();
    all.push("--json");
    let out = env.run(&all);
    ok(&out);
    let json: Json = serde_json::from_str(&out.stdout).unwrap();
    let docs = crate::command_line::documented();
    let examples = &docs[command];
    let fits = |e: &Json| {
        std::panic::catch_unwind(|| crate::command_line::only_documented_fields(command, &json, e))
            .is_ok()
    };
    if !examples.iter().any(fits) {
        crate::command_line::only_documented_fields(command, &json, &examples[0]);
    }
    json
}

fn puts(env: &Env) -> usize {
    env.writes().iter().filter(|r| r.method == "PUT").count()
}

#[test]
fn a_privileged_line_is_pushed_only_after_two_approvals_and_a_denied_one_never() {
    let env = desk();
    let id = three_lines(&env);
    // Seeded: Patron, 32, 37, 204 and 9999 (outside the catalog).
    let before = ["200", "204", "32", "37", "9999"];
    assert_eq!(alma_codes(&env, JANE), before);

    let push = env.run(&["push", &id]);
    ok(&push);
    // Before the lifecycle, `push ID` sent all three roles.
    assert_eq!(
        alma_codes(&env, JANE),
        ["200", "204", "32", "33", "37", "9999"]
    );
    assert!(
        push.stdout.contains(
            "add General System Administrator, to 0400101 (Accounts!10:10): needs approval (0 of 2 approvals): not pushed"
        ),
        "{}",
        push.stdout
    );
    assert!(
        push.stdout.contains(
            "add Catalog Administrator, to 0400101 (Accounts!11:11): needs approval: not pushed"
        ),
        "{}",
        push.stdout
    );

    // The requester cannot approve her own request, by name or by email.
    refused(
        &env.run(&[
            "approve",
            &id,
            "--line",
            "Accounts!10",
            "--by",
            "Dana Whitfield",
        ]),
        "Dana Whitfield made this request",
    );
    refused(
        &env.run(&[
            "approve",
            &id,
            "--line",
            "10",
            "--by",
            "DWhitfield@gcsu.example.edu",
        ]),
        "made this request",
    );
    let first = env.run(&["approve", &id, "--line", "10", "--by", "Marcus Ortega"]);
    ok(&first);
    assert!(
        first
            .stdout
            .contains("1 of 2 approvals: waits for another approver"),
        "{}",
        first.stdout
    );
    refused(
        &env.run(&[
            "approve",
            &id,
            "--line",
            "Accounts!10",
            "--by",
            "marcus  ortega",
        ]),
        "has approved line Accounts!10:10",
    );
    // One approval of two: nothing more goes to Alma.
    let writes = puts(&env);
    ok(&env.run(&["push", &id]));
    assert_eq!(puts(&env), writes, "nothing was pushable");

    let deny = env.run(&[
        "deny",
        &id,
        "--line",
        "11",
        "--by",
        "Ana Lopez",
        "--note",
        "not needed for cataloging",
    ]);
    ok(&deny);
    refused(
        &env.run(&["approve", &id, "--line", "11", "--by", "Ana Lopez"]),
        "does not wait for approval: it is denied",
    );
    // Denying again changes nothing and says so.
    refused(
        &env.run(&[
            "deny",
            &id,
            "--line",
            "11",
            "--by",
            "Ana Lopez",
            "--note",
            "again",
        ]),
        "it is denied",
    );
    let second = env.run(&["approve", &id, "--line", "10", "--by", "Ana Lopez"]);
    ok(&second);
    assert!(
        second.stdout.contains("approved: `rolecall push` sends it"),
        "{}",
        second.stdout
    );
    ok(&env.run(&["push", &id]));
    assert_eq!(
        alma_codes(&env, JANE),
        ["200", "204", "26", "32", "33", "37", "9999"],
        "26 after its two approvals; 205 denied, never"
    );
    let q = env.run(&["queue"]);
    ok(&q);
    assert_eq!(q.stdout, "Nothing waits.\n");
}

#[test]
fn the_queue_lists_approvals_and_pushes_with_their_age_and_next_command() {
    let env = desk();
    let id = three_lines(&env);
    // Processed at 15:00 (ROLECALL_NOW); looked at three hours later.
    let q = queue(&env, "2026-11-24T18:00:00Z");
    let items = q["items"].as_array().unwrap();
    let got: Vec<(String, String, String)> = items
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["age"].as_str().unwrap().to_string(),
                i["command"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "approval".to_string(),
                "3 h".to_string(),
                format!("rolecall approve {id} --line Accounts!10:10 --by NAME")
            ),
            (
                "approval".to_string(),
                "3 h".to_string(),
                format!("rolecall approve {id} --line Accounts!11:11 --by NAME")
            ),
            (
                "push".to_string(),
                "3 h".to_string(),
                format!("rolecall push {id}")
            ),
        ]
    );
    assert!(items.iter().all(|i| i["institution"] == GCSU));
    assert!(
        items[0]["what"]
            .as_str()
            .unwrap()
            .contains("General System Administrator, to 0400101 (0 of 2 approvals)"),
        "{q:#}"
    );
    documented_json(&env, "queue", &["queue", "--institution", GCSU]);
    documented_json(&env, "push", &["push", &id, "--dry-run"]);
    let later = queue(&env, "2026-11-26T15:00:00Z");
    assert_eq!(later["items"][0]["age"], "2 d");
    let other = env.run(&["queue", "--institution", "01FALSC_PRU"]);
    assert_eq!(other.stdout, "Nothing waits.\n");
    let status: Json = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["queue"]["approval"], 2, "{status:#}");
    assert_eq!(status["queue"]["push"], 1, "{status:#}");
}

#[test]
fn failed_pushes_and_drift_refusals_wait_in_the_queue_with_alma_s_reason() {
    let env = desk();
    worksheet(
        &env.dir.path().join("data/inbox/two.xlsx"),
        HEADER,
        &[
            &["Modify", JANE, "Doe", "Jane", "Vendor Manager", ""],
            &["Modify", ERIC, "Smith", "Eric", "Vendor Manager", ""],
        ],
    );
    let id = watch_once(&env);
    // esmith changed in Alma since the sync: refused for drift; jdoe's PUT fails.
    env.fake.edit(GCSU, ERIC, |u| {
        u["user_role"].as_array_mut().unwrap().pop();
    });
    env.fake.fault(
        "PUT",
        &format!("/users/{JANE}"),
        Fault::Error(
            "401652".into(),
            "General Error - An error has occurred while processing the request.".into(),
        ),
    );
    let push = env.run(&["push", &id]);
    assert_eq!(push.code, 1, "{}{}", push.stdout, push.stderr);
    let q = queue(&env, "2026-11-24T16:00:00Z");
    let items = q["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["failed_push", "drift"], "{q:#}");
    assert!(
        items[0]["reason"].as_str().unwrap().contains("401652"),
        "{q:#}"
    );
    assert_eq!(items[0]["command"], format!("rolecall push {id}"));
    assert_eq!(items[1]["command"], format!("rolecall push {id} --rebase"));
    assert_eq!(items[0]["age"], "1 h");
    // Tried again, it goes through: the queue empties of it.
    ok(&env.run(&["push", &id, "--rebase"]));
    let q = queue(&env, "2026-11-24T16:00:00Z");
    assert_eq!(q["items"], json!([]), "{q:#}");
}

#[test]
fn quarantined_files_wait_in_the_queue_for_a_reprocess() {
    let env = Env::new("[watch]\nsettle_ms = 0\n");
    let inbox = env.dir.path().join("data/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("notes.bin"), [0u8, 159, 146, 150, 7, 7]).unwrap();
    let id = watch_once(&env);
    let q = queue(&env, "2026-11-27T15:00:00Z");
    let item = &q["items"][0];
    assert_eq!(item["kind"], "quarantine", "{q:#}");
    assert_eq!(item["institution"], Json::Null);
    assert_eq!(item["age"], "3 d");
    assert_eq!(item["command"], format!("rolecall reprocess {id}"));
    let text = env.run(&["queue"]);
    assert!(
        text.stdout.starts_with("(no institution)\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_change_set_file_never_sends_an_operation_that_needs_approval() {
    let env = Env::new("");
    sync(&env);
    let mut privileged = add_role("jdoe", 26, "General System Administrator", None, None);
    privileged["needs_approval"] = json!(true);
    privileged["lines"] = json!(["Accounts!10"]);
    let cs = env.changeset(
        "file",
        json!([
            add_role("jdoe", 33, "Vendor Manager", None, None),
            privileged
        ]),
    );
    let out = env.run(&["push", cs.to_str().unwrap()]);
    ok(&out);
    assert_eq!(
        alma_codes(&env, "jdoe"),
        ["200", "204", "32", "33", "37", "9999"]
    );
    assert!(
        out.stdout.contains(
            "01FALSC_GCSU jdoe: add General System Administrator, to jdoe (Accounts!10): needs approval: not pushed"
        ),
        "{}",
        out.stdout
    );
}

/// The result workbook's warnings, as the reply lists them: `Accounts!E9 (warning): ...`.
fn reply_text(env: &Env) -> String {
    let outbox = env.dir.path().join("data/outbox");
    let mut text = String::new();
    for e in std::fs::read_dir(outbox).unwrap().flatten() {
        let raw = std::fs::read_to_string(e.path()).unwrap();
        // Quoted-printable: join the soft line breaks back.
        text.push_str(&raw.replace("=\r\n", "").replace("=\n", ""));
    }
    text
}

#[test]
fn two_roles_one_person_may_not_hold_together_wait_and_are_approved_only_with_a_note() {
    let env = desk();
    worksheet(
        &env.dir.path().join("data/inbox/sod.xlsx"),
        HEADER,
        &[
            &["Modify", JANE, "Doe", "Jane", "Purchasing Operator", ""],
            &["Modify", JANE, "Doe", "Jane", "Invoice Manager", "MAIN"],
        ],
    );
    let id = watch_once(&env);
    let reply = reply_text(&env);
    assert!(
        reply.contains("Needs approval:  2"),
        "both lines wait:\n{reply}"
    );
    assert!(
        reply.contains(
            "One person may not hold Purchasing Operator (54) with Invoice Manager (44): who orders (Purchasing Operator) may not also approve the invoices (Invoice Manager) (this request asks for both)."
        ),
        "{reply}"
    );
    let writes = puts(&env);
    ok(&env.run(&["push", &id]));
    assert_eq!(puts(&env), writes, "nothing pushable before approval");
    refused(
        &env.run(&["approve", &id, "--by", "Marcus Ortega"]),
        "approving it is an exception, give the reason with --note",
    );
    let q = queue(&env, "2026-11-24T15:00:00Z");
    assert!(
        q["items"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("--by NAME --note TEXT"),
        "{q:#}"
    );
    ok(&env.run(&[
        "approve",
        &id,
        "--by",
        "Marcus Ortega",
        "--note",
        "one-person branch; the dean reviews invoices",
    ]));
    ok(&env.run(&["push", &id]));
    assert_eq!(
        alma_codes(&env, JANE),
        ["200", "204", "32", "37", "44", "54", "9999"]
    );
}

#[test]
fn a_role_whose_partner_the_account_already_holds_is_a_separation_of_duties_finding() {
    let env = Env::new("[watch]\nsettle_ms = 0\n");
    let mut jane = rich_user(JANE, "Jane", "Doe", false);
    jane["user_role"].as_array_mut().unwrap().push(json!({
        "status": { "value": "ACTIVE", "desc": "Active" },
        "scope": { "value": "MAIN", "desc": "MAIN" },
        "role_type": { "value": "44", "desc": "Invoice Manager" },
        "parameter": [],
    }));
    env.fake.add_user(GCSU, jane);
    ok(&env.run(&["state", "sync", "--institution", GCSU, JANE]));
    worksheet(
        &env.dir.path().join("data/inbox/po.xlsx"),
        HEADER,
        &[&["Modify", JANE, "Doe", "Jane", "Purchasing Operator", ""]],
    );
    let id = watch_once(&env);
    let reply = reply_text(&env);
    assert!(
        reply.contains("(the account already holds the other role)"),
        "{reply}"
    );
    let q = queue(&env, "2026-11-24T15:00:00Z");
    assert_eq!(q["items"][0]["kind"], "approval", "{q:#}");
    // A removal of the held role in the same request would have cleared it; denying ends it.
    ok(&env.run(&[
        "deny",
        &id,
        "--by",
        "Ana Lopez",
        "--note",
        "holds Invoice Manager",
    ]));
    ok(&env.run(&["push", &id]));
    assert!(!alma_codes(&env, JANE).contains(&"54".to_string()));
    assert_eq!(env.run(&["queue"]).stdout, "Nothing waits.\n");
}

#[test]
fn a_reply_the_mail_server_refused_waits_in_the_queue_for_outbox_retry() {
    let (port, _received) = crate::support::smtp::smtp_server(Some((550, "5.1.1 No such user")));
    let env = Env::new(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n[watch]\nsettle_ms = 0\n"
    ));
    env.fake
        .add_user(GCSU, rich_user(JANE, "Jane", "Doe", false));
    ok(&env.run(&["state", "sync", "--institution", GCSU, JANE]));
    worksheet(
        &env.dir.path().join("data/inbox/one.xlsx"),
        HEADER,
        &[&["Modify", JANE, "Doe", "Jane", "Vendor Manager", ""]],
    );
    let id = watch_once(&env);
    let q = queue(&env, "2026-11-24T15:00:00Z");
    let items = q["items"].as_array().unwrap();
    let reply = items
        .iter()
        .find(|i| i["kind"] == "unsent_reply")
        .unwrap_or_else(|| panic!("{q:#}"));
    assert_eq!(reply["institution"], GCSU);
    assert_eq!(reply["submission_id"], id.as_str());
    assert_eq!(reply["command"], "rolecall outbox retry");
    assert!(reply["reason"].as_str().unwrap().contains("550"), "{q:#}");
    let status: Json = serde_json::from_str(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["queue"]["unsent_reply"], 1, "{status:#}");
    assert_eq!(status["queue"]["push"], 1, "{status:#}");
}
