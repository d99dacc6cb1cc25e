//! Releases of versioned repositories the server has learned (Amazon Linux 2023).

use jiff::Timestamp;

use sqlx::any::AnyRow;

use crate::{ReleaseRecord, Store, StoreError, WriteTx, get_str, get_ts, to_micros};

const SELECT_RELEASES: &str = "SELECT operating_system, version, release_date, learned_at, source FROM releases \
     WHERE operating_system = $1 AND learned_at <= $2";

fn release_from_row(row: &AnyRow) -> Result<ReleaseRecord, StoreError> {
    Ok(ReleaseRecord {
        operating_system: get_str(row, "operating_system")?,
        version: get_str(row, "version")?,
        release_date: get_str(row, "release_date")?,
        learned_at: get_ts(row, "learned_at")?,
        source: get_str(row, "source")?,
    })
}

impl Store {
    /// Records releases of `operating_system` (version, release date `YYYY-MM-DD`); ones
    /// already known keep their first `learned_at` and source. Returns how many were new.
    pub async fn learn_releases(
        &self,
        operating_system: &str,
        releases: &[(String, String)],
        source: &str,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut new = 0;
        for (version, date) in releases {
            let result = sqlx::query(
                "INSERT INTO releases (operating_system, version, release_date, learned_at, source) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (operating_system, version) DO NOTHING",
            )
            .bind(operating_system)
            .bind(version.as_str())
            .bind(date.as_str())
            .bind(to_micros(now))
            .bind(source)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
            new += usize::try_from(result.rows_affected()).unwrap_or(0);
        }
        tx.commit().await?;
        Ok(new)
    }

    /// The releases of `operating_system` learned at or before `learned_by` (all when
    /// `None`), in no particular order.
    pub async fn releases(
        &self,
        operating_system: &str,
        learned_by: Option<Timestamp>,
    ) -> Result<Vec<ReleaseRecord>, StoreError> {
        let rows = sqlx::query(SELECT_RELEASES)
            .bind(operating_system)
            .bind(learned_by.map_or(i64::MAX, to_micros))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db)?;
        rows.iter().map(release_from_row).collect()
    }
}

impl WriteTx {
    /// [`Store::releases`] inside a write transaction (the runner dispatches in one).
    pub async fn releases(
        &mut self,
        operating_system: &str,
        learned_by: Option<Timestamp>,
    ) -> Result<Vec<ReleaseRecord>, StoreError> {
        let rows = sqlx::query(SELECT_RELEASES)
            .bind(operating_system)
            .bind(learned_by.map_or(i64::MAX, to_micros))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(StoreError::db)?;
        rows.iter().map(release_from_row).collect()
    }
}
