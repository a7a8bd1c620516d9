//! The outbox as a queue: messages wait as `.eml` files in `outbox/` with a row each in the
//! ledger's mail table, are sent when due, retried with backoff after a transient failure,
//! and end in `sent/` or, after a permanent failure or too many attempts, in `dead/` with a
//! reason file beside them.
//!
//! Order of steps for one message, so that a crash at any point loses nothing: the row is
//! marked `sending` (durable) before the SMTP transaction and `sent` after it; the file moves
//! only after the row says where it belongs, and [`tidy`] finishes any move a crash
//! interrupted. A row still `sending` after a restart is sent again: the one window where a
//! message can go out twice is after the whole message was sent and before our commit of the
//! server's `250` (`docs/inbox.md`). The bytes sent again are the file's, Message-ID
//! included, so a receiving system that de-duplicates by Message-ID keeps one copy.
//!
//! A server that refuses one recipient fails the whole SMTP transaction, so a message the
//! server refuses for good is sent again to each recipient on its own: the ones accepted get
//! it, the refused ones are recorded ([`SendPass::refused`], the ledger's `refused`), and a
//! retry goes only to the recipients left.

use super::{DeliverError, Delivery, Smtp};
use crate::fsx::rename_durably;
use crate::ledger::{Ledger, MailState, QueuedMail};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Sends a finished message (its bytes as they travel) to its recipients.
pub trait RawTransport {
    /// Sends `eml` from `from` to `to`.
    fn send_raw(&self, from: &str, to: &[String], eml: &[u8]) -> Result<Delivery, DeliverError>;
}

impl RawTransport for Smtp {
    fn send_raw(&self, from: &str, to: &[String], eml: &[u8]) -> Result<Delivery, DeliverError> {
        self.send_bytes(from, to, eml)
    }
}

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// Attempts before a message is given up (moved to `dead/`).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 1 minute, doubling up to 1 hour, 12 attempts: about 7 hours of trying.
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failed attempts (1 → base).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendPass {
    /// Messages the server accepted (for at least one recipient).
    pub sent: usize,
    /// Messages that failed for now and wait for their next attempt.
    pub waiting: usize,
    /// Messages given up.
    pub dead: usize,
    /// Recipients the server refused for good in this pass, while others got the message.
    pub refused: Vec<RefusedRecipient>,
}

/// A recipient refused in a pass: the help desk should hear of it (a dead coordinator
/// address in the catalog, most often).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecipient {
    /// The message's key.
    pub key: String,
    /// The submission it answers.
    pub submission_id: Option<String>,
    /// The message's subject.
    pub subject: String,
    /// The refused address.
    pub address: String,
    /// The server's words.
    pub error: String,
}

/// How one attempt at one message ended.
enum Attempt {
    /// Accepted for every recipient left, or for some with the others refused for good.
    Sent(String),
    /// Failed for now or for good.
    Failed(DeliverError),
}

/// Sends every message due at `now_ms`. Stops early (between messages) when `stop` is set.
/// `stamp` is the time written into the ledger (`ROLECALL_NOW` in tests).
pub fn send_due(
    data: &Path,
    ledger: &Ledger,
    transport: &dyn RawTransport,
    policy: &RetryPolicy,
    now_ms: i64,
    stamp: &str,
    stop: &AtomicBool,
) -> Result<SendPass, rusqlite::Error> {
    let mut pass = SendPass::default();
    for mail in ledger.due(now_ms)? {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let path = data.join("outbox").join(&mail.letter.file);
        let eml = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                let why = format!("the message file {} cannot be read: {e}", path.display());
                ledger.mark_dead(&mail.letter.key, &why)?;
                tracing::error!(mail = %mail.letter.key, error = %why, "mail dead");
                pass.dead += 1;
                continue;
            }
        };
        ledger.mark_sending(&mail.letter.key)?;
        let attempt = attempt(ledger, transport, &mail, &eml, &mut pass)?;
        settle(
            data,
            ledger,
            policy,
            (now_ms, stamp),
            &mail,
            attempt,
            &mut pass,
        )?;
    }
    Ok(pass)
}

/// One attempt at a message: to every recipient left in one transaction, and when the
/// server refuses that for good and there are several, to each on its own, so that one dead
/// address (SMTP fails the whole transaction on one refused RCPT) does not cost the others
/// their copy.
fn attempt(
    ledger: &Ledger,
    transport: &dyn RawTransport,
    mail: &QueuedMail,
    eml: &[u8],
    pass: &mut SendPass,
) -> Result<Attempt, rusqlite::Error> {
    let from = envelope_from(eml).unwrap_or_default();
    let left = mail.remaining();
    if left.is_empty() && !mail.delivered.is_empty() {
        // A crash after the last recipient and before the row said `sent`.
        return Ok(Attempt::Sent("delivered before".into()));
    }
    let first = match transport.send_raw(&from, &left, eml) {
        Ok(delivery) => return Ok(Attempt::Sent(reply_words(delivery))),
        Err(e) if e.is_transient() || left.len() < 2 => return Ok(Attempt::Failed(e)),
        Err(e) => e,
    };
    let (mut reply, mut transient, mut delivered) = (None, None, !mail.delivered.is_empty());
    let mut refused = Vec::new();
    for address in &left {
        match transport.send_raw(&from, std::slice::from_ref(address), eml) {
            Ok(delivery) => {
                ledger.mark_delivered_to(&mail.letter.key, address)?;
                reply = Some(reply_words(delivery));
                delivered = true;
            }
            Err(e) if e.is_transient() => transient = Some(e),
            Err(e) => {
                ledger.mark_refused(&mail.letter.key, address, &e.to_string())?;
                tracing::error!(mail = %mail.letter.key, to = %address, error = %e, "recipient refused");
                refused.push(RefusedRecipient {
                    key: mail.letter.key.clone(),
                    submission_id: mail.letter.submission_id.clone(),
                    subject: mail.letter.subject.clone(),
                    address: address.clone(),
                    error: e.to_string(),
                });
            }
        }
    }
    if transient.is_some() || delivered {
        // Refused while others got it (or may yet): the help desk should hear of it. When
        // every recipient is refused the message is dead, and listed as such.
        pass.refused.extend(refused);
    }
    Ok(match (transient, delivered) {
        (Some(e), _) => Attempt::Failed(e),
        (None, true) => Attempt::Sent(reply.unwrap_or_else(|| "sent earlier".into())),
        (None, false) => Attempt::Failed(first),
    })
}

fn reply_words(delivery: Delivery) -> String {
    match delivery {
        Delivery::Sent { server_reply } => server_reply,
        Delivery::Written(p) => format!("written to {}", p.display()),
    }
}

/// Records how an attempt ended: sent, waiting for the next attempt, or dead.
fn settle(
    data: &Path,
    ledger: &Ledger,
    policy: &RetryPolicy,
    (now_ms, stamp): (i64, &str),
    mail: &QueuedMail,
    attempt: Attempt,
    pass: &mut SendPass,
) -> Result<(), rusqlite::Error> {
    let attempts = mail.attempts + 1;
    let submission = mail.letter.submission_id.as_deref().unwrap_or("-");
    match attempt {
        Attempt::Sent(reply) => {
            ledger.mark_sent(&mail.letter.key, stamp, &reply)?;
            move_file(data, mail, MailState::Sent);
            tracing::info!(submission = %submission, mail = %mail.letter.key,
                to = %mail.letter.recipients.join(", "), reply = %reply, "mail sent");
            pass.sent += 1;
        }
        Attempt::Failed(e) if e.is_transient() && attempts < policy.max_attempts => {
            let wait = policy.delay(attempts);
            let next = now_ms + wait.as_millis() as i64;
            ledger.mark_retry(&mail.letter.key, &e.to_string(), next)?;
            tracing::warn!(submission = %submission, mail = %mail.letter.key, attempt = attempts,
                retry_in_ms = wait.as_millis() as u64, error = %e, "mail waiting");
            pass.waiting += 1;
        }
        Attempt::Failed(e) => {
            let why = if e.is_transient() {
                format!("gave up after {attempts} attempts; last error: {e}")
            } else {
                e.to_string()
            };
            ledger.mark_dead(&mail.letter.key, &why)?;
            move_file(data, mail, MailState::Dead);
            write_reason(data, mail, &why);
            tracing::error!(submission = %submission, mail = %mail.letter.key, error = %why, "mail dead");
            pass.dead += 1;
        }
    }
    Ok(())
}

/// Finishes moves that a crash interrupted: a sent or dead message whose file is still in
/// `outbox/`, a revived one still in `dead/`.
pub fn tidy(data: &Path, ledger: &Ledger) -> Result<(), rusqlite::Error> {
    for mail in ledger.mails(&[MailState::Sent, MailState::Dead])? {
        if data.join("outbox").join(&mail.letter.file).exists() {
            move_file(data, &mail, mail.state);
            if mail.state == MailState::Dead {
                write_reason(data, &mail, mail.last_error.as_deref().unwrap_or(""));
            }
        }
    }
    for mail in ledger.mails(&[MailState::Pending, MailState::Sending])? {
        let dead = data.join("dead").join(&mail.letter.file);
        if dead.exists() && !data.join("outbox").join(&mail.letter.file).exists() {
            let _ = rename_durably(&dead, &data.join("outbox").join(&mail.letter.file));
            let _ = std::fs::remove_file(reason_path(data, &mail));
        }
    }
    Ok(())
}

/// The `From` address of a stored message: the SMTP envelope sender.
fn envelope_from(eml: &[u8]) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse_headers(eml)?;
    msg.from()?.first()?.address().map(str::to_string)
}

fn reason_path(data: &Path, mail: &QueuedMail) -> PathBuf {
    let stem = mail.letter.file.trim_end_matches(".eml");
    data.join("dead").join(format!("{stem}.reason.txt"))
}

fn write_reason(data: &Path, mail: &QueuedMail, why: &str) {
    let text = format!(
        "{}\nto: {}\nsubject: {}\n\n`rolecall outbox retry` sends it again.\n",
        why.trim(),
        mail.letter.recipients.join(", "),
        mail.letter.subject
    );
    let _ = crate::fsx::write_durably(&reason_path(data, mail), text.as_bytes());
}

/// Moves a message's file to the folder of `state`, if it is not there yet.
fn move_file(data: &Path, mail: &QueuedMail, state: MailState) {
    let from = data.join("outbox").join(&mail.letter.file);
    let to = data.join(state.folder()).join(&mail.letter.file);
    if from.exists()
        && let Err(e) = rename_durably(&from, &to)
    {
        tracing::error!(mail = %mail.letter.key, error = %e, "cannot move the message file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            max_attempts: 5,
        };
        let waits: Vec<u128> = (1..=5).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        assert_eq!(p.delay(1000).as_millis(), 500);
    }
}
