//! Delivery: composing the reply email and sending it (outbox folder or SMTP).
//!
//! [`compose`] turns a [`MailContext`] (what the email says) and an [`Envelope`] (who gets
//! it) into a [`Mail`] with no I/O and no clock, so that the same inputs give the same bytes.
//! A [`Transport`] then delivers it: [`OutboxFolder`] writes `.eml` files (the default when
//! no mail server is configured), [`Smtp`] sends it. Errors say whether trying again later
//! can help ([`DeliverError::is_transient`]). What the email says and the configuration are
//! documented in `docs/email.md`.

mod audit_notice;
mod done;
mod mail;
mod outbox;
pub mod queue;
mod smtp;
mod templates;

pub use audit_notice::{AuditNotice, compose_audit_notice};
pub use done::{DoneContext, PersonDone, compose_done, re_subject};
pub use mail::{
    Envelope, LISTED_ACCEPTED, Mail, MailContext, Notice, compose, compose_notice, render_html,
    render_text,
};
pub use outbox::OutboxFolder;
pub use queue::{RawTransport, RefusedRecipient, RetryPolicy};
pub use smtp::{DEFAULT_PASSWORD_ENV, Security, Smtp, SmtpConfig};

use serde::Serialize;
use std::path::PathBuf;

/// Delivers a composed [`Mail`]: one implementation per way out.
pub trait Transport {
    /// Delivers one message.
    fn send(&self, mail: &Mail) -> Result<Delivery, DeliverError>;

    /// True when [`Transport::send`] hands the message to someone else (a mail server):
    /// everything it refers to must be on disk before. False for a transport that only
    /// writes the message as one more file of the submission's outputs
    /// ([`Transport::send_in`]).
    fn hands_over(&self) -> bool {
        true
    }

    /// Delivers one message as one of the outputs of `batch`, which the caller commits: a
    /// transport that writes a file writes it there and gives it its name only once the
    /// batch is settled (so the submission's files are flushed together). By default
    /// [`Transport::send`].
    fn send_in(
        &self,
        mail: &Mail,
        batch: &mut crate::fsx::Batch,
    ) -> Result<Delivery, DeliverError> {
        let _ = batch;
        self.send(mail)
    }
}

/// What became of a delivered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Written to this `.eml` file.
    Written(PathBuf),
    /// Accepted by the mail server.
    Sent {
        /// The server's final reply, e.g. `250 OK queued as 1234`.
        server_reply: String,
    },
}

/// Why a message could not be composed or delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// An address in the envelope is not a valid email address.
    #[error("invalid email address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A template failed to render (a bug in a template, not in the submission).
    #[error("cannot render email template {name}: {source}")]
    Template {
        /// Template name.
        name: &'static str,
        /// The template engine's error.
        #[source]
        source: minijinja::Error,
    },
    /// The message could not be built.
    #[error("cannot build the email: {0}")]
    Build(String),
    /// The outbox folder or file could not be written.
    #[error("cannot write to the outbox {}: {source}", path.display())]
    Outbox {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The SMTP settings cannot work (missing password variable, bad host, ...).
    #[error("SMTP configuration: {0}")]
    Config(String),
    /// The mail server refused the message or could not be reached.
    #[error("sending by SMTP via {server} failed: {message}")]
    Smtp {
        /// `host:port`.
        server: String,
        /// The reply code, when the server answered with one.
        code: Option<u16>,
        /// True when trying again later may succeed (4xx replies, connection failures).
        transient: bool,
        /// What happened, with the server's words when it gave any.
        message: String,
    },
}

impl DeliverError {
    /// True when trying again later may succeed: 4xx replies, connection refused, timeouts.
    /// 5xx replies, bad addresses and configuration mistakes are permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DeliverError::Smtp {
                transient: true,
                ..
            }
        )
    }
}
