//! The feeder thread: one tick per program frame. Each tick it applies commands, lets the
//! sources fill their queues, decides what is on air, waits for the frame's time on the shared
//! clock (minus the lead), and pushes one frame and its audio into the encoder and the display.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use reel_clip::ClipFormat;

use super::{LiveStats, PlayoutStatus};
use crate::error::PipelineError;
use crate::live_encode::LiveEncoder;
use crate::outputs::{Fanout, Stream, Timeline};
use crate::rtsp::RtspServer;
use crate::slate::{Slate, SlateInfo};
use crate::source::Source;

/// Requests from [`super::PlayoutHandle`].
#[derive(Debug)]
pub(crate) enum Command {
    ShowClip(PathBuf, Instant),
    Live(Box<Source>, Arc<LiveStats>, Instant),
    SetPlaylist(Vec<PathBuf>),
    SetAttract(bool),
    Slate(Option<SlateInfo>),
    Shutdown(SyncSender<Result<(), PipelineError>>, Duration),
}

/// What a tick can show.
#[derive(Debug)]
enum Program {
    Slate,
    Clip(Box<Source>),
    Live(Box<Source>, Arc<LiveStats>),
}

impl Program {
    fn source(&mut self) -> Option<&mut Source> {
        match self {
            Program::Slate => None,
            Program::Clip(s) | Program::Live(s, _) => Some(s),
        }
    }

    fn label(&self) -> String {
        match self {
            Program::Slate => "slate".into(),
            Program::Clip(s) => format!("clip {}", s.label),
            Program::Live(..) => "live".into(),
        }
    }
}

/// Everything the feeder owns; dropped (and so stopped) when the thread ends.
#[derive(Debug)]
pub(crate) struct Feeder {
    pub(crate) format: ClipFormat,
    pub(crate) lead: gst::ClockTime,
    pub(crate) preroll_frames: usize,
    pub(crate) buffer_frames: usize,
    pub(crate) timeline: Timeline,
    pub(crate) encoder: Option<LiveEncoder>,
    pub(crate) encoded: Arc<Fanout>,
    pub(crate) raw: Arc<Fanout>,
    pub(crate) rtsp: Option<RtspServer>,
    pub(crate) status: Arc<Mutex<PlayoutStatus>>,
    pub(crate) attract: bool,
    pub(crate) playlist: Vec<PathBuf>,
    pub(crate) video_caps: gst::Caps,
    pub(crate) audio_caps: gst::Caps,
    pub(crate) slate: Slate,
}

/// The parts of the feeder's state that change tick by tick.
#[derive(Debug)]
struct State {
    tick: u64,
    current: Program,
    requested: bool,
    pending: Option<(Program, Instant)>,
    prepared: Option<(usize, Box<Source>)>,
    next_index: usize,
    slate_on: bool,
    last_frame: Option<gst::Buffer>,
}

impl Feeder {
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        let mut state = State {
            tick: 0,
            current: Program::Slate,
            requested: false,
            pending: None,
            prepared: None,
            next_index: 0,
            slate_on: false,
            last_frame: None,
        };
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Shutdown(reply, timeout)) => {
                        drop(state);
                        let outcome = self.shutdown(timeout);
                        if reply.send(outcome).is_err() {
                            tracing::debug!("nobody waits for the playout shutdown");
                        }
                        return;
                    }
                    Ok(command) => self.apply(&mut state, command),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        drop(state);
                        if let Err(err) = self.shutdown(crate::outputs::FINISH_GRACE) {
                            tracing::warn!(%err, "playout shutdown after its handle was dropped");
                        }
                        return;
                    }
                }
            }
            self.fill(&mut state);
            self.choose(&mut state);
            let (frame, audio) = self.produce(&mut state);
            let pts = self.format.frame_pts(state.tick);
            self.timeline
                .wait_until(gst::ClockTime::from_nseconds(pts).saturating_sub(self.lead));
            self.push(&state, frame, audio);
            state.tick += 1;
            self.report(&state);
        }
    }

    fn apply(&mut self, state: &mut State, command: Command) {
        match command {
            Command::ShowClip(path, at) => {
                match Source::open_file(&path, self.format, self.buffer_frames) {
                    Ok(source) => state.pending = Some((Program::Clip(Box::new(source)), at)),
                    Err(err) => self.error(&err),
                }
            }
            Command::Live(source, stats, at) => {
                state.pending = Some((Program::Live(source, stats), at))
            }
            Command::SetPlaylist(playlist) => {
                self.playlist = playlist;
                state.next_index = 0;
                state.prepared = None;
            }
            Command::SetAttract(on) => self.attract = on,
            Command::Slate(Some(info)) => {
                self.slate.set(info);
                state.slate_on = true;
                if !state.requested {
                    state.current = Program::Slate;
                }
            }
            Command::Slate(None) => state.slate_on = false,
            Command::Shutdown(..) => {}
        }
    }

    fn fill(&self, state: &mut State) {
        let failed = |source: &mut Source| source.fill().map_err(|err| self.error(&err)).is_err();
        if state.current.source().is_some_and(failed) {
            state.current = Program::Slate;
            state.requested = false;
        }
        if state
            .pending
            .as_mut()
            .and_then(|(p, _)| p.source())
            .is_some_and(failed)
        {
            state.pending = None;
        }
        if state.prepared.as_mut().is_some_and(|(_, s)| failed(s)) {
            state.prepared = None;
        }
    }

    /// Decides what this tick shows. A program only goes on air with its first frame ready,
    /// which is what keeps a switch free of black or frozen frames.
    fn choose(&self, state: &mut State) {
        let pending_ready = match state.pending.as_mut() {
            Some((Program::Clip(s), _)) => s.buffered_frames() > 0 || s.is_done(),
            Some((Program::Live(s, stats), _)) => {
                let enough = s.buffered_frames() >= self.preroll_frames;
                let fast = stats.frames_per_second()
                    >= f64::from(self.format.fps_num) / f64::from(self.format.fps_den);
                (enough && fast) || s.input_ended() || s.is_full()
            }
            _ => false,
        };
        if pending_ready && let Some((program, at)) = state.pending.take() {
            tracing::info!(program = %program.label(), waited = ?at.elapsed(), "on air");
            self.switched(at);
            state.current = program;
            state.requested = true;
            state.slate_on = false;
            return;
        }
        let done = state.current.source().is_some_and(|s| s.is_done());
        let idle_slate = matches!(state.current, Program::Slate) && !state.slate_on;
        let attract_off =
            !state.requested && !self.attract && !matches!(state.current, Program::Slate);
        if done || attract_off {
            state.current = Program::Slate;
            state.requested = false;
        }
        if !self.attract || self.playlist.is_empty() || state.slate_on {
            return;
        }
        let index = state.next_index % self.playlist.len();
        if state.prepared.as_ref().is_none_or(|(i, _)| *i != index) {
            state.prepared =
                Source::open_file(&self.playlist[index], self.format, self.buffer_frames)
                    .map_err(|err| self.error(&err))
                    .ok()
                    .map(|source| (index, Box::new(source)));
            if state.prepared.is_none() {
                // Skip a broken playlist entry next time instead of retrying it every tick.
                state.next_index = index + 1;
            }
        }
        let ready = state
            .prepared
            .as_ref()
            .is_some_and(|(_, s)| s.buffered_frames() > 0);
        if (done || idle_slate)
            && ready
            && let Some((_, source)) = state.prepared.take()
        {
            state.current = Program::Clip(source);
            state.next_index = index + 1;
            self.switched(Instant::now());
        }
    }

    /// This tick's frame and audio; an underrun repeats the last frame with silence.
    fn produce(&mut self, state: &mut State) -> (gst::Buffer, Vec<f32>) {
        let count = self.format.samples_for_frames(state.tick + 1)
            - self.format.samples_for_frames(state.tick);
        let silence = || vec![0.0; count as usize * usize::from(self.format.channels)];
        let tick = state.tick;
        let from_source = state.current.source().map(|s| s.next_tick(count));
        let (frame, audio) = match from_source {
            Some(Some((frame, audio))) => (frame, audio),
            Some(None) => {
                self.count(|s| s.repeated_frames += 1);
                let frame = state.last_frame.clone();
                let frame =
                    frame.unwrap_or_else(|| gst::Buffer::from_mut_slice(self.slate.frame(tick)));
                (frame, silence())
            }
            None => (
                gst::Buffer::from_mut_slice(self.slate.frame(tick)),
                silence(),
            ),
        };
        state.last_frame = Some(frame.clone());
        (frame, audio)
    }

    fn push(&self, state: &State, frame: gst::Buffer, audio: Vec<f32>) {
        let pts = self.format.frame_pts(state.tick);
        let duration = self.format.frame_pts(state.tick + 1) - pts;
        let mut frame = frame.copy();
        stamp(frame.make_mut(), pts, duration);
        let first = self.format.samples_for_frames(state.tick);
        let audio_pts = self.format.sample_pts(first);
        let audio_duration = self
            .format
            .sample_pts(self.format.samples_for_frames(state.tick + 1))
            - audio_pts;
        let bytes: Vec<u8> = audio.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut sound = gst::Buffer::from_mut_slice(bytes);
        stamp(sound.make_mut(), audio_pts, audio_duration);
        if let Some(encoder) = &self.encoder {
            for (src, buffer) in [(&encoder.video, &frame), (&encoder.audio, &sound)] {
                if src.current_level_bytes() >= src.max_bytes() {
                    // The encoder is slower than real time: drop rather than grow without bound.
                    self.count(|s| s.dropped_frames += 1);
                } else if let Err(flow) = src.push_buffer(buffer.clone()) {
                    tracing::debug!(?flow, "live encoder refused a buffer");
                }
            }
        }
        let video = gst::Sample::builder()
            .buffer(&frame)
            .caps(&self.video_caps)
            .build();
        self.raw.push(Stream::Video, &video);
        let sound = gst::Sample::builder()
            .buffer(&sound)
            .caps(&self.audio_caps)
            .build();
        self.raw.push(Stream::Audio, &sound);
    }

    fn report(&self, state: &State) {
        let mut errors = self.encoded.reap_failed();
        errors.extend(self.raw.reap_failed());
        if let Some(encoder) = &self.encoder
            && let Some(err) = crate::bus::pending_error(&encoder.pipeline)
        {
            errors.push(err);
        }
        for err in &errors {
            self.error(err);
        }
        if let Ok(mut status) = self.status.lock() {
            status.ticks = state.tick;
            status.running_time_ns = self.format.frame_pts(state.tick);
            status.on_air = state.current.label();
            status.outputs = self.encoded.names();
            status.outputs.extend(self.raw.names());
            status.failed_outputs = self.encoded.failures();
            status.failed_outputs.extend(self.raw.failures());
        }
    }

    fn shutdown(mut self, timeout: Duration) -> Result<(), PipelineError> {
        let deadline = Instant::now() + timeout;
        let left = |d: Instant| {
            gst::ClockTime::from_nseconds(
                d.saturating_duration_since(Instant::now()).as_nanos() as u64
            )
        };
        if let Some(encoder) = self.encoder.take() {
            for src in [&encoder.video, &encoder.audio] {
                if let Err(flow) = src.end_of_stream() {
                    tracing::debug!(?flow, "encoder did not take EOS");
                }
            }
            // The appsinks hand EOS on to the outputs, which then finish their files.
            if let Some(bus) = encoder.pipeline.bus() {
                bus.timed_pop_filtered(
                    left(deadline),
                    &[gst::MessageType::Eos, gst::MessageType::Error],
                );
            }
            self.encoded.finish(deadline);
        }
        self.raw.end_of_stream(Stream::Video);
        self.raw.end_of_stream(Stream::Audio);
        self.raw.finish(deadline);
        self.rtsp = None;
        if let Ok(mut status) = self.status.lock() {
            status.running = false;
        }
        if Instant::now() > deadline {
            return Err(PipelineError::Timeout {
                what: "the playout outputs to finish",
                waited: timeout,
            });
        }
        Ok(())
    }

    fn switched(&self, requested: Instant) {
        let latency = requested.elapsed();
        self.count(|s| {
            s.switches += 1;
            s.last_switch_latency = Some(latency);
        });
    }

    fn error(&self, err: &PipelineError) {
        tracing::error!(%err, "playout");
        self.count(|s| {
            // The most recent errors only: a flapping output must not grow memory.
            if s.errors.len() >= 20 {
                s.errors.remove(0);
            }
            s.errors.push(err.to_string());
        });
    }

    fn count(&self, update: impl FnOnce(&mut PlayoutStatus)) {
        if let Ok(mut status) = self.status.lock() {
            update(&mut status);
        }
    }
}

fn stamp(buffer: &mut gst::BufferRef, pts: u64, duration: u64) {
    buffer.set_pts(gst::ClockTime::from_nseconds(pts));
    buffer.set_duration(gst::ClockTime::from_nseconds(duration));
    buffer.unset_flags(gst::BufferFlags::DISCONT);
}
