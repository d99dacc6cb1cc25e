//! The migration runner: numbered SQL files embedded at build time, applied in order, each
//! in its own transaction, recorded in `pw_migrations`. Append-only: a released file is
//! never edited; a change is a new file for both backends.

use jiff::Timestamp;
use sqlx::Row as _;

use crate::{Backend, Store, StoreError, to_micros};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "one_active_execution",
        sqlite: include_str!("../migrations/sqlite/0002_one_active_execution.sql"),
        postgres: include_str!("../migrations/postgres/0002_one_active_execution.sql"),
    },
    Migration {
        version: 3,
        name: "releases",
        sqlite: include_str!("../migrations/sqlite/0003_releases.sql"),
        postgres: include_str!("../migrations/postgres/0003_releases.sql"),
    },
    Migration {
        version: 4,
        name: "access_keys",
        sqlite: include_str!("../migrations/sqlite/0004_access_keys.sql"),
        postgres: include_str!("../migrations/postgres/0004_access_keys.sql"),
    },
    Migration {
        version: 5,
        name: "resource_members",
        sqlite: include_str!("../migrations/sqlite/0005_resource_members.sql"),
        postgres: include_str!("../migrations/postgres/0005_resource_members.sql"),
    },
    Migration {
        version: 6,
        name: "node_patch_group",
        sqlite: include_str!("../migrations/sqlite/0006_node_patch_group.sql"),
        postgres: include_str!("../migrations/postgres/0006_node_patch_group.sql"),
    },
    Migration {
        version: 7,
        name: "console_sessions",
        sqlite: include_str!("../migrations/sqlite/0007_console_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0007_console_sessions.sql"),
    },
    Migration {
        version: 8,
        name: "patch_refs",
        sqlite: include_str!("../migrations/sqlite/0008_patch_refs.sql"),
        postgres: include_str!("../migrations/postgres/0008_patch_refs.sql"),
    },
    Migration {
        version: 9,
        name: "reports_by_operation",
        sqlite: include_str!("../migrations/sqlite/0009_reports_by_operation.sql"),
        postgres: include_str!("../migrations/postgres/0009_reports_by_operation.sql"),
    },
    Migration {
        version: 10,
        name: "node_latest",
        sqlite: include_str!("../migrations/sqlite/0010_node_latest.sql"),
        postgres: include_str!("../migrations/postgres/0010_node_latest.sql"),
    },
    Migration {
        version: 11,
        name: "reboot_and_latency",
        sqlite: include_str!("../migrations/sqlite/0011_reboot_and_latency.sql"),
        postgres: include_str!("../migrations/postgres/0011_reboot_and_latency.sql"),
    },
    Migration {
        version: 12,
        name: "promotion_policies",
        sqlite: include_str!("../migrations/sqlite/0012_promotion_policies.sql"),
        postgres: include_str!("../migrations/postgres/0012_promotion_policies.sql"),
    },
    Migration {
        version: 13,
        name: "reboot_since",
        sqlite: include_str!("../migrations/sqlite/0013_reboot_since.sql"),
        postgres: include_str!("../migrations/postgres/0013_reboot_since.sql"),
    },
    Migration {
        version: 14,
        name: "webhooks",
        sqlite: include_str!("../migrations/sqlite/0014_webhooks.sql"),
        postgres: include_str!("../migrations/postgres/0014_webhooks.sql"),
    },
    Migration {
        version: 15,
        name: "activation_node_tags",
        sqlite: include_str!("../migrations/sqlite/0015_activation_node_tags.sql"),
        postgres: include_str!("../migrations/postgres/0015_activation_node_tags.sql"),
    },
    Migration {
        version: 16,
        name: "report_items",
        sqlite: include_str!("../migrations/sqlite/0016_report_items.sql"),
        postgres: include_str!("../migrations/postgres/0016_report_items.sql"),
    },
];

/// An arbitrary constant: the advisory lock that serialises migrations of replicas.
const MIGRATION_LOCK: i64 = 0x7077_6d69_6772;

/// Splits a migration file into statements: `;` at the end of a line ends one; `--`
/// comment lines are dropped.
fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

pub(crate) async fn apply(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx.tx)
            .await
            .map_err(StoreError::db)?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS pw_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx.tx)
    .await
    .map_err(StoreError::db)?;
    let rows = sqlx::query("SELECT version FROM pw_migrations ORDER BY version")
        .fetch_all(&mut *tx.tx)
        .await
        .map_err(StoreError::db)?;
    let mut applied = Vec::new();
    for row in rows {
        applied.push(row.try_get::<i64, _>("version").map_err(StoreError::db)?);
    }
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(StoreError::SchemaTooNew {
            version: newest,
            known,
        });
    }
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        let text = match store.backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        let fail = |source| StoreError::Migrate {
            version: migration.version,
            name: migration.name,
            source,
        };
        for statement in statements(text) {
            sqlx::query(&statement)
                .execute(&mut *tx.tx)
                .await
                .map_err(fail)?;
        }
        sqlx::query("INSERT INTO pw_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(to_micros(Timestamp::UNIX_EPOCH))
            .execute(&mut *tx.tx)
            .await
            .map_err(fail)?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_on_line_final_semicolons_and_drops_comments() {
        let parts = statements("-- c\nCREATE TABLE a (\n x TEXT\n);\n\nCREATE INDEX i ON a (x);\n");
        assert_eq!(
            parts,
            vec![
                "CREATE TABLE a (\n x TEXT\n);\n",
                "CREATE INDEX i ON a (x);\n"
            ]
        );
    }
}
