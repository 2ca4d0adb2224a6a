//! One throwaway Postgres server, made from the installed binaries: `initdb` (or
//! `pg_basebackup` from another server), started and stopped with `pg_ctl`, on a
//! free port of 127.0.0.1 with its socket in its own directory.
//!
//! As root, every program runs as the `postgres` OS user (initdb refuses root), and
//! the directories are made theirs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// Where the Postgres programs are, and whom they run as.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The directory of `initdb`, `pg_ctl`, `pg_basebackup`, `psql`.
    pub dir: PathBuf,
    /// The OS user and group the servers run as (root cannot run them).
    pub user: Option<(u32, u32)>,
}

impl Binaries {
    /// The binaries of `HASIM_PG_BIN`, else of the newest `/usr/lib/postgresql/*/bin`
    /// that has `initdb`; as root, run as the `postgres` user.
    pub fn find() -> Result<Binaries> {
        let dir = match std::env::var_os("HASIM_PG_BIN") {
            Some(dir) => PathBuf::from(dir),
            None => newest_installed().ok_or_else(|| {
                pair_error(
                    "no Postgres server binaries in /usr/lib/postgresql/*/bin (install them: \
                     apt-get install postgresql; or set HASIM_PG_BIN to the directory of initdb)",
                )
            })?,
        };
        for program in ["initdb", "pg_ctl", "pg_basebackup", "psql"] {
            if !dir.join(program).is_file() {
                return Err(pair_error(format!("{program} is not in {} (HASIM_PG_BIN)", dir.display())));
            }
        }
        // SAFETY: geteuid has no preconditions.
        let user = if unsafe { libc::geteuid() } == 0 { Some(postgres_user()?) } else { None };
        Ok(Binaries { dir, user })
    }

    /// `program` of these binaries, run as their user.
    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(self.dir.join(program));
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
        command.env_remove("PGDATA").env_remove("PGPORT").env_remove("PGHOST");
        command
    }

    /// Runs `program` with `args`; its stderr is the error when it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| pair_error(format!("cannot run {}: {e}", self.dir.join(program).display())))?;
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            return Err(pair_error(format!("{program} {} failed: {}", args.join(" "), said.trim())));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Makes `dir` (and its parents) and gives it to the servers' user.
    pub fn make_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| pair_error(format!("cannot make {}: {e}", dir.display())))?;
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| pair_error(format!("cannot give {} to postgres: {e}", dir.display())))?;
        }
        Ok(())
    }
}

/// The newest installed server's binaries, by major version.
fn newest_installed() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The `postgres` OS user's ids.
fn postgres_user() -> Result<(u32, u32)> {
    let name = c"postgres";
    // SAFETY: getpwnam reads a NUL-terminated name and returns a pointer into static
    // storage (or null), read at once before any other call could reuse it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(pair_error(
            "running as root, and there is no `postgres` OS user to run the servers as \
             (initdb refuses root; the Debian postgresql package makes the user)",
        ));
    }
    // SAFETY: checked non-null above.
    let entry = unsafe { &*entry };
    Ok((entry.pw_uid, entry.pw_gid))
}

/// A free TCP port on 127.0.0.1, as the kernel hands one out.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| pair_error(format!("no free port on 127.0.0.1: {e}")))?;
    Ok(listener.local_addr().map_err(|e| pair_error(e.to_string()))?.port())
}

/// A server: its data directory and port.
#[derive(Debug, Clone)]
pub struct Server {
    /// Its data directory.
    pub data: PathBuf,
    /// The port it listens on, on 127.0.0.1 (and its socket, in `data`).
    pub port: u16,
}

impl Server {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Appends `settings` (`key = value` lines) to its `postgresql.auto.conf`, read
    /// after `postgresql.conf`: the last line of a key wins.
    pub fn configure(&self, settings: &[(&str, String)]) -> Result<()> {
        use std::io::Write;
        let path = self.data.join("postgresql.auto.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| pair_error(format!("cannot open {}: {e}", path.display())))?;
        for (key, value) in settings {
            writeln!(file, "{key} = '{value}'")
                .map_err(|e| pair_error(format!("{}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Its own settings: the port, only 127.0.0.1, the socket in its data directory.
    pub fn own_address(&self) -> Vec<(&'static str, String)> {
        vec![
            ("port", self.port.to_string()),
            ("listen_addresses", "127.0.0.1".to_owned()),
            ("unix_socket_directories", self.data.display().to_string()),
        ]
    }

    /// Starts it and waits until it accepts connections (a standby: until it is up).
    pub fn start(&self, bin: &Binaries) -> Result<()> {
        let log = self.data.join("server.log");
        bin.run("pg_ctl", &["-D", &path(&self.data), "-l", &path(&log), "-w", "-t", "60", "start"])
            .map(|_| ())
    }

    /// Stops it at once, as a crash would (`immediate`: no checkpoint; a restart
    /// replays the WAL).
    pub fn kill(&self, bin: &Binaries) -> Result<()> {
        bin.run("pg_ctl", &["-D", &path(&self.data), "-m", "immediate", "-w", "stop"]).map(|_| ())
    }

    /// Whether a postmaster runs on its data directory.
    pub fn running(&self, bin: &Binaries) -> bool {
        bin.command("pg_ctl")
            .args(["-D", &path(&self.data), "status"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs `sql` with psql and gives what it printed (unaligned, tuples only).
    pub fn psql(&self, bin: &Binaries, sql: &str) -> Result<String> {
        let port = self.port.to_string();
        let args = [
            "-X",
            "-q",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ];
        bin.run("psql", &args).map(|out| out.trim().to_owned())
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// An error of the primary-standby pair.
pub fn pair_error(message: impl Into<String>) -> Error {
    Error::Pair(message.into())
}
