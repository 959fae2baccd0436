//! Where an entry lives: a versioned bucket per kind of file, a directory per source in it,
//! named one way for gems and the compact index alike.

use std::path::{Path, PathBuf};

use url::Url;
use wow_fetch_gem::Item;

/// What a bucket holds; each has a versioned directory of its own, bumped when its layout
/// changes (an old version is left alone for older releases to use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Verified `.gem` files.
    Gems,
    /// The compact index: `versions` and `info/NAME`, each with its `ETag`.
    CompactIndex,
}

impl Bucket {
    #[must_use]
    pub fn dir_name(self) -> &'static str {
        match self {
            // v2 (issue 15): v1 keyed entries by host alone, so two sources on one host
            // (Gemfury, GitHub Packages, Artifactory and Gemstash serve many from one host)
            // got each other's files. v1 entries are not migrated: they may hold another
            // source's bytes.
            Self::Gems => "gems-v2",
            Self::CompactIndex => "compact-index-v1",
        }
    }
}

/// One source's directory inside a bucket: its origin (host, plus `_port` when not the
/// default), plus `-` and 16 hex digits of the SHA-256 of its path when it has one
/// (`https://h/acct1/` → `h-…`), so sources that share a host never share files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceDir(String);

impl SourceDir {
    /// The directory of the source at `source` (a base URL such as `https://h/acct1`).
    #[must_use]
    pub fn of_source(source: &Url) -> Self {
        Self::new(source, source.path())
    }

    /// The directory of the source a gem URL comes from: the URL's directory, less the
    /// `/gems` that RubyGems-compatible sources put their files under
    /// (`https://h/acct1/gems/x-1.gem` → the directory of `https://h/acct1`). A gem given by
    /// an explicit `url:` elsewhere is keyed by its own directory.
    #[must_use]
    pub fn of_gem_url(url: &Url) -> Self {
        let dir = url.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        Self::new(url, dir.strip_suffix("/gems").unwrap_or(dir))
    }

    fn new(origin: &Url, source_path: &str) -> Self {
        let name = origin_dir(origin);
        let path = source_path.trim_end_matches('/');
        if path.is_empty() {
            return Self(name);
        }
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(path.as_bytes()));
        Self(format!("{name}-{}", &digest[..16]))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `CACHE_DIR/BUCKET/SOURCE/`: where one source's files of one kind live.
#[must_use]
pub fn source_path(cache_dir: &Path, bucket: Bucket, source: &SourceDir) -> PathBuf {
    cache_dir.join(bucket.dir_name()).join(source.as_str())
}

/// The cache entry of an item: `gems-v2/SOURCE/full_name.gem`, where `SOURCE` is the
/// [`SourceDir`] of the source the item's URL belongs to.
#[must_use]
pub fn cache_path(cache_dir: &Path, item: &Item) -> PathBuf {
    source_path(cache_dir, Bucket::Gems, &SourceDir::of_gem_url(item.url())).join(item.file_name())
}

/// `host` or `host_port`, with anything unusual in the host (IPv6 brackets, `:`) made safe.
fn origin_dir(url: &url::Url) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn item(url: &str) -> Item {
        Item::new("rack", "3.0.8", None, None, url).expect("valid item")
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
            Some(std::ffi::OsStr::new(
                SourceDir::of_source(&source_a).as_str()
            )),
            "one source directory for gems and the compact index"
        );
        assert_eq!(
            cache_path(dir, &item("https://h.test/s/A/gems/rack-3.0.8.gem")),
            a,
            "stable"
        );
    }
}
