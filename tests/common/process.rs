//! The `hasim` binary as a process a test can watch and signal mid-run.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A `hasim` process, its stdout and stderr collected as they come.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// How a process ended.
#[derive(Debug)]
pub struct Ended {
    /// Its exit status (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// How long it took to end after [`Running::finish`] was called.
    pub waited: Duration,
}

impl Running {
    /// Starts `hasim args` from the project root, without `DATABASE_URL`, logging at
    /// info (run schemas and listening ports are named there), plus `env`.
    #[track_caller]
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hasim"));
        command
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "hasim=info")
            .env("HASIM_RESULTS", super::results_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the hasim binary starts");
        let (stdout, stderr) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), stdout.clone()),
            collect(child.stderr.take().expect("piped stderr"), stderr.clone()),
        ];
        Running { child, stdout, stderr, readers }
    }

    /// Waits until stderr holds `needle`; panics with what it printed after `timeout`.
    #[track_caller]
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let started = Instant::now();
        while !self.stderr.lock().unwrap().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("hasim ended ({status}) before printing {needle:?}:\n{}", self.stderr.lock().unwrap());
            }
            assert!(
                started.elapsed() < timeout,
                "no {needle:?} on stderr after {timeout:?}:\n{}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends `signal` (`INT`, `TERM`) to the process.
    #[track_caller]
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to end, at most `timeout` (then kills it and panics).
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Ended {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait on hasim") {
                break status;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("hasim did not end within {timeout:?}:\n{}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let waited = started.elapsed();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let text = |s: &Arc<Mutex<String>>| s.lock().unwrap().clone();
        Ended { code: status.code(), stdout: text(&self.stdout), stderr: text(&self.stderr), waited }
    }
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}

/// The values of every `key=value` field named `key` in log lines, in order, without
/// repeats.
pub fn logged(stderr: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    let mut found: Vec<String> = Vec::new();
    for word in stderr.split_whitespace() {
        if let Some(value) = word.strip_prefix(&prefix) {
            let value = value.trim_matches('"').to_owned();
            if !found.contains(&value) {
                found.push(value);
            }
        }
    }
    found
}
