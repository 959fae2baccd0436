//! The bytes the mirror serves. Gems are read from `gems_dir` on first request and kept in
//! memory with their validators, re-read when the file's size or mtime changes: hashing a 5 MB
//! gem per request would dominate a benchmark, and the fixture sets are tens of megabytes.

use crate::dates;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// One servable representation with its validators.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    pub body: Bytes,
    /// Strong entity tag, quoted: a digest of `body`.
    pub etag: String,
    pub last_modified: String,
    pub content_type: &'static str,
}

impl Resource {
    /// A resource whose strong entity tag is the quoted hex SHA-256 of `body`.
    pub(crate) fn new(body: Bytes, modified: SystemTime, content_type: &'static str) -> Self {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
        Self::with_etag(body, etag, modified, content_type)
    }

    pub(crate) fn with_etag(
        body: Bytes,
        etag: String,
        modified: SystemTime,
        content_type: &'static str,
    ) -> Self {
        Self {
            body,
            etag,
            last_modified: dates::http_date(modified),
            content_type,
        }
    }

    /// Hex SHA-256 of the body, for a resource made by [`Resource::new`] (the entity tag
    /// without its quotes).
    pub(crate) fn sha256(&self) -> &str {
        self.etag.trim_matches('"')
    }
}

struct Cached {
    len: u64,
    modified: SystemTime,
    resource: Resource,
}

/// The `.gem` files of one directory.
pub(crate) struct GemStore {
    dir: PathBuf,
    cache: Mutex<HashMap<String, Cached>>,
}

/// Whether `file` may name a gem in the served directory: `NAME.gem` with no path separators,
/// no `..`, no leading dot and only the characters RubyGems allows in names and versions. The
/// URL path is not percent-decoded, so `%2e%2e` is rejected here too.
pub(crate) fn is_gem_file_name(file: &str) -> bool {
    file.len() > ".gem".len()
        && file.ends_with(".gem")
        && !file.starts_with('.')
        && !file.contains("..")
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// Whether `file` may name a gem's quick specification, `FULL_NAME.gemspec.rz`, by the rules of
/// [`is_gem_file_name`].
pub(crate) fn is_quick_spec_name(file: &str) -> bool {
    file.strip_suffix(".gemspec.rz")
        .is_some_and(|full_name| is_gem_file_name(&format!("{full_name}.gem")))
}

impl GemStore {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Every `*.gem` in the directory, sorted by file name (blocking).
    pub(crate) fn scan(&self) -> io::Result<Vec<(String, Resource)>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| is_gem_file_name(name))
            .collect();
        names.sort();
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            if let Some(resource) = self.get(&name)? {
                found.push((name, resource));
            }
        }
        Ok(found)
    }

    /// The gem file `file` (already checked by [`is_gem_file_name`]), or `None` if absent
    /// (blocking).
    pub(crate) fn get(&self, file: &str) -> io::Result<Option<Resource>> {
        if !is_gem_file_name(file) {
            return Ok(None);
        }
        self.read(file, &self.dir.join(file))
    }

    /// `quick/Marshal.4.8/FILE` below the directory, or `None` if absent (blocking): the
    /// zlib-deflated Marshal dump of a gem's specification, which `gem install` fetches for the
    /// gem it chose from the compact index. The mirror cannot write Ruby's Marshal format, so
    /// whoever fills the directory writes these files too, when a test needs `gem install`
    /// (`Zlib::Deflate.deflate(Marshal.dump(spec))`, as rubygems.org's indexer does).
    pub(crate) fn get_quick_spec(&self, file: &str) -> io::Result<Option<Resource>> {
        if !is_quick_spec_name(file) {
            return Ok(None);
        }
        let path = self.dir.join("quick").join("Marshal.4.8").join(file);
        self.read(&format!("quick/{file}"), &path)
    }

    /// The file at `path`, cached under `key` until its size or mtime changes.
    fn read(&self, key: &str, path: &Path) -> io::Result<Option<Resource>> {
        let Some((len, modified)) = stat(path)? else {
            return Ok(None);
        };
        if let Some(hit) = self.lock().get(key) {
            if hit.len == len && hit.modified == modified {
                return Ok(Some(hit.resource.clone()));
            }
        }
        let body = match std::fs::read(path) {
            Ok(body) => Bytes::from(body),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let resource = Resource::new(body, modified, "application/octet-stream");
        self.lock().insert(
            key.to_owned(),
            Cached {
                len,
                modified,
                resource: resource.clone(),
            },
        );
        Ok(Some(resource))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn stat(path: &Path) -> io::Result<Option<(u64, SystemTime)>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some((meta.len(), meta.modified()?))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gem_file_names() {
        for ok in [
            "rack-3.0.9.gem",
            "nokogiri-1.16.2-x86_64-linux.gem",
            "a_b+c.gem",
        ] {
            assert!(is_gem_file_name(ok), "{ok}");
        }
        for bad in [
            ".gem",
            "../x.gem",
            "..gem",
            ".hidden.gem",
            "a/b.gem",
            "a\\b.gem",
            "%2e%2e.gem",
            "a..b.gem",
            "rack.txt",
            "a\0.gem",
        ] {
            assert!(!is_gem_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn quick_spec_names() {
        for ok in [
            "rack-3.0.9.gemspec.rz",
            "wow-fetch-0.1.0-x86_64-linux.gemspec.rz",
        ] {
            assert!(is_quick_spec_name(ok), "{ok}");
        }
        for bad in [
            ".gemspec.rz",
            "../x.gemspec.rz",
            "a/b.gemspec.rz",
            "rack-3.0.9.gem",
            "rack-3.0.9.gemspec",
        ] {
            assert!(!is_quick_spec_name(bad), "{bad}");
        }
    }
}
