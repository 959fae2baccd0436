//! Readers of Ruby values, shared by the options, the items and the requests. Each answers
//! `None` (or [`NotText`]) for a value of another shape and leaves the message to its caller;
//! exceptions raised by the caller's own objects (a `to_path` that raises) pass through.

use magnus::{prelude::*, Error, Integer, RArray, RHash, RString, Ruby, Symbol, Value};

use super::errors::argument_error;

/// Keys of options and items: a Symbol, or a String from a Hash splatted with String keys.
pub fn key_name(key: Value) -> Option<String> {
    if let Some(symbol) = Symbol::from_value(key) {
        symbol.name().ok().map(|name| name.into_owned())
    } else {
        RString::from_value(key).and_then(|text| text.to_string().ok())
    }
}

/// `value` as a Rust string, if it is a String (in an encoding Rust can read).
pub fn string(value: Value) -> Option<String> {
    RString::from_value(value).and_then(|text| text.to_string().ok())
}

/// The accepted forms of a textual field: String, Symbol, and the objects RubyGems and the
/// standard library use for versions, platforms and URLs.
pub fn text(value: Value) -> Result<String, NotText> {
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
pub struct NotText;

/// A path: a String, or what an object's `to_path` returns (Pathname).
pub fn path(value: Value) -> Result<Option<RString>, Error> {
    if let Some(text) = RString::from_value(value) {
        Ok(Some(text))
    } else if value.respond_to("to_path", false)? {
        value.funcall("to_path", ()).map(Some)
    } else {
        Ok(None)
    }
}

/// An Integer that fits in 64 bits.
pub fn integer(value: Value) -> Option<i64> {
    Integer::from_value(value).and_then(|n| n.to_i64().ok())
}

/// Any real `Numeric` (Integer, Float, Rational) as seconds.
pub fn seconds(ruby: &Ruby, value: Value) -> Result<Option<f64>, Error> {
    let real = value.is_kind_of(ruby.class_numeric()) && value.respond_to("to_f", false)?;
    if !real || value.is_kind_of(ruby.class_complex()) {
        return Ok(None);
    }
    value.funcall::<_, _, f64>("to_f", ()).map(Some)
}

/// `true` or `false`.
pub fn boolean(ruby: &Ruby, value: Value) -> Option<bool> {
    if value.is_kind_of(ruby.class_true_class()) {
        Some(true)
    } else if value.is_kind_of(ruby.class_false_class()) {
        Some(false)
    } else {
        None
    }
}

/// A Symbol's name.
pub fn symbol(value: Value) -> Result<Option<String>, Error> {
    Symbol::from_value(value)
        .map(|symbol| symbol.name().map(|name| name.into_owned()))
        .transpose()
}

/// The `gems` argument of `download_all` and `resolve` as an Array.
pub fn gem_list(ruby: &Ruby, gems: Value) -> Result<RArray, Error> {
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
