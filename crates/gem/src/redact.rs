//! Credentials never leave the request: every URL shown to a user passes through here.

use url::Url;

/// The URL with its userinfo masked. A password becomes `***`; a user name alone is masked too,
/// because gem hosts commonly take an API token there (`https://TOKEN@gems.example/`).
#[must_use]
pub fn redacted(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut safe = url.clone();
    // Setting userinfo fails only for URLs that cannot have one, which we never build.
    if url.password().is_some() {
        let _ = safe.set_password(Some("***"));
    } else {
        let _ = safe.set_username("***");
    }
    safe.to_string()
}

/// Removes the URL's secrets from a message written by a library that saw the raw URL
/// (reqwest puts URLs in its errors), whatever their length: a one- or two-character password
/// is a secret too (issue 15). Every userinfo inside `scheme://…@` is masked first, which
/// catches short secrets where they actually appear (in URLs, this one's or a redirect
/// target's) without turning every `a` of the message into `***`; then any remaining
/// occurrence of a secret of three characters or more, raw or percent-decoded, is masked.
#[must_use]
pub fn scrub(message: &str, url: &Url) -> String {
    let mut out = mask_userinfo(message);
    for secret in [url.password().unwrap_or(""), url.username()] {
        let decoded = percent_decode(secret);
        for form in [secret, decoded.as_str()] {
            if form.len() >= 3 {
                out = out.replace(form, "***");
            }
        }
    }
    out
}

/// `scheme://user:pw@host` → `scheme://***@host` for every URL in `text`. The authority ends
/// at the first `/`, `?`, `#`, whitespace, quote or bracket; its userinfo at its last `@`.
fn mask_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| {
                matches!(
                    c,
                    '/' | '?' | '#' | '"' | '\'' | ')' | '(' | '<' | '>' | '[' | ']'
                ) || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// `%XX` escapes decoded (lossily, for comparison only), as a server or library may print a
/// user name or password after decoding it.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn masks_password_and_token() {
        assert_eq!(
            redacted(&url("https://u:pw@h.test/a")),
            "https://u:***@h.test/a"
        );
        assert_eq!(
            redacted(&url("https://tok123@h.test/a")),
            "https://***@h.test/a"
        );
        assert_eq!(redacted(&url("https://h.test/a")), "https://h.test/a");
    }

    #[test]
    fn scrub_removes_secrets_from_foreign_messages() {
        let u = url("https://alice:hunter22@h.test/a");
        let message = "error sending request for url (https://alice:hunter22@h.test/a)";
        let clean = scrub(message, &u);
        assert!(
            !clean.contains("hunter22") && !clean.contains("alice"),
            "{clean}"
        );
    }

    #[test]
    fn scrub_removes_secrets_of_any_length() {
        // Issue 15: secrets under three characters were left in place.
        for (raw, userinfo) in [
            ("https://zz:q9@h.test/a", "zz:q9@"),
            ("https://z@h.test/a", "z@"),
            ("https://u:p@h.test/a", "u:p@"),
        ] {
            let message =
                format!("error sending request for url ({raw}): redirect to http://zz:q9@x.test/");
            let clean = scrub(&message, &url(raw));
            for secret in [userinfo, "zz:q9@", ":q9"] {
                assert!(!clean.contains(secret), "{secret:?} in {clean}");
            }
            assert_eq!(
                clean,
                "error sending request for url (https://***@h.test/a): redirect to \
                 http://***@x.test/"
            );
        }
    }

    #[test]
    fn scrub_masks_percent_decoded_secrets() {
        let u = url("https://alice:p%40ss%21word@h.test/a");
        let clean = scrub("auth failed for alice with p@ss!word", &u);
        assert!(
            !clean.contains("p@ss!word") && !clean.contains("alice"),
            "{clean}"
        );
    }
}
