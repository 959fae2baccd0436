//! The caller's extra request headers, checked before any traffic so a typo is an error, not
//! a silently dropped header.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wow_fetch_gem::InputError;

/// Headers sent with every request of a call (to the origin they were given for only, see
/// [`crate::send`]); valid by construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHeaders(HeaderMap);

impl RequestHeaders {
    /// Names must be RFC 9110 tokens, values visible ASCII.
    ///
    /// # Errors
    /// `InputError::BadOption` naming the first bad header (never its value, which may be a
    /// secret).
    pub fn new(extra: &[(String, String)]) -> Result<Self, InputError> {
        request_headers(extra).map(Self)
    }

    #[must_use]
    pub fn map(&self) -> &HeaderMap {
        &self.0
    }
}

fn request_headers(extra: &[(String, String)]) -> Result<HeaderMap, InputError> {
    let mut headers = HeaderMap::new();
    for (name, value) in extra {
        let bad = |reason: &str| InputError::BadOption {
            option: "headers",
            reason: format!("{name:?}: {reason}"),
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad("value is not visible ASCII"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_headers_are_refused() {
        let header = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
        assert!(RequestHeaders::new(&header("X-Ok", "fine")).is_ok());
        assert!(RequestHeaders::new(&header("Bad Name", "v")).is_err());
        let err = RequestHeaders::new(&header("X-Ok", "line\nbreak")).expect_err("bad value");
        assert!(
            !err.to_string().contains("break"),
            "values may be secrets: {err}"
        );
    }
}
