//! `kill -9` at random moments of a large run, at least 50 times: afterwards the cache and
//! `dest` hold only whole, verified gems, and a rerun completes.
//!
//! The run is a child process (`wow-fetch-test-child crash`), fetching
//! 40 gems of 40 KB to 1 MB at a throttled 1.5 MB/s per transfer, so a kill can land before
//! the first request, mid-transfer, between verifying and renaming, or while placing into
//! `dest`. When half the gems are cached they are deleted, so later runs still have work.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;
use wow_mirror::{Fault, FaultRule, PathMatch};

use crate::support::{child, env, gem_files, sha256_hex, temp_files, write_item_list};

/// Kills to aim for; the issue asks for at least 50.
const KILLS: usize = 60;
const MIN_KILLS: usize = 50;
/// Stop killing after this long, whatever the count, to bound the test.
const BUDGET: Duration = Duration::from_secs(80);
/// Kill moments are spread over a cold run's length, up to this.
const LONGEST_DELAY: Duration = Duration::from_millis(1_500);

#[test]
#[ignore = "kills a child process 60 times (about a minute); run with --ignored"]
fn kill_9_at_random_moments_leaves_only_whole_files() {
    let sizes: Vec<usize> = (0..40).map(|i| 40_000 + (i * 237_000) % 960_000).collect();
    let env = env(&sizes, |config| {
        config.faults.push(FaultRule::new(
            PathMatch::prefix("/gems/"),
            Fault::Bandwidth(1_500_000),
        ));
    });
    let list = env.dir.path().join("items.txt");
    write_item_list(&list, &env.items());
    let cache = env.cache_dir();
    let dest = env.dir.path().join("dest");
    let spec = format!(
        "{}\n{}\n{}\n{}",
        list.display(),
        env.ca.display(),
        cache.display(),
        dest.display()
    );
    let known: HashMap<String, String> = env
        .gems
        .iter()
        .map(|g| (format!("{}.gem", g.full_name), g.sha256.clone()))
        .collect();
    let started = Instant::now();

    // One undisturbed run measures how long a cold run takes.
    let cold_started = Instant::now();
    let status = child("crash", &spec)
        .stdout(Stdio::null())
        .status()
        .expect("child");
    assert!(status.success(), "an undisturbed run must succeed");
    let cold = cold_started.elapsed();
    wipe(&cache, &dest);

    let longest = cold.mul_f64(1.1).min(LONGEST_DELAY);
    let mut rng = rand::rng();
    let (mut kills, mut finished_first, mut wipes, mut verified) = (0usize, 0usize, 0usize, 0usize);
    while kills < KILLS && started.elapsed() < BUDGET {
        let delay = rng.random_range(Duration::ZERO..=longest);
        let mut process = child("crash", &spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        std::thread::sleep(delay);
        match process.try_wait().expect("child state") {
            Some(status) => {
                assert!(status.success(), "a run that was not killed failed");
                finished_first += 1;
            }
            None => {
                // SIGKILL: no destructor, no cleanup, exactly like `kill -9`.
                process.kill().expect("kill -9");
                process.wait().expect("reap");
                kills += 1;
            }
        }
        verified += verify(&cache, &known) + verify(&dest, &known);
        if gem_files(&cache).len() * 2 >= known.len() {
            wipe(&cache, &dest);
            wipes += 1;
        }
    }
    let leftover_cache_parts = temp_files(&cache).len();
    let leftover_dest_parts = temp_files(&dest).len();

    // A rerun after the last kill completes, and everything it leaves is whole.
    let output = child("crash", &spec).output().expect("rerun");
    assert!(
        output.status.success(),
        "rerun failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(verify(&cache, &known), known.len());
    assert_eq!(verify(&dest, &known), known.len());
    // What a kill leaves is a hidden `.part` at most: one fixed name per cache entry, which
    // the entry's next fetch reuses, and one per interrupted copy into `dest`, which the next
    // run into that `dest` sweeps away (its writer is dead).
    assert!(
        temp_files(&dest).is_empty(),
        "orphaned dest temp files are swept"
    );
    let parts_after_rerun = temp_files(&cache).len();
    eprintln!(
        "[reliability] kill -9: {kills} kills (+{finished_first} runs that finished first) in \
         {:.0}s, cold run {:.2}s, kill moments 0-{:.2}s, {wipes} cache wipes, {verified} gem \
         files verified after kills, 0 corrupt; hidden .part files after the last kill: \
         {leftover_cache_parts} in the cache, {leftover_dest_parts} in dest, \
         {parts_after_rerun} after the rerun; rerun: all {} gems whole",
        started.elapsed().as_secs_f64(),
        cold.as_secs_f64(),
        longest.as_secs_f64(),
        known.len()
    );
    assert!(kills >= MIN_KILLS, "only {kills} kills within the budget");
}

/// Every `.gem` under `dir` is one we serve, with its digest. Returns how many there are.
fn verify(dir: &Path, known: &HashMap<String, String>) -> usize {
    let files = gem_files(dir);
    for file in &files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let expected = known
            .get(&name)
            .unwrap_or_else(|| panic!("stray file {file:?}"));
        assert_eq!(
            &sha256_hex(file),
            expected,
            "{file:?} is corrupt after kill -9"
        );
    }
    files.len()
}

/// Delete the finished gems (not the `.part` and `.lock` files a kill left behind).
fn wipe(cache: &Path, dest: &Path) {
    for file in gem_files(cache).into_iter().chain(gem_files(dest)) {
        std::fs::remove_file(file).expect("wipe");
    }
}
