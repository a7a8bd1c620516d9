//! Notices: emails Rolecall starts itself (the inactivity audit's letter to an institution's
//! coordinators), as opposed to replies to a submission. Plain text with one workbook
//! attached; like replies, composed with no I/O and no clock.

use super::mail::{AutoSubmitted, XLSX_MIME, digest_hex, file_stem, parse_mailbox};
use super::{DeliverError, Mail};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

/// What a notice says.
#[derive(Debug, Clone)]
pub struct AuditNotice {
    /// Names the message and its outbox file (`inactive-01FALSC_GCSU-2026-11-24`).
    pub id: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// File name of the attached workbook.
    pub attachment_name: String,
    /// The workbook.
    pub attachment: Vec<u8>,
}

/// Composes a notice from `from` to `to` (answers go to `reply_to`, the help desk).
pub fn compose_audit_notice(
    notice: &AuditNotice,
    from: &str,
    to: &[String],
    reply_to: Option<&str>,
    date: jiff::Timestamp,
) -> Result<Mail, DeliverError> {
    let from = parse_mailbox(from)?;
    let to: Vec<Mailbox> = to
        .iter()
        .map(|t| parse_mailbox(t))
        .collect::<Result<_, _>>()?;
    let date_text = date.to_string();
    let digest = digest_hex(
        &[
            notice.id.as_bytes(),
            notice.subject.as_bytes(),
            notice.text.as_bytes(),
            date_text.as_bytes(),
            &notice.attachment,
        ],
        std::iter::empty(),
    );
    let stem = file_stem(&notice.id);
    let message_id = format!("<{stem}.{}@{}>", &digest[..12], from.email.domain());
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(notice.subject.clone())
        .date(std::time::SystemTime::from(date))
        .message_id(Some(message_id.clone()))
        .header(AutoSubmitted::GENERATED);
    for m in &to {
        builder = builder.to(m.clone());
    }
    if let Some(r) = reply_to {
        builder = builder.reply_to(parse_mailbox(r)?);
    }
    let xlsx = ContentType::parse(XLSX_MIME).map_err(|e| DeliverError::Build(e.to_string()))?;
    let body = MultiPart::mixed()
        .boundary(format!("rolecall-notice-{}", &digest[..24]))
        .singlepart(SinglePart::plain(notice.text.clone()))
        .singlepart(
            Attachment::new(notice.attachment_name.clone()).body(notice.attachment.clone(), xlsx),
        );
    let message = builder
        .multipart(body)
        .map_err(|e| DeliverError::Build(e.to_string()))?;
    Ok(Mail::from_parts(
        message,
        to.iter().map(|m| m.email.to_string()).collect(),
        notice.subject.clone(),
        message_id,
        stem,
    ))
}
