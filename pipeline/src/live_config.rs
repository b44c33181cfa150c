//! Settings of the live side (outputs and the kiosk playout), as the daemon's TOML carries them.
//! Every field has a default, so an empty table is valid; unknown keys are refused so a typo
//! never silently turns an output off.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{AUTO, EncoderConfig};
use crate::error::PipelineError;

/// Which outputs exist besides the per-clip MP4 file. The live ones (all but `mp4`) carry the
/// playout's continuous program; each is optional and independent of the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputsConfig {
    /// Write each generated clip to an MP4 file (the daemon's media store). Default on.
    pub mp4: bool,
    /// HTTP Live Streaming segments and playlist, for browsers.
    pub hls: Option<HlsConfig>,
    /// An RTSP server with one mount point.
    pub rtsp: Option<RtspConfig>,
    /// An SRT listener sending MPEG-TS.
    pub srt: Option<SrtConfig>,
    /// RTP over UDP to one host: H.264 on `port`, AAC on `port + 2`.
    pub udp: Option<UdpConfig>,
    /// A local screen and loudspeaker.
    pub display: Option<DisplayConfig>,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            mp4: true,
            hls: None,
            rtsp: None,
            srt: None,
            udp: None,
            display: None,
        }
    }
}

impl OutputsConfig {
    /// Whether any output needs the H.264/AAC live encoder (all but the display).
    pub fn needs_encoder(&self) -> bool {
        self.hls.is_some() || self.rtsp.is_some() || self.srt.is_some() || self.udp.is_some()
    }
}

/// HLS output through `hlssink2` (MPEG-TS segments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HlsConfig {
    /// Directory for `playlist.m3u8` and `segmentNNNNN.ts`; created if missing.
    pub dir: PathBuf,
    /// Target segment length in seconds; keyframes come every second, so 1 or more works.
    pub target_duration: u32,
    /// Segments kept on disk (0 keeps all).
    pub max_files: u32,
    /// Segments listed in the playlist (0 lists all).
    pub playlist_length: u32,
}

impl Default for HlsConfig {
    fn default() -> Self {
        HlsConfig {
            dir: PathBuf::from("/var/lib/reel/hls"),
            target_duration: 2,
            max_files: 10,
            playlist_length: 5,
        }
    }
}

/// RTSP server; clients stay connected across playout switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtspConfig {
    /// Address to listen on.
    pub address: String,
    /// TCP port; 0 picks a free one (see `Playout::rtsp_url`).
    pub port: u16,
    /// Mount point, starting with `/`.
    pub mount: String,
}

impl Default for RtspConfig {
    fn default() -> Self {
        RtspConfig {
            address: "0.0.0.0".into(),
            port: 8554,
            mount: "/reel".into(),
        }
    }
}

/// SRT listener (`srt://:PORT?mode=listener`) carrying MPEG-TS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SrtConfig {
    /// UDP port to listen on.
    pub port: u16,
}

impl Default for SrtConfig {
    fn default() -> Self {
        SrtConfig { port: 8890 }
    }
}

/// RTP over UDP (unicast or multicast).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UdpConfig {
    /// Destination host or multicast group.
    pub host: String,
    /// Destination port of the H.264 stream; AAC goes to `port + 2`.
    pub port: u16,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            host: "127.0.0.1".into(),
            port: 5004,
        }
    }
}

/// The local screen. `"auto"` probes `nvdrmvideosink` (Jetson), then `waylandsink` under
/// Wayland, `glimagesink` under X11, `kmssink` on a bare console, then `autovideosink`.
/// `"fakesink"` runs the branch headless (tests, appliances without a screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    /// `"auto"` or a video sink factory name.
    pub sink: String,
    /// `"auto"` (`autoaudiosink`) or an audio sink factory name.
    pub audio_sink: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            sink: AUTO.into(),
            audio_sink: AUTO.into(),
        }
    }
}

/// The kiosk playout: one continuous program for the live outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlayoutConfig {
    /// Run the playout at all.
    pub enabled: bool,
    /// Program width in pixels (even).
    pub width: u32,
    /// Program height in pixels (even).
    pub height: u32,
    /// Program frame rate in frames per second.
    pub fps: u32,
    /// Program audio rate in Hz.
    pub sample_rate: u32,
    /// Program audio channels.
    pub channels: u16,
    /// Loop over `playlist` when nothing else is on.
    pub attract: bool,
    /// Clips of the attract loop, in order.
    pub playlist: Vec<PathBuf>,
    /// How far ahead of its presentation time a frame enters the pipeline, in milliseconds:
    /// the slack the encoders and network sinks get.
    pub lead_ms: u32,
    /// Frames a live generation must have buffered before it may go on air.
    pub live_preroll_ms: u32,
    /// Most frames a live generation may buffer ahead of the program, in milliseconds of video.
    pub live_buffer_ms: u32,
    /// `"auto"` or an H.264 encoder element (see [`EncoderConfig`]).
    pub video_encoder: String,
    /// `"auto"` or an AAC/Opus encoder element.
    pub audio_encoder: String,
    /// Live video bitrate in kbit/s.
    pub video_bitrate_kbps: u32,
    /// Live audio bitrate in kbit/s.
    pub audio_bitrate_kbps: u32,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            enabled: false,
            width: 1280,
            height: 720,
            fps: 25,
            sample_rate: 48_000,
            channels: 2,
            attract: true,
            playlist: Vec::new(),
            lead_ms: 200,
            live_preroll_ms: 500,
            live_buffer_ms: 4000,
            video_encoder: AUTO.into(),
            audio_encoder: AUTO.into(),
            video_bitrate_kbps: 2500,
            audio_bitrate_kbps: 128,
        }
    }
}

impl PlayoutConfig {
    /// The program's format as a clip format.
    pub fn format(&self) -> reel_clip::ClipFormat {
        reel_clip::ClipFormat {
            width: self.width,
            height: self.height,
            fps_num: self.fps,
            fps_den: 1,
            sample_rate: self.sample_rate,
            channels: self.channels,
        }
    }

    /// The encoder settings of the live branch.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig {
            video_encoder: self.video_encoder.clone(),
            audio_encoder: self.audio_encoder.clone(),
            width: None,
            height: None,
            video_bitrate_kbps: self.video_bitrate_kbps,
            audio_bitrate_kbps: self.audio_bitrate_kbps,
        }
    }

    /// Refuses sizes and rates no encoder takes, naming the key.
    pub fn validate(&self) -> Result<(), PipelineError> {
        let bad =
            |key: &str, why: &str| Err(PipelineError::Config(format!("playout.{key}: {why}")));
        // A multiple of 4: the slate and the sources hand over packed RGB rows (3 × width bytes),
        // but GStreamer's RGB layout pads every row to 4 bytes, which a width of 4n + 2 needs.
        if self.width == 0 || !self.width.is_multiple_of(4) || self.width > 7680 {
            return bad(
                "width",
                "must be a multiple of 4, non-zero and at most 7680",
            );
        }
        if self.height == 0 || self.height % 2 == 1 || self.height > 4320 {
            return bad("height", "must be even, non-zero and at most 4320");
        }
        if !(1..=120).contains(&self.fps) {
            return bad("fps", "must be between 1 and 120");
        }
        if !(8000..=192_000).contains(&self.sample_rate) {
            return bad("sample_rate", "must be between 8000 and 192000");
        }
        if !(1..=8).contains(&self.channels) {
            return bad("channels", "must be between 1 and 8");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_must_be_a_multiple_of_4() {
        let cfg = |width| PlayoutConfig {
            width,
            ..PlayoutConfig::default()
        };
        assert!(cfg(160).validate().is_ok());
        let err = cfg(162).validate().expect_err("4n + 2 refused");
        assert!(err.to_string().contains("playout.width"), "{err}");
        assert!(cfg(0).validate().is_err());
    }
}
