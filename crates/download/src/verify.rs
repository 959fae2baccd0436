//! SHA-256 of what is on disk, computed off the async workers.

use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use wow_fetch_gem::Sha256Digest;

/// Read size for hashing a file: large enough for the kernel's readahead to stream, small
/// enough to keep memory flat.
const HASH_CHUNK: usize = 256 * 1024;

/// The digest and size of a file, computed on the blocking pool.
pub(crate) async fn digest_file(path: &Path) -> io::Result<(Sha256Digest, u64)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || digest_file_blocking(&path))
        .await
        .map_err(io::Error::other)?
}

fn digest_file_blocking(path: &Path) -> io::Result<(Sha256Digest, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_CHUNK];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((finish(hasher), size))
}

pub(crate) fn finish(hasher: Sha256) -> Sha256Digest {
    Sha256Digest::from_bytes(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_known_vector() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").expect("write");
        let (digest, size) = digest_file_blocking(&path).expect("digest");
        assert_eq!(
            digest.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(size, 3);
    }
}
