//! The output pipelines (HLS, SRT, RTP/UDP, display), each built from a launch description
//! whose inputs are `appsrc name=video` and `appsrc name=audio`.

use gst::prelude::*;

use super::{Output, Timeline, configure_appsrc};
use crate::encoders::make_element;
use crate::error::PipelineError;
use crate::live_config::{DisplayConfig, HlsConfig, SrtConfig, UdpConfig};

/// Encoded inputs get about two seconds at a generous bitrate.
const ENCODED_QUEUE_BYTES: u64 = 2 * 1024 * 1024;

/// Builds an output pipeline from a description whose inputs are `appsrc name=video` and
/// `appsrc name=audio`, after checking that every element exists.
fn launch(
    name: &str,
    elements: &[&str],
    description: &str,
    timeline: &Timeline,
    configure: impl FnOnce(&gst::Bin) -> Result<(), PipelineError>,
) -> Result<Output, PipelineError> {
    for element in elements {
        // make_element reports the package that provides a missing one.
        make_element(element, "probe")?;
    }
    let bin = gst::parse::launch(description)
        .map_err(|err| PipelineError::Build(format!("{name} output: {err}")))?;
    let pipeline = bin
        .downcast::<gst::Pipeline>()
        .map_err(|_| PipelineError::Build(format!("{name} output is not a pipeline")))?;
    pipeline.set_property("name", format!("reel-{name}"));
    let appsrc = |src: &str| {
        pipeline
            .by_name(src)
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
    };
    let (video, audio) = (appsrc("video"), appsrc("audio"));
    for src in video.iter().chain(audio.iter()) {
        configure_appsrc(src, ENCODED_QUEUE_BYTES);
    }
    configure(pipeline.upcast_ref())?;
    timeline.apply(&pipeline);
    if pipeline.set_state(gst::State::Playing).is_err() {
        let err = crate::bus::error_after_failed_state_change(&pipeline, "PLAYING");
        // A pipeline that failed to start still holds sockets or files: release them.
        if pipeline.set_state(gst::State::Null).is_err() {
            tracing::warn!(output = name, "could not stop failed output");
        }
        return Err(err);
    }
    Ok(Output::new(name, Some(pipeline), video, audio))
}

fn set(bin: &gst::Bin, element: &str, property: &str, value: impl Into<gst::glib::Value>) {
    if let Some(e) = bin.by_name(element) {
        e.set_property(property, value);
    }
}

/// Which RTP payloader and TS-compatible stream the audio encoder produces.
pub(crate) fn audio_payloader(audio_encoder: &str) -> &'static str {
    if audio_encoder == "opusenc" {
        "rtpopuspay"
    } else {
        "rtpmp4gpay"
    }
}

/// `hlssink2` with the program's H.264 and AAC.
pub(crate) fn hls(cfg: &HlsConfig, timeline: &Timeline) -> Result<Output, PipelineError> {
    if cfg.target_duration == 0 {
        return Err(PipelineError::Config(
            "outputs.hls.target_duration must be at least 1".into(),
        ));
    }
    std::fs::create_dir_all(&cfg.dir).map_err(|e| PipelineError::io("creating", &cfg.dir, e))?;
    let description = "appsrc name=video ! queue ! sink.video \
                       appsrc name=audio ! queue ! sink.audio hlssink2 name=sink";
    launch("hls", &["hlssink2"], description, timeline, |bin| {
        let path = |name: &str| cfg.dir.join(name).to_string_lossy().into_owned();
        set(bin, "sink", "location", path("segment%05d.ts"));
        set(bin, "sink", "playlist-location", path("playlist.m3u8"));
        set(bin, "sink", "target-duration", cfg.target_duration);
        set(bin, "sink", "max-files", cfg.max_files);
        set(bin, "sink", "playlist-length", cfg.playlist_length);
        Ok(())
    })
}

/// MPEG-TS over an SRT listener.
pub(crate) fn srt(cfg: &SrtConfig, timeline: &Timeline) -> Result<Output, PipelineError> {
    // A caller may join at any time: PAT and PMT every 100 ms (90 kHz ticks) and SPS/PPS before
    // every keyframe (the encoder's h264parse) let it start decoding within a second.
    // alignment=7: seven TS packets per buffer, one SRT/UDP payload of 1316 bytes.
    // wait-for-connection=false: without a caller the listener drops data instead of stalling.
    // The leaky queue keeps a slow caller (full SRT send buffer) from stalling the muxer: whole
    // 1316-byte buffers are dropped there, never the program.
    let description = "appsrc name=video ! queue ! mux. appsrc name=audio ! queue ! mux. \
                       mpegtsmux name=mux alignment=7 pat-interval=9000 pmt-interval=9000 \
                       ! queue leaky=downstream max-size-buffers=0 max-size-bytes=0 \
                       max-size-time=1000000000 \
                       ! srtsink name=sink wait-for-connection=false sync=false";
    let elements = ["mpegtsmux", "srtsink"];
    launch("srt", &elements, description, timeline, |bin| {
        set(
            bin,
            "sink",
            "uri",
            format!("srt://:{}?mode=listener", cfg.port),
        );
        Ok(())
    })
}

/// RTP over UDP: H.264 on `port`, audio on `port + 2` (RTP's even-port convention).
pub(crate) fn udp(
    cfg: &UdpConfig,
    audio_encoder: &str,
    timeline: &Timeline,
) -> Result<Output, PipelineError> {
    let audio_port = cfg.port.checked_add(2).ok_or_else(|| {
        PipelineError::Config(format!("outputs.udp.port {} leaves no room", cfg.port))
    })?;
    let pay = audio_payloader(audio_encoder);
    let description = format!(
        "appsrc name=video ! rtph264pay config-interval=-1 pt=96 ! udpsink name=vsink sync=false \
         appsrc name=audio ! {pay} pt=97 ! udpsink name=asink sync=false"
    );
    let elements = ["rtph264pay", pay, "udpsink"];
    launch("udp", &elements, &description, timeline, |bin| {
        set(bin, "vsink", "host", cfg.host.as_str());
        set(bin, "vsink", "port", i32::from(cfg.port));
        set(bin, "asink", "host", cfg.host.as_str());
        set(bin, "asink", "port", i32::from(audio_port));
        Ok(())
    })
}

/// The display sinks in probing order; the first installed one is used.
fn display_sink() -> String {
    let session = |var: &str| std::env::var_os(var).is_some();
    let mut candidates = vec!["nvdrmvideosink"];
    if session("WAYLAND_DISPLAY") {
        candidates.push("waylandsink");
    }
    if session("DISPLAY") {
        candidates.push("glimagesink");
    }
    if !session("WAYLAND_DISPLAY") && !session("DISPLAY") {
        candidates.push("kmssink");
    }
    candidates
        .into_iter()
        .find(|name| gst::ElementFactory::find(name).is_some())
        .unwrap_or("autovideosink")
        .to_owned()
}

/// Raw video and audio to a screen and loudspeaker; the sinks sync to the shared clock.
pub(crate) fn display(
    cfg: &DisplayConfig,
    video_caps: &gst::Caps,
    audio_caps: &gst::Caps,
    frame_bytes: u64,
    timeline: &Timeline,
) -> Result<Output, PipelineError> {
    let vsink = match cfg.sink.as_str() {
        crate::AUTO => display_sink(),
        other => other.to_owned(),
    };
    let asink = match cfg.audio_sink.as_str() {
        crate::AUTO => "autoaudiosink".to_owned(),
        other => other.to_owned(),
    };
    let description = format!(
        "appsrc name=video ! queue ! videoconvert ! {vsink} name=vsink \
         appsrc name=audio ! queue ! audioconvert ! audioresample ! {asink} name=asink"
    );
    let elements = [vsink.as_str(), asink.as_str()];
    let mut output = launch("display", &elements, &description, timeline, |bin| {
        set(bin, "video", "caps", video_caps);
        set(bin, "audio", "caps", audio_caps);
        Ok(())
    })?;
    // Raw frames are big: half a second of them at most.
    if let Some(video) = &output.video {
        video.set_max_bytes(frame_bytes * 12);
    }
    output.waiting_key = false;
    Ok(output)
}
