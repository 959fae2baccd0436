//! The compact index on disk, so a second resolve asks the server only "changed?".
//!
//! ```text
//! CACHE_DIR/
//!   compact-index-v1/                 bump the version when the layout changes
//!     rubygems.org/                   one directory per source: its origin, plus a digest of
//!       versions                      its path when it has one (…/private → host-3f9a1c…)
//!       info/
//!         rack
//!         nokogiri
//! ```
//! Each file is the response's `ETag` on the first line, then the body exactly as served, so
//! the validator and the bytes it names are replaced together by one rename (Bundler keeps
//! them apart and can pair an old tag with a new body). Files are written under a temp name in
//! their directory and renamed into place, as gems are. When the tag is a digest of the body
//! (MD5 on rubygems.org, SHA-256 elsewhere) it is checked on read, so a file torn by a crash
//! is refetched instead of answering every later `304` with bad bytes.

use std::io;
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};
use url::Url;

use wow_fetch_cache::{source_path, write_atomic, Bucket, SourceDir};

/// A cached response: its validator and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cached {
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

/// Which file of a source's index.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key<'a> {
    Versions,
    /// A gem name, already checked to be a safe file name.
    Info(&'a str),
}

/// The cache directory of one source.
#[derive(Clone, Debug)]
pub(crate) struct IndexCache {
    dir: PathBuf,
}

impl IndexCache {
    pub(crate) fn new(cache_dir: &Path, source: &Url) -> Self {
        Self {
            dir: source_path(
                cache_dir,
                Bucket::CompactIndex,
                &SourceDir::of_source(source),
            ),
        }
    }

    fn path(&self, key: Key<'_>) -> PathBuf {
        match key {
            Key::Versions => self.dir.join("versions"),
            Key::Info(name) => self.dir.join("info").join(name),
        }
    }

    /// The cached response, or `None` when absent, unreadable or not matching its own tag.
    pub(crate) async fn read(&self, key: Key<'_>) -> Option<Cached> {
        let bytes = tokio::fs::read(self.path(key)).await.ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let etag = std::str::from_utf8(&bytes[..newline])
            .ok()?
            .trim()
            .to_owned();
        let body = bytes[newline + 1..].to_vec();
        let etag = (!etag.is_empty()).then_some(etag);
        if let Some(tag) = &etag {
            if digest_check(tag, &body) == Some(false) {
                return None;
            }
        }
        Some(Cached { etag, body })
    }

    /// Replaces the cached response atomically.
    pub(crate) async fn write(
        &self,
        key: Key<'_>,
        etag: Option<&str>,
        body: &[u8],
    ) -> io::Result<()> {
        let tag = etag.filter(|t| !t.contains(['\n', '\r'])).unwrap_or("");
        let mut contents = Vec::with_capacity(tag.len() + 1 + body.len());
        contents.extend_from_slice(tag.as_bytes());
        contents.push(b'\n');
        contents.extend_from_slice(body);
        write_atomic(&self.path(key), contents).await
    }
}

/// Whether `body` is what an entity tag that is a digest says it is: `Some(true|false)` for an
/// MD5 (32 hex, rubygems.org's tags) or SHA-256 (64 hex) tag, `None` for an opaque one.
pub(crate) fn digest_check(etag: &str, body: &[u8]) -> Option<bool> {
    let tag = etag
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_ascii_lowercase();
    if !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match tag.len() {
        32 => Some(hex::encode(Md5::digest(body)) == tag),
        64 => Some(hex::encode(Sha256::digest(body)) == tag),
        _ => None,
    }
}

/// The MD5 `/versions` lists for an info body.
pub(crate) fn md5_hex(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn one_directory_per_source() {
        let root = Path::new("/c");
        let plain = IndexCache::new(root, &url("https://rubygems.org/"));
        assert_eq!(
            plain.path(Key::Versions),
            Path::new("/c/compact-index-v1/rubygems.org/versions")
        );
        assert_eq!(
            plain.path(Key::Info("rack")),
            Path::new("/c/compact-index-v1/rubygems.org/info/rack")
        );
        let private = IndexCache::new(root, &url("https://tok@gems.example:8443/private/"));
        let dir = private.path(Key::Versions);
        let dir = dir.to_string_lossy();
        assert!(
            dir.starts_with("/c/compact-index-v1/gems.example_8443-"),
            "{dir}"
        );
        assert!(!dir.contains("tok"), "{dir}");
    }

    #[test]
    fn digest_tags_are_checked() {
        let body = b"---\n1.0 |checksum:x\n";
        let md5 = format!("\"{}\"", md5_hex(body));
        let sha = format!("W/\"{}\"", hex::encode(Sha256::digest(body)));
        assert_eq!(digest_check(&md5, body), Some(true));
        assert_eq!(digest_check(&sha, body), Some(true));
        assert_eq!(digest_check(&md5, b"other"), Some(false));
        assert_eq!(digest_check("\"v1-abc\"", body), None);
    }

    #[tokio::test]
    async fn round_trip_and_torn_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = IndexCache::new(dir.path(), &url("https://rubygems.org"));
        assert_eq!(cache.read(Key::Info("rack")).await, None);
        let body = b"---\n3.0.9 |\n";
        let tag = format!("\"{}\"", md5_hex(body));
        cache
            .write(Key::Info("rack"), Some(&tag), body)
            .await
            .expect("write");
        let cached = cache.read(Key::Info("rack")).await.expect("cached");
        assert_eq!(
            (cached.etag.as_deref(), &cached.body[..]),
            (Some(tag.as_str()), &body[..])
        );
        // A body cut short by a crash no longer matches its tag: treated as absent.
        let path = cache.path(Key::Info("rack"));
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, bytes).expect("write");
        assert_eq!(cache.read(Key::Info("rack")).await, None);
        cache.write(Key::Versions, None, b"x").await.expect("write");
        let cached = cache.read(Key::Versions).await.expect("cached");
        assert_eq!((cached.etag, cached.body), (None, b"x".to_vec()));
    }
}
