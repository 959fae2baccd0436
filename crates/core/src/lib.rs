//! wow-fetch's engine: many `.gem` files at once over one pooled client, each streamed to disk
//! while hashed, verified, retried and published atomically. No Ruby here: the binding in
//! `ext/` converts input, drains [`Run`] events and maps [`Error`]s.

mod cache;
mod client;
mod error;
mod event;
mod fetcher;
mod gate;
mod item;
mod job;
mod limit;
mod options;
mod plan;
mod progress;
mod redact;
mod resolve;
mod retry;
mod segments;
mod slot;
mod transfer;
mod verify;

pub use cache::cache_path;
pub use client::LANES;
pub use error::{Error, ErrorKind, InputError, InternalError, NetworkFailure};
pub use event::{Event, EventKind, Outcome, Status, Totals};
pub use fetcher::{Fetcher, InitError, Run, StartError, Waker};
pub use item::{full_name, parse_specifier, GemSpecifier, Item, Sha256Digest, RUBY_PLATFORM};
pub use options::{
    check_headers, ClientOptions, RunOptions, DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_PROGRESS_INTERVAL, DEFAULT_READ_TIMEOUT, DEFAULT_RETRIES,
};
pub use redact::redacted;
pub use resolve::{
    Constraint, GemRequest, Op, RequestError, Requirement, RequirementError, ResolveError,
    ResolveOptions, Version, VersionError, DEFAULT_INDEX_CONCURRENCY, DEFAULT_SOURCE,
};
pub use tokio_util::sync::CancellationToken;
