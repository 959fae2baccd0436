//! How a mirror is set up.

use crate::auth::Auth;
use crate::faults::FaultRule;
use serde::{Deserialize, Serialize};
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
    /// Present a bad server certificate (every connection, since the handshake comes before
    /// any path); [`Mirror::ca_pem`](crate::Mirror::ca_pem) is still the CA clients trust.
    pub tls_fault: Option<TlsFault>,
    /// Also serve the same content over plain HTTP on a second port
    /// ([`Mirror::plain_base_url`](crate::Mirror::plain_base_url)), e.g. as the target of an
    /// https→http redirect.
    pub plain_http: bool,
    /// Demand these credentials on every request but the control endpoints (`401` with a
    /// challenge otherwise), as a private gem server does.
    pub auth: Option<Auth>,
}

/// What is wrong with the certificate a mirror with [`MirrorConfig::tls_fault`] presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsFault {
    /// Signed by a second CA that no client is given: an unknown issuer.
    UnknownCa,
    /// Signed by the mirror's CA, but valid only during the year 2000.
    Expired,
    /// Signed by the mirror's CA, for `wrong-host.invalid` only.
    WrongHost,
}

impl std::str::FromStr for TlsFault {
    type Err = String;

    /// `unknown-ca`, `expired` or `wrong-host` (underscores work too).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.replace('_', "-").as_str() {
            "unknown-ca" => Ok(Self::UnknownCa),
            "expired" => Ok(Self::Expired),
            "wrong-host" => Ok(Self::WrongHost),
            _ => Err("expected unknown-ca, expired or wrong-host".to_owned()),
        }
    }
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
            tls_fault: None,
            plain_http: false,
            auth: None,
        }
    }
}
