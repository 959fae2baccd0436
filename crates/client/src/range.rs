//! `Content-Range`, as both the downloader (segments, resumes) and the index client
//! (appended `/versions`) read it.

use reqwest::header::{self, HeaderMap};

/// `Content-Range: bytes START-LAST/TOTAL` (RFC 9110 §14.4), as `start..end` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    pub total: u64,
}

#[must_use]
pub fn content_range(headers: &HeaderMap) -> Option<ContentRange> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (start, last, total): (u64, u64, u64) = (
        first.trim().parse().ok()?,
        last.trim().parse().ok()?,
        total.trim().parse().ok()?,
    );
    (start <= last && last < total).then_some(ContentRange {
        start,
        end: last + 1,
        total,
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn with_range(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn content_range_parses() {
        assert_eq!(
            content_range(&with_range("bytes 100-199/200")),
            Some(ContentRange {
                start: 100,
                end: 200,
                total: 200
            })
        );
        for bad in [
            "bytes */200",
            "bytes 5-4/10",
            "bytes 0-10/10",
            "items 0-1/2",
            "bytes 0-x/2",
        ] {
            assert_eq!(content_range(&with_range(bad)), None, "{bad}");
        }
    }
}
