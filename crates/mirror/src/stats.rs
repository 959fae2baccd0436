//! What the mirror has seen, so tests can assert on connection reuse, protocol and resumes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// A snapshot of the mirror's counters since start or the last reset. Control endpoints
/// (`/_stats`, `/_faults`) are not counted as requests, but their connections are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// HTTP requests (HTTP/1.1 requests or h2 streams).
    pub requests: u64,
    /// Accepted TCP connections.
    pub tcp_connections: u64,
    /// Completed TLS handshakes (full or resumed).
    pub tls_handshakes: u64,
    /// Connections whose ALPN negotiated `h2`.
    pub h2_connections: u64,
    /// Connections that speak HTTP/1.1 (ALPN `http/1.1` or no ALPN).
    pub http1_connections: u64,
    /// Requests carrying a `Range` header, honoured or not.
    pub range_requests: u64,
    /// Of those, the ones whose range starts past byte 0: a client resuming a cut body, or
    /// fetching a later segment of a file (a first segment, `bytes=0-N`, is not counted).
    pub offset_range_requests: u64,
    /// Response body bytes handed to the connection.
    pub bytes_sent: u64,
    /// The most response bodies being sent at one moment: what a client's `concurrency`
    /// limit should bound.
    pub max_concurrent_responses: u64,
    /// Request count per path (query strings dropped).
    pub paths: BTreeMap<String, u64>,
    /// Per path, the requests that start at byte 0 (no `Range`, or one from byte 0): how many
    /// times a file was fetched from its beginning, however many segments or resumes followed.
    pub path_starts: BTreeMap<String, u64>,
}

/// One request as it arrived: its path and every header, in order (names lower-case).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRequest {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The first value of header `name` (any case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Requests kept by [`Counters::saw`]: enough for any test, bounded for the soak's 10,000.
const SEEN_KEPT: usize = 1_000;

/// The live counters behind [`Stats`]: atomics, so the hot path takes no lock except for the
/// per-path map.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    tcp_connections: AtomicU64,
    tls_handshakes: AtomicU64,
    h2_connections: AtomicU64,
    http1_connections: AtomicU64,
    range_requests: AtomicU64,
    offset_range_requests: AtomicU64,
    bytes_sent: AtomicU64,
    open_responses: AtomicU64,
    max_concurrent_responses: AtomicU64,
    paths: Mutex<BTreeMap<String, u64>>,
    path_starts: Mutex<BTreeMap<String, u64>>,
    seen: Mutex<std::collections::VecDeque<SeenRequest>>,
}

impl Counters {
    pub(crate) fn tcp_accepted(&self) {
        self.tcp_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn tls_established(&self, h2: bool) {
        self.tls_handshakes.fetch_add(1, Ordering::Relaxed);
        let protocol = if h2 {
            &self.h2_connections
        } else {
            &self.http1_connections
        };
        protocol.fetch_add(1, Ordering::Relaxed);
    }

    /// A request for `path`, with its `Range` header if it had one.
    pub(crate) fn request(&self, path: &str, range: Option<&[u8]>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let from_start = range.is_none_or(|range| range.starts_with(b"bytes=0-"));
        if range.is_some() {
            self.range_requests.fetch_add(1, Ordering::Relaxed);
            if !from_start {
                self.offset_range_requests.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        *paths.entry(path.to_owned()).or_default() += 1;
        drop(paths);
        if from_start {
            let mut starts = self
                .path_starts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *starts.entry(path.to_owned()).or_default() += 1;
        }
    }

    /// Records a request's headers (see [`SeenRequest`]).
    pub(crate) fn saw(&self, path: &str, headers: &hyper::HeaderMap) {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() == SEEN_KEPT {
            seen.pop_front();
        }
        seen.push_back(SeenRequest {
            path: path.to_owned(),
            headers,
        });
    }

    pub(crate) fn seen(&self) -> Vec<SeenRequest> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter().cloned().collect()
    }

    /// A counted response body begins; [`Counters::response_ended`] when it is dropped.
    pub(crate) fn response_started(&self) {
        let open = self.open_responses.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_concurrent_responses
            .fetch_max(open, Ordering::Relaxed);
    }

    pub(crate) fn response_ended(&self) {
        self.open_responses.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            tcp_connections: self.tcp_connections.load(Ordering::Relaxed),
            tls_handshakes: self.tls_handshakes.load(Ordering::Relaxed),
            h2_connections: self.h2_connections.load(Ordering::Relaxed),
            http1_connections: self.http1_connections.load(Ordering::Relaxed),
            range_requests: self.range_requests.load(Ordering::Relaxed),
            offset_range_requests: self.offset_range_requests.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            max_concurrent_responses: self.max_concurrent_responses.load(Ordering::Relaxed),
            paths: self
                .paths
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            path_starts: self
                .path_starts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.requests,
            &self.tcp_connections,
            &self.tls_handshakes,
            &self.h2_connections,
            &self.http1_connections,
            &self.range_requests,
            &self.offset_range_requests,
            &self.bytes_sent,
            &self.max_concurrent_responses,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        for map in [&self.paths, &self.path_starts] {
            map.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
