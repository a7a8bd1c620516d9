//! Whole email messages (`.eml`) dropped into the inbox: who sent them, what they answer,
//! whether a robot sent them (RFC 3834), and their attachments.
//!
//! Parsing is mail-parser's (MIME, encodings, RFC 2047/2231 names). This module only decides:
//! the sender's one `From` address is who the requester is, and a message whose sender is in
//! doubt is refused ([`super::sender`]); replies go to `Reply-To`, else `From`; an automatic message (`Auto-Submitted` other than `no`, `Precedence: bulk`,
//! `junk` or `list`, a `List-Id`, a delivery report, a mailer-daemon or no-reply sender) gets
//! no reply at all, so that two robots never mail each other forever. Attachments that cannot
//! be submissions get a plain word for the reply instead: Outlook's `winmail.dat`, a message
//! forwarded as an attachment, or another kind of file.

use super::sender::{self, Refusal};
use crate::fsx::{self, Charset};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// The longest attachment name kept, in bytes: the watcher adds up to 31 bytes around it
/// (`<submission id>-<name>.reason.txt`, `<name>-changeset.json`), and a file system takes
/// 255.
pub const MAX_ATTACHMENT_NAME_BYTES: usize = 200;

/// An attachment, as the watcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The file name as sent (made safe: no folders), or a made-up one.
    pub name: String,
    /// The decoded content.
    pub bytes: Vec<u8>,
}

/// One parsed email message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email {
    /// The `From` address, bare (`a@b.org`): who the requester is. `None` when the message
    /// has none, or when it is [`Email::refused`].
    pub from: Option<String>,
    /// Where replies go: `Reply-To`, else `From`.
    pub reply_to: Option<String>,
    /// The message's Message-ID, with angle brackets.
    pub message_id: Option<String>,
    /// The thread for a reply's `References`: the message's own `References`, then its id.
    pub references: Vec<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// Why no reply may be sent (RFC 3834), when that is so.
    pub automatic: Option<String>,
    /// Attachments that may be submissions (any file that is not one of the below).
    pub attachments: Vec<Attached>,
    /// What the reply should say about attachments that cannot be submissions.
    pub notes: Vec<String>,
    /// Why the sender cannot be taken as the requester, or cannot be answered: the message
    /// is then neither read nor answered.
    pub refused: Option<Refusal>,
}

/// Sender local parts that are robots (RFC 3834 §2 and common practice).
const ROBOT_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "no-reply",
    "noreply",
    "do-not-reply",
    "donotreply",
    "do_not_reply",
    "bounce",
    "bounces",
];

/// The largest `.eml` Rolecall reads: more than any mail server delivers (most stop at 25 to
/// 50 MB), so a bigger file is not a message someone sent.
pub const MAX_EML_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file of `len` bytes is not read as an email, if it is too large.
pub fn too_large(len: u64) -> Option<String> {
    (len > MAX_EML_BYTES).then(|| {
        format!(
            "larger than {} MB, more than mail servers deliver",
            MAX_EML_BYTES / (1024 * 1024)
        )
    })
}

/// Parses a message; `Err` with the reason in plain words when it is not one. An email is
/// hostile input: the size is capped ([`MAX_EML_BYTES`]), mail-parser bounds how deep
/// nested messages go, and a panic inside it is a reason, not a crash.
pub fn parse(bytes: &[u8]) -> Result<Email, String> {
    if let Some(why) = too_large(bytes.len() as u64) {
        return Err(why);
    }
    std::panic::catch_unwind(|| parse_unguarded(bytes))
        .unwrap_or_else(|_| Err("an email Rolecall could not read (it looks damaged)".into()))
}

fn parse_unguarded(bytes: &[u8]) -> Result<Email, String> {
    let message = MessageParser::default()
        .parse(bytes)
        .filter(|m| !m.headers().is_empty())
        .ok_or_else(|| "not an email message (no headers could be read)".to_string())?;

    let (from, reply_to, refused) = match sender::establish(&message) {
        Ok(s) => (s.from, s.reply_to, None),
        Err(refusal) => (None, None, Some(refusal)),
    };
    let message_id = message.message_id().map(|id| format!("<{id}>"));
    let mut references: Vec<String> = match message.references() {
        mail_parser::HeaderValue::Text(t) => vec![format!("<{t}>")],
        mail_parser::HeaderValue::TextList(list) => list.iter().map(|t| format!("<{t}>")).collect(),
        _ => Vec::new(),
    };
    if let Some(id) = &message_id {
        references.push(id.clone());
    }

    let mut email = Email {
        automatic: automatic(&message, from.as_deref()),
        refused,
        from,
        reply_to,
        message_id,
        references,
        subject: message.subject().map(str::to_string),
        ..Email::default()
    };

    for (i, part) in message.attachments().enumerate() {
        let declared = part.attachment_name().map(|n| {
            fsx::safe_name(
                n,
                Charset::Printable,
                MAX_ATTACHMENT_NAME_BYTES,
                "attachment",
            )
        });
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_default();
        if let PartType::Message(nested) = &part.body {
            let what = nested
                .subject()
                .map(|s| format!("the forwarded message \"{s}\""))
                .unwrap_or_else(|| "a forwarded message".into());
            email.notes.push(format!(
                "{what} is attached as a message inside your message. Rolecall does not open messages inside messages: please attach the worksheet or PDF form itself."
            ));
            continue;
        }
        let name = declared.unwrap_or_else(|| format!("attachment-{}", i + 1));
        if name.eq_ignore_ascii_case("winmail.dat") || ctype == "application/ms-tnef" {
            email.notes.push(
                "winmail.dat is Outlook's rich-text wrapper, and your worksheet is hidden inside it. Please set the message format to HTML or plain text in Outlook and send the worksheet again."
                    .into(),
            );
            continue;
        }
        // Pictures in a signature are not attachments anyone means to send.
        let inline = part.content_disposition().is_some_and(|d| d.is_inline());
        if ctype.starts_with("image/") && (inline || part.attachment_name().is_none()) {
            continue;
        }
        email.attachments.push(Attached {
            name,
            bytes: part.contents().to_vec(),
        });
    }
    Ok(email)
}

/// Why a message must not be answered (RFC 3834 §2), or `None` when it may be.
fn automatic(message: &mail_parser::Message<'_>, from: Option<&str>) -> Option<String> {
    let raw = |name: &str| {
        message
            .headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = raw("Auto-Submitted") {
        let keyword = v.split(';').next().unwrap_or("").trim().to_string();
        if keyword != "no" {
            return Some(format!("it is marked Auto-Submitted: {keyword}"));
        }
    }
    if let Some(v) = raw("Precedence")
        && ["bulk", "junk", "list"].contains(&v.as_str())
    {
        return Some(format!("it is marked Precedence: {v}"));
    }
    if raw("List-Id").is_some() {
        return Some("it came through a mailing list (List-Id)".into());
    }
    if raw("X-Autoreply").is_some() || raw("X-Autorespond").is_some() {
        return Some("it is an automatic reply (X-Autoreply)".into());
    }
    if let Some(ct) = message.content_type()
        && ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return Some("it is a delivery or read report".into());
    }
    if raw("Return-Path").is_some_and(|v| v == "<>") {
        return Some("it has an empty return path (a bounce)".into());
    }
    let Some(from) = from else {
        return Some("it has no sender address to answer".into());
    };
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if ROBOT_LOCAL_PARTS.contains(&local.as_str()) {
        return Some(format!("it comes from {from}, an automatic sender"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_an_email() {
        assert!(parse(b"").is_err());
    }

    #[test]
    fn a_file_larger_than_any_mail_server_delivers_is_not_read() {
        assert_eq!(too_large(MAX_EML_BYTES), None);
        let why = too_large(MAX_EML_BYTES + 1).unwrap();
        assert!(why.contains("larger than 64 MB"), "{why}");
    }

    #[test]
    fn deeply_nested_messages_and_parts_end_without_a_crash() {
        // 2,000 levels of message/rfc822 and of multipart: mail-parser stops descending
        // (bounded depth), and whatever it makes of it is a reason or a message.
        let mut eml = String::new();
        for i in 0..2000 {
            eml.push_str(&format!(
                "From: a{i}@uni.edu\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
        }
        eml.push_str("Subject: end\r\n\r\nbody\r\n");
        let outer = parse(eml.as_bytes()).expect("the outer message is read");
        assert_eq!(outer.from.as_deref(), Some("a0@uni.edu"));
        let mut eml = String::from("From: a@uni.edu\r\n");
        for i in 0..2000 {
            eml.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
            ));
        }
        let outer = parse(eml.as_bytes()).expect("the outer message is read");
        assert_eq!(outer.from.as_deref(), Some("a@uni.edu"));
        assert!(outer.attachments.is_empty());
    }

    #[test]
    fn a_plain_message_may_be_answered() {
        let eml = b"From: Ann <ann@uni.edu>\r\nReply-To: desk@uni.edu\r\nMessage-ID: <m1@uni.edu>\r\nReferences: <m0@uni.edu>\r\nSubject: hi\r\n\r\nhello\r\n";
        let e = parse(eml).unwrap();
        assert_eq!(e.from.as_deref(), Some("ann@uni.edu"));
        assert_eq!(e.reply_to.as_deref(), Some("desk@uni.edu"));
        assert_eq!(e.references, vec!["<m0@uni.edu>", "<m1@uni.edu>"]);
        assert_eq!(e.automatic, None);
    }
}
