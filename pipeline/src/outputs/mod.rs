//! Live outputs, each in a pipeline of its own fed through `appsrc`s, so that one failing
//! output (a full disk under HLS, a vanished display) is torn down alone while the others and the
//! program carry on. All of them share one clock and base time with the playout (see
//! [`Timeline`]), so a buffer's timestamp means the same instant in every pipeline and the
//! encoded buffers can be handed on unchanged.
//!
//! The pipelines themselves are in `pipelines`, the shared clock in `timeline`.

mod pipelines;
mod timeline;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::error::PipelineError;

pub(crate) use pipelines::{audio_payloader, display, hls, srt, udp};
pub(crate) use timeline::Timeline;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Which stream a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Video,
    Audio,
}

/// One output's inputs. `pipeline` is `None` for RTSP media, which the server owns.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) pipeline: Option<gst::Pipeline>,
    pub(crate) video: Option<gst_app::AppSrc>,
    pub(crate) audio: Option<gst_app::AppSrc>,
    /// H.264 decoders need a keyframe first: deltas are skipped until one comes.
    pub(super) waiting_key: bool,
}

impl Output {
    pub(crate) fn new(
        name: &str,
        pipeline: Option<gst::Pipeline>,
        video: Option<gst_app::AppSrc>,
        audio: Option<gst_app::AppSrc>,
    ) -> Output {
        Output {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_owned(),
            pipeline,
            video,
            audio,
            waiting_key: true,
        }
    }

    fn stop(&self) {
        if let Some(pipeline) = &self.pipeline
            && pipeline.set_state(gst::State::Null).is_err()
        {
            tracing::warn!(output = %self.name, "could not stop output pipeline");
        }
    }
}

/// Hands samples to every registered output without ever blocking: a full queue drops the
/// sample (and, for video, everything up to the next keyframe), so a slow client or disk
/// cannot stall the program or the other outputs.
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    outputs: Mutex<Vec<Output>>,
    failed: Mutex<Vec<String>>,
}

impl Fanout {
    pub(crate) fn add(&self, output: Output) {
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.push(output);
        }
    }

    pub(crate) fn remove(&self, id: u64) {
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.retain(|o| o.id != id);
        }
    }

    /// Names of the outputs now fed.
    pub(crate) fn names(&self) -> Vec<String> {
        self.outputs
            .lock()
            .map(|o| o.iter().map(|o| o.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Outputs that failed and were removed, with the reason.
    pub(crate) fn failures(&self) -> Vec<String> {
        self.failed.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub(crate) fn push(&self, stream: Stream, sample: &gst::Sample) {
        let Ok(mut outputs) = self.outputs.lock() else {
            return;
        };
        let Some(sample) = to_running_time(sample) else {
            return;
        };
        let sample = &sample;
        let delta = sample
            .buffer()
            .is_some_and(|b| b.flags().contains(gst::BufferFlags::DELTA_UNIT));
        for output in outputs.iter_mut() {
            let src = match stream {
                Stream::Video => output.video.as_ref(),
                Stream::Audio => output.audio.as_ref(),
            };
            let Some(src) = src else { continue };
            if stream == Stream::Video {
                if output.waiting_key && delta {
                    continue;
                }
                output.waiting_key = false;
            }
            if src.current_level_bytes() >= src.max_bytes() {
                if stream == Stream::Video {
                    output.waiting_key = true;
                }
                tracing::debug!(output = %output.name, "output queue full; dropping");
                continue;
            }
            if let Err(flow) = src.push_sample(sample) {
                // Flushing happens while an RTSP media changes state: it is not a failure (the
                // media's `unprepared` signal or the output's bus tells that), but what follows
                // must start at a keyframe.
                tracing::debug!(output = %output.name, ?flow, "output did not take a sample");
                if stream == Stream::Video {
                    output.waiting_key = true;
                }
            }
        }
    }

    pub(crate) fn end_of_stream(&self, stream: Stream) {
        let Ok(outputs) = self.outputs.lock() else {
            return;
        };
        for output in outputs.iter() {
            let src = match stream {
                Stream::Video => output.video.as_ref(),
                Stream::Audio => output.audio.as_ref(),
            };
            if let Some(src) = src
                && let Err(flow) = src.end_of_stream()
            {
                tracing::debug!(output = %output.name, ?flow, "EOS not taken");
            }
        }
    }

    /// Removes outputs whose pipeline posted an error; returns the errors for the caller to
    /// report. Never blocks on the network or the disk.
    pub(crate) fn reap_failed(&self) -> Vec<PipelineError> {
        let Ok(mut outputs) = self.outputs.lock() else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        outputs.retain(|output| {
            let error = output.pipeline.as_ref().and_then(crate::bus::pending_error);
            match error {
                Some(err) => {
                    tracing::error!(output = %output.name, %err, "output failed; removed");
                    if let Ok(mut failed) = self.failed.lock() {
                        failed.push(format!("{}: {err}", output.name));
                    }
                    output.stop();
                    errors.push(err);
                    false
                }
                None => true,
            }
        });
        errors
    }

    /// After [`Fanout::end_of_stream`]: waits (up to `deadline`) for each owned pipeline to
    /// finish its files, then stops all of them.
    pub(crate) fn finish(&self, deadline: Instant) {
        let Ok(mut outputs) = self.outputs.lock() else {
            return;
        };
        for output in outputs.drain(..) {
            if let Some(bus) = output.pipeline.as_ref().and_then(|p| p.bus()) {
                let left = deadline.saturating_duration_since(Instant::now());
                let left = gst::ClockTime::from_nseconds(left.as_nanos() as u64);
                let types = [gst::MessageType::Eos, gst::MessageType::Error];
                if bus.timed_pop_filtered(left, &types).is_none() {
                    tracing::warn!(output = %output.name, "no EOS before the deadline");
                }
            }
            output.stop();
        }
    }
}

/// The sample with its timestamps turned into running time, in a sample without a segment.
///
/// Encoders put their output in a segment of their own: `GstVideoEncoder` starts it at 1000 h
/// to leave room for a DTS before the PTS, so an H.264 buffer's PTS is 1000 h plus the running
/// time. The outputs' `appsrc`s start their segments at zero and ignore the sample's segment,
/// so the raw PTS would put every video buffer 1000 hours in the future: sinks that sync (the
/// RTSP server's) waited for it forever and `mpegtsmux` saw video and audio 1000 h apart.
/// Running time is what all pipelines of a playout share (one clock, one base time).
fn to_running_time(sample: &gst::Sample) -> Option<gst::Sample> {
    let buffer = sample.buffer()?;
    let segment = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>());
    let Some(segment) = segment else {
        return Some(sample.clone());
    };
    let pts = buffer.pts().and_then(|t| segment.to_running_time(t));
    // A DTS before the segment start has no running time; without B-frames (zerolatency) it
    // equals the PTS anyway.
    let dts = buffer
        .dts()
        .and_then(|t| segment.to_running_time(t))
        .or(pts);
    let mut buffer = buffer.copy();
    {
        let buffer = buffer.make_mut();
        buffer.set_pts(pts);
        buffer.set_dts(dts);
    }
    let caps = sample.caps_owned();
    let builder = gst::Sample::builder().buffer(&buffer);
    Some(match &caps {
        Some(caps) => builder.caps(caps).build(),
        None => builder.build(),
    })
}

/// Sets the properties every bridging `appsrc` needs: live, timed by us, bounded.
pub(crate) fn configure_appsrc(src: &gst_app::AppSrc, max_bytes: u64) {
    src.set_format(gst::Format::Time);
    src.set_is_live(true);
    src.set_do_timestamp(false);
    src.set_stream_type(gst_app::AppStreamType::Stream);
    src.set_max_bytes(max_bytes);
    src.set_block(false);
}

/// How long shutdown waits for outputs to write their last segment by default.
pub(crate) const FINISH_GRACE: Duration = Duration::from_secs(5);
