//! Certificate failures: a clear error on the first attempt, no retry storm, and the healthy
//! mirror in the same run unaffected.

use wow_fetch_core::{cache_path, ErrorKind, Fetcher, Item, NetworkFailure, Status};
use wow_mirror::{MirrorConfig, TlsFault};

use crate::support::{env, run, sha256_hex, temp_files};

fn bad_certificate(fault: TlsFault, words: &[&str]) {
    let env = env(&[100_000, 50_000], |_| {});
    let mut config = MirrorConfig::new(env.gems_dir());
    config.tls_fault = Some(fault);
    let bad = env.start_mirror(config);
    // The client trusts both mirrors' CA: only the certificate itself is wrong.
    let fetcher = env.fetcher_trusting(&[&bad]);
    let gem = &env.gems[0];
    let bad_item = Item::new(
        "g0",
        "1.0.0",
        None,
        Some(&gem.sha256),
        &format!("{}/gems/{}.gem", bad.base_url(), gem.full_name),
    )
    .expect("item");
    let mut items = vec![bad_item.clone()];
    items.extend(env.items());
    let (outcomes, events) = run(&fetcher, items, env.options());

    let error = outcomes[0].error.as_ref().expect("the bad mirror fails");
    assert!(
        matches!(
            error.kind,
            ErrorKind::Network {
                failure: NetworkFailure::Tls,
                ..
            }
        ),
        "{fault:?}: {error:?}"
    );
    assert_eq!(error.attempts, 1, "a certificate error is final");
    let message = error.to_string();
    assert!(
        message.starts_with("TLS handshake failed for https://localhost:"),
        "{message}"
    );
    for word in words {
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "{fault:?}: {message:?} lacks {word:?}"
        );
    }
    eprintln!("[reliability] {fault:?}: {message}");
    let stats = bad.stats();
    // One connection per address tried (localhost may be ::1 and 127.0.0.1); no retries.
    assert!(stats.tcp_connections <= 2, "retry storm: {stats:?}");
    assert_eq!(stats.tls_handshakes, 0);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.index == 0 && e.kind == wow_fetch_core::EventKind::Retrying)
            .count(),
        0
    );
    assert!(!cache_path(&env.cache_dir(), &bad_item).exists());

    for (outcome, gem) in outcomes[1..].iter().zip(&env.gems) {
        assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
        assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
    }
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn unknown_ca_is_refused_at_once() {
    bad_certificate(TlsFault::UnknownCa, &["certificate", "unknown"]);
}

#[test]
fn expired_certificate_is_refused_at_once() {
    bad_certificate(TlsFault::Expired, &["certificate", "expired"]);
}

#[test]
fn certificate_for_another_host_is_refused_at_once() {
    bad_certificate(TlsFault::WrongHost, &["certificate", "not valid for name"]);
}

#[test]
fn a_mirror_nobody_trusts_is_refused_at_once() {
    // The system roots only: the mirror's own CA is unknown.
    let env = env(&[10_000], |_| {});
    let fetcher = Fetcher::new(wow_fetch_core::ClientOptions::default()).expect("fetcher");
    let (outcomes, _) = run(&fetcher, env.items(), env.options());
    let error = outcomes[0].error.as_ref().expect("error");
    assert!(matches!(
        error.kind,
        ErrorKind::Network {
            failure: NetworkFailure::Tls,
            ..
        }
    ));
    assert_eq!(error.attempts, 1);
    assert!(env.mirror.stats().tcp_connections <= 2);
}
