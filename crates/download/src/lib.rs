//! wow-fetch's downloader: many `.gem` files at once over one pooled client, each streamed to
//! disk while hashed, verified, retried and published atomically into the cache (and `dest`).
//!
//! ```text
//! run ─▶ plan ─▶ job ─▶ transfer ─▶ segments ─▶ stream ─▶ context ─▶ schedule ─▶ limit
//!         │       │                                                     (global and per-host
//!         │       └─▶ verify, cache (wow-fetch-cache)                    places, lanes)
//!         └─▶ progress ─▶ event
//! ```
//! Each module imports only those to its right: data flows from the items a run is given,
//! through the schedule and the transfers, to the events and outcomes it reports.

mod context;
mod event;
mod internal;
mod job;
mod limit;
mod options;
mod plan;
mod progress;
mod run;
mod schedule;
mod segments;
mod stream;
mod transfer;
mod verify;

pub use event::{Event, EventKind, Outcome, Status, Totals};
pub use internal::InternalError;
pub use options::{RunOptions, DEFAULT_CONCURRENCY, DEFAULT_PROGRESS_INTERVAL};
pub use run::{start, Run, Waker};
