//! What the commands share on their command lines: where the database is, chosen the
//! same way by `run`, `compare`, `explore` and `bench`.
//!
//! `--store memory|postgres` says it; without `--store`, a database URL
//! (`--database-url`, or `DATABASE_URL` as clap reads it) means Postgres and none
//! means the memory store. An empty URL is no URL, so `DATABASE_URL=` is unset.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::Result;
use crate::results::{DEFAULT_ROOT, ResultsDir};
use crate::sim::Database;
use crate::strategy::StrategyKind;

/// The server when the store is Postgres and no URL is given.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Reads a strategy's name (`--strategy`, `--strategies`) against the strategies
/// registered when the command line is parsed, so `--help` lists each with its line.
pub fn strategy_parser() -> impl clap::builder::TypedValueParser<Value = StrategyKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let names = StrategyKind::all().into_iter().map(|s| PossibleValue::new(s.as_str()).help(s.about()));
    PossibleValuesParser::new(names).map(|name| name.parse::<StrategyKind>().expect("a registered name"))
}

/// Where the replicas' database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// The in-process model of the database: fast, and on virtual time exactly
    /// replayable.
    Memory,
    /// A real Postgres server, a schema of its own per run.
    Postgres,
}

impl StoreKind {
    /// `memory` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Postgres => "postgres",
        }
    }
}

/// The Postgres server, as every command that reaches one takes it: the one place
/// `--database-url` and `DATABASE_URL` are declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct DatabaseArgs {
    /// The Postgres server. Default: postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// The server of a command that only runs on Postgres (`doctor`, `gc`): the URL
    /// given (not empty), else [`DEFAULT_DATABASE_URL`].
    pub fn postgres_url(&self) -> String {
        choose(Some(StoreKind::Postgres), self.database_url.as_deref())
            .url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }
}

/// The store and the database URL, as every command that runs scenarios or claims
/// takes them (`run`, `compare`, `explore`, `bench`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct StoreArgs {
    /// Where the replicas' database is. Default: postgres when a database URL is
    /// given (--database-url or DATABASE_URL, not empty), else memory.
    #[arg(long, value_enum)]
    pub store: Option<StoreKind>,
    /// The server, when the store is Postgres.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where a command's runs go, and how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The store.
    pub store: StoreKind,
    /// The server, for Postgres.
    pub url: Option<String>,
    /// Whether the store was chosen by default (no --store, no URL): the binary says
    /// so.
    pub defaulted: bool,
}

impl StoreArgs {
    /// The store these arguments choose.
    pub fn choose(&self) -> Choice {
        choose(self.store, self.database.database_url.as_deref())
    }
}

impl Choice {
    /// The [`Database`] of a scenario run, keeping its schema when `keep_schema`.
    pub fn database(&self, keep_schema: bool) -> Database {
        match (&self.store, &self.url) {
            (StoreKind::Postgres, Some(url)) => Database::Postgres { url: url.clone(), keep_schema },
            _ => Database::Memory,
        }
    }
}

/// Where `run`, `compare` and `explore` keep what they ran and found.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ResultsArgs {
    /// Keep this command's results in a new folder under DIR, named by the time and
    /// what ran (the scenarios as run, the trace, the verdicts, the HTML report and
    /// the summary), and point DIR/latest at it.
    #[arg(long, value_name = "DIR", env = "HASIM_RESULTS", default_value = DEFAULT_ROOT)]
    pub results: PathBuf,
    /// Keep no results folder.
    #[arg(long)]
    pub no_results: bool,
}

impl ResultsArgs {
    /// A new results folder for a command started at `started` that ran `label`;
    /// `None` with `--no-results`.
    pub fn folder(&self, label: &str, started: SystemTime) -> Result<Option<ResultsDir>> {
        if self.no_results {
            return Ok(None);
        }
        ResultsDir::create(&self.results, label, started).map(Some)
    }
}

/// The one rule: `store` when given, else Postgres when `url` is a URL (not empty),
/// else memory. Postgres without a URL uses [`DEFAULT_DATABASE_URL`].
pub fn choose(store: Option<StoreKind>, url: Option<&str>) -> Choice {
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    let store_of = |kind: StoreKind| match kind {
        StoreKind::Memory => None,
        StoreKind::Postgres => Some(url.unwrap_or(DEFAULT_DATABASE_URL).to_owned()),
    };
    match (store, url) {
        (Some(kind), _) => Choice { store: kind, url: store_of(kind), defaulted: false },
        (None, Some(url)) => {
            Choice { store: StoreKind::Postgres, url: Some(url.to_owned()), defaulted: false }
        }
        (None, None) => Choice { store: StoreKind::Memory, url: None, defaulted: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_means_postgres_unless_the_store_says_otherwise() {
        let url = "postgres://u@h:1/d";
        let pg = |u: &str| Choice { store: StoreKind::Postgres, url: Some(u.to_owned()), defaulted: false };
        assert_eq!(choose(None, Some(url)), pg(url));
        assert_eq!(choose(Some(StoreKind::Postgres), Some(url)), pg(url));
        assert_eq!(choose(Some(StoreKind::Postgres), None), pg(DEFAULT_DATABASE_URL));
        let memory = choose(Some(StoreKind::Memory), Some(url));
        assert_eq!((memory.store, memory.url, memory.defaulted), (StoreKind::Memory, None, false));
    }

    #[test]
    fn no_url_or_an_empty_one_means_the_memory_store_by_default() {
        for url in [None, Some(""), Some("  ")] {
            let choice = choose(None, url);
            assert_eq!((choice.store, choice.defaulted), (StoreKind::Memory, true), "{url:?}");
            assert_eq!(choice.database(false), Database::Memory);
        }
        assert_eq!(choose(Some(StoreKind::Postgres), Some("")).url.as_deref(), Some(DEFAULT_DATABASE_URL));
    }
}
