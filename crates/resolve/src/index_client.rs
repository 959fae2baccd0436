//! The compact index over the `Fetcher`'s pooled client: `/versions` kept current with a
//! `Range` append (as Bundler does), `/info/NAME` with `If-None-Match`, both cached on disk
//! ([`crate::index_cache`]) and retried as gem transfers are.

use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderName};
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use url::Url;

use crate::compact_index::VersionsIndex;
use crate::index_cache::{digest_check, md5_hex, IndexCache, Key};
use crate::options::ResolveOptions;
use wow_fetch_client::{
    content_range, response_headers, retry_after, transport_error, AttemptError, Attempts,
    ConnectGate, Error, ErrorKind, NetworkFailure, Pool, RetryPolicy,
};
use wow_fetch_gem::{redacted, InputError};

/// One source's index, fetched through a shared pool.
pub(crate) struct IndexClient {
    client: reqwest::Client,
    source: Url,
    headers: HeaderMap,
    cache: IndexCache,
    limit: Semaphore,
    /// Until the first response, one request at a time (see [`ConnectGate`]).
    gate: ConnectGate,
    retry: RetryPolicy,
    connect_timeout: Duration,
    read_timeout: Duration,
}

/// A response we can use: its status, headers and whole body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl IndexClient {
    /// # Errors
    /// A bad source URL or header, before any traffic.
    pub(crate) fn new(pool: &Pool, options: &ResolveOptions) -> Result<Self, InputError> {
        let source = Url::parse(&options.source)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host())
            .ok_or_else(|| InputError::BadUrl {
                url: Url::parse(&options.source)
                    .map_or_else(|_| "(unparsable)".to_owned(), |u| redacted(&u)),
                reason: "the source must be an http(s) URL".to_owned(),
            })?;
        Ok(Self {
            // The first lane: index requests are small, and the downloads that follow find
            // this connection warm.
            client: pool.lane(0).clone(),
            headers: options.headers.map().clone(),
            cache: IndexCache::new(&options.cache_dir, &source),
            source,
            limit: Semaphore::new(options.concurrency.get()),
            gate: ConnectGate::new(),
            retry: options.retry,
            connect_timeout: pool.connect_timeout(),
            read_timeout: options.read_timeout,
        })
    }

    /// The source with credentials masked, for messages.
    pub(crate) fn display_source(&self) -> String {
        redacted(&self.source).trim_end_matches('/').to_owned()
    }

    fn url(&self, path: &str) -> Result<Url, ErrorKind> {
        let base = self.source.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| ErrorKind::Internal(e.to_string()))
    }

    /// The current `/versions`: the cached copy when the server says it is current, the cached
    /// copy plus the appended tail when the splice checks out against the new `ETag`, else the
    /// whole file.
    pub(crate) async fn versions(&self) -> Result<VersionsIndex, Error> {
        let started = Instant::now();
        if let Some(cached) = self
            .cache
            .read(Key::Versions)
            .await
            .filter(|c| !c.body.is_empty())
        {
            // One byte of overlap, as Bundler asks: the range is never empty (no 416 when
            // nothing changed) and the byte shows that the file still ends where ours does.
            let mut extra = vec![(header::RANGE, format!("bytes={}-", cached.body.len() - 1))];
            if let Some(etag) = &cached.etag {
                extra.push((header::IF_NONE_MATCH, etag.clone()));
            }
            let answer = self.get("versions", &extra, started).await?;
            match answer.status {
                StatusCode::NOT_MODIFIED => return Ok(parse_versions(&cached.body)),
                StatusCode::PARTIAL_CONTENT => {
                    if let Some(body) = appended(&cached.body, &answer) {
                        self.save(Key::Versions, &answer, &body).await;
                        return Ok(parse_versions(&body));
                    }
                }
                StatusCode::OK => {
                    self.save(Key::Versions, &answer, &answer.body).await;
                    return Ok(parse_versions(&answer.body));
                }
                // 416 (the file shrank) or a splice we cannot trust: start over.
                _ => {}
            }
        }
        let answer = self.get("versions", &[], started).await?;
        if answer.status != StatusCode::OK {
            return Err(self.unexpected("versions", answer.status, started));
        }
        self.save(Key::Versions, &answer, &answer.body).await;
        Ok(parse_versions(&answer.body))
    }

    /// The body of `/info/NAME`, or `None` when the source has no such gem. With `known_md5`
    /// (from a fresh `/versions`) matching the cached body, no request is made at all.
    pub(crate) async fn info(
        &self,
        name: &str,
        known_md5: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let started = Instant::now();
        let cached = self.cache.read(Key::Info(name)).await;
        if let (Some(cached), Some(md5)) = (&cached, known_md5) {
            if md5_hex(&cached.body) == md5 {
                return Ok(Some(text(&cached.body)));
            }
        }
        let path = format!("info/{name}");
        let extra: Vec<_> = cached
            .as_ref()
            .and_then(|c| c.etag.clone())
            .map(|etag| (header::IF_NONE_MATCH, etag))
            .into_iter()
            .collect();
        let answer = self.get(&path, &extra, started).await?;
        match (answer.status, cached) {
            (StatusCode::NOT_MODIFIED, Some(cached)) => Ok(Some(text(&cached.body))),
            (StatusCode::OK, _) => {
                self.save(Key::Info(name), &answer, &answer.body).await;
                Ok(Some(text(&answer.body)))
            }
            (StatusCode::NOT_FOUND | StatusCode::GONE, _) => Ok(None),
            (status, _) => Err(self.unexpected(&path, status, started)),
        }
    }

    /// The cache is an optimisation: a read-only or full disk costs requests, not the resolve.
    async fn save(&self, key: Key<'_>, answer: &Answer, body: &[u8]) {
        let etag = answer
            .headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok());
        let _ = self.cache.write(key, etag, body).await;
    }

    fn unexpected(&self, path: &str, status: StatusCode, started: Instant) -> Error {
        Error {
            kind: ErrorKind::Http {
                status: status.as_u16(),
                url: self
                    .url(path)
                    .map_or_else(|_| path.to_owned(), |u| redacted(&u)),
            },
            attempts: 1,
            elapsed: started.elapsed(),
        }
    }

    /// GET with retries. Returns 2xx, 304, 404, 410 and 416 answers; fails on other statuses
    /// once retries (for the retryable ones) are spent.
    async fn get(
        &self,
        path: &str,
        extra: &[(HeaderName, String)],
        started: Instant,
    ) -> Result<Answer, Error> {
        let fail = |kind, attempts| Error {
            kind,
            attempts,
            elapsed: started.elapsed(),
        };
        let url = self.url(path).map_err(|kind| fail(kind, 0))?;
        let _permit = self
            .limit
            .acquire()
            .await
            .map_err(|_| fail(ErrorKind::Cancelled, 0))?;
        let attempts = Attempts::first(self.retry, started);
        loop {
            let failure = match self.attempt(&url, extra).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            let wait = attempts
                .retry(failure, |_, _| {})
                .map_err(|failure| fail(failure.kind, attempts.count()))?;
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        url: &Url,
        extra: &[(HeaderName, String)],
    ) -> Result<Answer, AttemptError> {
        let mut request = self.client.get(url.clone()).headers(self.headers.clone());
        for (name, value) in extra {
            request = request.header(name, value);
        }
        let network = |failure, detail: String| ErrorKind::Network {
            failure,
            url: redacted(url),
            detail,
        };
        let transport = |err: &reqwest::Error| transport_error(err, url);
        let first_contact = self.gate.pass().await;
        // Headers within a connect plus a read budget: a server that accepts and then says
        // nothing is a stall too.
        let sent = response_headers(
            request,
            &self.headers,
            self.connect_timeout + self.read_timeout,
            url,
        )
        .await;
        if let Some(first) = first_contact {
            // Open even after a failure: the others then try on their own.
            first.connected();
        }
        let mut response = sent?;
        let status = response.status();
        let usable = status.is_success()
            || matches!(
                status,
                StatusCode::NOT_MODIFIED
                    | StatusCode::NOT_FOUND
                    | StatusCode::GONE
                    | StatusCode::RANGE_NOT_SATISFIABLE
            );
        if !usable {
            let retry_after = retry_after(status.as_u16(), response.headers());
            let kind = ErrorKind::Http {
                status: status.as_u16(),
                url: redacted(url),
            };
            return Err(AttemptError {
                kind,
                retry_after,
                restart: false,
            });
        }
        let mut body = Vec::new();
        loop {
            // A read timeout is a stall with no bytes, not a cap on the whole body: the first
            // `/versions` of rubygems.org is tens of megabytes.
            match tokio::time::timeout(self.read_timeout, response.chunk()).await {
                Err(_) => {
                    return Err(network(NetworkFailure::Timeout, "body stalled".to_owned()).into())
                }
                Ok(Err(e)) => return Err(transport(&e).into()),
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                Ok(Ok(None)) => break,
            }
        }
        let headers = response.headers().clone();
        if status == StatusCode::OK {
            let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
            if etag.and_then(|tag| digest_check(tag, &body)) == Some(false) {
                // A cut or mangled body (a proxy, a flaky CDN): worth another try.
                let detail = "the body does not match its ETag digest".to_owned();
                return Err(network(NetworkFailure::Truncated, detail).into());
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The cached `/versions` with a 206 tail spliced on, if the tail starts at our last byte,
/// repeats it, and the result matches the new `ETag` digest. Bundler 2.3 checks the same
/// (with MD5); an opaque tag cannot vouch for a splice, so then the whole file is fetched.
fn appended(cached: &[u8], answer: &Answer) -> Option<Vec<u8>> {
    let start = content_range(&answer.headers)?.start;
    if start + 1 != cached.len() as u64 || answer.body.first() != cached.last() {
        return None;
    }
    let mut body = Vec::with_capacity(cached.len() + answer.body.len());
    body.extend_from_slice(cached);
    body.extend_from_slice(&answer.body[1..]);
    let etag = answer.headers.get(header::ETAG)?.to_str().ok()?;
    (digest_check(etag, &body) == Some(true)).then_some(body)
}

fn parse_versions(body: &[u8]) -> VersionsIndex {
    VersionsIndex::parse(&text(body))
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use sha2::{Digest, Sha256};

    fn answer(content_range: &str, etag: &str, body: &[u8]) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(content_range).expect("ascii"),
        );
        headers.insert(header::ETAG, HeaderValue::from_str(etag).expect("ascii"));
        Answer {
            status: StatusCode::PARTIAL_CONTENT,
            headers,
            body: body.to_vec(),
        }
    }

    #[test]
    fn splices_a_verified_tail_only() {
        let old = b"---\nrack 1.0 aaa\n";
        let new = b"---\nrack 1.0 aaa\nrack 1.1 bbb\n";
        let sha = format!("\"{}\"", hex::encode(Sha256::digest(new)));
        let md5 = format!("\"{}\"", md5_hex(new));
        let tail = &new[old.len() - 1..];
        let range = format!("bytes {}-{}/{}", old.len() - 1, new.len() - 1, new.len());
        assert_eq!(
            appended(old, &answer(&range, &sha, tail)).as_deref(),
            Some(&new[..])
        );
        assert_eq!(
            appended(old, &answer(&range, &md5, tail)).as_deref(),
            Some(&new[..])
        );
        // Wrong digest, opaque tag, wrong offset, or a file that no longer ends like ours.
        assert!(appended(old, &answer(&range, "\"00\"", tail)).is_none());
        assert!(appended(old, &answer(&range, "\"v2\"", tail)).is_none());
        assert!(appended(old, &answer("bytes 0-9/40", &sha, tail)).is_none());
        let mut changed = old.to_vec();
        changed[old.len() - 1] = b'x';
        assert!(appended(&changed, &answer(&range, &sha, tail)).is_none());
    }
}
