//! What an installed `hasim` brings with it: the shipped scenarios built in
//! (`hasim scenarios`, `hasim run --example NAME`), shell completions and a man page.

mod common;

use common::hasim;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn scenarios_lists_every_built_in_scenario_by_name_with_its_description() {
    let out = hasim(&["scenarios"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let listed: Vec<&str> = stdout.lines().map(|l| l.split_whitespace().next().unwrap_or("")).collect();
    let names: Vec<&str> = hasim::builtin::names().collect();
    assert_eq!(listed, names);
    // The shipped files, by name (the directory's files are held equal to the list
    // by the library's own test).
    assert!(listed.contains(&"crash-after-claim") && listed.contains(&"day-in-the-life"), "{stdout}");
    let happy = stdout.lines().find(|l| l.starts_with("happy-path ")).expect("happy-path listed");
    assert!(happy.contains("Two plans of four tasks complete on three replicas"), "{happy}");
}

#[test]
fn run_example_runs_the_built_in_scenario_as_its_file_runs() {
    let built_in = hasim(&["run", "--example", "crash-after-claim", "--store", "memory", "--no-results"]);
    let file = hasim(&["run", "scenarios/crash-after-claim.toml", "--store", "memory", "--no-results"]);
    assert_eq!(built_in.status.code(), file.status.code(), "{}", text(&built_in.stderr));
    assert_eq!(built_in.status.code(), Some(0), "{}", text(&built_in.stderr));
    // The memory store replays the seed: the same report, word for word.
    assert_eq!(text(&built_in.stdout), text(&file.stdout));
}

#[test]
fn run_example_of_an_unknown_name_says_where_to_look_and_exits_2() {
    let out = hasim(&["run", "--example", "no-such-scenario", "--store", "memory"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no built-in scenario named `no-such-scenario`"), "{stderr}");
    assert!(stderr.contains("hasim scenarios"), "{stderr}");
}

#[test]
fn run_without_a_file_or_an_example_is_a_usage_error() {
    let out = hasim(&["run", "--store", "memory"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<PATHS>"), "{}", text(&out.stderr));
}

#[test]
fn completions_complete_every_command_in_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = hasim(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for command in ["run", "compare", "check", "bench", "explore", "doctor", "gc", "scenarios", "man"] {
            assert!(script.contains(command), "{shell}: no {command} in\n{script}");
        }
    }
    let bash = text(&hasim(&["completions", "bash"]).stdout);
    assert!(bash.contains("_hasim()") && bash.contains("complete -F _hasim"), "{bash}");
    let out = hasim(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_renders_a_page_that_names_the_commands() {
    let out = hasim(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH hasim 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    assert!(page.contains("hasim\\-run"), "{page}");
}

#[test]
fn a_reader_that_goes_away_ends_hasim_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    // `hasim scenarios | true`: a pipe whose reader is gone before hasim writes.
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "a pipe");
    // SAFETY: pipe(2) just opened both; each is owned once.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .arg("scenarios")
        .stdout(Stdio::from(writer))
        .output()
        .expect("hasim runs");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}: {stderr}", out.status);
}
