//! The one JSON object reader of the crate. Every JSON document grantflow
//! reads — token and error responses, metadata, UserInfo, JWK sets, JOSE
//! headers and JWT claims — goes through [`read_object`]:
//!
//! - the top level must be an object (anything else is [`Parsed::NotAnObject`]);
//! - a member name that appears twice, **at any depth** (a top-level field,
//!   a member of a JWK entry, a nested claim), makes the whole document
//!   [`Parsed::Duplicate`]: RFC 8259 §4 leaves duplicates undefined, and
//!   parsers that keep the first or the last one disagree about what a
//!   document says, which is how confusion attacks start (RFC 7515 §5.2,
//!   RFC 7519 §4 require unique names);
//! - names are compared after unescaping (`"a"` and `"\u0061"` are the same);
//! - nesting deeper than `serde_json`'s recursion limit (128) is a syntax
//!   error, not a stack overflow; the whole input must be consumed.
//!
//! Top-level members go into a [`FieldSink`]: a typed parser gives each field
//! it knows a slot of its own, so no intermediate map is built.

use core::cell::RefCell;
use core::fmt;
use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Where [`read_object`] stores the top-level members of an object.
///
/// A typed parser implements this with one slot per field it knows;
/// `Map<String, Value>` keeps everything.
pub(crate) trait FieldSink: Default {
    /// Stores `value` under `key`; `false` when `key` was stored already.
    fn insert(&mut self, key: &str, value: Value) -> bool;
}

impl FieldSink for Map<String, Value> {
    fn insert(&mut self, key: &str, value: Value) -> bool {
        if self.contains_key(key) {
            return false;
        }
        Map::insert(self, key.to_owned(), value);
        true
    }
}

/// Stores `value` in an empty `slot`; `false` when it was filled already.
pub(crate) fn fill(slot: &mut Option<Value>, value: Value) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

/// What the top level of a well-formed document turned out to be.
pub(crate) enum Parsed<S> {
    /// An object without repeated names, its members in the sink.
    Object(S),
    /// Well-formed JSON that is not an object.
    NotAnObject,
    /// The first repeated member name, at whatever depth.
    Duplicate(String),
}

/// Reads a whole JSON document: see the [module docs](self). The error is
/// serde_json's, for malformed or truncated JSON; its message may quote the
/// input, so callers report only its [category](serde_json::Error::classify)
/// and position.
pub(crate) fn read_object<S: FieldSink>(bytes: &[u8]) -> Result<Parsed<S>, serde_json::Error> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let top = deserializer.deserialize_any(TopVisitor::<S> {
        duplicate: &duplicate,
        sink: core::marker::PhantomData,
    })?;
    deserializer.end()?;
    Ok(match (duplicate.into_inner(), top) {
        (Some(name), _) => Parsed::Duplicate(name),
        (None, Some(sink)) => Parsed::Object(sink),
        (None, None) => Parsed::NotAnObject,
    })
}

/// Why [`json_object`] refused a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonObjectError {
    /// Not JSON, or nested too deep.
    NotJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A member name appears twice (at any depth).
    Duplicate(String),
}

/// [`read_object`] into a map: for JOSE headers, JWT claims and JWK sets.
pub(crate) fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonObjectError> {
    match read_object(bytes).map_err(|_| JsonObjectError::NotJson)? {
        Parsed::Object(map) => Ok(map),
        Parsed::NotAnObject => Err(JsonObjectError::NotAnObject),
        Parsed::Duplicate(name) => Err(JsonObjectError::Duplicate(name)),
    }
}

/// Records the first repeated name; the rest of the document is still read,
/// so that a malformed document is reported as malformed.
fn note_duplicate(duplicate: &RefCell<Option<String>>, name: &str) {
    let mut first = duplicate.borrow_mut();
    if first.is_none() {
        *first = Some(name.to_owned());
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The top level: an object into the sink (`Some`), or any other value
/// (`None`), fully consumed.
struct TopVisitor<'a, S> {
    duplicate: &'a RefCell<Option<String>>,
    sink: core::marker::PhantomData<S>,
}

impl<'de, S: FieldSink> Visitor<'de> for TopVisitor<'_, S> {
    type Value = Option<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Option<S>, A::Error> {
        let mut sink = S::default();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            let value = access.next_value_seed(Strict(self.duplicate))?;
            if !sink.insert(&key, value) {
                note_duplicate(self.duplicate, &key);
            }
        }
        Ok(Some(sink))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Option<S>, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<S>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<S>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<S>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<S>, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<S>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<S>, E> {
        Ok(None)
    }
}

/// A nested value, read into a [`Value`] with repeated member names noted
/// at every depth (serde_json's own `Value` keeps the last one silently).
#[derive(Clone, Copy)]
struct Strict<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // serde_json never produces a non-finite float; `Null` is what its
        // own `Value` would make of one.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(item) = access.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            let value = access.next_value_seed(self)?;
            if map.contains_key(key.as_ref()) {
                note_duplicate(self.0, &key);
            } else {
                map.insert(key.into_owned(), value);
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_other_values() {
        assert_eq!(
            json_object(br#"{"a":1,"b":[1,{"c":null}],"d":1.5,"e":-2}"#)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(json_object(b" {} ").unwrap().len(), 0);
        for other in [
            &b"[1,2]"[..],
            b"1",
            b"\"s\"",
            b"true",
            b"null",
            b"-1",
            b"1.5",
        ] {
            assert_eq!(json_object(other), Err(JsonObjectError::NotAnObject));
        }
        for broken in [&b""[..], b"{", b"{} x", b"{\"a\":}", b"\xff"] {
            assert_eq!(json_object(broken), Err(JsonObjectError::NotJson));
        }
    }

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        for (doc, name) in [
            (&br#"{"a":1,"a":2}"#[..], "a"),
            (br#"{"a":1,"\u0061":2}"#, "a"),
            (br#"{"keys":[{"kty":"EC","kty":"RSA"}]}"#, "kty"),
            (br#"{"address":{"country":"a","country":"b"}}"#, "country"),
            (br#"{"x":[[{"y":{"z":1,"z":2}}]]}"#, "z"),
        ] {
            assert_eq!(
                json_object(doc),
                Err(JsonObjectError::Duplicate(name.to_owned())),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        // A malformed document with a duplicate is still malformed.
        assert_eq!(
            json_object(br#"{"a":1,"a":2"#),
            Err(JsonObjectError::NotJson)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
        let deep = format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000));
        assert_eq!(json_object(deep.as_bytes()), Err(JsonObjectError::NotJson));
    }

    #[test]
    fn values_match_serde_json_s_own() {
        let doc = br#"{"s":"x\u00e9","n":[0,-1,18446744073709551615,1.25,1e300],"o":{"t":true,"f":false,"z":null}}"#;
        let ours = json_object(doc).unwrap();
        let theirs: Map<String, Value> = serde_json::from_slice(doc).unwrap();
        assert_eq!(ours, theirs);
    }
}
