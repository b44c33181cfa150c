//! The one error type of this crate. GStreamer failures keep the name of the element that
//! reported them and its debug text, because that is what tells an operator which plugin,
//! file or setting to look at.

use std::path::PathBuf;

use gst::prelude::*;
use std::time::Duration;

/// Everything that can go wrong while building, feeding or reading back a media pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// `gst::init` failed: the GStreamer core libraries could not be loaded or set up.
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),

    /// An element the pipeline needs is not installed (or its plugin failed to load).
    #[error("GStreamer element `{element}` is not available; install {package}")]
    MissingElement {
        /// Factory name of the element, e.g. `mp4mux`.
        element: String,
        /// The package that usually provides it.
        package: String,
    },

    /// No encoder of the kind exists on this machine, after trying every known one.
    #[error("no {kind} encoder available (tried {tried}); install {install}")]
    NoEncoder {
        /// `"video"` or `"audio"`.
        kind: &'static str,
        /// The element names that were tried, comma separated.
        tried: String,
        /// What to install to get one.
        install: &'static str,
    },

    /// The element named in the configuration exists but cannot serve as this encoder.
    #[error("configured {kind} encoder `{element}` cannot be used: {reason}")]
    UnsuitableEncoder {
        /// `"video"` or `"audio"`.
        kind: &'static str,
        /// Factory name from the configuration.
        element: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The configuration or clip format is invalid (zero rates, odd output sizes, ...).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A chunk does not match the clip format or goes back in time.
    #[error("invalid chunk: {0}")]
    Chunk(String),

    /// Elements could not be created, added or linked into the pipeline.
    #[error("could not build the pipeline: {0}")]
    Build(String),

    /// An element posted an error on the bus (or a state change failed with one).
    #[error("GStreamer element `{element}` failed: {message} ({debug})")]
    Element {
        /// Name of the element that posted the error.
        element: String,
        /// The error message.
        message: String,
        /// GStreamer's debug text, or an empty string.
        debug: String,
    },

    /// A state change failed without an error message explaining it.
    #[error("pipeline could not change state to {0}")]
    StateChange(String),

    /// Data did not flow: pushing to an appsrc failed without a bus error to explain it.
    #[error("could not push data into `{element}`: {flow}")]
    Flow {
        /// Name of the appsrc.
        element: String,
        /// The flow return, e.g. `Flushing`.
        flow: String,
    },

    /// The pipeline made no progress for `waited` while `what` was expected.
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// How long it waited.
        waited: Duration,
    },

    /// A file system operation failed.
    #[error("{action} `{}`: {source}", path.display())]
    Io {
        /// What was being done, e.g. `"creating"`.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The playout (or another long-lived worker) is no longer running.
    #[error("stopped: {0}")]
    Stopped(String),

    /// The discoverer could not read a media file.
    #[error("could not discover `{}`: {reason}", path.display())]
    Discover {
        /// The file that was analysed.
        path: PathBuf,
        /// What the discoverer reported.
        reason: String,
    },
}

impl PipelineError {
    /// Builds an [`PipelineError::Io`] error.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PipelineError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Converts an error message taken from a bus.
    pub(crate) fn from_bus_error(err: &gst::message::Error) -> Self {
        PipelineError::Element {
            element: err
                .src()
                .map(|s| s.name().to_string())
                .unwrap_or_else(|| "unknown".into()),
            message: err.error().to_string(),
            debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
        }
    }
}
