//! [`LiveFeed`]: chunks of a clip that is still being generated, pushed into the playout.

use std::sync::Arc;

use gst::prelude::*;
use reel_clip::{Chunk, ClipFormat};

use crate::error::PipelineError;
use crate::playout::LiveStats;
use crate::source::Source;

/// The input side of a live generation on the playout. `push` blocks while the playout's
/// buffer for it is full (backpressure, at most `live_buffer_ms` ahead). Dropping the feed
/// ends the clip like [`LiveFeed::finish`]. Once the playout has replaced the generation with
/// something else, pushes fail with [`PipelineError::Flow`]: stop feeding it then.
#[derive(Debug)]
pub struct LiveFeed {
    format: ClipFormat,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    stats: Arc<LiveStats>,
    finished: bool,
}

impl LiveFeed {
    pub(crate) fn start(
        clip: ClipFormat,
        program: ClipFormat,
        buffer_frames: usize,
        stats: Arc<LiveStats>,
    ) -> Result<(LiveFeed, Source), PipelineError> {
        crate::graph::output_size(clip, &crate::EncoderConfig::default())?;
        let (source, video, audio) = Source::open_live(clip, program, buffer_frames)?;
        let feed = LiveFeed {
            format: clip,
            video,
            audio,
            stats,
            finished: false,
        };
        Ok((feed, source))
    }

    /// The clip format chunks must have.
    pub fn format(&self) -> ClipFormat {
        self.format
    }

    /// Queues one chunk, timed within the clip (frame 0 at 0 ns).
    pub fn push(&mut self, chunk: Chunk) -> Result<(), PipelineError> {
        let (src, bytes, pts, duration) = match chunk {
            Chunk::Video(frame) => {
                if frame.rgb.len() != self.format.rgb_frame_len() {
                    return Err(PipelineError::Chunk(format!(
                        "live frame {} has {} bytes, expected {}",
                        frame.index,
                        frame.rgb.len(),
                        self.format.rgb_frame_len()
                    )));
                }
                self.stats.frame_pushed();
                (&self.video, frame.rgb, frame.pts_ns, frame.duration_ns)
            }
            Chunk::Audio(audio) => {
                let bytes = audio.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                (&self.audio, bytes, audio.pts_ns, audio.duration_ns)
            }
        };
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        if let Some(meta) = buffer.get_mut() {
            meta.set_pts(gst::ClockTime::from_nseconds(pts));
            meta.set_duration(gst::ClockTime::from_nseconds(duration));
        }
        src.push_buffer(buffer)
            .map(|_| ())
            .map_err(|flow| PipelineError::Flow {
                element: src.name().to_string(),
                flow: format!("{flow:?}"),
            })
    }

    /// Ends the clip; the playout shows what is queued, then returns to the attract loop.
    pub fn finish(mut self) -> Result<(), PipelineError> {
        self.end()
    }

    fn end(&mut self) -> Result<(), PipelineError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        for src in [&self.video, &self.audio] {
            src.end_of_stream().map_err(|flow| PipelineError::Flow {
                element: src.name().to_string(),
                flow: format!("{flow:?}"),
            })?;
        }
        Ok(())
    }
}

impl Drop for LiveFeed {
    fn drop(&mut self) {
        if let Err(err) = self.end() {
            tracing::debug!(%err, "live feed ended after the playout dropped it");
        }
    }
}
