//! Errors as types: what went wrong, for which URL (redacted), after how many attempts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use wow_fetch_gem::Sha256Digest;

/// How a network failure happened; decides whether to retry and what Ruby class to raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkFailure {
    Connect,
    Tls,
    Reset,
    Timeout,
    /// The body ended before its Content-Length.
    Truncated,
    /// The server sent something that is not HTTP we can use (bad framing, a protocol error).
    Protocol,
}

impl fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection failed",
            Self::Tls => "TLS handshake failed",
            Self::Reset => "connection reset",
            Self::Timeout => "timed out",
            Self::Truncated => "body ended early",
            Self::Protocol => "protocol error",
        })
    }
}

/// Why one item failed. URLs here are always redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("SHA-256 mismatch for {url}: expected {expected}, got {actual}")]
    ChecksumMismatch {
        url: String,
        expected: Sha256Digest,
        actual: Sha256Digest,
    },
    #[error("HTTP {status} from {url}")]
    Http { status: u16, url: String },
    #[error("{failure} for {url}: {detail}")]
    Network {
        failure: NetworkFailure,
        url: String,
        detail: String,
    },
    #[error("refused redirect from {from} to {to}: {reason}")]
    Redirect {
        from: String,
        to: String,
        reason: String,
    },
    #[error("{action} {}: {detail}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("cancelled")]
    Cancelled,
    /// A bug in wow-fetch; reported instead of taking the whole run down.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One item's failure, with how hard we tried (as in uv: "after 3 retries in 2.1s").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if self.attempts > 1 {
            write!(
                f,
                " (after {} attempts in {:.1}s)",
                self.attempts,
                self.elapsed.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl ErrorKind {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            detail: err.to_string(),
        }
    }
}
