//! Finished files into place: atomically, and never half-written.

use std::io;
use std::path::{Path, PathBuf};

use crate::directory::changing_directory;
use crate::temp::TempFile;

/// Writes `contents` to `path` through a temp file and a rename (as uv's `write_atomic`), as
/// one blocking task so a cancel cannot leave the temp file behind.
pub async fn write_atomic(path: &Path, contents: Vec<u8>) -> io::Result<()> {
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
pub async fn place_in_dest(source: &Path, dest_dir: &Path, file_name: &str) -> io::Result<PathBuf> {
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
