//! Settings: those that shape the connection pool (one per `Fetcher`) and those of one run.

use std::path::PathBuf;

use crate::error::InputError;
use std::time::Duration;

/// Transfers in flight at once, over all hosts. Sixteen keeps a 100 Mbit/s, 50 ms link full
/// even for small gems while staying polite to a single mirror.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Extra attempts after a retryable failure (Bundler and uv both default to 3).
pub const DEFAULT_RETRIES: u32 = 3;
/// Seconds to establish TCP + TLS; generous for a cold mobile link, short enough for CI.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds without a single body byte before a transfer counts as stalled.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How often one item may report progress; ten updates a second is smooth for a bar and cheap
/// for a Ruby block.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// First backoff step; doubled per attempt, with full jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
/// A server's `Retry-After` is honoured up to this; beyond it we would rather fail and say so.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What the connection pool is built from. A run whose settings differ from its `Fetcher`'s
/// gets a pool of its own for that run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Extra trusted roots (PEM bundle), added to the system's: `SSL_CERT_FILE`, Bundler's
    /// `ssl_ca_cert`, or a test mirror's CA.
    pub ca_file: Option<PathBuf>,
    /// Offer only HTTP/1.1 (for comparisons and servers with broken h2).
    pub http1_only: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ca_file: None,
            http1_only: false,
        }
    }
}

/// The settings of one `download_all` call.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cache_dir: PathBuf,
    pub dest: Option<PathBuf>,
    pub concurrency: usize,
    /// Limit per host; `None` means the same as `concurrency`.
    pub per_host: Option<usize>,
    pub retries: u32,
    pub read_timeout: Duration,
    pub progress_interval: Duration,
    /// Sent with every request (after validation by the caller).
    pub headers: Vec<(String, String)>,
    pub backoff_base: Duration,
    pub max_retry_after: Duration,
}

impl RunOptions {
    #[must_use]
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            dest: None,
            concurrency: DEFAULT_CONCURRENCY,
            per_host: None,
            retries: DEFAULT_RETRIES,
            read_timeout: DEFAULT_READ_TIMEOUT,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
            headers: Vec::new(),
            backoff_base: DEFAULT_BACKOFF_BASE,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

/// Checks extra request headers (names are tokens, values visible ASCII), so a caller can
/// refuse them when they are given rather than when a run starts.
///
/// # Errors
/// `InputError::BadOption` naming the first bad header.
pub fn check_headers(headers: &[(String, String)]) -> Result<(), InputError> {
    crate::plan::request_headers(headers).map(|_| ())
}
