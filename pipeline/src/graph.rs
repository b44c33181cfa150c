//! Construction of the MP4 encoding pipeline. The equivalent launch line is in the crate docs.

use std::path::Path;

use gst::prelude::*;
use reel_clip::ClipFormat;

use crate::bus;
use crate::config::EncoderConfig;
use crate::encoders::{self, EncoderChoice, capsfilter, make_element};
use crate::error::PipelineError;

/// The running pipeline and its two inputs. Dropping it stops the pipeline.
#[derive(Debug)]
pub(crate) struct Mp4Graph {
    pub(crate) pipeline: gst::Pipeline,
    pub(crate) video_src: gst_app::AppSrc,
    pub(crate) audio_src: gst_app::AppSrc,
}

impl Mp4Graph {
    /// Builds the pipeline writing to `location` and sets it to PLAYING.
    pub(crate) fn start(
        location: &Path,
        format: ClipFormat,
        cfg: &EncoderConfig,
        choice: &EncoderChoice,
    ) -> Result<Mp4Graph, PipelineError> {
        let pipeline = gst::Pipeline::with_name("reel-mp4");
        let mux = make_element("mp4mux", "mux")?;
        // moov first, so players and browsers can start before the whole file is read.
        mux.set_property("faststart", true);
        let sink = make_element("filesink", "file-sink")?;
        sink.set_property("location", location.to_string_lossy().as_ref());
        add_chain(&pipeline, &[&mux, &sink])?;

        let video_src = appsrc("video-src", video_caps(format)?, video_queue_bytes(format));
        let mut video = vec![video_src.clone().upcast::<gst::Element>()];
        video.push(make_element("videoconvert", "video-convert")?);
        // Scale in I420: a quarter of the work of RGB, and what every encoder here takes.
        let i420 = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .build();
        video.push(capsfilter("video-format", i420)?);
        let (width, height) = output_size(format, cfg)?;
        if (width, height) != (format.width, format.height) {
            let scale = make_element("videoscale", "video-scale")?;
            scale.set_property_from_str("method", "lanczos");
            video.push(scale);
            let size = gst::Caps::builder("video/x-raw")
                .field("width", i32_of(width, "width")?)
                .field("height", i32_of(height, "height")?)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build();
            video.push(capsfilter("video-size", size)?);
        }
        video.extend(encoders::video_encoder_chain(
            choice,
            cfg.video_bitrate_kbps,
        )?);
        video.push(make_element("h264parse", "video-parse")?);
        add_chain(&pipeline, &video.iter().collect::<Vec<_>>())?;
        link_to_mux(video.last(), &mux, "video_%u")?;

        let audio_src = appsrc("audio-src", audio_caps(format)?, audio_queue_bytes(format));
        let mut audio = vec![audio_src.clone().upcast::<gst::Element>()];
        audio.push(make_element("audioconvert", "audio-convert")?);
        audio.push(make_element("audioresample", "audio-resample")?);
        audio.extend(encoders::audio_encoder_chain(
            choice,
            cfg.audio_bitrate_kbps,
        )?);
        add_chain(&pipeline, &audio.iter().collect::<Vec<_>>())?;
        link_to_mux(audio.last(), &mux, "audio_%u")?;

        let graph = Mp4Graph {
            pipeline,
            video_src,
            audio_src,
        };
        if graph.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(bus::error_after_failed_state_change(
                &graph.pipeline,
                "PLAYING",
            ));
        }
        Ok(graph)
    }
}

impl Drop for Mp4Graph {
    fn drop(&mut self) {
        if let Err(err) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(%err, "could not stop the MP4 pipeline");
        }
    }
}

/// Output size: the clip's, or the configured one with a missing side following the aspect.
pub(crate) fn output_size(
    format: ClipFormat,
    cfg: &EncoderConfig,
) -> Result<(u32, u32), PipelineError> {
    check_format(format)?;
    let follow = |set: u32, from: u32, to: u32| {
        // Round up to an even size: 4:2:0 H.264 needs even dimensions.
        let exact = u64::from(set) * u64::from(to) / u64::from(from).max(1);
        (exact.div_ceil(2) * 2).max(2) as u32
    };
    let (width, height) = match (cfg.width, cfg.height) {
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, follow(w, format.width, format.height)),
        (None, Some(h)) => (follow(h, format.height, format.width), h),
        (None, None) => (format.width, format.height),
    };
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(PipelineError::Config(format!(
            "output size {width}x{height} must be even and non-zero for 4:2:0 H.264; \
             set `width` and `height` in the encoder configuration"
        )));
    }
    Ok((width, height))
}

fn check_format(format: ClipFormat) -> Result<(), PipelineError> {
    if format.width == 0 || format.height == 0 {
        return Err(PipelineError::Config(format!(
            "clip size {}x{} is empty",
            format.width, format.height
        )));
    }
    if format.fps_num == 0 || format.fps_den == 0 {
        return Err(PipelineError::Config(format!(
            "frame rate {}/{} is invalid",
            format.fps_num, format.fps_den
        )));
    }
    if format.sample_rate == 0 || format.channels == 0 {
        return Err(PipelineError::Config(format!(
            "audio {} Hz x {} channels is invalid",
            format.sample_rate, format.channels
        )));
    }
    Ok(())
}

fn i32_of(value: u32, what: &str) -> Result<i32, PipelineError> {
    i32::try_from(value).map_err(|_| PipelineError::Config(format!("{what} {value} is too large")))
}

pub(crate) fn video_caps(format: ClipFormat) -> Result<gst::Caps, PipelineError> {
    let fps = gst::Fraction::new(
        i32_of(format.fps_num, "fps")?,
        i32_of(format.fps_den, "fps")?,
    );
    gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, format.width, format.height)
        .fps(fps)
        .build()
        .and_then(|info| info.to_caps())
        .map_err(|err| PipelineError::Config(format!("video format {format:?}: {err}")))
}

pub(crate) fn audio_caps(format: ClipFormat) -> Result<gst::Caps, PipelineError> {
    gst_audio::AudioInfo::builder(
        gst_audio::AudioFormat::F32le,
        format.sample_rate,
        u32::from(format.channels),
    )
    .layout(gst_audio::AudioLayout::Interleaved)
    .build()
    .and_then(|info| info.to_caps())
    .map_err(|err| PipelineError::Config(format!("audio format {format:?}: {err}")))
}

/// About one second of raw frames (at least two), the appsrc's backpressure threshold.
fn video_queue_bytes(format: ClipFormat) -> u64 {
    let frames = u64::from(format.fps_num.div_ceil(format.fps_den)).max(2);
    frames * format.rgb_frame_len() as u64
}

/// One second of f32 samples.
fn audio_queue_bytes(format: ClipFormat) -> u64 {
    u64::from(format.sample_rate) * u64::from(format.channels) * 4
}

pub(crate) fn appsrc(name: &str, caps: gst::Caps, max_bytes: u64) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .name(name)
        .caps(&caps)
        .format(gst::Format::Time)
        .is_live(false)
        .stream_type(gst_app::AppStreamType::Stream)
        .max_bytes(max_bytes)
        // The writer applies backpressure itself (see `Mp4Writer::push`): appsrc's own
        // blocking deadlocks when a caller pushes one stream ahead of the other.
        .block(false)
        .build()
}

pub(crate) fn add_chain(
    pipeline: &gst::Pipeline,
    elements: &[&gst::Element],
) -> Result<(), PipelineError> {
    pipeline
        .add_many(elements.iter().copied())
        .map_err(|err| PipelineError::Build(format!("adding elements: {err}")))?;
    gst::Element::link_many(elements.iter().copied()).map_err(|err| {
        let names: Vec<_> = elements.iter().map(|e| e.name().to_string()).collect();
        PipelineError::Build(format!("linking {}: {err}", names.join(" ! ")))
    })
}

fn link_to_mux(
    last: Option<&gst::Element>,
    mux: &gst::Element,
    template: &str,
) -> Result<(), PipelineError> {
    let last = last.ok_or_else(|| PipelineError::Build("empty branch".into()))?;
    let sink = mux
        .request_pad_simple(template)
        .ok_or_else(|| PipelineError::Build(format!("mp4mux gave no `{template}` pad")))?;
    let src = last
        .static_pad("src")
        .ok_or_else(|| PipelineError::Build(format!("`{}` has no src pad", last.name())))?;
    src.link(&sink).map(|_| ()).map_err(|err| {
        PipelineError::Build(format!("linking `{}` to mp4mux: {err:?}", last.name()))
    })
}
