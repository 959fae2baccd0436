//! `Range` and `If-Range` (RFC 9110 §14) for a single byte range, which is all a download
//! resume or Bundler's `/versions` append ever sends.

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// Serve the whole representation with 200: no usable range (missing, malformed or a
    /// multi-range, which RFC 9110 §14.2 lets a server ignore).
    Full,
    /// Serve bytes `start..end` (end exclusive) with 206.
    Partial { start: u64, end: u64 },
    /// Answer 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

pub(crate) fn parse_range(header: &str, len: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix range: the last N bytes.
        return match last.parse::<u64>() {
            Ok(0) => RangeRequest::Unsatisfiable,
            Ok(n) if len > 0 => RangeRequest::Partial {
                start: len.saturating_sub(n),
                end: len,
            },
            Ok(_) => RangeRequest::Unsatisfiable,
            Err(_) => RangeRequest::Full,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        len
    } else {
        match last.parse::<u64>() {
            Ok(l) if l >= start => l.saturating_add(1).min(len),
            _ => return RangeRequest::Full,
        }
    };
    if start >= len {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial { start, end }
    }
}

/// Whether an `If-Range` validator still names the current representation, so the range may be
/// honoured. An entity tag must match strongly (a weak one never does, RFC 9110 §13.1.5); a date
/// must equal `Last-Modified` exactly. Without validators of our own nothing matches.
pub(crate) fn if_range_matches(
    validator: &str,
    etag: Option<&str>,
    last_modified: Option<&str>,
) -> bool {
    let validator = validator.trim();
    if validator.starts_with('"') || validator.starts_with("W/") {
        etag.is_some_and(|tag| tag == validator)
    } else {
        last_modified.is_some_and(|date| date == validator)
    }
}

/// Whether `If-None-Match` lists the current entity tag (weak comparison, RFC 9110 §13.1.2).
pub(crate) fn none_match_hits(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn parses_single_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Partial { start: 0, end: 10 });
        assert_eq!(
            parse_range("bytes=90-", 100),
            Partial {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            parse_range("bytes=90-500", 100),
            Partial {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Partial {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            parse_range("bytes=-500", 100),
            Partial { start: 0, end: 100 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
    }

    #[test]
    fn ignores_what_it_cannot_honour() {
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Full);
        assert_eq!(parse_range("items=0-1", 100), Full);
        assert_eq!(parse_range("bytes=5-1", 100), Full);
        assert_eq!(parse_range("bytes=x-", 100), Full);
        assert_eq!(parse_range("bytes=", 100), Full);
    }

    #[test]
    fn if_range_compares_strongly() {
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(if_range_matches("\"abc\"", Some("\"abc\""), None));
        assert!(!if_range_matches("\"abd\"", Some("\"abc\""), None));
        assert!(!if_range_matches("W/\"abc\"", Some("\"abc\""), None));
        assert!(!if_range_matches("\"abc\"", None, Some(date)));
        assert!(if_range_matches(date, None, Some(date)));
        assert!(!if_range_matches(
            "Mon, 07 Nov 1994 08:49:37 GMT",
            None,
            Some(date)
        ));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match_hits("\"a\", W/\"b\"", "\"b\""));
        assert!(none_match_hits("*", "\"b\""));
        assert!(!none_match_hits("\"a\"", "\"b\""));
    }

    /// `Range` comes from any client: whatever it says, the answer stays inside the body.
    mod hostile {
        use super::super::{parse_range, RangeRequest};
        use proptest::prelude::*;

        fn range_header() -> impl Strategy<Value = String> {
            let number = prop_oneof![
                Just(String::new()),
                any::<u64>().prop_map(|n| n.to_string()),
                (0u64..2_000).prop_map(|n| n.to_string()),
                "-?[0-9]{1,25}",
                "\\PC{0,4}",
            ];
            (
                prop::sample::select(vec!["bytes=", "bytes =", "BYTES=", "", "items="]),
                number.clone(),
                prop::sample::select(vec!["-", "--", "", ",", "-,"]),
                number,
            )
                .prop_map(|(unit, first, dash, last)| format!("{unit}{first}{dash}{last}"))
        }

        proptest! {
            #[test]
            fn parse_range_stays_inside_the_body(
                header in prop_oneof![range_header(), "\\PC*"],
                len in prop_oneof![Just(0u64), 0u64..2_000, any::<u64>()],
            ) {
                if let RangeRequest::Partial { start, end } = parse_range(&header, len) {
                    prop_assert!(start < end && end <= len, "{header:?} {len}: {start}..{end}");
                }
            }
        }
    }
}
