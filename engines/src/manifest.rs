//! The `bundle.toml` schema (format version 1).
//!
//! Parsing is strict (`deny_unknown_fields` everywhere) so a typo in a key is an error naming
//! the key, not a silently ignored setting. Semantic checks live in [`crate::validate`].
//!
//! ```toml
//! format_version = 1
//! [bundle]      # name, version, licence, source, description, pipeline
//! [clip]        # width, height, fps_num, fps_den, sample_rate, channels, default_seconds, max_seconds
//! [latent]      # video_channels, spatial_compression, temporal_compression, audio_channels,
//!               # audio_hop, decode_chunk_latent_frames
//! [scheduler]   # kind = "flow_match_euler", steps, shift, guidance, num_train_timesteps
//! [tokenizer]   # file, max_length, truncation = "truncate", pad_token
//! [capabilities] # reference_image, speech
//! [components.<name>]           # file
//! [[components.<name>.inputs]]  # name, dtype, shape, optional tensorrt_min/opt/max
//! [[components.<name>.outputs]] # name, dtype, shape
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The manifest format this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole `bundle.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format; must be [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Identity and provenance.
    pub bundle: BundleInfo,
    /// Output clip geometry and rates.
    pub clip: ClipSection,
    /// Latent space geometry.
    pub latent: LatentSection,
    /// Sampler settings (defaults for requests).
    pub scheduler: SchedulerSection,
    /// Prompt tokenizer.
    pub tokenizer: TokenizerSection,
    /// What the bundle can do beyond text-to-clip.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// ONNX components by name; which names are required depends on `bundle.pipeline`.
    pub components: BTreeMap<String, ComponentSpec>,
}

/// `[bundle]`: identity and provenance; the licence is recorded because model licences differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleInfo {
    /// Short machine name, e.g. `tiny-random`.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// Licence of the weights, SPDX id or a name.
    pub licence: String,
    /// Where the weights came from.
    pub source: String,
    /// Free text shown to users.
    #[serde(default)]
    pub description: String,
    /// Which generation graph the components form.
    pub pipeline: PipelineKind,
}

/// How the components are wired together. New model families add variants here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineKind {
    /// Text encoder → joint audio+video denoiser → chunked video decoder + audio decoder
    /// (LTX-2-like). Components: `text_encoder`, `denoiser`, `video_decoder`, `audio_decoder`.
    JointAudioVideo,
}

/// `[clip]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSection {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Audio sample rate in Hz.
    pub sample_rate: u32,
    /// Audio channels.
    pub channels: u16,
    /// Clip length when a request gives none.
    pub default_seconds: f64,
    /// Longest clip a request may ask for.
    pub max_seconds: f64,
}

/// `[latent]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentSection {
    /// Channels of the video latent.
    pub video_channels: u32,
    /// Pixels per latent pixel along each side.
    pub spatial_compression: u32,
    /// Video frames per latent frame.
    pub temporal_compression: u32,
    /// Channels of the audio latent.
    pub audio_channels: u32,
    /// Audio samples (per channel) per audio latent step.
    pub audio_hop: u32,
    /// Latent frames per video decoder call; smaller means earlier first frames and less memory.
    #[serde(default = "default_decode_chunk")]
    pub decode_chunk_latent_frames: u32,
}

fn default_decode_chunk() -> u32 {
    2
}

/// `[scheduler]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSection {
    /// Sampler algorithm.
    pub kind: SchedulerKind,
    /// Default number of denoising steps.
    pub steps: u32,
    /// Timestep shift (`shift` in diffusers); 1.0 = no shift.
    #[serde(default = "one")]
    pub shift: f64,
    /// Default classifier-free guidance scale; 1.0 = off (one denoiser call per step).
    #[serde(default = "one_f32")]
    pub guidance: f32,
    /// The denoiser's `timestep` input is `sigma * num_train_timesteps`, as in diffusers.
    #[serde(default = "thousand")]
    pub num_train_timesteps: u32,
}

fn one() -> f64 {
    1.0
}
fn one_f32() -> f32 {
    1.0
}
fn thousand() -> u32 {
    1000
}

/// Supported samplers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// diffusers `FlowMatchEulerDiscreteScheduler` (static shift, no dynamic shifting).
    FlowMatchEuler,
}

/// `[tokenizer]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSection {
    /// `tokenizer.json` file (Hugging Face tokenizers format), relative to the bundle.
    pub file: String,
    /// Sequence length the text encoder takes; prompts are padded to it.
    pub max_length: u32,
    /// What happens to longer prompts.
    #[serde(default)]
    pub truncation: TruncationPolicy,
    /// Token used for padding.
    #[serde(default = "default_pad")]
    pub pad_token: String,
}

fn default_pad() -> String {
    "[PAD]".to_owned()
}

/// What to do with prompts longer than `max_length` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncationPolicy {
    /// Keep the first `max_length` tokens, log a warning and report it in the summary.
    #[default]
    Truncate,
}

/// `[capabilities]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Accepts a reference image (image-to-video).
    #[serde(default)]
    pub reference_image: bool,
    /// Can generate intelligible speech.
    #[serde(default)]
    pub speech: bool,
}

/// `[components.<name>]`: one ONNX file and its declared interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// ONNX file, relative to the bundle.
    pub file: String,
    /// Inputs, in the order the engine feeds them.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in the order the engine reads them.
    pub outputs: Vec<TensorSpec>,
}

/// One declared input or output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// Tensor name in the ONNX graph.
    pub name: String,
    /// Element type.
    pub dtype: Dtype,
    /// Dimensions: integers are fixed, strings are symbolic (dynamic).
    pub shape: Vec<Dim>,
    /// TensorRT optimisation profile: smallest shape (all dims fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorrt_min: Option<Vec<i64>>,
    /// TensorRT optimisation profile: shape to tune for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorrt_opt: Option<Vec<i64>>,
    /// TensorRT optimisation profile: largest shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorrt_max: Option<Vec<i64>>,
}

/// Tensor element types a manifest may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// 32-bit float.
    Float32,
    /// 16-bit float.
    Float16,
    /// bfloat16.
    Bfloat16,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit signed integer.
    Int32,
    /// Unsigned byte.
    Uint8,
    /// Boolean.
    Bool,
}

impl Dtype {
    /// The manifest spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Float32 => "float32",
            Dtype::Float16 => "float16",
            Dtype::Bfloat16 => "bfloat16",
            Dtype::Int64 => "int64",
            Dtype::Int32 => "int32",
            Dtype::Uint8 => "uint8",
            Dtype::Bool => "bool",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A named dynamic size, e.g. `"latent_frames"`.
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}
