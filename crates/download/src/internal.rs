//! A run that broke: never the network or the disk (they fail single items), always a bug.

/// A run that could not give every item its outcome: a bug in wow-fetch (a panic in the task
/// that runs or reports it, a job lost), never the network or the disk, which fail single
/// items instead. Raised rather than returning fewer outcomes than items (issue 15: `wait`
/// returned an empty list).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error: {0}")]
pub struct InternalError(pub String);

impl InternalError {
    /// From a caught panic's payload: its message when it has one.
    pub fn from_panic(what: &str, panic: &(dyn std::any::Any + Send)) -> Self {
        let detail = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        Self(format!("{what} panicked: {detail}"))
    }
}
