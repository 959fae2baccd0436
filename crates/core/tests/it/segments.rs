//! Files larger than one segment arrive as several ranged requests at once, written into one
//! temp file, hashed in order, retried per segment, and restarted whole when the file changes.

use wow_fetch_core::{ErrorKind, EventKind, NetworkFailure, Status};
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, first_retry_error, places, run, sha256_hex, temp_files, Env};

/// A bit over three segments of 512 KiB: four requests.
const SIZE: usize = 3 * 512 * 1024 + 123_457;

fn large(rules: Vec<FaultRule>, configure: impl FnOnce(&mut wow_mirror::MirrorConfig)) -> Env {
    env(&[SIZE], |config| {
        config.faults = rules;
        configure(config);
    })
}

fn on_gem(fault: Fault) -> FaultRule {
    FaultRule::new(PathMatch::Prefix("/gems/".into()), fault)
}

/// Runs the one item (with its digest) and checks the file; returns its attempts and events.
fn fetched(env: &Env) -> (u32, Vec<wow_fetch_core::Event>) {
    let (outcomes, events) = run(&env.fetcher(), env.items(), env.options());
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
    assert_eq!(outcome.bytes, env.gems[0].size);
    assert_eq!(
        sha256_hex(outcome.path.as_ref().expect("path")),
        env.gems[0].sha256
    );
    assert_eq!(outcome.sha256.expect("digest").to_hex(), env.gems[0].sha256);
    assert!(temp_files(env.dir.path()).is_empty());
    (outcome.attempts, events)
}

fn gem_requests(env: &Env) -> u64 {
    let stats = env.mirror.stats();
    stats
        .paths
        .iter()
        .filter(|(path, _)| path.starts_with("/gems/"))
        .map(|(_, count)| count)
        .sum()
}

#[test]
fn a_large_gem_arrives_in_segments_without_extra_bytes() {
    let env = large(vec![], |_| {});
    let (attempts, events) = fetched(&env);
    assert_eq!(attempts, 1);
    let stats = env.mirror.stats();
    assert_eq!(gem_requests(&env), 4, "{stats:?}");
    assert_eq!(stats.offset_range_requests, 3, "{stats:?}");
    assert_eq!(stats.bytes_sent, env.gems[0].size, "every byte sent once");
    let progress: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == EventKind::Progress)
        .map(|e| e.bytes)
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(events
        .iter()
        .filter(|e| e.kind == EventKind::Progress && e.bytes > 0)
        .all(|e| e.total == Some(env.gems[0].size)));
}

#[test]
fn a_reset_in_the_first_segment_resumes_it_and_keeps_hashing() {
    let env = large(vec![on_gem(Fault::ResetAfter(100_000)).times(1)], |_| {});
    let (attempts, _) = fetched(&env);
    assert_eq!(attempts, 2);
    let stats = env.mirror.stats();
    assert_eq!(gem_requests(&env), 5, "{stats:?}");
    // The resume asked only for the rest of the first segment.
    assert!(stats.bytes_sent < env.gems[0].size + 150_000, "{stats:?}");
}

#[test]
fn a_failed_later_segment_is_retried_alone() {
    let env = large(vec![on_gem(Fault::Status(503)).after(1).times(1)], |_| {});
    let (attempts, events) = fetched(&env);
    assert_eq!(attempts, 2);
    assert_eq!(gem_requests(&env), 5);
    assert!(matches!(
        first_retry_error(&events).kind,
        ErrorKind::Http { status: 503, .. }
    ));
    // Only the 503's short text came on top of the file.
    let sent = env.mirror.stats().bytes_sent;
    assert!(sent < env.gems[0].size + 100, "{sent}");
}

#[test]
fn a_file_that_changes_between_segments_is_fetched_again_whole() {
    // After the first segment the server answers every range with the whole file (200), as
    // when `If-Range` no longer matches: the parts cannot be trusted together.
    let env = large(vec![], |_| {});
    let length = Fault::ContentLength(env.gems[0].size.to_string());
    env.mirror.add_fault(on_gem(length).after(1));
    let (attempts, events) = fetched(&env);
    assert_eq!(attempts, 2);
    let retry = first_retry_error(&events);
    assert!(
        matches!(
            retry.kind,
            ErrorKind::Network {
                failure: NetworkFailure::Protocol,
                ..
            }
        ) && retry.to_string().contains("changed"),
        "{retry}"
    );
}

#[test]
fn without_ranges_a_large_gem_streams_whole_in_one_request() {
    let env = large(vec![], |config| config.ranges = false);
    let (attempts, _) = fetched(&env);
    assert_eq!(attempts, 1);
    assert_eq!(gem_requests(&env), 1);
    assert_eq!(env.mirror.stats().offset_range_requests, 0);
}

#[test]
fn segments_draw_on_the_items_one_retry_budget() {
    let env = large(vec![on_gem(Fault::Status(500)).after(1)], |_| {});
    let mut options = env.options();
    options.retry.retries = 2;
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, Status::Failed);
    let error = outcome.error.as_ref().expect("error");
    assert!(
        matches!(error.kind, ErrorKind::Http { status: 500, .. }),
        "{error}"
    );
    assert_eq!(error.attempts, 3, "{error}");
    // The first segment, three later ones, two retries: never more.
    assert!(gem_requests(&env) <= 6, "{:?}", env.mirror.stats());
    assert!(temp_files(env.dir.path()).is_empty());
    let cached = wow_fetch_core::cache_path(&env.cache_dir(), &env.items()[0]);
    assert!(!cached.exists());
}

#[test]
fn concurrency_one_still_finishes_a_split_file() {
    // The first segment gives its slot back when it is in, so its later segments can run
    // even when only one transfer may be in flight.
    let env = large(vec![], |_| {});
    let mut options = env.options();
    options.concurrency = places(1);
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    assert_eq!(gem_requests(&env), 4);
    assert_eq!(env.mirror.stats().max_concurrent_responses, 1);
}

#[test]
fn the_limits_bound_requests_in_flight_segments_included() {
    // Two large gems and four small ones, each response paced so that they overlap.
    let sizes = [SIZE, SIZE, 50_000, 50_000, 50_000, 50_000];
    let env = env(&sizes, |config| {
        config.faults = vec![FaultRule::new(PathMatch::Any, Fault::Bandwidth(2_000_000))];
    });
    for (concurrency, per_host, most) in [(3, None, 3), (16, Some(2), 2)] {
        env.mirror.reset_stats();
        let mut options = env.options();
        options.cache_dir = env.dir.path().join(format!("cache-{concurrency}"));
        options.concurrency = places(concurrency);
        options.per_host = per_host.map(places);
        let (outcomes, _) = run(&env.fetcher(), env.items(), options);
        assert!(outcomes.iter().all(|o| o.status == Status::Downloaded));
        let stats = env.mirror.stats();
        assert_eq!(stats.max_concurrent_responses, most, "{stats:?}");
        assert!(
            stats.offset_range_requests >= 6,
            "both large gems split: {stats:?}"
        );
    }
}

#[test]
fn one_file_holds_at_most_twenty_four_segments_in_flight() {
    // 28 segments of 512 KiB, each answered slowly enough that they would all overlap: the
    // run's 64 places are not all given to one file (memory grows with each stream).
    let env = env(&[28 * 512 * 1024], |config| {
        config.faults = vec![FaultRule::new(PathMatch::Any, Fault::Bandwidth(2_000_000))];
    });
    let mut options = env.options();
    options.concurrency = places(64);
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    assert_eq!(outcomes[0].status, Status::Downloaded);
    let stats = env.mirror.stats();
    assert!(
        stats.max_concurrent_responses > 16 && stats.max_concurrent_responses <= 24,
        "{stats:?}"
    );
}
