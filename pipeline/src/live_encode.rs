//! The playout's one encoder: the program's raw frames and samples in, H.264 and AAC (or Opus)
//! out to every encoded output through a [`Fanout`]. Encoding once, not per output, keeps the
//! CPU cost of a second or third output close to nothing.
//!
//! ```text
//! appsrc (RGB, live) ! queue ! videoconvert ! video/x-raw,format=I420
//!   ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=FPS ! h264parse config-interval=-1
//!   ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink  → Fanout
//! appsrc (F32LE, live) ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! appsink → Fanout
//! ```

use std::sync::Arc;

use gst::prelude::*;
use reel_clip::ClipFormat;

use crate::encoders::{self, EncoderChoice, capsfilter, make_element};
use crate::error::PipelineError;
use crate::graph::add_chain;
use crate::outputs::{Fanout, Stream, Timeline, configure_appsrc};

/// The running encoder and its two inputs.
#[derive(Debug)]
pub(crate) struct LiveEncoder {
    pub(crate) pipeline: gst::Pipeline,
    pub(crate) video: gst_app::AppSrc,
    pub(crate) audio: gst_app::AppSrc,
}

impl LiveEncoder {
    pub(crate) fn start(
        format: ClipFormat,
        choice: &EncoderChoice,
        bitrates: (u32, u32),
        fanout: &Arc<Fanout>,
        timeline: &Timeline,
    ) -> Result<LiveEncoder, PipelineError> {
        let pipeline = gst::Pipeline::with_name("reel-live-encode");
        let fps = format.fps_num.div_ceil(format.fps_den);
        let frame_bytes = format.rgb_frame_len() as u64;
        let video_caps = crate::graph::video_caps(format)?;
        let video = gst_app::AppSrc::builder()
            .name("video")
            .caps(&video_caps)
            .build();
        // Half a second of raw frames: the feeder drops a frame rather than queue more.
        configure_appsrc(&video, frame_bytes * u64::from(fps.div_ceil(2)).max(2));
        let mut chain: Vec<gst::Element> = vec![video.clone().upcast()];
        chain.push(make_element("queue", "video-queue")?);
        chain.push(make_element("videoconvert", "video-convert")?);
        let i420 = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .build();
        chain.push(capsfilter("video-format", i420)?);
        let encoder_chain = encoders::video_encoder_chain(choice, bitrates.0)?;
        if let Some(encoder) = encoder_chain.last() {
            tune_for_live(encoder, &choice.video_encoder, fps);
        }
        chain.extend(encoder_chain);
        let parse = make_element("h264parse", "video-parse")?;
        // SPS/PPS before every keyframe: clients that join late can start decoding there.
        parse.set_property("config-interval", -1i32);
        chain.push(parse);
        let byte_stream = gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build();
        chain.push(capsfilter("video-h264", byte_stream)?);
        chain.push(fanout_sink("video-sink", Stream::Video, fanout).upcast());
        add_chain(&pipeline, &chain.iter().collect::<Vec<_>>())?;

        let audio_caps = crate::graph::audio_caps(format)?;
        let audio = gst_app::AppSrc::builder()
            .name("audio")
            .caps(&audio_caps)
            .build();
        configure_appsrc(&audio, 1024 * 1024);
        let mut chain: Vec<gst::Element> = vec![audio.clone().upcast()];
        chain.push(make_element("queue", "audio-queue")?);
        chain.push(make_element("audioconvert", "audio-convert")?);
        chain.push(make_element("audioresample", "audio-resample")?);
        chain.extend(encoders::audio_encoder_chain(choice, bitrates.1)?);
        chain.push(fanout_sink("audio-sink", Stream::Audio, fanout).upcast());
        add_chain(&pipeline, &chain.iter().collect::<Vec<_>>())?;

        timeline.apply(&pipeline);
        if pipeline.set_state(gst::State::Playing).is_err() {
            let err = crate::bus::error_after_failed_state_change(&pipeline, "PLAYING");
            if pipeline.set_state(gst::State::Null).is_err() {
                tracing::warn!("could not stop the failed live encoder");
            }
            return Err(err);
        }
        Ok(LiveEncoder {
            pipeline,
            video,
            audio,
        })
    }
}

impl Drop for LiveEncoder {
    fn drop(&mut self) {
        if self.pipeline.set_state(gst::State::Null).is_err() {
            tracing::warn!("could not stop the live encoder");
        }
    }
}

/// Live settings: no frame reordering delay, a keyframe every second so that late clients and
/// HLS segment boundaries never wait long.
fn tune_for_live(encoder: &gst::Element, factory: &str, fps: u32) {
    match factory {
        "x264enc" => {
            encoder.set_property_from_str("tune", "zerolatency");
            encoder.set_property_from_str("speed-preset", "veryfast");
            encoder.set_property("key-int-max", fps.max(1));
        }
        "openh264enc" => encoder.set_property("gop-size", fps.max(1)),
        "nvv4l2h264enc" => encoder.set_property_from_str("idrinterval", &fps.max(1).to_string()),
        _ => {}
    }
}

fn fanout_sink(name: &str, stream: Stream, fanout: &Arc<Fanout>) -> gst_app::AppSink {
    let sink = gst_app::AppSink::builder().name(name).sync(false).build();
    let on_sample = Arc::clone(fanout);
    let on_eos = Arc::clone(fanout);
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                on_sample.push(stream, &sample);
                Ok(gst::FlowSuccess::Ok)
            })
            .eos(move |_| on_eos.end_of_stream(stream))
            .build(),
    );
    sink
}
