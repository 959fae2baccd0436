//! Files being written, under names of their own beside their final place, removed unless
//! renamed into it.

use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::directory::changing_directory;

/// Temp files start with a dot so globbing `*.gem` never picks them up.
pub(crate) const TEMP_SUFFIX: &str = "part";

/// A file being written; removed when dropped unless [`TempFile::persist`] moved it into place.
/// Drop-based cleanup is what makes cancellation clean: a cancelled transfer's future is
/// dropped, and with it its temp file.
#[derive(Debug)]
pub struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Creates a new, empty temp file next to `final_path` with a name of its own.
    pub(crate) fn create_beside(final_path: &Path) -> io::Result<(Self, std::fs::File)> {
        Self::claim_beside(final_path, |path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
        })
    }

    /// Hard-links `source` under a new temp name next to `final_path`, creating directories
    /// as needed; fails when a link cannot be made (say, across filesystems).
    pub(crate) fn link_beside(source: &Path, final_path: &Path) -> io::Result<Self> {
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
    /// entry's [`crate::EntryLock`] writes it, so the fixed name cannot collide, and a `.part` left
    /// by a killed process is simply reused.
    ///
    /// The create is a plain blocking call on purpose: it is one short syscall, and with an
    /// `.await` between creating the file and arming its guard, a cancelled transfer could
    /// leave the file behind (the blocking pool finishes the create after the guard is gone).
    pub fn create_for_entry(entry: &Path) -> io::Result<(Self, tokio::fs::File)> {
        let path = sibling(entry, TEMP_SUFFIX);
        let file = changing_directory(|| std::fs::File::create(&path))?;
        Ok((Self { path: Some(path) }, tokio::fs::File::from_std(file)))
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or_else(|| Path::new(""))
    }

    /// Atomically renames the file to `final_path`, replacing what was there. A plain
    /// blocking call, like the create: one syscall, and no `.await` for a cancel to split.
    pub fn persist(mut self, final_path: &Path) -> io::Result<()> {
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
pub(crate) fn sibling(entry: &Path, suffix: &str) -> PathBuf {
    let name = entry
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    entry.with_file_name(format!(".{name}.{suffix}"))
}
