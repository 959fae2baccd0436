//! What a connection pool is built from.

use std::path::PathBuf;
use std::time::Duration;

/// Seconds to establish TCP + TLS; generous for a cold mobile link, short enough for CI.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds without a single body byte before a response (a gem download or an index request)
/// counts as stalled.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings of one pool (one per `Fetcher`). A call whose settings differ from its
/// `Fetcher`'s gets a pool of its own for that call.
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
