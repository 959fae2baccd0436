//! Memory stays flat whatever the file size. Ignored by default (it writes 200 MB); the test
//! command runs it with `--ignored`.
//!
//! The in-process mirror keeps the file it serves in memory, so the download runs in a child
//! process (this same test binary, re-entered through `fetch_in_child`) whose peak RSS is
//! the figure that matters.

use std::process::Command;

use wow_fetch_core::{Item, RunOptions, Status};

use crate::support::{child_args, env, fetcher_trusting, proc_status_kib, sha256_hex};

const CHILD_ENV: &str = "WOW_MEMORY_CHILD";

#[test]
#[ignore = "writes a 200 MB fixture; run with --ignored"]
fn a_200mb_gem_downloads_in_bounded_memory() {
    let env = env(&[200 * 1024 * 1024], |_| {});
    let gem = &env.gems[0];
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "memory::fetch_in_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(
            CHILD_ENV,
            format!(
                "{}\n{}\n{}\n{}",
                env.url(gem),
                gem.sha256,
                env.ca.display(),
                env.cache_dir().display()
            ),
        )
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let growth_kib: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("peak_rss_growth_kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("child reports its growth");
    let entry = wow_fetch_core::cache_path(&env.cache_dir(), &env.items()[0]);
    assert_eq!(sha256_hex(&entry), gem.sha256);
    eprintln!(
        "peak RSS growth while downloading 200 MB: {} MiB",
        growth_kib / 1024
    );
    assert!(growth_kib < 50 * 1024, "peak RSS grew by {growth_kib} KiB");
}

/// The child half: does nothing unless started by the test above.
#[test]
#[ignore = "entered by a_200mb_gem_downloads_in_bounded_memory"]
fn fetch_in_child() {
    let Some([url, sha, ca, cache]) = child_args::<4>(CHILD_ENV) else {
        return;
    };
    let fetcher = fetcher_trusting(&ca);
    let item = Item::new("g0", "1.0.0", None, Some(&sha), &url).expect("item");
    let before = proc_status_kib("VmRSS:");
    let outcomes = fetcher
        .download_all(vec![item], RunOptions::new(cache))
        .expect("start");
    assert_eq!(
        outcomes[0].status,
        Status::Downloaded,
        "{:?}",
        outcomes[0].error
    );
    let peak = proc_status_kib("VmHWM:");
    println!("peak_rss_growth_kib={}", peak.saturating_sub(before));
}
