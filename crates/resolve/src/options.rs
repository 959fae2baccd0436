//! The settings of one resolve: where the index is, what runs the gems, how to fetch.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::version::Version;
use wow_fetch_client::DEFAULT_READ_TIMEOUT;
use wow_fetch_client::{RequestHeaders, RetryPolicy};
use wow_fetch_gem::RUBY_PLATFORM;

/// Index requests in flight at once. Info files are a few KB, and over HTTP/2 they share one
/// connection: 64 keeps a whole level of a Rails app's tree (about 45 gems) in flight at once
/// while staying under the 100 concurrent streams servers commonly allow.
pub const DEFAULT_INDEX_CONCURRENCY: NonZeroUsize = NonZeroUsize::new(64).expect("nonzero");

/// What a resolve needs to know that the index cannot tell it.
#[derive(Clone, Debug)]
pub struct ResolveOptions {
    /// Base URL of a RubyGems-compatible source with a compact index; may carry credentials.
    pub source: String,
    /// The global cache dir; the index is kept under `compact-index-v1/` in it.
    pub cache_dir: PathBuf,
    /// The running Ruby (`RUBY_VERSION`, or `Gem.ruby_version` for a prerelease Ruby); releases
    /// whose `ruby:` requirement it does not meet are passed over. `None` ignores them.
    pub ruby_version: Option<Version>,
    /// The running RubyGems (`Gem::VERSION`), for `rubygems:` requirements likewise.
    pub rubygems_version: Option<Version>,
    /// Platforms to accept, preferred first, e.g. `["x86_64-linux", "ruby"]`
    /// (`Gem::Platform.local.to_s` then `ruby`). A version with no variant for any of them is
    /// passed over.
    pub platforms: Vec<String>,
    /// Sent with every index request to the source's own origin.
    pub headers: RequestHeaders,
    pub retry: RetryPolicy,
    pub read_timeout: Duration,
    /// Index requests in flight at once.
    pub concurrency: NonZeroUsize,
    /// Stops the resolve (in-flight requests are dropped) with [`crate::ResolveError::Cancelled`];
    /// for a Ruby unblock function.
    pub cancel: Option<CancellationToken>,
}

impl ResolveOptions {
    /// Defaults: any Ruby, the `ruby` platform only, [`DEFAULT_INDEX_CONCURRENCY`], and the
    /// retry and timeout settings of a download run.
    #[must_use]
    pub fn new(source: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            source: source.into(),
            cache_dir: cache_dir.into(),
            ruby_version: None,
            rubygems_version: None,
            platforms: vec![RUBY_PLATFORM.to_owned()],
            headers: RequestHeaders::default(),
            retry: RetryPolicy::default(),
            read_timeout: DEFAULT_READ_TIMEOUT,
            concurrency: DEFAULT_INDEX_CONCURRENCY,
            cancel: None,
        }
    }
}
