//! Requests in flight per host: over HTTP/2 a host may take the run's whole `concurrency`
//! (each request a stream on a connection already open); over HTTP/1.1, where each one is a
//! connection of its own, at most sixteen unless `per_host` says otherwise.

use wow_fetch_core::Status;
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, places, run, Env};

/// Forty small gems, each answered slowly enough that the run's requests overlap.
fn slow_gems() -> Env {
    env(&[40_000; 40], |config| {
        config.faults = vec![FaultRule::new(PathMatch::Any, Fault::Bandwidth(100_000))];
    })
}

fn most_in_flight(env: &Env, http1_only: bool, concurrency: usize, per_host: Option<usize>) -> u64 {
    env.mirror.reset_stats();
    let fetcher = env.fetcher_with(|client| client.http1_only = http1_only);
    let mut options = env.options();
    options.cache_dir = env
        .dir
        .path()
        .join(format!("cache-{http1_only}-{concurrency}-{per_host:?}"));
    options.concurrency = places(concurrency);
    options.per_host = per_host.map(places);
    let (outcomes, _) = run(&fetcher, env.items(), options);
    assert!(outcomes.iter().all(|o| o.status == Status::Downloaded));
    env.mirror.stats().max_concurrent_responses
}

#[test]
fn an_http2_host_takes_the_runs_whole_concurrency() {
    let env = slow_gems();
    let most = most_in_flight(&env, false, 32, None);
    assert!(most > 16 && most <= 32, "{most} requests in flight at once");
}

#[test]
fn an_http1_host_gets_at_most_sixteen_connections_unless_per_host_says_more() {
    let env = slow_gems();
    assert_eq!(most_in_flight(&env, true, 32, None), 16);
    let most = most_in_flight(&env, true, 32, Some(24));
    assert!(
        most > 16 && most <= 24,
        "per_host keeps its meaning: {most}"
    );
    assert!(most_in_flight(&env, false, 32, Some(8)) <= 8);
}
