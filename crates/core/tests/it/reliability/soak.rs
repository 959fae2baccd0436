//! A soak: 10,000 downloads through one long-lived `Fetcher` (100 runs of 100 small gems,
//! each run into an empty cache) with flat memory and file-descriptor counts.
//!
//! The fetcher lives in a child process (`wow-fetch-test-child soak`)
//! so that its RSS and `/proc/self/fd` are not mixed with the mirror's or other tests'.
//! `WOW_SOAK_DOWNLOADS` runs longer (rounded to whole runs of 100).

use std::time::Instant;

use crate::support::{child, env, write_item_list};

const GEMS: usize = 100;
const DEFAULT_DOWNLOADS: usize = 10_000;
/// Runs before the baseline is taken: pools, buffers and allocator arenas reach their size.
const WARM_UP_RUNS: usize = 5;

#[test]
#[ignore = "10,000 downloads (about half a minute); run with --ignored"]
fn ten_thousand_downloads_through_one_fetcher_keep_memory_and_fds_flat() {
    let downloads: usize = std::env::var("WOW_SOAK_DOWNLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_DOWNLOADS);
    let runs = downloads.div_ceil(GEMS).max(WARM_UP_RUNS + 1);
    let sizes: Vec<usize> = (0..GEMS).map(|i| 1_000 + (i * 331) % 3_000).collect();
    let env = env(&sizes, |_| {});
    let list = env.dir.path().join("items.txt");
    write_item_list(&list, &env.items());
    let spec = format!(
        "{}\n{}\n{}\n{runs}",
        list.display(),
        env.ca.display(),
        env.dir.path().join("caches").display()
    );
    let started = Instant::now();
    let output = child("soak", &spec).output().expect("child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout
        .lines()
        .find_map(|l| l.strip_prefix("soak "))
        .expect("child report");
    let value = |key: &str| -> u64 {
        report
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {report}"))
    };
    let stats = env.mirror.stats();
    eprintln!(
        "[reliability] soak: {report}; mirror saw {} requests over {} connections; {:.1}s",
        stats.requests,
        stats.tcp_connections,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(value("downloads"), (runs * GEMS) as u64);
    assert_eq!(stats.requests, (runs * GEMS) as u64);
    let (rss_warm, rss_end) = (value("rss_warm_kib"), value("rss_end_kib"));
    assert!(
        rss_end < rss_warm + 8 * 1024,
        "RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );
    let (fds_warm, fds_end, fds_max) = (value("fds_warm"), value("fds_end"), value("fds_max"));
    assert!(
        fds_end <= fds_warm + 2,
        "fds grew from {fds_warm} to {fds_end}"
    );
    assert!(fds_max <= fds_warm + 64, "fds peaked at {fds_max}");
}
