//! Answering one request for the mirrored content (everything but the `/_` control endpoints,
//! which `server` hands to `control`): faults first, then the compact index or a gem, with
//! ranges and validators.

use crate::body::{ConnState, MirrorBody, Shape};
use crate::faults::Plan;
use crate::headers::put;
use crate::ranges::{if_range_matches, none_match_hits, parse_range, RangeRequest};
use crate::raw;
use crate::state::Shared;
use crate::store::Resource;
use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// An `Err` makes hyper drop the request without an answer: `RST_STREAM` on h2, the end of
/// the connection on HTTP/1.1.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ConnState>,
    req: Request<Incoming>,
) -> Result<Response<MirrorBody>, std::io::Error> {
    let path = req.uri().path().to_owned();
    shared.counters.request(
        &path,
        req.headers().get(header::RANGE).map(|v| v.as_bytes()),
    );
    shared.counters.saw(&path, req.headers());
    if let Some(auth) = &shared.auth {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !auth.admits(given) {
            let mut response = text(&shared, StatusCode::UNAUTHORIZED, "unauthorized\n");
            put(
                response.headers_mut(),
                header::WWW_AUTHENTICATE,
                auth.challenge(),
            );
            return Ok(response);
        }
    }
    let plan = shared.faults.plan(&path);
    let delay = shared.latency + plan.latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let http1 = req.version() != Version::HTTP_2;
    if plan.reset_before_headers {
        if http1 {
            conn.reset.store(true, Ordering::Relaxed);
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "wow-mirror: injected reset before headers",
        ));
    }
    if let Some(how) = plan.shutdown {
        if !http1 {
            conn.shut_down(how);
        }
    }
    let mut response = respond(&shared, &req, &path, &plan, Arc::clone(&conn), http1).await;
    // Connection-specific headers are forbidden in h2 (RFC 9113 §8.2.2).
    if plan.shutdown.is_some() && http1 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

async fn respond(
    shared: &Arc<Shared>,
    req: &Request<Incoming>,
    path: &str,
    plan: &Plan,
    conn: Arc<ConnState>,
    http1: bool,
) -> Response<MirrorBody> {
    if let Some((code, retry_after)) = plan.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = text(shared, status, format!("wow-mirror: injected {code}\n"));
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(location) = &plan.location {
            put(response.headers_mut(), header::LOCATION, location);
        }
        return response;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(shared, StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match lookup(shared, path).await {
        Ok(Some(resource)) => match &plan.content_length {
            Some(length) => misframed(shared, req, &resource, length, &conn, http1),
            // Only an HTTP/1.1 body resets through the connection; h2 resets its stream.
            None => represent(shared, req, &resource, plan, http1.then_some(conn)),
        },
        Ok(None) => text(shared, StatusCode::NOT_FOUND, "not found\n"),
        Err(e) => text(
            shared,
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("wow-mirror: {e}\n"),
        ),
    }
}

async fn lookup(shared: &Arc<Shared>, path: &str) -> std::io::Result<Option<Resource>> {
    let index = &shared.index;
    if path == "/" {
        return Ok(Some(index.root.clone()));
    }
    if path == "/versions" {
        return Ok(Some(index.versions.clone()));
    }
    if path == "/names" {
        return Ok(Some(index.names.clone()));
    }
    if let Some(name) = path.strip_prefix("/info/") {
        return Ok(index.info.get(name).cloned());
    }
    let gems = Arc::clone(&shared.gems);
    // File reads and first-time hashing block; keep them off the reactor.
    if let Some(file) = path.strip_prefix("/quick/Marshal.4.8/") {
        let file = file.to_owned();
        return tokio::task::spawn_blocking(move || gems.get_quick_spec(&file))
            .await
            .map_err(std::io::Error::other)?;
    }
    let Some(file) = path.strip_prefix("/gems/") else {
        return Ok(None);
    };
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || gems.get(&file))
        .await
        .map_err(std::io::Error::other)?
}

/// The resource as the request asks for it: 304, 206, 416 or 200.
fn represent(
    shared: &Arc<Shared>,
    req: &Request<Incoming>,
    resource: &Resource,
    plan: &Plan,
    conn: Option<Arc<ConnState>>,
) -> Response<MirrorBody> {
    let etag = shared.etags.then_some(resource.etag.as_str());
    let last_modified = shared.etags.then_some(resource.last_modified.as_str());
    let request_header = |name: HeaderName| req.headers().get(name)?.to_str().ok();
    let len = resource.body.len() as u64;

    let mut response = Response::new(MirrorBody::uncounted(Bytes::new()));
    let headers = response.headers_mut();
    if let Some(tag) = etag {
        put(headers, header::ETAG, tag);
    }
    if let Some(date) = last_modified {
        put(headers, header::LAST_MODIFIED, date);
    }
    if shared.ranges {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }

    if let (Some(tag), Some(candidates)) = (etag, request_header(header::IF_NONE_MATCH)) {
        if none_match_hits(candidates, tag) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
    }

    let mut range = RangeRequest::Full;
    if shared.ranges {
        if let Some(spec) = request_header(header::RANGE) {
            let current = request_header(header::IF_RANGE)
                .is_none_or(|v| if_range_matches(v, etag, last_modified));
            if current {
                range = parse_range(spec, len);
            }
        }
    }
    let body = match range {
        RangeRequest::Full => resource.body.clone(),
        RangeRequest::Partial { start, end } => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let content_range = format!("bytes {start}-{}/{len}", end - 1);
            put(
                response.headers_mut(),
                header::CONTENT_RANGE,
                &content_range,
            );
            // start < end <= len, which came from a usize.
            resource
                .body
                .slice(usize::try_from(start).unwrap_or(0)..usize::try_from(end).unwrap_or(0))
        }
        RangeRequest::Unsatisfiable => {
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            put(
                response.headers_mut(),
                header::CONTENT_RANGE,
                &format!("bytes */{len}"),
            );
            return response;
        }
    };
    let body = if plan.corrupt { corrupt(body) } else { body };

    let headers = response.headers_mut();
    put(headers, header::CONTENT_TYPE, resource.content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if req.method() != Method::HEAD {
        *response.body_mut() = MirrorBody::new(
            body,
            Shape::from(plan),
            Some(Arc::clone(&shared.counters)),
            conn,
        );
    }
    response
}

/// The whole resource as a 200 announcing `length` verbatim: raw bytes on HTTP/1.1 (see
/// `raw.rs`; the connection closes after them), the header as given on h2.
fn misframed(
    shared: &Arc<Shared>,
    req: &Request<Incoming>,
    resource: &Resource,
    length: &str,
    conn: &ConnState,
    http1: bool,
) -> Response<MirrorBody> {
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        resource.body.clone()
    };
    shared.counters.sent(body.len() as u64);
    if http1 {
        conn.set_raw(raw::response(length, resource.content_type, &body));
        let mut response = Response::new(MirrorBody::uncounted(Bytes::new()));
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let mut response = Response::new(MirrorBody::uncounted(body));
    put(
        response.headers_mut(),
        header::CONTENT_TYPE,
        resource.content_type,
    );
    if let Ok(value) = HeaderValue::from_str(length) {
        response.headers_mut().insert(header::CONTENT_LENGTH, value);
    }
    response
}

/// Flip bits in the middle and at the end: a checksum notices, a length check does not.
fn corrupt(body: Bytes) -> Bytes {
    if body.is_empty() {
        return body;
    }
    let mut bytes = BytesMut::from(&body[..]);
    let len = bytes.len();
    for at in [len / 2, len - 1] {
        bytes[at] ^= 0x5a;
    }
    bytes.freeze()
}

/// A short counted text answer (errors and injected statuses).
fn text(shared: &Arc<Shared>, status: StatusCode, body: impl Into<String>) -> Response<MirrorBody> {
    let body = Bytes::from(body.into());
    let len = body.len();
    let mut response = Response::new(MirrorBody::new(
        body,
        Shape::default(),
        Some(Arc::clone(&shared.counters)),
        None,
    ));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_keeps_length_and_changes_bytes() {
        let body = Bytes::from_static(b"0123456789");
        let bad = corrupt(body.clone());
        assert_eq!(bad.len(), body.len());
        assert_ne!(bad, body);
        assert_eq!(corrupt(Bytes::new()), Bytes::new());
    }
}
