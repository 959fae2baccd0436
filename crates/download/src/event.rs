//! What a run reports while it works, and what it returns per item.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wow_fetch_client::Error;
use wow_fetch_gem::Sha256Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Started,
    Progress,
    Retrying,
    Finished,
    Cached,
    Failed,
}

impl EventKind {
    /// Every item gets exactly one terminal event.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Cached | Self::Failed)
    }
}

/// The run's running totals, stamped on every event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Items with a terminal event so far.
    pub done: usize,
    /// Items in the call (duplicates included).
    pub count: usize,
    pub bytes_done: u64,
    /// Sum of the sizes known so far (Content-Length or cached size).
    pub bytes_total: u64,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    /// Position of the item in the call's input.
    pub index: usize,
    pub full_name: Arc<str>,
    /// Bytes of this item received so far (the file size for terminal events).
    pub bytes: u64,
    /// Content-Length (of the whole file) when known.
    pub total: Option<u64>,
    /// 1-based attempt number.
    pub attempt: u32,
    /// The failure behind `Retrying` and `Failed`.
    pub error: Option<Error>,
    pub totals: Totals,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Downloaded,
    Cached,
    Failed,
}

/// The result of one input item.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub index: usize,
    pub status: Status,
    /// The file in `dest`, else in the cache; `None` when failed.
    pub path: Option<PathBuf>,
    pub sha256: Option<Sha256Digest>,
    pub bytes: u64,
    pub attempts: u32,
    pub elapsed: Duration,
    pub error: Option<Error>,
}

impl Outcome {
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.status != Status::Failed
    }
}

/// Shared by the events of one item, so its name is allocated once.
pub(crate) type FullName = Arc<str>;
