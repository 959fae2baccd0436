//! Which failures are worth another attempt, and how long to wait before it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use reqwest::header::{self, HeaderMap};

use crate::error::{Error, ErrorKind, NetworkFailure};

/// Extra attempts after a retryable failure (Bundler and uv both default to 3).
pub const DEFAULT_RETRIES: u32 = 3;
/// First backoff step; doubled per attempt, with full jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);
/// A server's `Retry-After` is honoured up to this; beyond it we would rather fail and say so.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How hard to try: the one policy of gem downloads and index requests alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts after a retryable failure.
    pub retries: u32,
    /// First backoff step (see [`backoff`]).
    pub backoff_base: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: DEFAULT_RETRIES,
            backoff_base: DEFAULT_BACKOFF_BASE,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

/// A failed attempt: what happened, and how long the server asked us to wait.
#[derive(Debug)]
pub struct AttemptError {
    pub kind: ErrorKind,
    pub retry_after: Option<Duration>,
    /// Retrying this request cannot help, only a fresh download of the item (a segment
    /// answered for a file that is not the one being fetched).
    pub restart: bool,
}

impl From<ErrorKind> for AttemptError {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind,
            retry_after: None,
            restart: false,
        }
    }
}

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
pub struct Attempts {
    started: Instant,
    count: AtomicU32,
    retries_used: AtomicU32,
    policy: RetryPolicy,
}

impl Attempts {
    /// The item's first attempt begins.
    #[must_use]
    pub fn first(policy: RetryPolicy, started: Instant) -> Self {
        Self {
            started,
            count: AtomicU32::new(1),
            retries_used: AtomicU32::new(0),
            policy,
        }
    }

    /// The number of the attempt in progress (1-based).
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Begins another attempt outside the retry budget (the one fresh download a checksum
    /// mismatch earns) and returns its number.
    pub fn begin_another(&self) -> u32 {
        self.count.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The item's failure as reported: what happened, after how many attempts, how long.
    #[must_use]
    pub fn error(&self, kind: ErrorKind) -> Error {
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
    /// # Errors
    /// The failure itself, when it may not be retried or the budget is spent.
    pub fn retry(
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
                    (used < self.policy.retries).then_some(used + 1)
                })
        else {
            return Err(failure);
        };
        let used = before + 1;
        let error = self.error(failure.kind);
        announce(self.count.fetch_add(1, Ordering::Relaxed) + 1, error);
        Ok(match failure.retry_after {
            Some(asked) => asked.min(self.policy.max_retry_after),
            None => backoff(self.policy.backoff_base, used),
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

/// The wait a retryable answer asks for in its `Retry-After` header, if any.
#[must_use]
pub fn retry_after(status: u16, headers: &HeaderMap) -> Option<Duration> {
    is_retryable_status(status)
        .then(|| headers.get(header::RETRY_AFTER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
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
