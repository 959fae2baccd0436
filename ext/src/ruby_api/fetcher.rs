//! `Wow::Fetcher`: the settings given to `new`, and the engine (runtime and connection pool)
//! built on first use, shared by every Ruby thread that calls this instance, and rebuilt in a
//! forked child.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use magnus::{
    function, method, prelude::*, scan_args::scan_args, Error, RArray, RHash, RString, Ruby, Value,
};

use wow_fetch_core::{CallOptions, Settings};

use super::{drain, errors, fetcher_class, items, options, requests, result};
use crate::helpers::nogvl::nogvl;

#[magnus::wrap(class = "Wow::Fetcher", free_immediately, size)]
#[derive(Default)]
pub struct Fetcher {
    settings: Mutex<Settings>,
    engine: Mutex<Option<Engine>>,
}

/// The engine together with the process that built it.
struct Engine {
    pid: u32,
    fetcher: Arc<wow_fetch_core::Fetcher>,
}

impl Engine {
    /// After `fork` the child holds a copy of the parent's engine but none of its runtime's
    /// threads; dropping it would wait for those threads forever, so the copy is leaked.
    fn abandon(self) {
        std::mem::forget(self.fetcher);
    }
}

impl Fetcher {
    /// `Wow::Fetcher.new(**options)`: validates the options now, so a typo fails here rather
    /// than at the first download.
    fn initialize(ruby: &Ruby, rb_self: &Self, args: &[Value]) -> Result<(), Error> {
        let args = scan_args::<(), (), (), (), RHash, ()>(args)?;
        *lock(&rb_self.settings) = options::parse(ruby, args.keywords)?;
        Ok(())
    }

    /// `download_all(gems, **options) { |event| ... }`, see README.md, "Usage".
    fn download_all(ruby: &Ruby, rb_self: &Self, args: &[Value]) -> Result<RArray, Error> {
        let (gems, call, engine) = rb_self.prepare(ruby, args)?;
        let items = if call.resolve {
            resolve_items(ruby, &engine, gems, &call)?
        } else {
            items::items(ruby, gems, &call.source)?
        };
        if items.is_empty() {
            return Ok(ruby.ary_new());
        }
        let run = engine
            .start(items.clone(), call.run, Some(&call.client))
            .map_err(|e| errors::start_error(ruby, &e))?;
        let outcomes = drain::drain(ruby, run, call.progress)?;
        let results = result::build_all(ruby, &items, &outcomes)?;
        if call.raise_on_failure && outcomes.iter().any(|outcome| !outcome.is_ok()) {
            return Err(errors::download_error(ruby, results));
        }
        Ok(results)
    }

    /// `resolve(requirements, **options)`: the gems to fetch for `requirements` and their
    /// runtime dependencies, resolved through the source's compact index for this Ruby and
    /// platform. Returns Hashes that `download_all` takes as they are.
    fn resolve(ruby: &Ruby, rb_self: &Self, args: &[Value]) -> Result<RArray, Error> {
        let (gems, call, engine) = rb_self.prepare(ruby, args)?;
        let items = resolve_items(ruby, &engine, gems, &call)?;
        let list = ruby.ary_new_capa(items.len());
        for item in &items {
            let hash = ruby.hash_new();
            hash.aset(ruby.sym_new("name"), item.name())?;
            hash.aset(ruby.sym_new("version"), item.version())?;
            hash.aset(ruby.sym_new("platform"), item.platform())?;
            hash.aset(ruby.sym_new("sha256"), item.sha256().map(|d| d.to_hex()))?;
            // The source as given (credentials included, as the caller passed them), so the
            // Hash fetches from where it was resolved without exposing a URL to print.
            hash.aset(ruby.sym_new("source"), call.source.as_str())?;
            list.push(hash)?;
        }
        Ok(list)
    }

    /// The list argument, this call's options merged over the instance's (validated before
    /// any traffic), and this process's engine.
    fn prepare(
        &self,
        ruby: &Ruby,
        args: &[Value],
    ) -> Result<(Value, CallOptions, Arc<wow_fetch_core::Fetcher>), Error> {
        let args = scan_args::<(Value,), (), (), (), RHash, ()>(args)?;
        let (gems,) = args.required;
        let own = lock(&self.settings).clone();
        let given = options::parse(ruby, args.keywords)?;
        let call = options::call_options(ruby, &own.merged(&given))?;
        let engine = self.engine(ruby, &own)?;
        Ok((gems, call, engine))
    }

    /// This process's engine, built on first use with the instance's own options (a call
    /// with different connection settings gets a pool of its own from the engine).
    fn engine(&self, ruby: &Ruby, own: &Settings) -> Result<Arc<wow_fetch_core::Fetcher>, Error> {
        // Read before locking: it runs Ruby code (`ENV`), during which another thread may run.
        let client_options = options::client_options(ruby, own)?;
        let pid = std::process::id();
        let mut slot = lock(&self.engine);
        match slot.as_ref() {
            Some(engine) if engine.pid == pid => return Ok(Arc::clone(&engine.fetcher)),
            Some(_) => {
                if let Some(inherited) = slot.take() {
                    inherited.abandon();
                }
            }
            None => {}
        }
        let fetcher = Arc::new(
            wow_fetch_core::Fetcher::new(client_options)
                .map_err(|e| errors::init_error(ruby, &e))?,
        );
        *slot = Some(Engine {
            pid,
            fetcher: Arc::clone(&fetcher),
        });
        Ok(fetcher)
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        let engine = self
            .engine
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(engine) = engine.filter(|engine| engine.pid != std::process::id()) {
            engine.abandon();
        }
    }
}

/// Resolves `gems` (requirement Strings) with the GVL released; Ctrl-C cancels it.
fn resolve_items(
    ruby: &Ruby,
    engine: &wow_fetch_core::Fetcher,
    gems: Value,
    call: &CallOptions,
) -> Result<Vec<wow_fetch_core::Item>, Error> {
    let requests = requests::requests(ruby, gems)?;
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let cancel = wow_fetch_core::CancellationToken::new();
    let mut options = requests::resolve_options(ruby, call)?;
    options.cancel = Some(cancel.clone());
    // This call's client options (a per-call `ca_file:`, `http1_only:`, `connect_timeout:`,
    // the lockfile's `ssl_ca_cert` from the CLI) apply to the index requests too.
    nogvl(
        || engine.resolve_with(&requests, &options, Some(&call.client)),
        &|| cancel.cancel(),
    )?
    .map_err(|e| errors::resolve_error(ruby, &e))
}

/// `Wow::Fetcher.parse_full_name("nokogiri-1.16.2-x86_64-linux")`: the engine's reading of a
/// RubyGems full name (the same one `download_all` applies to a String item, so the command
/// line cannot disagree with it), as `{ name:, version:, platform: }` with `"ruby"` when the
/// name has no platform.
fn parse_full_name(ruby: &Ruby, text: RString) -> Result<RHash, Error> {
    let text = text
        .to_string()
        .map_err(|_| errors::argument_error(ruby, "a full name must be valid UTF-8"))?;
    let spec = wow_fetch_core::parse_specifier(&text)
        .map_err(|e| errors::argument_error(ruby, e.to_string()))?;
    let hash = ruby.hash_new();
    hash.aset(ruby.sym_new("name"), spec.name)?;
    hash.aset(ruby.sym_new("version"), spec.version)?;
    hash.aset(
        ruby.sym_new("platform"),
        spec.platform
            .unwrap_or_else(|| wow_fetch_core::RUBY_PLATFORM.to_owned()),
    )?;
    Ok(hash)
}

/// A panic while a lock was held cannot leave these plain values half-written, so a poisoned
/// lock is used as is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn init(ruby: &Ruby) -> Result<(), Error> {
    let class = fetcher_class(ruby)?;
    class.define_alloc_func::<Fetcher>();
    class.define_method("initialize", method!(Fetcher::initialize, -1))?;
    class.define_method("download_all", method!(Fetcher::download_all, -1))?;
    class.define_method("resolve", method!(Fetcher::resolve, -1))?;
    class.define_singleton_method("parse_full_name", function!(parse_full_name, 1))?;
    class.const_set("OPTIONS", options::names(ruby)?)?;
    Ok(())
}
