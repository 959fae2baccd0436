//! Every injected fault is either recovered (the file ends up right) or reported with the
//! right error; nothing partial is left behind.

use std::time::{Duration, Instant};

use wow_fetch_core::{ErrorKind, EventKind, Item, NetworkFailure, Status};
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, first_retry_error, run, sha256_hex, temp_files, Env};

const SIZE: usize = 300_000;

fn faulty(
    fault: Fault,
    times: Option<u32>,
    configure: impl FnOnce(&mut wow_mirror::MirrorConfig),
) -> Env {
    env(&[SIZE], |config| {
        let mut rule = FaultRule::new(PathMatch::Prefix("/gems/".into()), fault);
        rule.times = times;
        config.faults.push(rule);
        configure(config);
    })
}

fn assert_recovered(env: &Env, attempts: u32) -> Vec<wow_fetch_core::Event> {
    let fetcher = env.fetcher();
    let (outcomes, events) = run(&fetcher, env.items(), env.options());
    let outcome = &outcomes[0];
    assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
    assert_eq!(outcome.attempts, attempts);
    let path = outcome.path.as_ref().expect("path");
    assert_eq!(sha256_hex(path), env.gems[0].sha256);
    assert!(temp_files(env.dir.path()).is_empty());
    let retrying = events
        .iter()
        .filter(|e| e.kind == EventKind::Retrying)
        .count();
    assert_eq!(retrying as u32, attempts - 1);
    events
}

fn assert_failed(env: &Env, options: wow_fetch_core::RunOptions) -> wow_fetch_core::Error {
    let fetcher = env.fetcher();
    let (outcomes, _) = run(&fetcher, env.items(), options);
    assert_eq!(outcomes[0].status, Status::Failed);
    assert!(outcomes[0].path.is_none());
    assert!(temp_files(env.dir.path()).is_empty());
    let cached = wow_fetch_core::cache_path(&env.cache_dir(), &env.items()[0]);
    assert!(!cached.exists(), "no bad file in the cache");
    outcomes[0].error.clone().expect("error")
}

#[test]
fn server_error_is_retried() {
    let env = faulty(Fault::Status(503), Some(2), |_| {});
    let events = assert_recovered(&env, 3);
    assert!(matches!(
        first_retry_error(&events).kind,
        ErrorKind::Http { status: 503, .. }
    ));
}

#[test]
fn persistent_server_error_fails_after_all_retries() {
    let env = faulty(Fault::Status(500), None, |_| {});
    let mut options = env.options();
    options.retry.retries = 2;
    let error = assert_failed(&env, options);
    assert_eq!(error.attempts, 3);
    assert!(
        matches!(error.kind, ErrorKind::Http { status: 500, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
    assert_eq!(env.mirror.stats().requests, 3);
}

#[test]
fn retry_after_is_honoured() {
    let env = faulty(
        Fault::RetryAfter {
            status: 429,
            seconds: 1,
        },
        Some(1),
        |_| {},
    );
    let started = Instant::now();
    assert_recovered(&env, 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn retry_after_is_capped() {
    let env = faulty(
        Fault::RetryAfter {
            status: 503,
            seconds: 3600,
        },
        Some(1),
        |_| {},
    );
    let fetcher = env.fetcher();
    let mut options = env.options();
    options.retry.max_retry_after = Duration::from_millis(300);
    let started = Instant::now();
    let (outcomes, _) = run(&fetcher, env.items(), options);
    assert_eq!(outcomes[0].status, Status::Downloaded);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn reset_mid_body_resumes_with_range() {
    let env = faulty(Fault::ResetAfter(100_000), Some(1), |_| {});
    assert_recovered(&env, 2);
    let stats = env.mirror.stats();
    assert_eq!(stats.offset_range_requests, 1, "{stats:?}");
    // The resume fetched only the rest: well under two full copies went over the wire.
    assert!(stats.bytes_sent < env.gems[0].size * 3 / 2, "{stats:?}");
}

#[test]
fn reset_over_http1_resumes_too() {
    let env = faulty(Fault::ResetAfter(100_000), Some(1), |config| {
        config.http1_only = true
    });
    assert_recovered(&env, 2);
    assert_eq!(env.mirror.stats().offset_range_requests, 1);
}

#[test]
fn reset_without_range_support_restarts_from_scratch() {
    let env = faulty(Fault::ResetAfter(100_000), Some(1), |config| {
        config.ranges = false
    });
    assert_recovered(&env, 2);
    assert_eq!(env.mirror.stats().offset_range_requests, 0);
}

#[test]
fn truncated_body_is_detected_and_resumed() {
    let env = faulty(Fault::Truncate(50_000), Some(1), |config| {
        config.http1_only = true
    });
    let events = assert_recovered(&env, 2);
    let error = first_retry_error(&events);
    assert!(
        matches!(
            error.kind,
            ErrorKind::Network {
                failure: NetworkFailure::Truncated,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn corrupt_bytes_are_refetched_once_from_scratch() {
    let env = faulty(Fault::Corrupt, Some(1), |_| {});
    assert_recovered(&env, 2);
    assert_eq!(
        env.mirror.stats().offset_range_requests,
        0,
        "a mismatch restarts, never resumes"
    );
}

#[test]
fn persistent_corruption_fails_with_checksum_mismatch() {
    let env = faulty(Fault::Corrupt, None, |_| {});
    let error = assert_failed(&env, env.options());
    assert_eq!(error.attempts, 2, "one fresh retry, then fail");
    match error.kind {
        ErrorKind::ChecksumMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected.to_hex(), env.gems[0].sha256);
            assert_ne!(actual, expected);
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
}

#[test]
fn stall_times_out_and_retries() {
    let env = faulty(
        Fault::Stall {
            after: 10_000,
            seconds: 30,
        },
        Some(1),
        |_| {},
    );
    let fetcher = env.fetcher();
    let mut options = env.options();
    options.read_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let (outcomes, events) = run(&fetcher, env.items(), options);
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(
        first_retry_error(&events).kind,
        ErrorKind::Network {
            failure: NetworkFailure::Timeout,
            ..
        }
    ));
}

#[test]
fn slow_but_steady_transfer_is_not_a_stall() {
    // 300 KB at 150 KB/s takes 2 s, longer than the read timeout: only silence is a stall.
    let env = faulty(Fault::Bandwidth(150_000), None, |_| {});
    let fetcher = env.fetcher();
    let mut options = env.options();
    options.read_timeout = Duration::from_millis(800);
    let (outcomes, _) = run(&fetcher, env.items(), options);
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    assert_eq!(outcomes[0].attempts, 1);
}

#[test]
fn connection_refused_is_a_network_error() {
    let env = env(&[], |_| {});
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let item = Item::new(
        "a",
        "1.0",
        None,
        None,
        &format!("https://127.0.0.1:{port}/gems/a-1.0.gem"),
    )
    .expect("item");
    let fetcher = env.fetcher();
    let mut options = env.options();
    options.retry.retries = 1;
    let (outcomes, _) = run(&fetcher, vec![item], options);
    let error = outcomes[0].error.as_ref().expect("error");
    assert!(
        matches!(
            error.kind,
            ErrorKind::Network {
                failure: NetworkFailure::Connect,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.attempts, 2);
}

#[test]
fn untrusted_certificate_fails_fast_without_retries() {
    let env = env(&[1_000], |_| {});
    let fetcher =
        wow_fetch_core::Fetcher::new(wow_fetch_core::ClientOptions::default()).expect("fetcher");
    let (outcomes, _) = run(&fetcher, env.items(), env.options());
    let error = outcomes[0].error.as_ref().expect("error");
    assert!(
        matches!(
            error.kind,
            ErrorKind::Network {
                failure: NetworkFailure::Tls,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.attempts, 1);
}

#[test]
fn credentials_never_appear_in_errors_or_events() {
    let env = faulty(Fault::Status(500), None, |_| {});
    let url = env
        .url(&env.gems[0])
        .replace("https://", "https://alice:hunter22@");
    let item = Item::new("g0", "1.0.0", None, None, &url).expect("item");
    let fetcher = env.fetcher();
    let mut options = env.options();
    options.retry.retries = 1;
    let (outcomes, events) = run(&fetcher, vec![item], options);
    let error = outcomes[0].error.as_ref().expect("error");
    let shown = format!("{error} {error:?} {events:?}");
    assert!(!shown.contains("hunter22"), "{shown}");
    assert!(
        shown.contains("alice:***@") || shown.contains("***@"),
        "{shown}"
    );
}
