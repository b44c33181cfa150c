//! The named errors of `org.reel.Reel1`. Each message says what was wrong and what to do, because
//! the caller is often a script or `busctl` and sees nothing else.

use crate::queue::AdmissionError;
use crate::store::StoreError;

/// Errors returned by the Reel D-Bus API, named `org.reel.Reel1.Error.<Variant>`.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.reel.Reel1.Error")]
pub enum ReelError {
    /// An argument or option is missing, of the wrong type or out of range; the message names it.
    InvalidArgument(String),
    /// An option that is part of the API but not implemented by this build yet.
    NotSupported(String),
    /// The queue holds `jobs.queue_capacity` jobs already.
    QueueFull(String),
    /// No such job.
    NotFound(String),
    /// The caller may not do this (polkit said no, or polkit is unreachable).
    NotAuthorized(String),
    /// The content policy refused the request (reserved for #9; not raised yet).
    PolicyRefused(String),
    /// The daemon is draining for shutdown and takes no new jobs.
    ShuttingDown(String),
    /// The daemon could not do it (the jobs database failed); the message says why.
    Failed(String),
    /// A D-Bus transport error.
    #[zbus(error)]
    ZBus(zbus::Error),
}

impl From<AdmissionError> for ReelError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::QueueFull { .. } => ReelError::QueueFull(e.to_string()),
            _ => ReelError::InvalidArgument(e.to_string()),
        }
    }
}

impl From<StoreError> for ReelError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(refused) => refused.into(),
            StoreError::NotFound(id) => ReelError::NotFound(format!(
                "no job {id}; ListJobs (or `reelctl jobs`) lists the jobs"
            )),
            e => ReelError::Failed(e.to_string()),
        }
    }
}
