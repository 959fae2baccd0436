//! Eight processes fetch the same 80 gems into one cache (and one `dest`) at once: all
//! succeed, every file is whole, and the mirror is asked for each gem exactly once — the
//! per-entry lock in `cache.rs` makes the others wait and find it cached.

use std::process::Stdio;
use std::time::{Duration, Instant};

use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{child, env, gem_files, sha256_hex, temp_files, write_item_list};

const PROCESSES: usize = 8;
const GEMS: usize = 80;

#[test]
#[ignore = "runs 8 child processes at once; run with --ignored"]
fn eight_processes_share_one_cache_and_fetch_each_gem_once() {
    let sizes: Vec<usize> = (0..GEMS).map(|i| 20_000 + (i * 7_919) % 100_000).collect();
    let env = env(&sizes, |config| {
        // A little distance and a modest pipe, so the eight runs overlap for their whole length.
        config.latency = Duration::from_millis(20);
        config.faults.push(FaultRule::new(
            PathMatch::prefix("/gems/"),
            Fault::Bandwidth(1_000_000),
        ));
    });
    let list = env.dir.path().join("items.txt");
    write_item_list(&list, &env.items());
    let dest = env.dir.path().join("dest");
    let go = env.dir.path().join("go");
    let ready_dir = env.dir.path().join("ready");
    std::fs::create_dir_all(&ready_dir).expect("ready dir");

    let children: Vec<_> = (0..PROCESSES)
        .map(|n| {
            let spec = format!(
                "{}\n{}\n{}\n{}\n{}\n{}",
                list.display(),
                env.ca.display(),
                env.cache_dir().display(),
                dest.display(),
                go.display(),
                ready_dir.join(n.to_string()).display()
            );
            child("processes", &spec)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("child")
        })
        .collect();
    // Start them together: each has built its fetcher and waits for the go file.
    let waiting = Instant::now();
    while std::fs::read_dir(&ready_dir).expect("ready").count() < PROCESSES {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "children never got ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    env.mirror.reset_stats();
    let started = Instant::now();
    std::fs::write(&go, b"go").expect("go");

    let (mut downloaded, mut cached) = (0u64, 0u64);
    for process in children {
        let output = process.wait_with_output().expect("child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("processes_child "))
            .expect("child report");
        let count = |key: &str| -> u64 {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .expect("count")
        };
        downloaded += count("downloaded=");
        cached += count("cached=");
    }
    let elapsed = started.elapsed();

    for gem in &env.gems {
        let name = format!("{}.gem", gem.full_name);
        assert_eq!(sha256_hex(&dest.join(&name)), gem.sha256, "{name} in dest");
    }
    assert_eq!(gem_files(&env.cache_dir()).len(), GEMS);
    for file in gem_files(&env.cache_dir()) {
        let gem = env
            .gems
            .iter()
            .find(|g| file.ends_with(format!("{}.gem", g.full_name)))
            .expect("known gem");
        assert_eq!(sha256_hex(&file), gem.sha256);
    }
    let left = temp_files(env.dir.path());
    assert!(left.is_empty(), "temp files left: {left:?}");

    let stats = env.mirror.stats();
    let per_gem: Vec<u64> = env
        .gems
        .iter()
        .map(|g| {
            stats
                .paths
                .get(&format!("/gems/{}.gem", g.full_name))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let max = per_gem.iter().copied().max().unwrap_or(0);
    eprintln!(
        "[reliability] {PROCESSES} processes x {GEMS} gems, one cache: all succeeded in \
         {:.2}s; {} requests for {GEMS} gems (max {max} per gem), {downloaded} downloads and \
         {cached} cache hits reported, {} TCP connections",
        elapsed.as_secs_f64(),
        stats.requests,
        stats.tcp_connections
    );
    assert_eq!(downloaded + cached, (PROCESSES * GEMS) as u64);
    assert!(per_gem.iter().all(|n| *n >= 1));
    assert_eq!(
        stats.requests, GEMS as u64,
        "each gem fetched once: {per_gem:?}"
    );
}
