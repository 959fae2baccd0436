//! The `gems` argument of `download_all` → the engine's [`Item`]s, with the GVL held and before
//! any traffic. A refusal is an `ArgumentError` naming the item (`gems[2]: ...`); exceptions
//! raised by the caller's own objects (a `version` method that raises) pass through unchanged.

use magnus::r_hash::ForEach;
use magnus::{prelude::*, Error, RHash, RString, Ruby, Value};
use wow_fetch_core::{full_name, parse_specifier, Item, RUBY_PLATFORM};

use super::errors::argument_error;
use super::values::{gem_list, key_name, text, NotText};

/// The items of `gems`; `source` is the call's, for those with neither `url:` nor `source:`.
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
