//! Encoder selection by element availability, and the elements each choice needs.
//!
//! Bitrate units differ between plugins (x264enc takes kbit/s, the others bit/s), so only the
//! encoders listed here get a bitrate; another element named in the configuration is accepted
//! when its output fits the muxer, and runs with its own defaults.

use gst::prelude::*;
use serde::Serialize;

use crate::config::{AUTO, EncoderConfig};
use crate::error::PipelineError;

/// Jetson's hardware encoder; it needs `nvvidconv` to move frames into NVMM memory.
const JETSON_H264: &str = "nvv4l2h264enc";
const VIDEO_CANDIDATES: [&str; 3] = [JETSON_H264, "x264enc", "openh264enc"];
const AUDIO_CANDIDATES: [&str; 3] = ["avenc_aac", "voaacenc", "opusenc"];

/// The encoders a writer will use, as element factory names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncoderChoice {
    /// H.264 encoder element, e.g. `x264enc`.
    pub video_encoder: String,
    /// AAC or Opus encoder element, e.g. `avenc_aac`.
    pub audio_encoder: String,
}

/// Resolves `"auto"` and checks explicitly named encoders, without building a pipeline.
pub fn probe_encoders(cfg: &EncoderConfig) -> Result<EncoderChoice, PipelineError> {
    crate::init()?;
    Ok(EncoderChoice {
        video_encoder: pick(Kind::Video, &cfg.video_encoder)?,
        audio_encoder: pick(Kind::Audio, &cfg.audio_encoder)?,
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Video,
    Audio,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Video => "video",
            Kind::Audio => "audio",
        }
    }

    fn candidates(self) -> &'static [&'static str] {
        match self {
            Kind::Video => &VIDEO_CANDIDATES,
            Kind::Audio => &AUDIO_CANDIDATES,
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Kind::Video => {
                "gstreamer1.0-plugins-ugly (x264enc) or gstreamer1.0-plugins-bad (openh264enc)"
            }
            Kind::Audio => {
                "gstreamer1.0-libav (avenc_aac), gstreamer1.0-plugins-bad (voaacenc) \
                 or gstreamer1.0-plugins-base (opusenc)"
            }
        }
    }

    /// Encoded formats mp4mux takes on 1.22 that we know how to parse for it.
    fn accepted_outputs(self) -> &'static [&'static str] {
        match self {
            Kind::Video => &["video/x-h264"],
            Kind::Audio => &["audio/mpeg, mpegversion=(int)4", "audio/x-opus"],
        }
    }
}

fn pick(kind: Kind, configured: &str) -> Result<String, PipelineError> {
    if configured != AUTO {
        check_named(kind, configured)?;
        return Ok(configured.to_owned());
    }
    kind.candidates()
        .iter()
        .find(|name| gst::ElementFactory::find(name).is_some())
        .map(|name| (*name).to_owned())
        .ok_or_else(|| PipelineError::NoEncoder {
            kind: kind.name(),
            tried: kind.candidates().join(", "),
            install: kind.install_hint(),
        })
}

fn check_named(kind: Kind, element: &str) -> Result<(), PipelineError> {
    let unsuitable = |reason: String| PipelineError::UnsuitableEncoder {
        kind: kind.name(),
        element: element.to_owned(),
        reason,
    };
    let factory = gst::ElementFactory::find(element).ok_or_else(|| {
        unsuitable(format!(
            "not installed: no GStreamer element has that name (see `gst-inspect-1.0 {element}`); \
             use \"auto\" or install {}",
            kind.install_hint()
        ))
    })?;
    let fits = kind.accepted_outputs().iter().any(|caps| {
        caps.parse::<gst::Caps>()
            .is_ok_and(|caps| factory.can_src_any_caps(&caps))
    });
    if fits {
        Ok(())
    } else {
        Err(unsuitable(format!(
            "its output is none of {}",
            kind.accepted_outputs().join("; ")
        )))
    }
}

/// Creates an element, naming the package that provides it when it is missing.
pub(crate) fn make_element(factory: &str, name: &str) -> Result<gst::Element, PipelineError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| PipelineError::MissingElement {
            element: factory.to_owned(),
            package: package_of(factory),
        })
}

fn package_of(factory: &str) -> String {
    let package = match factory {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "openh264enc" | "voaacenc" | "h264parse" | "videoparsersbad" | "hlssink2" | "mpegtsmux"
        | "srtsink" | "srtsrc" | "kmssink" | "waylandsink" => "gstreamer1.0-plugins-bad",
        "rtph264pay" | "rtpmp4gpay" | "rtpopuspay" | "udpsink" | "rtspsrc" | "v4l2src" => {
            "gstreamer1.0-plugins-good"
        }
        "pulsesrc" => "gstreamer1.0-pulseaudio",
        "alsasrc" => "gstreamer1.0-alsa",
        "glimagesink" => "gstreamer1.0-gl",
        "mp4mux" | "aacparse" | "qtdemux" => "gstreamer1.0-plugins-good",
        "avenc_aac" => "gstreamer1.0-libav",
        "nvv4l2h264enc" | "nvvidconv" => "NVIDIA's L4T GStreamer plugins (nvidia-l4t-gstreamer)",
        _ => "gstreamer1.0-plugins-base",
    };
    package.to_owned()
}

/// The elements between the I420 (optionally scaled) video and `h264parse`.
pub(crate) fn video_encoder_chain(
    choice: &EncoderChoice,
    bitrate_kbps: u32,
) -> Result<Vec<gst::Element>, PipelineError> {
    let encoder = make_element(&choice.video_encoder, "video-encoder")?;
    let bits = u64::from(bitrate_kbps) * 1000;
    match choice.video_encoder.as_str() {
        "x264enc" => {
            encoder.set_property_from_str("bitrate", &bitrate_kbps.to_string());
            // With frame threads, x264's output depends on thread timing: under load the same
            // frames encoded differently about 1 run in 8 here. One thread makes the same seed
            // give the same file, at the cost of encode speed on large outputs.
            encoder.set_property("threads", 1u32);
        }
        "openh264enc" => {
            // Its default rate control ("quality") ignores the bitrate.
            encoder.set_property_from_str("rate-control", "bitrate");
            encoder.set_property_from_str("bitrate", &bits.to_string());
        }
        JETSON_H264 => {
            encoder.set_property_from_str("bitrate", &bits.to_string());
            // Without SPS/PPS in-band, h264parse cannot build the avcC that mp4mux needs.
            encoder.set_property_from_str("insert-sps-pps", "true");
            let convert = make_element("nvvidconv", "video-nvconvert")?;
            let nvmm = gst::Caps::builder("video/x-raw")
                .features(["memory:NVMM"])
                .field("format", "NV12")
                .build();
            let filter = capsfilter("video-nvmm", nvmm)?;
            return Ok(vec![convert, filter, encoder]);
        }
        other => tracing::warn!(
            encoder = other,
            "unknown encoder: bitrate left at its default"
        ),
    }
    Ok(vec![encoder])
}

/// The elements between resampled audio and the muxer.
pub(crate) fn audio_encoder_chain(
    choice: &EncoderChoice,
    bitrate_kbps: u32,
) -> Result<Vec<gst::Element>, PipelineError> {
    let encoder = make_element(&choice.audio_encoder, "audio-encoder")?;
    let bits = (u64::from(bitrate_kbps) * 1000).to_string();
    match choice.audio_encoder.as_str() {
        "avenc_aac" | "voaacenc" | "opusenc" => encoder.set_property_from_str("bitrate", &bits),
        other => tracing::warn!(
            encoder = other,
            "unknown encoder: bitrate left at its default"
        ),
    }
    let produces_aac = encoder
        .static_pad("src")
        .map(|pad| pad.pad_template_caps())
        .is_some_and(|caps| caps.iter().any(|s| s.name() == "audio/mpeg"));
    if produces_aac {
        // aacparse turns ADTS (voaacenc's default) into the raw AAC + codec_data mp4mux wants.
        Ok(vec![encoder, make_element("aacparse", "audio-parse")?])
    } else {
        Ok(vec![encoder])
    }
}

/// A `capsfilter` element with fixed caps.
pub(crate) fn capsfilter(name: &str, caps: gst::Caps) -> Result<gst::Element, PipelineError> {
    let filter = make_element("capsfilter", name)?;
    filter.set_property("caps", &caps);
    Ok(filter)
}
