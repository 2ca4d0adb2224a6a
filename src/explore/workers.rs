//! Several jobs: worker threads run a search's trials, the caller's thread takes
//! their results in case order.
//!
//! Workers take the next case number from a shared counter, so cases start in
//! order; each trial runs on its worker's thread (every run builds its own actix
//! system) and sends its shrink progress and its result back over a channel. Once
//! the collector has what the search needs, workers leave the cases past it: a
//! trial in progress is cancelled between two runs, and no new one starts.
//!
//! A worker reports shrink progress at most every [`PROGRESS_EVERY`]: a message per
//! shrink run woke the collecting thread thousands of times a second, and the
//! context switches cost a tenth of the CPU time of a search that shrinks a lot.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;

use super::collect::Collector;
use super::search::{Progress, Search};
use super::trial::{Trial, trial};

/// What a worker says.
enum Message {
    /// Case `number` has spent `runs` shrink runs.
    Shrinking { number: u32, runs: u32 },
    /// Case `number` is done.
    Done { number: u32, result: Result<Trial> },
}

/// How often a worker reports shrink progress, at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// Whether a stop was asked ([`crate::interrupt`]): no case starts after it.
fn interrupted() -> bool {
    crate::interrupt::requested().is_some()
}

/// No case is past the last one needed yet.
const ALL_NEEDED: u32 = u32::MAX;

/// Runs `search`'s cases on `search.jobs` threads, feeding `collector` in its
/// thread. Returns once every worker has stopped.
pub(super) fn run<P: FnMut(&Progress)>(search: &Search, collector: &mut Collector<'_, P>) -> Result<()> {
    let numbers: Vec<u32> = search.case_numbers().collect();
    let next = AtomicUsize::new(0);
    // Cases past this one are not needed: the search stopped before them.
    let last = AtomicU32::new(collector.last().unwrap_or(ALL_NEEDED));
    let (tx, rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..search.jobs.min(numbers.len()) {
            let tx = tx.clone();
            let (numbers, next, last) = (&numbers, &next, &last);
            scope.spawn(move || {
                let mut reported = Instant::now();
                while let Some(&number) = numbers.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if number > last.load(Ordering::Relaxed) || interrupted() {
                        break;
                    }
                    let result = trial(
                        search,
                        number,
                        |runs| {
                            if reported.elapsed() >= PROGRESS_EVERY {
                                reported = Instant::now();
                                let _ = tx.send(Message::Shrinking { number, runs });
                            }
                        },
                        || number > last.load(Ordering::Relaxed) || interrupted(),
                    );
                    if tx.send(Message::Done { number, result }).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut outcome = Ok(());
        // Until every worker has stopped (their senders dropped).
        for message in rx {
            match message {
                Message::Shrinking { number, runs } => collector.shrinking(number, runs),
                // A case cut short by a stop request is not taken.
                Message::Done { .. } if interrupted() => last.store(0, Ordering::Relaxed),
                Message::Done { number, result } => {
                    if outcome.is_ok() {
                        outcome = collector.accept(number, result).map(|_| ());
                    }
                    if outcome.is_err() {
                        last.store(0, Ordering::Relaxed);
                    } else if let Some(needed) = collector.last() {
                        last.store(needed, Ordering::Relaxed);
                    }
                }
            }
        }
        outcome
    })
}
