//! A primary and a streaming standby, made for one run and gone after it.
//!
//! [`PgPair::start`] makes both in a temporary directory: `initdb` a primary that
//! allows replication from 127.0.0.1, `pg_basebackup` a standby from it, start both on
//! free ports, wait until the standby streams, and for synchronous modes name it in
//! `synchronous_standby_names`. [`PgPair::failover`] is what a failover manager does
//! when the primary dies: stop it abruptly and promote the standby. Dropping the pair
//! stops both servers and deletes the directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::Replication;
use super::server::{Binaries, Server, free_port, pair_error};
use crate::Result;

/// How long the standby may take to stream (or to become synchronous).
const PATIENCE: Duration = Duration::from_secs(30);

/// The standby's name, as the primary's `synchronous_standby_names` says it.
const STANDBY_NAME: &str = "standby";

/// A running primary and standby, stopped and deleted when dropped.
#[derive(Debug)]
pub struct PgPair {
    bin: Binaries,
    dir: PathBuf,
    primary: Server,
    /// The standby, until a failover promotes it.
    standby: Option<Server>,
    /// The old primary after a failover: stopped, kept for the drop to clean.
    retired: Vec<Server>,
}

impl PgPair {
    /// Makes and starts a pair replicating as `replication` says. Blocks (it runs the
    /// Postgres programs): about two seconds.
    pub fn start(replication: Replication) -> Result<PgPair> {
        static PAIRS: AtomicU32 = AtomicU32::new(0);
        let bin = Binaries::find()?;
        let n = PAIRS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{}{}-{n}", super::left::PREFIX, std::process::id()));
        bin.make_dir(&dir)?;
        let primary = Server { data: dir.join("primary"), port: free_port()? };
        // From here on, whatever fails, the drop stops what started and deletes it all.
        let mut pair = PgPair { bin, dir, primary, standby: None, retired: Vec::new() };
        pair.make_primary()?;
        pair.make_standby()?;
        pair.wait_until_streaming()?;
        if let Some(commit) = replication.synchronous_commit() {
            pair.primary
                .psql(&pair.bin, &format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"))?;
            pair.primary.psql(&pair.bin, &format!("ALTER SYSTEM SET synchronous_commit = '{commit}'"))?;
            pair.primary.psql(&pair.bin, "SELECT pg_reload_conf()")?;
            pair.wait_for(
                "the standby to become synchronous",
                "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
            )?;
        }
        Ok(pair)
    }

    fn make_primary(&self) -> Result<()> {
        let data = self.primary.data.display().to_string();
        self.bin
            .run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])?;
        let mut settings = self.primary.own_address();
        settings.extend([("wal_level", "replica".to_owned()), ("max_wal_senders", "4".to_owned())]);
        self.primary.configure(&settings)?;
        self.primary.start(&self.bin)
    }

    fn make_standby(&mut self) -> Result<()> {
        let standby = Server { data: self.dir.join("standby"), port: free_port()? };
        let (data, port) = (standby.data.display().to_string(), self.primary.port.to_string());
        let args =
            ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", &data, "-X", "stream", "-c", "fast"];
        self.bin.run("pg_basebackup", &args)?;
        let mut settings = standby.own_address();
        settings.push(("primary_conninfo", self.conninfo()));
        standby.configure(&settings)?;
        let signal = standby.data.join("standby.signal");
        std::fs::write(&signal, "")
            .map_err(|e| pair_error(format!("cannot write {}: {e}", signal.display())))?;
        self.standby = Some(standby);
        self.standby()?.start(&self.bin)
    }

    /// How the standby reaches the primary.
    fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres application_name={STANDBY_NAME}", self.primary.port)
    }

    fn standby(&self) -> Result<&Server> {
        self.standby.as_ref().ok_or_else(|| pair_error("the pair has no standby after its failover"))
    }

    fn wait_until_streaming(&self) -> Result<()> {
        self.wait_for(
            "the standby to stream",
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
        )
    }

    /// Polls `sql` on the primary until it says `1`.
    fn wait_for(&self, what: &str, sql: &str) -> Result<()> {
        let started = Instant::now();
        while self.primary.psql(&self.bin, sql)? != "1" {
            if started.elapsed() > PATIENCE {
                return Err(pair_error(format!("waited {PATIENCE:?} for {what}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The primary's URL (after a failover, the promoted standby's).
    pub fn primary_url(&self) -> String {
        self.primary.url()
    }

    /// The standby's URL, until a failover promotes it.
    pub fn standby_url(&self) -> Option<String> {
        self.standby.as_ref().map(Server::url)
    }

    /// The primary's port on 127.0.0.1.
    pub fn primary_port(&self) -> u16 {
        self.primary.port
    }

    /// Cuts the standby off the primary's WAL (its receiver stops): commits from now on
    /// reach only the primary, as when replication falls behind. With synchronous
    /// replication they wait for the standby, so none is acknowledged.
    pub fn cut_replication(&self) -> Result<()> {
        let standby = self.standby()?;
        standby.psql(&self.bin, "ALTER SYSTEM SET primary_conninfo = ''")?;
        standby.psql(&self.bin, "SELECT pg_reload_conf()").map(|_| ())
    }

    /// Reconnects the standby after [`PgPair::cut_replication`]; it catches up.
    pub fn restore_replication(&self) -> Result<()> {
        let standby = self.standby()?;
        standby.psql(&self.bin, &format!("ALTER SYSTEM SET primary_conninfo = '{}'", self.conninfo()))?;
        standby.psql(&self.bin, "SELECT pg_reload_conf()")?;
        self.wait_until_streaming()
    }

    /// The primary fails and the standby takes over: the primary is stopped at once
    /// (every connection to it breaks, nothing is flushed), the standby is promoted
    /// and becomes the primary. What had not reached the standby is gone.
    pub fn failover(&mut self) -> Result<()> {
        let standby =
            self.standby.take().ok_or_else(|| pair_error("a second failover: no standby is left"))?;
        self.primary.kill(&self.bin)?;
        let data = standby.data.display().to_string();
        self.bin.run("pg_ctl", &["-D", &data, "-w", "-t", "60", "promote"])?;
        self.retired.push(std::mem::replace(&mut self.primary, standby));
        Ok(())
    }

    /// Runs `sql` on the primary with psql; gives what it printed.
    pub fn primary_sql(&self, sql: &str) -> Result<String> {
        self.primary.psql(&self.bin, sql)
    }

    /// Runs `sql` on the standby with psql; gives what it printed.
    pub fn standby_sql(&self, sql: &str) -> Result<String> {
        self.standby()?.psql(&self.bin, sql)
    }

    /// Where the Postgres programs are.
    pub fn binaries(&self) -> &Binaries {
        &self.bin
    }

    /// The primary crashes and comes back on its own data (immediate shutdown, then a
    /// start that replays its WAL): every connection breaks, no commit is lost, the
    /// standby reconnects.
    pub fn restart_primary(&self) -> Result<()> {
        self.primary.kill(&self.bin)?;
        self.primary.start(&self.bin)
    }

    /// The data directory the pair lives in (deleted when it is dropped).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for server in std::iter::once(&self.primary).chain(&self.standby).chain(&self.retired) {
            if server.running(&self.bin) {
                let _ = server.kill(&self.bin);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
