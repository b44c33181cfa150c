//! Builds everything a playout runs: the encoder, the outputs, the RTSP server, the display.

use std::sync::{Arc, Mutex};

use super::PlayoutStatus;
use super::feeder::Feeder;
use crate::encoders::probe_encoders;
use crate::error::PipelineError;
use crate::live_config::{OutputsConfig, PlayoutConfig};
use crate::live_encode::LiveEncoder;
use crate::outputs::{self, Fanout, Timeline};
use crate::rtsp::RtspServer;
use crate::slate::Slate;

/// The feeder, ready to run, and the RTSP URL if there is one. A missing element or a port in
/// use fails here, before anything is on air, with the element or address named.
pub(super) fn build_feeder(
    cfg: &PlayoutConfig,
    outputs_cfg: &OutputsConfig,
) -> Result<(Feeder, Option<String>), PipelineError> {
    let format = cfg.format();
    let timeline = Timeline::new();
    let encoded = Arc::new(Fanout::default());
    let raw = Arc::new(Fanout::default());
    let video_caps = crate::graph::video_caps(format)?;
    let audio_caps = crate::graph::audio_caps(format)?;
    let (mut encoder, mut rtsp) = (None, None);
    if outputs_cfg.needs_encoder() {
        let choice = probe_encoders(&cfg.encoder())?;
        let bitrates = (cfg.video_bitrate_kbps, cfg.audio_bitrate_kbps);
        encoder = Some(LiveEncoder::start(
            format, &choice, bitrates, &encoded, &timeline,
        )?);
        if let Some(hls) = &outputs_cfg.hls {
            encoded.add(outputs::hls(hls, &timeline)?);
        }
        if let Some(srt) = &outputs_cfg.srt {
            encoded.add(outputs::srt(srt, &timeline)?);
        }
        if let Some(udp) = &outputs_cfg.udp {
            encoded.add(outputs::udp(udp, &choice.audio_encoder, &timeline)?);
        }
        if let Some(rtsp_cfg) = &outputs_cfg.rtsp {
            rtsp = Some(RtspServer::start(
                rtsp_cfg,
                &choice.audio_encoder,
                &encoded,
                &timeline,
            )?);
        }
    }
    if let Some(display) = &outputs_cfg.display {
        let frame = format.rgb_frame_len() as u64;
        raw.add(outputs::display(
            display,
            &video_caps,
            &audio_caps,
            frame,
            &timeline,
        )?);
    }
    let per_ms = |ms: u32| (u64::from(ms) * u64::from(cfg.fps)).div_ceil(1000) as usize;
    let rtsp_url = rtsp.as_ref().map(|r| r.url.clone());
    let feeder = Feeder {
        format,
        lead: gst::ClockTime::from_mseconds(u64::from(cfg.lead_ms)),
        preroll_frames: per_ms(cfg.live_preroll_ms).max(1),
        buffer_frames: per_ms(cfg.live_buffer_ms)
            .max(per_ms(cfg.live_preroll_ms))
            .max(2),
        timeline,
        encoder,
        encoded,
        raw,
        rtsp,
        status: Arc::new(Mutex::new(PlayoutStatus::default())),
        attract: cfg.attract,
        playlist: cfg.playlist.clone(),
        video_caps,
        audio_caps,
        slate: Slate::new(cfg.width, cfg.height),
    };
    Ok((feeder, rtsp_url))
}
