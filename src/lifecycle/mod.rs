//! The request lifecycle (`docs/lifecycle.md`): every operation of every change set a
//! submission produced has a state, and every change of state is a row of the audit log.
//!
//! This module owns the tables `lifecycle_op`, `lifecycle_approval` and
//! `lifecycle_transition` (migration `lifecycle-1` in the data folder's one SQLite file):
//! recording a change set ([`Lifecycle::record`]), what may go to Alma now
//! ([`Lifecycle::pushable`]), what a push did ([`Lifecycle::record_push`]) and each state
//! change ([`Lifecycle::transition`]). Each change is a transaction that first reads the
//! current state, so a repeated command or a run resumed after `kill -9` changes nothing.
//! [`approve`] holds approvals and denials, [`push`] the push of a submission, [`queue`]
//! the help desk's work queue.

pub mod approve;
pub mod push;
pub mod queue;

use crate::catalog::Catalog;
use crate::changeset::{ChangeSet, Operation};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use push::push_submission;

/// Tables of the lifecycle (migration `lifecycle-1`).
pub const SCHEMA: &str = "
CREATE TABLE lifecycle_op (
    submission_id    TEXT NOT NULL,
    generation       INTEGER NOT NULL,      -- 0 when first processed, n after a reprocess
    idx              INTEGER NOT NULL,      -- position in the change set's operations
    institution      TEXT NOT NULL,
    primary_id       TEXT NOT NULL,
    person_key       TEXT NOT NULL,         -- primary ID in lower case
    operation        TEXT NOT NULL,         -- the operation's JSON, as in the change set
    words            TEXT NOT NULL,
    needs_approval   INTEGER NOT NULL,
    approvals_needed INTEGER NOT NULL,
    exception        TEXT,                  -- a separation-of-duties conflict: approving needs a note
    state            TEXT NOT NULL,
    reason           TEXT,
    reason_kind      TEXT,                  -- alma | drift | note
    lines            TEXT NOT NULL,         -- JSON list, as the change set writes them
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (submission_id, generation, idx)
);
CREATE INDEX lifecycle_op_person ON lifecycle_op(institution, person_key, state);
CREATE INDEX lifecycle_op_state ON lifecycle_op(state);

CREATE TABLE lifecycle_approval (
    submission_id TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    idx           INTEGER NOT NULL,
    approver_key  TEXT NOT NULL,            -- catalog::lookup_key of the name
    approver      TEXT NOT NULL,
    note          TEXT,
    at            TEXT NOT NULL,
    PRIMARY KEY (submission_id, generation, idx, approver_key)
);

CREATE TABLE lifecycle_transition (
    id            INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    idx           INTEGER NOT NULL,
    from_state    TEXT,                     -- NULL when the operation was first recorded
    to_state      TEXT NOT NULL,
    actor         TEXT NOT NULL,
    note          TEXT,
    at            TEXT NOT NULL
);
CREATE INDEX lifecycle_transition_op ON lifecycle_transition(submission_id, generation, idx);
";

/// Where one operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    /// A privileged role or a separation-of-duties conflict: the help desk must approve it.
    WaitingApproval,
    /// Approved by as many people as it needs; waits to be pushed.
    Approved,
    /// Denied, with a note: never pushed.
    Denied,
    /// Needs no approval; waits to be pushed.
    WaitingPush,
    /// Carried out in Alma.
    Pushed,
    /// Alma refused or failed, or the account had drifted; the reason says which.
    Failed,
    /// A later submission for the same person (or a reprocess) replaced it.
    Superseded,
}

const ALL_STATES: [OpState; 7] = [
    OpState::WaitingApproval,
    OpState::Approved,
    OpState::Denied,
    OpState::WaitingPush,
    OpState::Pushed,
    OpState::Failed,
    OpState::Superseded,
];

impl OpState {
    /// The word stored in the database and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OpState::WaitingApproval => "waiting_approval",
            OpState::Approved => "approved",
            OpState::Denied => "denied",
            OpState::WaitingPush => "waiting_push",
            OpState::Pushed => "pushed",
            OpState::Failed => "failed",
            OpState::Superseded => "superseded",
        }
    }

    /// The state a word names; a word this version does not know is an error, never a
    /// default (a guessed `waiting_push` could send an unapproved role to Alma).
    pub fn parse(word: &str) -> Result<OpState, LifecycleError> {
        ALL_STATES
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| LifecycleError::UnknownState(word.to_string()))
    }

    /// True once nothing more will happen to it: pushed, failed, denied or superseded.
    pub fn is_decided(self) -> bool {
        matches!(
            self,
            OpState::Pushed | OpState::Failed | OpState::Denied | OpState::Superseded
        )
    }

    /// True while it still waits on someone (approval or push): what a later submission
    /// for the same person supersedes.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            OpState::WaitingApproval | OpState::Approved | OpState::WaitingPush
        )
    }

    /// The states it may move to. A failed push may be tried again.
    fn may_become(self, to: OpState) -> bool {
        use OpState::*;
        match self {
            WaitingApproval => matches!(to, Approved | Denied | Superseded),
            Approved | WaitingPush => matches!(to, Pushed | Failed | Superseded),
            Failed => matches!(to, Pushed | Failed),
            Denied | Pushed | Superseded => false,
        }
    }

    /// In words, for reports.
    pub fn words(self) -> &'static str {
        match self {
            OpState::WaitingApproval => "waiting for approval",
            OpState::Approved => "approved, waiting to be pushed",
            OpState::Denied => "denied",
            OpState::WaitingPush => "waiting to be pushed",
            OpState::Pushed => "pushed",
            OpState::Failed => "failed",
            OpState::Superseded => "superseded",
        }
    }
}

impl std::fmt::Display for OpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::types::ToSql for OpState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for OpState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        OpState::parse(v.as_str()?).map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

/// Why an operation failed, so that the queue can say what moves it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Alma refused or failed: `rolecall push ID` tries again.
    Alma,
    /// The account had changed in Alma: `rolecall push ID --rebase`.
    Drift,
    /// A person's note (a denial).
    Note,
}

impl ReasonKind {
    fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Alma => "alma",
            ReasonKind::Drift => "drift",
            ReasonKind::Note => "note",
        }
    }

    fn parse(word: &str) -> Option<ReasonKind> {
        [ReasonKind::Alma, ReasonKind::Drift, ReasonKind::Note]
            .into_iter()
            .find(|k| k.as_str() == word)
    }
}

/// One operation's record.
#[derive(Debug, Clone, Serialize)]
pub struct OpRecord {
    /// The submission whose change set it is in.
    pub submission_id: String,
    /// 0 when first processed; each `reprocess` that changed the change set adds one.
    pub generation: u32,
    /// Position in the change set's operations.
    pub index: usize,
    /// Institution code.
    pub institution: String,
    /// Alma primary ID.
    pub primary_id: String,
    /// The operation in words: "add Circulation Desk Operator at MAIN, desk X, to jdoe".
    pub words: String,
    /// True when it waits for the help desk's approval.
    pub needs_approval: bool,
    /// How many different people must approve it (0 when none).
    pub approvals_needed: u8,
    /// The separation-of-duties conflict that made it wait: approving it is an exception
    /// and needs a note.
    pub exception: Option<String>,
    /// Where it stands.
    pub state: OpState,
    /// Why it failed (Alma's error, in words), or the note of a denial.
    pub reason: Option<String>,
    /// What kind of reason.
    pub reason_kind: Option<ReasonKind>,
    /// Request lines it came from (`Accounts!9`).
    pub lines: Vec<String>,
    /// Who approved it so far.
    pub approvers: Vec<String>,
    /// When it was first recorded (RFC 3339).
    pub created_at: String,
    /// When its state last changed (RFC 3339).
    pub updated_at: String,
}

impl OpRecord {
    /// "1 of 2 approvals", for an operation that waits for more than one.
    pub fn approvals_words(&self) -> String {
        format!(
            "{} of {} approval{}",
            self.approvers.len(),
            self.approvals_needed,
            if self.approvals_needed == 1 { "" } else { "s" }
        )
    }
}

/// What went wrong in the lifecycle.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] crate::db::DbError),
    /// A query failed.
    #[error("database {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A state word this version does not know.
    #[error(
        "the lifecycle holds {0:?} as an operation state, which this version of Rolecall does not know"
    )]
    UnknownState(String),
    /// No such operation.
    #[error("submission {submission}: it has no operation {index} in the lifecycle")]
    NoOperation {
        /// Submission id.
        submission: String,
        /// Its position.
        index: usize,
    },
    /// A change of state the lifecycle does not allow.
    #[error(
        "submission {submission}, operation {index} ({words}): it is {from}, so it cannot become {to}"
    )]
    NotAllowed {
        /// Submission id.
        submission: String,
        /// Its position.
        index: usize,
        /// The operation in words.
        words: String,
        /// Where it stands.
        from: OpState,
        /// Where it was asked to go.
        to: OpState,
    },
    /// The change set does not match what the lifecycle recorded for the submission.
    #[error(
        "submission {submission}: the change set {path} is not the one the lifecycle recorded (operation {index} differs); run `rolecall reprocess {submission}`"
    )]
    Mismatch {
        /// Submission id.
        submission: String,
        /// The change set file, or "given".
        path: String,
        /// The first operation that differs.
        index: usize,
    },
    /// The submission's change set could not be found or read.
    #[error("{0}")]
    ChangeSet(String),
    /// The account state failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// An approval or denial was refused; nothing changed.
    #[error(transparent)]
    Refused(#[from] approve::Refusal),
}

/// The lifecycle over the data folder's database.
pub struct Lifecycle {
    conn: Connection,
    path: PathBuf,
}

const OP_COLUMNS: &str = "submission_id, generation, idx, institution, primary_id, words, \
     needs_approval, approvals_needed, exception, state, reason, reason_kind, lines, \
     created_at, updated_at";

fn op_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OpRecord> {
    let lines: String = r.get(12)?;
    let kind: Option<String> = r.get(11)?;
    Ok(OpRecord {
        submission_id: r.get(0)?,
        generation: r.get(1)?,
        index: r.get::<_, i64>(2)? as usize,
        institution: r.get(3)?,
        primary_id: r.get(4)?,
        words: r.get(5)?,
        needs_approval: r.get(6)?,
        approvals_needed: r.get(7)?,
        exception: r.get(8)?,
        state: r.get(9)?,
        reason: r.get(10)?,
        reason_kind: kind.as_deref().and_then(ReasonKind::parse),
        lines: serde_json::from_str(&lines).unwrap_or_default(),
        approvers: Vec::new(),
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// Every change is an IMMEDIATE transaction: it takes the write lock before it reads the
/// current state, so a reader that would later write never meets a writer that went first
/// (SQLite answers that with "database is locked" at once, whatever the busy timeout), and
/// the state it read is the state it changes.
const WRITE: rusqlite::TransactionBehavior = rusqlite::TransactionBehavior::Immediate;

/// [`Lifecycle::record`] on a connection the caller already holds (the watcher's intake
/// worker records through its ledger's connection, to the same database file, instead of
/// opening one per submission). The connection must not be inside a transaction.
pub fn record_on(
    conn: &Connection,
    path: &Path,
    submission_id: &str,
    cs: &ChangeSet,
    catalog: &Catalog,
    now: &str,
) -> Result<(), LifecycleError> {
    let db = |source| LifecycleError::Db {
        path: path.to_path_buf(),
        source,
    };
    // `new_unchecked` takes `&Connection`: the callers share the connection by reference,
    // and none of them is in a transaction here.
    let tx = rusqlite::Transaction::new_unchecked(conn, WRITE).map_err(db)?;
    record_in(&tx, path, submission_id, (cs, catalog, now))?;
    tx.commit().map_err(db)
}

/// [`record_on`] inside a write transaction the caller holds and commits: the watcher
/// records a change set's operations in the transaction that records its outcome, so
/// that one commit (one flush of the database) holds both.
pub fn record_in(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    submission_id: &str,
    (cs, catalog, now): (&ChangeSet, &Catalog, &str),
) -> Result<(), LifecycleError> {
    let db = |source| LifecycleError::Db {
        path: path.to_path_buf(),
        source,
    };
    let latest = latest_generation(tx, submission_id).map_err(db)?;
    if let Some(g) = latest
        && same_operations(tx, submission_id, g, cs).map_err(db)?
    {
        return Ok(());
    }
    let generation = latest.map_or(0, |g| g + 1);
    let note = format!("superseded by submission {submission_id}");
    if let Some(g) = latest {
        supersede_generation(tx, submission_id, g, &note, now).map_err(db)?;
    }
    for (index, op) in cs.operations.iter().enumerate() {
        supersede_person(tx, submission_id, op, &note, now).map_err(db)?;
        insert_op(tx, (submission_id, generation, index), op, catalog, now).map_err(db)?;
    }
    Ok(())
}

/// Who changed something: the watcher and the push are actors too.
pub const SYSTEM: &str = "rolecall";

impl Lifecycle {
    /// Opens the lifecycle in a data folder (`rolecall.db`), creating it if needed.
    pub fn open(data_dir: &Path) -> Result<Lifecycle, LifecycleError> {
        let path = data_dir.join(crate::db::FILE_NAME);
        Ok(Lifecycle {
            conn: crate::db::open(&path)?,
            path,
        })
    }

    /// A lifecycle over an open connection (tests, and callers that hold one).
    pub fn from_connection(conn: Connection, path: &Path) -> Lifecycle {
        Lifecycle {
            conn,
            path: path.to_path_buf(),
        }
    }

    /// The connection, for queries of its own.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn db(&self, source: rusqlite::Error) -> LifecycleError {
        LifecycleError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Records the operations of `cs`, the change set of `submission_id`: each waits for
    /// approval (it needs approval, or breaks a separation-of-duties rule) or to be pushed.
    ///
    /// Recording the same change set again changes nothing. A different change set for the
    /// same submission (a `reprocess`) is a new generation: the earlier one's waiting
    /// operations are superseded. A submission for a person supersedes that person's
    /// operations from other submissions that still wait.
    pub fn record(
        &mut self,
        submission_id: &str,
        cs: &ChangeSet,
        catalog: &Catalog,
        now: &str,
    ) -> Result<(), LifecycleError> {
        record_on(&self.conn, &self.path, submission_id, cs, catalog, now)
    }

    /// The operations of a submission's latest generation, in change-set order, with their
    /// approvers.
    pub fn ops(&self, submission_id: &str) -> Result<Vec<OpRecord>, LifecycleError> {
        let Some(g) = latest_generation(&self.conn, submission_id).map_err(|e| self.db(e))? else {
            return Ok(Vec::new());
        };
        let mut ops = self
            .select(
                &format!(
                    "SELECT {OP_COLUMNS} FROM lifecycle_op \
                     WHERE submission_id = ?1 AND generation = ?2 ORDER BY idx"
                ),
                params![submission_id, g],
            )
            .map_err(|e| self.db(e))?;
        for op in &mut ops {
            op.approvers = approvers(&self.conn, op).map_err(|e| self.db(e))?;
        }
        Ok(ops)
    }

    fn select(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<Vec<OpRecord>> {
        let mut stmt = self.conn.prepare(sql)?;
        stmt.query_map(params, op_row)?.collect()
    }

    /// True when every operation of the submission is decided (pushed, failed, denied or
    /// superseded); false for a submission with none recorded.
    pub fn decided(&self, submission_id: &str) -> Result<bool, LifecycleError> {
        let ops = self.ops(submission_id)?;
        Ok(!ops.is_empty() && ops.iter().all(|o| o.state.is_decided()))
    }

    /// Moves operation `index` of the submission's latest generation to `to`, with an audit
    /// row naming `actor` and `note`. Returns false, changing nothing, when it is in `to`
    /// already (a repeated command); a change the lifecycle does not allow is an error.
    pub fn transition(
        &mut self,
        submission_id: &str,
        index: usize,
        to: OpState,
        actor: &str,
        note: Option<&str>,
        now: &str,
    ) -> Result<bool, LifecycleError> {
        let path = self.path.clone();
        let db = |source| LifecycleError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction_with_behavior(WRITE).map_err(db)?;
        let changed = transition_in(&tx, submission_id, index, (to, None), actor, note, now)?;
        tx.commit().map_err(db)?;
        Ok(changed)
    }

    /// The audit log of a submission: (index, from, to, actor, note, at), oldest first.
    pub fn transitions(&self, submission_id: &str) -> Result<Vec<Transition>, LifecycleError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT generation, idx, from_state, to_state, actor, note, at \
                 FROM lifecycle_transition WHERE submission_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([submission_id], |r| {
                Ok(Transition {
                    generation: r.get(0)?,
                    index: r.get::<_, i64>(1)? as usize,
                    from: r.get(2)?,
                    to: r.get(3)?,
                    actor: r.get(4)?,
                    note: r.get(5)?,
                    at: r.get(6)?,
                })
            })
            .and_then(|m| m.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.db(e))?;
        Ok(rows)
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// The change set's generation.
    pub generation: u32,
    /// The operation's position.
    pub index: usize,
    /// Where it was (none when first recorded).
    pub from: Option<OpState>,
    /// Where it went.
    pub to: OpState,
    /// Who moved it.
    pub actor: String,
    /// The note given.
    pub note: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// Moves one operation inside a transaction, reading its state first; `reason` is stored
/// with the new state (a failure's words, a denial's note).
fn transition_in(
    tx: &rusqlite::Transaction,
    submission_id: &str,
    index: usize,
    (to, reason): (OpState, Option<(&str, ReasonKind)>),
    actor: &str,
    note: Option<&str>,
    now: &str,
) -> Result<bool, LifecycleError> {
    let db = |source| LifecycleError::Db {
        path: tx.path().map(PathBuf::from).unwrap_or_default(),
        source,
    };
    let g = latest_generation(tx, submission_id)
        .map_err(db)?
        .ok_or_else(|| LifecycleError::NoOperation {
            submission: submission_id.to_string(),
            index,
        })?;
    let found: Option<(OpState, String)> = tx
        .query_row(
            "SELECT state, words FROM lifecycle_op WHERE submission_id = ?1 AND generation = ?2 AND idx = ?3",
            params![submission_id, g, index as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let (from, words) = found.ok_or_else(|| LifecycleError::NoOperation {
        submission: submission_id.to_string(),
        index,
    })?;
    if from == to && to != OpState::Failed {
        return Ok(false);
    }
    if !from.may_become(to) {
        return Err(LifecycleError::NotAllowed {
            submission: submission_id.to_string(),
            index,
            words,
            from,
            to,
        });
    }
    set_state(tx, (submission_id, g, index), (from, to), reason, now).map_err(db)?;
    log(
        tx,
        (submission_id, g, index),
        (Some(from), to),
        actor,
        note,
        now,
    )
    .map_err(db)?;
    Ok(true)
}

type OpId<'a> = (&'a str, u32, usize);

fn set_state(
    tx: &Connection,
    (sub, g, index): OpId,
    (from, to): (OpState, OpState),
    reason: Option<(&str, ReasonKind)>,
    now: &str,
) -> rusqlite::Result<()> {
    let (reason, kind) = match reason {
        Some((r, k)) => (Some(r), Some(k.as_str())),
        None => (None, None),
    };
    tx.execute(
        "UPDATE lifecycle_op SET state = ?4, reason = ?5, reason_kind = ?6, updated_at = ?7 \
         WHERE submission_id = ?1 AND generation = ?2 AND idx = ?3 AND state = ?8",
        params![sub, g, index as i64, to, reason, kind, now, from],
    )?;
    Ok(())
}

fn log(
    tx: &Connection,
    (sub, g, index): OpId,
    (from, to): (Option<OpState>, OpState),
    actor: &str,
    note: Option<&str>,
    now: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO lifecycle_transition (submission_id, generation, idx, from_state, to_state, actor, note, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![sub, g, index as i64, from, to, actor, note, now],
    )?;
    Ok(())
}

fn latest_generation(conn: &Connection, submission_id: &str) -> rusqlite::Result<Option<u32>> {
    conn.query_row(
        "SELECT MAX(generation) FROM lifecycle_op WHERE submission_id = ?1",
        [submission_id],
        |r| r.get(0),
    )
}

/// True when generation `g` of the submission holds exactly the operations of `cs`.
fn same_operations(
    conn: &Connection,
    submission_id: &str,
    g: u32,
    cs: &ChangeSet,
) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare(
        "SELECT operation FROM lifecycle_op WHERE submission_id = ?1 AND generation = ?2 ORDER BY idx",
    )?;
    let stored: Vec<String> = stmt
        .query_map(params![submission_id, g], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let given: Vec<String> = cs.operations.iter().map(op_json).collect();
    Ok(stored == given)
}

fn op_json(op: &Operation) -> String {
    serde_json::to_string(op).unwrap_or_default()
}

/// Supersedes what still waits in generation `g` of the submission (a reprocess).
fn supersede_generation(
    tx: &Connection,
    submission_id: &str,
    g: u32,
    note: &str,
    now: &str,
) -> rusqlite::Result<()> {
    let waiting = waiting_ops(
        tx,
        "submission_id = ?1 AND generation = ?2",
        params![submission_id, g],
    )?;
    supersede(tx, &waiting, note, now)
}

/// Supersedes the person's operations of other submissions that still wait.
fn supersede_person(
    tx: &Connection,
    submission_id: &str,
    op: &Operation,
    note: &str,
    now: &str,
) -> rusqlite::Result<()> {
    let (inst, id) = op.account();
    let waiting = waiting_ops(
        tx,
        "institution = ?1 AND person_key = ?2 AND submission_id <> ?3",
        params![inst, id.to_lowercase(), submission_id],
    )?;
    supersede(tx, &waiting, note, now)
}

type Waiting = (String, u32, usize, OpState);

fn waiting_ops(
    tx: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Waiting>> {
    let sql = format!(
        "SELECT submission_id, generation, idx, state FROM lifecycle_op WHERE {filter} \
         AND state IN ('waiting_approval', 'approved', 'waiting_push')"
    );
    let mut stmt = tx.prepare(&sql)?;
    stmt.query_map(params, |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, i64>(2)? as usize,
            r.get(3)?,
        ))
    })?
    .collect()
}

fn supersede(tx: &Connection, ops: &[Waiting], note: &str, now: &str) -> rusqlite::Result<()> {
    for (sub, g, index, from) in ops {
        let id = (sub.as_str(), *g, *index);
        set_state(tx, id, (*from, OpState::Superseded), None, now)?;
        log(
            tx,
            id,
            (Some(*from), OpState::Superseded),
            SYSTEM,
            Some(note),
            now,
        )?;
    }
    Ok(())
}

/// True when an operation must be approved before it goes to Alma.
pub fn waits_for_approval(op: &Operation) -> bool {
    match op {
        Operation::AddRole {
            needs_approval,
            separation_of_duties,
            ..
        } => *needs_approval || separation_of_duties.is_some(),
        Operation::CreateAccount { needs_approval, .. } => *needs_approval,
        _ => false,
    }
}

/// What an operation needs before it may be pushed: (approvals needed, exception).
fn approval_needs(op: &Operation, catalog: &Catalog) -> (u8, Option<String>) {
    if !waits_for_approval(op) {
        return (0, None);
    }
    match op {
        Operation::AddRole {
            role,
            separation_of_duties,
            ..
        } => {
            let n = catalog.role_by_code(role.code).map_or(1, |r| r.approvers);
            (n.max(1), separation_of_duties.clone())
        }
        _ => (1, None),
    }
}

fn insert_op(
    tx: &Connection,
    (sub, g, index): OpId,
    op: &Operation,
    catalog: &Catalog,
    now: &str,
) -> rusqlite::Result<()> {
    let (inst, id) = op.account();
    let (needed, exception) = approval_needs(op, catalog);
    let state = if needed > 0 {
        OpState::WaitingApproval
    } else {
        OpState::WaitingPush
    };
    tx.execute(
        "INSERT INTO lifecycle_op (submission_id, generation, idx, institution, primary_id, person_key, \
         operation, words, needs_approval, approvals_needed, exception, state, lines, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
        params![
            sub,
            g,
            index as i64,
            inst,
            id,
            id.to_lowercase(),
            op_json(op),
            crate::state::apply::describe(op),
            needed > 0,
            needed,
            exception,
            state,
            serde_json::to_string(op.lines()).unwrap_or_default(),
            now,
        ],
    )?;
    log(tx, (sub, g, index), (None, state), SYSTEM, None, now)
}

fn approvers(conn: &Connection, op: &OpRecord) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT approver FROM lifecycle_approval WHERE submission_id = ?1 AND generation = ?2 AND idx = ?3 ORDER BY at, approver",
    )?;
    stmt.query_map(
        params![op.submission_id, op.generation, op.index as i64],
        |r| r.get(0),
    )?
    .collect()
}

#[cfg(test)]
mod tests;
