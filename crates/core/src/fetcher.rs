//! The public entry point: a `Fetcher` owns a runtime and a connection pool, shared by the
//! downloads it starts and the resolves it runs; each call to [`Fetcher::start`] is a [`Run`]
//! whose events the caller drains on its own thread.

use tokio::runtime::Runtime;
use wow_fetch_client::{ClientError, ClientOptions, Pool};
use wow_fetch_download::{InternalError, Outcome, Run, RunOptions};
use wow_fetch_gem::Item;
use wow_fetch_resolve::{GemRequest, ResolveError, ResolveOptions};

/// Why a `Fetcher` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One pool of connections (HTTP/2 multiplexed where offered, keep-alive and TLS session
/// reuse otherwise) and the runtime that drives it. Cheap to share behind an `Arc`; several
/// runs may be in flight at once.
pub struct Fetcher {
    runtime: Runtime,
    pool: Pool,
    client_options: ClientOptions,
}

impl Fetcher {
    /// # Errors
    /// When the runtime cannot start or the CA bundle cannot be read.
    pub fn new(client_options: ClientOptions) -> Result<Self, InitError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            // Transfers are I/O bound; two workers keep hashing off the critical path on a
            // small machine without oversubscribing a big one.
            .worker_threads(2)
            .thread_name("wow-fetch")
            .enable_all()
            .build()
            .map_err(InitError::Runtime)?;
        let pool = {
            let _guard = runtime.enter();
            Pool::build(&client_options)?
        };
        Ok(Self {
            runtime,
            pool,
            client_options,
        })
    }

    #[must_use]
    pub fn client_options(&self) -> &ClientOptions {
        &self.client_options
    }

    /// Starts fetching `items`. Returns at once; drain the [`Run`] for events and outcomes.
    /// `client_options` different from the pool's get a fresh pool for this run only.
    ///
    /// # Errors
    /// A CA bundle that cannot be read.
    pub fn start(
        &self,
        items: Vec<Item>,
        options: RunOptions,
        client_options: Option<&ClientOptions>,
    ) -> Result<Run, StartError> {
        let pool = self.pool_for(client_options)?;
        Ok(wow_fetch_download::start(
            self.runtime.handle(),
            pool,
            items,
            options,
        ))
    }

    /// Fetches everything and returns the outcomes, dropping events. Blocks the thread.
    ///
    /// # Errors
    /// As [`Fetcher::start`], and `StartError::Internal` as [`Run::wait`].
    pub fn download_all(
        &self,
        items: Vec<Item>,
        options: RunOptions,
    ) -> Result<Vec<Outcome>, StartError> {
        Ok(self.start(items, options, None)?.wait()?)
    }

    /// Resolves `requests` and their runtime dependencies through the source's compact index
    /// over this pool, and returns the gems to fetch: requested gems first, then dependencies
    /// by name, each with its SHA-256 from the index. Blocks the thread (not from inside an
    /// async runtime); `options.cancel` stops it.
    ///
    /// # Errors
    /// Bad options (before any traffic), an unknown requested gem, an index that cannot be
    /// fetched, or a [`ResolveError::Conflict`] explaining why no versions fit together.
    pub fn resolve(
        &self,
        requests: &[GemRequest],
        options: &ResolveOptions,
    ) -> Result<Vec<Item>, ResolveError> {
        self.resolve_with(requests, options, None)
    }

    /// [`Fetcher::resolve`] with this call's client options: when they differ from the
    /// pool's, the index is fetched over a pool of their own (as [`Fetcher::start`] does), so a
    /// per-call `ca_file`, `http1_only` or `connect_timeout` applies to the resolve too.
    ///
    /// # Errors
    /// As [`Fetcher::resolve`], and `ResolveError::Client` when that pool cannot be built.
    pub fn resolve_with(
        &self,
        requests: &[GemRequest],
        options: &ResolveOptions,
        client_options: Option<&ClientOptions>,
    ) -> Result<Vec<Item>, ResolveError> {
        let pool = self
            .pool_for(client_options)
            .map_err(|e| ResolveError::Client(e.to_string()))?;
        wow_fetch_resolve::resolve(&self.runtime, &pool, requests, options)
    }

    /// The pool for a call: this `Fetcher`'s, or a fresh one when `client_options` differ.
    fn pool_for(&self, client_options: Option<&ClientOptions>) -> Result<Pool, ClientError> {
        match client_options {
            Some(custom) if *custom != self.client_options => {
                let _guard = self.runtime.enter();
                Pool::build(custom)
            }
            _ => Ok(self.pool.clone()),
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Only from [`Fetcher::download_all`], which also waits for the run: see [`Run::wait`].
    #[error(transparent)]
    Internal(#[from] InternalError),
}
