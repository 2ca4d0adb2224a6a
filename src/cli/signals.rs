//! Signals as a command-line tool takes them: the first SIGINT or SIGTERM asks the
//! work to stop cleanly, a second exits at once; a closed pipe ends hasim quietly.

use crate::interrupt::{self, Signal};

/// Turns the first SIGINT or SIGTERM into a stop request ([`interrupt`]): work in
/// progress ends cleanly and says what it finished. A second one exits at once.
pub(super) fn listen_for_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return eprintln!("warning: cannot listen for signals ({e}); Ctrl-C stops hasim at once"),
    };
    // Registered before this returns, so a signal that comes at once is not missed.
    let streams = runtime.block_on(async {
        Ok::<_, std::io::Error>((signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?))
    });
    let (mut int, mut term) = match streams {
        Ok(streams) => streams,
        Err(e) => return eprintln!("warning: cannot listen for signals ({e}); Ctrl-C stops hasim at once"),
    };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let signal = tokio::select! {
                    _ = int.recv() => Signal::Interrupt,
                    _ = term.recv() => Signal::Terminate,
                };
                if interrupt::request(signal) {
                    eprintln!("{signal}: stopping cleanly (again to exit at once)");
                } else {
                    std::process::exit(signal.exit_status().into());
                }
            }
        });
    });
}

/// A reader that goes away (`hasim scenarios | head -3`) ends hasim quietly, as it
/// ends any Unix tool, instead of making the next print panic: Rust ignores SIGPIPE
/// unless told otherwise. Prints come between runs, so no run's schema is left.
pub(super) fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to its default has no preconditions; it
    // runs before any thread of ours could be writing.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether `e` is a stop request, not a failure.
pub(super) fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<crate::Error>(), Some(crate::Error::Interrupted(_))))
}
