//! Errors of the store. Messages never contain SQL text; the sqlx error is kept as the
//! source for logs.

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database url `{url}` is not supported: expected `sqlite://...` or `postgres://...`")]
    UnsupportedUrl { url: String },
    #[error("schema name `{schema}` is invalid: use lowercase letters, digits and `_`")]
    InvalidSchema { schema: String },
    #[error("failed to connect to `{url}`")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("failed to apply migration {version} ({name})")]
    Migrate {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the database has migration {version}, newer than this server knows ({known}): upgrade the server"
    )]
    SchemaTooNew { version: i64, known: i64 },
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what}: {detail}")]
    Conflict {
        what: &'static str,
        detail: String,
        kind: ConflictKind,
    },
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: String, detail: String },
}

/// What a conflict is: something of that name exists already, or the object is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    AlreadyExists,
    InUse,
    /// The record changed since the caller read it.
    Changed,
}

impl StoreError {
    /// Classifies a sqlx error: pool and I/O trouble is `Unavailable`, the rest `Database`.
    pub(crate) fn db(source: sqlx::Error) -> StoreError {
        match source {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(source)
            }
            other => StoreError::Database(other),
        }
    }

    /// True for a unique-constraint violation (used to turn races into conflicts).
    pub(crate) fn is_unique_violation(source: &sqlx::Error) -> bool {
        match source {
            sqlx::Error::Database(error) => {
                error.is_unique_violation()
                    || error
                        .code()
                        .is_some_and(|code| code == "23505" || code == "2067" || code == "1555")
            }
            _ => false,
        }
    }
}
