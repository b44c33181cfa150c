//! Bundle::verify against real ONNX Runtime sessions.

mod common;

use ort::ep::ExecutionProvider;

use common::{copy_tiny_bundle, edit_manifest, runtime_config};
use reel_engines::{
    Bundle, BundleError, Mismatch, ProviderKind, Runtime, RuntimeConfig, tiny_bundle_dir,
};

fn mismatches(dir: &std::path::Path) -> Vec<Mismatch> {
    let runtime = Runtime::new(&runtime_config()).expect("runtime");
    let bundle = Bundle::open(dir).expect("bundle opens");
    match bundle.verify(&runtime) {
        Err(BundleError::Verification { mismatches, .. }) => mismatches,
        other => panic!("expected verification to fail, got {other:?}"),
    }
}

#[test]
fn tiny_bundle_verifies_on_the_cpu() {
    let runtime = Runtime::new(&runtime_config()).expect("runtime");
    let reports = Bundle::open(tiny_bundle_dir())
        .expect("opens")
        .verify(&runtime)
        .expect("verifies");
    let names: Vec<_> = reports.iter().map(|r| r.component.as_str()).collect();
    assert_eq!(
        names,
        ["audio_decoder", "denoiser", "text_encoder", "video_decoder"]
    );
    assert!(reports.iter().all(|r| r.provider == ProviderKind::Cpu));
}

#[test]
fn unavailable_accelerators_fall_back_to_the_cpu_and_say_so() {
    let config = RuntimeConfig {
        providers: vec![ProviderKind::TensorRt, ProviderKind::Cuda],
        ..runtime_config()
    };
    let runtime = Runtime::new(&config).expect("runtime");
    let reports = Bundle::open(tiny_bundle_dir())
        .expect("opens")
        .verify(&runtime)
        .expect("verifies");
    assert_eq!(reports.len(), 4);
    // With the CPU build of ONNX Runtime neither accelerator registers; a GPU build may say so.
    let accelerated = ort::ep::TensorRT::is_available().unwrap_or(false)
        || ort::ep::CUDA::is_available().unwrap_or(false);
    if !accelerated {
        assert!(
            reports.iter().all(|r| r.provider == ProviderKind::Cpu),
            "{reports:?}"
        );
    }
}

#[test]
fn corrupt_onnx_is_one_load_mismatch() {
    let dir = copy_tiny_bundle();
    std::fs::write(dir.path().join("denoiser.onnx"), b"this is not a protobuf").expect("write");
    let found = mismatches(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        matches!(&found[0], Mismatch::Load { component, .. } if component == "denoiser"),
        "{found:?}"
    );
    assert!(found[0].to_string().contains("denoiser"));
}

#[test]
fn wrong_input_name_is_reported_both_ways() {
    let dir = copy_tiny_bundle();
    edit_manifest(dir.path(), |s| {
        s.replace("name = \"timestep\"", "name = \"time\"")
    });
    let found = mismatches(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|m| matches!(m,
        Mismatch::Missing { component, side: "input", name, available }
            if component == "denoiser" && name == "time" && available.contains(&"timestep".to_owned()))));
    assert!(
        found.iter().any(|m| matches!(m,
        Mismatch::Undeclared { component, name } if component == "denoiser" && name == "timestep"))
    );
}

#[test]
fn wrong_fixed_dimension_is_reported_with_its_axis() {
    let dir = copy_tiny_bundle();
    edit_manifest(dir.path(), |s| {
        s.replace(
            "name = \"hidden\"\ndtype = \"float32\"\nshape = [1, 32, 32]",
            "name = \"hidden\"\ndtype = \"float32\"\nshape = [1, 32, 64]",
        )
    });
    let found = mismatches(dir.path());
    assert_eq!(
        found,
        vec![Mismatch::Dim {
            component: "text_encoder".into(),
            name: "hidden".into(),
            axis: 2,
            declared: 64,
            actual: 32
        }]
    );
}
