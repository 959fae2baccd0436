//! Every wire fault, on one gem of three: the faulted gem ends up right or fails with the
//! right error and a clear message, the other two never notice, and nothing partial stays.

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use wow_fetch_core::{
    cache_path, Error, ErrorKind, Event, EventKind, Item, NetworkFailure, Outcome, RunOptions,
    Status,
};
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, run, sha256_hex, temp_files, Env};

const FAULTED: &str = "/gems/g0-1.0.0.gem";
/// Gem 0 (300 KB) gets the fault; gems 1 and 2 share the run and the connection pool.
const SIZES: [usize; 3] = [300_000, 200_000, 100_000];
/// `RunOptions::retries` default: four attempts in all.
const ALL_ATTEMPTS: u32 = wow_fetch_core::DEFAULT_RETRIES + 1;

fn case(fault: Fault, times: Option<u32>, http1: bool) -> Env {
    env(&SIZES, |config| {
        config.http1_only = http1;
        let mut rule = FaultRule::new(PathMatch::exact(FAULTED), fault);
        rule.times = times;
        config.faults.push(rule);
    })
}

/// Runs all three gems and checks what must hold whatever the fault: the bystanders are
/// fetched once and right, each item has one terminal event, no temp file is left.
fn run_case(env: &Env, options: RunOptions) -> (Outcome, Vec<Event>) {
    let fetcher = env.fetcher();
    let (outcomes, events) = run(&fetcher, env.items(), options);
    for (outcome, gem) in outcomes.iter().zip(&env.gems).skip(1) {
        assert_eq!(
            outcome.status,
            Status::Downloaded,
            "{}: {:?}",
            gem.full_name,
            outcome.error
        );
        assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
    }
    for index in 0..outcomes.len() {
        let terminal = events
            .iter()
            .filter(|e| e.index == index && e.kind.is_terminal())
            .count();
        assert_eq!(terminal, 1, "one terminal event for item {index}");
    }
    let left = temp_files(env.dir.path());
    assert!(left.is_empty(), "temp files left: {left:?}");
    let outcome = outcomes.into_iter().next().expect("gem 0");
    (outcome, events)
}

fn recovered(env: &Env, attempts: RangeInclusive<u32>) -> Vec<Event> {
    recovered_with(env, env.options(), attempts)
}

fn recovered_with(env: &Env, options: RunOptions, attempts: RangeInclusive<u32>) -> Vec<Event> {
    let (outcome, events) = run_case(env, options);
    assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
    assert!(
        attempts.contains(&outcome.attempts),
        "{} attempts, expected {attempts:?}",
        outcome.attempts
    );
    assert_eq!(
        sha256_hex(outcome.path.as_ref().expect("path")),
        env.gems[0].sha256
    );
    let retries = events
        .iter()
        .filter(|e| e.index == 0 && e.kind == EventKind::Retrying)
        .count();
    assert_eq!(retries as u32, outcome.attempts - 1, "each retry announced");
    events
}

/// The faulted gem failed as `expected` after `attempts`, with every word of `words` in its
/// message, and left nothing in the cache.
fn failed(
    env: &Env,
    expected: impl Fn(&ErrorKind) -> bool,
    attempts: u32,
    words: &[&str],
) -> Error {
    let (outcome, _) = run_case(env, env.options());
    assert_eq!(outcome.status, Status::Failed);
    assert!(outcome.path.is_none());
    let error = outcome.error.expect("error");
    assert!(expected(&error.kind), "unexpected kind: {error:?}");
    assert_eq!(error.attempts, attempts, "{error}");
    let message = error.to_string();
    for word in words {
        assert!(message.contains(word), "{message:?} lacks {word:?}");
    }
    let entry = cache_path(&env.cache_dir(), &env.items()[0]);
    assert!(!entry.exists(), "a failed gem must not be cached");
    eprintln!("[reliability] {message}");
    error
}

fn network(failure: NetworkFailure) -> impl Fn(&ErrorKind) -> bool {
    move |kind| matches!(kind, ErrorKind::Network { failure: f, .. } if *f == failure)
}

fn http(status: u16) -> impl Fn(&ErrorKind) -> bool {
    move |kind| matches!(kind, ErrorKind::Http { status: s, .. } if *s == status)
}

fn first_retry_error(events: &[Event]) -> ErrorKind {
    events
        .iter()
        .find(|e| e.index == 0 && e.kind == EventKind::Retrying)
        .and_then(|e| e.error.clone())
        .expect("a retry with its cause")
        .kind
}

// Connection refused ------------------------------------------------------------------------

#[test]
fn connection_refused_fails_alone_after_every_retry() {
    let env = env(&SIZES[1..], |_| {});
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let dead = Item::new(
        "dead",
        "1.0",
        None,
        None,
        &format!("https://127.0.0.1:{port}/gems/dead-1.0.gem"),
    )
    .expect("item");
    let mut items = vec![dead];
    items.extend(env.items());
    let (outcomes, _) = run(&env.fetcher(), items, env.options());
    let error = outcomes[0].error.as_ref().expect("error");
    assert!(network(NetworkFailure::Connect)(&error.kind), "{error:?}");
    assert_eq!(error.attempts, ALL_ATTEMPTS);
    assert!(error.to_string().contains("connection failed"), "{error}");
    eprintln!("[reliability] {error}");
    assert!(outcomes[1..].iter().all(Outcome::is_ok));
    assert!(temp_files(env.dir.path()).is_empty());
}

// Resets --------------------------------------------------------------------------------------

#[test]
fn reset_before_headers_is_retried_on_h2() {
    let env = case(Fault::ResetBeforeHeaders, Some(1), false);
    let events = recovered(&env, 2..=2);
    assert!(matches!(
        first_retry_error(&events),
        ErrorKind::Network { .. }
    ));
}

#[test]
fn reset_before_headers_is_retried_on_http1() {
    let env = case(Fault::ResetBeforeHeaders, Some(1), true);
    let events = recovered(&env, 2..=2);
    assert!(network(NetworkFailure::Reset)(&first_retry_error(&events)));
}

#[test]
fn persistent_reset_before_headers_fails_as_a_reset() {
    let env = case(Fault::ResetBeforeHeaders, None, true);
    failed(
        &env,
        network(NetworkFailure::Reset),
        ALL_ATTEMPTS,
        &["connection reset", FAULTED, "after 4 attempts"],
    );
}

#[test]
fn reset_mid_body_resumes_on_h2_and_http1() {
    for http1 in [false, true] {
        let env = case(Fault::ResetAfter(100_000), Some(1), http1);
        recovered(&env, 2..=2);
        assert_eq!(
            env.mirror.stats().offset_range_requests,
            1,
            "http1: {http1}"
        );
    }
}

#[test]
fn reset_at_the_last_byte_resumes_on_h2_and_http1() {
    for http1 in [false, true] {
        let env = case(Fault::ResetBeforeEnd(1), Some(1), http1);
        recovered(&env, 2..=2);
        let stats = env.mirror.stats();
        assert_eq!(stats.offset_range_requests, 1, "http1: {http1}: {stats:?}");
        // The resume asked for the one missing byte, not the file again.
        let total: u64 = env.gems.iter().map(|g| g.size).sum();
        assert!(stats.bytes_sent < total + 1_000, "{stats:?}");
    }
}

#[test]
fn reset_after_the_last_byte_still_yields_the_file() {
    // Every byte arrived, then the stream was reset instead of ended (h2), or the connection
    // after a complete HTTP/1.1 body (which the client never notices).
    // h2 sees the reset and fetches again (a range from the end would only earn a 416).
    let env = case(Fault::ResetBeforeEnd(0), Some(1), false);
    recovered(&env, 2..=2);
    let env = case(Fault::ResetBeforeEnd(0), Some(1), true);
    recovered(&env, 1..=1);
}

#[test]
fn repeated_mid_body_resets_still_finish_by_resuming() {
    // Every response is cut after 100 KB, resumes included: each attempt adds 100 KB.
    for http1 in [false, true] {
        let env = case(Fault::ResetAfter(100_000), None, http1);
        let attempts = u32::try_from(env.gems[0].size.div_ceil(100_000)).expect("small");
        recovered(&env, attempts..=attempts);
    }
}

#[test]
fn resets_that_make_no_progress_fail_as_a_reset() {
    let env = case(Fault::ResetAfter(0), None, true);
    failed(
        &env,
        network(NetworkFailure::Reset),
        ALL_ATTEMPTS,
        &["connection reset", "after 4 attempts"],
    );
}

// Statuses --------------------------------------------------------------------------------------

#[test]
fn server_errors_are_retried() {
    for status in [500, 502, 503] {
        let env = case(Fault::Status(status), Some(2), false);
        let events = recovered(&env, 3..=3);
        assert!(http(status)(&first_retry_error(&events)));
    }
}

#[test]
fn persistent_server_error_fails_with_its_status() {
    let env = case(Fault::Status(502), None, false);
    failed(
        &env,
        http(502),
        ALL_ATTEMPTS,
        &["HTTP 502 from", FAULTED, "after 4 attempts"],
    );
    assert_eq!(env.mirror.stats().paths[FAULTED], u64::from(ALL_ATTEMPTS));
}

#[test]
fn not_found_is_not_retried() {
    let env = case(Fault::Status(404), None, false);
    failed(&env, http(404), 1, &["HTTP 404 from", FAULTED]);
}

#[test]
fn too_many_requests_without_retry_after_backs_off_and_retries() {
    let env = case(Fault::Status(429), Some(1), false);
    recovered(&env, 2..=2);
}

#[test]
fn too_many_requests_with_retry_after_waits_as_asked() {
    let env = case(
        Fault::RetryAfter {
            status: 429,
            seconds: 1,
        },
        Some(1),
        false,
    );
    let started = Instant::now();
    recovered(&env, 2..=2);
    assert!(started.elapsed() >= Duration::from_millis(950));
}

// Bodies ----------------------------------------------------------------------------------------

#[test]
fn truncated_body_resumes_on_h2_and_http1() {
    for http1 in [false, true] {
        let env = case(Fault::Truncate(50_000), Some(1), http1);
        let events = recovered(&env, 2..=2);
        let cause = first_retry_error(&events);
        assert!(matches!(cause, ErrorKind::Network { .. }), "{cause}");
        eprintln!("[reliability] truncated, http1 {http1}, retried after: {cause}");
    }
}

#[test]
fn persistent_truncation_fails_as_truncated() {
    let env = case(Fault::Truncate(50_000), None, true);
    failed(
        &env,
        network(NetworkFailure::Truncated),
        ALL_ATTEMPTS,
        &["body ended early", "after 4 attempts"],
    );
}

#[test]
fn body_longer_than_content_length_is_caught_by_the_digest() {
    // The server announces 1,000 bytes and sends 300 KB: an HTTP/1.1 client reads the 1,000
    // it was promised, which only the SHA-256 can tell from the real file.
    let env = case(Fault::ContentLength("1000".into()), Some(1), true);
    let events = recovered(&env, 2..=2);
    assert!(matches!(
        first_retry_error(&events),
        ErrorKind::ChecksumMismatch { .. }
    ));
    let env = case(Fault::ContentLength("1000".into()), None, true);
    failed(
        &env,
        |kind| matches!(kind, ErrorKind::ChecksumMismatch { .. }),
        2,
        &["SHA-256 mismatch", FAULTED],
    );
}

#[test]
fn body_longer_than_content_length_on_h2_is_a_protocol_failure() {
    // h2 checks DATA against content-length itself, so the lie never reaches the digest.
    let env = case(Fault::ContentLength("1000".into()), Some(1), false);
    let events = recovered(&env, 2..=2);
    let cause = first_retry_error(&events);
    assert!(matches!(cause, ErrorKind::Network { .. }), "{cause}");
    eprintln!("[reliability] h2 body longer than content-length, retried after: {cause}");
}

#[test]
fn huge_content_length_is_a_truncation() {
    for http1 in [false, true] {
        let env = case(
            Fault::ContentLength("99999999999999".into()),
            Some(1),
            http1,
        );
        recovered(&env, 2..=2);
    }
    let env = case(Fault::ContentLength("99999999999999".into()), None, true);
    failed(
        &env,
        network(NetworkFailure::Truncated),
        ALL_ATTEMPTS,
        &["body ended early", "before message length reached"],
    );
}

#[test]
fn content_length_beyond_u64_negative_or_garbage_is_a_protocol_error() {
    for value in ["99999999999999999999999", "-1", "abc", "1e6"] {
        let env = case(Fault::ContentLength(value.into()), Some(1), true);
        recovered(&env, 2..=2);
        let env = case(Fault::ContentLength(value.into()), None, true);
        failed(
            &env,
            network(NetworkFailure::Protocol),
            ALL_ATTEMPTS,
            &["protocol error", FAULTED, "content-length"],
        );
    }
}

#[test]
fn corrupt_bytes_are_fetched_again_then_fail_as_a_mismatch() {
    let env = case(Fault::Corrupt, Some(1), false);
    recovered(&env, 2..=2);
    let env = case(Fault::Corrupt, None, false);
    let error = failed(
        &env,
        |kind| matches!(kind, ErrorKind::ChecksumMismatch { .. }),
        2,
        &["SHA-256 mismatch", "expected", "got"],
    );
    assert!(error.to_string().contains(&env.gems[0].sha256), "{error}");
}

#[test]
fn stall_mid_body_times_out_and_resumes() {
    let env = case(
        Fault::Stall {
            after: 10_000,
            seconds: 30,
        },
        Some(1),
        false,
    );
    let mut options = env.options();
    options.read_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let events = recovered_with(&env, options, 2..=2);
    assert!(network(NetworkFailure::Timeout)(&first_retry_error(
        &events
    )));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn slow_trickle_is_not_a_stall() {
    let env = case(Fault::Bandwidth(150_000), None, false);
    let mut options = env.options();
    options.read_timeout = Duration::from_millis(800);
    recovered_with(&env, options, 1..=1);
}

// Connections -------------------------------------------------------------------------------------

#[test]
fn closing_every_connection_after_one_request_costs_nothing_but_connections() {
    for http1 in [false, true] {
        let sizes: Vec<usize> = (0..12).map(|i| 20_000 + i * 1_000).collect();
        let env = env(&sizes, |config| {
            config.http1_only = http1;
            config
                .faults
                .push(FaultRule::new(PathMatch::Any, Fault::CloseAfterResponse));
        });
        let (outcomes, _) = run(&env.fetcher(), env.items(), env.options());
        for (outcome, gem) in outcomes.iter().zip(&env.gems) {
            assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
            assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
        }
        let stats = env.mirror.stats();
        assert!(stats.tcp_connections > 1, "http1 {http1}: {stats:?}");
        eprintln!(
            "[reliability] close after every response, http1 {http1}: {} requests over {} connections, {} attempts in all",
            stats.requests,
            stats.tcp_connections,
            outcomes.iter().map(|o| o.attempts).sum::<u32>()
        );
        assert!(temp_files(env.dir.path()).is_empty());
    }
}

#[test]
fn goaway_mid_run_fails_streams_in_flight_and_they_resume() {
    let sizes: Vec<usize> = (0..16).map(|i| 200_000 + i * 5_000).collect();
    let env = env(&sizes, |config| {
        // Slow enough that every transfer is in flight when the GOAWAY comes.
        config.faults.push(FaultRule::new(
            PathMatch::prefix("/gems/"),
            Fault::Bandwidth(400_000),
        ));
    });
    let fetcher = env.fetcher();
    let mut run_handle = fetcher
        .start(env.items(), env.options(), None)
        .expect("start");
    let mut events = Vec::new();
    // Once bytes flow, the next request on the connection (a retry or a late item) brings
    // the GOAWAY; a request of our own makes sure there is one.
    while !events
        .iter()
        .any(|e: &Event| e.kind == EventKind::Progress && e.bytes > 0)
    {
        assert!(run_handle.next_batch(&mut events, 64), "run ended early");
    }
    env.mirror
        .add_fault(FaultRule::new(PathMatch::exact("/trigger"), Fault::GoAway).times(1));
    let trigger = Item::new(
        "trigger",
        "1.0",
        None,
        None,
        &format!("{}/trigger", env.mirror.base_url()),
    )
    .expect("item");
    let (trigger_outcome, _) = run(&fetcher, vec![trigger], env.options());
    assert!(!trigger_outcome[0].is_ok(), "the trigger is not a gem");
    while run_handle.next_batch(&mut events, 64) {}
    let outcomes = run_handle.wait().expect("outcomes");
    for (outcome, gem) in outcomes.iter().zip(&env.gems) {
        assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
        assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
    }
    let retried = outcomes.iter().filter(|o| o.attempts > 1).count();
    let stats = env.mirror.stats();
    eprintln!(
        "[reliability] GOAWAY mid-run: {retried} of 16 transfers cut and resumed, {} connections, {} range requests",
        stats.tcp_connections, stats.offset_range_requests
    );
    assert!(retried > 0, "the GOAWAY must have cut transfers in flight");
    assert!(stats.tcp_connections >= 2, "{stats:?}");
    assert!(temp_files(env.dir.path()).is_empty());
}
