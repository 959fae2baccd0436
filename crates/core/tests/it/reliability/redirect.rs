//! Redirects: followed to another path, stopped when they loop, refused from https to http.

use wow_fetch_core::{cache_path, ErrorKind, Item, Status};
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, run, sha256_hex, temp_files, Env};

fn redirect(from: &str, to: &str) -> FaultRule {
    FaultRule::new(
        PathMatch::exact(from),
        Fault::Redirect {
            status: 302,
            location: to.to_owned(),
        },
    )
}

/// Gem 0 requested at `path` (expecting gem 0's digest), plus the healthy gem 1.
fn items_with(env: &Env, path: &str) -> Vec<Item> {
    let gem = &env.gems[0];
    let moved = Item::new(
        "g0",
        "1.0.0",
        None,
        Some(&gem.sha256),
        &format!("{}{path}", env.mirror.base_url()),
    )
    .expect("item");
    vec![moved, env.item(&env.gems[1], true)]
}

/// Gem 0 at `path` is refused for `reason`, naming the target `to`; gem 1 is fetched.
fn refused(env: &Env, path: &str, reason: &str, to: &str) {
    let items = items_with(env, path);
    let (outcomes, _) = run(&env.fetcher(), items.clone(), env.options());
    let error = outcomes[0].error.as_ref().expect("refused");
    assert!(
        matches!(&error.kind, ErrorKind::Redirect { reason: r, .. } if r == reason),
        "{error:?}"
    );
    assert_eq!(error.attempts, 1, "a refused redirect is final");
    let message = error.to_string();
    let from = format!(
        "refused redirect from {}{path} to {to}: ",
        env.mirror.base_url()
    );
    assert!(message.starts_with(&from), "{message}");
    eprintln!("[reliability] {message}");
    assert!(!cache_path(&env.cache_dir(), &items[0]).exists());
    assert_eq!(outcomes[1].status, Status::Downloaded);
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn a_redirect_to_another_path_is_followed() {
    let env = env(&[100_000, 20_000], |config| {
        config
            .faults
            .push(redirect("/old/g0.gem", "/gems/g0-1.0.0.gem"));
    });
    let items = items_with(&env, "/old/g0.gem");
    let (outcomes, _) = run(&env.fetcher(), items.clone(), env.options());
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    assert_eq!(outcomes[0].attempts, 1);
    // Cached under the origin asked for, with the name validated from the item.
    let entry = cache_path(&env.cache_dir(), &items[0]);
    assert_eq!(outcomes[0].path.as_ref(), Some(&entry));
    assert_eq!(sha256_hex(&entry), env.gems[0].sha256);
    let stats = env.mirror.stats();
    assert_eq!(
        (
            stats.paths["/old/g0.gem"],
            stats.paths["/gems/g0-1.0.0.gem"]
        ),
        (1, 1)
    );
}

#[test]
fn a_redirect_loop_stops() {
    let env = env(&[10_000, 20_000], |config| {
        config.faults.push(redirect("/loop/a", "/loop/b"));
        config.faults.push(redirect("/loop/b", "/loop/a"));
    });
    let to = format!("{}/loop/a", env.mirror.base_url());
    refused(&env, "/loop/a", "too many redirects", &to);
    let stats = env.mirror.stats();
    let hops = stats.paths["/loop/a"] + stats.paths["/loop/b"];
    // The first request and five redirects, as Bundler allows.
    assert_eq!(hops, 6, "{stats:?}");
}

#[test]
fn a_redirect_to_itself_stops() {
    let env = env(&[10_000, 20_000], |config| {
        config.faults.push(redirect("/self.gem", "/self.gem"));
    });
    let to = format!("{}/self.gem", env.mirror.base_url());
    refused(&env, "/self.gem", "too many redirects", &to);
    assert_eq!(env.mirror.stats().paths["/self.gem"], 6);
}

#[test]
fn a_redirect_from_https_to_http_is_refused() {
    let env = env(&[10_000, 20_000], |config| config.plain_http = true);
    let plain = env.mirror.plain_base_url().expect("plain listener");
    let to = format!("{plain}/gems/g0-1.0.0.gem");
    env.mirror.add_fault(redirect("/secure/g0.gem", &to));
    refused(&env, "/secure/g0.gem", "redirect from https to http", &to);
    // The plain listener was never asked: the downgrade is refused before any request.
    let stats = env.mirror.stats();
    assert_eq!(stats.paths.get("/gems/g0-1.0.0.gem"), None, "{stats:?}");
}
