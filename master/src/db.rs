//! The master's state in SQLite (bundled, WAL, migrations in code with `user_version`).
//!
//! What is kept: the event cursor; per worker its stage in the pipeline (seen →
//! minting → minted → submitted → issued → activating → active; revoking →
//! confirming → revoked), the last chain facts read, the token version being issued,
//! the bootstrap token's **id** (its public half), the sealed envelope (which goes on
//! chain anyway); every batch transaction's signed bytes and digest, stored before it
//! is sent; operator intents (`rotate`).
//!
//! What is never kept: a token secret or a node password, in clear or otherwise. The
//! token secret lives only in its Kubernetes Secret; node passwords are recomputed
//! from the node-password key. The chain and the Kubernetes objects are the truth: a
//! deleted database is rebuilt from them.

use std::fmt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use daas_protocol::ObjectId;
use daas_protocol::chain::EventCursor;
use daas_protocol::sui::{TransactionDigest, UserSignature};
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

/// A database that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite failed.
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file or its directory could not be created or has unsafe permissions.
    #[error("state database {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong and the fix.
        message: String,
    },
    /// The database belongs to another chain or registry.
    #[error(
        "state database {} belongs to {field} {stored}, but the config names {configured}: point `master.state_db` at this deployment's database (or a new path)",
        path.display()
    )]
    OtherDeployment {
        /// The file.
        path: PathBuf,
        /// Which binding differs.
        field: &'static str,
        /// What the database says.
        stored: String,
        /// What the config says.
        configured: String,
    },
    /// Written by a newer daas-master.
    #[error(
        "state database {} has schema version {found}, newer than this daas-master ({SCHEMA_VERSION}): upgrade daas-master",
        path.display()
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// A stored value does not parse (a damaged database).
    #[error("state database {}: bad {what} {value:?}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which value.
        what: &'static str,
        /// The stored text.
        value: String,
    },
}

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Migrations: `MIGRATIONS[i]` takes `user_version` i to i + 1.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE workers (
    worker_id           TEXT PRIMARY KEY,
    node_id             TEXT NOT NULL,
    stage               TEXT NOT NULL,
    dirty               INTEGER NOT NULL DEFAULT 1,
    min_version         INTEGER NOT NULL DEFAULT 0,
    chain_status        INTEGER,
    chain_version       INTEGER NOT NULL DEFAULT 0,
    chain_token_version INTEGER NOT NULL DEFAULT 0,
    unlock_at_ms        INTEGER NOT NULL DEFAULT 0,
    revoke_grace_ms     INTEGER NOT NULL DEFAULT 0,
    version             INTEGER,
    token_id            TEXT,
    expires_at_ms       INTEGER,
    envelope            BLOB,
    batch_id            INTEGER,
    reissued            INTEGER NOT NULL DEFAULT 0,
    rotation            INTEGER NOT NULL DEFAULT 0,
    note                TEXT,
    refused_version     INTEGER,
    isv                 INTEGER NOT NULL DEFAULT 0,
    failures            INTEGER NOT NULL DEFAULT 0,
    first_seen_ms       INTEGER NOT NULL,
    minted_at_ms        INTEGER,
    updated_ms          INTEGER NOT NULL
) STRICT;
CREATE INDEX workers_stage ON workers(stage);
CREATE INDEX workers_dirty ON workers(dirty) WHERE dirty = 1;
CREATE INDEX workers_node ON workers(node_id);

CREATE TABLE batches (
    id          INTEGER PRIMARY KEY,
    digest      TEXT NOT NULL UNIQUE,
    tx_bytes    BLOB NOT NULL,
    signature   BLOB NOT NULL,
    state       TEXT NOT NULL,
    outcome     TEXT,
    calls       INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    done_ms     INTEGER
) STRICT;

CREATE TABLE batch_calls (
    batch_id  INTEGER NOT NULL REFERENCES batches(id),
    worker_id TEXT NOT NULL,
    call      TEXT NOT NULL,
    command   INTEGER NOT NULL,
    PRIMARY KEY (batch_id, worker_id)
) STRICT;

CREATE TABLE intents (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    node_id    TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    done_ms    INTEGER,
    result     TEXT
) STRICT;
"#,
    r#"
ALTER TABLE workers ADD COLUMN owner TEXT;
"#,
];

/// Where a worker is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Stage {
    /// Known; the next quorum read decides what to do.
    Seen,
    /// Intent written: token version and token id chosen; the Secret may not exist yet.
    Minting,
    /// The Secret exists and the envelope is sealed and stored; waiting for a batch.
    Minted,
    /// In a signed batch (`batch_id`), stored before sending.
    Submitted,
    /// The envelope is on chain (TokenIssued, or a rotation of an Active worker).
    Issued,
    /// The Node is Ready with the right password; `activate_worker` queued or sent.
    Activating,
    /// Active on chain; the bootstrap token is deleted.
    Active,
    /// Leaving, Slashed, Revoked or withdrawn: the cluster side is being torn down.
    Revoking,
    /// Torn down and deny-listed; `confirm_revoked` queued or sent.
    Confirming,
    /// Revoked on chain (or withdrawn) and torn down.
    Revoked,
    /// Refused (bad seal token, low-order sealing key): skipped until its seal token
    /// changes.
    Refused,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 11] = [
        Stage::Seen,
        Stage::Minting,
        Stage::Minted,
        Stage::Submitted,
        Stage::Issued,
        Stage::Activating,
        Stage::Active,
        Stage::Revoking,
        Stage::Confirming,
        Stage::Revoked,
        Stage::Refused,
    ];

    /// The name stored and shown (`/api/workers`, metrics).
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Seen => "seen",
            Stage::Minting => "minting",
            Stage::Minted => "minted",
            Stage::Submitted => "submitted",
            Stage::Issued => "issued",
            Stage::Activating => "activating",
            Stage::Active => "active",
            Stage::Revoking => "revoking",
            Stage::Confirming => "confirming",
            Stage::Revoked => "revoked",
            Stage::Refused => "refused",
        }
    }

    /// Whether nothing more happens to the worker (until the chain says otherwise).
    pub fn is_terminal(self) -> bool {
        matches!(self, Stage::Revoked)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s).ok_or(())
    }
}

/// A registry call a batch carries for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `set_join_token` with the stored envelope.
    SetJoinToken,
    /// `activate_worker`.
    Activate,
    /// `confirm_revoked`.
    ConfirmRevoked,
}

impl Call {
    /// The entry function's name.
    pub const fn function(self) -> &'static str {
        match self {
            Call::SetJoinToken => "set_join_token",
            Call::Activate => "activate_worker",
            Call::ConfirmRevoked => "confirm_revoked",
        }
    }

    fn from_function(s: &str) -> Option<Self> {
        [Call::SetJoinToken, Call::Activate, Call::ConfirmRevoked]
            .into_iter()
            .find(|c| c.function() == s)
    }

    /// The stage whose workers wait for this call.
    pub const fn stage(self) -> Stage {
        match self {
            Call::SetJoinToken => Stage::Minted,
            Call::Activate => Stage::Activating,
            Call::ConfirmRevoked => Stage::Confirming,
        }
    }
}

/// One worker's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    /// The Worker object.
    pub worker_id: ObjectId,
    /// Its node_id (the Kubernetes node name).
    pub node_id: String,
    /// Pipeline stage.
    pub stage: Stage,
    /// Needs a chain read before the next decision.
    pub dirty: bool,
    /// A decision needs a read of an object version above this (after our own
    /// transaction touched the Worker; reads may lag writes).
    pub min_version: u64,
    /// Last status read (DESIGN §4 code).
    pub chain_status: Option<u8>,
    /// Object version of that read.
    pub chain_version: u64,
    /// token_version of that read.
    pub chain_token_version: u64,
    /// unlock_at_ms of that read.
    pub unlock_at_ms: u64,
    /// The Worker's revoke grace (ms).
    pub revoke_grace_ms: u64,
    /// The token version this master is issuing or issued.
    pub version: Option<u64>,
    /// That token's id (the public half of `<id>.<secret>`).
    pub token_id: Option<String>,
    /// Expiry of that token and envelope (ms).
    pub expires_at_ms: Option<u64>,
    /// The sealed envelope (public once on chain).
    pub envelope: Option<Vec<u8>>,
    /// The batch carrying this worker's call.
    pub batch_id: Option<i64>,
    /// Expired envelopes re-issued for the current request.
    pub reissued: u32,
    /// The current issue is a rotation of an Active worker.
    pub rotation: bool,
    /// Why it is refused or stuck (shown in `/api/workers`).
    pub note: Option<String>,
    /// The object version that was refused (re-checked only when the Worker changes).
    pub refused_version: Option<u64>,
    /// The Worker's initial shared version (for transaction inputs).
    pub isv: u64,
    /// Calls of the current issue that aborted (after 3 the worker is refused).
    pub failures: u32,
    /// First seen (ms).
    pub first_seen_ms: u64,
    /// When its current token was minted (ms), for the mint-to-chain latency.
    pub minted_at_ms: Option<u64>,
    /// Last change (ms).
    pub updated_ms: u64,
    /// The Worker's owner, from the last quorum read.
    pub owner: Option<daas_protocol::Address>,
}

impl WorkerRow {
    /// A new row in stage `seen`.
    pub fn new(worker_id: ObjectId, node_id: String, now_ms: u64) -> Self {
        WorkerRow {
            worker_id,
            node_id,
            stage: Stage::Seen,
            dirty: true,
            min_version: 0,
            chain_status: None,
            chain_version: 0,
            chain_token_version: 0,
            unlock_at_ms: 0,
            revoke_grace_ms: 0,
            version: None,
            token_id: None,
            expires_at_ms: None,
            envelope: None,
            batch_id: None,
            reissued: 0,
            rotation: false,
            note: None,
            refused_version: None,
            isv: 0,
            failures: 0,
            first_seen_ms: now_ms,
            minted_at_ms: None,
            updated_ms: now_ms,
            owner: None,
        }
    }
}

/// A batch transaction as stored before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// Row id.
    pub id: i64,
    /// Its digest.
    pub digest: TransactionDigest,
    /// The signed BCS TransactionData.
    pub tx_bytes: Vec<u8>,
    /// The signature.
    pub signature: UserSignature,
    /// `signed`, `executed`, `failed` or `dropped`.
    pub state: String,
    /// The calls, in command order.
    pub calls: Vec<(ObjectId, Call)>,
    /// When it was stored (ms).
    pub created_ms: u64,
}

/// Batch states.
pub mod batch_state {
    /// Stored, maybe sent, outcome unknown.
    pub const SIGNED: &str = "signed";
    /// Executed successfully.
    pub const EXECUTED: &str = "executed";
    /// Executed with a failure (abort, out of gas, deleted input).
    pub const FAILED: &str = "failed";
    /// Never executed and can no longer execute (its owned inputs moved on).
    pub const DROPPED: &str = "dropped";
}

/// An operator intent (`daas-master rotate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Row id.
    pub id: i64,
    /// `rotate`.
    pub kind: String,
    /// The node.
    pub node_id: String,
    /// When written.
    pub created_ms: u64,
    /// When done.
    pub done_ms: Option<u64>,
    /// What happened.
    pub result: Option<String>,
}

/// What a database is bound to: a database of one deployment is never used for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Base58 chain id.
    pub chain_id: String,
    /// Registry object id.
    pub registry_id: ObjectId,
    /// The transport the event cursor belongs to (`jsonrpc`/`graphql`).
    pub transport: String,
}

/// The state database.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const WORKER_COLUMNS: &str = "worker_id, node_id, stage, dirty, min_version, chain_status, chain_version, chain_token_version, unlock_at_ms, revoke_grace_ms, version, token_id, expires_at_ms, envelope, batch_id, reissued, rotation, note, refused_version, isv, failures, first_seen_ms, minted_at_ms, updated_ms, owner";

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

impl Db {
    /// Opens (creating with mode 0600 in a 0700 directory) and migrates the database,
    /// and checks it belongs to `binding`'s deployment. Every unfinished worker is
    /// marked for a fresh read: a restart re-decides from the chain.
    pub fn open(path: &Path, binding: &Binding) -> Result<Db, DbError> {
        let file_err = |message: String| DbError::File {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| file_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| file_err(format!("cannot create it: {e}")))?;
        }
        let mode = std::fs::metadata(path)
            .map_err(|e| file_err(e.to_string()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_err(format!(
                "mode {mode:04o} lets group or others read it: run `chmod 600 {}`",
                path.display()
            )));
        }
        let sql = |source| DbError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        let db = Db {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        };
        db.migrate()?;
        db.bind(binding)?;
        db.with(|c| {
            c.execute("UPDATE workers SET dirty = 1 WHERE stage != 'revoked'", [])
                .map(|_| ())
        })?;
        Ok(db)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, source: rusqlite::Error) -> DbError {
        DbError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, DbError> {
        let c = self.lock();
        f(&c).map_err(|e| self.err(e))
    }

    fn tx<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, DbError> {
        let mut c = self.lock();
        let t = c.transaction().map_err(|e| self.err(e))?;
        let out = f(&t).map_err(|e| self.err(e))?;
        t.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    fn migrate(&self) -> Result<(), DbError> {
        let version: i64 =
            self.with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))?;
        if version > SCHEMA_VERSION {
            return Err(DbError::TooNew {
                path: self.path.clone(),
                found: version,
            });
        }
        for (n, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            self.tx(|t| {
                t.execute_batch(m)?;
                t.pragma_update(None, "user_version", (n + 1) as i64)
            })?;
        }
        Ok(())
    }

    fn bind(&self, b: &Binding) -> Result<(), DbError> {
        for (key, value) in [
            ("chain_id", b.chain_id.clone()),
            ("registry_id", b.registry_id.to_string()),
        ] {
            match self.meta(key)? {
                Some(stored) if stored != value => {
                    return Err(DbError::OtherDeployment {
                        path: self.path.clone(),
                        field: key,
                        stored,
                        configured: value,
                    });
                }
                Some(_) => {}
                None => self.set_meta(key, &value)?,
            }
        }
        // A cursor belongs to the transport that issued it: after a transport change
        // the events are read again from the start (idempotent).
        if self.meta("transport")?.as_deref() != Some(&b.transport) {
            self.tx(|t| {
                t.execute("DELETE FROM meta WHERE key = 'event_cursor'", [])?;
                t.execute(
                    "INSERT INTO meta(key, value) VALUES ('transport', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [&b.transport],
                )?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>, DbError> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), DbError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
        })
    }

    /// The persisted event cursor.
    pub fn event_cursor(&self) -> Result<Option<EventCursor>, DbError> {
        Ok(self.meta("event_cursor")?.map(EventCursor))
    }

    /// Records a page of events: new workers (inserted as `seen` unless known),
    /// workers to re-read, and the cursor after the page — in one transaction, so a
    /// crash never skips an event's effect.
    pub fn apply_event_page(
        &self,
        new_workers: &[(ObjectId, String)],
        touched: &[ObjectId],
        cursor: Option<&EventCursor>,
        now_ms: u64,
    ) -> Result<usize, DbError> {
        self.tx(|t| {
            let mut inserted = 0;
            for (id, node_id) in new_workers {
                inserted += insert_seen(t, id, node_id, now_ms)?;
            }
            for id in touched {
                t.execute(
                    "UPDATE workers SET dirty = 1 WHERE worker_id = ?1",
                    [id.to_string()],
                )?;
            }
            if let Some(c) = cursor {
                t.execute(
                    "INSERT INTO meta(key, value) VALUES ('event_cursor', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [&c.0],
                )?;
            }
            Ok(inserted)
        })
    }

    /// Inserts workers found by the reconcile (unknown ones only); returns how many
    /// were new.
    pub fn insert_seen(
        &self,
        workers: &[(ObjectId, String)],
        now_ms: u64,
    ) -> Result<usize, DbError> {
        self.tx(|t| {
            let mut n = 0;
            for (id, node_id) in workers {
                n += insert_seen(t, id, node_id, now_ms)?;
            }
            Ok(n)
        })
    }

    /// Marks every worker not yet revoked for a fresh read.
    pub fn mark_all_dirty(&self) -> Result<(), DbError> {
        self.with(|c| {
            c.execute("UPDATE workers SET dirty = 1 WHERE stage != 'revoked'", [])
                .map(|_| ())
        })
    }

    /// Marks these workers for a fresh read.
    pub fn mark_dirty(&self, ids: &[ObjectId]) -> Result<(), DbError> {
        self.tx(|t| {
            for id in ids {
                t.execute(
                    "UPDATE workers SET dirty = 1 WHERE worker_id = ?1",
                    [id.to_string()],
                )?;
            }
            Ok(())
        })
    }

    /// One worker.
    pub fn worker(&self, id: &ObjectId) -> Result<Option<WorkerRow>, DbError> {
        let rows = self.workers_where("worker_id = ?1", &[&id.to_string()])?;
        Ok(rows.into_iter().next())
    }

    /// Workers registered under `node_id` (old and new registrations of one name).
    pub fn workers_by_node(&self, node_id: &str) -> Result<Vec<WorkerRow>, DbError> {
        self.workers_where("node_id = ?1", &[&node_id])
    }

    /// Every worker.
    pub fn all_workers(&self) -> Result<Vec<WorkerRow>, DbError> {
        self.workers_where("1 = 1", &[])
    }

    /// Workers in `stage`.
    pub fn workers_in(&self, stage: Stage) -> Result<Vec<WorkerRow>, DbError> {
        self.workers_where("stage = ?1", &[&stage.as_str()])
    }

    /// Workers that need a chain read, oldest change first, at most `limit`.
    pub fn dirty_workers(&self, limit: usize) -> Result<Vec<WorkerRow>, DbError> {
        self.workers_where(&format!("dirty = 1 ORDER BY updated_ms LIMIT {limit}"), &[])
    }

    /// Workers waiting for a batch (calls not yet in one), oldest change first.
    pub fn queued_calls(&self, limit: usize) -> Result<Vec<(WorkerRow, Call)>, DbError> {
        let rows = self.workers_where(
            &format!(
                "stage IN ('minted', 'activating', 'confirming') AND batch_id IS NULL ORDER BY updated_ms LIMIT {limit}"
            ),
            &[],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let call = match r.stage {
                    Stage::Minted => Call::SetJoinToken,
                    Stage::Activating => Call::Activate,
                    _ => Call::ConfirmRevoked,
                };
                (r, call)
            })
            .collect())
    }

    /// The state of batch `id` (`None` if unknown).
    pub fn batch_state(&self, id: i64) -> Result<Option<String>, DbError> {
        self.with(|c| {
            c.query_row("SELECT state FROM batches WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Workers per stage.
    pub fn stage_counts(&self) -> Result<Vec<(Stage, u64)>, DbError> {
        let raw: Vec<(String, i64)> = self.with(|c| {
            let mut s = c.prepare("SELECT stage, COUNT(*) FROM workers GROUP BY stage")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        raw.into_iter()
            .map(|(s, n)| {
                s.parse()
                    .map(|st| (st, u(n)))
                    .map_err(|()| self.corrupt("stage", s))
            })
            .collect()
    }

    fn corrupt(&self, what: &'static str, value: String) -> DbError {
        DbError::Corrupt {
            path: self.path.clone(),
            what,
            value,
        }
    }

    fn workers_where(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<WorkerRow>, DbError> {
        type Raw = (String, String, Option<String>, WorkerRow);
        let raw: Vec<Raw> = self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {WORKER_COLUMNS} FROM workers WHERE {clause}"
            ))?;
            let rows = s.query_map(args, |r| {
                let id: String = r.get(0)?;
                let stage: String = r.get(2)?;
                let row = WorkerRow {
                    worker_id: ObjectId::default(),
                    node_id: r.get(1)?,
                    stage: Stage::Seen,
                    dirty: r.get::<_, i64>(3)? != 0,
                    min_version: u(r.get(4)?),
                    chain_status: r.get::<_, Option<i64>>(5)?.map(|v| v as u8),
                    chain_version: u(r.get(6)?),
                    chain_token_version: u(r.get(7)?),
                    unlock_at_ms: u(r.get(8)?),
                    revoke_grace_ms: u(r.get(9)?),
                    version: r.get::<_, Option<i64>>(10)?.map(u),
                    token_id: r.get(11)?,
                    expires_at_ms: r.get::<_, Option<i64>>(12)?.map(u),
                    envelope: r.get(13)?,
                    batch_id: r.get(14)?,
                    reissued: u(r.get(15)?) as u32,
                    rotation: r.get::<_, i64>(16)? != 0,
                    note: r.get(17)?,
                    refused_version: r.get::<_, Option<i64>>(18)?.map(u),
                    isv: u(r.get(19)?),
                    failures: u(r.get(20)?) as u32,
                    first_seen_ms: u(r.get(21)?),
                    minted_at_ms: r.get::<_, Option<i64>>(22)?.map(u),
                    updated_ms: u(r.get(23)?),
                    owner: None,
                };
                Ok((id, stage, r.get(24)?, row))
            })?;
            rows.collect()
        })?;
        raw.into_iter()
            .map(|(id, stage, owner, mut row)| {
                row.worker_id = id.parse().map_err(|_| self.corrupt("worker id", id))?;
                row.stage = stage.parse().map_err(|()| self.corrupt("stage", stage))?;
                row.owner = match owner {
                    Some(o) => Some(o.parse().map_err(|_| self.corrupt("owner", o))?),
                    None => None,
                };
                Ok(row)
            })
            .collect()
    }

    /// Writes rows (insert or replace), in one transaction.
    pub fn put_workers(&self, rows: &[WorkerRow]) -> Result<(), DbError> {
        self.tx(|t| {
            for r in rows {
                put_worker(t, r)?;
            }
            Ok(())
        })
    }

    /// Writes one row.
    pub fn put_worker(&self, row: &WorkerRow) -> Result<(), DbError> {
        self.put_workers(std::slice::from_ref(row))
    }

    /// Stores a signed batch and moves its workers into it, in one transaction —
    /// before the bytes are sent.
    pub fn store_batch(
        &self,
        digest: &TransactionDigest,
        tx_bytes: &[u8],
        signature: &UserSignature,
        calls: &[(ObjectId, Call)],
        now_ms: u64,
    ) -> Result<i64, DbError> {
        self.tx(|t| {
            t.execute(
                "INSERT INTO batches(digest, tx_bytes, signature, state, calls, created_ms) VALUES (?1, ?2, ?3, 'signed', ?4, ?5)",
                params![digest.to_string(), tx_bytes, signature.as_bytes(), calls.len() as i64, i(now_ms)],
            )?;
            let id = t.last_insert_rowid();
            for (n, (worker, call)) in calls.iter().enumerate() {
                t.execute(
                    "INSERT INTO batch_calls(batch_id, worker_id, call, command) VALUES (?1, ?2, ?3, ?4)",
                    params![id, worker.to_string(), call.function(), n as i64],
                )?;
                let stage = if *call == Call::SetJoinToken {
                    Stage::Submitted.as_str()
                } else {
                    call.stage().as_str()
                };
                t.execute(
                    "UPDATE workers SET batch_id = ?1, stage = ?2, updated_ms = ?3 WHERE worker_id = ?4",
                    params![id, stage, i(now_ms), worker.to_string()],
                )?;
            }
            Ok(id)
        })
    }

    /// Batches stored but with no known outcome (to resubmit after a crash).
    pub fn unsettled_batches(&self) -> Result<Vec<BatchRow>, DbError> {
        self.batches_where("state = 'signed' ORDER BY id")
    }

    /// One batch.
    pub fn batch(&self, id: i64) -> Result<Option<BatchRow>, DbError> {
        Ok(self
            .batches_where(&format!("id = {id}"))?
            .into_iter()
            .next())
    }

    /// The most recent batches, newest first.
    pub fn recent_batches(&self, limit: usize) -> Result<Vec<BatchRow>, DbError> {
        self.batches_where(&format!("1 = 1 ORDER BY id DESC LIMIT {limit}"))
    }

    fn batches_where(&self, clause: &str) -> Result<Vec<BatchRow>, DbError> {
        type Raw = (i64, String, Vec<u8>, Vec<u8>, String, i64);
        let raw: Vec<Raw> = self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT id, digest, tx_bytes, signature, state, created_ms FROM batches WHERE {clause}"
            ))?;
            let rows = s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })?;
            rows.collect()
        })?;
        let mut out = Vec::with_capacity(raw.len());
        for (id, digest, tx_bytes, sig, state, created) in raw {
            let calls: Vec<(String, String)> = self.with(|c| {
                let mut s = c.prepare(
                    "SELECT worker_id, call FROM batch_calls WHERE batch_id = ?1 ORDER BY command",
                )?;
                let rows = s.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })?;
            let calls = calls
                .into_iter()
                .map(|(w, c)| {
                    let w = w
                        .parse()
                        .map_err(|_| self.corrupt("worker id", w.clone()))?;
                    let c = Call::from_function(&c).ok_or_else(|| self.corrupt("call", c))?;
                    Ok((w, c))
                })
                .collect::<Result<_, DbError>>()?;
            out.push(BatchRow {
                id,
                digest: digest
                    .parse()
                    .map_err(|_| self.corrupt("digest", digest.clone()))?,
                tx_bytes,
                signature: UserSignature::from_bytes(&sig)
                    .map_err(|_| self.corrupt("signature", hex::encode(&sig)))?,
                state,
                calls,
                created_ms: u(created),
            });
        }
        Ok(out)
    }

    /// Records a batch's outcome and marks its workers for a read that must see a
    /// version above what was read before (every input of a transaction is bumped,
    /// whatever its outcome).
    pub fn settle_batch(
        &self,
        id: i64,
        state: &str,
        outcome: &str,
        now_ms: u64,
    ) -> Result<(), DbError> {
        self.tx(|t| {
            t.execute(
                "UPDATE batches SET state = ?1, outcome = ?2, done_ms = ?3 WHERE id = ?4",
                params![state, outcome, i(now_ms), id],
            )?;
            if state == batch_state::DROPPED {
                // Never executed: the calls go back to waiting for a batch.
                t.execute(
                    "UPDATE workers SET stage = 'minted', batch_id = NULL, updated_ms = ?2 WHERE batch_id = ?1 AND stage = 'submitted'",
                    params![id, i(now_ms)],
                )?;
                t.execute(
                    "UPDATE workers SET batch_id = NULL, updated_ms = ?2 WHERE batch_id = ?1",
                    params![id, i(now_ms)],
                )?;
            } else {
                t.execute(
                    "UPDATE workers SET dirty = 1, min_version = chain_version, updated_ms = ?2 WHERE batch_id = ?1",
                    params![id, i(now_ms)],
                )?;
            }
            Ok(())
        })
    }

    /// Records an operator intent; returns its id.
    pub fn add_intent(&self, kind: &str, node_id: &str, now_ms: u64) -> Result<i64, DbError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO intents(kind, node_id, created_ms) VALUES (?1, ?2, ?3)",
                params![kind, node_id, i(now_ms)],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Intents not yet done, oldest first.
    pub fn open_intents(&self) -> Result<Vec<Intent>, DbError> {
        self.intents_where("done_ms IS NULL ORDER BY id")
    }

    /// One intent.
    pub fn intent(&self, id: i64) -> Result<Option<Intent>, DbError> {
        Ok(self
            .intents_where(&format!("id = {id}"))?
            .into_iter()
            .next())
    }

    fn intents_where(&self, clause: &str) -> Result<Vec<Intent>, DbError> {
        self.with(|c| {
            let mut s = c.prepare(&format!(
                "SELECT id, kind, node_id, created_ms, done_ms, result FROM intents WHERE {clause}"
            ))?;
            let rows = s.query_map([], |r| {
                Ok(Intent {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    node_id: r.get(2)?,
                    created_ms: u(r.get(3)?),
                    done_ms: r.get::<_, Option<i64>>(4)?.map(u),
                    result: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Closes an intent with its result.
    pub fn finish_intent(&self, id: i64, result: &str, now_ms: u64) -> Result<(), DbError> {
        self.with(|c| {
            c.execute(
                "UPDATE intents SET done_ms = ?1, result = ?2 WHERE id = ?3",
                params![i(now_ms), result, id],
            )
            .map(|_| ())
        })
    }
}

fn insert_seen(
    t: &rusqlite::Transaction<'_>,
    id: &ObjectId,
    node_id: &str,
    now_ms: u64,
) -> rusqlite::Result<usize> {
    t.execute(
        "INSERT INTO workers(worker_id, node_id, stage, dirty, first_seen_ms, updated_ms) VALUES (?1, ?2, 'seen', 1, ?3, ?3) ON CONFLICT(worker_id) DO NOTHING",
        params![id.to_string(), node_id, i(now_ms)],
    )
}

fn put_worker(t: &rusqlite::Transaction<'_>, r: &WorkerRow) -> rusqlite::Result<usize> {
    t.execute(
        &format!("INSERT OR REPLACE INTO workers({WORKER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"),
        params![
            r.worker_id.to_string(),
            r.node_id,
            r.stage.as_str(),
            r.dirty as i64,
            i(r.min_version),
            r.chain_status.map(i64::from),
            i(r.chain_version),
            i(r.chain_token_version),
            i(r.unlock_at_ms),
            i(r.revoke_grace_ms),
            r.version.map(i),
            r.token_id,
            r.expires_at_ms.map(i),
            r.envelope,
            r.batch_id,
            i64::from(r.reissued),
            r.rotation as i64,
            r.note,
            r.refused_version.map(i),
            i(r.isv),
            i64::from(r.failures),
            i(r.first_seen_ms),
            r.minted_at_ms.map(i),
            i(r.updated_ms),
            r.owner.map(|o| o.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding {
            chain_id: "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S".into(),
            registry_id: ObjectId::from_u64(0x2b),
            transport: "jsonrpc".into(),
        }
    }

    fn open(dir: &Path) -> Db {
        Db::open(&dir.join("state/master.db"), &binding()).unwrap()
    }

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_rows() {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO workers(worker_id, node_id, stage, first_seen_ms, updated_ms) VALUES (?1, 'rpi-0123456789abcdef', 'issued', 5, 6)",
                [ObjectId::from_u64(7).to_string()],
            )
            .unwrap();
        }
        let db = Db::open(&path, &binding()).unwrap();
        let rows = db.all_workers().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].stage, Stage::Issued);
        assert_eq!(rows[0].owner, None);
        let mut r = rows[0].clone();
        r.owner = Some(daas_protocol::Address::from_u64(9));
        db.put_worker(&r).unwrap();
        assert_eq!(db.all_workers().unwrap()[0].owner, r.owner);
    }

    #[test]
    fn created_private_migrated_and_bound_to_one_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let meta = std::fs::metadata(db.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let dmeta = std::fs::metadata(dir.path().join("state")).unwrap();
        assert_eq!(dmeta.permissions().mode() & 0o777, 0o700);
        let v: i64 = db
            .with(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = db
            .with(|c| c.pragma_query_value(None, "journal_mode", |r| r.get(0)))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(db);
        let mut other = binding();
        other.registry_id = ObjectId::from_u64(0x99);
        let e = Db::open(&dir.path().join("state/master.db"), &other)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("registry_id") && e.contains(&ObjectId::from_u64(0x99).to_string()),
            "{e}"
        );
    }

    #[test]
    fn a_database_open_to_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Db::open(&path, &binding()).err().unwrap().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        db.with(|c| c.pragma_update(None, "user_version", 99))
            .unwrap();
        drop(db);
        let e = Db::open(&dir.path().join("state/master.db"), &binding())
            .err()
            .unwrap();
        assert!(matches!(e, DbError::TooNew { found: 99, .. }), "{e}");
    }

    #[test]
    fn event_pages_insert_once_and_move_the_cursor_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        assert_eq!(db.event_cursor().unwrap(), None);
        let w = ObjectId::from_u64(7);
        let c1 = EventCursor("c1".into());
        assert_eq!(
            db.apply_event_page(&[(w, "rpi-0123456789abcdef".into())], &[], Some(&c1), 10)
                .unwrap(),
            1
        );
        assert_eq!(
            db.apply_event_page(&[(w, "rpi-0123456789abcdef".into())], &[w], None, 20)
                .unwrap(),
            0
        );
        assert_eq!(db.event_cursor().unwrap(), Some(c1));
        let row = db.worker(&w).unwrap().unwrap();
        assert_eq!(row.stage, Stage::Seen);
        assert!(row.dirty);
        assert_eq!(row.first_seen_ms, 10);
        // A change of transport forgets the cursor (it belongs to the other API).
        drop(db);
        let mut g = binding();
        g.transport = "graphql".into();
        let db = Db::open(&dir.path().join("state/master.db"), &g).unwrap();
        assert_eq!(db.event_cursor().unwrap(), None);
        assert!(db.worker(&w).unwrap().is_some());
    }

    #[test]
    fn rows_round_trip_and_restart_marks_unfinished_work_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let mut r = WorkerRow::new(ObjectId::from_u64(1), "a-0123456789abcdef".into(), 5);
        r.stage = Stage::Minted;
        r.dirty = false;
        r.chain_status = Some(0);
        r.chain_version = 9;
        r.version = Some(1);
        r.token_id = Some("abc123".into());
        r.expires_at_ms = Some(1_000);
        r.envelope = Some(vec![1, 2, 3]);
        r.reissued = 1;
        r.rotation = true;
        r.note = Some("n".into());
        r.minted_at_ms = Some(6);
        let mut done = WorkerRow::new(ObjectId::from_u64(2), "b-0123456789abcdef".into(), 5);
        done.stage = Stage::Revoked;
        done.dirty = false;
        db.put_workers(&[r.clone(), done.clone()]).unwrap();
        assert_eq!(db.worker(&r.worker_id).unwrap().unwrap(), r);
        assert_eq!(db.workers_in(Stage::Minted).unwrap(), vec![r.clone()]);
        let counts = db.stage_counts().unwrap();
        assert!(counts.contains(&(Stage::Minted, 1)) && counts.contains(&(Stage::Revoked, 1)));
        drop(db);
        let db = open(dir.path());
        assert!(db.worker(&r.worker_id).unwrap().unwrap().dirty);
        assert!(!db.worker(&done.worker_id).unwrap().unwrap().dirty);
        assert_eq!(db.dirty_workers(10).unwrap().len(), 1);
    }

    #[test]
    fn batches_are_stored_before_sending_and_settled() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let a = ObjectId::from_u64(1);
        let b = ObjectId::from_u64(2);
        let mut ra = WorkerRow::new(a, "a-0123456789abcdef".into(), 0);
        ra.stage = Stage::Minted;
        ra.chain_version = 4;
        let mut rb = WorkerRow::new(b, "b-0123456789abcdef".into(), 0);
        rb.stage = Stage::Activating;
        rb.chain_version = 6;
        db.put_workers(&[ra, rb]).unwrap();
        let mut raw = [7; 97];
        raw[0] = 0;
        let sig = UserSignature::from_bytes(&raw).unwrap();
        let digest = TransactionDigest([3; 32]);
        let id = db
            .store_batch(
                &digest,
                b"tx",
                &sig,
                &[(a, Call::SetJoinToken), (b, Call::Activate)],
                50,
            )
            .unwrap();
        let open_batches = db.unsettled_batches().unwrap();
        assert_eq!(open_batches.len(), 1);
        let bt = &open_batches[0];
        assert_eq!(
            (bt.id, bt.digest, bt.signature, &bt.tx_bytes[..]),
            (id, digest, sig, &b"tx"[..])
        );
        assert_eq!(bt.calls, vec![(a, Call::SetJoinToken), (b, Call::Activate)]);
        assert_eq!(db.worker(&a).unwrap().unwrap().stage, Stage::Submitted);
        assert_eq!(db.worker(&b).unwrap().unwrap().batch_id, Some(id));
        db.settle_batch(id, batch_state::EXECUTED, "success", 60)
            .unwrap();
        assert!(db.unsettled_batches().unwrap().is_empty());
        let ra = db.worker(&a).unwrap().unwrap();
        assert!(ra.dirty);
        assert_eq!(ra.min_version, 4, "the next read must see the transaction");

        // A batch that can never execute hands its set_join_token calls back.
        let id2 = db
            .store_batch(
                &TransactionDigest([4; 32]),
                b"tx2",
                &sig,
                &[(a, Call::SetJoinToken)],
                70,
            )
            .unwrap();
        db.settle_batch(id2, batch_state::DROPPED, "stale gas coin", 80)
            .unwrap();
        let ra = db.worker(&a).unwrap().unwrap();
        assert_eq!((ra.stage, ra.batch_id), (Stage::Minted, None));
        assert_eq!(db.batch(id2).unwrap().unwrap().state, batch_state::DROPPED);
    }

    #[test]
    fn intents_are_queued_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let id = db.add_intent("rotate", "a-0123456789abcdef", 1).unwrap();
        assert_eq!(db.open_intents().unwrap().len(), 1);
        db.finish_intent(id, "issued version 3", 2).unwrap();
        assert!(db.open_intents().unwrap().is_empty());
        let i = db.intent(id).unwrap().unwrap();
        assert_eq!(
            (i.done_ms, i.result.as_deref()),
            (Some(2), Some("issued version 3"))
        );
    }

    #[test]
    fn no_column_can_hold_a_secret() {
        // The schema is the contract: token ids and envelopes, never token secrets or
        // node passwords.
        let schema = MIGRATIONS.concat().to_lowercase();
        for forbidden in ["secret", "password", "token_value", "join_token"] {
            assert!(!schema.contains(forbidden), "{forbidden}");
        }
    }
}
