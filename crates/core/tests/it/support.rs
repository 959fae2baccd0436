//! A mirror with fixture gems, a CA on disk and a fresh cache per test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tokio::runtime::Runtime;
use wow_fetch_core::{ClientOptions, Event, Fetcher, Item, Outcome, RunOptions};
use wow_mirror::fixtures::{write_gem, GemFile};
use wow_mirror::{Mirror, MirrorConfig};

pub struct Env {
    pub mirror: Mirror,
    pub gems: Vec<GemFile>,
    pub dir: TempDir,
    pub ca: PathBuf,
    /// Declared last so it drops last: the mirror's tasks run on it.
    _runtime: Runtime,
}

/// `sizes[i]` is the payload of gem `g{i}-1.0.0`.
pub fn env(sizes: &[usize], configure: impl FnOnce(&mut MirrorConfig)) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let gems_dir = dir.path().join("mirror");
    std::fs::create_dir_all(&gems_dir).expect("mkdir");
    let gems = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            write_gem(&gems_dir, &format!("g{i}"), "1.0.0", None, *size, &[]).expect("fixture")
        })
        .collect();
    let mut config = MirrorConfig::new(&gems_dir);
    configure(&mut config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mirror = runtime.block_on(Mirror::start(config)).expect("mirror");
    let ca = dir.path().join("ca.pem");
    mirror.write_ca(&ca).expect("write CA");
    Env {
        mirror,
        gems,
        dir,
        ca,
        _runtime: runtime,
    }
}

impl Env {
    pub fn fetcher(&self) -> Fetcher {
        self.fetcher_with(|_| {})
    }

    pub fn fetcher_with(&self, configure: impl FnOnce(&mut ClientOptions)) -> Fetcher {
        let mut options = ClientOptions {
            ca_file: Some(self.ca.clone()),
            ..ClientOptions::default()
        };
        configure(&mut options);
        Fetcher::new(options).expect("fetcher")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn options(&self) -> RunOptions {
        let mut options = RunOptions::new(self.cache_dir());
        // Tests wait on real backoff; keep it short but non-zero so jitter is exercised.
        options.retry.backoff_base = Duration::from_millis(20);
        options
    }

    pub fn url(&self, gem: &GemFile) -> String {
        format!("{}/gems/{}.gem", self.mirror.base_url(), gem.full_name)
    }

    /// Items for every fixture, with their expected SHA-256.
    pub fn items(&self) -> Vec<Item> {
        self.gems.iter().map(|gem| self.item(gem, true)).collect()
    }

    pub fn item(&self, gem: &GemFile, with_sha: bool) -> Item {
        let (name, version) = gem.full_name.rsplit_once('-').expect("name-version");
        let sha = with_sha.then_some(gem.sha256.as_str());
        Item::new(name, version, None, sha, &self.url(gem)).expect("item")
    }
}

/// Runs to completion, returning outcomes and every event in arrival order.
pub fn run(fetcher: &Fetcher, items: Vec<Item>, options: RunOptions) -> (Vec<Outcome>, Vec<Event>) {
    let mut run = fetcher.start(items, options, None).expect("start");
    let mut events = Vec::new();
    while run.next_batch(&mut events, 256) {}
    (run.wait().expect("outcomes"), events)
}

/// Files under `dir` whose name marks them as in flight.
/// The error behind the first `Retrying` event.
pub fn first_retry_error(events: &[Event]) -> &wow_fetch_core::Error {
    events
        .iter()
        .find(|e| e.kind == wow_fetch_core::EventKind::Retrying)
        .and_then(|e| e.error.as_ref())
        .expect("a retrying event with its error")
}

pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    files_with_extension(dir, "part")
}

/// Every file below `dir` (recursively) whose extension is `extension`.
fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }
    found
}

pub fn sha256_hex(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("read");
    hex::encode(Sha256::digest(bytes))
}

impl Env {
    /// The directory the mirror serves.
    pub fn gems_dir(&self) -> PathBuf {
        self.dir.path().join("mirror")
    }

    /// Starts another mirror (say, one with a TLS fault) on this environment's runtime.
    pub fn start_mirror(&self, config: MirrorConfig) -> Mirror {
        self._runtime
            .block_on(Mirror::start(config))
            .expect("second mirror")
    }

    /// A fetcher trusting this mirror's CA and those of `others`.
    pub fn fetcher_trusting(&self, others: &[&Mirror]) -> Fetcher {
        let bundle = self.dir.path().join("ca-bundle.pem");
        let mut pem = self.mirror.ca_pem().to_owned();
        for other in others {
            pem.push_str(other.ca_pem());
        }
        std::fs::write(&bundle, pem).expect("write CA bundle");
        Fetcher::new(ClientOptions {
            ca_file: Some(bundle),
            ..ClientOptions::default()
        })
        .expect("fetcher")
    }
}

/// Complete `*.gem` files under `dir` (temp files start with a dot and end in `.part`).
pub fn gem_files(dir: &Path) -> Vec<PathBuf> {
    files_with_extension(dir, "gem")
}

/// The child half of a multi-process test: `wow-fetch-test-child ROLE` (`tests/child.rs`)
/// with `args`, one per line.
pub fn child(role: &str, args: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wow-fetch-test-child"));
    command.arg(role).env("WOW_TEST_CHILD_ARGS", args);
    command
}

/// Items as lines of `name version sha256 url`, for a child process.
pub fn write_item_list(path: &Path, items: &[Item]) {
    let text: String = items
        .iter()
        .map(|item| {
            format!(
                "{} {} {} {}\n",
                item.name(),
                item.version(),
                item.sha256().expect("items carry digests"),
                item.url()
            )
        })
        .collect();
    std::fs::write(path, text).expect("write item list");
}

/// A limit for `concurrency:` or `per_host:`, which are never zero.
pub fn places(n: usize) -> std::num::NonZeroUsize {
    std::num::NonZeroUsize::new(n).expect("a positive limit")
}

/// Extra request headers, valid by construction.
pub fn headers(pairs: &[(&str, &str)]) -> wow_fetch_core::RequestHeaders {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    wow_fetch_core::RequestHeaders::new(&pairs).expect("valid headers")
}
