//! Setting the response headers the mirror makes up itself, shared by `routes` (content) and
//! `control` (the `/_` endpoints).

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

/// Insert a header we generated ourselves (always visible ASCII); an invalid one is dropped
/// rather than failing the response.
pub(crate) fn put(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}
