//! Keyword arguments onto the engine's [`Settings`], with the GVL held and before any traffic:
//! each key is looked up in the table (`crates/core/src/settings.rs`), its value read by the
//! setting's kind and handed to the setting, which checks it. Every refusal is an
//! `ArgumentError` with the settings' message. The defaults that depend on the environment
//! are read through Ruby, where `ENV` changes made in Ruby are seen.

use std::path::PathBuf;

use magnus::r_hash::ForEach;
use magnus::{prelude::*, Error, RArray, RHash, Ruby, Value};
use wow_fetch_core::{
    ApplyError, CallOptions, ClientOptions, Environment, SettingError, SettingInfo, SettingKind,
    SettingValue, Settings, SETTINGS,
};

use super::errors::argument_error;
use super::fetcher_class;
use super::values;

/// The keywords of `Wow::Fetcher.new`, `download_all` or `resolve`.
pub fn parse(ruby: &Ruby, keywords: RHash) -> Result<Settings, Error> {
    let mut settings = Settings::default();
    keywords.foreach(|key: Value, value: Value| {
        let info = values::key_name(key)
            .and_then(|name| SettingInfo::find(&name))
            .ok_or_else(|| {
                refused(
                    ruby,
                    SettingError::Unknown {
                        shown: key.inspect(),
                    },
                )
            })?;
        let read = if value.is_nil() {
            None
        } else {
            Some(read(ruby, info, value)?)
        };
        settings
            .set(info.name, read, || value.inspect())
            .map_err(|e| refused(ruby, e))?;
        Ok(ForEach::Continue)
    })?;
    Ok(settings)
}

/// `value` as a setting of `info`'s kind reads it; [`SettingValue::Other`] when it has
/// another shape, which the setting refuses with its "must be ..." message.
fn read(ruby: &Ruby, info: &SettingInfo, value: Value) -> Result<SettingValue, Error> {
    let name = info.name;
    Ok(match info.kind {
        SettingKind::Path => match values::path(value)? {
            Some(text) => SettingValue::Text(
                text.to_string()
                    .map_err(|_| refused(ruby, SettingError::NotUtf8 { name }))?,
            ),
            None => SettingValue::Other,
        },
        SettingKind::Url => values::text(value).map_or(SettingValue::Other, SettingValue::Text),
        SettingKind::PositiveInteger | SettingKind::Count => {
            values::integer(value).map_or(SettingValue::Other, SettingValue::Integer)
        }
        SettingKind::Timeout | SettingKind::Interval => {
            values::seconds(ruby, value)?.map_or(SettingValue::Other, SettingValue::Seconds)
        }
        SettingKind::Boolean => {
            values::boolean(ruby, value).map_or(SettingValue::Other, SettingValue::Boolean)
        }
        SettingKind::Progress => match values::symbol(value)? {
            Some(symbol) => SettingValue::Symbol(symbol),
            None => values::boolean(ruby, value)
                .filter(|b| !b)
                .map_or(SettingValue::Other, SettingValue::Boolean),
        },
        SettingKind::Headers => match RHash::from_value(value) {
            Some(hash) => SettingValue::Headers(headers(ruby, name, hash)?),
            None => SettingValue::Other,
        },
    })
}

/// A Hash of header names (Strings or Symbols) to String values. A value may be a secret:
/// messages give only its class.
fn headers(ruby: &Ruby, name: &'static str, hash: RHash) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::with_capacity(hash.len());
    hash.foreach(|key: Value, value: Value| {
        let header = values::key_name(key).ok_or_else(|| {
            refused(
                ruby,
                SettingError::HeaderName {
                    name,
                    shown: key.inspect(),
                },
            )
        })?;
        let text = values::string(value).ok_or_else(|| {
            refused(
                ruby,
                SettingError::HeaderValue {
                    name,
                    header: header.clone(),
                    class: value.class().inspect(),
                },
            )
        })?;
        pairs.push((header, text));
        Ok(ForEach::Continue)
    })?;
    Ok(pairs)
}

/// Everything one call needs, defaults applied.
pub fn call_options(ruby: &Ruby, settings: &Settings) -> Result<CallOptions, Error> {
    settings
        .apply(&RubyEnvironment(ruby))
        .map_err(|e| applied(ruby, e))
}

/// The settings of a connection pool.
pub fn client_options(ruby: &Ruby, settings: &Settings) -> Result<ClientOptions, Error> {
    settings
        .client_options(&RubyEnvironment(ruby))
        .map_err(|e| applied(ruby, e))
}

/// `Wow::Fetcher::OPTIONS`: the names of the settings, a frozen Array of Symbols.
pub fn names(ruby: &Ruby) -> Result<RArray, Error> {
    let names = ruby.ary_new_capa(SETTINGS.len());
    for info in SETTINGS {
        names.push(ruby.to_symbol(info.name))?;
    }
    names.freeze();
    Ok(names)
}

/// The defaults that depend on the environment, as Ruby sees it.
struct RubyEnvironment<'a>(&'a Ruby);

impl Environment for RubyEnvironment<'_> {
    type Error = Error;

    /// `Wow::Fetcher.default_cache_dir`, which reads `ENV` in Ruby.
    fn default_cache_dir(&self) -> Result<PathBuf, Error> {
        let dir: String = fetcher_class(self.0)?.funcall("default_cache_dir", ())?;
        Ok(PathBuf::from(dir))
    }

    fn ssl_cert_file(&self) -> Result<Option<PathBuf>, Error> {
        let path: Option<String> = self
            .0
            .class_object()
            .const_get::<_, Value>("ENV")?
            .funcall("[]", ("SSL_CERT_FILE",))?;
        Ok(path.map(PathBuf::from))
    }
}

fn applied(ruby: &Ruby, error: ApplyError<Error>) -> Error {
    match error {
        ApplyError::Refused(e) => refused(ruby, e),
        ApplyError::Environment(e) => e,
    }
}

fn refused(ruby: &Ruby, error: SettingError) -> Error {
    argument_error(ruby, error.to_string())
}
