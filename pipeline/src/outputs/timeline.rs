//! One clock and one base time shared by every pipeline of a playout.

use gst::prelude::*;

/// One clock and one base time for every pipeline of a playout.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub(crate) clock: gst::Clock,
    pub(crate) base: gst::ClockTime,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        let clock = gst::SystemClock::obtain();
        let base = clock.time();
        Timeline { clock, base }
    }

    /// Makes `pipeline` run on this timeline: same clock, fixed base time, so running time
    /// zero is the same instant everywhere, whenever the pipeline starts.
    pub(crate) fn apply(&self, pipeline: &gst::Pipeline) {
        pipeline.use_clock(Some(&self.clock));
        pipeline.set_start_time(gst::ClockTime::NONE);
        pipeline.set_base_time(self.base);
    }

    /// Running time now.
    pub(crate) fn now(&self) -> gst::ClockTime {
        self.clock.time().saturating_sub(self.base)
    }

    /// Blocks until the running time reaches `running`.
    pub(crate) fn wait_until(&self, running: gst::ClockTime) {
        if running <= self.now() {
            return;
        }
        let id = self.clock.new_single_shot_id(self.base + running);
        // Early or unscheduled both just mean: go on with the next tick.
        if let (Err(err), _) = id.wait() {
            tracing::trace!(?err, "clock wait ended early");
        }
    }
}
