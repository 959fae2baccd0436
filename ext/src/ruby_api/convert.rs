//! Ruby input → engine input, with the GVL held and before any traffic. Every refusal is an
//! `ArgumentError` whose message names the option or the item (`gems[2]: ...`); exceptions
//! raised by the caller's own objects (a `version` method that raises) pass through unchanged.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use magnus::r_hash::ForEach;
use magnus::{prelude::*, Error, Integer, RArray, RHash, RString, Ruby, Symbol, Value};
use wow_fetch_core::{
    full_name, parse_specifier, ClientOptions, GemRequest, Item, RequestHeaders, ResolveOptions,
    RunOptions, Version, RUBY_PLATFORM,
};

use super::errors::argument_error;
use super::fetcher_class;

/// How an option was given: `None` not at all, `Some(None)` as `nil` (its default, which also
/// overrides a value set on the `Fetcher`), `Some(Some(value))`.
type Setting<T> = Option<Option<T>>;

/// `progress:`, as the options table of README.md describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A live view when stderr is a TTY and no block was given; nothing otherwise.
    Auto,
    /// The live view, even off a TTY or with a block.
    Bar,
    /// One line per finished item.
    Plain,
    Off,
}

/// Declares the options once: the struct, the parser of a keyword Hash (which refuses unknown
/// keys) and the merge of per-call options over a `Fetcher`'s.
macro_rules! options {
    ($($name:ident: $type:ty => $parse:ident,)*) => {
        /// Options as given to `Fetcher.new` or `download_all`, validated but not yet resolved
        /// against defaults and the environment.
        #[derive(Clone, Debug, Default)]
        pub struct Options {
            $($name: Setting<$type>,)*
        }

        impl Options {
            /// Validates keyword arguments.
            pub fn parse(ruby: &Ruby, keywords: RHash) -> Result<Self, Error> {
                let mut options = Self::default();
                keywords.foreach(|key: Value, value: Value| {
                    match key_name(key).as_deref() {
                        $(Some(stringify!($name)) => {
                            options.$name = Some(if value.is_nil() {
                                None
                            } else {
                                Some($parse(ruby, stringify!($name), value)?)
                            });
                        })*
                        _ => {
                            return Err(argument_error(
                                ruby,
                                format!("unknown option: {}", key.inspect()),
                            ))
                        }
                    }
                    Ok(ForEach::Continue)
                })?;
                Ok(options)
            }

            /// `over`'s settings where given, else this one's.
            #[must_use]
            pub fn merged(&self, over: &Self) -> Self {
                Self {
                    $($name: over.$name.clone().or_else(|| self.$name.clone()),)*
                }
            }
        }
    };
}

options! {
    dest: PathBuf => path,
    cache_dir: PathBuf => path,
    source: String => url,
    concurrency: NonZeroUsize => positive_integer,
    per_host: NonZeroUsize => positive_integer,
    retries: u32 => count,
    connect_timeout: Duration => timeout,
    read_timeout: Duration => timeout,
    raise_on_failure: bool => boolean,
    progress: Progress => progress,
    progress_interval: Duration => interval,
    headers: RequestHeaders => headers,
    ca_file: PathBuf => path,
    http1_only: bool => boolean,
    resolve: bool => boolean,
}

/// `source:` when nobody gives one.
const DEFAULT_SOURCE: &str = "https://rubygems.org";

/// Everything one `download_all` call needs, defaults applied.
pub struct Call {
    pub run: RunOptions,
    pub client: ClientOptions,
    pub source: String,
    pub raise_on_failure: bool,
    pub progress: Progress,
    /// `gems` are requirements to resolve through the compact index first.
    pub resolve: bool,
}

impl Options {
    /// Applies defaults: `Wow::Fetcher.default_cache_dir` (which reads the environment in Ruby,
    /// where `ENV` changes are seen) and the engine's constants.
    pub fn resolve(&self, ruby: &Ruby) -> Result<Call, Error> {
        let cache_dir = match self.cache_dir.clone().flatten() {
            Some(dir) => dir,
            None => PathBuf::from(
                fetcher_class(ruby)?.funcall::<_, _, String>("default_cache_dir", ())?,
            ),
        };
        let mut run = RunOptions::new(absolute(ruby, "cache_dir", &cache_dir)?);
        run.dest = self
            .dest
            .clone()
            .flatten()
            .map(|dest| absolute(ruby, "dest", &dest))
            .transpose()?;
        if let Some(concurrency) = self.concurrency.flatten() {
            run.concurrency = concurrency;
        }
        run.per_host = self.per_host.flatten();
        if let Some(retries) = self.retries.flatten() {
            run.retry.retries = retries;
        }
        if let Some(read_timeout) = self.read_timeout.flatten() {
            run.read_timeout = read_timeout;
        }
        if let Some(interval) = self.progress_interval.flatten() {
            run.progress_interval = interval;
        }
        run.headers = self.headers.clone().flatten().unwrap_or_default();
        Ok(Call {
            run,
            client: self.client_options(ruby)?,
            source: self
                .source
                .clone()
                .flatten()
                .unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
            raise_on_failure: self.raise_on_failure.flatten().unwrap_or(true),
            progress: self.progress.flatten().unwrap_or(Progress::Auto),
            resolve: self.resolve.flatten().unwrap_or(false),
        })
    }

    /// The settings of a connection pool. `SSL_CERT_FILE` is honoured as OpenSSL does: a path
    /// that is not a file is ignored.
    pub fn client_options(&self, ruby: &Ruby) -> Result<ClientOptions, Error> {
        let mut client = ClientOptions::default();
        if let Some(timeout) = self.connect_timeout.flatten() {
            client.connect_timeout = timeout;
        }
        client.ca_file = match self.ca_file.clone().flatten() {
            Some(path) => Some(absolute(ruby, "ca_file", &path)?),
            None => ruby
                .class_object()
                .const_get::<_, Value>("ENV")?
                .funcall::<_, _, Option<String>>("[]", ("SSL_CERT_FILE",))?
                .map(PathBuf::from)
                .filter(|path| path.is_file()),
        };
        client.http1_only = self.http1_only.flatten().unwrap_or(false);
        Ok(client)
    }
}

/// Options are keywords, but a Hash splatted with String keys is accepted too.
fn key_name(key: Value) -> Option<String> {
    if let Some(symbol) = Symbol::from_value(key) {
        symbol.name().ok().map(|name| name.into_owned())
    } else {
        RString::from_value(key).and_then(|text| text.to_string().ok())
    }
}

fn path(ruby: &Ruby, name: &str, value: Value) -> Result<PathBuf, Error> {
    let text = if let Some(text) = RString::from_value(value) {
        text
    } else if value.respond_to("to_path", false)? {
        value.funcall("to_path", ())?
    } else {
        return Err(argument_error(
            ruby,
            format!(
                "{name} must be a String or Pathname (got {})",
                value.inspect()
            ),
        ));
    };
    let text = text
        .to_string()
        .map_err(|_| argument_error(ruby, format!("{name} must be valid UTF-8")))?;
    if text.is_empty() || text.contains('\0') {
        return Err(argument_error(
            ruby,
            format!("{name} must be a non-empty path without NUL (got {text:?})"),
        ));
    }
    Ok(PathBuf::from(text))
}

/// Relative paths are taken from the current directory now, so `Result#path` is absolute.
fn absolute(ruby: &Ruby, name: &str, path: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(path)
        .map_err(|e| argument_error(ruby, format!("{name} {}: {e}", path.display())))
}

fn url(ruby: &Ruby, name: &str, value: Value) -> Result<String, Error> {
    let text = text(value).map_err(|_| {
        argument_error(
            ruby,
            format!("{name} must be a String or URI (got {})", value.inspect()),
        )
    })?;
    // Probing with a placeholder gem checks the scheme and host as every item URL will be.
    Item::source_url(&text, "probe-1").map_err(|e| argument_error(ruby, format!("{name}: {e}")))?;
    Ok(text)
}

fn positive_integer(ruby: &Ruby, name: &str, value: Value) -> Result<NonZeroUsize, Error> {
    integer(value)
        .and_then(|n| usize::try_from(n).ok())
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name} must be a positive Integer (got {})",
                    value.inspect()
                ),
            )
        })
}

fn count(ruby: &Ruby, name: &str, value: Value) -> Result<u32, Error> {
    integer(value)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name} must be a non-negative Integer (got {})",
                    value.inspect()
                ),
            )
        })
}

fn integer(value: Value) -> Option<i64> {
    Integer::from_value(value).and_then(|n| n.to_i64().ok())
}

fn timeout(ruby: &Ruby, name: &str, value: Value) -> Result<Duration, Error> {
    seconds(ruby, value)?
        .filter(|&s| s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name} must be a positive number of seconds (got {})",
                    value.inspect()
                ),
            )
        })
}

fn interval(ruby: &Ruby, name: &str, value: Value) -> Result<Duration, Error> {
    seconds(ruby, value)?
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name} must be a non-negative number of seconds (got {})",
                    value.inspect()
                ),
            )
        })
}

/// Any real `Numeric` (Integer, Float, Rational) as seconds; `None` for anything else.
fn seconds(ruby: &Ruby, value: Value) -> Result<Option<f64>, Error> {
    let real = value.is_kind_of(ruby.class_numeric()) && value.respond_to("to_f", false)?;
    if !real || value.is_kind_of(ruby.class_complex()) {
        return Ok(None);
    }
    Ok(Some(value.funcall::<_, _, f64>("to_f", ())?).filter(|s| s.is_finite()))
}

fn boolean(ruby: &Ruby, name: &str, value: Value) -> Result<bool, Error> {
    if value.is_kind_of(ruby.class_true_class()) {
        Ok(true)
    } else if value.is_kind_of(ruby.class_false_class()) {
        Ok(false)
    } else {
        Err(argument_error(
            ruby,
            format!("{name} must be true or false (got {})", value.inspect()),
        ))
    }
}

fn progress(ruby: &Ruby, name: &str, value: Value) -> Result<Progress, Error> {
    let chosen = match Symbol::from_value(value)
        .map(|symbol| symbol.name())
        .transpose()?
    {
        Some(symbol) => match &*symbol {
            "auto" => Some(Progress::Auto),
            "bar" => Some(Progress::Bar),
            "plain" => Some(Progress::Plain),
            _ => None,
        },
        None if value.is_kind_of(ruby.class_false_class()) => Some(Progress::Off),
        None => None,
    };
    chosen.ok_or_else(|| {
        argument_error(
            ruby,
            format!(
                "{name} must be :auto, :bar, :plain or false (got {})",
                value.inspect()
            ),
        )
    })
}

/// Names and values are checked by the engine (RFC 9110 tokens, visible ASCII) when the run
/// starts, still before any traffic. Values may be secrets: messages name only the header.
fn headers(ruby: &Ruby, name: &str, value: Value) -> Result<RequestHeaders, Error> {
    let hash = RHash::from_value(value).ok_or_else(|| {
        argument_error(
            ruby,
            format!("{name} must be a Hash (got {})", value.inspect()),
        )
    })?;
    let mut headers = Vec::with_capacity(hash.len());
    hash.foreach(|key: Value, value: Value| {
        let header = key_name(key).ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name}: header names must be Strings (got {})",
                    key.inspect()
                ),
            )
        })?;
        let text = string(value).ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "{name}: the value of {header:?} must be a String (got a {})",
                    value.class().inspect()
                ),
            )
        })?;
        headers.push((header, text));
        Ok(ForEach::Continue)
    })?;
    RequestHeaders::new(&headers).map_err(|e| argument_error(ruby, e.to_string()))
}

/// `value` as a Rust string, if it is a String (in an encoding Rust can read).
fn string(value: Value) -> Option<String> {
    RString::from_value(value).and_then(|text| text.to_string().ok())
}

/// The accepted forms of a textual field: String, Symbol, and the objects RubyGems and the
/// standard library use for versions, platforms and URLs.
fn text(value: Value) -> Result<String, NotText> {
    if let Some(text) = RString::from_value(value) {
        return text.to_string().map_err(|_| NotText);
    }
    if let Some(symbol) = Symbol::from_value(value) {
        return symbol
            .name()
            .map(|name| name.into_owned())
            .map_err(|_| NotText);
    }
    let class = value.class().inspect();
    if matches!(class.as_str(), "Gem::Version" | "Gem::Platform") || class.starts_with("URI::") {
        return value.funcall("to_s", ()).map_err(|_| NotText);
    }
    Err(NotText)
}

/// A field that is not one of the forms [`text`] accepts.
struct NotText;

/// Converts the `gems` argument.
pub fn items(ruby: &Ruby, gems: Value, source: &str) -> Result<Vec<Item>, Error> {
    let list = gem_list(ruby, gems)?;
    let mut items = Vec::with_capacity(list.len());
    // Indexed access: the caller's objects may run Ruby code that changes the Array meanwhile.
    for (index, offset) in (0..list.len()).zip(0_isize..) {
        let value: Value = list.entry(offset)?;
        let item = item(ruby, value, source).map_err(|refusal| match refusal {
            Refusal::Input(message) => argument_error(ruby, format!("gems[{index}]: {message}")),
            Refusal::Ruby(error) => error,
        })?;
        items.push(item);
    }
    Ok(items)
}

/// `Fetcher#resolve`'s requests: Strings such as `"sinatra"`, `"rack < 3"` or
/// `"rack:>= 2, < 3"`, each parsed before any traffic.
pub fn requests(ruby: &Ruby, gems: Value) -> Result<Vec<GemRequest>, Error> {
    let list = gem_list(ruby, gems)?;
    let mut requests = Vec::with_capacity(list.len());
    for (index, offset) in (0..list.len()).zip(0_isize..) {
        let value: Value = list.entry(offset)?;
        let text = string(value).ok_or_else(|| {
            argument_error(
                ruby,
                format!(
                    "gems[{index}]: expected a String such as \"rack < 3\", got {}",
                    value.inspect()
                ),
            )
        })?;
        let request = GemRequest::parse(&text)
            .map_err(|e| argument_error(ruby, format!("gems[{index}]: {e}")))?;
        requests.push(request);
    }
    Ok(requests)
}

/// What the resolver needs of this call and of the running Ruby: its version, RubyGems'
/// version and platform, which decide the gem variants that can be installed here.
pub fn resolve_options(ruby: &Ruby, call: &Call) -> Result<ResolveOptions, Error> {
    let mut options = ResolveOptions::new(call.source.clone(), call.run.cache_dir.clone());
    let version = |expression: &str| -> Result<Option<Version>, Error> {
        let text: String = ruby.eval(expression)?;
        Ok(Version::parse(&text).ok())
    };
    options.ruby_version = version("RUBY_VERSION")?;
    options.rubygems_version = version("Gem::VERSION")?;
    let local: String = ruby.eval("Gem::Platform.local.to_s")?;
    options.platforms = vec![local, RUBY_PLATFORM.to_owned()];
    options.headers = call.run.headers.clone();
    options.retry = call.run.retry;
    options.read_timeout = call.run.read_timeout;
    Ok(options)
}

fn gem_list(ruby: &Ruby, gems: Value) -> Result<RArray, Error> {
    if let Some(list) = RArray::from_value(gems) {
        return Ok(list);
    }
    if RHash::from_value(gems).is_some() {
        return Err(argument_error(
            ruby,
            "gems must be a list of items (got a Hash; wrap a single item in an Array)",
        ));
    }
    if gems.respond_to("each", false)? && gems.respond_to("to_a", false)? {
        return gems.funcall("to_a", ());
    }
    Err(argument_error(
        ruby,
        format!(
            "gems must be an Array or another Enumerable of items (got {})",
            gems.class().inspect()
        ),
    ))
}

/// Why one item was refused: bad input (reported with its index) or an exception raised by
/// the caller's object (passed through).
enum Refusal {
    Input(String),
    Ruby(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self::Ruby(error)
    }
}

/// The fields of one item, in whichever form it came.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    version: Option<String>,
    platform: Option<String>,
    sha256: Option<String>,
    url: Option<String>,
    source: Option<String>,
}

const HASH_KEYS: [&str; 6] = ["name", "version", "platform", "sha256", "url", "source"];

fn item(ruby: &Ruby, value: Value, source: &str) -> Result<Item, Refusal> {
    let fields = if let Some(hash) = RHash::from_value(value) {
        hash_fields(ruby, hash)?
    } else if let Some(text) = RString::from_value(value) {
        let text = text
            .to_string()
            .map_err(|_| Refusal::Input("must be valid UTF-8".to_owned()))?;
        let spec = parse_specifier(&text).map_err(|e| Refusal::Input(e.to_string()))?;
        Fields {
            name: Some(spec.name),
            version: Some(spec.version),
            platform: spec.platform,
            ..Fields::default()
        }
    } else if value.respond_to("name", false)? && value.respond_to("version", false)? {
        object_fields(value)?
    } else {
        return Err(Refusal::Input(format!(
            "expected a Hash, a \"name-version[-platform]\" String or an object responding to \
             name and version (got {})",
            value.inspect()
        )));
    };
    build(fields, source)
}

/// A Hash with Symbol or String keys; an unknown key is refused, as a misspelt `sha256:`
/// would otherwise silently skip verification.
fn hash_fields(ruby: &Ruby, hash: RHash) -> Result<Fields, Refusal> {
    let mut unknown = None;
    hash.foreach(|key: Value, _: Value| {
        let known = key_name(key).is_some_and(|name| HASH_KEYS.contains(&name.as_str()));
        if known {
            Ok(ForEach::Continue)
        } else {
            unknown = Some(key.inspect());
            Ok(ForEach::Stop)
        }
    })?;
    if let Some(key) = unknown {
        return Err(Refusal::Input(format!("unknown key {key}")));
    }
    let field = |name: &str| -> Result<Option<String>, Refusal> {
        let value = hash
            .get(ruby.to_symbol(name))
            .or_else(|| hash.get(name))
            .filter(|value| !value.is_nil());
        value.map(|value| text_field(name, value)).transpose()
    };
    Ok(Fields {
        name: field("name")?,
        version: field("version")?,
        platform: field("platform")?,
        sha256: field("sha256")?,
        url: field("url")?,
        source: field("source")?,
    })
}

/// Gem::Specification, Gem::NameTuple, Bundler::LazySpecification and the like.
fn object_fields(object: Value) -> Result<Fields, Refusal> {
    let field = |name: &str| -> Result<Option<String>, Refusal> {
        if !object.respond_to(name, false)? {
            return Ok(None);
        }
        let value: Value = object.funcall(name, ())?;
        if value.is_nil() {
            return Ok(None);
        }
        text_field(name, value).map(Some)
    };
    Ok(Fields {
        name: field("name")?,
        version: field("version")?,
        platform: field("platform")?,
        sha256: field("sha256")?,
        ..Fields::default()
    })
}

fn text_field(name: &str, value: Value) -> Result<String, Refusal> {
    text(value).map_err(|NotText| {
        Refusal::Input(format!("{name} must be a String (got {})", value.inspect()))
    })
}

fn build(fields: Fields, default_source: &str) -> Result<Item, Refusal> {
    let input = |e: wow_fetch_core::InputError| Refusal::Input(e.to_string());
    let name = fields
        .name
        .ok_or_else(|| Refusal::Input("name is required".to_owned()))?;
    let version = fields
        .version
        .ok_or_else(|| Refusal::Input("version is required".to_owned()))?;
    let platform = fields.platform.as_deref();
    let url = match fields.url {
        Some(url) => url,
        None => {
            let full_name = full_name(&name, &version, platform.unwrap_or(RUBY_PLATFORM));
            let source = fields.source.as_deref().unwrap_or(default_source);
            Item::source_url(source, &full_name).map_err(input)?
        }
    };
    Item::new(&name, &version, platform, fields.sha256.as_deref(), &url).map_err(input)
}
