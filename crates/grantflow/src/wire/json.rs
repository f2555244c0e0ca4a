//! The one JSON object reader: duplicate top-level names refused, bounded nesting.

use core::fmt;

use serde::Deserializer as _;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why [`json_object`] refused a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonObjectError {
    /// Not JSON, or nested too deep.
    NotJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A top-level member name appears twice.
    Duplicate(String),
}

/// Parses a JSON object, refusing duplicate top-level member names (which
/// `serde_json::Map` would silently collapse to the last one).
///
/// Names are compared after unescaping, so `"a"` and `"\u0061"` are the same
/// name. Nested objects are not checked. Nesting deeper than `serde_json`'s
/// recursion limit (128) is an error, not a stack overflow.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonObjectError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let top = deserializer
        .deserialize_any(TopVisitor)
        .map_err(|_| JsonObjectError::NotJson)?;
    deserializer.end().map_err(|_| JsonObjectError::NotJson)?;
    match top {
        Top::Object(map) => Ok(map),
        Top::NotAnObject => Err(JsonObjectError::NotAnObject),
        Top::Duplicate(name) => Err(JsonObjectError::Duplicate(name)),
    }
}

/// What the top level of a JSON document turned out to be.
enum Top {
    Object(Map<String, Value>),
    NotAnObject,
    /// The first repeated member name.
    Duplicate(String),
}

/// Reads the top level of a document: an object, with repeated names
/// noticed, or any other (well-formed, fully consumed) value.
struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Top, A::Error> {
        let mut map = Map::new();
        let mut duplicate = None;
        while let Some(name) = access.next_key::<String>()? {
            if duplicate.is_some() || map.contains_key(&name) {
                // Read the rest, so a malformed document is still NotJson.
                access.next_value::<IgnoredAny>()?;
                duplicate.get_or_insert(name);
            } else {
                let value = access.next_value::<Value>()?;
                map.insert(name, value);
            }
        }
        Ok(match duplicate {
            Some(name) => Top::Duplicate(name),
            None => Top::Object(map),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Top, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::NotAnObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::NotAnObject)
    }
}
