//! [`Mp4Writer`]: timed frames and audio in, a complete MP4 file out (or nothing at all).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gst::prelude::*;
use reel_clip::{AudioChunk, Chunk, ClipFormat, VideoFrame};
use serde::Serialize;

use crate::bus;
use crate::config::EncoderConfig;
use crate::encoders::{EncoderChoice, probe_encoders};
use crate::error::PipelineError;
use crate::graph::Mp4Graph;
use crate::partial_file::PartialFile;

/// How long the pipeline may make no progress before a push or `finish` gives up.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a blocked push looks again at the queue it waits on.
const BACKPRESSURE_POLL: Duration = Duration::from_millis(2);

/// What [`Mp4Writer::finish`] produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mp4Info {
    /// The final path of the file.
    pub path: PathBuf,
    /// File size in bytes.
    pub bytes: u64,
    /// The video encoder element that was used.
    pub video_encoder: String,
    /// The audio encoder element that was used.
    pub audio_encoder: String,
    /// Video frames written.
    pub frames: u64,
    /// Audio samples (per channel) written.
    pub audio_samples: u64,
}

/// Encodes one clip to H.264 + AAC/Opus in MP4.
///
/// Writes go to a hidden temporary file in the target directory; [`Mp4Writer::finish`] renames
/// it into place. Dropping the writer (or [`Mp4Writer::abort`]) stops the pipeline and removes
/// the temporary file. All methods block the calling thread: from async code, call them from a
/// blocking task.
#[derive(Debug)]
pub struct Mp4Writer {
    // Declared before `partial` so the pipeline stops before the file is removed on drop.
    graph: Option<Mp4Graph>,
    partial: Option<PartialFile>,
    final_path: PathBuf,
    format: ClipFormat,
    encoders: EncoderChoice,
    video: Feed,
    audio: Feed,
}

/// Progress of one input stream.
#[derive(Debug, Default)]
struct Feed {
    /// End time of the last chunk; the next one may not start before it.
    end_ns: u64,
    /// Frames, or samples per channel, pushed so far.
    units: u64,
}

impl Mp4Writer {
    /// Probes encoders, builds the pipeline and starts it, writing next to `final_path`.
    pub fn create(
        final_path: &Path,
        format: ClipFormat,
        cfg: &EncoderConfig,
    ) -> Result<Mp4Writer, PipelineError> {
        let encoders = probe_encoders(cfg)?;
        // Validate sizes before anything touches the file system.
        crate::graph::output_size(format, cfg)?;
        let partial = PartialFile::create(final_path)?;
        let graph = Mp4Graph::start(partial.path(), format, cfg, &encoders)?;
        tracing::debug!(
            path = %final_path.display(),
            video = %encoders.video_encoder,
            audio = %encoders.audio_encoder,
            "MP4 writer started"
        );
        Ok(Mp4Writer {
            graph: Some(graph),
            partial: Some(partial),
            final_path: final_path.to_owned(),
            format,
            encoders,
            video: Feed::default(),
            audio: Feed::default(),
        })
    }

    /// The encoders this writer uses.
    pub fn encoders(&self) -> &EncoderChoice {
        &self.encoders
    }

    /// Queues one chunk. Blocks while this stream's queue is full and the pipeline is busy
    /// with the other stream; fails early if any element has posted an error.
    pub fn push(&mut self, chunk: Chunk) -> Result<(), PipelineError> {
        let graph = self.graph.as_ref().ok_or_else(already_finished)?;
        if let Some(err) = bus::pending_error(&graph.pipeline) {
            return Err(err);
        }
        match chunk {
            Chunk::Video(frame) => push_video(graph, self.format, &mut self.video, frame),
            Chunk::Audio(audio) => push_audio(graph, self.format, &mut self.audio, audio),
        }
    }

    /// Ends both streams, waits for the muxer to finish, and moves the file into place. A clip
    /// that got no audio gets a silent track as long as its video.
    pub fn finish(mut self) -> Result<Mp4Info, PipelineError> {
        let graph = self.graph.take().ok_or_else(already_finished)?;
        let partial = self.partial.take().ok_or_else(already_finished)?;
        if self.video.units == 0 {
            return Err(PipelineError::Chunk("no video frames were pushed".into()));
        }
        if self.audio.units == 0 {
            // mp4mux turns an audio pad that saw no buffers into an empty track, and
            // discoverers and players then call the whole file corrupt.
            let samples = self.format.samples_for_frames(self.video.units);
            let silence = vec![0.0; samples as usize * usize::from(self.format.channels)];
            let chunk = self.format.audio_chunk(0, silence);
            push_audio(&graph, self.format, &mut self.audio, chunk)?;
        }
        for src in [&graph.video_src, &graph.audio_src] {
            src.end_of_stream()
                .map_err(|flow| flow_error(&graph, src, flow))?;
        }
        let temp = partial.path().to_owned();
        let progress = || {
            let size = std::fs::metadata(&temp).map(|m| m.len()).unwrap_or(0);
            (
                graph.video_src.current_level_bytes(),
                graph.audio_src.current_level_bytes(),
                size,
            )
        };
        bus::wait_for_eos(&graph.pipeline, progress, STALL_TIMEOUT)?;
        // NULL closes the file; only then is it complete on disk.
        if graph.pipeline.set_state(gst::State::Null).is_err() {
            return Err(bus::error_after_failed_state_change(
                &graph.pipeline,
                "NULL",
            ));
        }
        drop(graph);
        let bytes = partial.persist(&self.final_path)?;
        Ok(Mp4Info {
            path: self.final_path.clone(),
            bytes,
            video_encoder: self.encoders.video_encoder.clone(),
            audio_encoder: self.encoders.audio_encoder.clone(),
            frames: self.video.units,
            audio_samples: self.audio.units,
        })
    }

    /// Stops the pipeline and removes the temporary file; nothing appears at the final path.
    pub fn abort(self) {
        drop(self);
    }
}

fn already_finished() -> PipelineError {
    PipelineError::Build("the writer has already finished".into())
}

fn push_video(
    graph: &Mp4Graph,
    format: ClipFormat,
    feed: &mut Feed,
    frame: VideoFrame,
) -> Result<(), PipelineError> {
    if frame.rgb.len() != format.rgb_frame_len() {
        return Err(PipelineError::Chunk(format!(
            "frame {} has {} bytes, a {}x{} RGB frame has {}",
            frame.index,
            frame.rgb.len(),
            format.width,
            format.height,
            format.rgb_frame_len()
        )));
    }
    check_order(feed, frame.pts_ns, "video")?;
    let buffer = timed_buffer(frame.rgb, frame.pts_ns, frame.duration_ns);
    push_buffer(graph, &graph.video_src, &graph.audio_src, buffer)?;
    feed.end_ns = frame.pts_ns + frame.duration_ns;
    feed.units += 1;
    Ok(())
}

fn push_audio(
    graph: &Mp4Graph,
    format: ClipFormat,
    feed: &mut Feed,
    audio: AudioChunk,
) -> Result<(), PipelineError> {
    let channels = usize::from(format.channels);
    if !audio.samples.len().is_multiple_of(channels) {
        return Err(PipelineError::Chunk(format!(
            "audio chunk at sample {} has {} samples, not a multiple of {channels} channels",
            audio.first_sample,
            audio.samples.len()
        )));
    }
    if audio.samples.is_empty() {
        return Ok(());
    }
    check_order(feed, audio.pts_ns, "audio")?;
    let per_channel = (audio.samples.len() / channels) as u64;
    let bytes: Vec<u8> = audio.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let buffer = timed_buffer(bytes, audio.pts_ns, audio.duration_ns);
    push_buffer(graph, &graph.audio_src, &graph.video_src, buffer)?;
    feed.end_ns = audio.pts_ns + audio.duration_ns;
    feed.units += per_channel;
    Ok(())
}

fn check_order(feed: &Feed, pts_ns: u64, stream: &str) -> Result<(), PipelineError> {
    if feed.units > 0 && pts_ns < feed.end_ns {
        return Err(PipelineError::Chunk(format!(
            "{stream} chunk at {pts_ns} ns starts before the previous one ends ({} ns)",
            feed.end_ns
        )));
    }
    Ok(())
}

fn timed_buffer(data: Vec<u8>, pts_ns: u64, duration_ns: u64) -> gst::Buffer {
    let mut buffer = gst::Buffer::from_mut_slice(data);
    if let Some(meta) = buffer.get_mut() {
        meta.set_pts(gst::ClockTime::from_nseconds(pts_ns));
        meta.set_duration(gst::ClockTime::from_nseconds(duration_ns));
    }
    buffer
}

/// Backpressure: waits while `target`'s queue is over its limit, but only while `other` still
/// has data queued. When `other` runs dry the muxer is waiting for that stream, and the caller
/// can only supply it after this push returns, so waiting would deadlock; the queue then grows
/// past its limit by as much as the caller runs one stream ahead of the other.
fn push_buffer(
    graph: &Mp4Graph,
    target: &gst_app::AppSrc,
    other: &gst_app::AppSrc,
    buffer: gst::Buffer,
) -> Result<(), PipelineError> {
    let mut last_level = u64::MAX;
    let mut since = Instant::now();
    loop {
        let level = target.current_level_bytes();
        if level < target.max_bytes() || other.current_level_bytes() == 0 {
            break;
        }
        if let Some(err) = bus::pending_error(&graph.pipeline) {
            return Err(err);
        }
        if level != last_level {
            last_level = level;
            since = Instant::now();
        } else if since.elapsed() > STALL_TIMEOUT {
            return Err(PipelineError::Timeout {
                what: "the pipeline to take more data",
                waited: STALL_TIMEOUT,
            });
        }
        std::thread::sleep(BACKPRESSURE_POLL);
    }
    target
        .push_buffer(buffer)
        .map(|_| ())
        .map_err(|flow| flow_error(graph, target, flow))
}

/// A failed push usually means an element failed; prefer its error to the bare flow return.
fn flow_error(graph: &Mp4Graph, src: &gst_app::AppSrc, flow: gst::FlowError) -> PipelineError {
    bus::pending_error(&graph.pipeline).unwrap_or_else(|| PipelineError::Flow {
        element: src.name().to_string(),
        flow: format!("{flow:?}"),
    })
}
