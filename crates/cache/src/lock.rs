//! One fetcher per entry, across threads and processes.

use std::io;
use std::path::{Path, PathBuf};

use crate::directory::changing_directory;
#[cfg(not(target_os = "linux"))]
use crate::temp::sibling;

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
pub struct EntryLock {
    _file: std::fs::File,
}

/// How often a waiter looks again; fetching a gem takes far longer, so this costs nothing.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

impl EntryLock {
    /// Takes the lock if it is free; `Ok(None)` when someone else holds it.
    pub async fn try_acquire(entry: &Path) -> io::Result<Option<Self>> {
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
    pub async fn wait_until_free(entry: &Path) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
