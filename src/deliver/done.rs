//! The "done" email: once every operation of a submission is decided (pushed, failed,
//! denied or superseded), the requester and the coordinators get one message in the
//! request's thread that says, per person, what they now hold in Alma, what was removed,
//! what failed and why, and what was denied with the approver's note. The result workbook
//! with its Done column is attached. Like every reply, composed with no I/O and no clock.

use super::mail::{WithWorkbook, compose_with_workbook};
use super::{DeliverError, Envelope, Mail};
use serde::Serialize;

const TEXT_TEMPLATE: &str = super::templates::DONE_TEXT;
const HTML_TEMPLATE: &str = super::templates::DONE_HTML;

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
    let key = format!("{}-done", ctx.submission_id);
    let parts = WithWorkbook {
        key: &key,
        subject: ctx.subject.clone(),
        text: render(TEXT_TEMPLATE, ctx)?,
        html: render(HTML_TEMPLATE, ctx)?,
        workbook_name: ctx.workbook_name.clone(),
        workbook: attachment,
    };
    let help = (ctx.help_desk_name.as_str(), ctx.help_desk_email.as_str());
    compose_with_workbook(parts, envelope, help, date)
}

#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    ctx: &'a DoneContext,
    partly: bool,
}

fn render(name: &'static str, ctx: &DoneContext) -> Result<String, DeliverError> {
    let view = View {
        ctx,
        partly: ctx.partly(),
    };
    super::templates::environment()
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
