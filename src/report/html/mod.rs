//! The HTML timeline report: one self-contained page (inline CSS, script and SVG, no
//! fetches) that shows how each run went on a shared time axis. Per run, a lane for
//! the user's actions, one per replica (task runs by outcome, claims won and lost,
//! resets, sends and retries, crashes and restarts, store failures), one for the
//! receiver (every request and its answer); fault windows shade the lanes they hit;
//! the checker's violations are listed at the top of the page and flagged on the
//! timeline with their witnesses outlined. A compared scenario gets one timeline per
//! strategy on one scale, each marked where it first did something the one above did
//! not.
//!
//! - `model`: a run as lanes of items, pure data, built by `items` (into `lanes`),
//!   `bands` (fault windows) and `violations` (placed and linked to their witnesses).
//! - `layout`: the time scale, axis ticks, packing items into rows.
//! - `divergence`: where two runs of a scenario part ways.
//! - `svg`: one timeline's lanes drawn; `frame`: its violation lane and time axis;
//!   `page`: the page around the timelines.
//! - `escape`: text, attributes and JSON made safe for the page.
//! - `assets/`: the page's style, script and symbols.

mod bands;
mod divergence;
mod escape;
#[cfg(test)]
pub(crate) mod fixtures;
mod frame;
mod items;
mod lanes;
mod layout;
pub mod model;
mod page;
mod svg;
mod violations;

use crate::runner::ScenarioRun;
use crate::scenario::Scenario;

pub use bands::Band;
pub use divergence::divergence;
pub use model::{Timeline, build};

/// A scenario and its runs: one for `hasim run`, one per strategy for `hasim compare`,
/// drawn on one time scale.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// The scenario that ran.
    pub scenario: &'a Scenario,
    /// Its runs.
    pub runs: &'a [ScenarioRun],
}

/// The report page titled `title`, a section per scenario.
pub fn render(title: &str, sections: &[Section<'_>]) -> String {
    page::render(title, sections)
}
