//! The pooled HTTP client: rustls, HTTP/2 by ALPN, keep-alive, safe redirects, spread over a
//! few lanes per host.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;

use crate::options::ClientOptions;
use crate::redirect::refuse_unsafe_redirect;

/// Sent with every request so mirrors can tell us apart in their logs.
const USER_AGENT: &str = concat!("wow-fetch/", env!("CARGO_PKG_VERSION"));
/// Idle connections are kept this long for the next call on the same `Fetcher`.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// HTTP/2 flow-control credit per stream and per connection. One connection carries every
/// transfer, so its window must cover the bandwidth-delay product of a fast, far link
/// (1 Gbit/s × 50 ms = 6.25 MB) or the server idles waiting for WINDOW_UPDATEs; hyper's
/// defaults (2 MB / 5 MB) and its adaptive window, which starts small, cap such a link well
/// below its rate. Credit is not allocation: bytes are buffered only if we stop reading.
const H2_STREAM_WINDOW: u32 = 8 * 1024 * 1024;
const H2_CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;
/// Connections per host ("lanes"): each lane is a client with its own pool, so a run opens
/// up to this many HTTP/2 connections to a host (fewer when `concurrency` or `per_host` is
/// lower), each multiplexing its share of the transfers. One connection ramps through TCP
/// slow start alone; several ramp in parallel, which is what a fast, far link rewards.
/// Measured on the bench's emulated WAN (50 ms RTT, Rails set, 27.4 MB, median of 5 at a
/// load average of ~4; bench/RESULTS.md), lanes 1 / 2 / 4 / 8: 100 Mbit/s 2.92 / 2.93 / 2.98 /
/// 3.28 s, 1 Gbit/s 1.30 / 1.23 / 1.28 / 1.27 s. Up to 4 is within noise (one h2 connection
/// already fills 100 Mbit/s); 8 loses at the bottleneck queue. 4 lets connections warm up in
/// parallel at no measurable cost; each extra lane costs one TLS handshake.
pub const LANES: usize = 4;
/// Keeps an idle HTTP/2 connection alive through NATs between runs.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read CA bundle {}: {source}", path.display())]
    ReadCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid CA bundle {}: {detail}", path.display())]
    BadCa { path: PathBuf, detail: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] rustls::Error),
}

/// One pool of connections: a client per lane, and the connect timeout they enforce. Cheap to
/// clone; clones share connections.
#[derive(Clone, Debug)]
pub struct Pool {
    lanes: Arc<[reqwest::Client]>,
    connect_timeout: Duration,
}

impl Pool {
    /// Builds the pool's clients. Call inside the runtime that will drive them.
    ///
    /// # Errors
    /// An unreadable or empty CA bundle, or TLS that cannot be set up.
    pub fn build(options: &ClientOptions) -> Result<Self, ClientError> {
        Ok(Self {
            lanes: build_lanes(options)?.into(),
            connect_timeout: options.connect_timeout,
        })
    }

    /// The client of lane `index` (any index: lanes repeat).
    #[must_use]
    pub fn lane(&self, index: usize) -> &reqwest::Client {
        &self.lanes[index % self.lanes.len()]
    }

    /// How many lanes the pool has (at least one).
    #[must_use]
    pub fn lane_count(&self) -> usize {
        self.lanes.len()
    }

    /// The pool enforces it on connect; with a read timeout it bounds the wait for headers.
    #[must_use]
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}

/// The lanes of a pool: [`LANES`] clients with the same options (`WOW_FETCH_LANES`
/// overrides the count, for measuring), sharing one TLS configuration: the system's roots are
/// read and parsed once, not once per lane (each took ~5 ms of CPU, profiled on the way to the
/// first request), and a session made on one lane resumes on another.
fn build_lanes(options: &ClientOptions) -> Result<Vec<reqwest::Client>, ClientError> {
    let count = std::env::var("WOW_FETCH_LANES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(LANES);
    let tls = tls_config(options)?;
    (0..count)
        .map(|_| build_client(options, tls.clone()))
        .collect()
}

/// What reqwest would build itself: aws-lc, TLS 1.2 and 1.3, the platform's verifier (system
/// roots, `SSL_CERT_FILE`) plus any extra CA bundle, and ALPN offering h2 unless told not to.
fn tls_config(options: &ClientOptions) -> Result<rustls::ClientConfig, ClientError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let extra_roots = match &options.ca_file {
        Some(path) => read_ca_bundle(path)?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra_roots,
        Arc::clone(&provider),
    )
    .map_err(ClientError::Tls)?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = if options.http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    Ok(config)
}

fn build_client(
    options: &ClientOptions,
    tls: rustls::ClientConfig,
) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(options.connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .redirect(Policy::custom(refuse_unsafe_redirect))
        .http2_initial_stream_window_size(H2_STREAM_WINDOW)
        .http2_initial_connection_window_size(H2_CONNECTION_WINDOW)
        .http2_keep_alive_interval(H2_KEEP_ALIVE)
        .http2_keep_alive_while_idle(false);
    if options.http1_only {
        builder = builder.http1_only();
    }
    builder
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(ClientError::Build)
}

fn read_ca_bundle(
    path: &PathBuf,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, ClientError> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|source| ClientError::ReadCa {
        path: path.clone(),
        source,
    })?;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::BadCa {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ClientError::BadCa {
            path: path.clone(),
            detail: "no PEM certificate found".to_owned(),
        });
    }
    Ok(certs)
}
