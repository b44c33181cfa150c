//! A bundle: a directory with `bundle.toml`, a tokenizer and ONNX components.

use std::path::{Path, PathBuf};

use reel_clip::ClipFormat;

use crate::error::BundleError;
use crate::manifest::{ComponentSpec, Manifest};
use crate::runtime::{ProviderKind, Runtime};
use crate::validate::validate;
use crate::verify::{Mismatch, compare};

/// Name of the manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "bundle.toml";

/// An opened and validated bundle. Opening reads only the manifest and checks that the files
/// it names exist; [`Bundle::verify`] loads the ONNX files.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest: Manifest,
}

/// Where one component ended up after [`Bundle::verify`] loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentReport {
    /// Component name from the manifest.
    pub component: String,
    /// Provider the session was created for.
    pub provider: ProviderKind,
}

impl Bundle {
    /// Opens the bundle in `dir`: parses and validates `bundle.toml` and checks that every file
    /// it names exists.
    pub fn open(dir: impl AsRef<Path>) -> Result<Bundle, BundleError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(BundleError::MissingDir(dir.to_owned()));
        }
        let manifest_path = dir.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            return Err(BundleError::MissingManifest(manifest_path));
        }
        let text = std::fs::read_to_string(&manifest_path).map_err(|source| BundleError::Io {
            path: manifest_path.clone(),
            source,
        })?;
        let manifest = Self::parse_manifest(&text, &manifest_path)?;
        validate(&manifest, &manifest_path, dir)?;
        Ok(Bundle {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// Parses manifest text; `path` is only used in error messages.
    pub fn parse_manifest(text: &str, path: &Path) -> Result<Manifest, BundleError> {
        toml::from_str(text).map_err(|e| BundleError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Bundle name from the manifest.
    pub fn name(&self) -> &str {
        &self.manifest.bundle.name
    }

    /// The clip format every generated clip has.
    pub fn clip_format(&self) -> ClipFormat {
        let clip = &self.manifest.clip;
        ClipFormat {
            width: clip.width,
            height: clip.height,
            fps_num: clip.fps_num,
            fps_den: clip.fps_den,
            sample_rate: clip.sample_rate,
            channels: clip.channels,
        }
    }

    /// Absolute path of a bundle-relative file.
    pub fn file_path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// The named component; open() guarantees the pipeline's components exist.
    pub(crate) fn component(&self, name: &str) -> Option<&ComponentSpec> {
        self.manifest.components.get(name)
    }

    /// Loads every ONNX component and checks names, dtypes, ranks and fixed dimensions against
    /// the manifest. Returns where each component runs, or every mismatch found (a corrupt
    /// file is one mismatch; checking continues with the other components).
    pub fn verify(&self, runtime: &Runtime) -> Result<Vec<ComponentReport>, BundleError> {
        let mut reports = Vec::new();
        let mut mismatches = Vec::new();
        for (name, spec) in &self.manifest.components {
            match runtime.load_session(name, spec, &self.file_path(&spec.file)) {
                Ok(loaded) => {
                    mismatches.extend(compare(name, spec, &loaded.session));
                    reports.push(ComponentReport {
                        component: name.clone(),
                        provider: loaded.provider,
                    });
                }
                Err(e) => mismatches.push(Mismatch::Load {
                    component: name.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        if mismatches.is_empty() {
            Ok(reports)
        } else {
            Err(BundleError::Verification {
                bundle: self.name().to_owned(),
                mismatches,
            })
        }
    }
}
