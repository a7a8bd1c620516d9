//! A request's whole life through the watcher (issue 12, items 4-6): `[alma] push =
//! "accepted"` carries accepted lines into a fake Alma (`support/alma.rs`) at once, an
//! approved line on the next round, a denied one never; once every line is decided the
//! requester gets one "done" email in the request's thread, with a Done column; a result
//! workbook sent back is answered "Already done". Every expected role list is worked out by
//! hand from the seeded users and the worksheet below.

use crate::support::alma::{FakeAlma, rich_user};
use calamine::{Data, Reader, Xlsx};
use mail_parser::MimeHeaders;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const GCSU: &str = "01FALSC_GCSU";
const KEY: &str = "l8xx-gcsu-SECRET-0001";
const NOW: &str = "2026-11-24T15:00:00Z";
const NOTE: &str = "User Manager is for the library's system administrator only";

struct Env {
    dir: tempfile::TempDir,
    fake: FakeAlma,
}

impl Env {
    /// A fake Alma with two GCSU users, a configuration with `push`, and the state synced.
    fn new(push: &str) -> Env {
        let fake = FakeAlma::start(&[(KEY, GCSU)]);
        fake.add_user(GCSU, rich_user("00411111", "Ana", "Reyes", false));
        fake.add_user(GCSU, rich_user("00422222", "Ben", "Okafor", false));
        let dir = tempfile::tempdir().unwrap();
        let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/catalog");
        let config = format!(
            "data = \"data\"\ncatalog = \"{}\"\n\n[alma]\nbase_url = \"{}\"\nexpect_environment = \"sandbox\"\n{push}\n\
             [alma.keys]\n\"{GCSU}\" = \"TEST_GCSU_KEY\"\n",
            catalog.display(),
            fake.base_url()
        );
        std::fs::write(dir.path().join("rolecall.toml"), config).unwrap();
        let env = Env { dir, fake };
        let (code, out, err) = env.run(&[
            "state",
            "sync",
            "--institution",
            GCSU,
            "00411111",
            "00422222",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rolecall"));
        c.arg("--config")
            .arg(self.dir.path().join("rolecall.toml"))
            .args(args)
            .current_dir(self.dir.path())
            .env("ROLECALL_NOW", NOW)
            .env("TEST_GCSU_KEY", KEY)
            .env_remove("ROLECALL_CONFIG")
            .env_remove("ROLECALL_DATA");
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Drops a file into the inbox the documented way: a temporary name, then a rename.
    fn drop_file(&self, name: &str, bytes: &[u8]) {
        let inbox = self.data().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let tmp = inbox.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(tmp, inbox.join(name)).unwrap();
    }

    fn once(&self) -> String {
        let (code, out, err) = self.run(&["watch", "--once"]);
        assert_eq!(code, 0, "{out}{err}");
        err
    }

    /// Active role codes the fake holds for a user.
    fn codes(&self, id: &str) -> BTreeSet<String> {
        let user = self.fake.user(GCSU, id).unwrap();
        user["user_role"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"]["value"] == "ACTIVE")
            .map(|r| r["role_type"]["value"].as_str().unwrap().to_string())
            .collect()
    }

    /// PUTs and POSTs the fake received for a user.
    fn writes(&self, id: &str) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.user_id().as_deref() == Some(id))
            .count()
    }

    /// The one submission of the batch, by its archive folder `archive/<date>/<id>`.
    fn submission(&self) -> Option<String> {
        let archive = self.data().join("archive");
        let dates = std::fs::read_dir(archive).ok()?;
        let mut ids: Vec<String> = dates
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids.into_iter().next()
    }

    /// The submission whose change set is in the archive (an email's attachment has its
    /// own folder inside the email's).
    fn changeset_submission(&self) -> Option<String> {
        fn walk(dir: &Path) -> Option<String> {
            for e in std::fs::read_dir(dir).ok()?.flatten() {
                let p = e.path();
                if p.is_dir() {
                    if let Some(id) = walk(&p) {
                        return Some(id);
                    }
                } else if p.to_string_lossy().ends_with("-changeset.json") {
                    return Some(dir.file_name()?.to_string_lossy().into_owned());
                }
            }
            None
        }
        walk(&self.data().join("archive"))
    }

    /// Messages in the outbox whose file name contains `part`.
    fn outbox(&self, part: &str) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(self.data().join("outbox"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.to_string_lossy().contains(part) && p.extension().is_some_and(|e| e == "eml")
            })
            .collect();
        out.sort();
        out
    }
}

/// Dana Whitfield (a GCSU coordinator) asks, for two people, one ordinary role each
/// (accepted) and User Manager each (privileged: needs approval). Rows 9 to 12.
fn worksheet() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.xlsx");
    crate::lifecycle::worksheet(
        &path,
        &["Action", "Primary ID", "Last name", "First name", "Role"],
        &[
            &["Modify", "00411111", "Reyes", "Ana", "License Manager"],
            &["Modify", "00411111", "Reyes", "Ana", "User Manager"],
            &[
                "Modify",
                "00422222",
                "Okafor",
                "Ben",
                "Electronic Inventory Operator",
            ],
            &["Modify", "00422222", "Okafor", "Ben", "User Manager"],
        ],
    );
    std::fs::read(path).unwrap()
}

/// The seeded codes (`rich_user`) and those given.
fn with(extra: &[&str]) -> BTreeSet<String> {
    ["200", "32", "37", "204", "9999"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn header(eml: &str, name: &str) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(eml.as_bytes())?;
    msg.header_raw(name).map(|v| v.trim().to_string())
}

/// The Accounts sheet's Done column of an attached workbook, by sheet row (1-based).
fn done_column(eml: &str) -> Vec<(u32, String)> {
    let msg = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap();
    let xlsx = msg
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".xlsx")))
        .expect("a workbook attached")
        .contents()
        .to_vec();
    let mut book = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
    let range = book.worksheet_range("Accounts").unwrap();
    let (r0, _) = range.start().unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    let header = (8 - 1 - r0) as usize;
    let col = rows[header]
        .iter()
        .position(|c| matches!(c, Data::String(s) if s == "Done"))
        .expect("a Done heading in row 8");
    rows.iter()
        .enumerate()
        .skip(header + 1)
        .map(|(i, r)| {
            (
                r0 + i as u32 + 1,
                r.get(col).map(|c| c.to_string()).unwrap_or_default(),
            )
        })
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

#[test]
fn accepted_lines_go_at_once_the_approved_one_next_round_the_denied_never_and_one_done_email_says_so()
 {
    let env = Env::new("push = \"accepted\"");
    env.drop_file("batch.xlsx", &worksheet());
    let log = env.once();
    // The accepted lines are in Alma at once; the privileged ones wait.
    assert_eq!(env.codes("00411111"), with(&["41"]), "{log}");
    assert_eq!(env.codes("00422222"), with(&["209"]), "{log}");
    assert!(log.contains("pushed") && log.contains("00411111"), "{log}");
    let id = env.submission().expect("a submission");
    assert!(env.outbox("-done").is_empty(), "told before the approval");
    let (_, queue, _) = env.run(&["queue"]);
    assert!(queue.contains("User Manager"), "{queue}");

    let by = ["--by", "Help Desk Tech"];
    let (code, out, err) = env.run(&["approve", &id, "--line", "10", by[0], by[1]]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = env.run(&["deny", &id, "--line", "12", by[0], by[1], "--note", NOTE]);
    assert_eq!(code, 0, "{out}{err}");
    let log = env.once();
    assert_eq!(env.codes("00411111"), with(&["41", "21"]), "{log}");
    assert_eq!(
        env.codes("00422222"),
        with(&["209"]),
        "the denied line was pushed"
    );
    assert_eq!((env.writes("00411111"), env.writes("00422222")), (2, 1));

    let done = env.outbox("-done");
    assert_eq!(done.len(), 1, "{done:?}");
    let eml = std::fs::read_to_string(&done[0]).unwrap();
    let reply = std::fs::read_to_string(&env.outbox(&format!("{id}-reply"))[0]).unwrap();
    let first_id = header(&reply, "Message-ID").unwrap();
    assert_eq!(
        header(&eml, "In-Reply-To").as_deref(),
        Some(first_id.as_str())
    );
    assert!(header(&eml, "References").unwrap().contains(&first_id));
    let subject = header(&reply, "Subject").unwrap();
    assert_eq!(header(&eml, "Subject").unwrap(), format!("Re: {subject}"));
    assert!(
        header(&eml, "To")
            .unwrap()
            .contains("dwhitfield@gcsu.example.edu")
    );
    let msg = mail_parser::MessageParser::default()
        .parse(eml.as_bytes())
        .unwrap();
    let text = msg.body_text(0).unwrap().replace("\r\n", "\n");
    // What each person now holds, from the state after the push (the seeded staff roles,
    // and what was added), and the denial with its note.
    let ana = &text[text.find("00411111 at").unwrap()..text.find("00422222 at").unwrap()];
    for role in [
        "User Manager (21)",
        "License Manager (41)",
        "Cataloger (204)",
    ] {
        assert!(ana.contains(role), "{role} not in {ana}");
    }
    let ben = &text[text.find("00422222 at").unwrap()..];
    assert!(ben.contains("Electronic Inventory Operator (209)"), "{ben}");
    assert!(!ben.contains("User Manager (21)"), "{ben}");
    assert!(
        ben.contains("Denied by the help desk") && ben.contains(NOTE),
        "{ben}"
    );
    assert_eq!(
        done_column(&eml),
        vec![
            (9, "Done".to_string()),
            (10, "Done".to_string()),
            (11, "Done".to_string()),
            (12, format!("Denied: {NOTE}")),
        ]
    );

    // Another round: nothing more is pushed or told.
    env.once();
    assert_eq!(env.outbox("-done").len(), 1);
    assert_eq!((env.writes("00411111"), env.writes("00422222")), (2, 1));

    // The done workbook sent back: the lines carried out are "Already done", none is
    // pushed again, and the denied line waits for approval once more (asked again).
    let workbook = msg
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".xlsx")))
        .unwrap()
        .contents()
        .to_vec();
    env.drop_file("batch-again.xlsx", &workbook);
    env.once();
    assert_eq!((env.writes("00411111"), env.writes("00422222")), (2, 1));
    let again = env
        .outbox("-reply")
        .into_iter()
        .find(|p| !p.to_string_lossy().contains(&id))
        .expect("a reply to the second submission");
    let again = std::fs::read_to_string(again).unwrap();
    let again = mail_parser::MessageParser::default()
        .parse(again.as_bytes())
        .unwrap();
    let body = again.body_text(0).unwrap().replace("\r\n", "\n");
    assert_eq!(body.matches("Already done").count(), 3, "{body}");
    assert!(!body.to_lowercase().contains("delete"), "{body}");
}

#[test]
fn with_push_manual_the_watcher_pushes_nothing() {
    let env = Env::new("");
    env.drop_file("batch.xlsx", &worksheet());
    env.once();
    assert_eq!((env.writes("00411111"), env.writes("00422222")), (0, 0));
    assert!(env.outbox("-done").is_empty());
}

#[test]
fn an_unknown_push_setting_is_a_configuration_error_naming_the_key() {
    let env = Env::new("");
    let config = std::fs::read_to_string(env.dir.path().join("rolecall.toml")).unwrap();
    let config = config.replace(
        "expect_environment = \"sandbox\"",
        "expect_environment = \"sandbox\"\npush = \"always\"",
    );
    std::fs::write(env.dir.path().join("rolecall.toml"), config).unwrap();
    let (code, out, err) = env.run(&["watch", "--once"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("push") && err.contains("always"), "{err}");
    assert!(err.contains("manual") && err.contains("accepted"), "{err}");
}

/// A tiny deterministic generator for the kill times (the seed is printed on failure).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

impl Env {
    /// Starts the watcher, waits `ms`, runs `during` (a desk command), waits again, kills it.
    fn killed(&self, rng: &mut Lcg, during: impl FnOnce()) {
        let mut child = self
            .command(&["watch"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + rng.next(700)));
        during();
        std::thread::sleep(Duration::from_millis(rng.next(400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
}

#[test]
fn killed_at_random_moments_every_line_is_decided_once_pushed_once_and_told_once() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let env = Env::new("push = \"accepted\"");
    env.drop_file("batch.xlsx", &worksheet());
    let by = ["--by", "Help Desk Tech"];
    let (mut approved, mut denied) = (false, false);
    for round in 0..12 {
        env.killed(&mut rng, || {
            let Some(id) = env.submission() else { return };
            // Only once recorded; a refusal (not recorded yet, decided already) changes nothing.
            if !approved && round >= 2 {
                approved = env.run(&["approve", &id, "--line", "10", by[0], by[1]]).0 == 0;
            } else if !denied && round >= 4 {
                denied = env
                    .run(&["deny", &id, "--line", "12", by[0], by[1], "--note", NOTE])
                    .0
                    == 0;
            }
        });
    }
    let id = env.submission().expect("processed");
    if !approved {
        env.run(&["approve", &id, "--line", "10", by[0], by[1]]);
    }
    if !denied {
        env.run(&["deny", &id, "--line", "12", by[0], by[1], "--note", NOTE]);
    }
    env.once();
    env.once();
    let why = format!("seed {seed}");
    assert_eq!(env.codes("00411111"), with(&["41", "21"]), "{why}");
    assert_eq!(env.codes("00422222"), with(&["209"]), "{why}");
    // 00411111's accepted line is pushed at once and its approved line after the approval:
    // two writes, or one when the approval came before a kill let the first push happen
    // (both then go in one PUT). Never more: nothing is written twice.
    let first = env.writes("00411111");
    assert!(
        (1..=2).contains(&first),
        "{first} writes for 00411111, {why}"
    );
    assert_eq!(env.writes("00422222"), 1, "{why}");
    assert_eq!(env.outbox("-done").len(), 1, "{why}");
    assert_eq!(env.outbox("-reply").len(), 1, "{why}");
    let (_, queue, _) = env.run(&["queue", "--json"]);
    let queue: serde_json::Value = serde_json::from_str(&queue).unwrap();
    let text = queue.to_string();
    assert!(!text.contains("waiting"), "{why}: {queue:#}");
}

#[test]
fn the_done_email_of_an_emailed_request_is_in_the_request_s_thread() {
    use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
    let env = Env::new("push = \"accepted\"");
    let request = lettre::Message::builder()
        .from(
            "Dana Whitfield <dwhitfield@gcsu.example.edu>"
                .parse()
                .unwrap(),
        )
        .to("alma-help@consortium.example.org".parse().unwrap())
        .subject("Staff accounts for the spring term")
        .message_id(Some("<req-1@mail.gcsu.example.edu>".to_string()))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain("Attached.".to_string()))
                .singlepart(Attachment::new("batch.xlsx".to_string()).body(
                    worksheet(),
                    ContentType::parse("application/octet-stream").unwrap(),
                )),
        )
        .unwrap()
        .formatted();
    env.drop_file("request.eml", &request);
    env.once();
    let id = env
        .changeset_submission()
        .expect("the attachment's submission");
    let by = ["--by", "Help Desk Tech"];
    assert_eq!(env.run(&["approve", &id, by[0], by[1]]).0, 0);
    env.once();
    let done = env.outbox("-done");
    assert_eq!(done.len(), 1, "{done:?}");
    let eml = std::fs::read_to_string(&done[0]).unwrap();
    let reply = std::fs::read_to_string(&env.outbox(&format!("{id}-reply"))[0]).unwrap();
    let first_id = header(&reply, "Message-ID").unwrap();
    assert_eq!(header(&eml, "In-Reply-To"), Some(first_id.clone()));
    let refs = header(&eml, "References").unwrap();
    let request_at = refs
        .find("<req-1@mail.gcsu.example.edu>")
        .expect("the request in References");
    assert!(request_at < refs.find(&first_id).unwrap(), "{refs}");
    assert_eq!(
        header(&eml, "Subject").unwrap(),
        format!("Re: {}", header(&reply, "Subject").unwrap())
    );
    // Both User Manager lines approved: both people hold it now.
    assert_eq!(env.codes("00411111"), with(&["41", "21"]));
    assert_eq!(env.codes("00422222"), with(&["209", "21"]));
    assert_eq!(
        done_column(&eml)
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>(),
        ["Done"; 4]
    );
}
