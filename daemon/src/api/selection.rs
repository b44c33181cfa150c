//! The bundle selected for later jobs (`bundle` verb, Home Assistant's select), kept in a small
//! file in the state directory so it survives restarts; the configured `engine.bundle` stays the
//! fallback.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in `state_dir` holding the selected bundle's absolute path.
pub const SELECTED_BUNDLE_FILE: &str = "selected-bundle";

/// The selected bundle, if one was selected and the file is readable.
pub fn read_selected(state_dir: &Path) -> Option<PathBuf> {
    let file = state_dir.join(SELECTED_BUNDLE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) if !text.trim().is_empty() => Some(PathBuf::from(text.trim())),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(file = %file.display(), "cannot read the selected bundle: {e}");
            None
        }
    }
}

/// Records `bundle` as selected: written beside, synced, then renamed, so a crash leaves the
/// old choice or the new one.
pub fn write_selected(state_dir: &Path, bundle: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let target = state_dir.join(SELECTED_BUNDLE_FILE);
    let partial = state_dir.join(format!(".{SELECTED_BUNDLE_FILE}.partial"));
    let mut file = std::fs::File::create(&partial)?;
    writeln!(file, "{}", bundle.display())?;
    file.sync_all()?;
    std::fs::rename(&partial, &target)
}

/// Folder names in `dir` that hold a `bundle.toml`, sorted: the choices offered to Home
/// Assistant. Bundles live side by side (`/usr/share/reel/bundles/<name>`).
pub fn available_bundles(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("bundle.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_round_trips_and_lists_bundles() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_selected(dir.path()), None);
        write_selected(dir.path(), Path::new("/b/tiny")).unwrap();
        assert_eq!(read_selected(dir.path()), Some(PathBuf::from("/b/tiny")));
        for name in ["b", "a", "not-a-bundle"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("a/bundle.toml"), "").unwrap();
        std::fs::write(dir.path().join("b/bundle.toml"), "").unwrap();
        assert_eq!(available_bundles(dir.path()), ["a", "b"]);
    }
}
