//! The inbox watcher, end to end: the real `rolecall watch` binary as a child process, a
//! real SMTP server on 127.0.0.1 (`support/smtp.rs`), worksheets and `.eml` messages
//! (`fixtures/eml/make_eml.py`) dropped into the inbox the way the help desk drops them
//! (write, then rename), and the replies checked as a mail client sees them.

use crate::support::smtp;

use crate::support::test::{Out, rolecall};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value as Json;
use smtp::Received;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("samples/worksheets").join(name)).unwrap()
}

fn eml(name: &str) -> Vec<u8> {
    std::fs::read(
        repo()
            .join("tests/fixtures/eml")
            .join(format!("{name}.eml")),
    )
    .unwrap()
}

/// A data folder with a config file pointing at the test SMTP server (or none).
struct Data {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Data {
    fn new(smtp_port: Option<u16>) -> Data {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("rolecall.toml");
        let mut text = String::from(
            "catalog = \"sample\"\ndata = \"data\"\n\n[watch]\nsettle_ms = 100\nrescan_ms = 300\nretry_base_ms = 150\n\
             retry_max_ms = 600\nmax_attempts = 100\nreplies_per_hour = 1000\n",
        );
        if let Some(port) = smtp_port {
            text.push_str(&format!(
                "\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout_secs = 5\n"
            ));
        }
        std::fs::write(&config, text).unwrap();
        std::fs::create_dir_all(dir.path().join("data/inbox")).unwrap();
        Data { dir, config }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("data").join(rel)
    }

    /// The drop convention: write under a hidden name, then rename into place.
    fn drop_file(&self, name: &str, bytes: &[u8]) {
        let tmp = self.path(&format!("inbox/.{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path(&format!("inbox/{name}"))).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = rolecall(self.dir.path());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("ROLECALL_LOG", "info");
        cmd
    }

    /// Starts `rolecall watch`, its log appended to `watch.log`.
    fn spawn(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("watch.log"))
            .unwrap();
        self.command(&["watch"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out: Out = self.command(args).output().unwrap().into();
        (out.code, out.stdout, out.stderr)
    }

    fn status(&self) -> Json {
        let (_, stdout, stderr) = self.run(&["status", "--json"]);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{stdout}\n{stderr}"))
    }

    /// `status --json`, or null before the watcher has made the database.
    fn status_if_any(&self) -> Json {
        let (_, stdout, _) = self.run(&["status", "--json"]);
        serde_json::from_str(&stdout).unwrap_or(Json::Null)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("watch.log")).unwrap_or_default()
    }

    fn files(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Graceful stop: SIGTERM, then the exit status.
fn terminate(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the watcher did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for(what: &str, data: &Data, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}\nstatus: {:#}\nlog:\n{}",
                data.status_if_any(),
                data.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A received message, parsed the way a mail client would.
struct Reply {
    rcpt: Vec<String>,
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    message_id: String,
    in_reply_to: Option<String>,
    references: Vec<String>,
    auto_submitted: Option<String>,
    text: String,
    attachments: Vec<(String, Vec<u8>)>,
}

fn parse(r: &Received) -> Reply {
    let msg = MessageParser::default().parse(&r.data).expect("a message");
    let addrs = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
    };
    let ids = |v: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        match v {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        }
    };
    Reply {
        rcpt: r.rcpt.clone(),
        to: addrs(msg.to()),
        cc: addrs(msg.cc()),
        subject: msg.subject().unwrap_or("").to_string(),
        message_id: msg.message_id().unwrap_or("").to_string(),
        in_reply_to: ids(msg.in_reply_to()).into_iter().next(),
        references: ids(msg.references()),
        auto_submitted: msg
            .header_raw("Auto-Submitted")
            .map(|v| v.trim().to_string()),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments: msg
            .attachments()
            .map(|a| {
                (
                    a.attachment_name().unwrap_or("").to_string(),
                    a.contents().to_vec(),
                )
            })
            .collect(),
    }
}

fn replies(inbox: &Arc<Mutex<Vec<Received>>>) -> Vec<Reply> {
    inbox.lock().unwrap().iter().map(parse).collect()
}

/// Replies by the message they answer (`In-Reply-To`, without brackets).
fn by_thread(replies: &[Reply]) -> BTreeMap<String, Vec<&Reply>> {
    let mut map: BTreeMap<String, Vec<&Reply>> = BTreeMap::new();
    for r in replies {
        if let Some(id) = &r.in_reply_to {
            map.entry(id.clone()).or_default().push(r);
        }
    }
    map
}

/// The first sheet names of an attached workbook, opened with calamine.
fn sheet_names(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    let wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .expect("the attachment opens as a workbook");
    wb.sheet_names().to_vec()
}

const AUTOMATIC: [&str; 4] = [
    "auto-submitted",
    "precedence-bulk",
    "list-id",
    "mailer-daemon",
];

/// One pass of a live watcher: the files dropped at once, the watcher stopped gracefully
/// once `expected` replies reached the SMTP server and the inbox is empty (and a moment
/// later, so that a reply too many would be seen).
struct Answered {
    data: Data,
    replies: Vec<Reply>,
}

impl Answered {
    fn new(files: &[(&str, Vec<u8>)], expected: usize) -> Answered {
        let server = smtp::start_server_on(smtp::free_port());
        let data = Data::new(Some(server.port));
        for (name, bytes) in files {
            data.drop_file(name, bytes);
        }
        let child = data.spawn();
        wait_for("the replies", &data, Duration::from_secs(25), || {
            server.inbox.lock().unwrap().len() >= expected && data.files("inbox").is_empty()
        });
        std::thread::sleep(Duration::from_millis(500));
        let status = terminate(child);
        assert!(
            status.success(),
            "graceful stop: {status:?}\n{}",
            data.log()
        );
        let replies = replies(&server.inbox);
        assert_eq!(replies.len(), expected, "{}", data.log());
        for r in &replies {
            assert_eq!(
                r.auto_submitted.as_deref(),
                Some("auto-replied"),
                "{}",
                r.subject
            );
        }
        Answered { data, replies }
    }

    /// The replies to the message with this Message-ID (without brackets).
    fn thread(&self, id: &str) -> Vec<&Reply> {
        by_thread(&self.replies).remove(id).unwrap_or_default()
    }
}

fn emls(names: &[&str]) -> Vec<(String, Vec<u8>)> {
    names.iter().map(|n| (format!("{n}.eml"), eml(n))).collect()
}

fn drops(files: &[(String, Vec<u8>)]) -> Vec<(&str, Vec<u8>)> {
    files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect()
}

#[test]
fn automatic_messages_are_never_answered() {
    let mut names = AUTOMATIC.to_vec();
    names.push("with-worksheet");
    let files = emls(&names);
    let pass = Answered::new(&drops(&files), 1);
    for name in AUTOMATIC {
        let id = format!("{name}@mail.gcsu.example.edu");
        assert!(pass.thread(&id).is_empty(), "{name} got a reply");
    }
    assert_eq!(pass.data.status()["submissions"]["ignored"], 4);
}

#[test]
fn a_worksheet_by_email_is_answered_in_its_thread_once_and_archived_with_its_results() {
    let server = smtp::start_server_on(smtp::free_port());
    let data = Data::new(Some(server.port));
    data.drop_file("with-worksheet.eml", &eml("with-worksheet"));
    let child = data.spawn();
    wait_for("the reply", &data, Duration::from_secs(25), || {
        server.inbox.lock().unwrap().len() == 1
    });
    // The same email again: answered "already processed", once.
    data.drop_file("again.eml", &eml("with-worksheet"));
    wait_for("the notice", &data, Duration::from_secs(10), || {
        server.inbox.lock().unwrap().len() == 2
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(terminate(child).success(), "{}", data.log());
    let replies = replies(&server.inbox);
    assert_eq!(replies.len(), 2, "{}", data.log());

    // To the sender, the institution's other coordinator in copy, in thread, the result
    // workbook attached.
    let t = &by_thread(&replies)["with-worksheet@mail.gcsu.example.edu"];
    assert_eq!(
        t.len(),
        2,
        "two arrivals of the same message id, one answer each"
    );
    let first = t
        .iter()
        .find(|r| !r.subject.contains("already processed"))
        .expect("the result");
    assert_eq!(first.to, ["dwhitfield@gcsu.example.edu"]);
    assert_eq!(first.cc, ["mortega@gcsu.example.edu"]);
    assert_eq!(first.rcpt.len(), 2);
    assert_eq!(first.references, ["with-worksheet@mail.gcsu.example.edu"]);
    assert!(
        first.subject.contains("clean-batch.xlsx: accepted"),
        "{}",
        first.subject
    );
    let (name, bytes) = &first.attachments[0];
    assert_eq!(name, "clean-batch-result.xlsx");
    assert!(sheet_names(bytes).contains(&"Summary".to_string()));
    let notice = t
        .iter()
        .find(|r| r.subject.contains("already processed"))
        .unwrap();
    assert!(
        notice
            .text
            .contains("already processed on 2026-11-24 as submission 20261124-")
    );
    assert!(notice.attachments.is_empty());

    // The archive: per date, per submission, the original and everything made for it.
    let day = data.path("archive/2026-11-24");
    let dir = std::fs::read_dir(&day)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|d| d.join("with-worksheet.eml").exists())
        .unwrap_or_else(|| panic!("with-worksheet.eml archived under {}", day.display()));
    assert!(dir.join("attachments/clean-batch.xlsx").exists());
    let results = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|e| e.path().join("clean-batch-result.xlsx").exists())
        .expect("the attachment's results beside its email");
    assert!(results.path().join("clean-batch-changeset.json").exists());
    // The copy beside the results is the very message the outbox holds, byte for byte.
    let copy = std::fs::read(results.path().join("clean-batch-reply.eml")).unwrap();
    let sent_as_copy = std::fs::read_dir(data.path("outbox"))
        .into_iter()
        .flatten()
        .chain(std::fs::read_dir(data.path("sent")).into_iter().flatten())
        .flatten()
        .any(|e| std::fs::read(e.path()).is_ok_and(|b| b == copy));
    assert!(
        sent_as_copy,
        "the reply's copy is the message that went out"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("duplicates")).unwrap().count(),
        1,
        "the second copy is kept beside the first"
    );

    let st = data.status();
    assert_eq!(st["folders"]["inbox"], 0, "{st:#}");
    assert_eq!(st["folders"]["outbox"], 0, "{st:#}");
    assert_eq!(st["folders"]["sent"], 2, "{st:#}");
    assert_eq!(st["mail"]["sent"], 2, "{st:#}");
    // One line per event, with the submission id.
    let log = data.log();
    assert!(
        log.lines()
            .any(|l| l.contains("processed") && l.contains("submission=20261124-")),
        "{log}"
    );
}

#[test]
fn reply_to_gets_the_reply_and_the_sender_stays_in_copy() {
    let files = emls(&["with-reply-to"]);
    let pass = Answered::new(&drops(&files), 1);
    let r = pass.thread("with-reply-to@mail.gcsu.example.edu")[0];
    assert_eq!(r.to, ["libsys@gcsu.example.edu"]);
    assert!(
        r.cc.contains(&"dwhitfield@gcsu.example.edu".to_string()),
        "{:?}",
        r.cc
    );
    assert!(
        r.subject.contains("clean-batch.ods: accepted"),
        "{}",
        r.subject
    );
}

#[test]
fn each_worksheet_of_a_message_is_answered_saying_what_else_the_message_held() {
    let files = emls(&["several-attachments"]);
    let pass = Answered::new(&drops(&files), 2);
    // Two worksheets: two replies, each keeping the earlier thread in References.
    let t = pass.thread("several-attachments@mail.gcsu.example.edu");
    assert_eq!(t.len(), 2);
    for r in &t {
        assert!(r.text.contains("Also in your message:"), "{}", r.text);
        assert!(
            r.text.contains("logo.png is an image") && r.text.contains("notes.txt"),
            "{}",
            r.text
        );
        assert_eq!(
            r.references,
            [
                "earlier-thread@mail.gcsu.example.edu",
                "several-attachments@mail.gcsu.example.edu"
            ]
        );
    }
    assert!(t.iter().any(|r| r.subject.contains("mistakes.xlsx")));
    // That worksheet names a requester who is not a coordinator, but a coordinator sent it:
    // the sender is the requester, and the reply says so.
    let r = t
        .iter()
        .find(|r| r.subject.contains("not-a-coordinator.xlsx"))
        .expect("the second worksheet's reply");
    assert!(r.subject.contains("accepted"), "{}", r.subject);
    assert!(
        r.text.contains("emailed by dwhitfield@gcsu.example.edu"),
        "{}",
        r.text
    );
}

#[test]
fn a_filled_form_by_email_is_answered_in_its_thread_with_the_coordinator_in_copy() {
    // The sample form filled by pypdf.
    let pdf = std::fs::read(repo().join("samples/forms/clean.pdf")).unwrap();
    let email = email_with(90, "request-form.pdf", pdf);
    let pass = Answered::new(&[("form-by-email.eml", email)], 1);
    let t = pass.thread("batch-90@mail.gcsu.example.edu");
    assert_eq!(t.len(), 1);
    assert!(
        t[0].subject.contains("request-form.pdf: accepted"),
        "{}",
        t[0].subject
    );
    assert_eq!(t[0].to, ["dwhitfield@gcsu.example.edu"]);
    assert_eq!(t[0].cc, ["mortega@gcsu.example.edu"]);
}

#[test]
fn a_message_with_nothing_to_read_gets_a_short_reply_that_says_why() {
    let files = emls(&["no-attachment", "winmail", "nested"]);
    let pass = Answered::new(&drops(&files), 3);
    // Lists what is accepted.
    let r = pass.thread("no-attachment@mail.gcsu.example.edu")[0];
    assert!(
        r.text.contains(".xlsx") && r.text.contains("PDF"),
        "{}",
        r.text
    );
    let r = pass.thread("winmail@mail.gcsu.example.edu")[0];
    assert!(r.text.contains("winmail.dat is Outlook"), "{}", r.text);
    let r = pass.thread("nested@mail.gcsu.example.edu")[0];
    assert!(r.text.contains("messages inside messages"), "{}", r.text);
}

#[test]
fn unreadable_files_are_answered_and_quarantined_with_their_reason() {
    let mut files = emls(&["unreadable-attachment"]);
    files.push((
        "form.pdf".to_string(),
        b"%PDF-1.4\n% not a real form\n%%EOF\n".to_vec(),
    ));
    files.push(("clean-batch.xls".to_string(), sample("clean-batch.xls")));
    // The email's sender, the loose PDF's reply to the desk, the loose worksheet's requester.
    let pass = Answered::new(&drops(&files), 3);
    let r = pass.thread("unreadable-attachment@mail.gcsu.example.edu")[0];
    assert!(
        r.subject.contains("accounts.xlsx: could not be read"),
        "{}",
        r.subject
    );
    assert_eq!(r.to, ["dwhitfield@gcsu.example.edu"]);
    let quarantine = pass.data.files("quarantine");
    let reason = quarantine
        .iter()
        .find(|n| n.ends_with("-accounts.xlsx.reason.txt"))
        .unwrap_or_else(|| panic!("no reason file in {quarantine:?}"));
    let text = std::fs::read_to_string(pass.data.path("quarantine").join(reason)).unwrap();
    assert!(text.contains("web page"), "{text}");
    assert!(quarantine.iter().any(|n| n.ends_with("-accounts.xlsx")));
    // The loose file that only looks like a PDF is quarantined too, with its reason.
    assert!(
        quarantine.iter().any(|n| n.ends_with("-form.pdf")),
        "{quarantine:?}"
    );
    assert!(
        quarantine
            .iter()
            .any(|n| n.ends_with("-form.pdf.reason.txt"))
    );
    let subjects: Vec<&str> = pass.replies.iter().map(|r| r.subject.as_str()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("clean-batch.xls: accepted")),
        "{subjects:?}"
    );
}

#[test]
fn with_the_mail_server_down_at_first_nothing_is_lost() {
    let port = smtp::free_port();
    let data = Data::new(Some(port));
    data.drop_file("clean-batch.xlsx", &sample("clean-batch.xlsx"));
    data.drop_file("with-reply-to.eml", &eml("with-reply-to"));
    data.drop_file("mistakes.xlsx", &sample("mistakes.xlsx"));
    let child = data.spawn();
    wait_for("failed attempts", &data, Duration::from_secs(20), || {
        let st = data.status_if_any();
        st["waiting"]
            .as_array()
            .is_some_and(|w| w.len() == 3 && w.iter().all(|m| m["attempts"].as_u64() >= Some(1)))
    });
    assert_eq!(data.files("outbox").len(), 3);
    let st = data.status();
    assert!(
        st["waiting"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("Connection refused")
            || st["waiting"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains("onnect"),
        "{st:#}"
    );

    // The server comes up, but answers "try again later" at first.
    let server = smtp::start_server_on(port);
    *server.data_reply.lock().unwrap() = Some((451, "4.3.0 Try again later"));
    std::thread::sleep(Duration::from_millis(800));
    assert!(server.inbox.lock().unwrap().is_empty());
    *server.data_reply.lock().unwrap() = None;
    wait_for("3 replies", &data, Duration::from_secs(20), || {
        server.inbox.lock().unwrap().len() >= 3
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(terminate(child).success());

    let replies = replies(&server.inbox);
    assert_eq!(replies.len(), 3);
    let mut subjects: Vec<&str> = replies.iter().map(|r| r.subject.as_str()).collect();
    subjects.sort();
    assert!(subjects[0].contains("clean-batch.ods"), "{subjects:?}");
    assert!(subjects[1].contains("clean-batch.xlsx"), "{subjects:?}");
    assert!(subjects[2].contains("mistakes.xlsx"), "{subjects:?}");
    assert!(data.files("outbox").is_empty());
    assert_eq!(data.files("sent").len(), 3);
    assert!(data.files("dead").is_empty());
}

/// Builds an email carrying one attachment, with lettre (the library Rolecall sends with).
pub(crate) fn email_with(n: usize, name: &str, bytes: Vec<u8>) -> Vec<u8> {
    use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};
    lettre::Message::builder()
        .from(
            "Dana Whitfield <dwhitfield@gcsu.example.edu>"
                .parse()
                .unwrap(),
        )
        .to("alma-help@consortium.example.org".parse().unwrap())
        .subject(format!("Request {n}"))
        .message_id(Some(format!("<batch-{n}@mail.gcsu.example.edu>")))
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(format!("Request {n} attached.")))
                .singlepart(Attachment::new(name.to_string()).body(
                    bytes,
                    ContentType::parse("application/octet-stream").unwrap(),
                )),
        )
        .unwrap()
        .formatted()
}

#[test]
fn killed_mid_batch_and_restarted_every_submission_is_answered_exactly_once() {
    let server = smtp::start_server_on(smtp::free_port());
    let data = Data::new(Some(server.port));
    let read = repo().join("tests/fixtures/read");
    let worksheets: Vec<(String, Vec<u8>)> = [
        ("clean-batch.xlsx", sample("clean-batch.xlsx")),
        ("clean-batch.xls", sample("clean-batch.xls")),
        ("mistakes.xlsx", sample("mistakes.xlsx")),
        ("not-a-coordinator.xlsx", sample("not-a-coordinator.xlsx")),
        (
            "second.xlsx",
            std::fs::read(read.join("accounts_second.xlsx")).unwrap(),
        ),
        (
            "second.ods",
            std::fs::read(read.join("accounts_second.ods")).unwrap(),
        ),
    ]
    .into_iter()
    .map(|(n, b)| (n.to_string(), b))
    .collect();
    // 6 emails with a new worksheet each, 4 more repeating one (answered "already
    // processed"), and 2 loose files.
    let mut emails = 0;
    for (i, (name, bytes)) in worksheets.iter().enumerate() {
        data.drop_file(
            &format!("batch-{i}.eml"),
            &email_with(i, name, bytes.clone()),
        );
        emails += 1;
    }
    for i in 6..10 {
        let (name, bytes) = &worksheets[i % 3];
        data.drop_file(
            &format!("batch-{i}.eml"),
            &email_with(i, name, bytes.clone()),
        );
        emails += 1;
    }
    data.drop_file("clean-batch.ods", &sample("clean-batch.ods"));
    data.drop_file(
        "second.xls",
        &std::fs::read(read.join("accounts_second.xls")).unwrap(),
    );
    let expected = emails + 2;

    // kill -9 at several points of the batch: while reading, while recording, while sending.
    // A kill that lands between the server's "250 OK" and the ledger's "sent" cannot be
    // told from one that lands before the server took the message: that row is left
    // `sending` and is sent again (docs/inbox.md). Such kills are counted, and only they
    // may cause a second delivery, of the very same message (same Message-ID).
    let mut interrupted_sends = 0;
    for (round, delay_ms) in [250, 400, 300, 550, 350].into_iter().enumerate() {
        let mut child = data.spawn();
        if round == 0 {
            // The first kill lands as the first reply is sent, whatever the machine's
            // speed: a fixed delay let a fast run answer the whole batch first.
            let deadline = Instant::now() + Duration::from_secs(25);
            while server.inbox.lock().unwrap().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if round == 0 {
            // Files leave the inbox when they are taken in, all at once for a batch:
            // mid-batch is replies still to send.
            let sent = server.inbox.lock().unwrap().len();
            assert!(
                sent < expected,
                "the first kill should land mid-batch: {sent} sent"
            );
        }
        let st = data.status_if_any();
        interrupted_sends += st["waiting"]
            .as_array()
            .map_or(0, |w| w.iter().filter(|m| m["state"] == "sending").count());
    }
    let child = data.spawn();
    wait_for("every reply", &data, Duration::from_secs(25), || {
        server.inbox.lock().unwrap().len() >= expected
    });
    // Anything sent twice would arrive now.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(terminate(child).success(), "{}", data.log());

    let replies = replies(&server.inbox);
    let threads = by_thread(&replies);
    let distinct = |list: &[&Reply]| {
        list.iter()
            .map(|r| r.message_id.clone())
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    for i in 0..emails {
        let id = format!("batch-{i}@mail.gcsu.example.edu");
        let n = threads.get(&id).map_or(0, |t| distinct(t));
        assert_eq!(n, 1, "distinct replies to {id}: {n}\nlog:\n{}", data.log());
    }
    for name in ["clean-batch.ods", "second.xls"] {
        let about: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.subject.contains(&format!("] {name}:")))
            .collect();
        assert_eq!(
            distinct(&about),
            1,
            "replies about {name}\nlog:\n{}",
            data.log()
        );
    }
    let ids: std::collections::HashSet<&str> =
        replies.iter().map(|r| r.message_id.as_str()).collect();
    assert_eq!(ids.len(), expected, "{}", data.log());
    assert!(
        replies.len() - expected <= interrupted_sends,
        "{} deliveries for {expected} replies, but only {interrupted_sends} sends were cut by a kill\n{}",
        replies.len(),
        data.log()
    );

    let st = data.status();
    assert_eq!(st["folders"]["inbox"], 0, "{st:#}");
    assert_eq!(st["folders"]["outbox"], 0, "{st:#}");
    assert_eq!(st["mail"]["sent"], expected as u64, "{st:#}");
    // Every email and loose file is archived once (emails hold their attachments' folders).
    assert_eq!(st["folders"]["archive"], expected as u64, "{st:#}");
}

#[test]
fn help_desk_commands_status_reprocess_and_dead_letters() {
    // No mail server: replies wait in the outbox as files.
    let data = Data::new(None);
    data.drop_file("mistakes.xlsx", &sample("mistakes.xlsx"));
    data.drop_file("notes.txt", b"not a submission\n");
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("processed"), "{stderr}");
    let st = data.status();
    assert_eq!(st["folders"]["inbox"], 0);
    assert_eq!(st["folders"]["outbox"], 1);
    assert_eq!(st["folders"]["quarantine"], 1, "{st:#}");
    assert_eq!(st["submissions"]["needs_attention"], 1);
    assert_eq!(st["submissions"]["quarantined"], 1);
    assert_eq!(st["quarantined"][0]["file_name"], "notes.txt", "{st:#}");
    let id = st["last_processed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file_name"] == "mistakes.xlsx")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reason = data.path("quarantine").join(
        data.files("quarantine")
            .into_iter()
            .find(|n| n.ends_with(".reason.txt"))
            .unwrap(),
    );
    assert!(
        std::fs::read_to_string(reason)
            .unwrap()
            .contains("a text file")
    );

    // Dropped again: recognised, not processed again, answered "already processed".
    data.drop_file("mistakes-copy.xlsx", &sample("mistakes.xlsx"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    let outbox = data.files("outbox");
    assert_eq!(outbox.len(), 2, "{outbox:?}");
    let notice = outbox.iter().find(|n| n.contains("-dup-")).unwrap();
    let bytes = std::fs::read(data.path("outbox").join(notice)).unwrap();
    let text = parse(&Received {
        data: bytes,
        ..Received::default()
    })
    .text;
    assert!(text.contains(&format!("as submission {id}")), "{text}");

    // Reprocess: a dry run keeps nothing; a real run writes new results and a new reply.
    let (code, stdout, stderr) = data.run(&["reprocess", &id, "--dry-run"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("needs_attention -> needs_attention"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run"), "{stdout}");
    assert_eq!(data.files("outbox").len(), 2);
    let sample_path = repo().join("samples/worksheets/mistakes.xlsx");
    let (_, stdout, stderr) = data.run(&["reprocess", sample_path.to_str().unwrap()]);
    assert!(stdout.contains("reply queued"), "{stdout}{stderr}");
    assert!(
        data.files("outbox")
            .contains(&format!("{id}-reprocess-1.eml"))
    );
    let (code, _, stderr) = data.run(&["reprocess", "20990101-0000000000"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no submission"), "{stderr}");

    // Now a mail server that refuses the recipients for good: every message goes to dead/
    // with its reason, and shows in status and outbox.
    let (port, _inbox) = smtp::smtp_server(Some((550, "5.1.1 No such user")));
    std::fs::write(
        &data.config,
        format!(
            "catalog = \"sample\"\ndata = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n"
        ),
    )
    .unwrap();
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(data.files("outbox"), Vec::<String>::new());
    let dead = data.files("dead");
    assert_eq!(
        dead.iter().filter(|n| n.ends_with(".eml")).count(),
        3,
        "{dead:?}"
    );
    let reason = dead.iter().find(|n| n.ends_with(".reason.txt")).unwrap();
    assert!(
        std::fs::read_to_string(data.path("dead").join(reason))
            .unwrap()
            .contains("550")
    );
    let (code, stdout, _) = data.run(&["status"]);
    assert_eq!(code, 1, "dead letters need attention");
    assert!(stdout.contains("dead:"), "{stdout}");

    // The server is fixed: `outbox retry` sends the dead letters.
    let server = smtp::start_server_on(smtp::free_port());
    std::fs::write(
        &data.config,
        format!(
            "catalog = \"sample\"\ndata = \"data\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
            server.port
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = data.run(&["outbox", "retry"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("sent 3"), "{stdout}");
    assert_eq!(server.inbox.lock().unwrap().len(), 3);
    assert!(data.files("dead").is_empty());
    assert_eq!(data.files("sent").len(), 3);
}

/// Writes `bytes` into `path` in eight steps, `pause` apart, and returns the file still
/// open (its writer has not closed it until it is dropped).
fn write_slowly(path: &std::path::Path, bytes: &[u8], pause: Duration) -> std::fs::File {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    for chunk in bytes.chunks(bytes.len() / 8 + 1) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        std::thread::sleep(pause);
    }
    f
}

#[test]
fn a_slow_copy_is_not_read_until_it_stops_growing() {
    let data = Data::new(None);
    let child = data.spawn();
    let bytes = sample("clean-batch.xlsx");
    let path = data.path("inbox/clean-batch.xlsx");
    // A plain copy, no rename: the file grows in steps for about half a second.
    drop(write_slowly(&path, &bytes, Duration::from_millis(60)));
    wait_for(
        "the file to be processed",
        &data,
        Duration::from_secs(10),
        || data.files("inbox").is_empty() && data.files("outbox").len() == 1,
    );
    assert!(terminate(child).success());
    let st = data.status();
    assert_eq!(
        st["submissions"]["accepted"], 1,
        "read whole, not half: {st:#}"
    );
    assert_eq!(st["submissions"].as_object().unwrap().len(), 1, "{st:#}");
}

#[test]
fn one_watcher_per_data_folder_and_a_flood_of_replies_is_held_back() {
    let data = Data::new(None);
    std::fs::write(
        &data.config,
        "data = \"data\"\n[watch]\nsettle_ms = 100\nreplies_per_hour = 2\n",
    )
    .unwrap();
    for (i, name) in ["clean-batch.xlsx", "mistakes.xlsx", "clean-batch.ods"]
        .into_iter()
        .enumerate()
    {
        data.drop_file(
            &format!("flood-{i}.eml"),
            &email_with(i, name, sample(name)),
        );
    }
    let child = data.spawn();
    wait_for("the inbox to empty", &data, Duration::from_secs(15), || {
        data.files("inbox").is_empty()
    });
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("another `rolecall watch` is running"),
        "{stderr}"
    );
    assert!(terminate(child).success());

    assert!(data.log().contains("reply held back"), "{}", data.log());
    let st = data.status();
    assert_eq!(st["submissions"]["email"], 3, "all three processed: {st:#}");
    // Two replies an hour to one sender; the third is held in the outbox, not lost.
    assert_eq!(st["mail"]["pending"], 2, "{st:#}");
    assert_eq!(st["mail"]["held"], 1, "{st:#}");
    assert_eq!(st["held"].as_array().unwrap().len(), 1, "{st:#}");
    assert_eq!(data.files("outbox").len(), 3);
    // A person releases it.
    let (code, stdout, stderr) = data.run(&["outbox", "retry"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 held reply back in the queue"),
        "{stdout}"
    );
    let st = data.status();
    assert_eq!(st["mail"]["pending"], 3, "{st:#}");
    assert!(st["held"].as_array().unwrap().is_empty(), "{st:#}");
}

/// Every fixture, read as the watcher reads it: who sent it, may it be answered, what is
/// attached, what the reply must explain.
#[test]
fn eml_fixtures_are_read_as_a_person_would() {
    use rolecall::intake::email;
    // (fixture, answer?, attachments, a word the notes must contain)
    let cases: [(&str, bool, &[&str], Option<&str>); 11] = [
        ("with-worksheet", true, &["clean-batch.xlsx"], None),
        (
            "several-attachments",
            true,
            // A named picture is kept (a screenshot of a form deserves an answer saying
            // why it cannot be read); unnamed inline ones (signatures) are not.
            &[
                "mistakes.xlsx",
                "not-a-coordinator.xlsx",
                "logo.png",
                "notes.txt",
            ],
            None,
        ),
        ("with-reply-to", true, &["clean-batch.ods"], None),
        ("auto-submitted", false, &["clean-batch.xls"], None),
        ("precedence-bulk", false, &[], None),
        ("list-id", false, &[], None),
        ("mailer-daemon", false, &[], None),
        ("no-attachment", true, &[], None),
        ("winmail", true, &[], Some("winmail.dat")),
        ("nested", true, &[], Some("forwarded message")),
        ("unreadable-attachment", true, &["accounts.xlsx"], None),
    ];
    for (name, answer, attachments, note) in cases {
        let e = email::parse(&eml(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(e.automatic.is_none(), answer, "{name}: {:?}", e.automatic);
        let names: Vec<&str> = e.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, attachments, "{name}");
        if let Some(word) = note {
            assert!(
                e.notes.iter().any(|n| n.contains(word)),
                "{name}: {:?}",
                e.notes
            );
        }
        assert_eq!(
            e.message_id.as_deref(),
            Some(format!("<{name}@mail.gcsu.example.edu>").as_str())
        );
    }
    let e = email::parse(&eml("with-reply-to")).unwrap();
    assert_eq!(e.from.as_deref(), Some("dwhitfield@gcsu.example.edu"));
    assert_eq!(e.reply_to.as_deref(), Some("libsys@gcsu.example.edu"));
    let e = email::parse(&eml("mailer-daemon")).unwrap();
    assert!(e.automatic.unwrap().contains("automatic sender"));
}

#[test]
fn sigterm_lets_the_file_in_hand_finish() {
    let data = Data::new(None);
    let read = repo().join("tests/fixtures/read");
    for name in [
        "clean-batch.xlsx",
        "clean-batch.xls",
        "clean-batch.ods",
        "mistakes.xlsx",
    ] {
        data.drop_file(name, &sample(name));
    }
    for name in [
        "accounts_second.xlsx",
        "accounts_second.ods",
        "accounts_second.xls",
    ] {
        data.drop_file(name, &std::fs::read(read.join(name)).unwrap());
    }
    let child = data.spawn();
    // Looked for every millisecond: a fast run takes in the whole batch within the 50 ms
    // that `wait_for` sleeps between looks.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !data.log().contains("INFO received") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(terminate(child).success(), "{}", data.log());
    let log = data.log();
    let received = log.matches("INFO received").count();
    let filed = log.matches("INFO filed").count();
    assert_eq!(received, filed, "every file taken was finished:\n{log}");
    assert!(log.contains("INFO stopped"), "{log}");
    // What was not taken waits in the inbox for the next start, and is taken then.
    let left = data.files("inbox").len();
    assert_eq!(left + filed, 7, "{log}");
    assert!(left > 0, "the stop came mid-batch:\n{log}");
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(data.files("inbox").is_empty());
    assert_eq!(data.files("outbox").len(), 7);
}

#[test]
fn a_hung_mail_server_does_not_hold_up_the_inbox() {
    // A "server" that accepts connections and never says a word: each send waits for the
    // SMTP timeout (5 s here).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let data = Data::new(Some(port));
    data.drop_file("first.xlsx", &sample("clean-batch.xlsx"));
    let child = data.spawn();
    wait_for(
        "the first file to be filed",
        &data,
        Duration::from_secs(10),
        || data.files("inbox").is_empty() && data.files("outbox").len() == 1,
    );
    // The reply to the first is now stuck at the silent server; the next file is taken at
    // once all the same.
    std::thread::sleep(Duration::from_millis(300));
    let dropped = std::time::Instant::now();
    data.drop_file("second.xlsx", &sample("mistakes.xlsx"));
    wait_for(
        "the second file to be filed",
        &data,
        Duration::from_secs(10),
        || data.files("inbox").is_empty() && data.files("outbox").len() == 2,
    );
    assert!(
        dropped.elapsed() < Duration::from_secs(3),
        "the inbox waited for the mail server: {:?}",
        dropped.elapsed()
    );
    assert!(terminate(child).success());
}

#[test]
fn the_watcher_sends_over_starttls_to_a_server_of_the_consortium_ca() {
    let (port, inbox) = smtp::smtp_tls_server(smtp::TlsMode::Starttls);
    let data = Data::new(None);
    let ca = repo().join("tests/fixtures/tls/ca.pem");
    let mut config = std::fs::read_to_string(&data.config).unwrap();
    config.push_str(&format!(
        "\n[smtp]\nhost = \"localhost\"\nport = {port}\nsecurity = \"starttls\"\n\
         timeout_secs = 5\nca_file = \"{}\"\n",
        ca.display()
    ));
    std::fs::write(&data.config, config).unwrap();
    data.drop_file("clean-batch.xlsx", &sample("clean-batch.xlsx"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{stderr}");
    let reply = parse(&received[0]);
    assert!(
        reply.subject.contains("clean-batch.xlsx: accepted"),
        "{}",
        reply.subject
    );
    assert_eq!(data.files("sent").len(), 1);
}

#[test]
fn reprocessing_an_email_reprocesses_each_of_its_attachments() {
    let data = Data::new(None);
    data.drop_file("several-attachments.eml", &eml("several-attachments"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert!(code <= 1, "{stderr}");
    let st = data.status();
    let email_id = st["last_processed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file_name"] == "several-attachments.eml")
        .unwrap_or_else(|| panic!("{st:#}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, stdout, stderr) = data.run(&["reprocess", &email_id, "--dry-run"]);
    assert!(code <= 1, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines.iter().any(|l| l.contains("mistakes.xlsx")),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.contains("not-a-coordinator.xlsx")),
        "{stdout}"
    );
    assert!(stdout.contains("[dry run: nothing kept]"), "{stdout}");
}

#[test]
fn a_dead_coordinator_address_costs_nobody_else_the_reply_and_the_help_desk_is_told() {
    // The server refuses one coordinator's mailbox (550 5.1.1) and takes every other.
    let (port, inbox) = smtp::smtp_server_refusing("mortega@gcsu.example.edu");
    let data = Data::new(Some(port));
    data.drop_file("request.eml", &eml("with-worksheet"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    // The requester got the reply; the refused Cc is recorded and shown.
    let got = replies(&inbox);
    assert_eq!(got.len(), 1, "{stderr}");
    assert_eq!(got[0].rcpt, ["dwhitfield@gcsu.example.edu"]);
    assert_eq!(data.files("sent").len(), 1, "{:?}", data.files("outbox"));
    let st = data.status();
    let refused = &st["refused"][0]["refused"][0];
    assert_eq!(refused["address"], "mortega@gcsu.example.edu", "{st:#}");
    assert!(
        refused["error"].as_str().unwrap().contains("No such user"),
        "{st:#}"
    );
    let (_, stdout, _) = data.run(&["status"]);
    assert!(
        stdout.contains("refused: mortega@gcsu.example.edu"),
        "{stdout}"
    );
    // The help desk hears of it on the next pass, with what to fix in the catalog.
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    let got = replies(&inbox);
    let notice = got
        .iter()
        .find(|r| r.rcpt == ["alma-help@consortium.example.org"])
        .unwrap_or_else(|| panic!("no notice to the help desk: {stderr}"));
    assert!(
        notice.subject.contains("mortega@gcsu.example.edu"),
        "{}",
        notice.subject
    );
    assert!(notice.text.contains("coordinators.toml"), "{}", notice.text);
    assert!(notice.text.contains("Marcus Ortega"), "{}", notice.text);
}

#[test]
fn temporary_files_a_killed_run_left_are_removed_on_the_next_start_but_not_in_the_inbox() {
    let data = Data::new(None);
    // What a `kill -9` leaves: a reply half-written beside the results, an outbox message.
    // No process has the id 999999999 (above the kernel's pid_max).
    let left = [
        "archive/2026-11-24/20261124-0123456789/.clean-batch-reply.eml.999999999.tmp",
        "archive/2026-11-24/20261124-0123456789/20261124-9876543210/.x-result.xlsx.999999999.tmp",
        "outbox/.20261124-0123456789-reply.0.eml.999999999.tmp",
        "quarantine/.20261124-0123456789-notes.txt.reason.txt.999999999.tmp",
    ];
    for rel in left {
        let path = data.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"half a file").unwrap();
    }
    // Someone's copy in progress, the drop convention.
    std::fs::write(data.path("inbox/.copy.xlsx.tmp"), b"still copying").unwrap();
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    for rel in left {
        assert!(!data.path(rel).exists(), "{rel} is still there");
    }
    assert!(data.path("inbox/.copy.xlsx.tmp").exists());
    assert!(stderr.contains("removed temporary files"), "{stderr}");
}

#[test]
fn a_file_whose_outputs_cannot_be_written_is_retried_later_and_later_never_in_a_loop() {
    let data = Data::new(None);
    // The archive's folder for the day is a file: nothing for this day can be written
    // there (root ignores permissions, not this).
    std::fs::create_dir_all(data.path("archive")).unwrap();
    std::fs::write(data.path("archive/2026-11-24"), b"not a folder").unwrap();
    data.drop_file("batch.xlsx", &sample("clean-batch.xlsx"));
    let child = data.spawn();
    std::thread::sleep(Duration::from_millis(3500));
    terminate(child);
    let log = data.log();
    let tries = log.matches("will retry").count();
    // With a rescan every 300 ms this was about a dozen attempts; with the backoff (1 s,
    // then 2 s) it is three: at once, after 1 s and after 3 s.
    assert!(
        (1..=3).contains(&tries),
        "{tries} attempts in 3.5 s:\n{log}"
    );
    assert!(log.contains("retry_in_ms=1000"), "{log}");
    assert_eq!(data.files("inbox"), ["batch.xlsx"], "left in the inbox");
}

/// `clean-batch.xlsx` with its requester's address replaced by `address` (in the shared
/// strings, where the worksheet keeps it).
fn worksheet_from(address: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(sample("clean-batch.xlsx"))).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut entry = zin.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if text.contains("dwhitfield@gcsu.example.edu") {
            bytes = text
                .replace("dwhitfield@gcsu.example.edu", address)
                .into_bytes();
        }
        let name = entry.name().unwrap().to_string();
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn a_requester_address_no_reply_can_go_to_is_no_requester_and_the_file_ends_in_one_pass() {
    // Before, the reply could not be composed ("invalid email address") and the file stayed
    // in the inbox, tried again and again.
    let data = Data::new(None);
    data.drop_file("literal.xlsx", &worksheet_from("evil@[192.0.2.1]"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("will retry"), "{stderr}");
    assert_eq!(data.files("inbox"), Vec::<String>::new());
    let st = data.status();
    assert_eq!(st["submissions"]["rejected"], 1, "{st:#}");
    // With no requester to answer, the reply goes to the help desk.
    let outbox = data.files("outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let reply = std::fs::read_to_string(data.path("outbox").join(&outbox[0])).unwrap();
    assert!(
        reply.contains("alma-help@consortium.example.org"),
        "{reply}"
    );
}

/// A watcher that settles files for 30 s, running; returns once it watches the inbox.
fn slow_settling_watcher(data: &Data) -> Child {
    std::fs::write(
        &data.config,
        "catalog = \"sample\"\ndata = \"data\"\n[watch]\nsettle_ms = 30000\nrescan_ms = 60000\n",
    )
    .unwrap();
    let child = data.spawn();
    wait_for(
        "the watcher to start",
        data,
        Duration::from_secs(20),
        || data.log().contains("watching"),
    );
    child
}

#[test]
fn a_file_renamed_into_the_inbox_is_answered_at_once_without_settling() {
    let data = Data::new(None);
    let child = slow_settling_watcher(&data);
    let started = Instant::now();
    data.drop_file("clean-batch.xlsx", &sample("clean-batch.xlsx"));
    // Complete the moment it is renamed in: well within the 30 s a settling file waits.
    wait_for("the reply", &data, Duration::from_secs(15), || {
        data.files("inbox").is_empty() && data.files("outbox").len() == 1
    });
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(terminate(child).success());
    assert_eq!(data.status()["submissions"]["accepted"], 1);
}

#[test]
fn a_file_written_in_place_is_read_when_its_writer_closes_it_never_half_written() {
    let data = Data::new(None);
    let child = slow_settling_watcher(&data);
    let bytes = sample("clean-batch.xlsx");
    let path = data.path("inbox/clean-batch.xlsx");
    let open = write_slowly(&path, &bytes, Duration::from_millis(150));
    // Still open after a second of writing: nothing may have been taken.
    assert_eq!(data.files("inbox"), ["clean-batch.xlsx"]);
    assert!(data.files("outbox").is_empty(), "{}", data.log());
    drop(open);
    // Closed: complete, so taken without waiting the 30 s.
    wait_for("the reply", &data, Duration::from_secs(15), || {
        data.files("inbox").is_empty() && data.files("outbox").len() == 1
    });
    assert!(terminate(child).success());
    let st = data.status();
    assert_eq!(st["submissions"]["accepted"], 1, "read whole: {st:#}");
    assert_eq!(st["submissions"].as_object().unwrap().len(), 1, "{st:#}");
}

/// `sha256sum FILE`'s hash of `bytes`: the independent tool, not our hashing code.
fn sha256sum(bytes: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = Command::new("sha256sum").arg(file.path()).output().unwrap();
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Every file under `dir` whose name ends with `suffix`, depth first.
fn files_ending(dir: &std::path::Path, suffix: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_ending(&p, suffix, out);
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
}

#[test]
fn the_ledger_and_the_change_set_carry_each_files_sha256_hashed_once_on_arrival() {
    let data = Data::new(None);
    let form = std::fs::read(repo().join("samples/forms/clean.pdf")).unwrap();
    let sheet = sample("mistakes.xlsx");
    data.drop_file("clean.pdf", &form);
    data.drop_file("mistakes.xlsx", &sheet);
    data.drop_file("with-worksheet.eml", &eml("with-worksheet"));
    let (code, _, stderr) = data.run(&["watch", "--once"]);
    assert_eq!(code, 0, "{stderr}");
    let db = rusqlite::Connection::open(data.path("rolecall.db")).unwrap();
    let ledger = |name: &str| -> String {
        db.query_row(
            "SELECT sha256 FROM submissions WHERE file_name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no ledger row for {name}: {e}"))
    };
    let mut changesets = Vec::new();
    files_ending(&data.path("archive"), "-changeset.json", &mut changesets);
    let changeset_hash = |name: &str| -> String {
        changesets
            .iter()
            .map(|p| serde_json::from_slice::<Json>(&std::fs::read(p).unwrap()).unwrap())
            .find(|cs| cs["submission"]["source"] == name)
            .unwrap_or_else(|| panic!("no change set for {name}: {changesets:?}"))["submission"]
            ["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (name, bytes) in [("clean.pdf", &form), ("mistakes.xlsx", &sheet)] {
        let expected = sha256sum(bytes);
        assert_eq!(ledger(name), expected, "{name}");
        assert_eq!(changeset_hash(name), expected, "{name}");
    }
    // The email's attachment, as saved in the archive.
    let mut saved = Vec::new();
    files_ending(&data.path("archive"), ".xlsx", &mut saved);
    let attachment = saved
        .iter()
        .find(|p| p.parent().is_some_and(|d| d.ends_with("attachments")))
        .unwrap_or_else(|| panic!("no saved attachment among {saved:?}"));
    let name = attachment
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let expected = sha256sum(&std::fs::read(attachment).unwrap());
    assert_eq!(ledger(&name), expected, "{name}");
    assert_eq!(changeset_hash(&name), expected, "{name}");
}
