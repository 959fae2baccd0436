//! The settings of one run, valid by construction: what the caller asked for, checked where
//! the settings were made (see `wow_fetch_core::Settings`), never again here.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use wow_fetch_client::DEFAULT_READ_TIMEOUT;
use wow_fetch_client::{RequestHeaders, RetryPolicy};

/// Transfers in flight at once, over all hosts. Over HTTP/2 a transfer in flight is a stream,
/// not a connection, and each costs a round trip of waiting, so many small gems need many in
/// flight: measured on the bench's WAN (50 ms RTT, `download_all` in-process, medians of 3 to
/// 7 cold runs) at 16 / 32 / 64: 1,000 small gems at 100 Mbit/s 4.09 / 2.67 / 2.72 s, the Rails
/// set at 1 Gbit/s 0.93 / 0.80 / 0.76 s, at 100 Mbit/s 2.60 / 2.66 / 2.72 s (the link is full
/// either way; more streams cost a little CPU on a 2-core machine that also runs the link).
/// An HTTP/1.1 host still gets at most 16 (connections), see `per_host`.
pub const DEFAULT_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(64).expect("nonzero");
/// How often one item may report progress; ten updates a second is smooth for a bar and cheap
/// for a Ruby block.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The settings of one `download_all` call.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub cache_dir: PathBuf,
    pub dest: Option<PathBuf>,
    pub concurrency: NonZeroUsize,
    /// Limit per host; `None` means the same as `concurrency`.
    pub per_host: Option<NonZeroUsize>,
    pub retry: RetryPolicy,
    pub read_timeout: Duration,
    pub progress_interval: Duration,
    /// Sent with every request to the items' own origins.
    pub headers: RequestHeaders,
}

impl RunOptions {
    #[must_use]
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            dest: None,
            concurrency: DEFAULT_CONCURRENCY,
            per_host: None,
            retry: RetryPolicy::default(),
            read_timeout: DEFAULT_READ_TIMEOUT,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
            headers: RequestHeaders::default(),
        }
    }

    /// Transfers in flight to one host: `per_host`, never more than `concurrency`.
    #[must_use]
    pub fn per_host_limit(&self) -> usize {
        self.per_host
            .unwrap_or(self.concurrency)
            .min(self.concurrency)
            .get()
    }
}
