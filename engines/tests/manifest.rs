//! Opening bundles and manifest validation; needs no ONNX Runtime.

mod common;

use common::{copy_tiny_bundle, edit_manifest};
use reel_clip::ClipFormat;
use reel_engines::manifest::{Dim, PipelineKind};
use reel_engines::{Bundle, BundleError, tiny_bundle_dir};

fn open_edited(edit: impl FnOnce(&str) -> String) -> BundleError {
    let dir = copy_tiny_bundle();
    edit_manifest(dir.path(), edit);
    Bundle::open(dir.path()).expect_err("the edited manifest must be rejected")
}

fn assert_invalid(error: BundleError, expected_key: &str) {
    match &error {
        BundleError::Invalid { key, .. } if key == expected_key => {}
        other => panic!("expected an invalid `{expected_key}`, got: {other}"),
    }
}

#[test]
fn tiny_bundle_opens_with_its_clip_format() {
    let bundle = Bundle::open(tiny_bundle_dir()).expect("tiny bundle opens");
    assert_eq!(
        bundle.clip_format(),
        ClipFormat {
            width: 128,
            height: 128,
            fps_num: 12,
            fps_den: 1,
            sample_rate: 16_000,
            channels: 1
        }
    );
    let manifest = bundle.manifest();
    assert_eq!(manifest.bundle.pipeline, PipelineKind::JointAudioVideo);
    assert_eq!(manifest.components.len(), 4);
    let denoiser = &manifest.components["denoiser"];
    assert_eq!(
        denoiser.inputs[0].shape[2],
        Dim::Symbolic("latent_frames".into())
    );
    assert_eq!(
        denoiser.inputs[0].tensorrt_max.as_deref(),
        Some(&[1, 8, 30, 16, 16][..])
    );
}

#[test]
fn unknown_key_is_a_parse_error_naming_it() {
    let error = open_edited(|s| s.replace("fps_den = 1\n", "fps_den = 1\ncolour = \"red\"\n"));
    let BundleError::Parse { message, .. } = &error else {
        panic!("expected a parse error, got {error}")
    };
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn wrong_type_and_unknown_enum_value_are_parse_errors() {
    let error = open_edited(|s| s.replace("width = 128", "width = \"wide\""));
    assert!(
        matches!(&error, BundleError::Parse { message, .. } if message.contains("width")),
        "{error}"
    );
    let error = open_edited(|s| s.replace("kind = \"flow_match_euler\"", "kind = \"ddim\""));
    assert!(
        matches!(&error, BundleError::Parse { message, .. } if message.contains("ddim")),
        "{error}"
    );
}

#[test]
fn bad_values_are_rejected_with_their_key() {
    assert_invalid(
        open_edited(|s| s.replace("fps_num = 12", "fps_num = 0")),
        "clip.fps_num",
    );
    assert_invalid(
        open_edited(|s| s.replace("width = 128", "width = 100")),
        "clip.width",
    );
    assert_invalid(
        open_edited(|s| s.replace("default_seconds = 4.0", "default_seconds = 11.0")),
        "clip.default_seconds",
    );
    assert_invalid(
        open_edited(|s| s.replace("guidance = 1.0", "guidance = 0.5")),
        "scheduler.guidance",
    );
    assert_invalid(
        open_edited(|s| s.replace("steps = 8", "steps = 0")),
        "scheduler.steps",
    );
    assert_invalid(
        open_edited(|s| s.replace("file = \"denoiser.onnx\"", "file = \"../denoiser.onnx\"")),
        "components.denoiser.file",
    );
    assert_invalid(
        open_edited(|s| {
            s.replacen(
                "tensorrt_min = [1, 8, 1, 16, 16]",
                "tensorrt_min = [1, 8, 1, 16]",
                1,
            )
        }),
        "components.denoiser.inputs[0].tensorrt_*",
    );
}

#[test]
fn pipeline_needs_its_components_with_the_right_arity() {
    assert_invalid(
        open_edited(|s| {
            s.replace("[components.audio_decoder]", "[components.sound_decoder]")
                .replace("components.audio_decoder.", "components.sound_decoder.")
        }),
        "components.audio_decoder",
    );
    // The text encoder's ids must be int64.
    assert_invalid(
        open_edited(|s| s.replacen("dtype = \"int64\"", "dtype = \"int32\"", 1)),
        "components.text_encoder.inputs[0]",
    );
}

#[test]
fn unsupported_format_version_is_reported() {
    let error = open_edited(|s| s.replace("format_version = 1", "format_version = 2"));
    assert!(
        matches!(
            error,
            BundleError::UnsupportedFormat {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn missing_dir_manifest_and_files_are_reported() {
    let dir = copy_tiny_bundle();
    let gone = dir.path().join("nope");
    assert!(matches!(Bundle::open(&gone), Err(BundleError::MissingDir(p)) if p == gone));

    std::fs::remove_file(dir.path().join("video_decoder.onnx")).expect("remove");
    match Bundle::open(dir.path()) {
        Err(BundleError::MissingFile { key, path }) => {
            assert_eq!(key, "components.video_decoder.file");
            assert!(path.ends_with("video_decoder.onnx"));
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }

    std::fs::remove_file(dir.path().join("bundle.toml")).expect("remove");
    assert!(matches!(
        Bundle::open(dir.path()),
        Err(BundleError::MissingManifest(_))
    ));
}
