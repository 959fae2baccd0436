//! Cancellation stops every transfer promptly and removes every temp file.

use std::time::{Duration, Instant};

use wow_fetch_core::{ErrorKind, EventKind, Status};
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{env, temp_files};

#[test]
fn cancel_stops_within_200ms_and_leaves_no_temp_files() {
    let env = env(&[2_000_000, 2_000_000, 2_000_000, 2_000_000], |config| {
        config
            .faults
            .push(FaultRule::new(PathMatch::Any, Fault::Bandwidth(200_000)));
    });
    let fetcher = env.fetcher();
    let mut options = env.options();
    let dest = env.dir.path().join("dest");
    options.dest = Some(dest.clone());
    let mut run = fetcher.start(env.items(), options, None).expect("start");
    let mut events = Vec::new();
    // Wait until bytes are on disk, so there are temp files to clean.
    while !events
        .iter()
        .any(|e: &wow_fetch_core::Event| e.kind == EventKind::Progress && e.bytes > 0)
    {
        assert!(run.next_batch(&mut events, 64), "run ended early");
    }
    assert!(
        !temp_files(env.dir.path()).is_empty(),
        "a temp file exists mid-transfer"
    );
    let cancelled_at = Instant::now();
    run.cancel_token().cancel();
    while run.next_batch(&mut events, 64) {}
    let outcomes = run.wait().expect("outcomes");
    let latency = cancelled_at.elapsed();
    assert!(
        latency < Duration::from_millis(200),
        "cancel took {latency:?}"
    );
    assert!(temp_files(env.dir.path()).is_empty());
    assert!(outcomes.iter().all(|o| o.status == Status::Failed));
    assert!(outcomes.iter().all(|o| o
        .error
        .as_ref()
        .is_some_and(|e| e.kind == ErrorKind::Cancelled)));
    assert!(!dest.join("g0-1.0.0.gem").exists());
    let terminal = events.iter().filter(|e| e.kind.is_terminal()).count();
    assert_eq!(terminal, 4, "each item still gets its one terminal event");
}

#[test]
fn cancel_during_backoff_is_prompt() {
    let env = env(&[1_000], |config| {
        config.faults.push(FaultRule::new(
            PathMatch::Any,
            Fault::RetryAfter {
                status: 503,
                seconds: 30,
            },
        ));
    });
    let fetcher = env.fetcher();
    let mut run = fetcher
        .start(env.items(), env.options(), None)
        .expect("start");
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &wow_fetch_core::Event| e.kind == EventKind::Retrying)
    {
        assert!(run.next_batch(&mut events, 64), "run ended early");
    }
    let cancelled_at = Instant::now();
    run.cancel_token().cancel();
    let _ = run.wait();
    assert!(cancelled_at.elapsed() < Duration::from_millis(200));
}

#[test]
fn a_waker_interrupts_a_wait_without_stopping_the_run() {
    let env = env(&[400_000], |config| {
        config
            .faults
            .push(FaultRule::new(PathMatch::Any, Fault::Bandwidth(400_000)));
    });
    let fetcher = env.fetcher();
    let mut options = env.options();
    // After the first progress event, none for an hour: only the waker can end the wait.
    options.progress_interval = Duration::from_secs(3600);
    let mut run = fetcher.start(env.items(), options, None).expect("start");
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &wow_fetch_core::Event| e.kind == EventKind::Progress)
    {
        assert!(run.next_batch(&mut events, 64), "run ended early");
    }
    let waker = run.waker();
    let woken_at = Instant::now();
    let ringer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        waker.wake();
    });
    events.clear();
    assert!(run.next_batch(&mut events, 64), "the run is still going");
    let waited = woken_at.elapsed();
    ringer.join().expect("ringer");
    assert!(events.is_empty(), "woken before any event: {events:?}");
    assert!(waited < Duration::from_millis(600), "woke after {waited:?}");
    while run.next_batch(&mut events, 64) {}
    let outcomes = run.wait().expect("outcomes");
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
}
