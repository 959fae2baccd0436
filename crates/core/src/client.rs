//! The pooled HTTP client: rustls, HTTP/2 by ALPN, keep-alive, safe redirects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::redirect::{Attempt, Policy};
use url::Url;

use crate::options::ClientOptions;
use crate::redact::redacted;

/// Sent with every request so mirrors can tell us apart in their logs.
const USER_AGENT: &str = concat!("wow-fetch/", env!("CARGO_PKG_VERSION"));
/// Redirect hops before giving up; RubyGems.org uses one (to its CDN), Bundler allows 5.
const MAX_REDIRECTS: usize = 5;
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

/// The lanes of a pool: [`LANES`] clients with the same options (`WOW_FETCH_LANES`
/// overrides the count, for measuring), sharing one TLS configuration: the system's roots are
/// read and parsed once, not once per lane (each took ~5 ms of CPU, profiled on the way to the
/// first request), and a session made on one lane resumes on another.
pub(crate) fn build_lanes(options: &ClientOptions) -> Result<Vec<reqwest::Client>, ClientError> {
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

/// Follows at most [`MAX_REDIRECTS`] hops within one origin, and hands a redirect to another
/// origin back to [`send`], which follows it without the request's private headers. reqwest
/// itself strips only `Authorization` and cookies when a redirect leaves the host, so a
/// `headers:` secret went along to wherever a server pointed (issue 15).
fn refuse_unsafe_redirect(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let leaves_origin = attempt
        .previous()
        .last()
        .is_some_and(|from| from.origin() != attempt.url().origin());
    if leaves_origin {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        let to = redacted(attempt.url());
        attempt.error(RedirectRefused("too many redirects", to))
    } else {
        attempt.follow()
    }
}

/// Why [`send`] gave no response.
#[derive(Debug)]
pub(crate) enum SendError {
    Transport(reqwest::Error),
    /// A redirect to another origin that we will not follow; `to` is redacted.
    Refused {
        to: String,
        reason: &'static str,
    },
}

/// Sends `request`, following redirects: those within one origin inside reqwest (see
/// [`refuse_unsafe_redirect`]), those to another origin here, each as a fresh request that
/// carries the original's `private` headers (the caller's `headers:`) and credentials
/// (`Authorization` from URL userinfo or Bundler's settings, cookies) only while it is at the
/// origin they were given for. Never from https to http: a downgrade would let anyone on the
/// path swap the gem.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    private: &HeaderMap,
) -> Result<reqwest::Response, SendError> {
    let (client, original) = request.build_split();
    let original = original.map_err(SendError::Transport)?;
    let home = original.url().origin();
    let mut secure = original.url().scheme() == "https";
    let Some(mut next) = original.try_clone() else {
        return client.execute(original).await.map_err(SendError::Transport);
    };
    let mut hops = 0;
    loop {
        let response = client.execute(next).await.map_err(SendError::Transport)?;
        let Some(target) = cross_origin_target(&response) else {
            return Ok(response);
        };
        hops += 1;
        if target.scheme() == "http" && secure {
            return Err(refused(&target, "redirect from https to http"));
        }
        if hops > MAX_REDIRECTS {
            return Err(refused(&target, "too many redirects"));
        }
        secure |= target.scheme() == "https";
        next = original
            .try_clone()
            .ok_or_else(|| refused(&target, "the request cannot be repeated"))?;
        if target.origin() != home {
            let headers = next.headers_mut();
            for name in private.keys() {
                headers.remove(name);
            }
            for name in [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
            ] {
                headers.remove(name);
            }
        }
        *next.url_mut() = target;
    }
}

fn refused(target: &Url, reason: &'static str) -> SendError {
    SendError::Refused {
        to: redacted(target),
        reason,
    }
}

/// Where a redirect that reqwest handed back (one that leaves its origin) points.
fn cross_origin_target(response: &reqwest::Response) -> Option<Url> {
    let redirect = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
    if !redirect {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    (target.origin() != response.url().origin() && matches!(target.scheme(), "https" | "http"))
        .then_some(target)
}

/// The reason a redirect was refused, found again in the error's source chain, and the
/// (redacted) target refused: reqwest's error carries only the URL that answered with the
/// redirect, so "from X to X" was all a user saw (issue 8).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RedirectRefused(pub &'static str, pub String);
