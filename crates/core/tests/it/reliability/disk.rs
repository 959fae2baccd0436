//! Disks that say no: a full filesystem under the cache or `dest`, a read-only `dest` or
//! cache. Each: a clear `Io` error naming the path and the cause, no partial file, and the
//! items that fit still right.
//!
//! The filesystems are small tmpfs mounts, which needs root: those tests are `#[ignore]`d with
//! that reason (reported as skipped), `bin/test` runs them with `--ignored` (as root in CI), and
//! once run, a mount that fails fails the test; none passes without checking (issue 15). A
//! read-only mount, not `chmod`, because root ignores permissions.

use std::path::{Path, PathBuf};
use std::process::Command;

use wow_fetch_core::{cache_path, ErrorKind, Outcome, Status};

use crate::support::{env, gem_files, places, run, sha256_hex, temp_files, Env};

/// A tmpfs mounted for one test, unmounted when dropped.
struct Mount {
    dir: PathBuf,
}

impl Mount {
    /// Mounts a tmpfs with `options` at `dir`, or fails the test saying why.
    fn tmpfs(dir: &Path, options: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount (this test needs root): {e}"));
        assert!(
            output.status.success(),
            "cannot mount a tmpfs ({options}); this test needs root: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Self {
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// The outcome failed with an `Io` error for `action`, and its message names the cause.
fn io_failure(outcome: &Outcome, action: &str, cause: &str) -> String {
    assert_eq!(outcome.status, Status::Failed, "{outcome:?}");
    assert!(outcome.path.is_none());
    let error = outcome.error.as_ref().expect("error");
    match &error.kind {
        ErrorKind::Io {
            action: a, detail, ..
        } => {
            assert_eq!(*a, action, "{error}");
            assert!(detail.contains(cause), "{error}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
    let message = error.to_string();
    eprintln!("[reliability] {message}");
    message
}

/// Every `.gem` under `dir` is one of ours, byte for byte; no dot-file is left over.
fn only_whole_gems(env: &Env, dir: &Path) {
    for file in gem_files(dir) {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let gem = env
            .gems
            .iter()
            .find(|g| format!("{}.gem", g.full_name) == name)
            .unwrap_or_else(|| panic!("stray file {file:?}"));
        assert_eq!(sha256_hex(&file), gem.sha256, "{file:?} is not whole");
    }
    let left = temp_files(dir);
    assert!(left.is_empty(), "temp files left: {left:?}");
}

#[test]
#[ignore = "needs root to mount a tmpfs; bin/test runs it with --ignored (as root in CI)"]
fn a_full_cache_disk_fails_clearly_and_keeps_nothing_partial() {
    // Three 900 KB gems into 2 MiB: at most two fit.
    let env = env(&[900_000, 900_000, 900_000], |_| {});
    let disk = env.dir.path().join("small");
    let _mount = Mount::tmpfs(&disk, "size=2m");
    let mut options = env.options();
    options.cache_dir = disk.join("cache");
    let (outcomes, _) = run(&env.fetcher(), env.items(), options.clone());
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.is_ok()).collect();
    assert!(!failed.is_empty(), "2 MiB cannot hold 2.7 MB");
    for outcome in &failed {
        let message = io_failure(outcome, "write", "No space left on device");
        assert!(message.contains(".gem.part"), "{message}");
        let item = &env.items()[outcome.index];
        assert!(!cache_path(&options.cache_dir, item).exists());
    }
    for outcome in outcomes.iter().filter(|o| o.is_ok()) {
        let gem = &env.gems[outcome.index];
        assert_eq!(sha256_hex(outcome.path.as_ref().expect("path")), gem.sha256);
    }
    only_whole_gems(&env, &disk);
    eprintln!(
        "[reliability] disk full: {} of 3 gems fitted, {} failed with ENOSPC",
        3 - failed.len(),
        failed.len()
    );
}

#[test]
#[ignore = "needs root to mount a tmpfs; bin/test runs it with --ignored (as root in CI)"]
fn a_full_dest_disk_fails_clearly_and_keeps_nothing_partial() {
    let env = env(&[700_000, 700_000], |_| {});
    let disk = env.dir.path().join("small-dest");
    let _mount = Mount::tmpfs(&disk, "size=1m");
    let mut options = env.options();
    options.dest = Some(disk.clone());
    // One at a time, so exactly the second copy into `dest` runs out of room.
    options.concurrency = places(1);
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    // Whichever went first fitted; the other ran out of room.
    let (fitted, full): (Vec<&Outcome>, Vec<&Outcome>) = outcomes.iter().partition(|o| o.is_ok());
    assert_eq!((fitted.len(), full.len()), (1, 1), "{outcomes:?}");
    let message = io_failure(full[0], "place into", "No space left on device");
    let name = format!("{}.gem", env.gems[full[0].index].full_name);
    assert!(message.contains(&name), "{message}");
    only_whole_gems(&env, &disk);
    let hidden: Vec<_> = std::fs::read_dir(&disk)
        .expect("dest")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    // The cache entry itself was verified before placing, and stays usable.
    let entry = cache_path(&env.cache_dir(), &env.items()[full[0].index]);
    assert_eq!(sha256_hex(&entry), env.gems[full[0].index].sha256);
}

#[test]
#[ignore = "needs root to mount a tmpfs; bin/test runs it with --ignored (as root in CI)"]
fn a_read_only_dest_fails_clearly() {
    let env = env(&[50_000, 60_000], |_| {});
    let dest = env.dir.path().join("ro-dest");
    let _mount = Mount::tmpfs(&dest, "ro,size=1m");
    let mut options = env.options();
    options.dest = Some(dest.clone());
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    for outcome in &outcomes {
        let message = io_failure(outcome, "place into", "Read-only file system");
        assert!(message.contains(&dest.display().to_string()), "{message}");
        assert_eq!(outcome.attempts, 1, "the download itself succeeded once");
    }
    assert_eq!(std::fs::read_dir(&dest).expect("dest").count(), 0);
}

#[test]
#[ignore = "needs root to mount a tmpfs; bin/test runs it with --ignored (as root in CI)"]
fn a_read_only_cache_fails_clearly_before_any_request() {
    let env = env(&[50_000], |_| {});
    let cache = env.dir.path().join("ro-cache");
    let _mount = Mount::tmpfs(&cache, "ro,size=1m");
    let mut options = env.options();
    options.cache_dir = cache;
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    io_failure(&outcomes[0], "lock", "Read-only file system");
    assert_eq!(env.mirror.stats().requests, 0);
}

#[test]
fn a_dest_that_is_a_file_fails_clearly() {
    let env = env(&[20_000], |_| {});
    let dest = env.dir.path().join("not-a-dir");
    std::fs::write(&dest, b"x").expect("file");
    let mut options = env.options();
    options.dest = Some(dest);
    let (outcomes, _) = run(&env.fetcher(), env.items(), options);
    let error = outcomes[0].error.as_ref().expect("error");
    assert!(
        matches!(&error.kind, ErrorKind::Io { action, .. } if *action == "place into"),
        "{error:?}"
    );
    eprintln!("[reliability] {error}");
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn a_rerun_into_the_same_dest_leaves_nothing_behind() {
    // The second run links `dest` to the cache entry it already links: rename(2) of one hard
    // link over another of the same file does nothing, which once left a `.part` per gem.
    let env = env(&[20_000, 30_000], |_| {});
    let dest = env.dir.path().join("dest");
    let mut options = env.options();
    options.dest = Some(dest.clone());
    for _ in 0..2 {
        let (outcomes, _) = run(&env.fetcher(), env.items(), options.clone());
        assert!(outcomes.iter().all(Outcome::is_ok));
        let left = temp_files(env.dir.path());
        assert!(left.is_empty(), "temp files left: {left:?}");
    }
    only_whole_gems(&env, &dest);
}
