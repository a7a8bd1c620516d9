//! The reply email, as its readers see it: a mail server taking it over a real SMTP
//! conversation on 127.0.0.1, a mail client parsing it (mail-parser), a spreadsheet program
//! opening its attachment (calamine), and the outbox folder on disk.

use calamine::{Data, Reader, Xlsx};
use mail_parser::{MessageParser, MimeHeaders};
use rolecall::deliver::{
    DeliverError, Delivery, Envelope, Mail, MailContext, OutboxFolder, Security, Smtp, SmtpConfig,
    Transport, compose, render_html, render_text,
};
use rolecall::finding::{Finding, Rule};
use rolecall::location::Location;
use rolecall::validate::{Counts, SubmissionStatus};

// ---------------------------------------------------------------------------------------
// Fixtures

fn date() -> jiff::Timestamp {
    "2025-03-04T14:05:00Z".parse().unwrap()
}

fn context() -> MailContext {
    MailContext {
        submission_id: "20250304-gcsu-batch-3f9a1c".into(),
        source_name: "gcsu-batch.xlsx".into(),
        status: SubmissionStatus::NeedsAttention,
        counts: Counts {
            accepted: 5,
            needs_approval: 1,
            rejected: 2,
            not_read: 0,
        },
        requester_name: Some("Dana Whitfield".into()),
        institution_code: Some("01FALSC_GCSU".into()),
        institution_name: Some("Georgia College".into()),
        problems: vec![
            Finding::warning(
                Rule::NeedsApproval,
                Location::cell("Accounts", 9, 8),
                "Fulfillment Administrator is a privileged role: it waits for the help desk's approval.",
            ),
            Finding::error(
                Rule::UnknownRole,
                Location::cell("Accounts", 7, 8),
                "\"Circ Desk Op\" is not a role in the catalog.",
            )
            .suggest("Did you mean \"Circulation Desk Operator\"?"),
            Finding::error(
                Rule::InvalidEmail,
                Location::cell("Accounts", 8, 5),
                "\"jsmith@\" is not a valid email address.",
            ),
        ],
        help_desk_name: "FLVC Help Desk".into(),
        help_desk_email: "help@flvc.example".into(),
        workbook_name: "gcsu-batch-result.xlsx".into(),
        notes: vec![],
        places: Default::default(),
        accepted: vec![],
        accepted_unlisted: 0,
    }
}

fn envelope() -> Envelope {
    Envelope {
        from: "Rolecall <rolecall@flvc.example>".into(),
        to: vec!["Dana Whitfield <dana.whitfield@gcsu.example>".into()],
        cc: vec![
            "lee.ortiz@gcsu.example".into(),
            // The requester is also a coordinator: once is enough.
            "Dana.Whitfield@GCSU.example".into(),
            // Listed twice in the catalog, in two spellings.
            "Lee.Ortiz@gcsu.example".into(),
            "sam.patel@gcsu.example".into(),
        ],
        in_reply_to: Some("<CAF1234@mail.gcsu.example>".into()),
        references: vec![
            "<CAF1000@mail.gcsu.example>".into(),
            "CAF1234@mail.gcsu.example".into(),
        ],
    }
}

/// A small real workbook with one known cell, as the result workbook stands in for.
fn workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Summary").unwrap();
    sheet.write_string(0, 0, "Verdict").unwrap();
    sheet.write_string(0, 1, "needs attention").unwrap();
    book.save_to_buffer().unwrap()
}

fn open_workbook(bytes: &[u8]) -> Vec<Vec<Data>> {
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("attachment is xlsx");
    let range = book.worksheet_range("Summary").expect("Summary sheet");
    range.rows().map(|r| r.to_vec()).collect()
}

fn addresses(a: Option<&mail_parser::Address>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

use crate::support::smtp;
use smtp::{TlsMode, smtp_server, smtp_server_refusing, smtp_tls_server};

fn plain_smtp(port: u16) -> Smtp {
    Smtp::new(&SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Security::None,
        username: None,
        password_env: None,
        timeout_secs: Some(10),
        ca_file: None,
    })
    .unwrap()
}

/// A client of the TLS test server at `localhost` (the name its certificate carries),
/// trusting the test CA when `trust` is set.
fn tls_smtp(port: u16, security: Security, trust: bool) -> Smtp {
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    Smtp::new(&SmtpConfig {
        host: "localhost".into(),
        port: Some(port),
        security,
        username: None,
        password_env: None,
        timeout_secs: Some(10),
        ca_file: trust.then_some(ca),
    })
    .unwrap()
}

fn compose_default() -> Mail {
    compose(&context(), &envelope(), workbook(), date()).unwrap()
}

// ---------------------------------------------------------------------------------------
// SMTP

#[test]
fn smtp_delivers_to_requester_and_coordinators_with_the_workbook_attached() {
    let (port, inbox) = smtp_server(None);
    let mail = compose_default();
    let delivery = plain_smtp(port).send(&mail).expect("sent");
    assert_eq!(
        delivery,
        Delivery::Sent {
            server_reply: "250 OK queued as TEST1".into()
        }
    );

    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "one message at the server");
    let got = &received[0];
    assert_eq!(got.from, "rolecall@flvc.example");
    assert_eq!(
        got.rcpt,
        [
            "dana.whitfield@gcsu.example",
            "lee.ortiz@gcsu.example",
            "sam.patel@gcsu.example"
        ],
        "the requester and each coordinator once"
    );

    let msg = MessageParser::default().parse(&got.data).expect("parses");
    assert_eq!(
        msg.subject(),
        Some(
            "[Rolecall] gcsu-batch.xlsx: needs attention (5 accepted, 1 needs approval, 2 rejected)"
        )
    );
    assert_eq!(
        msg.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(addresses(msg.to()), ["dana.whitfield@gcsu.example"]);
    assert_eq!(
        addresses(msg.cc()),
        ["lee.ortiz@gcsu.example", "sam.patel@gcsu.example"]
    );
    assert_eq!(addresses(msg.reply_to()), ["help@flvc.example"]);

    assert_eq!(msg.attachment_count(), 1);
    let attachment = msg.attachment(0).unwrap();
    assert_eq!(attachment.attachment_name(), Some("gcsu-batch-result.xlsx"));
    let ct = attachment.content_type().unwrap();
    assert_eq!(
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let rows = open_workbook(attachment.contents());
    assert_eq!(
        rows[0],
        [
            Data::String("Verdict".into()),
            Data::String("needs attention".into())
        ]
    );
}

#[test]
fn a_mailbox_refused_with_550_is_a_permanent_error() {
    let (port, inbox) = smtp_server(Some((550, "5.1.1 No such user")));
    let err = plain_smtp(port).send(&compose_default()).unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            DeliverError::Smtp {
                code: Some(550),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("No such user"), "{err}");
    assert!(inbox.lock().unwrap().is_empty());
}

/// The mail queue of a data folder holding one composed reply: (folder, ledger, key).
fn queued(mail: &Mail) -> (tempfile::TempDir, rolecall::ledger::Ledger) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("outbox")).unwrap();
    std::fs::write(dir.path().join("outbox/reply.eml"), mail.to_eml()).unwrap();
    let mut ledger = rolecall::ledger::Ledger::open(dir.path()).unwrap();
    ledger
        .queue(&[rolecall::ledger::NewMail {
            letter: rolecall::ledger::Letter {
                key: "s1-reply".into(),
                submission_id: Some("s1".into()),
                message_id: mail.message_id().to_string(),
                subject: mail.subject().to_string(),
                recipients: mail.recipients(),
                file: "reply.eml".into(),
            },
            created_at: "2025-03-04T14:05:00Z".into(),
            created_ms: 0,
            held: false,
        }])
        .unwrap();
    (dir, ledger)
}

fn send_queue(
    dir: &std::path::Path,
    ledger: &rolecall::ledger::Ledger,
    port: u16,
) -> rolecall::deliver::queue::SendPass {
    let policy = rolecall::deliver::RetryPolicy::default();
    let stop = std::sync::atomic::AtomicBool::new(false);
    rolecall::deliver::queue::send_due(dir, ledger, &plain_smtp(port), &policy, 1, "now", &stop)
        .unwrap()
}

fn header(data: &[u8], name: &str) -> String {
    let text = String::from_utf8_lossy(data);
    let prefix = format!("{name}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn one_refused_cc_does_not_cost_the_others_their_copy_and_is_recorded() {
    // The server says 550 to one coordinator's address: SMTP fails the whole transaction on
    // it, and before, the whole reply went to dead/ and nobody got it.
    let (port, inbox) = smtp_server_refusing("sam.patel@gcsu.example");
    let mail = compose_default();
    let (dir, ledger) = queued(&mail);
    let pass = send_queue(dir.path(), &ledger, port);
    assert_eq!((pass.sent, pass.waiting, pass.dead), (1, 0, 0), "{pass:?}");
    assert_eq!(pass.refused.len(), 1, "{pass:?}");
    assert_eq!(pass.refused[0].address, "sam.patel@gcsu.example");
    assert!(
        pass.refused[0].error.contains("No such user here"),
        "{pass:?}"
    );
    // The requester and the other coordinator each got the message, the same message.
    let got = inbox.lock().unwrap().clone();
    let mut rcpt: Vec<String> = got.iter().flat_map(|r| r.rcpt.clone()).collect();
    rcpt.sort();
    assert_eq!(
        rcpt,
        ["dana.whitfield@gcsu.example", "lee.ortiz@gcsu.example"]
    );
    for r in &got {
        assert_eq!(
            header(&r.data, "Message-ID"),
            mail.message_id(),
            "one Message-ID"
        );
    }
    // Recorded: the message is sent, with the refused address and the server's words.
    assert!(dir.path().join("sent/reply.eml").exists());
    let refused = ledger.with_refused().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].refused[0].address, "sam.patel@gcsu.example");
    // Nothing is sent again.
    let again = send_queue(dir.path(), &ledger, port);
    assert_eq!((again.sent, again.refused.len()), (0, 0));
    assert_eq!(inbox.lock().unwrap().len(), 2);
}

#[test]
fn a_reply_sent_directly_reaches_every_recipient_the_server_accepts() {
    // `rolecall process` with [smtp]: no queue, the same rule.
    let (port, inbox) = smtp_server_refusing("sam.patel@gcsu.example");
    let delivery = plain_smtp(port).send(&compose_default()).unwrap();
    let Delivery::Sent { server_reply } = delivery else {
        panic!("{delivery:?}")
    };
    assert!(
        server_reply.contains("refused: sam.patel@gcsu.example"),
        "{server_reply}"
    );
    assert!(server_reply.contains("No such user here"), "{server_reply}");
    let mut rcpt: Vec<String> = inbox
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.rcpt.clone())
        .collect();
    rcpt.sort();
    assert_eq!(
        rcpt,
        ["dana.whitfield@gcsu.example", "lee.ortiz@gcsu.example"]
    );
}

#[test]
fn a_message_sent_again_after_a_crash_keeps_its_message_id() {
    // The one duplicate window: the whole message went out, and the watcher died before it
    // recorded the server's 250 (the row is still `sending`). The copy sent again is the
    // same bytes, Message-ID included, so a receiving system can keep one.
    let (port, inbox) = smtp_server(None);
    let mail = compose_default();
    let (dir, ledger) = queued(&mail);
    ledger.mark_sending("s1-reply").unwrap();
    let pass = send_queue(dir.path(), &ledger, port);
    assert_eq!(pass.sent, 1);
    let got = inbox.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0].data, "Message-ID"), mail.message_id());
    let stored = std::fs::read(dir.path().join("sent/reply.eml")).unwrap();
    assert_eq!(header(&stored, "Message-ID"), mail.message_id());
}

#[test]
fn a_mailbox_refused_with_451_is_a_transient_error() {
    let (port, _inbox) = smtp_server(Some((451, "4.3.0 Try again later")));
    let err = plain_smtp(port).send(&compose_default()).unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            DeliverError::Smtp {
                code: Some(451),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn nobody_listening_is_a_transient_error() {
    // A port that was free a moment ago and has nobody listening now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = plain_smtp(port).send(&compose_default()).unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "names the server: {err}"
    );
}

#[test]
fn a_missing_password_variable_is_named() {
    let config: SmtpConfig = toml::from_str(
        r#"
        host = "smtp.example.org"
        username = "rolecall"
        password_env = "ROLECALL_TEST_PASSWORD_THAT_IS_NOT_SET"
        "#,
    )
    .unwrap();
    let err = Smtp::new(&config).unwrap_err();
    assert!(!err.is_transient());
    assert!(
        err.to_string()
            .contains("ROLECALL_TEST_PASSWORD_THAT_IS_NOT_SET"),
        "{err}"
    );
}

#[test]
fn smtp_config_defaults_to_starttls_on_587() {
    let config: SmtpConfig = toml::from_str(r#"host = "smtp.example.org""#).unwrap();
    assert_eq!(config.security, Security::Starttls);
    assert_eq!(config.port(), 587);
    assert_eq!(config.password_env(), "ROLECALL_SMTP_PASSWORD");
    let tls: SmtpConfig = toml::from_str("host = \"h\"\nsecurity = \"tls\"").unwrap();
    assert_eq!(tls.port(), 465);
    assert!(
        toml::from_str::<SmtpConfig>("host = \"h\"\npasword_env = \"X\"").is_err(),
        "a misspelt key is an error, not silently ignored"
    );
    // Building the transport reads no password when there is no user and connects to nothing.
    assert!(Smtp::new(&config).is_ok());
}

// ---------------------------------------------------------------------------------------
// Outbox

#[test]
fn the_outbox_file_is_the_whole_message_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = OutboxFolder::new(dir.path().join("outbox"));
    let mail = compose_default();

    let first = outbox.send(&mail).unwrap();
    let second = outbox.send(&mail).unwrap();
    let folder = dir.path().join("outbox");
    assert_eq!(
        first,
        Delivery::Written(folder.join("20250304-gcsu-batch-3f9a1c.eml"))
    );
    assert_eq!(
        second,
        Delivery::Written(folder.join("20250304-gcsu-batch-3f9a1c-2.eml"))
    );
    let mut names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "20250304-gcsu-batch-3f9a1c-2.eml",
            "20250304-gcsu-batch-3f9a1c.eml"
        ],
        "no temporary files left behind"
    );

    let bytes = std::fs::read(folder.join("20250304-gcsu-batch-3f9a1c.eml")).unwrap();
    assert_eq!(bytes, mail.to_eml());
    let msg = MessageParser::default().parse(&bytes).unwrap();
    assert_eq!(msg.subject(), Some(mail.subject()));
    assert_eq!(
        msg.message_id(),
        Some(mail.message_id().trim_matches(['<', '>']))
    );
    let mut recipients = addresses(msg.to());
    recipients.extend(addresses(msg.cc()));
    assert_eq!(recipients, mail.recipients());
    assert_eq!(
        msg.body_text(0).unwrap().replace("\r\n", "\n"),
        render_text(&context()).unwrap()
    );
    assert!(
        msg.body_html(0)
            .unwrap()
            .contains("font-weight: bold;\">Error</span> <strong>Accounts!H7</strong>")
    );
    let rows = open_workbook(msg.attachment(0).unwrap().contents());
    assert_eq!(rows[0][1], Data::String("needs attention".into()));
}

#[test]
fn an_outbox_that_cannot_be_created_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let err = OutboxFolder::new(&file)
        .send(&compose_default())
        .unwrap_err();
    assert!(matches!(err, DeliverError::Outbox { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-folder"), "{err}");
}

// ---------------------------------------------------------------------------------------
// What the email says

const GOLDEN_TEXT: &str = r#"Hello Dana Whitfield,

We have checked "gcsu-batch.xlsx" for Georgia College (01FALSC_GCSU).
Verdict: needs attention.

  Accepted:        5
  Needs approval:  1
  Rejected:        2

Please look at these:
  - Accounts!H7: "Circ Desk Op" is not a role in the catalog.
    Did you mean "Circulation Desk Operator"?
  - Accounts!E8: "jsmith@" is not a valid email address.
  - Accounts!H9 (warning): Fulfillment Administrator is a privileged role: it waits for the help desk's approval.

What to do next: fix the highlighted cells in the attached workbook (gcsu-batch-result.xlsx) and send it back. Each highlighted cell has a note that says what is wrong.

Accepted lines are passed on to the help desk to carry out.

Lines marked "Needs approval" ask for privileged roles: the help desk will review them and let you know.

Thank you,
FLVC Help Desk
help@flvc.example

--
This is an automatic reply from Rolecall. Questions? Write to help@flvc.example.
"#;

#[test]
fn the_text_body_reads_as_written() {
    let text = render_text(&context()).unwrap();
    assert_eq!(text, GOLDEN_TEXT, "got:\n{text}");
}

#[test]
fn the_body_lists_ten_problems_errors_first_then_points_to_the_workbook() {
    let mut ctx = context();
    for row in 10..25 {
        ctx.problems.push(Finding::error(
            Rule::MissingField,
            Location::cell("Accounts", row, 2),
            "The primary ID is empty.",
        ));
    }
    let text = render_text(&ctx).unwrap();
    assert_eq!(text.matches("\n  - ").count(), 10);
    assert!(
        !text.contains("(warning)"),
        "the warning is past the first ten"
    );
    assert!(
        text.contains("  ... and 8 more in the attached workbook.\n"),
        "{text}"
    );
    let html = render_html(&ctx).unwrap();
    assert!(html.contains("... and 8 more in the attached workbook."));
}

#[test]
fn the_html_body_escapes_what_the_submission_says() {
    let mut ctx = context();
    ctx.problems[1].message = "Role \"<script>alert('x')</script>\" is unknown.".into();
    ctx.source_name = "<b>evil</b>.xlsx".into();
    let html = render_html(&ctx).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(!html.contains("<b>evil</b>"));
    // The plain-text body shows the words as they are.
    assert!(
        render_text(&ctx)
            .unwrap()
            .contains("<script>alert('x')</script>")
    );
}

#[test]
fn subjects_say_the_outcome_in_words() {
    let subject = |status, accepted, needs_approval, rejected| {
        let mut ctx = context();
        ctx.status = status;
        ctx.counts = Counts {
            accepted,
            needs_approval,
            rejected,
            not_read: 0,
        };
        compose(&ctx, &envelope(), workbook(), date())
            .unwrap()
            .subject()
            .to_string()
    };
    assert_eq!(
        subject(SubmissionStatus::Accepted, 8, 0, 0),
        "[Rolecall] gcsu-batch.xlsx: accepted (8 lines)"
    );
    assert_eq!(
        subject(SubmissionStatus::NeedsAttention, 0, 2, 1),
        "[Rolecall] gcsu-batch.xlsx: needs attention (2 need approval, 1 rejected)"
    );
    assert_eq!(
        subject(SubmissionStatus::Rejected, 0, 0, 1),
        "[Rolecall] gcsu-batch.xlsx: rejected (1 line)"
    );
    assert_eq!(
        subject(SubmissionStatus::Rejected, 0, 0, 0),
        "[Rolecall] gcsu-batch.xlsx: rejected (no request lines)"
    );
    assert_eq!(
        subject(SubmissionStatus::Unreadable, 0, 0, 0),
        "[Rolecall] gcsu-batch.xlsx: could not be read"
    );
}

#[test]
fn an_unreadable_file_gets_a_reply_that_says_so() {
    let mut ctx = context();
    ctx.status = SubmissionStatus::Unreadable;
    ctx.counts = Counts::default();
    ctx.source_name = "notes.xlsx".into();
    ctx.problems = vec![Finding::error(
        Rule::Unreadable,
        Location::File,
        "This file is not a spreadsheet: it looks like plain text.",
    )];
    let text = render_text(&ctx).unwrap();
    assert!(text.contains("We could not read \"notes.xlsx\" as an Accounts Worksheet"));
    assert!(text.contains("  - whole file: This file is not a spreadsheet"));
    assert!(
        !text.contains("Accepted:"),
        "no counts for a file that was not read"
    );
    assert!(!text.contains("fix the highlighted cells"));
}

#[test]
fn headers_thread_the_reply_and_mark_it_automatic() {
    let mail = compose_default();
    let eml = String::from_utf8(mail.to_eml()).unwrap();
    assert!(eml.contains("Auto-Submitted: auto-replied\r\n"));
    assert!(eml.contains("X-Auto-Response-Suppress: All\r\n"));
    assert!(
        eml.contains("Date: Tue, 04 Mar 2025 14:05:00 +0000\r\n"),
        "{eml}"
    );
    let msg = MessageParser::default().parse(eml.as_bytes()).unwrap();
    assert_eq!(
        msg.in_reply_to().as_text(),
        Some("CAF1234@mail.gcsu.example")
    );
    assert_eq!(
        msg.references().as_text_list().map(|l| l.to_vec()),
        Some(vec![
            "CAF1000@mail.gcsu.example".into(),
            "CAF1234@mail.gcsu.example".into()
        ])
    );
    assert!(
        mail.message_id()
            .starts_with("<20250304-gcsu-batch-3f9a1c."),
        "{}",
        mail.message_id()
    );
    assert!(mail.message_id().ends_with("@flvc.example>"));
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let a = compose_default();
    let b = compose_default();
    assert_eq!(a.to_eml(), b.to_eml());
    let later = compose(
        &context(),
        &envelope(),
        workbook(),
        "2025-03-05T09:00:00Z".parse().unwrap(),
    )
    .unwrap();
    assert_ne!(
        a.message_id(),
        later.message_id(),
        "a new reply gets a new id"
    );
}

#[test]
fn recipients_fall_back_to_coordinators_then_the_help_desk() {
    let ctx = context();
    let mut env = envelope();
    env.to.clear();
    let mail = compose(&ctx, &env, workbook(), date()).unwrap();
    assert_eq!(
        mail.to(),
        [
            "lee.ortiz@gcsu.example",
            "Dana.Whitfield@GCSU.example",
            "sam.patel@gcsu.example"
        ]
    );
    assert!(mail.cc().is_empty());

    env.cc.clear();
    let mail = compose(&ctx, &env, workbook(), date()).unwrap();
    assert_eq!(mail.recipients(), ["help@flvc.example"]);
}

#[test]
fn an_invalid_address_is_an_error_naming_it() {
    let mut env = envelope();
    env.cc.push("not an address".into());
    let err = compose(&context(), &env, workbook(), date()).unwrap_err();
    assert!(matches!(err, DeliverError::Address { .. }), "{err:?}");
    assert!(err.to_string().contains("not an address"), "{err}");
    assert!(!err.is_transient());
}

#[test]
fn an_accepted_file_gets_a_short_reply() {
    let mut ctx = context();
    ctx.status = SubmissionStatus::Accepted;
    ctx.counts = Counts {
        accepted: 8,
        needs_approval: 0,
        rejected: 0,
        not_read: 0,
    };
    ctx.problems.clear();
    ctx.requester_name = None;
    ctx.institution_name = None;
    let expected = r#"Hello,

We have checked "gcsu-batch.xlsx" for 01FALSC_GCSU.
Verdict: accepted.

  Accepted:        8
  Needs approval:  0
  Rejected:        0

Every line was accepted and passed on to the help desk to carry out. The attached workbook (gcsu-batch-result.xlsx) is your record of what was asked.

Thank you,
FLVC Help Desk
help@flvc.example

--
This is an automatic reply from Rolecall. Questions? Write to help@flvc.example.
"#;
    assert_eq!(render_text(&ctx).unwrap(), expected);
}

#[test]
fn starttls_and_implicit_tls_deliver_to_a_server_with_the_configured_ca() {
    for (mode, security) in [
        (TlsMode::Starttls, Security::Starttls),
        (TlsMode::Wrapper, Security::Tls),
    ] {
        let (port, inbox) = smtp_tls_server(mode);
        let delivery = tls_smtp(port, security, true)
            .send(&compose_default())
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert!(matches!(delivery, Delivery::Sent { .. }), "{mode:?}");
        let received = inbox.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{mode:?}");
        let msg = MessageParser::default().parse(&received[0].data).unwrap();
        assert_eq!(msg.attachment_count(), 1, "{mode:?}");
    }
}

#[test]
fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let (port, inbox) = smtp_tls_server(TlsMode::Starttls);
    let err = tls_smtp(port, Security::Starttls, false)
        .send(&compose_default())
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate")
            || err.to_string().to_lowercase().contains("tls"),
        "{err}"
    );
    assert!(
        inbox.lock().unwrap().is_empty(),
        "nothing sent in the clear"
    );
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_a_clear_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let err = Smtp::new(&SmtpConfig {
        host: "localhost".into(),
        port: Some(587),
        security: Security::Starttls,
        username: None,
        password_env: None,
        timeout_secs: Some(10),
        ca_file: Some(bad),
    })
    .unwrap_err();
    assert!(err.to_string().contains("ca_file"), "{err}");
}
