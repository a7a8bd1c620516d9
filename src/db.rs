//! The embedded database: one SQLite file (`rolecall.db` in the data folder) holding the
//! submission ledger and mail queue ([`crate::ledger`]) and the account state
//! ([`crate::state`]). SQLite is compiled in (rusqlite's `bundled`), so nothing needs
//! installing.
//!
//! Each module owns its tables and ships its schema as numbered migrations; [`open`] applies
//! the ones not yet applied, in order, inside one transaction each, and records them in
//! `schema_migrations`. Never edit a migration that has shipped: add a new one.

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The database file's name inside a data folder.
pub const FILE_NAME: &str = "rolecall.db";

/// Every migration, in the order they apply: (unique name, SQL).
const MIGRATIONS: &[(&str, &str)] = &[
    ("ledger-1", crate::ledger::SCHEMA),
    ("state-1", crate::state::SCHEMA),
    ("state-2", crate::state::SCHEMA_2),
    ("alma-1", crate::alma::journal::SCHEMA),
    ("ledger-2", crate::ledger::SCHEMA_2),
    ("lifecycle-1", crate::lifecycle::SCHEMA),
    ("state-3", crate::state::SCHEMA_3),
];

/// The database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[error("database {path}: {source}")]
pub struct DbError {
    /// The database file.
    pub path: PathBuf,
    /// What SQLite said.
    #[source]
    pub source: rusqlite::Error,
}

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
///
/// WAL journal, `synchronous = FULL` (an answer recorded is on disk before the file leaves
/// the inbox), foreign keys on, and a busy handler (`busy`: a try every 100 µs for up to
/// 10 s) so that `rolecall status` can read while `rolecall watch` writes.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let wrap = |source| DbError {
        path: path.to_path_buf(),
        source,
    };
    let mut conn = Connection::open(path).map_err(wrap)?;
    configure(&conn).map_err(wrap)?;
    migrate(&mut conn).map_err(wrap)?;
    Ok(conn)
}

/// A fresh in-memory database with the whole schema, for tests and dry runs.
pub fn open_in_memory() -> Result<Connection, DbError> {
    let wrap = |source| DbError {
        path: PathBuf::from(":memory:"),
        source,
    };
    let mut conn = Connection::open_in_memory().map_err(wrap)?;
    configure(&conn).map_err(wrap)?;
    migrate(&mut conn).map_err(wrap)?;
    Ok(conn)
}

/// How long a connection waits for another one's write lock before it gives up: 10 s.
const BUSY_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The pause between two tries for a lock another connection holds: 100 µs.
const BUSY_STEP: std::time::Duration = std::time::Duration::from_micros(100);

/// The busy handler: try again every [`BUSY_STEP`] until [`BUSY_LIMIT`] of pauses have
/// passed (`count` is how many times the handler was called for this wait, so the time
/// waited is derived from it, as SQLite's own handler does).
///
/// SQLite's own (`busy_timeout`) sleeps 1, 2, 5, 10, 15, 20 ms ... between tries. The
/// watcher's intake workers each write a few short transactions per submission (a commit
/// holds the lock for one fsync, well under a millisecond), so with that schedule a worker
/// that found the lock taken slept several times longer than the lock was held: about
/// 6 ms of sleep per submission for 4 workers, one reason the watcher kept its two cores
/// busy 1.5 times out of 2.
fn busy(count: i32) -> bool {
    let tries = u32::try_from(count).unwrap_or(0);
    if BUSY_STEP * tries >= BUSY_LIMIT {
        return false;
    }
    std::thread::sleep(BUSY_STEP);
    true
}

/// Taken by this process's connections around their hot write transactions (the
/// watcher's received, processed and filed steps), so that a thread waiting for another
/// thread's commit sleeps until it is done instead of polling SQLite's lock.
static WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One writer at a time among this process's threads ([`WRITER`]). SQLite's own lock
/// still decides between processes (the busy handler, [`busy`]). Held only around one
/// transaction that takes no other lock of ours, so it cannot deadlock.
///
/// The watcher's intake workers each commit a few transactions per submission, and a
/// commit holds the lock for the flush of the WAL (0.2 to 1 ms here): polled every
/// 100 µs, a waiting worker woke about 20 times per submission, each wake a context
/// switch and a lock attempt (strace, `watch --once` of 100 forms: 2,039 sleeps).
pub fn one_writer() -> std::sync::MutexGuard<'static, ()> {
    WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_handler(Some(busy))?;
    wal(conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Puts the database in WAL mode, which it keeps once set. Setting it takes an exclusive
/// lock, and SQLite answers "database is locked" at once, without its busy handler, while
/// another connection opens the same new database: tried again every millisecond, up to
/// [`BUSY_LIMIT`]. A database in WAL mode already is only read.
fn wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_LIMIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            done => return done,
        }
    }
}

/// Applies the migrations not applied yet, each in a transaction that takes the write lock
/// when it begins (`BEGIN IMMEDIATE`). A deferred one reads first and writes after; when
/// another process (the watcher and `rolecall status` starting together on a new data
/// folder) wrote in between, SQLite answers "database is locked" at once rather than call
/// the busy handler, since waiting could not make the stale read current. A database
/// already up to date is only read.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let pending = |conn: &Connection, name: &str| -> rusqlite::Result<bool> {
        let table: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )?;
        Ok(!table
            || !conn.query_row(
                "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )?)
    };
    for (name, sql) in MIGRATIONS {
        if !pending(conn, name)? {
            continue;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name TEXT PRIMARY KEY,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             );",
        )?;
        // Another process may have applied it while this one waited for the lock.
        if pending(&tx, name)? {
            tx.execute_batch(sql)?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name])?;
        }
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_opening_a_new_database_at_once_all_open_it() {
        // The watcher and `rolecall status` (or a second worker) opening a database that
        // does not exist yet, at the same moment: every one of them opens it.
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(FILE_NAME);
            let start = std::sync::Barrier::new(4);
            let failures: Vec<String> = std::thread::scope(|scope| {
                let opened: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            open(&path).err().map(|e| e.to_string())
                        })
                    })
                    .collect();
                opened
                    .into_iter()
                    .filter_map(|t| t.join().unwrap())
                    .collect()
            });
            assert!(failures.is_empty(), "round {round}: {failures:?}");
        }
    }

    #[test]
    fn opening_twice_applies_each_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        drop(open(&path).unwrap());
        let conn = open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
    }

    #[test]
    fn a_state_made_before_state_2_keeps_its_roles_with_their_parameters_known() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT '');",
        )
        .unwrap();
        for (name, sql) in MIGRATIONS
            .iter()
            .filter(|(n, _)| ["ledger-1", "state-1"].contains(n))
        {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations (name) VALUES (?1)", [name])
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO state_account (institution, primary_id) VALUES ('I', '1');
             INSERT INTO state_role (institution, primary_id, role_code, scope_kind, scope, parameters)
             VALUES ('I', '1', 32, 'library', 'MAIN', '[]');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let known: i64 = conn
            .query_row("SELECT params_known FROM state_role", [], |r| r.get(0))
            .unwrap();
        assert_eq!(known, 1, "an export with parameters said what it had");
        let unmatched: i64 = conn
            .query_row("SELECT COUNT(*) FROM state_role_unmatched", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(unmatched, 0);
    }

    #[test]
    fn a_writer_waits_for_another_connections_lock_and_then_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let holder = open(&path).unwrap();
        let waiter = open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let held = std::time::Duration::from_millis(200);
        let release = std::thread::spawn(move || {
            std::thread::sleep(held);
            holder.execute_batch("COMMIT").unwrap();
        });
        let start = std::time::Instant::now();
        // Without a busy handler this fails at once with "database is locked".
        waiter
            .execute("INSERT INTO schema_migrations (name) VALUES ('waited')", [])
            .unwrap();
        assert!(start.elapsed() >= held / 2, "{:?}", start.elapsed());
        release.join().unwrap();
    }
}
