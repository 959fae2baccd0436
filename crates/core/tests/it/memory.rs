//! Memory stays flat whatever the file size. Ignored by default (it writes 200 MB); the test
//! command runs it with `--ignored`.
//!
//! The in-process mirror keeps the file it serves in memory, so the download runs in a child
//! process (`wow-fetch-test-child memory`) whose peak RSS is
//! the figure that matters.

use crate::support::{child, env, sha256_hex};

#[test]
#[ignore = "writes a 200 MB fixture; run with --ignored"]
fn a_200mb_gem_downloads_in_bounded_memory() {
    let env = env(&[200 * 1024 * 1024], |_| {});
    let gem = &env.gems[0];
    let spec = format!(
        "{}\n{}\n{}\n{}",
        env.url(gem),
        gem.sha256,
        env.ca.display(),
        env.cache_dir().display()
    );
    let output = child("memory", &spec).output().expect("child");
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
