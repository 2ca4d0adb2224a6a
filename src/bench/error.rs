//! Why a bench could not run, and which of those reasons are the user's to fix.

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration (the command line) asks for something impossible.
    #[error("{0}")]
    Invalid(String),
    /// pgbench was asked for but is not installed.
    #[error(
        "--pgbench needs pgbench, which was not found as `{program}` (install the PostgreSQL \
         client, e.g. `apt-get install postgresql-client`, or pass --pgbench-bin PATH)"
    )]
    PgbenchMissing {
        /// What was looked for.
        program: String,
    },
    /// pgbench ran and failed.
    #[error("pgbench failed: {0}")]
    Pgbench(String),
    /// The store (connect, migrate, a statement) failed.
    #[error(transparent)]
    Store(#[from] crate::Error),
    /// A file could not be written or read.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl BenchError {
    /// Whether this is the user's to fix (bad arguments, unreachable server, missing
    /// pgbench): the CLI exits 2 for those, as for a usage error.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            BenchError::Invalid(_)
                | BenchError::PgbenchMissing { .. }
                | BenchError::Store(crate::Error::Connect { .. } | crate::Error::BadUrl { .. })
        )
    }
}

impl From<sqlx::Error> for BenchError {
    fn from(e: sqlx::Error) -> Self {
        BenchError::Store(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_errors_are_usage_errors_and_failures_are_not() {
        assert!(BenchError::Invalid("0 replicas".into()).is_usage());
        assert!(BenchError::PgbenchMissing { program: "pgbench".into() }.is_usage());
        let unreachable =
            crate::Error::Connect { url: "postgres://h/db".into(), cause: sqlx::Error::PoolTimedOut };
        assert!(BenchError::Store(unreachable).is_usage());
        assert!(!BenchError::Pgbench("exited with 1".into()).is_usage());
        assert!(!BenchError::from(sqlx::Error::RowNotFound).is_usage());
    }
}
