//! wow-fetch's HTTP layer, shared by the downloader and the resolver: the pooled client
//! (rustls, HTTP/2 by ALPN, keep-alive) spread over a few lanes per host, each lane's connect
//! gate, redirects that keep secrets with their origin, the one retry policy and the failure
//! vocabulary it decides on. Nothing here knows about items, caches or runs.
//!
//! ```text
//! options ─▶ pool ─▶ redirect ─▶ failure ─▶ request        lanes, headers, range, retry, error
//! ```

mod error;
mod failure;
mod headers;
mod lanes;
mod options;
mod pool;
mod range;
mod redirect;
mod request;
mod retry;

pub use error::{Error, ErrorKind, NetworkFailure};
pub use failure::{send_error, transport_error};
pub use headers::RequestHeaders;
pub use lanes::{ConnectGate, FirstContact, LaneSlot, Lanes};
pub use options::{ClientOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT};
pub use pool::{ClientError, Pool, LANES};
pub use range::{content_range, ContentRange};
pub use redirect::{send, SendError};
pub use request::response_headers;
pub use retry::{
    backoff, is_retryable, is_retryable_status, parse_retry_after, retry_after, AttemptError,
    Attempts, RetryPolicy, DEFAULT_BACKOFF_BASE, DEFAULT_MAX_RETRY_AFTER, DEFAULT_RETRIES,
};
