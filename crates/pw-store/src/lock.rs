//! The scheduler lock: one replica at a time opens executions. On PostgreSQL it is a
//! session advisory lock held on one dedicated connection (released when that connection
//! closes, so a crashed replica frees it); on SQLite the store serves one process, which
//! always holds it.

use sqlx::Any;
use sqlx::pool::PoolConnection;

use crate::{Backend, Store, StoreError};

/// Proof of holding the scheduler lock.
pub struct SchedulerLock {
    connection: Option<PoolConnection<Any>>,
    key: i64,
}

impl std::fmt::Debug for SchedulerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerLock")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Takes the scheduler lock if no other replica holds it.
    pub async fn try_scheduler_lock(&self) -> Result<Option<SchedulerLock>, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(SchedulerLock {
                connection: None,
                key: 0,
            }));
        }
        let mut connection = self.pool.acquire().await.map_err(StoreError::db)?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(self.lock_key)
            .fetch_one(&mut *connection)
            .await
            .map_err(StoreError::db)?;
        if taken {
            Ok(Some(SchedulerLock {
                connection: Some(connection),
                key: self.lock_key,
            }))
        } else {
            Ok(None)
        }
    }
}

impl SchedulerLock {
    /// Checks that the lock is still held (its connection is alive). After an error the
    /// lock must be considered lost.
    pub async fn check(&mut self) -> Result<(), StoreError> {
        if let Some(connection) = &mut self.connection {
            let held: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() \
                 AND objid = ($1 & 4294967295) AND granted)",
            )
            .bind(self.key)
            .fetch_one(&mut **connection)
            .await
            .map_err(StoreError::db)?;
            if !held {
                return Err(StoreError::Conflict {
                    what: "scheduler lock",
                    detail: "the advisory lock was lost".to_owned(),
                    kind: crate::ConflictKind::InUse,
                });
            }
        }
        Ok(())
    }

    /// Releases the lock.
    pub async fn release(mut self) {
        if let Some(connection) = &mut self.connection {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut **connection)
                .await;
        }
    }
}
