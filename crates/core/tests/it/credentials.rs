//! Credentials reach the server they were given for, and no one else; they never appear in
//! a message. The mirror demands Basic or Bearer authentication and records the headers of
//! every request (issue 15).

use wow_fetch_core::{ErrorKind, Item, Status};
use wow_mirror::{basic, Auth, Fault, FaultRule, MirrorConfig, PathMatch};

use crate::support::{env, headers, run, Env};

const PASSWORD: &str = "s3cr3t-pw";

fn basic_auth() -> Auth {
    Auth::Basic {
        user: "alice".to_owned(),
        password: PASSWORD.to_owned(),
    }
}

/// Gem 0 of `env` at `base` (`https://user:pw@localhost:PORT`, say).
fn item_at(env: &Env, base: &str) -> Item {
    let gem = &env.gems[0];
    let (name, version) = gem.full_name.rsplit_once('-').expect("name-version");
    let url = format!("{base}/gems/{}.gem", gem.full_name);
    Item::new(name, version, None, Some(&gem.sha256), &url).expect("item")
}

fn with_userinfo(base: &str, userinfo: &str) -> String {
    base.replacen("https://", &format!("https://{userinfo}@"), 1)
}

#[test]
fn url_userinfo_reaches_the_server_as_basic_auth() {
    let env = env(&[20_000], |config| config.auth = Some(basic_auth()));
    let base = with_userinfo(&env.mirror.base_url(), &format!("alice:{PASSWORD}"));
    let (outcomes, _) = run(&env.fetcher(), vec![item_at(&env, &base)], env.options());
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    let seen = env.mirror.requests_seen();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(basic("alice", PASSWORD).as_str()),
            "{request:?}"
        );
    }
}

#[test]
fn headers_reach_the_server() {
    let env = env(&[20_000], |config| {
        config.auth = Some(Auth::Bearer("tok-123".to_owned()));
    });
    let mut options = env.options();
    options.headers = headers(&[("Authorization", "Bearer tok-123"), ("X-Secret", "hush")]);
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    let seen = env.mirror.requests_seen();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(request.header("authorization"), Some("Bearer tok-123"));
        assert_eq!(request.header("x-secret"), Some("hush"));
    }
}

#[test]
fn a_401_is_an_http_error_without_the_secret() {
    let env = env(&[20_000], |config| config.auth = Some(basic_auth()));
    for userinfo in ["alice:wr0ng-pw", "alice:q9", "TOKENabc123"] {
        env.mirror.reset_stats();
        let base = with_userinfo(&env.mirror.base_url(), userinfo);
        let (outcomes, events) = run(&env.fetcher(), vec![item_at(&env, &base)], env.options());
        let error = outcomes[0].error.as_ref().expect("refused");
        assert!(
            matches!(error.kind, ErrorKind::Http { status: 401, .. }),
            "{error:?}"
        );
        assert_eq!(error.attempts, 1, "a 401 is not retried");
        let secret = userinfo.rsplit(':').next().expect("secret");
        let shown = [
            error.to_string(),
            format!("{error:?}"),
            format!("{outcomes:?}"),
            format!("{events:?}"),
        ];
        for text in shown {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
        assert!(
            error.to_string().starts_with("HTTP 401 from https://"),
            "{error}"
        );
        assert_eq!(env.mirror.stats().requests, 1);
    }
}

/// Issue 15: reqwest strips only `Authorization` and cookies on a redirect to another host, so
/// a `headers:` secret followed the redirect. Every private header and the credentials from
/// the URL stay with the origin they were given for; a redirect within it keeps them.
#[test]
fn a_redirect_to_another_origin_drops_headers_and_credentials() {
    let env = env(&[20_000], |config| config.auth = Some(basic_auth()));
    let elsewhere = env.start_mirror(MirrorConfig::new(env.gems_dir()));
    let gem = env.gems[0].full_name.clone();
    env.mirror.add_fault(FaultRule::new(
        PathMatch::exact("/moved.gem"),
        Fault::Redirect {
            status: 302,
            location: format!("/gems/{gem}.gem"),
        },
    ));
    env.mirror.add_fault(FaultRule::new(
        PathMatch::exact("/away.gem"),
        Fault::Redirect {
            status: 302,
            location: format!("{}/gems/{gem}.gem", elsewhere.base_url()),
        },
    ));
    let fetcher = env.fetcher_trusting(&[&elsewhere]);
    let base = with_userinfo(&env.mirror.base_url(), &format!("alice:{PASSWORD}"));
    let mut options = env.options();
    options.headers = headers(&[("X-Secret", "hush")]);
    let (name, version) = gem.rsplit_once('-').expect("name-version");
    let sha = env.gems[0].sha256.clone();
    let at = |path: &str| {
        Item::new(name, version, None, Some(&sha), &format!("{base}{path}")).expect("item")
    };

    // Within the origin: followed with everything (the mirror demands the password).
    let (outcomes, _) = run(&fetcher, vec![at("/moved.gem")], options.clone());
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    for request in env.mirror.requests_seen() {
        assert_eq!(request.header("x-secret"), Some("hush"), "{request:?}");
        assert!(request.header("authorization").is_some(), "{request:?}");
    }

    // To another origin: followed, without them.
    options.cache_dir = env.dir.path().join("cache-2");
    env.mirror.reset_stats();
    let (outcomes, _) = run(&fetcher, vec![at("/away.gem")], options);
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    let home = env.mirror.requests_seen();
    assert_eq!(home.len(), 1, "{home:?}");
    assert_eq!(home[0].header("x-secret"), Some("hush"));
    let away = elsewhere.requests_seen();
    assert!(!away.is_empty(), "the redirect was followed");
    for request in &away {
        assert_eq!(request.header("x-secret"), None, "leaked: {request:?}");
        assert_eq!(request.header("authorization"), None, "leaked: {request:?}");
        assert!(
            !format!("{request:?}").contains(PASSWORD),
            "leaked: {request:?}"
        );
        assert!(request.header("range").is_some(), "other headers stay");
    }
}
