//! Reading errors and end-of-stream from a pipeline's bus, from the caller's thread. The
//! streaming threads only post messages; nothing here runs on them.

use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::error::PipelineError;

/// How often waits wake up to look at the bus and at progress.
const POLL: Duration = Duration::from_millis(200);

/// Takes pending messages off the bus without waiting; returns the first error, if any.
pub(crate) fn pending_error(pipeline: &gst::Pipeline) -> Option<PipelineError> {
    let bus = pipeline.bus()?;
    while let Some(message) = bus.pop() {
        match message.view() {
            gst::MessageView::Error(err) => return Some(PipelineError::from_bus_error(err)),
            gst::MessageView::Warning(warning) => log_warning(warning),
            _ => {}
        }
    }
    None
}

/// Explains a failed `set_state`: the error the failing element posted, if there is one.
pub(crate) fn error_after_failed_state_change(
    pipeline: &gst::Pipeline,
    state: &str,
) -> PipelineError {
    let error = pipeline.bus().and_then(|bus| {
        bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(500),
            &[gst::MessageType::Error],
        )
    });
    match error.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(err)) => PipelineError::from_bus_error(err),
        _ => PipelineError::StateChange(state.to_owned()),
    }
}

/// Waits for EOS (or an error). Gives up only after `stall` without EOS and without a change in
/// `progress`, so long clips with much queued data are not cut off by a fixed deadline.
pub(crate) fn wait_for_eos<P: PartialEq>(
    pipeline: &gst::Pipeline,
    mut progress: impl FnMut() -> P,
    stall: Duration,
) -> Result<(), PipelineError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| PipelineError::Build("pipeline has no bus".into()))?;
    let poll = gst::ClockTime::from_mseconds(POLL.as_millis() as u64);
    let mut last_progress = progress();
    let mut since = Instant::now();
    loop {
        let message = bus.timed_pop_filtered(
            poll,
            &[
                gst::MessageType::Eos,
                gst::MessageType::Error,
                gst::MessageType::Warning,
            ],
        );
        match message.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => return Ok(()),
            Some(gst::MessageView::Error(err)) => return Err(PipelineError::from_bus_error(err)),
            Some(gst::MessageView::Warning(warning)) => log_warning(warning),
            _ => {}
        }
        let now = progress();
        if now != last_progress {
            last_progress = now;
            since = Instant::now();
        } else if since.elapsed() > stall {
            return Err(PipelineError::Timeout {
                what: "end of stream",
                waited: stall,
            });
        }
    }
}

fn log_warning(warning: &gst::message::Warning) {
    tracing::warn!(
        element = warning.src().map(|s| s.name().to_string()).unwrap_or_default(),
        message = %warning.error(),
        debug = warning.debug().map(|d| d.to_string()).unwrap_or_default(),
        "GStreamer warning"
    );
}
