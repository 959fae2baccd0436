//! Profiling aid: fetches N small gems (5–50 KB) from the in-process mirror over loopback and
//! prints the wall time and the CPU time of the engine's threads (named `wow-fetch`).
//!
//! `cargo run --release -p wow-fetch-core --example small_gems -- [N] [--dest]`

use std::time::Instant;

use wow_fetch_core::{ClientOptions, Fetcher, Item, RunOptions};
use wow_mirror::fixtures::write_gem;
use wow_mirror::{Mirror, MirrorConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let with_dest = args.iter().any(|a| a == "--dest");
    let dir = tempfile::tempdir().expect("tempdir");
    let gems_dir = dir.path().join("mirror");
    std::fs::create_dir_all(&gems_dir).expect("mkdir");
    let gems: Vec<_> = (0..count)
        .map(|i| {
            let size = 5_000 + (i * 7_919) % 45_000;
            write_gem(&gems_dir, &format!("g{i}"), "1.0.0", None, size, &[]).expect("fixture")
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mirror")
        .enable_all()
        .build()
        .expect("runtime");
    let mirror = runtime
        .block_on(Mirror::start(MirrorConfig::new(&gems_dir)))
        .expect("mirror");
    let ca = dir.path().join("ca.pem");
    mirror.write_ca(&ca).expect("ca");
    let items: Vec<Item> = gems
        .iter()
        .map(|gem| {
            let (name, version) = gem.full_name.rsplit_once('-').expect("name-version");
            let url = format!("{}/gems/{}.gem", mirror.base_url(), gem.full_name);
            Item::new(name, version, None, Some(gem.sha256.as_str()), &url).expect("item")
        })
        .collect();
    let fetcher = Fetcher::new(ClientOptions {
        ca_file: Some(ca),
        ..ClientOptions::default()
    })
    .expect("fetcher");
    let mut options = RunOptions::new(dir.path().join("cache"));
    if with_dest {
        options.dest = Some(dir.path().join("dest"));
    }
    let before = engine_cpu();
    let started = Instant::now();
    let mut run = fetcher.start(items, options, None).expect("start");
    let mut events = Vec::new();
    let mut seen = 0;
    while run.next_batch(&mut events, 256) {
        seen += events.len();
        events.clear();
    }
    let outcomes = run.wait().expect("outcomes");
    let wall = started.elapsed();
    let cpu = engine_cpu() - before;
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    println!(
        "{count} gems, {failed} failed, {seen} events: wall {:.3} s, engine CPU {:.3} s ({:.2} ms/gem), connections {}",
        wall.as_secs_f64(),
        cpu,
        cpu * 1000.0 / count as f64,
        mirror.stats().tcp_connections
    );
}

/// CPU seconds of this process's threads named `wow-fetch` (the engine's runtime and its
/// blocking pool), from /proc.
fn engine_cpu() -> f64 {
    let ticks = 100.0;
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .expect("proc")
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "wow-fetch" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    }
    total as f64 / ticks
}
