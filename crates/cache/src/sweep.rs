//! What killed processes left behind.

use std::io;
use std::path::Path;

use crate::temp::TEMP_SUFFIX;

/// Removes temp files that processes killed mid-placement (`kill -9`) left in `dir`. Such a
/// name carries its writer's pid; a file is removed only when that process is gone, so
/// placements in flight elsewhere are left alone.
pub async fn sweep_orphaned_temp_files(dir: &Path) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
