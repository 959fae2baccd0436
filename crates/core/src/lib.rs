//! wow-fetch's engine as one API: a [`Fetcher`] (a runtime and a pooled client) that downloads
//! items ([`wow_fetch_download`]) and resolves requirements ([`wow_fetch_resolve`]) over the
//! same connections, and the [`Settings`] of its API: every option, its kind of value, its
//! default and its checks, in one table. No Ruby here: the binding in `ext/` reads Ruby values
//! onto [`Settings`], converts items, drains [`Run`] events and maps [`Error`]s.
//!
//! The workspace, each crate importing only those below it:
//!
//! ```text
//! wow-fetch-core (this) ─▶ wow-fetch-download ─┬─▶ wow-fetch-cache ─▶ wow-fetch-gem
//!                     └──▶ wow-fetch-resolve ──┴─▶ wow-fetch-client ─▶ wow-fetch-gem
//! ```

mod fetcher;
mod settings;

pub use fetcher::{Fetcher, InitError, StartError};
pub use settings::{
    ApplyError, CallOptions, Environment, Progress, SettingDefault, SettingError, SettingInfo,
    SettingKind, SettingValue, Settings, SETTINGS,
};
pub use tokio_util::sync::CancellationToken;
pub use wow_fetch_cache::cache_path;
pub use wow_fetch_client::{
    ClientOptions, Error, ErrorKind, NetworkFailure, RequestHeaders, RetryPolicy,
    DEFAULT_BACKOFF_BASE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRY_AFTER, DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES, LANES,
};
pub use wow_fetch_download::{
    Event, EventKind, InternalError, Outcome, Run, RunOptions, Status, Totals, Waker,
    DEFAULT_CONCURRENCY, DEFAULT_PROGRESS_INTERVAL,
};
pub use wow_fetch_gem::{
    full_name, parse_specifier, redacted, GemSpecifier, InputError, Item, Sha256Digest,
    DEFAULT_SOURCE, RUBY_PLATFORM,
};
pub use wow_fetch_resolve::{
    Constraint, GemRequest, Op, RequestError, Requirement, RequirementError, ResolveError,
    ResolveOptions, Version, VersionError, DEFAULT_INDEX_CONCURRENCY,
};
