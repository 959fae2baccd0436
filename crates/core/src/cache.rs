//! Where files live, and how they get there without ever being seen half-written.
//!
//! ```text
//! CACHE_DIR/
//!   gems-v2/                      bump the version when the layout changes (v1, keyed by
//!                                 host only, is left alone for older versions to use)
//!     rubygems.org/               one directory per source: its origin (host, plus _port if
//!                                 not default), plus a digest of its path when it has one
//!                                 (https://h/acct1 → h-3f9a1c…), as the compact index's
//!       rack-3.0.8.gem            complete and verified, or absent
//!       .rack-3.0.8.gem.part      in flight; removed on failure, cancel or drop
//!       .lock                     a byte per entry, held by whoever is fetching it (Linux;
//!                                 elsewhere `.rack-3.0.8.gem.lock`, see [`EntryLock`])
//! ```
//! A file is written under a temp name in its final directory and renamed into place, so
//! readers in other threads or processes see the old entry, the new one, or none: never a
//! torn file, even after `kill -9` (which can leave only a `.part` file, never a `.gem`).
//! The lock lets concurrent processes fetch each entry once: the others wait, then find it
//! cached. The kernel drops a lock when its holder dies, so a crash never wedges the cache.

use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::item::Item;

/// v2 (issue 15): v1 keyed entries by host alone, so two sources on one host (Gemfury,
/// GitHub Packages, Artifactory and Gemstash serve many from one host) got each other's
/// files. v1 entries are not migrated: they may hold another source's bytes.
const BUCKET: &str = "gems-v2";

/// Held around every create, link, rename and unlink this process makes in the cache and in
/// `dest`. Each of them takes its directory's lock in the kernel, and threads that meet there
/// spin on it: profiling 1,000 small gems, the blocking pool's threads spent most of the
/// engine's CPU in `rwsem_spin_on_owner`, on a 2-core machine that also runs the network.
/// Queued here, a waiter sleeps instead; each change takes microseconds.
static DIRECTORY_CHANGES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `change` (one or a few syscalls that change a directory) under [`DIRECTORY_CHANGES`].
fn changing_directory<T>(change: impl FnOnce() -> T) -> T {
    let _one_at_a_time = DIRECTORY_CHANGES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    change()
}

/// Temp files start with a dot so globbing `*.gem` never picks them up.
const TEMP_SUFFIX: &str = "part";

/// The cache entry of an item: `gems-v2/SOURCE/full_name.gem`, where `SOURCE` is the
/// directory [`source_dir`] gives the source the item's URL belongs to.
#[must_use]
pub fn cache_path(cache_dir: &Path, item: &Item) -> PathBuf {
    cache_dir
        .join(BUCKET)
        .join(source_dir(item.url(), gem_source_path(item.url())))
        .join(item.file_name())
}

/// The directory of one source, for gems and the compact index alike: its origin (see
/// [`origin_dir`]), plus `-` and 16 hex digits of the SHA-256 of its path when it has one
/// (`https://h/acct1/` → `h-…`), so sources that share a host never share files.
pub(crate) fn source_dir(origin: &url::Url, source_path: &str) -> String {
    let name = origin_dir(origin);
    let path = source_path.trim_end_matches('/');
    if path.is_empty() {
        return name;
    }
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(path.as_bytes()));
    format!("{name}-{}", &digest[..16])
}

/// The path of the source a gem URL comes from: the URL's directory, less the `/gems` that
/// RubyGems-compatible sources put their files under (`https://h/acct1/gems/x-1.gem` →
/// `/acct1`, the same path a resolve against `https://h/acct1` gives its index). A gem given
/// by an explicit `url:` elsewhere is keyed by its own directory.
fn gem_source_path(url: &url::Url) -> &str {
    let dir = url.path().rsplit_once('/').map_or("", |(dir, _)| dir);
    dir.strip_suffix("/gems").unwrap_or(dir)
}

/// `host` or `host_port`, with anything unusual in the host (IPv6 brackets, `:`) made safe.
pub(crate) fn origin_dir(url: &url::Url) -> String {
    let host: String = url
        .host_str()
        .unwrap_or("unknown-host")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = host.trim_start_matches('.');
    // A host of dots only (`https://../`, which the URL parser accepts) would leave no
    // directory at all, and its entries would land in the bucket itself (issue 8).
    let host = if host.is_empty() {
        "unknown-host"
    } else {
        host
    };
    match url.port() {
        Some(port) => format!("{host}_{port}"),
        None => host.to_owned(),
    }
}

/// A file being written; removed when dropped unless [`TempFile::persist`] moved it into place.
/// Drop-based cleanup is what makes cancellation clean: a cancelled transfer's future is
/// dropped, and with it its temp file.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Creates a new, empty temp file next to `final_path` with a name of its own.
    fn create_beside(final_path: &Path) -> io::Result<(Self, std::fs::File)> {
        Self::claim_beside(final_path, |path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
        })
    }

    /// Hard-links `source` under a new temp name next to `final_path`, creating directories
    /// as needed; fails when a link cannot be made (say, across filesystems).
    fn link_beside(source: &Path, final_path: &Path) -> io::Result<Self> {
        Self::claim_beside(final_path, |path| std::fs::hard_link(source, path))
            .map(|(temp, ())| temp)
    }

    /// Claims a fresh `.NAME.PID-XXXXXXXX.part` next to `final_path` with `claim`, which must
    /// fail with `AlreadyExists` when the name is taken (then another random name is tried).
    fn claim_beside<T>(
        final_path: &Path,
        mut claim: impl FnMut(&Path) -> io::Result<T>,
    ) -> io::Result<(Self, T)> {
        let dir = final_path.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(dir)?;
        let file_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        loop {
            let path = dir.join(format!(
                ".{file_name}.{}-{:08x}.{TEMP_SUFFIX}",
                std::process::id(),
                rand::rng().random::<u32>()
            ));
            match changing_directory(|| claim(&path)) {
                Ok(value) => return Ok((Self { path: Some(path) }, value)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates (truncating) the one temp file of a cache entry. Only the holder of the
    /// entry's [`EntryLock`] writes it, so the fixed name cannot collide, and a `.part` left
    /// by a killed process is simply reused.
    ///
    /// The create is a plain blocking call on purpose: it is one short syscall, and with an
    /// `.await` between creating the file and arming its guard, a cancelled transfer could
    /// leave the file behind (the blocking pool finishes the create after the guard is gone).
    pub(crate) fn create_for_entry(entry: &Path) -> io::Result<(Self, tokio::fs::File)> {
        let path = sibling(entry, TEMP_SUFFIX);
        let file = changing_directory(|| std::fs::File::create(&path))?;
        Ok((Self { path: Some(path) }, tokio::fs::File::from_std(file)))
    }

    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or_else(|| Path::new(""))
    }

    /// Atomically renames the file to `final_path`, replacing what was there. A plain
    /// blocking call, like the create: one syscall, and no `.await` for a cancel to split.
    pub(crate) fn persist(mut self, final_path: &Path) -> io::Result<()> {
        let Some(path) = self.path.take() else {
            return Ok(());
        };
        if let Err(e) = changing_directory(|| std::fs::rename(&path, final_path)) {
            self.path = Some(path);
            return Err(e);
        }
        // rename(2) succeeds without doing anything when both names are hard links to one
        // file, as when `dest` already links the cache entry (a rerun, or another process
        // placing the same gem): the temp name must go by hand. Found by issue 8's
        // eight-process test.
        if std::fs::symlink_metadata(&path).is_ok() {
            let _ = changing_directory(|| std::fs::remove_file(&path));
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Best effort: the file may already be gone (a cleaner, a full disk).
            let _ = changing_directory(|| std::fs::remove_file(path));
        }
    }
}

/// `dir/.NAME.suffix` for `dir/NAME`.
fn sibling(entry: &Path, suffix: &str) -> PathBuf {
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    entry.with_file_name(format!(".{name}.{suffix}"))
}

/// An exclusive advisory lock on one cache entry, across threads and processes.
///
/// On Linux it is one byte, chosen by a hash of the entry's name, of its directory's single
/// `.lock` file, locked with an open-file-description lock (`F_OFD_SETLK`: owned by the open
/// file, as a flock is, so two threads of one process exclude each other too). A cold gem then
/// creates no inode besides its own: on ext4 creating inodes was most of the kernel time of
/// 1,000 small gems, and the lock file per entry was one of two per gem. Two names that hash to
/// one byte only make one wait for the other. Elsewhere each entry has a `.NAME.lock` file,
/// locked with flock.
#[derive(Debug)]
pub(crate) struct EntryLock {
    _file: std::fs::File,
}

/// How often a waiter looks again; fetching a gem takes far longer, so this costs nothing.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

impl EntryLock {
    /// Takes the lock if it is free; `Ok(None)` when someone else holds it.
    pub(crate) async fn try_acquire(entry: &Path) -> io::Result<Option<Self>> {
        let entry = entry.to_owned();
        tokio::task::spawn_blocking(move || {
            let path = lock_file_of(&entry);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = changing_directory(|| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })?;
            Ok(try_lock(&file, &entry)?.then_some(Self { _file: file }))
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Waits until whoever holds the lock lets go (polling, so the wait is cancellable).
    pub(crate) async fn wait_until_free(entry: &Path) -> io::Result<()> {
        while Self::try_acquire(entry).await?.is_none() {
            tokio::time::sleep(LOCK_POLL).await;
        }
        Ok(())
    }
}

/// The directory's one lock file, whose bytes stand for its entries.
#[cfg(target_os = "linux")]
fn lock_file_of(entry: &Path) -> PathBuf {
    entry.with_file_name(".lock")
}

#[cfg(target_os = "linux")]
fn try_lock(file: &std::fs::File, entry: &Path) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = lock_byte(entry);
    lock.l_len = 1;
    // SAFETY: the descriptor is open for the whole call, and `lock` outlives it.
    let result = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if result == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(error),
    }
}

/// Which byte of the lock file stands for `entry`: its name's SHA-256, as an offset well
/// inside `off_t`, the same in every process.
#[cfg(target_os = "linux")]
fn lock_byte(entry: &Path) -> libc::off_t {
    use sha2::{Digest, Sha256};
    let name = entry
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let digest = Sha256::digest(name);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    libc::off_t::from_be_bytes(first) & (libc::off_t::MAX >> 2)
}

#[cfg(not(target_os = "linux"))]
fn lock_file_of(entry: &Path) -> PathBuf {
    sibling(entry, "lock")
}

#[cfg(not(target_os = "linux"))]
fn try_lock(file: &std::fs::File, _entry: &Path) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Removes temp files that processes killed mid-placement (`kill -9`) left in `dir`. Such a
/// name carries its writer's pid; a file is removed only when that process is gone, so
/// placements in flight elsewhere are left alone.
pub(crate) async fn sweep_orphaned_temp_files(dir: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if !process_alive(pid) {
            // Best effort: another sweeper may have removed it first.
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// The writer's pid in `.NAME.PID-XXXXXXXX.part`.
fn temp_file_pid(name: &str) -> Option<i32> {
    let stem = name
        .strip_prefix('.')?
        .strip_suffix(&format!(".{TEMP_SUFFIX}"))?;
    let (_, tag) = stem.rsplit_once('.')?;
    let (pid, random) = tag.split_once('-')?;
    (random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

fn process_alive(pid: i32) -> bool {
    if pid == i32::try_from(std::process::id()).unwrap_or(0) {
        return true;
    }
    // SAFETY: signal 0 delivers nothing; `kill` only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists but belongs to someone else.
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Writes `contents` to `path` through a temp file and a rename (as uv's `write_atomic`), as
/// one blocking task so a cancel cannot leave the temp file behind.
pub(crate) async fn write_atomic(path: &Path, contents: Vec<u8>) -> io::Result<()> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let (temp, mut file) = TempFile::create_beside(&path)?;
        std::io::Write::write_all(&mut file, &contents)?;
        drop(file);
        temp.persist(&path)
    })
    .await
    .map_err(io::Error::other)?
}

/// Places a verified cache file at `dest_dir/file_name`: a hard link when both are on one
/// filesystem (instant, no extra space), else a copy; either way through a temp name and a
/// rename, so `dest` never holds a partial file.
///
/// All of it runs as one blocking task: if the run is cancelled meanwhile, the task still
/// ends with either the whole file in place or its temp file removed, never an orphan.
pub(crate) async fn place_in_dest(
    source: &Path,
    dest_dir: &Path,
    file_name: &str,
) -> io::Result<PathBuf> {
    let source = source.to_owned();
    let final_path = dest_dir.join(file_name);
    tokio::task::spawn_blocking(move || {
        // Fewest directory changes first: every create, link, rename and unlink takes the
        // directory's lock, and with 1,000 small gems they queue on it (profiled: most of
        // the engine's CPU was the kernel allocating inodes and spinning on that lock). A
        // link of the complete, verified file to a free final name is already atomic.
        std::fs::create_dir_all(dest_dir_of(&final_path))?;
        // When the name is taken (a rerun, a stale file), it is replaced through a temp name
        // and a rename below; any other error (another filesystem, say) ends in a copy.
        if changing_directory(|| std::fs::hard_link(&source, &final_path)).is_ok() {
            return Ok(final_path);
        }
        // Linking straight to a fresh temp name creates no inode, unlike reserving the name
        // with an empty file first.
        let temp = match TempFile::link_beside(&source, &final_path) {
            Ok(temp) => temp,
            Err(_) => {
                let (temp, file) = TempFile::create_beside(&final_path)?;
                drop(file);
                std::fs::copy(&source, temp.path())?;
                temp
            }
        };
        temp.persist(&final_path)?;
        Ok(final_path)
    })
    .await
    .map_err(io::Error::other)?
}

fn dest_dir_of(final_path: &Path) -> &Path {
    final_path.parent().unwrap_or_else(|| Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(url: &str) -> Item {
        Item::new("rack", "3.0.8", None, None, url).expect("valid item")
    }

    #[test]
    fn temp_file_names_carry_their_writer() {
        assert_eq!(
            temp_file_pid(".rack-3.0.8.gem.1234-0a1b2c3d.part"),
            Some(1234)
        );
        assert_eq!(
            temp_file_pid(".rack-3.0.8.gem.part"),
            None,
            "cache temp files are reused"
        );
        assert_eq!(temp_file_pid("rack-3.0.8.gem"), None);
        assert_eq!(temp_file_pid(".a.gem.12-xyz.part"), None);
    }

    #[tokio::test]
    async fn sweep_removes_only_orphans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mine = format!(".a-1.gem.{}-0000abcd.part", std::process::id());
        // Pid 0x7fff_fff0 is far above any real pid_max.
        let orphan = ".b-1.gem.2147483632-0000abcd.part";
        for name in [mine.as_str(), orphan, "c-1.gem"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        sweep_orphaned_temp_files(dir.path()).await;
        assert!(dir.path().join(&mine).exists());
        assert!(!dir.path().join(orphan).exists());
        assert!(dir.path().join("c-1.gem").exists());
    }

    #[tokio::test]
    async fn an_entry_lock_excludes_others_on_that_entry_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("origin/a-1.gem");
        let b = dir.path().join("origin/b-1.gem");
        let held = EntryLock::try_acquire(&a)
            .await
            .expect("lock")
            .expect("free");
        assert!(
            EntryLock::try_acquire(&a).await.expect("lock").is_none(),
            "a second open file of this process is refused"
        );
        let other = EntryLock::try_acquire(&b).await.expect("lock");
        assert!(other.is_some(), "another entry is not held");
        drop(held);
        assert!(EntryLock::try_acquire(&a).await.expect("lock").is_some());
        let files: Vec<_> = std::fs::read_dir(dir.path().join("origin"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        #[cfg(target_os = "linux")]
        assert_eq!(files, [".lock"], "one lock file for the directory");
        #[cfg(not(target_os = "linux"))]
        assert_eq!(files.len(), 2, "one lock file per entry");
    }

    #[test]
    fn layout_is_per_source() {
        let dir = Path::new("/c");
        assert_eq!(
            cache_path(dir, &item("https://rubygems.org/gems/rack-3.0.8.gem")),
            Path::new("/c/gems-v2/rubygems.org/rack-3.0.8.gem")
        );
        assert_eq!(
            cache_path(dir, &item("https://u:p@localhost:8443/gems/rack-3.0.8.gem")),
            Path::new("/c/gems-v2/localhost_8443/rack-3.0.8.gem")
        );
        assert_eq!(
            cache_path(dir, &item("http://[::1]:9/x.gem")),
            Path::new("/c/gems-v2/___1__9/rack-3.0.8.gem")
        );
        assert_eq!(
            cache_path(dir, &item("https://../x.gem")),
            Path::new("/c/gems-v2/unknown-host/rack-3.0.8.gem")
        );
    }

    #[test]
    fn sources_on_one_host_get_directories_of_their_own() {
        // Issue 15: `gems-v1` ignored the path, so https://h/s/A and https://h/s/B shared files.
        let dir = Path::new("/c");
        let a = cache_path(dir, &item("https://h.test/s/A/gems/rack-3.0.8.gem"));
        let b = cache_path(dir, &item("https://h.test/s/B/gems/rack-3.0.8.gem"));
        let root = cache_path(dir, &item("https://h.test/gems/rack-3.0.8.gem"));
        assert_ne!(a, b);
        assert_ne!(a, root);
        assert_eq!(
            root,
            Path::new("/c/gems-v2/h.test/rack-3.0.8.gem"),
            "a source at the root keeps the plain host directory"
        );
        let source_a = url::Url::parse("https://h.test/s/A/").expect("url");
        assert_eq!(
            a.parent().and_then(Path::file_name),
            Some(std::ffi::OsStr::new(&source_dir(
                &source_a,
                source_a.path()
            ))),
            "one source directory for gems and the compact index"
        );
        assert_eq!(
            cache_path(dir, &item("https://h.test/s/A/gems/rack-3.0.8.gem")),
            a,
            "stable"
        );
    }
}
