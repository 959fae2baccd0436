//! The options of `Wow::Fetcher.new`, `#download_all` and `#resolve` as one type. The table at
//! the [`settings!`] invocation below names each setting, the kind of value it takes and its
//! default (the engine crates' constants); [`Settings::set`] checks a value and refuses it with
//! the message Ruby shows; [`Settings::apply`] fills in the defaults and gives the engine's
//! options. The binding only reads Ruby values by kind (`ext/src/ruby_api/options.rs`).
//!
//! Adding an option: a row in the table (with a kind below, or a new [`SettingKind`] and its
//! reading in the binding), its use in [`Settings::apply`] or [`Settings::client_options`],
//! and its documentation (README.md, `lib/wow/fetcher.rb`, `sig/wow/fetch.rbs`), which a spec
//! holds against [`SETTINGS`].

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wow_fetch_client::{
    ClientOptions, RequestHeaders, RetryPolicy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
};
use wow_fetch_download::{RunOptions, DEFAULT_CONCURRENCY, DEFAULT_PROGRESS_INTERVAL};
use wow_fetch_gem::{InputError, Item, DEFAULT_SOURCE};
use wow_fetch_resolve::ResolveOptions;

/// The kind of value a setting takes: how a caller reads it and how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// A String or Pathname; not empty, no NUL.
    Path,
    /// A String or URI with a scheme and host wow-fetch speaks.
    Url,
    /// An Integer of 1 or more.
    PositiveInteger,
    /// An Integer of 0 or more.
    Count,
    /// More than 0 seconds, any real number.
    Timeout,
    /// 0 seconds or more, any real number.
    Interval,
    /// `true` or `false`.
    Boolean,
    /// `:auto`, `:bar`, `:plain` or `false`.
    Progress,
    /// A Hash of header names to String values.
    Headers,
}

impl SettingKind {
    /// What a value of this kind must be, as a refusal says it.
    #[must_use]
    pub fn expected(self) -> &'static str {
        match self {
            Self::Path => "a String or Pathname",
            Self::Url => "a String or URI",
            Self::PositiveInteger => "a positive Integer",
            Self::Count => "a non-negative Integer",
            Self::Timeout => "a positive number of seconds",
            Self::Interval => "a non-negative number of seconds",
            Self::Boolean => "true or false",
            Self::Progress => ":auto, :bar, :plain or false",
            Self::Headers => "a Hash",
        }
    }
}

/// A value as the caller read it for a setting's kind (see `ext/src/ruby_api/options.rs`).
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Text(String),
    Integer(i64),
    Seconds(f64),
    Boolean(bool),
    /// A Symbol's name.
    Symbol(String),
    Headers(Vec<(String, String)>),
    /// Anything else: refused with the setting's "must be ..." message.
    Other,
}

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

/// A setting's default, as the table gives it.
#[derive(Clone, Copy, Debug)]
pub enum SettingDefault {
    /// No value; `means` is what that does, as the docs write it (`dest`: `nil`).
    Unset { means: &'static str },
    /// Supplied by the caller from its environment, see [`Environment`].
    Environment,
    /// A value; `shown` writes it as Ruby does (`16`, `0.1`, `:auto`).
    Value { shown: fn() -> String },
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct SettingInfo {
    /// The keyword, e.g. `concurrency`.
    pub name: &'static str,
    pub kind: SettingKind,
    pub default: SettingDefault,
}

impl SettingInfo {
    /// The row of the setting `name`.
    #[must_use]
    pub fn find(name: &str) -> Option<&'static Self> {
        SETTINGS.iter().find(|info| info.name == name)
    }
}

/// A value refused, with the message Ruby shows (as an `ArgumentError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// `shown`: the key as the caller wrote it (`:nope`, `"nope"`).
    #[error("unknown option: {shown}")]
    Unknown { shown: String },
    /// Not a value of the setting's kind; `shown` is the value as the caller writes it.
    #[error("{name} must be {expected} (got {shown})")]
    Expected {
        name: &'static str,
        expected: &'static str,
        shown: String,
    },
    #[error("{name} must be valid UTF-8")]
    NotUtf8 { name: &'static str },
    #[error("{name} must be a non-empty path without NUL (got {path:?})")]
    BadPath { name: &'static str, path: String },
    /// A path that cannot be made absolute (the current directory is gone).
    #[error("{name} {path}: {reason}")]
    NotAbsolute {
        name: &'static str,
        path: String,
        reason: String,
    },
    #[error("{name}: {error}")]
    BadUrl {
        name: &'static str,
        error: InputError,
    },
    /// `shown`: the key as the caller wrote it.
    #[error("{name}: header names must be Strings (got {shown})")]
    HeaderName { name: &'static str, shown: String },
    /// `class`: the value's class. Never the value, which may be a secret.
    #[error("{name}: the value of {header:?} must be a String (got a {class})")]
    HeaderValue {
        name: &'static str,
        header: String,
        class: String,
    },
    /// A header name or value the engine refuses (naming the header only).
    #[error(transparent)]
    BadHeaders(InputError),
}

/// Why a setting was refused by its kind's check.
enum Refusal {
    /// Not a value of the kind at all: the "must be ..." message.
    NotOfKind,
    Invalid(SettingError),
}

/// The kinds of value, each a type that reads and checks a [`SettingValue`].
mod kind {
    use super::{
        Duration, Item, NonZeroUsize, PathBuf, Refusal, RequestHeaders, SettingError, SettingKind,
        SettingValue,
    };

    pub(super) trait Kind {
        type Value;
        const KIND: SettingKind;
        fn read(name: &'static str, value: SettingValue) -> Result<Self::Value, Refusal>;
        /// A value as Ruby writes it, for the documented defaults.
        fn show(value: &Self::Value) -> String;
    }

    pub(super) struct Path;
    pub(super) struct Url;
    pub(super) struct PositiveInteger;
    pub(super) struct Count;
    pub(super) struct Timeout;
    pub(super) struct Interval;
    pub(super) struct Boolean;
    pub(super) struct Progress;
    pub(super) struct Headers;

    impl Kind for Path {
        type Value = PathBuf;
        const KIND: SettingKind = SettingKind::Path;
        fn read(name: &'static str, value: SettingValue) -> Result<PathBuf, Refusal> {
            let SettingValue::Text(text) = value else {
                return Err(Refusal::NotOfKind);
            };
            if text.is_empty() || text.contains('\0') {
                return Err(Refusal::Invalid(SettingError::BadPath { name, path: text }));
            }
            Ok(PathBuf::from(text))
        }
        fn show(value: &PathBuf) -> String {
            format!("{:?}", value.display().to_string())
        }
    }

    impl Kind for Url {
        type Value = String;
        const KIND: SettingKind = SettingKind::Url;
        fn read(name: &'static str, value: SettingValue) -> Result<String, Refusal> {
            let SettingValue::Text(text) = value else {
                return Err(Refusal::NotOfKind);
            };
            // Probing with a placeholder gem checks the scheme and host as every item URL will be.
            Item::source_url(&text, "probe-1")
                .map_err(|error| Refusal::Invalid(SettingError::BadUrl { name, error }))?;
            Ok(text)
        }
        fn show(value: &String) -> String {
            format!("{value:?}")
        }
    }

    impl Kind for PositiveInteger {
        type Value = NonZeroUsize;
        const KIND: SettingKind = SettingKind::PositiveInteger;
        fn read(_: &'static str, value: SettingValue) -> Result<NonZeroUsize, Refusal> {
            match value {
                SettingValue::Integer(n) => usize::try_from(n).ok().and_then(NonZeroUsize::new),
                _ => None,
            }
            .ok_or(Refusal::NotOfKind)
        }
        fn show(value: &NonZeroUsize) -> String {
            value.to_string()
        }
    }

    impl Kind for Count {
        type Value = u32;
        const KIND: SettingKind = SettingKind::Count;
        fn read(_: &'static str, value: SettingValue) -> Result<u32, Refusal> {
            match value {
                SettingValue::Integer(n) => u32::try_from(n).ok(),
                _ => None,
            }
            .ok_or(Refusal::NotOfKind)
        }
        fn show(value: &u32) -> String {
            value.to_string()
        }
    }

    impl Kind for Timeout {
        type Value = Duration;
        const KIND: SettingKind = SettingKind::Timeout;
        fn read(_: &'static str, value: SettingValue) -> Result<Duration, Refusal> {
            match value {
                SettingValue::Seconds(s) if s > 0.0 => Duration::try_from_secs_f64(s).ok(),
                _ => None,
            }
            .ok_or(Refusal::NotOfKind)
        }
        fn show(value: &Duration) -> String {
            value.as_secs_f64().to_string()
        }
    }

    impl Kind for Interval {
        type Value = Duration;
        const KIND: SettingKind = SettingKind::Interval;
        fn read(_: &'static str, value: SettingValue) -> Result<Duration, Refusal> {
            match value {
                SettingValue::Seconds(s) => Duration::try_from_secs_f64(s).ok(),
                _ => None,
            }
            .ok_or(Refusal::NotOfKind)
        }
        fn show(value: &Duration) -> String {
            value.as_secs_f64().to_string()
        }
    }

    impl Kind for Boolean {
        type Value = bool;
        const KIND: SettingKind = SettingKind::Boolean;
        fn read(_: &'static str, value: SettingValue) -> Result<bool, Refusal> {
            match value {
                SettingValue::Boolean(b) => Ok(b),
                _ => Err(Refusal::NotOfKind),
            }
        }
        fn show(value: &bool) -> String {
            value.to_string()
        }
    }

    impl Kind for Progress {
        type Value = super::Progress;
        const KIND: SettingKind = SettingKind::Progress;
        fn read(_: &'static str, value: SettingValue) -> Result<super::Progress, Refusal> {
            match value {
                SettingValue::Symbol(symbol) => match symbol.as_str() {
                    "auto" => Ok(super::Progress::Auto),
                    "bar" => Ok(super::Progress::Bar),
                    "plain" => Ok(super::Progress::Plain),
                    _ => Err(Refusal::NotOfKind),
                },
                SettingValue::Boolean(false) => Ok(super::Progress::Off),
                _ => Err(Refusal::NotOfKind),
            }
        }
        fn show(value: &super::Progress) -> String {
            match value {
                super::Progress::Auto => ":auto",
                super::Progress::Bar => ":bar",
                super::Progress::Plain => ":plain",
                super::Progress::Off => "false",
            }
            .to_owned()
        }
    }

    impl Kind for Headers {
        type Value = RequestHeaders;
        const KIND: SettingKind = SettingKind::Headers;
        /// Names must be RFC 9110 tokens, values visible ASCII. Values may be secrets:
        /// messages name only the header.
        fn read(_: &'static str, value: SettingValue) -> Result<RequestHeaders, Refusal> {
            let SettingValue::Headers(pairs) = value else {
                return Err(Refusal::NotOfKind);
            };
            RequestHeaders::new(&pairs).map_err(|e| Refusal::Invalid(SettingError::BadHeaders(e)))
        }
        /// Names only: values may be secrets.
        fn show(value: &RequestHeaders) -> String {
            let names: Vec<String> = value
                .map()
                .keys()
                .map(|name| format!("{:?} => \"…\"", name.as_str()))
                .collect();
            if names.is_empty() {
                "{}".to_owned()
            } else {
                format!("{{ {} }}", names.join(", "))
            }
        }
    }
}

use kind::Kind;

/// How a setting was given: `None` not at all, `Some(None)` as `nil` (its default, which also
/// overrides a value set on the `Fetcher`), `Some(Some(value))`.
type Given<T> = Option<Option<T>>;

/// Declares the settings once: the [`Settings`] struct with a getter per setting (its value,
/// else its default), the [`SETTINGS`] table, [`Settings::set`] and [`Settings::merged`].
///
/// A row is `name: Type as Kind = { default }`, where the default is a value, `unset "what
/// that means"` or `environment` (the getter of the last two returns an `Option`).
macro_rules! settings {
    ($(
        $(#[$meta:meta])*
        $name:ident: $type:ty as $kind:ident = $default:tt,
    )*) => {
        /// The settings of a `Fetcher` or of one call: only what was given, checked when it
        /// was given. [`Settings::merged`] lays a call's over a `Fetcher`'s, and
        /// [`Settings::apply`] fills in the defaults.
        #[derive(Clone, Debug, Default)]
        pub struct Settings {
            $($name: Given<$type>,)*
        }

        /// The settings, in the order the docs list them.
        pub const SETTINGS: &[SettingInfo] = &[
            $(SettingInfo {
                name: stringify!($name),
                kind: <kind::$kind as Kind>::KIND,
                default: settings!(@default $kind, $default),
            },)*
        ];

        impl Settings {
            $(settings!(@getter $(#[$meta])* $name: $type = $default);)*

            /// Sets `name` to `value` (`None`: its default, as Ruby's `nil`), checked for its
            /// kind; `shown` writes the value as the caller did, for a refusal's message.
            ///
            /// # Errors
            /// An unknown `name`, or a value the setting refuses: the message Ruby shows.
            pub fn set(
                &mut self,
                name: &str,
                value: Option<SettingValue>,
                shown: impl FnOnce() -> String,
            ) -> Result<(), SettingError> {
                match name {
                    $(stringify!($name) => {
                        self.$name = Some(
                            value
                                .map(|value| read::<kind::$kind>(stringify!($name), value, shown))
                                .transpose()?,
                        );
                    })*
                    _ => {
                        return Err(SettingError::Unknown {
                            shown: format!("{name:?}"),
                        })
                    }
                }
                Ok(())
            }

            /// `over`'s settings where given (`nil` included), else this one's.
            #[must_use]
            pub fn merged(&self, over: &Self) -> Self {
                Self {
                    $($name: over.$name.clone().or_else(|| self.$name.clone()),)*
                }
            }
        }
    };
    (@default $kind:ident, { unset $means:literal }) => {
        SettingDefault::Unset { means: $means }
    };
    (@default $kind:ident, { environment }) => {
        SettingDefault::Environment
    };
    (@default $kind:ident, { $value:expr }) => {
        SettingDefault::Value { shown: || <kind::$kind as Kind>::show(&$value) }
    };
    (@getter $(#[$meta:meta])* $name:ident: $type:ty = { unset $means:literal }) => {
        $(#[$meta])*
        #[must_use]
        pub fn $name(&self) -> Option<$type> {
            self.$name.clone().flatten()
        }
    };
    (@getter $(#[$meta:meta])* $name:ident: $type:ty = { environment }) => {
        $(#[$meta])*
        #[must_use]
        pub fn $name(&self) -> Option<$type> {
            self.$name.clone().flatten()
        }
    };
    (@getter $(#[$meta:meta])* $name:ident: $type:ty = { $value:expr }) => {
        $(#[$meta])*
        #[must_use]
        pub fn $name(&self) -> $type {
            self.$name.clone().flatten().unwrap_or_else(|| $value)
        }
    };
}

settings! {
    /// The directory that receives the `full_name.gem` files; unset, they stay in the cache.
    dest: PathBuf as Path = { unset "nil" },
    /// The cache, shared by all processes; unset, the caller's [`Environment`] says.
    cache_dir: PathBuf as Path = { environment },
    /// The base URL of items without `url:`, and of the compact index.
    source: String as Url = { DEFAULT_SOURCE.to_owned() },
    /// Transfers in flight at once, over all hosts.
    concurrency: NonZeroUsize as PositiveInteger = { DEFAULT_CONCURRENCY },
    /// Transfers in flight at once to one host; unset, as many as `concurrency` once the host
    /// answers over HTTP/2, and at most 16 (connections) before that or over HTTP/1.1.
    per_host: NonZeroUsize as PositiveInteger = { unset "= concurrency over HTTP/2, at most 16 over HTTP/1.1" },
    /// Extra attempts after a retryable failure.
    retries: u32 as Count = { DEFAULT_RETRIES },
    /// Time to connect (TCP and TLS).
    connect_timeout: Duration as Timeout = { DEFAULT_CONNECT_TIMEOUT },
    /// Time without a single byte before a transfer counts as stalled.
    read_timeout: Duration as Timeout = { DEFAULT_READ_TIMEOUT },
    /// Raise `DownloadError` after the call when an item failed.
    raise_on_failure: bool as Boolean = { true },
    /// What to draw while the call runs.
    progress: Progress as Progress = { Progress::Auto },
    /// The shortest time between two `:progress` events of one item.
    progress_interval: Duration as Interval = { DEFAULT_PROGRESS_INTERVAL },
    /// Extra request headers, sent only to the origin they go with.
    headers: RequestHeaders as Headers = { RequestHeaders::default() },
    /// A PEM bundle trusted in addition to the system's roots; unset, `SSL_CERT_FILE` from
    /// the caller's [`Environment`].
    ca_file: PathBuf as Path = { environment },
    /// Offer only HTTP/1.1.
    http1_only: bool as Boolean = { false },
    /// The call's gems are requirements, resolved through the compact index first.
    resolve: bool as Boolean = { false },
}

/// `value` read and checked as a setting of kind `K`.
fn read<K: Kind>(
    name: &'static str,
    value: SettingValue,
    shown: impl FnOnce() -> String,
) -> Result<K::Value, SettingError> {
    K::read(name, value).map_err(|refusal| match refusal {
        Refusal::NotOfKind => SettingError::Expected {
            name,
            expected: K::KIND.expected(),
            shown: shown(),
        },
        Refusal::Invalid(error) => error,
    })
}

/// The defaults that depend on where the settings are used, asked for only when the setting
/// was not given. Ruby reads them (`ENV` changes made in Ruby are seen there).
pub trait Environment {
    type Error;
    /// `cache_dir` when none was given (`Wow::Fetcher.default_cache_dir`).
    ///
    /// # Errors
    /// As the caller reports them.
    fn default_cache_dir(&self) -> Result<PathBuf, Self::Error>;
    /// `SSL_CERT_FILE`, read when no `ca_file` was given; a path that is not a file is
    /// ignored, as OpenSSL does.
    ///
    /// # Errors
    /// As the caller reports them.
    fn ssl_cert_file(&self) -> Result<Option<PathBuf>, Self::Error>;
}

/// Why [`Settings::apply`] failed.
#[derive(Debug)]
pub enum ApplyError<E> {
    /// A setting the defaults made invalid (a relative path with no current directory).
    Refused(SettingError),
    /// The [`Environment`] failed.
    Environment(E),
}

/// Everything one call needs, defaults applied: the engine's options and the binding's.
#[derive(Clone, Debug)]
pub struct CallOptions {
    pub run: RunOptions,
    pub client: ClientOptions,
    pub source: String,
    pub raise_on_failure: bool,
    pub progress: Progress,
    /// The call's gems are requirements to resolve through the compact index first.
    pub resolve: bool,
}

impl CallOptions {
    /// What a resolve needs of this call. The caller adds what runs the gems: the Ruby and
    /// RubyGems versions and the platforms.
    #[must_use]
    pub fn resolve_options(&self) -> ResolveOptions {
        let mut options = ResolveOptions::new(self.source.clone(), self.run.cache_dir.clone());
        options.headers = self.run.headers.clone();
        options.retry = self.run.retry;
        options.read_timeout = self.run.read_timeout;
        options
    }
}

impl Settings {
    /// The settings with defaults applied. Relative paths are taken from the current
    /// directory now, so `Result#path` is absolute.
    ///
    /// # Errors
    /// A path that cannot be made absolute, or the [`Environment`]'s error.
    pub fn apply<E: Environment>(&self, env: &E) -> Result<CallOptions, ApplyError<E::Error>> {
        let cache_dir = match self.cache_dir() {
            Some(dir) => dir,
            None => env.default_cache_dir().map_err(ApplyError::Environment)?,
        };
        let run = RunOptions {
            cache_dir: absolute("cache_dir", &cache_dir)?,
            dest: self
                .dest()
                .map(|dest| absolute("dest", &dest))
                .transpose()?,
            concurrency: self.concurrency(),
            per_host: self.per_host(),
            retry: RetryPolicy {
                retries: self.retries(),
                ..RetryPolicy::default()
            },
            read_timeout: self.read_timeout(),
            progress_interval: self.progress_interval(),
            headers: self.headers(),
        };
        Ok(CallOptions {
            run,
            client: self.client_options(env)?,
            source: self.source(),
            raise_on_failure: self.raise_on_failure(),
            progress: self.progress(),
            resolve: self.resolve(),
        })
    }

    /// The settings of a connection pool.
    ///
    /// # Errors
    /// As [`Settings::apply`].
    pub fn client_options<E: Environment>(
        &self,
        env: &E,
    ) -> Result<ClientOptions, ApplyError<E::Error>> {
        let ca_file = match self.ca_file() {
            Some(path) => Some(absolute("ca_file", &path)?),
            None => env
                .ssl_cert_file()
                .map_err(ApplyError::Environment)?
                .filter(|path| path.is_file()),
        };
        Ok(ClientOptions {
            connect_timeout: self.connect_timeout(),
            ca_file,
            http1_only: self.http1_only(),
        })
    }
}

fn absolute<E>(name: &'static str, path: &Path) -> Result<PathBuf, ApplyError<E>> {
    std::path::absolute(path).map_err(|e| {
        ApplyError::Refused(SettingError::NotAbsolute {
            name,
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment with a fixed cache and no `SSL_CERT_FILE`.
    struct Fixed;

    impl Environment for Fixed {
        type Error = String;
        fn default_cache_dir(&self) -> Result<PathBuf, String> {
            Ok(PathBuf::from("/env/cache"))
        }
        fn ssl_cert_file(&self) -> Result<Option<PathBuf>, String> {
            Ok(None)
        }
    }

    fn shown(value: &SettingValue) -> String {
        match value {
            SettingValue::Text(text) => format!("{text:?}"),
            SettingValue::Integer(n) => n.to_string(),
            SettingValue::Seconds(s) => s.to_string(),
            SettingValue::Boolean(b) => b.to_string(),
            SettingValue::Symbol(name) => format!(":{name}"),
            SettingValue::Headers(_) => "{...}".to_owned(),
            SettingValue::Other => "#<Object>".to_owned(),
        }
    }

    fn set(settings: &mut Settings, name: &str, value: SettingValue) -> Result<(), String> {
        let text = shown(&value);
        settings
            .set(name, Some(value), || text)
            .map_err(|e| e.to_string())
    }

    fn with(name: &str, value: SettingValue) -> Settings {
        let mut settings = Settings::default();
        set(&mut settings, name, value).expect("valid");
        settings
    }

    fn refusal(name: &str, value: SettingValue) -> String {
        set(&mut Settings::default(), name, value).expect_err("refused")
    }

    fn apply(settings: &Settings) -> CallOptions {
        settings.apply(&Fixed).expect("applies")
    }

    #[test]
    fn defaults_are_the_engine_constants() {
        let call = apply(&Settings::default());
        assert_eq!(call.run.cache_dir, PathBuf::from("/env/cache"));
        assert_eq!(call.run.dest, None);
        assert_eq!(call.run.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(call.run.per_host, None);
        assert_eq!(call.run.retry, RetryPolicy::default());
        assert_eq!(call.run.retry.retries, DEFAULT_RETRIES);
        assert_eq!(call.run.read_timeout, DEFAULT_READ_TIMEOUT);
        assert_eq!(call.run.progress_interval, DEFAULT_PROGRESS_INTERVAL);
        assert_eq!(call.run.headers, RequestHeaders::default());
        assert_eq!(call.client, ClientOptions::default());
        assert_eq!(call.source, DEFAULT_SOURCE);
        assert!(call.raise_on_failure);
        assert_eq!(call.progress, Progress::Auto);
        assert!(!call.resolve);
    }

    #[test]
    fn the_table_names_every_setting_once_with_its_default() {
        let names: Vec<&str> = SETTINGS.iter().map(|info| info.name).collect();
        let expected = "dest cache_dir source concurrency per_host retries connect_timeout \
                        read_timeout raise_on_failure progress progress_interval headers \
                        ca_file http1_only resolve";
        assert_eq!(names.join(" "), expected);
        let shown = |name: &str| match SettingInfo::find(name).expect("a setting").default {
            SettingDefault::Value { shown } => shown(),
            SettingDefault::Unset { means } => format!("unset: {means}"),
            SettingDefault::Environment => "environment".to_owned(),
        };
        assert_eq!(shown("dest"), "unset: nil");
        assert_eq!(shown("cache_dir"), "environment");
        assert_eq!(shown("source"), "\"https://rubygems.org\"");
        assert_eq!(shown("concurrency"), "64");
        assert_eq!(
            shown("per_host"),
            "unset: = concurrency over HTTP/2, at most 16 over HTTP/1.1"
        );
        assert_eq!(shown("retries"), "3");
        assert_eq!(shown("connect_timeout"), "10");
        assert_eq!(shown("read_timeout"), "30");
        assert_eq!(shown("raise_on_failure"), "true");
        assert_eq!(shown("progress"), ":auto");
        assert_eq!(shown("progress_interval"), "0.1");
        assert_eq!(shown("headers"), "{}");
        assert_eq!(shown("ca_file"), "environment");
        assert_eq!(shown("http1_only"), "false");
        assert_eq!(shown("resolve"), "false");
        assert!(SettingInfo::find("nope").is_none());
    }

    #[test]
    fn every_setting_takes_a_value_of_its_kind() {
        for info in SETTINGS {
            let value = match info.kind {
                SettingKind::Path => SettingValue::Text("some/dir".to_owned()),
                SettingKind::Url => SettingValue::Text("https://gems.example.com".to_owned()),
                SettingKind::PositiveInteger | SettingKind::Count => SettingValue::Integer(2),
                SettingKind::Timeout | SettingKind::Interval => SettingValue::Seconds(1.5),
                SettingKind::Boolean => SettingValue::Boolean(true),
                SettingKind::Progress => SettingValue::Symbol("plain".to_owned()),
                SettingKind::Headers => {
                    SettingValue::Headers(vec![("X-A".to_owned(), "b".to_owned())])
                }
            };
            let mut settings = Settings::default();
            assert_eq!(
                set(&mut settings, info.name, value),
                Ok(()),
                "{}",
                info.name
            );
            let expected = format!(
                "{} must be {} (got #<Object>)",
                info.name,
                info.kind.expected()
            );
            assert_eq!(refusal(info.name, SettingValue::Other), expected);
        }
    }

    #[test]
    fn given_values_are_applied() {
        let mut settings = Settings::default();
        let dir = std::env::current_dir().expect("a current directory");
        for (name, value) in [
            ("dest", SettingValue::Text("vendor/cache".to_owned())),
            ("cache_dir", SettingValue::Text("/tmp/c".to_owned())),
            (
                "source",
                SettingValue::Text("https://gems.example.com/a".to_owned()),
            ),
            ("concurrency", SettingValue::Integer(4)),
            ("per_host", SettingValue::Integer(2)),
            ("retries", SettingValue::Integer(0)),
            ("connect_timeout", SettingValue::Seconds(2.5)),
            ("read_timeout", SettingValue::Seconds(7.0)),
            ("raise_on_failure", SettingValue::Boolean(false)),
            ("progress", SettingValue::Boolean(false)),
            ("progress_interval", SettingValue::Seconds(0.0)),
            ("ca_file", SettingValue::Text("ca.pem".to_owned())),
            ("http1_only", SettingValue::Boolean(true)),
            ("resolve", SettingValue::Boolean(true)),
        ] {
            set(&mut settings, name, value).expect("valid");
        }
        let call = apply(&settings);
        assert_eq!(call.run.dest, Some(dir.join("vendor/cache")));
        assert_eq!(call.run.cache_dir, PathBuf::from("/tmp/c"));
        assert_eq!(call.source, "https://gems.example.com/a");
        assert_eq!(call.run.concurrency.get(), 4);
        assert_eq!(call.run.per_host_limit(), 2);
        assert_eq!(call.run.retry.retries, 0);
        assert_eq!(call.client.connect_timeout, Duration::from_millis(2500));
        assert_eq!(call.run.read_timeout, Duration::from_secs(7));
        assert!(!call.raise_on_failure);
        assert_eq!(call.progress, Progress::Off);
        assert_eq!(call.run.progress_interval, Duration::ZERO);
        assert_eq!(call.client.ca_file, Some(dir.join("ca.pem")));
        assert!(call.client.http1_only);
        assert!(call.resolve);
        let resolve = call.resolve_options();
        assert_eq!(resolve.source, call.source);
        assert_eq!(resolve.cache_dir, call.run.cache_dir);
        assert_eq!(resolve.retry, call.run.retry);
        assert_eq!(resolve.read_timeout, call.run.read_timeout);
    }

    /// The messages `spec/wow/validation_spec.rb` expects from Ruby.
    #[test]
    fn refusals_say_what_ruby_shows() {
        use SettingValue::{Boolean, Integer, Other, Seconds, Symbol, Text};
        macro_rules! refused {
            ($($name:literal: $value:expr => $message:literal;)*) => {$(
                assert_eq!(refusal($name, $value), $message);
            )*};
        }
        refused! {
            "concurrency": Integer(0) => "concurrency must be a positive Integer (got 0)";
            "concurrency": Integer(-2) => "concurrency must be a positive Integer (got -2)";
            "concurrency": Text("4".into()) => r#"concurrency must be a positive Integer (got "4")"#;
            "per_host": Integer(0) => "per_host must be a positive Integer (got 0)";
            "retries": Integer(-1) => "retries must be a non-negative Integer (got -1)";
            "retries": Integer(1 << 40) =>
                "retries must be a non-negative Integer (got 1099511627776)";
            "connect_timeout": Seconds(0.0) =>
                "connect_timeout must be a positive number of seconds (got 0)";
            "read_timeout": Seconds(f64::INFINITY) =>
                "read_timeout must be a positive number of seconds (got inf)";
            "progress_interval": Seconds(-0.5) =>
                "progress_interval must be a non-negative number of seconds (got -0.5)";
            "raise_on_failure": Text("yes".into()) =>
                r#"raise_on_failure must be true or false (got "yes")"#;
            "http1_only": Integer(1) => "http1_only must be true or false (got 1)";
            "progress": Symbol("fancy".into()) =>
                "progress must be :auto, :bar, :plain or false (got :fancy)";
            "progress": Boolean(true) => "progress must be :auto, :bar, :plain or false (got true)";
            "dest": Integer(42) => "dest must be a String or Pathname (got 42)";
            "cache_dir": Text(String::new()) =>
                r#"cache_dir must be a non-empty path without NUL (got "")"#;
            "ca_file": Text("a\0b".into()) =>
                r#"ca_file must be a non-empty path without NUL (got "a\0b")"#;
            "source": Text("ftp://example.test".into()) =>
                r#"source: invalid URL ftp://example.test/: unsupported scheme "ftp" (use https or http)"#;
            "source": Integer(42) => "source must be a String or URI (got 42)";
            "headers": Other => "headers must be a Hash (got #<Object>)";
            "nope": Integer(1) => r#"unknown option: "nope""#;
        }
    }

    #[test]
    fn bad_headers_are_refused_without_their_value() {
        let header = |name: &str, value: &str| {
            SettingValue::Headers(vec![(name.to_owned(), value.to_owned())])
        };
        assert_eq!(
            refusal("headers", header("Bad Name", "v")),
            r#"invalid option headers: "Bad Name": not a header name"#
        );
        let message = refusal("headers", header("Authorization", "Bearer s3cret\nX: y"));
        assert_eq!(
            message,
            r#"invalid option headers: "Authorization": value is not visible ASCII"#
        );
        assert!(!message.contains("s3cret"));
        let settings = with("headers", header("Authorization", "Bearer s3cret"));
        assert_eq!(settings.headers().map().len(), 1);
    }

    #[test]
    fn a_value_is_shown_only_for_a_refusal() {
        let mut settings = Settings::default();
        let result = settings.set("concurrency", Some(SettingValue::Integer(3)), || {
            panic!("shown for a valid value")
        });
        assert_eq!(result, Ok(()));
        assert_eq!(settings.concurrency().get(), 3);
    }

    #[test]
    fn a_call_overrides_the_fetcher_and_nil_resets_to_the_default() {
        let mut own = with("concurrency", SettingValue::Integer(4));
        set(&mut own, "retries", SettingValue::Integer(7)).expect("valid");
        set(
            &mut own,
            "source",
            SettingValue::Text("https://a.example".into()),
        )
        .expect("valid");

        let mut call = with("concurrency", SettingValue::Integer(8));
        call.set("retries", None, String::new)
            .expect("nil is valid");

        let merged = own.merged(&call);
        // Given in the call: the call's value.
        assert_eq!(merged.concurrency().get(), 8);
        // Given as nil in the call: the default, not the Fetcher's 7.
        assert_eq!(merged.retries(), DEFAULT_RETRIES);
        // Not given in the call: the Fetcher's.
        assert_eq!(merged.source(), "https://a.example");
        // Given nowhere: the default.
        assert_eq!(merged.read_timeout(), DEFAULT_READ_TIMEOUT);
        // Merging onto the call keeps the Fetcher's settings underneath.
        assert_eq!(call.merged(&own).concurrency().get(), 4);
        assert_eq!(own.merged(&Settings::default()).retries(), 7);
    }

    #[test]
    fn nil_given_to_a_fetcher_is_the_default() {
        let mut own = Settings::default();
        own.set("dest", None, String::new).expect("nil is valid");
        own.set("progress", None, String::new)
            .expect("nil is valid");
        assert_eq!(own.dest(), None);
        assert_eq!(own.progress(), Progress::Auto);
    }

    #[test]
    fn the_environment_is_asked_only_for_what_was_not_given() {
        struct Failing;
        impl Environment for Failing {
            type Error = &'static str;
            fn default_cache_dir(&self) -> Result<PathBuf, &'static str> {
                Err("cache_dir asked")
            }
            fn ssl_cert_file(&self) -> Result<Option<PathBuf>, &'static str> {
                Err("SSL_CERT_FILE asked")
            }
        }
        let mut settings = with("cache_dir", SettingValue::Text("/c".into()));
        set(
            &mut settings,
            "ca_file",
            SettingValue::Text("/ca.pem".into()),
        )
        .expect("valid");
        assert!(settings.apply(&Failing).is_ok());
        let missing = Settings::default().apply(&Failing);
        assert!(matches!(
            missing,
            Err(ApplyError::Environment("cache_dir asked"))
        ));
        let missing = Settings::default().client_options(&Failing);
        assert!(matches!(
            missing,
            Err(ApplyError::Environment("SSL_CERT_FILE asked"))
        ));
    }

    #[test]
    fn ssl_cert_file_is_used_only_when_it_is_a_file() {
        struct CertFile(PathBuf);
        impl Environment for CertFile {
            type Error = String;
            fn default_cache_dir(&self) -> Result<PathBuf, String> {
                Ok(PathBuf::from("/c"))
            }
            fn ssl_cert_file(&self) -> Result<Option<PathBuf>, String> {
                Ok(Some(self.0.clone()))
            }
        }
        let file = tempfile::NamedTempFile::new().expect("a temp file");
        let client = Settings::default()
            .client_options(&CertFile(file.path().to_owned()))
            .expect("applies");
        assert_eq!(client.ca_file.as_deref(), Some(file.path()));
        let dir = file.path().parent().expect("a parent").to_owned();
        let client = Settings::default()
            .client_options(&CertFile(dir))
            .expect("applies");
        assert_eq!(client.ca_file, None);
    }

    /// README.md's options table and the YARD list of `lib/wow/fetcher.rb` state each
    /// default the table gives as a value (`spec/wow/options_spec.rb` checks their names).
    #[test]
    fn documented_defaults_are_the_tables() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let yard = std::fs::read_to_string(root.join("lib/wow/fetcher.rb")).expect("fetcher.rb");
        for info in SETTINGS {
            let SettingDefault::Value { shown } = info.default else {
                continue;
            };
            let row = format!("| `{}:` | `{}` |", info.name, shown());
            assert!(readme.contains(&row), "README.md has no row {row:?}");
            let item = format!("+{}:+ [{}]", info.name, shown());
            assert!(
                yard.contains(&item),
                "lib/wow/fetcher.rb does not say {item:?}"
            );
        }
    }
}
