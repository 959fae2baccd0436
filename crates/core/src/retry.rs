//! Which failures are worth another attempt, and how long to wait before it.

use std::error::Error as StdError;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::{self, HeaderMap};
use url::Url;

use crate::client::{RedirectRefused, SendError};
use crate::error::{Error, ErrorKind, NetworkFailure};
use crate::options::RunOptions;
use crate::redact::{redacted, scrub};
use crate::transfer::AttemptError;

/// Statuses that say "try again": 408 and 429 are the client's timing, every 5xx is the
/// server's trouble (rubygems.org's CDN answers 502/503/504 under load). 501 and 505 are
/// included because a misbehaving intermediary sends them too and a retry is cheap.
#[must_use]
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// Whether a failed attempt may be tried again. Certificate and redirect refusals are final:
/// retrying them only delays the same answer (and hammers the server).
#[must_use]
pub fn is_retryable(kind: &ErrorKind) -> bool {
    match kind {
        ErrorKind::Http { status, .. } => is_retryable_status(*status),
        ErrorKind::Network { failure, .. } => *failure != NetworkFailure::Tls,
        // Retried once from scratch by the job itself: a proxy that cut a response short and
        // padded it looks exactly like this.
        ErrorKind::ChecksumMismatch { .. }
        | ErrorKind::Redirect { .. }
        | ErrorKind::Io { .. }
        | ErrorKind::Cancelled
        | ErrorKind::Internal(_) => false,
    }
}

/// Full-jitter exponential backoff (AWS architecture blog, "Exponential Backoff and Jitter"):
/// a random wait in `[0, base * 2^(retry-1)]`, capped at 10 s, so a fleet of CI jobs that all
/// failed at once does not come back at once.
#[must_use]
pub fn backoff(base: Duration, retry: u32) -> Duration {
    const CAP: Duration = Duration::from_secs(10);
    let ceiling = base
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(CAP);
    ceiling.mul_f64(rand::rng().random::<f64>())
}

/// An item's attempts, and the retries it has left: shared by every request of the item,
/// the segments of a split download included, so a flaky server costs an item at most
/// `retries` extra requests however its bytes are fetched.
pub(crate) struct Attempts {
    started: Instant,
    count: AtomicU32,
    retries_used: AtomicU32,
    retries: u32,
    backoff_base: Duration,
    max_retry_after: Duration,
}

impl Attempts {
    /// The item's first attempt begins.
    pub(crate) fn first(options: &RunOptions, started: Instant) -> Self {
        Self {
            started,
            count: AtomicU32::new(1),
            retries_used: AtomicU32::new(0),
            retries: options.retries,
            backoff_base: options.backoff_base,
            max_retry_after: options.max_retry_after,
        }
    }

    /// The number of the attempt in progress (1-based).
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Begins another attempt outside the retry budget (the one fresh download a checksum
    /// mismatch earns) and returns its number.
    pub(crate) fn begin_another(&self) -> u32 {
        self.count.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The item's failure as reported: what happened, after how many attempts, how long.
    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        Error {
            kind,
            attempts: self.count(),
            elapsed: self.started.elapsed(),
        }
    }

    /// After a failed request: if it may be retried and the budget allows, begins the next
    /// attempt, tells `announce` (its number and the failure) and returns how long to wait
    /// first (the server's `Retry-After`, capped, or a backoff); otherwise hands the failure
    /// back.
    pub(crate) fn retry(
        &self,
        failure: AttemptError,
        announce: impl FnOnce(u32, Error),
    ) -> Result<Duration, AttemptError> {
        if failure.restart || !is_retryable(&failure.kind) {
            return Err(failure);
        }
        let Ok(before) =
            self.retries_used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                    (used < self.retries).then_some(used + 1)
                })
        else {
            return Err(failure);
        };
        let used = before + 1;
        let error = self.error(failure.kind);
        announce(self.count.fetch_add(1, Ordering::Relaxed) + 1, error);
        Ok(match failure.retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => backoff(self.backoff_base, used),
        })
    }
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error for a failed request to `url`: what happened on the wire, with the innermost
/// useful message (reqwest's own says only "error decoding response body") and no secrets.
#[must_use]
pub(crate) fn transport_error(err: &reqwest::Error, url: &Url) -> ErrorKind {
    let detail = scrub(&error_chain(err), url);
    match classify_transport(err) {
        Classified::Network(failure) => ErrorKind::Network {
            failure,
            url: redacted(url),
            detail,
        },
        Classified::Redirect(reason) => ErrorKind::Redirect {
            from: redacted(url),
            to: find::<RedirectRefused>(err)
                .map(|refused| refused.1.clone())
                .or_else(|| err.url().map(redacted))
                .unwrap_or_else(|| "?".to_owned()),
            reason,
        },
    }
}

/// The error for a request to `url` that [`crate::client::send`] could not complete.
#[must_use]
pub(crate) fn send_error(err: &SendError, url: &Url) -> ErrorKind {
    match err {
        SendError::Transport(err) => transport_error(err, url),
        SendError::Refused { to, reason } => ErrorKind::Redirect {
            from: redacted(url),
            to: to.clone(),
            reason: (*reason).to_owned(),
        },
    }
}

/// The wait a retryable answer asks for in its `Retry-After` header, if any.
#[must_use]
pub(crate) fn retry_after(status: u16, headers: &HeaderMap) -> Option<Duration> {
    is_retryable_status(status)
        .then(|| headers.get(header::RETRY_AFTER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Maps a reqwest failure to what happened on the wire, walking the source chain as uv's
/// `retry.rs` does: reqwest wraps hyper, which wraps h2 or `io::Error`, which may wrap rustls.
#[must_use]
fn classify_transport(err: &reqwest::Error) -> Classified {
    if chain_has::<RedirectRefused>(err) || err.is_redirect() {
        let reason = find::<RedirectRefused>(err)
            .map_or_else(|| "redirect refused".to_owned(), |r| r.0.to_owned());
        return Classified::Redirect(reason);
    }
    if chain_has::<rustls::Error>(err) {
        return Classified::Network(NetworkFailure::Tls);
    }
    if err.is_timeout() {
        return Classified::Network(NetworkFailure::Timeout);
    }
    if let Some(io_err) = find::<io::Error>(err) {
        if let Some(failure) = classify_io(io_err) {
            return Classified::Network(failure);
        }
    }
    if err.is_connect() {
        return Classified::Network(NetworkFailure::Connect);
    }
    if let Some(hyper_err) = find::<hyper::Error>(err) {
        if hyper_err.is_incomplete_message() {
            return Classified::Network(NetworkFailure::Truncated);
        }
        // A response hyper cannot parse (a negative or garbage Content-Length, a bad status
        // line) is the server breaking the protocol, not a reset. Issue 8's mirror faults.
        // `is_parse` covers every malformed head, too-large ones included.
        if hyper_err.is_parse() || hyper_err.is_parse_status() {
            return Classified::Network(NetworkFailure::Protocol);
        }
        if hyper_err.is_canceled() || hyper_err.is_closed() {
            return Classified::Network(NetworkFailure::Reset);
        }
    }
    if err.is_body() || err.is_decode() || err.is_request() {
        // A stream reset (h2 RST_STREAM/GOAWAY) or a connection dropped mid-body.
        return Classified::Network(NetworkFailure::Reset);
    }
    Classified::Network(NetworkFailure::Protocol)
}

/// What a transport error turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Classified {
    Network(NetworkFailure),
    Redirect(String),
}

fn classify_io(err: &io::Error) -> Option<NetworkFailure> {
    use io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused | K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
            Some(NetworkFailure::Connect)
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::NotConnected => {
            Some(NetworkFailure::Reset)
        }
        K::UnexpectedEof => Some(NetworkFailure::Truncated),
        K::TimedOut => Some(NetworkFailure::Timeout),
        _ => None,
    }
}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        // `io::Error::source()` skips the error it wraps (it returns the wrapped error's
        // source), which is exactly where rustls puts a certificate failure.
        current = match e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn chain_has<T: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    find::<T>(err).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retried_statuses() {
        let retried: Vec<u16> = (100..600).filter(|s| is_retryable_status(*s)).collect();
        let mut expected = vec![408, 429];
        expected.extend(500..600);
        assert_eq!(retried, expected);
    }

    #[test]
    fn tls_redirect_and_checksum_are_final() {
        let network = |failure| ErrorKind::Network {
            failure,
            url: String::new(),
            detail: String::new(),
        };
        assert!(!is_retryable(&network(NetworkFailure::Tls)));
        for failure in [
            NetworkFailure::Connect,
            NetworkFailure::Reset,
            NetworkFailure::Timeout,
            NetworkFailure::Truncated,
            NetworkFailure::Protocol,
        ] {
            assert!(is_retryable(&network(failure)), "{failure:?}");
        }
        let redirect = ErrorKind::Redirect {
            from: String::new(),
            to: String::new(),
            reason: String::new(),
        };
        assert!(!is_retryable(&redirect));
        assert!(!is_retryable(&ErrorKind::Http {
            status: 404,
            url: String::new()
        }));
    }

    #[test]
    fn backoff_is_jittered_within_the_doubling_ceiling() {
        let base = Duration::from_millis(100);
        for retry in 1..=6 {
            let ceiling = base * (1 << (retry - 1));
            for _ in 0..50 {
                assert!(backoff(base, retry) <= ceiling.min(Duration::from_secs(10)));
            }
        }
        assert!(backoff(base, 40) <= Duration::from_secs(10));
        let distinct: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(base, 3)).collect();
        assert!(distinct.len() > 1, "backoff must be random");
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
