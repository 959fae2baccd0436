//! Redirects, followed so that secrets stay with their origin.

use reqwest::header::{self, HeaderMap};
use reqwest::redirect::Attempt;
use url::Url;
use wow_fetch_gem::redacted;

/// Redirect hops before giving up; RubyGems.org uses one (to its CDN), Bundler allows 5.
const MAX_REDIRECTS: usize = 5;

/// Follows at most [`MAX_REDIRECTS`] hops within one origin, and hands a redirect to another
/// origin back to [`send`], which follows it without the request's private headers. reqwest
/// itself strips only `Authorization` and cookies when a redirect leaves the host, so a
/// `headers:` secret went along to wherever a server pointed (issue 15).
pub(crate) fn refuse_unsafe_redirect(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let leaves_origin = attempt
        .previous()
        .last()
        .is_some_and(|from| from.origin() != attempt.url().origin());
    if leaves_origin {
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        let to = redacted(attempt.url());
        attempt.error(RedirectRefused("too many redirects", to))
    } else {
        attempt.follow()
    }
}

/// Why [`send`] gave no response.
#[derive(Debug)]
pub enum SendError {
    Transport(reqwest::Error),
    /// A redirect to another origin that we will not follow; `to` is redacted.
    Refused {
        to: String,
        reason: &'static str,
    },
}

/// Sends `request`, following redirects: those within one origin inside reqwest (see
/// [`refuse_unsafe_redirect`]), those to another origin here, each as a fresh request that
/// carries the original's `private` headers (the caller's `headers:`) and credentials
/// (`Authorization` from URL userinfo or Bundler's settings, cookies) only while it is at the
/// origin they were given for. Never from https to http: a downgrade would let anyone on the
/// path swap the gem.
pub async fn send(
    request: reqwest::RequestBuilder,
    private: &HeaderMap,
) -> Result<reqwest::Response, SendError> {
    let (client, original) = request.build_split();
    let original = original.map_err(SendError::Transport)?;
    let home = original.url().origin();
    let mut secure = original.url().scheme() == "https";
    let Some(mut next) = original.try_clone() else {
        return client.execute(original).await.map_err(SendError::Transport);
    };
    let mut hops = 0;
    loop {
        let response = client.execute(next).await.map_err(SendError::Transport)?;
        let Some(target) = cross_origin_target(&response) else {
            return Ok(response);
        };
        hops += 1;
        if target.scheme() == "http" && secure {
            return Err(refused(&target, "redirect from https to http"));
        }
        if hops > MAX_REDIRECTS {
            return Err(refused(&target, "too many redirects"));
        }
        secure |= target.scheme() == "https";
        next = original
            .try_clone()
            .ok_or_else(|| refused(&target, "the request cannot be repeated"))?;
        if target.origin() != home {
            let headers = next.headers_mut();
            for name in private.keys() {
                headers.remove(name);
            }
            for name in [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
            ] {
                headers.remove(name);
            }
        }
        *next.url_mut() = target;
    }
}

fn refused(target: &Url, reason: &'static str) -> SendError {
    SendError::Refused {
        to: redacted(target),
        reason,
    }
}

/// Where a redirect that reqwest handed back (one that leaves its origin) points.
fn cross_origin_target(response: &reqwest::Response) -> Option<Url> {
    let redirect = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
    if !redirect {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    (target.origin() != response.url().origin() && matches!(target.scheme(), "https" | "http"))
        .then_some(target)
}

/// The reason a redirect was refused, found again in the error's source chain, and the
/// (redacted) target refused: reqwest's error carries only the URL that answered with the
/// redirect, so "from X to X" was all a user saw (issue 8).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct RedirectRefused(pub &'static str, pub String);
