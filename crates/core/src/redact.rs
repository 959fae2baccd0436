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

/// Removes every occurrence of the URL's secrets from a message written by a library that saw
/// the raw URL (reqwest puts the URL in its errors).
#[must_use]
pub fn scrub(message: &str, url: &Url) -> String {
    let mut out = message.to_owned();
    for secret in [url.password().unwrap_or(""), url.username()] {
        if secret.len() >= 3 {
            out = out.replace(secret, "***");
        }
    }
    out
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
}
