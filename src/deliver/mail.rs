//! The reply email: what it says ([`MailContext`]), who gets it ([`Envelope`]) and the
//! composed message ([`Mail`]).
//!
//! Composition does no I/O and reads no clock: the date is a parameter and the Message-ID
//! and MIME boundaries are derived from the content, so the same inputs always give the same
//! bytes and tests compare whole messages.

use super::DeliverError;
use crate::finding::Finding;
use crate::validate::{Counts, SubmissionStatus};
use lettre::message::header::{self, ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// MIME type of the attached result workbook.
pub(super) const XLSX_MIME: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How many problems the body lists; the rest are in the attached workbook.
const LISTED_PROBLEMS: usize = 10;

/// How many accepted people the reply names; the rest are counted ("... and 9,900 more"):
/// the workbook lists every line, and a 100,000-line batch is no email to read (nor to
/// encode: lettre's line-ending pass over such a body cost more than the whole workbook).
pub const LISTED_ACCEPTED: usize = 100;

const TEXT_TEMPLATE: &str = super::templates::REPLY_TEXT;
const HTML_TEMPLATE: &str = super::templates::REPLY_HTML;

/// Everything the email says, with no I/O.
#[derive(Debug, Clone)]
pub struct MailContext {
    /// The submission's id (also the stem of the Message-ID and of the `.eml` file).
    pub submission_id: String,
    /// The file name as received.
    pub source_name: String,
    /// The verdict.
    pub status: SubmissionStatus,
    /// Line counts by status.
    pub counts: Counts,
    /// The requester's name, for the greeting.
    pub requester_name: Option<String>,
    /// Institution code, e.g. `01FALSC_GCSU`.
    pub institution_code: Option<String>,
    /// Institution name.
    pub institution_name: Option<String>,
    /// Every finding; the body lists the first few (errors first), the workbook has all.
    pub problems: Vec<Finding>,
    /// Help desk name, for the signature.
    pub help_desk_name: String,
    /// Help desk address, for the signature and as the last-resort recipient.
    pub help_desk_email: String,
    /// File name of the attached result workbook.
    pub workbook_name: String,
    /// What else the email held and why it was not read (empty for a loose file).
    pub notes: Vec<String>,
    /// Where each problem is, in the requester's words (a form field by its printed label),
    /// by the location's text; a location not here is shown as it is.
    pub places: std::collections::BTreeMap<String, String>,
    /// The people and roles accepted (or waiting for approval), one line each: all of
    /// them, or the first [`LISTED_ACCEPTED`] or more, the others counted in
    /// `accepted_unlisted`.
    pub accepted: Vec<String>,
    /// How many more people were accepted than `accepted` names.
    pub accepted_unlisted: usize,
}

/// Who the email is from and to, and what it answers.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// Sender, `help@example.org` or `Help Desk <help@example.org>`.
    pub from: String,
    /// The requester (usually one address).
    pub to: Vec<String>,
    /// The institution's coordinators.
    pub cc: Vec<String>,
    /// Message-ID of the email that brought the submission, if any.
    pub in_reply_to: Option<String>,
    /// Message-IDs of the thread, oldest first.
    pub references: Vec<String>,
}

/// A composed email, with what reports need to say about it.
#[derive(Debug, Clone)]
pub struct Mail {
    message: lettre::Message,
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    message_id: String,
    file_stem: String,
}

impl Mail {
    /// The whole RFC 5322 message, as it would travel.
    pub fn to_eml(&self) -> Vec<u8> {
        self.message.formatted()
    }

    /// The subject line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The Message-ID, with its angle brackets.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// Addresses in `To`, bare (`a@b.org`).
    pub fn to(&self) -> &[String] {
        &self.to
    }

    /// Addresses in `Cc`, bare.
    pub fn cc(&self) -> &[String] {
        &self.cc
    }

    /// Every recipient, `To` then `Cc`: what the SMTP envelope carries.
    pub fn recipients(&self) -> Vec<String> {
        self.to.iter().chain(&self.cc).cloned().collect()
    }

    /// A file-name-safe stem from the submission id, for the outbox.
    pub fn file_stem(&self) -> &str {
        &self.file_stem
    }

    /// The lettre message, for transports.
    pub(crate) fn message(&self) -> &lettre::Message {
        &self.message
    }

    /// A mail composed by another part of `deliver` (audit notices).
    pub(super) fn from_parts(
        message: lettre::Message,
        to: Vec<String>,
        subject: String,
        message_id: String,
        file_stem: String,
    ) -> Mail {
        Mail {
            message,
            to,
            cc: Vec::new(),
            subject,
            message_id,
            file_stem,
        }
    }
}

/// `Auto-Submitted` (RFC 3834): tells vacation responders and other robots not to answer,
/// which is what keeps two robots from mailing each other forever. Replies say
/// [`AutoSubmitted::REPLIED`]; messages Rolecall starts itself (the audit's notices) say
/// [`AutoSubmitted::GENERATED`].
#[derive(Clone)]
pub(super) struct AutoSubmitted(&'static str);

impl AutoSubmitted {
    /// An automatic answer to a message.
    pub(super) const REPLIED: AutoSubmitted = AutoSubmitted("auto-replied");
    /// A robot's own message.
    pub(super) const GENERATED: AutoSubmitted = AutoSubmitted("auto-generated");
}

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(if s.trim().eq_ignore_ascii_case("auto-generated") {
            AutoSubmitted::GENERATED
        } else {
            AutoSubmitted::REPLIED
        })
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// `X-Auto-Response-Suppress: All`: the same request as [`AutoSubmitted`] in the words
/// Microsoft Exchange listens to (it ignores RFC 3834 for out-of-office replies).
#[derive(Clone)]
struct AutoResponseSuppress;

impl Header for AutoResponseSuppress {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoResponseSuppress)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_string())
    }
}

/// Composes the reply: subject, text and HTML bodies, the workbook attached, headers.
pub fn compose(
    ctx: &MailContext,
    envelope: &Envelope,
    attachment: Vec<u8>,
    date: jiff::Timestamp,
) -> Result<Mail, DeliverError> {
    let workbook_name = if ctx.workbook_name.trim().is_empty() {
        "result.xlsx".to_string()
    } else {
        ctx.workbook_name.clone()
    };
    let parts = WithWorkbook {
        key: &ctx.submission_id,
        subject: subject(ctx),
        text: render_text(ctx)?,
        html: render_html(ctx)?,
        workbook_name,
        workbook: attachment,
    };
    compose_with_workbook(
        parts,
        envelope,
        (&ctx.help_desk_name, &ctx.help_desk_email),
        date,
    )
}

/// A message with both bodies and a workbook attached: the reply, the "done" email.
pub(super) struct WithWorkbook<'a> {
    /// Names the message: its Message-ID and outbox file stem.
    pub(super) key: &'a str,
    pub(super) subject: String,
    pub(super) text: String,
    pub(super) html: String,
    pub(super) workbook_name: String,
    pub(super) workbook: Vec<u8>,
}

/// Composes a [`WithWorkbook`] with the headers of a reply; the help desk is the
/// last-resort recipient.
pub(super) fn compose_with_workbook(
    parts: WithWorkbook<'_>,
    envelope: &Envelope,
    help_desk: (&str, &str),
    date: jiff::Timestamp,
) -> Result<Mail, DeliverError> {
    let from = parse_mailbox(&envelope.from)?;
    let (to, cc) = recipients_or_help_desk(envelope, help_desk)?;
    let file_stem = file_stem(parts.key);
    // One hash of everything that makes this message what it is: it names the message
    // (two replies about one submission, e.g. after a resubmission, get different ids) and
    // the MIME boundaries, so that nothing random goes into the bytes.
    let date_text = date.to_string();
    let digest = digest_hex(
        &[
            parts.key.as_bytes(),
            parts.subject.as_bytes(),
            date_text.as_bytes(),
            parts.text.as_bytes(),
            &parts.workbook,
        ],
        to.iter().chain(&cc),
    );
    let message_id = format!("<{file_stem}.{}@{}>", &digest[..12], from.email.domain());
    let builder = reply_builder(
        &from,
        &parts.subject,
        date,
        &message_id,
        (&to, &cc),
        help_desk,
        envelope,
    );
    let content_type = ContentType::parse(XLSX_MIME)
        .map_err(|e| DeliverError::Build(format!("content type {XLSX_MIME}: {e}")))?;
    let bodies = MultiPart::alternative()
        .boundary(format!("rolecall-alt-{}", &digest[..24]))
        .singlepart(SinglePart::plain(parts.text))
        .singlepart(SinglePart::html(parts.html));
    let body = MultiPart::mixed()
        .boundary(format!("rolecall-mixed-{}", &digest[..24]))
        .multipart(bodies)
        .singlepart(Attachment::new(parts.workbook_name).body(parts.workbook, content_type));
    let message = builder
        .multipart(body)
        .map_err(|e| DeliverError::Build(e.to_string()))?;
    Ok(Mail {
        message,
        to: to.iter().map(|m| m.email.to_string()).collect(),
        cc: cc.iter().map(|m| m.email.to_string()).collect(),
        subject: parts.subject,
        message_id,
        file_stem,
    })
}

/// A short plain-text message that is not a result: "this file was already processed",
/// "your email had no worksheet attached". Same headers as a reply (RFC 3834 marks,
/// threading, Reply-To the help desk).
#[derive(Debug, Clone)]
pub struct Notice {
    /// Names the message (`<submission id>-no-attachment`): its Message-ID and file stem.
    pub key: String,
    /// Subject line.
    pub subject: String,
    /// The body, plain text.
    pub text: String,
    /// Help desk name, for Reply-To.
    pub help_desk_name: String,
    /// Help desk address, for Reply-To and as the last-resort recipient.
    pub help_desk_email: String,
}

/// Composes a [`Notice`]: no I/O, the date is a parameter.
pub fn compose_notice(
    notice: &Notice,
    envelope: &Envelope,
    date: jiff::Timestamp,
) -> Result<Mail, DeliverError> {
    let from = parse_mailbox(&envelope.from)?;
    let ctx = MailContext {
        submission_id: notice.key.clone(),
        source_name: String::new(),
        status: SubmissionStatus::Unreadable,
        counts: Counts::default(),
        requester_name: None,
        institution_code: None,
        institution_name: None,
        problems: Vec::new(),
        help_desk_name: notice.help_desk_name.clone(),
        help_desk_email: notice.help_desk_email.clone(),
        workbook_name: String::new(),
        notes: Vec::new(),
        places: Default::default(),
        accepted: Vec::new(),
        accepted_unlisted: 0,
    };
    let (to, cc) = recipients(&ctx, envelope)?;
    let file_stem = file_stem(&notice.key);
    let date_text = date.to_string();
    let digest = digest_hex(
        &[
            notice.key.as_bytes(),
            notice.subject.as_bytes(),
            date_text.as_bytes(),
            notice.text.as_bytes(),
        ],
        std::iter::empty(),
    );
    let message_id = format!("<{file_stem}.{}@{}>", &digest[..12], from.email.domain());
    let builder = reply_builder(
        &from,
        &notice.subject,
        date,
        &message_id,
        (&to, &cc),
        (&notice.help_desk_name, &notice.help_desk_email),
        envelope,
    );
    let message = builder
        .singlepart(SinglePart::plain(notice.text.clone()))
        .map_err(|e| DeliverError::Build(e.to_string()))?;
    Ok(Mail {
        message,
        to: to.iter().map(|m| m.email.to_string()).collect(),
        cc: cc.iter().map(|m| m.email.to_string()).collect(),
        subject: notice.subject.clone(),
        message_id,
        file_stem,
    })
}

/// The SHA-256, in hex, of `parts` (each length-prefixed, so that no two lists hash alike)
/// and then of the `recipients`' addresses.
pub(super) fn digest_hex<'a>(
    parts: &[&[u8]],
    recipients: impl Iterator<Item = &'a Mailbox>,
) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    for mbox in recipients {
        hasher.update(mbox.email.to_string().as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The headers every message of ours carries, replies and notices alike: sender, subject,
/// date, id, the RFC 3834 marks, the recipients, Reply-To the help desk, and threading.
pub(super) fn reply_builder(
    from: &Mailbox,
    subject: &str,
    date: jiff::Timestamp,
    message_id: &str,
    (to, cc): (&[Mailbox], &[Mailbox]),
    (help_desk_name, help_desk_email): (&str, &str),
    envelope: &Envelope,
) -> lettre::message::MessageBuilder {
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .subject(subject.to_string())
        .date(std::time::SystemTime::from(date))
        .message_id(Some(message_id.to_string()))
        .header(AutoSubmitted::REPLIED)
        .header(AutoResponseSuppress);
    for mbox in to {
        builder = builder.to(mbox.clone());
    }
    for mbox in cc {
        builder = builder.cc(mbox.clone());
    }
    // Answers go to the help desk even when the sender is a no-reply robot address.
    if let Ok(help) = parse_mailbox(help_desk_email)
        && help.email != from.email
    {
        let name = Some(help_desk_name.to_string()).filter(|n| !n.trim().is_empty());
        builder = builder.reply_to(Mailbox::new(name, help.email));
    }
    // Threading headers are a courtesy: an id that is not a msg-id is left out rather than
    // stopping the reply.
    if let Some(id) = envelope.in_reply_to.as_deref().and_then(msg_id) {
        builder = builder.in_reply_to(id);
    }
    let references: Vec<String> = envelope
        .references
        .iter()
        .filter_map(|r| msg_id(r))
        .collect();
    if !references.is_empty() {
        builder = builder.header(header::References::from(references.join(" ")));
    }
    builder
}

/// Parses `a@b.org` or `Name <a@b.org>`.
pub(super) fn parse_mailbox(s: &str) -> Result<Mailbox, DeliverError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| DeliverError::Address {
            address: s.to_string(),
            reason: e.to_string(),
        })
}

/// The recipient rules: the requester in `To`, the coordinators in `Cc` (each address
/// once, compared without regard to case, never in both); with no requester the
/// coordinators move to `To`; with nobody at all, the help desk gets it so that the reply
/// is not lost.
pub(super) fn recipients(
    ctx: &MailContext,
    envelope: &Envelope,
) -> Result<(Vec<Mailbox>, Vec<Mailbox>), DeliverError> {
    recipients_or_help_desk(envelope, (&ctx.help_desk_name, &ctx.help_desk_email))
}

/// [`recipients`], with the help desk to fall back on given by name and address.
pub(super) fn recipients_or_help_desk(
    envelope: &Envelope,
    (help_desk_name, help_desk_email): (&str, &str),
) -> Result<(Vec<Mailbox>, Vec<Mailbox>), DeliverError> {
    let mut seen = std::collections::HashSet::new();
    let mut take = |list: &[String]| -> Result<Vec<Mailbox>, DeliverError> {
        let mut out = Vec::new();
        for s in list {
            if s.trim().is_empty() {
                continue;
            }
            let mbox = parse_mailbox(s)?;
            if seen.insert(mbox.email.to_string().to_lowercase()) {
                out.push(mbox);
            }
        }
        Ok(out)
    };
    let mut to = take(&envelope.to)?;
    let mut cc = take(&envelope.cc)?;
    if to.is_empty() {
        to = std::mem::take(&mut cc);
    }
    if to.is_empty() {
        let help = parse_mailbox(help_desk_email)?;
        let name = Some(help_desk_name.to_string()).filter(|n| !n.trim().is_empty());
        to.push(Mailbox::new(name, help.email));
    }
    Ok((to, cc))
}

/// `<id>` from `id` or `<id>`; `None` when it cannot be a msg-id (spaces, controls, empty).
fn msg_id(s: &str) -> Option<String> {
    let inner = s.trim().trim_start_matches('<').trim_end_matches('>');
    let ok = !inner.is_empty()
        && inner
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    ok.then(|| format!("<{inner}>"))
}

/// A stem that is safe as a file name and inside a Message-ID.
pub(super) fn file_stem(submission_id: &str) -> String {
    crate::fsx::safe_name(submission_id, crate::fsx::Charset::AsciiWord, 80, "reply")
}

/// `[Rolecall] <file>: <outcome> (<counts>)`.
pub(crate) fn subject(ctx: &MailContext) -> String {
    let c = ctx.counts;
    let total = c.accepted + c.needs_approval + c.rejected;
    let detail = match ctx.status {
        SubmissionStatus::Unreadable => None,
        SubmissionStatus::Accepted | SubmissionStatus::Rejected if total == 0 => {
            Some("no request lines".to_string())
        }
        SubmissionStatus::Accepted | SubmissionStatus::Rejected => Some(lines(total)),
        SubmissionStatus::NeedsAttention => Some(counts_phrase(c)).filter(|p| !p.is_empty()),
    };
    // A file name with a line break must not break the header (lettre would encode it, but
    // the subject is also shown in reports).
    let name: String = ctx
        .source_name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match detail {
        Some(d) => format!("[Rolecall] {name}: {} ({d})", ctx.status.words()),
        None => format!("[Rolecall] {name}: {}", ctx.status.words()),
    }
}

fn lines(n: usize) -> String {
    if n == 1 {
        "1 line".to_string()
    } else {
        format!("{n} lines")
    }
}

/// `5 accepted, 1 needs approval, 2 rejected`, leaving out the zeros.
fn counts_phrase(c: Counts) -> String {
    let mut parts = Vec::new();
    if c.accepted > 0 {
        parts.push(format!("{} accepted", c.accepted));
    }
    if c.needs_approval > 0 {
        let verb = if c.needs_approval == 1 {
            "needs"
        } else {
            "need"
        };
        parts.push(format!("{} {verb} approval", c.needs_approval));
    }
    if c.rejected > 0 {
        parts.push(format!("{} rejected", c.rejected));
    }
    if c.not_read > 0 {
        parts.push(format!("{} not read", c.not_read));
    }
    parts.join(", ")
}

/// What the templates see: the context with the wording decisions already made.
#[derive(Serialize)]
struct View<'a> {
    source_name: &'a str,
    status: SubmissionStatus,
    verdict: &'static str,
    counts: Counts,
    total: usize,
    requester_name: Option<&'a str>,
    institution: Option<String>,
    problems: Vec<ProblemView>,
    more: usize,
    has_errors: bool,
    help_desk_name: &'a str,
    help_desk_email: &'a str,
    workbook_name: &'a str,
    notes: &'a [String],
    accepted: &'a [String],
    accepted_more: usize,
}

#[derive(Serialize)]
struct ProblemView {
    location: String,
    warning: bool,
    message: String,
    suggestion: Option<String>,
}

fn view(ctx: &MailContext) -> View<'_> {
    // Errors first: they are what stops a line; warnings follow if there is room.
    let mut ordered: Vec<&Finding> = ctx.problems.iter().filter(|f| f.is_error()).collect();
    ordered.extend(ctx.problems.iter().filter(|f| !f.is_error()));
    let problems = ordered
        .iter()
        .take(LISTED_PROBLEMS)
        .map(|f| ProblemView {
            location: {
                let at = f.location.to_string();
                ctx.places.get(&at).cloned().unwrap_or(at)
            },
            warning: !f.is_error(),
            message: f.message.clone(),
            suggestion: f.suggestion.clone(),
        })
        .collect();
    let institution = match (&ctx.institution_name, &ctx.institution_code) {
        (Some(n), Some(c)) => Some(format!("{n} ({c})")),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    };
    let c = ctx.counts;
    View {
        source_name: &ctx.source_name,
        status: ctx.status,
        verdict: ctx.status.words(),
        counts: c,
        total: c.accepted + c.needs_approval + c.rejected,
        requester_name: ctx
            .requester_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty()),
        institution,
        problems,
        more: ordered.len().saturating_sub(LISTED_PROBLEMS),
        has_errors: ctx.problems.iter().any(Finding::is_error),
        help_desk_name: &ctx.help_desk_name,
        help_desk_email: &ctx.help_desk_email,
        workbook_name: &ctx.workbook_name,
        notes: &ctx.notes,
        accepted: &ctx.accepted[..ctx.accepted.len().min(LISTED_ACCEPTED)],
        accepted_more: ctx.accepted.len().saturating_sub(LISTED_ACCEPTED) + ctx.accepted_unlisted,
    }
}

fn render(name: &'static str, ctx: &MailContext) -> Result<String, DeliverError> {
    let template = super::templates::environment()
        .get_template(name)
        .map_err(|source| DeliverError::Template { name, source })?;
    template
        .render(view(ctx))
        .map_err(|source| DeliverError::Template { name, source })
}

/// The plain-text body.
pub fn render_text(ctx: &MailContext) -> Result<String, DeliverError> {
    render(TEXT_TEMPLATE, ctx)
}

/// The HTML body (every value escaped).
pub fn render_html(ctx: &MailContext) -> Result<String, DeliverError> {
    render(HTML_TEMPLATE, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_wrapped_and_garbage_is_dropped() {
        assert_eq!(msg_id("abc@x.org").as_deref(), Some("<abc@x.org>"));
        assert_eq!(msg_id(" <abc@x.org> ").as_deref(), Some("<abc@x.org>"));
        assert_eq!(msg_id("a b@x"), None);
        assert_eq!(msg_id("<>"), None);
        assert_eq!(msg_id("a\r\nBcc: x@y"), None);
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("2024-05-01_abc123"), "2024-05-01_abc123");
        assert_eq!(file_stem("../../etc/passwd"), "etc-passwd");
        assert_eq!(file_stem("///"), "reply");
    }

    #[test]
    fn count_phrases_agree_in_number() {
        let c = Counts {
            accepted: 5,
            needs_approval: 2,
            rejected: 0,
            not_read: 0,
        };
        assert_eq!(counts_phrase(c), "5 accepted, 2 need approval");
        let c = Counts {
            accepted: 1,
            rejected: 1,
            not_read: 90_000,
            ..Counts::default()
        };
        assert_eq!(counts_phrase(c), "1 accepted, 1 rejected, 90000 not read");
    }
}
