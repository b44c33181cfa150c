//! Semantic checks of a parsed manifest: values in range, components the pipeline needs
//! present with the right arity, files present. Each failure names its dotted key.

use std::path::{Component, Path};

use crate::error::BundleError;
use crate::manifest::{
    ComponentSpec, Dim, Dtype, FORMAT_VERSION, Manifest, PipelineKind, TensorSpec,
};

/// What a pipeline needs of one component: its name, input ranks/dtypes and output ranks/dtypes.
pub(crate) struct Role {
    pub name: &'static str,
    pub inputs: &'static [(Dtype, usize)],
    pub outputs: &'static [(Dtype, usize)],
}

/// The components of [`PipelineKind::JointAudioVideo`], in the order the engine uses them.
/// Tensors are addressed by position, so names are free but order and rank are not.
const JOINT_AUDIO_VIDEO: &[Role] = &[
    Role {
        name: "text_encoder",
        inputs: &[(Dtype::Int64, 2), (Dtype::Int64, 2)],
        outputs: &[(Dtype::Float32, 3)],
    },
    Role {
        name: "denoiser",
        inputs: &[
            (Dtype::Float32, 5),
            (Dtype::Float32, 3),
            (Dtype::Float32, 1),
            (Dtype::Float32, 3),
        ],
        outputs: &[(Dtype::Float32, 5), (Dtype::Float32, 3)],
    },
    Role {
        name: "video_decoder",
        inputs: &[(Dtype::Float32, 5)],
        outputs: &[(Dtype::Float32, 5)],
    },
    Role {
        name: "audio_decoder",
        inputs: &[(Dtype::Float32, 3)],
        outputs: &[(Dtype::Float32, 3)],
    },
];

pub(crate) fn roles(pipeline: PipelineKind) -> &'static [Role] {
    match pipeline {
        PipelineKind::JointAudioVideo => JOINT_AUDIO_VIDEO,
    }
}

struct Checker<'a> {
    manifest_path: &'a Path,
}

impl Checker<'_> {
    fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> BundleError {
        BundleError::Invalid {
            path: self.manifest_path.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn positive(&self, key: &str, value: u64) -> Result<(), BundleError> {
        if value == 0 {
            Err(self.invalid(key, "must be greater than 0"))
        } else {
            Ok(())
        }
    }

    fn in_range(
        &self,
        key: &str,
        value: f64,
        min_exclusive: f64,
        max: f64,
    ) -> Result<(), BundleError> {
        if !value.is_finite() || value <= min_exclusive || value > max {
            return Err(self.invalid(key, format!("{value} is outside ({min_exclusive}, {max}]")));
        }
        Ok(())
    }

    /// A bundle-relative file name that stays inside the bundle and exists there.
    fn file(&self, key: &str, file: &str, dir: &Path) -> Result<(), BundleError> {
        let relative = Path::new(file);
        let escapes = relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)));
        if file.is_empty() || escapes {
            return Err(self.invalid(
                key,
                format!("`{file}` must be a plain path inside the bundle (no `..`, not absolute)"),
            ));
        }
        let path = dir.join(relative);
        if !path.is_file() {
            return Err(BundleError::MissingFile {
                key: key.to_owned(),
                path,
            });
        }
        Ok(())
    }
}

/// Checks everything about `manifest` that needs no ONNX Runtime. `dir` is the bundle directory.
pub(crate) fn validate(
    manifest: &Manifest,
    manifest_path: &Path,
    dir: &Path,
) -> Result<(), BundleError> {
    let check = Checker { manifest_path };
    if manifest.format_version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedFormat {
            path: manifest_path.to_owned(),
            found: manifest.format_version,
            supported: FORMAT_VERSION,
        });
    }
    if manifest.bundle.name.trim().is_empty() {
        return Err(check.invalid("bundle.name", "must not be empty"));
    }

    let clip = &manifest.clip;
    let latent = &manifest.latent;
    check.positive("latent.video_channels", latent.video_channels.into())?;
    check.positive(
        "latent.spatial_compression",
        latent.spatial_compression.into(),
    )?;
    check.positive(
        "latent.temporal_compression",
        latent.temporal_compression.into(),
    )?;
    check.positive("latent.audio_channels", latent.audio_channels.into())?;
    check.positive("latent.audio_hop", latent.audio_hop.into())?;
    check.positive(
        "latent.decode_chunk_latent_frames",
        latent.decode_chunk_latent_frames.into(),
    )?;
    for (key, value) in [("clip.width", clip.width), ("clip.height", clip.height)] {
        check.positive(key, value.into())?;
        if value % latent.spatial_compression != 0 {
            return Err(check.invalid(
                key,
                format!(
                    "{value} is not a multiple of latent.spatial_compression ({})",
                    latent.spatial_compression
                ),
            ));
        }
    }
    check.positive("clip.fps_num", clip.fps_num.into())?;
    check.positive("clip.fps_den", clip.fps_den.into())?;
    check.positive("clip.sample_rate", clip.sample_rate.into())?;
    if !(1..=8).contains(&clip.channels) {
        return Err(check.invalid(
            "clip.channels",
            format!("{} is outside 1..=8", clip.channels),
        ));
    }
    check.in_range("clip.max_seconds", clip.max_seconds, 0.0, 3600.0)?;
    check.in_range(
        "clip.default_seconds",
        clip.default_seconds,
        0.0,
        clip.max_seconds,
    )?;

    let scheduler = &manifest.scheduler;
    if !(1..=1000).contains(&scheduler.steps) {
        return Err(check.invalid(
            "scheduler.steps",
            format!("{} is outside 1..=1000", scheduler.steps),
        ));
    }
    check.in_range("scheduler.shift", scheduler.shift, 0.0, 1000.0)?;
    if !scheduler.guidance.is_finite() || !(1.0..=30.0).contains(&scheduler.guidance) {
        return Err(check.invalid(
            "scheduler.guidance",
            format!("{} is outside [1, 30] (1.0 = off)", scheduler.guidance),
        ));
    }
    check.positive(
        "scheduler.num_train_timesteps",
        scheduler.num_train_timesteps.into(),
    )?;

    let tokenizer = &manifest.tokenizer;
    if !(1..=8192).contains(&tokenizer.max_length) {
        return Err(check.invalid(
            "tokenizer.max_length",
            format!("{} is outside 1..=8192", tokenizer.max_length),
        ));
    }
    check.file("tokenizer.file", &tokenizer.file, dir)?;

    for (name, component) in &manifest.components {
        let key = format!("components.{name}");
        check.file(&format!("{key}.file"), &component.file, dir)?;
        check_tensors(&check, &format!("{key}.inputs"), &component.inputs)?;
        check_tensors(&check, &format!("{key}.outputs"), &component.outputs)?;
    }
    for role in roles(manifest.bundle.pipeline) {
        let Some(component) = manifest.components.get(role.name) else {
            return Err(check.invalid(
                format!("components.{}", role.name),
                format!(
                    "the {:?} pipeline needs this component",
                    manifest.bundle.pipeline
                ),
            ));
        };
        check_role(&check, role, component)?;
    }
    Ok(())
}

fn check_role(
    check: &Checker<'_>,
    role: &Role,
    component: &ComponentSpec,
) -> Result<(), BundleError> {
    for (side, declared, wanted) in [
        ("inputs", &component.inputs, role.inputs),
        ("outputs", &component.outputs, role.outputs),
    ] {
        let key = format!("components.{}.{side}", role.name);
        if declared.len() != wanted.len() {
            return Err(check.invalid(
                key,
                format!(
                    "declares {} tensors, the pipeline needs {}",
                    declared.len(),
                    wanted.len()
                ),
            ));
        }
        for (index, (tensor, &(dtype, rank))) in declared.iter().zip(wanted).enumerate() {
            if tensor.dtype != dtype || tensor.shape.len() != rank {
                return Err(check.invalid(
                    format!("{key}[{index}]"),
                    format!(
                        "`{}` is {} of rank {}, the pipeline needs {dtype} of rank {rank}",
                        tensor.name,
                        tensor.dtype,
                        tensor.shape.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_tensors(
    check: &Checker<'_>,
    key: &str,
    tensors: &[TensorSpec],
) -> Result<(), BundleError> {
    for (index, tensor) in tensors.iter().enumerate() {
        let key = format!("{key}[{index}]");
        if tensor.name.is_empty() {
            return Err(check.invalid(format!("{key}.name"), "must not be empty"));
        }
        if tensors[..index].iter().any(|t| t.name == tensor.name) {
            return Err(check.invalid(
                format!("{key}.name"),
                format!("`{}` is declared twice", tensor.name),
            ));
        }
        for dim in &tensor.shape {
            match dim {
                Dim::Fixed(n) if *n <= 0 => {
                    return Err(check.invalid(
                        format!("{key}.shape"),
                        format!("fixed dimension {n} must be > 0"),
                    ));
                }
                Dim::Symbolic(s) if s.trim().is_empty() => {
                    return Err(
                        check.invalid(format!("{key}.shape"), "symbolic dimensions need a name")
                    );
                }
                _ => {}
            }
        }
        check_profile(check, &key, tensor)?;
    }
    Ok(())
}

/// TensorRT profiles: all three or none, same rank as the shape, min <= opt <= max, and equal
/// to fixed dims.
fn check_profile(check: &Checker<'_>, key: &str, tensor: &TensorSpec) -> Result<(), BundleError> {
    let (min, opt, max) = match (
        &tensor.tensorrt_min,
        &tensor.tensorrt_opt,
        &tensor.tensorrt_max,
    ) {
        (None, None, None) => return Ok(()),
        (Some(min), Some(opt), Some(max)) => (min, opt, max),
        _ => {
            return Err(check.invalid(
                key,
                "give all of tensorrt_min, tensorrt_opt and tensorrt_max, or none",
            ));
        }
    };
    let rank = tensor.shape.len();
    if [min, opt, max].iter().any(|p| p.len() != rank) {
        return Err(check.invalid(
            format!("{key}.tensorrt_*"),
            format!("profiles must have rank {rank} like the shape"),
        ));
    }
    for (axis, dim) in tensor.shape.iter().enumerate() {
        let (lo, mid, hi) = (min[axis], opt[axis], max[axis]);
        if lo <= 0 || lo > mid || mid > hi {
            return Err(check.invalid(
                format!("{key}.tensorrt_*"),
                format!("axis {axis}: need 0 < min <= opt <= max, got {lo}, {mid}, {hi}"),
            ));
        }
        if let Dim::Fixed(n) = dim
            && (lo != *n || hi != *n)
        {
            return Err(check.invalid(
                format!("{key}.tensorrt_*"),
                format!("axis {axis} is fixed at {n} but the profile ranges {lo}..={hi}"),
            ));
        }
    }
    Ok(())
}
