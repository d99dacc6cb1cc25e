//! Persistence for the Patchwarden server: baselines, registrations, nodes and their
//! credentials, inventories, compliance history, maintenance windows, executions, agent
//! commands and audit events, on SQLite (embedded, the default) or PostgreSQL (several
//! server replicas).
//!
//! **Architecture invariant:** this is the only crate that contains SQL. Callers get plain
//! record types; JSON documents (window specs, command payloads, report items) are opaque
//! text here and typed in pw-server with pw-api types.
//!
//! One SQL text serves both backends (the runtime `sqlx::query` API over `sqlx::Any`, `$N`
//! placeholders, portable types: TEXT, BIGINT; times are microseconds since the Unix epoch;
//! booleans 0/1). Where the backends differ (row locks, advisory locks, auto-increment),
//! [`Backend`] picks the text. On SQLite every write goes through one process-wide lock so
//! that concurrent writers queue instead of failing with `SQLITE_BUSY`; readers run in
//! parallel (WAL). Migrations are append-only files under `migrations/{sqlite,postgres}/`,
//! applied at [`Store::connect`]. Decisions: `docs/server.md`.

mod access;
mod access_keys;
mod baselines;
mod commands;
mod compliance;
mod error;
mod executions;
mod fleet;
pub mod ids;
mod lock;
mod migrate;
mod promotions;
mod records;
mod releases;
mod webhooks;
mod windows;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor as _, Row as _};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use crate::access::{EnrollRefusal, TagRefusal, enrollment_tags};
pub use crate::commands::{AckOutcome, CompleteOutcome, failure_details};
pub use crate::compliance::{HistoryFootprint, PatchRef, package_ref};
pub use crate::error::{ConflictKind, StoreError};
pub use crate::executions::NewExecution;
pub use crate::fleet::{
    ConsoleSession, CriticalDebt, FleetFilter, FleetRow, NodeState, TrendPoint,
};
pub use crate::lock::SchedulerLock;
pub use crate::records::*;
pub use crate::windows::WindowPart;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to reach the database.
#[derive(Clone)]
pub struct StoreSettings {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Pool size (default 16 for PostgreSQL, 8 for SQLite).
    pub max_connections: Option<u32>,
    /// PostgreSQL only: use (and create) this schema instead of `public`; lowercase
    /// letters, digits and `_`. The test suite uses a fresh one per test.
    pub schema: Option<String>,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .finish()
    }
}

impl StoreSettings {
    /// Settings for a SQLite file (created when missing).
    pub fn sqlite(path: &std::path::Path) -> StoreSettings {
        StoreSettings {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            max_connections: None,
            schema: None,
        }
    }
}

/// The URL with its password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// The store: a connection pool and the backend's rules.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Serialises writers on SQLite; `None` on PostgreSQL.
    write_lock: Option<Arc<Mutex<()>>>,
    /// The PostgreSQL advisory-lock key of the scheduler (one per schema).
    lock_key: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// A write transaction. On SQLite it holds the process-wide write lock until it is
/// committed or dropped (dropping rolls back).
pub struct WriteTx {
    tx: sqlx::Transaction<'static, Any>,
    backend: Backend,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Deletes the row of `table` with this `id`; none is `NotFound` naming `what`.
    pub(crate) async fn delete_row(
        &mut self,
        table: &'static str,
        id: &str,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(StoreError::db)?
            .rows_affected();
        found(deleted, what, id)?;
        Ok(())
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(StoreError::db)
    }

    /// Rolls the transaction back and waits for it, before the write lock is released. A
    /// transaction merely dropped is rolled back later, when its connection is next used:
    /// on SQLite its locks outlive the process-wide write lock, and the next writer that read
    /// first fails at once with "database is locked". Every path that gives up on a write
    /// transaction without an error calls this.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await.map_err(StoreError::db)
    }

    /// The backend of the store that opened this transaction.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Store {
    /// Connects, creates the schema if asked, and applies pending migrations.
    pub async fn connect(settings: &StoreSettings) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if settings.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if settings.url.starts_with("postgres:") || settings.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl {
                url: redact_url(&settings.url),
            });
        };
        let schema = match (&settings.schema, backend) {
            (Some(schema), Backend::Postgres) => {
                if schema.is_empty()
                    || !schema
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(StoreError::InvalidSchema {
                        schema: schema.clone(),
                    });
                }
                Some(schema.clone())
            }
            _ => None,
        };
        let connect_error = |source: sqlx::Error| StoreError::Connect {
            url: redact_url(&settings.url),
            source,
        };
        if let Some(schema) = &schema {
            let setup = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&settings.url)
                .await
                .map_err(connect_error)?;
            setup
                .execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
                .await
                .map_err(StoreError::db)?;
            setup.close().await;
        }
        let max_connections = settings.max_connections.unwrap_or(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let schema_for_hook = schema.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // PostgreSQL can be away: a request then waits this long for a connection and
            // is answered 503, rather than hanging for half a minute while agents retry.
            // A healthy pool answers in milliseconds, so five seconds of waiting is an
            // overload, and a 503 tells the clients to back off.
            .acquire_timeout(match backend {
                Backend::Sqlite => Duration::from_secs(30),
                Backend::Postgres => Duration::from_secs(5),
            })
            .after_connect(move |conn, _meta| {
                let schema = schema_for_hook.clone();
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA foreign_keys = ON",
                            ] {
                                conn.execute(pragma).await?;
                            }
                        }
                        Backend::Postgres => {
                            if let Some(schema) = schema {
                                conn.execute(format!("SET search_path TO \"{schema}\"").as_str())
                                    .await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .connect(&settings.url)
            .await
            .map_err(connect_error)?;
        let store = Store {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            lock_key: scheduler_lock_key(schema.as_deref().unwrap_or("public")),
        };
        migrate::apply(&store).await?;
        Ok(store)
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::db)?;
        Ok(())
    }

    /// Drops a PostgreSQL schema with everything in it (test clean-up).
    pub async fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Ok(());
        }
        self.pool
            .execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
            .await
            .map_err(StoreError::db)?;
        Ok(())
    }

    /// Refreshes the query planner's statistics (PostgreSQL `VACUUM (ANALYZE)` of the
    /// store's tables, SQLite `PRAGMA optimize`). The server runs it after startup and
    /// daily; after a bulk load (a restore, a benchmark's seeding) it keeps plans right until
    /// then. On PostgreSQL the vacuum also clears the rows that reports replace (each
    /// node's `patch_refs` when its patches change): after a burst, a whole fleet's install,
    /// autovacuum can lag and the indexed reads of those tables slow down.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db)?;
                if tables.is_empty() {
                    return Ok(());
                }
                let list = tables
                    .iter()
                    .map(|table| format!("\"{}\"", table.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.pool
                    .execute(format!("VACUUM (ANALYZE) {list}").as_str())
                    .await
                    .map_err(StoreError::db)?;
                Ok(())
            }
            // It writes the statistics: in turn with the other writers.
            Backend::Sqlite => {
                let mut tx = self.begin_write().await?;
                sqlx::query("PRAGMA optimize=0x10002")
                    .execute(&mut *tx.tx)
                    .await
                    .map_err(StoreError::db)?;
                tx.commit().await
            }
        }
    }

    /// The bytes the store takes on disk: the SQLite file's pages in use, or the tables and
    /// indexes (with their TOAST) of the PostgreSQL schema.
    pub async fn size_bytes(&self) -> Result<i64, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) \
                 * (SELECT page_size FROM pragma_page_size())"
            }
            Backend::Postgres => {
                "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
            }
        };
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db)
    }

    /// Opens a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(Arc::clone(lock).lock_owned().await),
            None => None,
        };
        // SQLite: take the write lock at BEGIN. A deferred transaction that reads and then
        // writes can meet a write committed since its read (SQLITE_BUSY_SNAPSHOT), which no
        // busy timeout waits out; IMMEDIATE waits for the lock instead.
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(StoreError::db)?;
        Ok(WriteTx {
            tx,
            backend: self.backend,
            _guard: guard,
        })
    }
}

/// `Ok` when a statement changed `affected` rows, at least one; otherwise `NotFound` for the
/// `what` named `id`.
pub(crate) fn found(affected: u64, what: &'static str, id: &str) -> Result<(), StoreError> {
    if affected == 0 {
        return Err(StoreError::NotFound {
            what,
            id: id.to_owned(),
        });
    }
    Ok(())
}

/// A stable advisory-lock key per schema, in the positive 31-bit range (so the `objid`
/// column of `pg_locks` shows it whole).
fn scheduler_lock_key(schema: &str) -> i64 {
    let mut key: i64 = 0x7077_7363;
    for byte in schema.bytes() {
        key = (key.wrapping_mul(31) + i64::from(byte)) & 0x7fff_ffff;
    }
    key
}

fn lock_clause(backend: Backend, skip: bool) -> &'static str {
    match (backend, skip) {
        (Backend::Sqlite, _) => "",
        (Backend::Postgres, true) => " FOR UPDATE SKIP LOCKED",
        (Backend::Postgres, false) => " FOR UPDATE",
    }
}

/// A timestamp as stored: microseconds since the Unix epoch.
pub fn to_micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// A stored timestamp back; out-of-range values clamp to the representable range.
pub fn from_micros(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(if micros < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn get_str(row: &AnyRow, column: &str) -> Result<String, StoreError> {
    row.try_get::<String, _>(column).map_err(StoreError::db)
}

fn get_opt_str(row: &AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    row.try_get::<Option<String>, _>(column)
        .map_err(StoreError::db)
}

fn get_i64(row: &AnyRow, column: &str) -> Result<i64, StoreError> {
    row.try_get::<i64, _>(column).map_err(StoreError::db)
}

fn get_opt_i64(row: &AnyRow, column: &str) -> Result<Option<i64>, StoreError> {
    row.try_get::<Option<i64>, _>(column)
        .map_err(StoreError::db)
}

fn get_ts(row: &AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    get_i64(row, column).map(from_micros)
}

fn get_opt_ts(row: &AnyRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get_opt_i64(row, column)?.map(from_micros))
}

fn opt_micros(at: Option<Timestamp>) -> Option<i64> {
    at.map(to_micros)
}

fn get_tags(row: &AnyRow, column: &str) -> Result<Vec<(String, String)>, StoreError> {
    let text = get_str(row, column)?;
    serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
        what: format!("{column} column"),
        detail: source.to_string(),
    })
}

fn tags_json(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}
