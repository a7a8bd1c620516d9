//! The push journal: one row per account per change set (table `alma_journal`, migration
//! `alma-1` in the one SQLite file), written before and after every write to Alma.
//!
//! Steps: `pending` (the run knows the account) → `fetched` (the GET is done and the roles
//! it means to write are stored as the *intent*, just before the PUT or POST) → `written`
//! (Alma answered; its roles stored) → `recorded` (the state holds them, in the same
//! transaction). `unchanged` (nothing to write), `refused` (drift) and `failed` end a run for
//! that account; a later run tries those again. A run killed at any moment resumes: at
//! `fetched`, a GET that shows the intent means the write landed and is not repeated; at
//! `written`, the stored answer is recorded without calling Alma.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

/// Table of the journal (migration `alma-1`).
pub const SCHEMA: &str = "
CREATE TABLE alma_journal (
    changeset   TEXT NOT NULL,
    institution TEXT NOT NULL,
    primary_id  TEXT NOT NULL COLLATE NOCASE,
    step        TEXT NOT NULL CHECK (step IN
        ('pending', 'fetched', 'written', 'recorded', 'unchanged', 'refused', 'failed')),
    intent      TEXT,
    answer      TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (changeset, institution, primary_id)
);
";

/// Where an account's push stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Known to the run, nothing sent yet.
    Pending,
    /// GET done; about to write the stored intent.
    Fetched,
    /// Alma answered the write.
    Written,
    /// The state holds the result: done.
    Recorded,
    /// Nothing needed writing: done.
    Unchanged,
    /// Refused (Alma changed since the state was made); tried again next run.
    Refused,
    /// Failed; tried again next run.
    Failed,
}

impl Step {
    fn word(self) -> &'static str {
        match self {
            Step::Pending => "pending",
            Step::Fetched => "fetched",
            Step::Written => "written",
            Step::Recorded => "recorded",
            Step::Unchanged => "unchanged",
            Step::Refused => "refused",
            Step::Failed => "failed",
        }
    }

    /// The step a row holds; a word this version does not know is an error, never a
    /// guess (a guessed `pending` could write an account twice).
    fn parse(s: &str) -> Option<Step> {
        Some(match s {
            "pending" => Step::Pending,
            "fetched" => Step::Fetched,
            "written" => Step::Written,
            "recorded" => Step::Recorded,
            "unchanged" => Step::Unchanged,
            "refused" => Step::Refused,
            "failed" => Step::Failed,
            _ => return None,
        })
    }

    /// True when the account is done for this change set.
    pub fn is_done(self) -> bool {
        matches!(self, Step::Recorded | Step::Unchanged)
    }
}

/// One account's row.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it stands.
    pub step: Step,
    /// The role list the run meant to write.
    pub intent: Option<Json>,
    /// The user Alma answered the write with.
    pub answer: Option<Json>,
    /// Why it failed or was refused, or what was done.
    pub detail: String,
}

/// The journal of one change set (its fingerprint).
pub struct Journal<'a> {
    conn: &'a Connection,
    changeset: String,
    now: String,
}

impl<'a> Journal<'a> {
    /// The journal of the change set with this fingerprint; `now` stamps each row.
    pub fn new(conn: &'a Connection, changeset: &str, now: &str) -> Journal<'a> {
        Journal {
            conn,
            changeset: changeset.to_string(),
            now: now.to_string(),
        }
    }

    /// The account's row, if a run has seen it.
    pub fn entry(&self, institution: &str, id: &str) -> rusqlite::Result<Option<Entry>> {
        self.conn
            .query_row(
                "SELECT step, intent, answer, detail FROM alma_journal
                 WHERE changeset = ?1 AND institution = ?2 AND primary_id = ?3",
                params![self.changeset, institution, id],
                |r| {
                    let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
                    Ok(Entry {
                        step: {
                            let word: String = r.get(0)?;
                            Step::parse(&word).ok_or_else(|| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    0,
                                    rusqlite::types::Type::Text,
                                    format!("unknown journal step {word:?}").into(),
                                )
                            })?
                        },
                        intent: json(r.get(1)?),
                        answer: json(r.get(2)?),
                        detail: r.get(3)?,
                    })
                },
            )
            .optional()
    }

    /// Moves the account to `step`; `intent` and `answer` are kept when `None`.
    pub fn set(
        &self,
        institution: &str,
        id: &str,
        step: Step,
        intent: Option<&Json>,
        answer: Option<&Json>,
        detail: &str,
    ) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO alma_journal
                     (changeset, institution, primary_id, step, intent, answer, detail, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO UPDATE SET step = excluded.step,
                     intent = COALESCE(excluded.intent, intent),
                     answer = COALESCE(excluded.answer, answer),
                     detail = excluded.detail, updated_at = excluded.updated_at",
            )?
            .execute(params![
                self.changeset,
                institution,
                id,
                step.word(),
                intent.map(Json::to_string),
                answer.map(Json::to_string),
                detail,
                self.now,
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn every_step_reads_back_and_an_unknown_word_is_no_step() {
        let all = [
            Step::Pending,
            Step::Fetched,
            Step::Written,
            Step::Recorded,
            Step::Unchanged,
            Step::Refused,
            Step::Failed,
        ];
        for step in all {
            assert_eq!(Step::parse(step.word()), Some(step));
        }
        assert_eq!(Step::parse("sent"), None);
        assert_eq!(Step::parse(""), None);
    }
}
