//! `wow-fetch-test-child`: the child half of the engine's multi-process tests (kill -9, eight
//! processes on one cache, the soak, the 200 MB gem), started by them through
//! `support::child`. A binary of its own rather than `#[ignore]`d tests the parents re-enter:
//! those ran, and passed, in every `--ignored` run without checking anything (issue 15).
//!
//! `wow-fetch-test-child ROLE` reads its arguments, one per line, from `WOW_TEST_CHILD_ARGS`;
//! a failed item panics (exit status 101), which the parent asserts on.

use std::path::Path;
use std::time::{Duration, Instant};

use wow_fetch_core::{ClientOptions, Fetcher, Item, RunOptions, Status};

/// Runs before the soak's baseline is taken: pools, buffers and allocator arenas reach their
/// size.
const SOAK_WARM_UP_RUNS: usize = 5;

fn main() {
    let role = std::env::args().nth(1).expect("a role");
    let spec = std::env::var("WOW_TEST_CHILD_ARGS").expect("WOW_TEST_CHILD_ARGS");
    let args: Vec<String> = spec.lines().map(str::to_owned).collect();
    match role.as_str() {
        "crash" => crash(&args),
        "processes" => processes(&args),
        "soak" => soak(&args),
        "memory" => memory(&args),
        other => panic!("unknown role {other:?}"),
    }
}

fn fields<const N: usize>(args: &[String]) -> [&str; N] {
    let fields: Vec<&str> = args.iter().map(String::as_str).collect();
    let count = fields.len();
    fields
        .try_into()
        .unwrap_or_else(|_| panic!("expected {N} arguments, got {count}"))
}

/// Fetch the list into the cache and `dest`, fail loudly on any error.
fn crash(args: &[String]) {
    let [list, ca, cache, dest] = fields(args);
    let mut options = RunOptions::new(cache);
    options.dest = Some(dest.into());
    let outcomes = fetcher_trusting(ca)
        .download_all(read_item_list(Path::new(list)), options)
        .expect("run");
    assert_all_ok(&outcomes);
}

/// Build the fetcher, say ready, wait for the go file, fetch, report.
fn processes(args: &[String]) {
    let [list, ca, cache, dest, go, ready] = fields(args);
    let items = read_item_list(Path::new(list));
    let fetcher = fetcher_trusting(ca);
    std::fs::write(ready, b"").expect("ready");
    while !Path::new(go).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut options = RunOptions::new(cache);
    options.dest = Some(dest.into());
    let outcomes = fetcher.download_all(items, options).expect("run");
    assert_all_ok(&outcomes);
    let count = |status| outcomes.iter().filter(|o| o.status == status).count();
    println!(
        "\nprocesses_child downloaded={} cached={}",
        count(Status::Downloaded),
        count(Status::Cached)
    );
}

/// `runs` runs of the list, each into a fresh cache, on one `Fetcher`.
fn soak(args: &[String]) {
    let [list, ca, caches, runs] = fields(args);
    let runs: usize = runs.parse().expect("runs");
    let items = read_item_list(Path::new(list));
    let fetcher = fetcher_trusting(ca);
    let started = Instant::now();
    let (mut downloads, mut rss_warm, mut fds_warm, mut rss_max, mut fds_max) = (0, 0, 0, 0, 0);
    // RSS after each quarter of the runs: a leak shows as a steady climb, noise does not.
    let mut quarters = Vec::new();
    for run in 0..runs {
        let cache = Path::new(caches).join(run.to_string());
        let outcomes = fetcher
            .download_all(items.clone(), RunOptions::new(&cache))
            .expect("run");
        for outcome in &outcomes {
            assert_eq!(outcome.status, Status::Downloaded, "{:?}", outcome.error);
        }
        downloads += outcomes.len();
        std::fs::remove_dir_all(&cache).expect("clean cache");
        let (rss, fds) = (proc_status_kib("VmRSS:"), fd_count());
        rss_max = rss_max.max(rss);
        fds_max = fds_max.max(fds);
        if run + 1 == SOAK_WARM_UP_RUNS {
            (rss_warm, fds_warm) = (rss, fds);
        }
        if (run + 1) % runs.div_ceil(4) == 0 {
            quarters.push(rss.to_string());
        }
    }
    println!(
        "\nsoak downloads={downloads} runs={runs} rss_warm_kib={rss_warm} rss_end_kib={} \
         rss_max_kib={rss_max} rss_quarters_kib={} fds_warm={fds_warm} fds_end={} \
         fds_max={fds_max} secs={}",
        proc_status_kib("VmRSS:"),
        quarters.join(","),
        fd_count(),
        started.elapsed().as_secs()
    );
}

/// One large gem; reports how far the peak RSS grew.
fn memory(args: &[String]) {
    let [url, sha, ca, cache] = fields(args);
    let fetcher = fetcher_trusting(ca);
    let item = Item::new("g0", "1.0.0", None, Some(sha), url).expect("item");
    let before = proc_status_kib("VmRSS:");
    let outcomes = fetcher
        .download_all(vec![item], RunOptions::new(cache))
        .expect("run");
    assert_all_ok(&outcomes);
    let peak = proc_status_kib("VmHWM:");
    println!("peak_rss_growth_kib={}", peak.saturating_sub(before));
}

fn assert_all_ok(outcomes: &[wow_fetch_core::Outcome]) {
    for outcome in outcomes {
        assert_ne!(outcome.status, Status::Failed, "{:?}", outcome.error);
    }
}

fn fetcher_trusting(ca: &str) -> Fetcher {
    Fetcher::new(ClientOptions {
        ca_file: Some(ca.into()),
        ..ClientOptions::default()
    })
    .expect("fetcher")
}

/// Items as `support::write_item_list` writes them: `name version sha256 url` per line.
fn read_item_list(path: &Path) -> Vec<Item> {
    std::fs::read_to_string(path)
        .expect("item list")
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            Item::new(fields[0], fields[1], None, Some(fields[2]), fields[3]).expect("item")
        })
        .collect()
}

/// A `kB` field of `/proc/self/status`, such as `VmRSS:` or `VmHWM:`.
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field in /proc/self/status")
}

fn fd_count() -> u64 {
    std::fs::read_dir("/proc/self/fd").expect("procfs").count() as u64
}
