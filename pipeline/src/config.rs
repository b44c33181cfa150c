//! Encoder settings, as the daemon's TOML configuration carries them.

use serde::{Deserialize, Serialize};

/// Which encoders to use and what to produce. Every field has a default, so an empty table is
/// a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncoderConfig {
    /// `"auto"` (probe `nvv4l2h264enc`, `x264enc`, `openh264enc` in that order) or the factory
    /// name of an H.264 encoder element.
    pub video_encoder: String,
    /// `"auto"` (probe `avenc_aac`, `voaacenc`, `opusenc` in that order) or the factory name of
    /// an AAC or Opus encoder element.
    pub audio_encoder: String,
    /// Output width in pixels; frames are scaled (Lanczos) when this or `height` is set. With
    /// only one of the two set, the other follows the clip's aspect ratio.
    pub width: Option<u32>,
    /// Output height in pixels; see `width`.
    pub height: Option<u32>,
    /// Target video bitrate in kbit/s.
    pub video_bitrate_kbps: u32,
    /// Target audio bitrate in kbit/s.
    pub audio_bitrate_kbps: u32,
}

/// The value that selects encoders by probing.
pub const AUTO: &str = "auto";

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            video_encoder: AUTO.to_owned(),
            audio_encoder: AUTO.to_owned(),
            width: None,
            height: None,
            video_bitrate_kbps: 4000,
            audio_bitrate_kbps: 128,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, MapDeserializer};

    // serde_json/toml are not dependencies of this crate; serde's own map deserializer
    // exercises the same derive.
    fn from_pairs(pairs: &[(&str, &str)]) -> Result<EncoderConfig, Error> {
        let owned = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        EncoderConfig::deserialize(MapDeserializer::<_, Error>::new(owned))
    }

    #[test]
    fn empty_table_gives_defaults() {
        assert_eq!(
            from_pairs(&[]).expect("empty map"),
            EncoderConfig::default()
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let message = from_pairs(&[("video_bitrate", "3")])
            .expect_err("rejected")
            .to_string();
        assert!(message.contains("video_bitrate"), "{message}");
    }
}
