//! How a mirror is set up.

use crate::faults::FaultRule;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Settings for [`Mirror::start`](crate::Mirror::start). Build with [`MirrorConfig::new`] and
/// adjust the public fields.
#[derive(Clone, Debug)]
pub struct MirrorConfig {
    /// Directory of `NAME.gem` files, served as `/gems/NAME.gem` and indexed at start.
    pub gems_dir: PathBuf,
    /// Offer only `http/1.1` in ALPN; otherwise `h2` first, then `http/1.1`.
    pub http1_only: bool,
    /// Honour `Range`/`If-Range` (206) and send `Accept-Ranges: bytes`.
    pub ranges: bool,
    /// Send a strong `ETag` (the body's SHA-256) and `Last-Modified`, and answer
    /// `If-None-Match` with 304.
    pub etags: bool,
    /// Delay before every response's headers, to imitate a distant server.
    pub latency: Duration,
    /// Faults active from the first request; more can be added while running.
    pub faults: Vec<FaultRule>,
    /// Where to listen. The default, `127.0.0.1:0`, is an ephemeral loopback port (and `[::1]`
    /// on the same port when free, since `localhost` may resolve to either).
    pub bind: SocketAddr,
    /// Names or IP literals the certificate covers besides `localhost`, `127.0.0.1` and `::1`.
    pub extra_names: Vec<String>,
}

impl MirrorConfig {
    /// Serve `gems_dir` over h2 and HTTP/1.1 with ranges and validators, no latency, no faults.
    pub fn new(gems_dir: impl Into<PathBuf>) -> Self {
        Self {
            gems_dir: gems_dir.into(),
            http1_only: false,
            ranges: true,
            etags: true,
            latency: Duration::ZERO,
            faults: Vec::new(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            extra_names: Vec::new(),
        }
    }
}
