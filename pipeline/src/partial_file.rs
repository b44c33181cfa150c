//! A file written under a temporary name next to its final path, and renamed into place only
//! when complete, so readers never see a half-written clip.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::PipelineError;

/// Distinguishes writers in one process that target the same final path.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Owns the temporary file; removes it on drop unless it was persisted.
#[derive(Debug)]
pub(crate) struct PartialFile {
    temp: PathBuf,
    persisted: bool,
}

impl PartialFile {
    /// Creates `.<name>.partial-<pid>-<n>` in the final path's directory.
    pub(crate) fn create(final_path: &Path) -> Result<PartialFile, PipelineError> {
        let name = final_path.file_name().ok_or_else(|| {
            PipelineError::Config(format!("`{}` names no file", final_path.display()))
        })?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let temp_name = format!(
            ".{}.partial-{}-{id}",
            name.to_string_lossy(),
            std::process::id()
        );
        let temp = final_path.with_file_name(temp_name);
        // create_new: never clobber anything; this also reports an unwritable directory with a
        // plain OS error before GStreamer is involved.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|err| PipelineError::io("creating", &temp, err))?;
        Ok(PartialFile {
            temp,
            persisted: false,
        })
    }

    /// The temporary path.
    pub(crate) fn path(&self) -> &Path {
        &self.temp
    }

    /// Flushes the data to disk, renames it to `final_path` and makes the rename durable.
    /// Returns the file size.
    pub(crate) fn persist(mut self, final_path: &Path) -> Result<u64, PipelineError> {
        let file =
            File::open(&self.temp).map_err(|err| PipelineError::io("opening", &self.temp, err))?;
        file.sync_all()
            .map_err(|err| PipelineError::io("syncing", &self.temp, err))?;
        let bytes = file
            .metadata()
            .map_err(|err| PipelineError::io("reading metadata of", &self.temp, err))?
            .len();
        std::fs::rename(&self.temp, final_path)
            .map_err(|err| PipelineError::io("renaming into", final_path, err))?;
        self.persisted = true;
        let dir = match final_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|err| PipelineError::io("syncing directory", dir, err))?;
        Ok(bytes)
    }
}

/// Removes temporary files that writers which died (crash, SIGKILL, power loss) left in `dir`.
/// Call it only when no writer of this process or another is using `dir`. Returns what it removed.
pub fn remove_stale_partials(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(PipelineError::io("listing", dir, err)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|err| PipelineError::io("listing", dir, err))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') && name.contains(".partial-") {
            std::fs::remove_file(&path).map_err(|err| PipelineError::io("removing", &path, err))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.persisted {
            return;
        }
        match std::fs::remove_file(&self.temp) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!(path = %self.temp.display(), %err, "could not remove"),
        }
    }
}
