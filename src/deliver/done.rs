//! The "done" email: once every operation of a submission is decided (pushed, failed,
//! denied or superseded), the requester and the coordinators get one message in the
//! request's thread that says, per person, what they now hold in Alma, what was removed,
//! what failed and why, and what was denied with the approver's note. The result workbook
//! with its Done column is attached. Like every reply, composed with no I/O and no clock.

use super::mail::{
    XLSX_MIME, digest_hex, file_stem, parse_mailbox, recipients_or_help_desk, reply_builder,
};
use super::{DeliverError, Envelope, Mail};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

const TEXT_TEMPLATE: &str = "done.txt.j2";
const HTML_TEMPLATE: &str = "done.html.j2";

/// What became of one person's requests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PersonDone {
    /// Institution code.
    pub institution: String,
    /// Alma primary ID.
    pub primary_id: String,
    /// The staff roles Alma holds for them after the push, in words.
    pub holds: Vec<String>,
    /// What was removed, in words.
    pub removed: Vec<String>,
    /// What was carried out besides roles removed (roles added, an account created).
    pub carried_out: Vec<String>,
    /// What failed: (what, why in words).
    pub failed: Vec<(String, String)>,
    /// What was denied: (what, the approver's note).
    pub denied: Vec<(String, String)>,
    /// What a later submission for the same person replaced.
    pub superseded: Vec<String>,
}

/// Everything the "done" email says.
#[derive(Debug, Clone, Serialize)]
pub struct DoneContext {
    /// The submission's id.
    pub submission_id: String,
    /// The file name as received.
    pub source_name: String,
    /// The subject line (the first reply's, with "Re:").
    pub subject: String,
    /// Each person, in change-set order.
    pub people: Vec<PersonDone>,
    /// Help desk name, for the signature.
    pub help_desk_name: String,
    /// Help desk address, for the signature.
    pub help_desk_email: String,
    /// File name of the attached workbook.
    pub workbook_name: String,
}

impl DoneContext {
    /// True when something failed or was denied: the email says so first.
    fn partly(&self) -> bool {
        self.people
            .iter()
            .any(|p| !p.failed.is_empty() || !p.denied.is_empty())
    }
}

/// `Re: <subject>`, never `Re: Re: ...`.
pub fn re_subject(subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = clean.trim();
    if trimmed
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("re:"))
    {
        trimmed.to_string()
    } else {
        format!("Re: {trimmed}")
    }
}

/// Composes the "done" email; `attachment` is the result workbook with its Done column.
pub fn compose_done(
    ctx: &DoneContext,
    envelope: &Envelope,
    attachment: Vec<u8>,
    date: jiff::Timestamp,
) -> Result<Mail, DeliverError> {
    let from = parse_mailbox(&envelope.from)?;
    let help = (ctx.help_desk_name.as_str(), ctx.help_desk_email.as_str());
    let (to, cc) = recipients_or_help_desk(envelope, help)?;
    let text = render(TEXT_TEMPLATE, ctx)?;
    let html = render(HTML_TEMPLATE, ctx)?;
    let key = format!("{}-done", ctx.submission_id);
    let stem = file_stem(&key);
    let date_text = date.to_string();
    let digest = digest_hex(
        &[
            key.as_bytes(),
            ctx.subject.as_bytes(),
            date_text.as_bytes(),
            text.as_bytes(),
            &attachment,
        ],
        to.iter().chain(&cc),
    );
    let message_id = format!("<{stem}.{}@{}>", &digest[..12], from.email.domain());
    let builder = reply_builder(
        &from,
        &ctx.subject,
        date,
        &message_id,
        (&to, &cc),
        help,
        envelope,
    );
    let xlsx = ContentType::parse(XLSX_MIME).map_err(|e| DeliverError::Build(e.to_string()))?;
    let bodies = MultiPart::alternative()
        .boundary(format!("rolecall-alt-{}", &digest[..24]))
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(html));
    let body = MultiPart::mixed()
        .boundary(format!("rolecall-mixed-{}", &digest[..24]))
        .multipart(bodies)
        .singlepart(Attachment::new(ctx.workbook_name.clone()).body(attachment, xlsx));
    let message = builder
        .multipart(body)
        .map_err(|e| DeliverError::Build(e.to_string()))?;
    let bare =
        |list: &[lettre::message::Mailbox]| list.iter().map(|m| m.email.to_string()).collect();
    Ok(
        Mail::from_parts(message, bare(&to), ctx.subject.clone(), message_id, stem)
            .with_cc(bare(&cc)),
    )
}

#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    ctx: &'a DoneContext,
    partly: bool,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_template(TEXT_TEMPLATE, include_str!("../../templates/done.txt.j2"))
            .expect("templates/done.txt.j2 compiles");
        env.add_template(HTML_TEMPLATE, include_str!("../../templates/done.html.j2"))
            .expect("templates/done.html.j2 compiles");
        env
    })
}

fn render(name: &'static str, ctx: &DoneContext) -> Result<String, DeliverError> {
    let view = View {
        ctx,
        partly: ctx.partly(),
    };
    environment()
        .get_template(name)
        .and_then(|t| t.render(view))
        .map_err(|source| DeliverError::Template { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_is_added_once() {
        assert_eq!(
            re_subject("[Rolecall] a.xlsx: accepted"),
            "Re: [Rolecall] a.xlsx: accepted"
        );
        assert_eq!(re_subject("RE: staff accounts"), "RE: staff accounts");
        assert_eq!(re_subject("a\r\nBcc: x"), "Re: a  Bcc: x");
    }
}
