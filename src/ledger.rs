//! The submission ledger and the mail queue, in the embedded database ([`crate::db`]):
//! which content hash was processed when and as which submission, what became of it, and
//! what mail waits, was sent or could not be delivered.
//!
//! The ledger is what makes the watcher exactly-once (`docs/inbox.md`): a submission is
//! recorded as `received` before anything is produced for it, its outcome and its queued
//! mail are recorded in one transaction (`processed`), and it is `filed` once its file has
//! left the inbox. Every step before `filed` can be run again with the same result, so a
//! restart resumes whatever a crash interrupted. Mail rows are keyed by a name derived from
//! the submission (`<id>-reply`), so queuing the same reply twice is a no-op.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Tables of the ledger (migration `ledger-1`).
pub const SCHEMA: &str = "
CREATE TABLE submissions (
    id           TEXT PRIMARY KEY,          -- 20261124-3fa9c2d41b
    sha256       TEXT NOT NULL UNIQUE,      -- content hash: the same bytes are one submission
    kind         TEXT NOT NULL,             -- file | email | attachment
    parent       TEXT REFERENCES submissions(id), -- the email an attachment came in
    file_name    TEXT NOT NULL,             -- as received
    received_at  TEXT NOT NULL,             -- RFC 3339
    processed_at TEXT,
    state        TEXT NOT NULL,             -- received | processed | filed
    status       TEXT,                      -- accepted | needs_attention | rejected | unreadable
                                            -- | quarantined | ignored | no_attachment | duplicate
    outcome      TEXT,                      -- JSON summary (counts, reason)
    original     TEXT,                      -- where the original is kept, relative to the data folder
    folder       TEXT,                      -- archive folder of the outputs, relative
    origin       TEXT,                      -- JSON: the email that brought it (sender, ids)
    reply_to     TEXT                       -- JSON: who the reply went to, for later notices
);
CREATE INDEX submissions_state ON submissions(state);
CREATE INDEX submissions_parent ON submissions(parent);

-- The same bytes dropped again: one row per arrival (hash, name, size, mtime), so that the
-- 'already processed' notice is queued once even when the watcher restarts mid-way.
CREATE TABLE duplicates (
    arrival       TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions(id),
    file_name     TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    state         TEXT NOT NULL,            -- received | filed
    kept          TEXT                      -- where the copy was moved, relative
);

CREATE TABLE mail (
    key             TEXT PRIMARY KEY,       -- <submission id>-reply, ...: one row per reply
    submission_id   TEXT,
    message_id      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    recipients      TEXT NOT NULL,          -- JSON list of addresses
    first_recipient TEXT NOT NULL,          -- lower case, for the per-sender rate limit
    file            TEXT NOT NULL,          -- .eml name in outbox/, sent/ or dead/
    state           TEXT NOT NULL,          -- pending | sending | sent | dead | held
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,   -- Unix ms, wall clock
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    sent_at         TEXT,
    server_reply    TEXT
);
CREATE INDEX mail_due ON mail(state, next_attempt_ms);
CREATE INDEX mail_rate ON mail(first_recipient, created_ms);
";

/// Words stored in the database for an enum, read back strictly: a word this version does
/// not know is an error (a newer version wrote it, or the file was edited), never a default
/// that would, say, send a message again.
macro_rules! db_words {
    ($ty:ident { $($variant:ident = $word:literal,)* }) => {
        impl $ty {
            /// The word stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $word,)* }
            }

            /// The value of a stored word; `None` for a word this version does not know.
            pub fn parse(s: &str) -> Option<$ty> {
                match s { $($word => Some($ty::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rusqlite::types::ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $ty {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let word = v.as_str()?;
                $ty::parse(word).ok_or_else(|| {
                    rusqlite::types::FromSqlError::Other(Box::new(UnknownWord {
                        what: stringify!($ty),
                        word: word.to_string(),
                    }))
                })
            }
        }
    };
}

/// A word in the database that this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("the ledger holds {word:?} as a {what}, which this version of Rolecall does not know")]
pub struct UnknownWord {
    /// Which kind of value.
    pub what: &'static str,
    /// The word found.
    pub word: String,
}

/// Migration `ledger-2`: per-recipient delivery. A server that refuses one recipient
/// (a dead coordinator address) no longer kills the whole reply: each address is recorded as
/// delivered or refused, and a retry goes only to the ones left.
pub const SCHEMA_2: &str = "
ALTER TABLE mail ADD COLUMN delivered TEXT NOT NULL DEFAULT '[]';  -- JSON list of addresses
ALTER TABLE mail ADD COLUMN refused TEXT NOT NULL DEFAULT '[]';    -- JSON [{address, error}]
";

/// A recipient the mail server refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// The address.
    pub address: String,
    /// The server's words.
    pub error: String,
}

/// How far a submission has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Recorded; nothing durable produced yet (or produced but not yet recorded).
    Received,
    /// Outcome and queued mail recorded; its file may still be in the inbox.
    Processed,
    /// Done: its file left the inbox (archived or quarantined).
    Filed,
}

db_words!(Stage {
    Received = "received",
    Processed = "processed",
    Filed = "filed",
});

/// What a submission came as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A file dropped into the inbox.
    File,
    /// A whole `.eml` message dropped into the inbox.
    Email,
    /// An attachment of an email.
    Attachment,
}

db_words!(Kind {
    File = "file",
    Email = "email",
    Attachment = "attachment",
});

/// What became of a submission, in one word (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every line accepted.
    Accepted,
    /// Some lines rejected or waiting for approval.
    NeedsAttention,
    /// No line can be carried out.
    Rejected,
    /// Not readable as a worksheet or form (the original is in `quarantine/`).
    Unreadable,
    /// Nobody can be answered about it (not a submission, a refused sender): in
    /// `quarantine/` with a reason file.
    Quarantined,
    /// An automatic message (RFC 3834): archived, not answered.
    Ignored,
    /// An email with nothing to read; the sender was told.
    NoAttachment,
    /// An email whose attachments are submissions of their own.
    Email,
}

db_words!(Status {
    Accepted = "accepted",
    NeedsAttention = "needs_attention",
    Rejected = "rejected",
    Unreadable = "unreadable",
    Quarantined = "quarantined",
    Ignored = "ignored",
    NoAttachment = "no_attachment",
    Email = "email",
});

impl From<crate::validate::SubmissionStatus> for Status {
    fn from(s: crate::validate::SubmissionStatus) -> Status {
        use crate::validate::SubmissionStatus as S;
        match s {
            S::Accepted => Status::Accepted,
            S::NeedsAttention => Status::NeedsAttention,
            S::Rejected => Status::Rejected,
            S::Unreadable => Status::Unreadable,
        }
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    /// Submission id.
    pub id: String,
    /// Content hash.
    pub sha256: String,
    /// File, email or attachment.
    pub kind: Kind,
    /// The email an attachment came in.
    pub parent: Option<String>,
    /// File name as received.
    pub file_name: String,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// When its outcome was recorded.
    pub processed_at: Option<String>,
    /// How far it has got.
    pub state: Stage,
    /// The outcome in one word (`accepted`, `quarantined`, ...).
    pub status: Option<Status>,
    /// Outcome details (JSON).
    pub outcome: Option<String>,
    /// Where the original is kept, relative to the data folder.
    pub original: Option<String>,
    /// The archive folder of its outputs, relative to the data folder.
    pub folder: Option<String>,
    /// The email that brought it (JSON), if any.
    pub origin: Option<String>,
    /// Who its reply went to (JSON `{"to": [...], "cc": [...]}`).
    pub reply_to: Option<String>,
}

/// A new ledger row.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    /// Submission id.
    pub id: &'a str,
    /// Content hash.
    pub sha256: &'a str,
    /// File, email or attachment.
    pub kind: Kind,
    /// The email an attachment came in.
    pub parent: Option<&'a str>,
    /// File name as received.
    pub file_name: &'a str,
    /// When (RFC 3339).
    pub received_at: &'a str,
    /// The email that brought it (JSON).
    pub origin: Option<&'a str>,
}

/// The recorded outcome of a submission.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Outcome in one word; `None` only in tests of the queue.
    pub status: Option<Status>,
    /// Details (JSON).
    pub outcome: String,
    /// Where the original will be kept, relative.
    pub original: Option<String>,
    /// Archive folder, relative.
    pub folder: Option<String>,
    /// Reply recipients (JSON).
    pub reply_to: Option<String>,
    /// When (RFC 3339).
    pub processed_at: String,
}

/// What names a message of the queue and where it goes: the same for a message being queued
/// ([`NewMail`]) and for a row of the queue ([`QueuedMail`]).
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    /// Unique key, derived from the submission (`<id>-reply`, `<id>-done`).
    pub key: String,
    /// The submission it answers.
    pub submission_id: Option<String>,
    /// Message-ID, with angle brackets.
    pub message_id: String,
    /// Subject line.
    pub subject: String,
    /// Every recipient.
    pub recipients: Vec<String>,
    /// File name in `outbox/` (or `sent/`, `dead/`).
    pub file: String,
}

/// A message to put in the queue; its `.eml` file must already be in `outbox/`.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// The message.
    pub letter: Letter,
    /// When (RFC 3339).
    pub created_at: String,
    /// When (Unix ms, wall clock), for the rate limit.
    pub created_ms: i64,
    /// Held back by the rate limit rather than queued ([`MailState::Held`]).
    pub held: bool,
}

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    /// Waiting to be sent (or for its next attempt).
    Pending,
    /// Handed to the server; if the watcher stopped here, it is sent again (the one
    /// at-least-once window, see `docs/inbox.md`).
    Sending,
    /// Accepted by the server.
    Sent,
    /// Given up: a permanent error or too many attempts.
    Dead,
    /// Held back by the per-sender rate limit (a mail loop, a flood): kept in `outbox/`,
    /// listed by `status` and `outbox`, sent only when someone runs `outbox retry`.
    Held,
}

db_words!(MailState {
    Pending = "pending",
    Sending = "sending",
    Sent = "sent",
    Dead = "dead",
    Held = "held",
});

impl MailState {
    /// The data-folder subfolder its file is in.
    pub fn folder(self) -> &'static str {
        match self {
            MailState::Pending | MailState::Sending | MailState::Held => "outbox",
            MailState::Sent => "sent",
            MailState::Dead => "dead",
        }
    }
}

/// One row of the mail queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedMail {
    /// The message (its fields are the JSON's first ones, as they always were).
    #[serde(flatten)]
    pub letter: Letter,
    /// Where it stands.
    pub state: MailState,
    /// Sending attempts so far.
    pub attempts: u32,
    /// Next attempt (Unix ms).
    pub next_attempt_ms: i64,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When the server accepted it.
    pub sent_at: Option<String>,
    /// Recipients the server has accepted so far (when it was sent one by one).
    pub delivered: Vec<String>,
    /// Recipients the server refused for good.
    pub refused: Vec<Refused>,
}

impl QueuedMail {
    /// The recipients still to send to: neither delivered nor refused.
    pub fn remaining(&self) -> Vec<String> {
        let done = |r: &String| {
            self.delivered.iter().any(|d| d.eq_ignore_ascii_case(r))
                || self
                    .refused
                    .iter()
                    .any(|x| x.address.eq_ignore_ascii_case(r))
        };
        self.letter
            .recipients
            .iter()
            .filter(|r| !done(r))
            .cloned()
            .collect()
    }
}

/// Ledger errors are SQLite's.
pub type Result<T> = std::result::Result<T, rusqlite::Error>;

/// The ledger over one database connection.
pub struct Ledger {
    conn: Connection,
}

const SUBMISSION_COLUMNS: &str = "id, sha256, kind, parent, file_name, received_at, processed_at, \
     state, status, outcome, original, folder, origin, reply_to";

fn submission_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Submission> {
    Ok(Submission {
        id: r.get(0)?,
        sha256: r.get(1)?,
        kind: r.get(2)?,
        parent: r.get(3)?,
        file_name: r.get(4)?,
        received_at: r.get(5)?,
        processed_at: r.get(6)?,
        state: r.get(7)?,
        status: r.get(8)?,
        outcome: r.get(9)?,
        original: r.get(10)?,
        folder: r.get(11)?,
        origin: r.get(12)?,
        reply_to: r.get(13)?,
    })
}

const MAIL_COLUMNS: &str = "key, submission_id, message_id, subject, recipients, file, state, \
     attempts, next_attempt_ms, last_error, created_at, sent_at, delivered, refused";

fn mail_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueuedMail> {
    let recipients: String = r.get(4)?;
    Ok(QueuedMail {
        letter: Letter {
            key: r.get(0)?,
            submission_id: r.get(1)?,
            message_id: r.get(2)?,
            subject: r.get(3)?,
            recipients: serde_json::from_str(&recipients).unwrap_or_default(),
            file: r.get(5)?,
        },
        state: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_ms: r.get(8)?,
        last_error: r.get(9)?,
        created_at: r.get(10)?,
        sent_at: r.get(11)?,
        delivered: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
        refused: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
    })
}

impl Ledger {
    /// Opens the ledger in a data folder (`rolecall.db`), creating it if needed.
    pub fn open(data_dir: &Path) -> std::result::Result<Ledger, crate::db::DbError> {
        Ok(Ledger {
            conn: crate::db::open(&data_dir.join(crate::db::FILE_NAME))?,
        })
    }

    /// A ledger over an open connection.
    pub fn from_connection(conn: Connection) -> Ledger {
        Ledger { conn }
    }

    /// The connection, for queries of its own.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The submission with this content hash.
    pub fn by_hash(&self, sha256: &str) -> Result<Option<Submission>> {
        self.conn
            .query_row(
                &format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE sha256 = ?1"),
                [sha256],
                submission_row,
            )
            .optional()
    }

    /// The submission with this id.
    pub fn by_id(&self, id: &str) -> Result<Option<Submission>> {
        self.conn
            .query_row(
                &format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = ?1"),
                [id],
                submission_row,
            )
            .optional()
    }

    /// Records a submission as received; a no-op when its hash is already there.
    pub fn insert_received(&self, s: &NewSubmission<'_>) -> Result<()> {
        let _one = crate::db::one_writer();
        self.conn.execute(
            "INSERT OR IGNORE INTO submissions (id, sha256, kind, parent, file_name, received_at, state, origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', ?7)",
            params![
                s.id,
                s.sha256,
                s.kind,
                s.parent,
                s.file_name,
                s.received_at,
                s.origin
            ],
        )?;
        Ok(())
    }

    /// Records an outcome and queues its mail in one transaction: after a crash either both
    /// are there or neither is.
    pub fn record_outcome(&mut self, id: &str, rec: &Recorded, mails: &[NewMail]) -> Result<()> {
        self.record_outcome_with(id, (rec, mails), |_| Ok(()))
    }

    /// [`Ledger::record_outcome`], with what `also` writes in the same transaction (the
    /// watcher's lifecycle records): one commit, one flush of the database, for all.
    /// IMMEDIATE: `also` may read before it writes.
    pub fn record_outcome_with<E: From<rusqlite::Error>>(
        &mut self,
        id: &str,
        (rec, mails): (&Recorded, &[NewMail]),
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let _one = crate::db::one_writer();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        also(&tx)?;
        record_outcome_in(&tx, id, (rec, mails))?;
        Ok(tx.commit()?)
    }

    /// Marks a submission done: its file has left the inbox (the move made durable
    /// before this is called).
    ///
    /// The mark needs no flush of its own (`synchronous = NORMAL` for this commit): lost
    /// to a power cut, it leaves a row `processed` whose file is gone from the inbox, which
    /// the next run marks filed again (`Watcher::resume`; an attachment's, when its email
    /// is taken again). And any later commit that is flushed (the next submission's, the
    /// push journal's row before it calls Alma) carries it, the WAL being written in order.
    pub fn mark_filed(&self, id: &str) -> Result<()> {
        let _one = crate::db::one_writer();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let marked = self
            .conn
            .execute("UPDATE submissions SET state = 'filed' WHERE id = ?1", [id]);
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        marked?;
        Ok(())
    }

    /// Files and emails not yet filed (a crash interrupted them), oldest first.
    pub fn unfinished(&self) -> Result<Vec<Submission>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions
             WHERE state != 'filed' AND kind != 'attachment' ORDER BY received_at, id"
        ))?;
        stmt.query_map([], submission_row)?.collect()
    }

    /// The attachments of an email.
    pub fn children(&self, parent: &str) -> Result<Vec<Submission>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE parent = ?1 ORDER BY id"
        ))?;
        stmt.query_map([parent], submission_row)?.collect()
    }

    /// The most recent submissions (by processing time), newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<Submission>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE processed_at IS NOT NULL
             ORDER BY processed_at DESC, id DESC LIMIT ?1"
        ))?;
        stmt.query_map([limit as i64], submission_row)?.collect()
    }

    /// The most recent submissions with one of these outcomes, newest first.
    pub fn recent_with_status(&self, statuses: &[Status], limit: usize) -> Result<Vec<Submission>> {
        let list: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE status IN ({})
             ORDER BY processed_at DESC, id DESC LIMIT ?1",
            list.join(", ")
        ))?;
        stmt.query_map([limit as i64], submission_row)?.collect()
    }

    /// Submissions by outcome word: `[(status, count)]`.
    pub fn status_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT COALESCE(status, state), COUNT(*) FROM submissions GROUP BY 1 ORDER BY 1",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Has this arrival of an already-processed file been seen? Returns its state.
    pub fn duplicate_state(&self, arrival: &str) -> Result<Option<Stage>> {
        self.conn
            .query_row(
                "SELECT state FROM duplicates WHERE arrival = ?1",
                [arrival],
                |r| r.get(0),
            )
            .optional()
    }

    /// Records an arrival of an already-processed file and queues its notice, together.
    pub fn record_duplicate(
        &mut self,
        arrival: &str,
        submission_id: &str,
        file_name: &str,
        received_at: &str,
        kept: &str,
        mails: &[NewMail],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for m in mails {
            insert_mail(&tx, m)?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO duplicates (arrival, submission_id, file_name, received_at, state, kept)
             VALUES (?1, ?2, ?3, ?4, 'received', ?5)",
            params![arrival, submission_id, file_name, received_at, kept],
        )?;
        tx.commit()
    }

    /// Marks a duplicate arrival done.
    pub fn duplicate_filed(&self, arrival: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE duplicates SET state = 'filed' WHERE arrival = ?1",
            [arrival],
        )?;
        Ok(())
    }

    /// Duplicate arrivals not yet filed: (arrival, kept path).
    pub fn unfinished_duplicates(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT arrival, COALESCE(kept, '') FROM duplicates WHERE state != 'filed'")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Is a mail with this key queued (in any state)?
    pub fn mail_exists(&self, key: &str) -> Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM mail WHERE key = ?1)",
            [key],
            |r| r.get(0),
        )
    }

    /// Messages queued to `recipient` (first recipient) since `since_ms`: the rate limit.
    pub fn mails_to_since(&self, recipient: &str, since_ms: i64) -> Result<i64> {
        self.conn.query_row(
            "SELECT COUNT(*) FROM mail WHERE first_recipient = ?1 AND created_ms >= ?2",
            params![recipient.to_lowercase(), since_ms],
            |r| r.get(0),
        )
    }

    /// Messages due for an attempt at `now_ms`, oldest first; `sending` ones first (a crash
    /// interrupted them).
    pub fn due(&self, now_ms: i64) -> Result<Vec<QueuedMail>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail
             WHERE state = 'sending' OR (state = 'pending' AND next_attempt_ms <= ?1)
             ORDER BY state = 'pending', created_ms, key"
        ))?;
        stmt.query_map([now_ms], mail_row)?.collect()
    }

    /// The earliest next attempt of a pending message.
    pub fn next_due_ms(&self) -> Result<Option<i64>> {
        self.conn.query_row(
            "SELECT MIN(next_attempt_ms) FROM mail WHERE state IN ('pending', 'sending')",
            [],
            |r| r.get(0),
        )
    }

    /// Messages in the given states, oldest first.
    pub fn mails(&self, states: &[MailState]) -> Result<Vec<QueuedMail>> {
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail WHERE state IN ({}) ORDER BY created_ms, key",
            list.join(", ")
        ))?;
        stmt.query_map([], mail_row)?.collect()
    }

    /// Messages by state: `[(state, count)]`.
    pub fn mail_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM mail GROUP BY state ORDER BY state")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// Before the SMTP transaction.
    pub fn mark_sending(&self, key: &str) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET state = 'sending', attempts = attempts + 1 WHERE key = ?1",
            params![key],
        )
    }

    /// The server accepted it.
    pub fn mark_sent(&self, key: &str, at: &str, server_reply: &str) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET state = 'sent', sent_at = ?2, server_reply = ?3, last_error = NULL WHERE key = ?1",
            params![key, at, server_reply],
        )
    }

    /// A transient failure: try again at `next_ms`.
    pub fn mark_retry(&self, key: &str, error: &str, next_ms: i64) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET state = 'pending', last_error = ?2, next_attempt_ms = ?3 WHERE key = ?1",
            params![key, error, next_ms],
        )
    }

    /// The server accepted this recipient (sending one by one).
    pub fn mark_delivered_to(&self, key: &str, address: &str) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET delivered = json_insert(delivered, '$[#]', ?2) WHERE key = ?1",
            params![key, address],
        )
    }

    /// The server refused this recipient for good.
    pub fn mark_refused(&self, key: &str, address: &str, error: &str) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET refused = json_insert(refused, '$[#]', json_object('address', ?2, 'error', ?3))
             WHERE key = ?1",
            params![key, address, error],
        )
    }

    /// Messages with a recipient the server refused, oldest first (dead ones are listed as
    /// dead).
    pub fn with_refused(&self) -> Result<Vec<QueuedMail>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MAIL_COLUMNS} FROM mail WHERE refused != '[]' AND state != 'dead'
             ORDER BY created_ms, key"
        ))?;
        stmt.query_map([], mail_row)?.collect()
    }

    /// Queues messages of no submission (a notice to the help desk); their files are in
    /// `outbox/` already. Queuing the same key twice is a no-op.
    pub fn queue(&mut self, mails: &[NewMail]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for m in mails {
            insert_mail(&tx, m)?;
        }
        tx.commit()
    }

    /// Given up.
    pub fn mark_dead(&self, key: &str, error: &str) -> Result<()> {
        self.set_mail(
            "UPDATE mail SET state = 'dead', last_error = ?2 WHERE key = ?1",
            params![key, error],
        )
    }

    /// `outbox retry`: dead and held messages back to pending with a fresh count, and every
    /// pending one due now. Returns the revived dead messages (their files move back; held
    /// ones are in `outbox/` already).
    pub fn retry_all(&mut self, now_ms: i64) -> Result<Vec<QueuedMail>> {
        let tx = self.conn.transaction()?;
        let dead: Vec<QueuedMail> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {MAIL_COLUMNS} FROM mail WHERE state = 'dead' ORDER BY created_ms, key"
            ))?;
            stmt.query_map([], mail_row)?.collect::<Result<_>>()?
        };
        tx.execute(
            "UPDATE mail SET state = 'pending', attempts = 0, next_attempt_ms = ?1, refused = '[]'
             WHERE state IN ('dead', 'held')",
            [now_ms],
        )?;
        tx.execute(
            "UPDATE mail SET next_attempt_ms = ?1 WHERE state = 'pending'",
            [now_ms],
        )?;
        tx.commit()?;
        Ok(dead)
    }

    /// Number of reprocess runs of a submission so far (its mail keys say so).
    pub fn reprocess_count(&self, id: &str) -> Result<i64> {
        self.conn.query_row(
            "SELECT COUNT(*) FROM mail WHERE key LIKE ?1",
            [format!("{id}-reprocess-%")],
            |r| r.get(0),
        )
    }

    fn set_mail(&self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.conn.execute(sql, params)?;
        Ok(())
    }
}

/// The outcome's row and its mail rows, inside the caller's transaction.
fn record_outcome_in(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    (rec, mails): (&Recorded, &[NewMail]),
) -> Result<()> {
    for m in mails {
        insert_mail(tx, m)?;
    }
    tx.execute(
        "UPDATE submissions SET state = CASE WHEN state = 'filed' THEN 'filed' ELSE 'processed' END,
             status = ?2, outcome = ?3, original = ?4, folder = ?5, reply_to = ?6, processed_at = ?7
         WHERE id = ?1",
        params![
            id,
            rec.status,
            rec.outcome,
            rec.original,
            rec.folder,
            rec.reply_to,
            rec.processed_at
        ],
    )?;
    Ok(())
}

fn insert_mail(tx: &rusqlite::Transaction<'_>, m: &NewMail) -> Result<()> {
    let recipients = serde_json::to_string(&m.letter.recipients).unwrap_or_else(|_| "[]".into());
    let first = m
        .letter
        .recipients
        .first()
        .map(|r| r.to_lowercase())
        .unwrap_or_default();
    tx.execute(
        "INSERT OR IGNORE INTO mail (key, submission_id, message_id, subject, recipients, first_recipient,
             file, state, created_at, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?10, ?8, ?9)",
        params![
            m.letter.key,
            m.letter.submission_id,
            m.letter.message_id,
            m.letter.subject,
            recipients,
            first,
            m.letter.file,
            m.created_at,
            m.created_ms,
            if m.held { "held" } else { "pending" }
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        Ledger::from_connection(crate::db::open_in_memory().unwrap())
    }

    fn submission() -> NewSubmission<'static> {
        NewSubmission {
            id: "s1",
            sha256: "abc",
            kind: Kind::File,
            parent: None,
            file_name: "a.xlsx",
            received_at: "2026-01-01T00:00:00Z",
            origin: None,
        }
    }

    fn mail(key: &str) -> NewMail {
        NewMail {
            letter: Letter {
                key: key.into(),
                submission_id: Some("s1".into()),
                message_id: format!("<{key}@x>"),
                subject: "Re".into(),
                recipients: vec!["A@X.org".into()],
                file: format!("{key}.eml"),
            },
            created_at: "2026-01-01T00:00:00Z".into(),
            created_ms: 1000,
            held: false,
        }
    }

    #[test]
    fn a_submission_goes_received_processed_filed_and_queuing_twice_is_a_no_op() {
        let mut l = ledger();
        let new = submission();
        l.insert_received(&new).unwrap();
        l.insert_received(&new).unwrap();
        assert_eq!(l.unfinished().unwrap().len(), 1);
        let rec = Recorded {
            status: Some(Status::Accepted),
            outcome: "{}".into(),
            processed_at: "2026-01-01T00:00:01Z".into(),
            ..Recorded::default()
        };
        l.record_outcome("s1", &rec, &[mail("s1-reply")]).unwrap();
        l.record_outcome("s1", &rec, &[mail("s1-reply")]).unwrap();
        assert_eq!(l.by_hash("abc").unwrap().unwrap().state, Stage::Processed);
        assert_eq!(l.due(0).unwrap().len(), 1, "queued once, due at once");
        l.mark_filed("s1").unwrap();
        assert!(l.unfinished().unwrap().is_empty());
        assert_eq!(l.mails_to_since("a@x.org", 0).unwrap(), 1);
    }

    #[test]
    fn mail_moves_through_sending_retry_dead_and_back() {
        let mut l = ledger();
        l.record_outcome("none", &Recorded::default(), &[mail("m")])
            .unwrap();
        l.mark_sending("m").unwrap();
        assert_eq!(l.due(0).unwrap()[0].state, MailState::Sending);
        l.mark_retry("m", "421 busy", 5000).unwrap();
        assert!(l.due(4999).unwrap().is_empty());
        l.mark_dead("m", "550 no").unwrap();
        assert_eq!(l.mails(&[MailState::Dead]).unwrap().len(), 1);
        let revived = l.retry_all(10).unwrap();
        assert_eq!(revived.len(), 1);
        let due = l.due(10).unwrap();
        assert_eq!((due[0].state, due[0].attempts), (MailState::Pending, 0));
    }

    #[test]
    fn a_word_the_ledger_does_not_know_is_an_error_not_a_default() {
        let mut l = ledger();
        let new = submission();
        l.insert_received(&new).unwrap();
        l.record_outcome("s1", &Recorded::default(), &[mail("m")])
            .unwrap();
        // Before, an unknown state read as `received` (processed again) and an unknown mail
        // state as `pending` (sent again).
        l.conn()
            .execute("UPDATE submissions SET state = 'archived'", [])
            .unwrap();
        let err = l.by_id("s1").unwrap_err().to_string();
        assert!(err.contains("\"archived\""), "{err}");
        l.conn()
            .execute("UPDATE mail SET state = 'bounced'", [])
            .unwrap();
        let read = l.conn().query_row(
            &format!("SELECT {MAIL_COLUMNS} FROM mail WHERE key = 'm'"),
            [],
            mail_row,
        );
        let err = read.unwrap_err().to_string();
        assert!(err.contains("\"bounced\""), "{err}");
        assert!(l.due(i64::MAX).unwrap().is_empty(), "never sent as pending");
        assert_eq!(MailState::parse("bounced"), None);
        assert_eq!(
            Status::parse("needs_attention"),
            Some(Status::NeedsAttention)
        );
    }
}
