//! The shared cache: hits make no request, mismatches refetch, concurrent users agree.

use wow_fetch_core::{cache_path, Item, Status};

use crate::support::{env, run, sha256_hex, temp_files};

#[test]
fn a_cache_hit_makes_no_request() {
    let env = env(&[20_000, 30_000], |_| {});
    let fetcher = env.fetcher();
    run(&fetcher, env.items(), env.options());
    env.mirror.reset_stats();
    let (outcomes, events) = run(&fetcher, env.items(), env.options());
    assert!(outcomes.iter().all(|o| o.status == Status::Cached));
    assert_eq!(
        outcomes[1].sha256.expect("digest").to_hex(),
        env.gems[1].sha256
    );
    assert_eq!(outcomes[1].bytes, env.gems[1].size);
    assert_eq!(env.mirror.stats().requests, 0);
    let cached = events
        .iter()
        .filter(|e| e.kind == wow_fetch_core::EventKind::Cached)
        .count();
    assert_eq!(cached, 2);
}

#[test]
fn a_cached_file_with_the_wrong_digest_is_fetched_again() {
    let env = env(&[20_000], |_| {});
    let fetcher = env.fetcher();
    let item = env.items().remove(0);
    let entry = cache_path(&env.cache_dir(), &item);
    std::fs::create_dir_all(entry.parent().expect("parent")).expect("mkdir");
    std::fs::write(&entry, b"tampered").expect("write");
    let (outcomes, _) = run(&fetcher, vec![item], env.options());
    assert_eq!(outcomes[0].status, Status::Downloaded);
    assert_eq!(sha256_hex(&entry), env.gems[0].sha256);
}

#[test]
fn without_an_expected_digest_the_cached_file_is_trusted() {
    let env = env(&[20_000], |_| {});
    let fetcher = env.fetcher();
    let item = env.item(&env.gems[0], false);
    run(&fetcher, vec![item.clone()], env.options());
    let (outcomes, _) = run(&fetcher, vec![item], env.options());
    assert_eq!(outcomes[0].status, Status::Cached);
    assert_eq!(
        outcomes[0].sha256.expect("digest").to_hex(),
        env.gems[0].sha256
    );
}

#[test]
fn two_fetchers_on_one_cache_at_once_both_succeed() {
    let sizes: Vec<usize> = (0..30).map(|i| 50_000 + i * 1_000).collect();
    let env = env(&sizes, |_| {});
    let (a, b) = (env.fetcher(), env.fetcher());
    let items: Vec<Item> = env.items();
    let (first, second) = std::thread::scope(|scope| {
        let one = scope.spawn(|| run(&a, items.clone(), env.options()).0);
        let two = scope.spawn(|| run(&b, items.clone(), env.options()).0);
        (one.join().expect("thread"), two.join().expect("thread"))
    });
    for outcomes in [first, second] {
        for (outcome, gem) in outcomes.iter().zip(&env.gems) {
            assert!(outcome.is_ok(), "{:?}", outcome.error);
            assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
        }
    }
    assert!(temp_files(env.dir.path()).is_empty());
    // The entry lock makes the second fetcher wait and find each gem cached.
    assert_eq!(env.mirror.stats().requests, 30, "each gem fetched once");
}

/// Two sources on one host (`https://h/s/A`, `https://h/s/B`, as Gemfury or Artifactory serve
/// them) offer a gem of the same name with different bytes. Issue 15: the cache keyed entries
/// by host only, so without a SHA-256 source B got source A's file, in a later call and even
/// within one call (the second job found the first one's entry under the same lock).
#[test]
fn sources_sharing_a_host_never_get_each_others_files() {
    use wow_mirror::{Fault, FaultRule, PathMatch};
    let env = env(&[20_000, 30_000], |config| {
        for (source, gem) in [("A", "g0"), ("B", "g1")] {
            config.faults.push(FaultRule::new(
                PathMatch::exact(format!("/s/{source}/gems/x-1.0.0.gem")),
                Fault::Redirect {
                    status: 302,
                    location: format!("/gems/{gem}-1.0.0.gem"),
                },
            ));
        }
    });
    let fetcher = env.fetcher();
    let from = |source: &str| {
        let url = format!("{}/s/{source}/gems/x-1.0.0.gem", env.mirror.base_url());
        Item::new("x", "1.0.0", None, None, &url).expect("item")
    };
    let digest = |outcome: &wow_fetch_core::Outcome| {
        assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
        let path = outcome.path.as_deref().expect("path");
        assert_eq!(sha256_hex(path), outcome.sha256.expect("digest").to_hex());
        outcome.sha256.expect("digest").to_hex()
    };

    // Separate calls on one cache.
    let (a, _) = run(&fetcher, vec![from("A")], env.options());
    let (b, _) = run(&fetcher, vec![from("B")], env.options());
    assert_eq!(digest(&a[0]), env.gems[0].sha256, "source A");
    assert_eq!(
        digest(&b[0]),
        env.gems[1].sha256,
        "source B got source A's file"
    );
    assert_ne!(a[0].path, b[0].path);
    let (again, _) = run(&fetcher, vec![from("A"), from("B")], env.options());
    assert!(again.iter().all(|o| o.status == Status::Cached));
    assert_eq!(
        again[0].sha256.map(|d| d.to_hex()),
        Some(env.gems[0].sha256.clone())
    );
    assert_eq!(
        again[1].sha256.map(|d| d.to_hex()),
        Some(env.gems[1].sha256.clone())
    );

    // Both in one call, into a fresh cache.
    let mut options = env.options();
    options.cache_dir = env.dir.path().join("cache-one-call");
    let (both, _) = run(&fetcher, vec![from("A"), from("B")], options);
    assert_eq!(digest(&both[0]), env.gems[0].sha256, "source A, one call");
    assert_eq!(digest(&both[1]), env.gems[1].sha256, "source B, one call");
}
