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
