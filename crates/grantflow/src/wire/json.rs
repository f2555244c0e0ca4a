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
//! Top-level members go into a [`MemberSink`], which reads each value
//! itself: a typed parser reads each field it knows straight into a typed
//! slot of its own ([`read_scalar`]: strings borrowed from the document,
//! numbers as numbers), so neither an intermediate map nor a [`Value`] is
//! built for them; a [`FieldSink`] takes each member as a [`Value`].
//! A document that is valid UTF-8 is checked as a whole once, not string by
//! string.

use core::cell::RefCell;
use core::fmt;
use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Where [`read_object`] stores the top-level members of an object, as
/// [`Value`]s.
///
/// A typed parser implements this with one slot per field it knows;
/// `Map<String, Value>` keeps everything. A parser that reads its fields
/// straight into typed slots implements [`MemberSink`] instead.
pub(crate) trait FieldSink: Default {
    /// Stores `value` under `key`; `false` when `key` was stored already.
    fn insert(&mut self, key: &str, value: Value) -> bool;
}

impl FieldSink for Map<String, Value> {
    fn insert(&mut self, key: &str, value: Value) -> bool {
        // One search of the map instead of two.
        match self.entry(key) {
            serde_json::map::Entry::Occupied(_) => false,
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
        }
    }
}

/// Where [`read_object`] hands each top-level member: the sink reads the
/// member's value itself, from the document (`'de` is the document's
/// lifetime, so strings without escapes can be borrowed).
///
/// Every [`FieldSink`] is one, reading each value into a [`Value`] with
/// [`read_value`].
pub(crate) trait MemberSink<'de> {
    /// Reads the value of the member `key` from `value`; `Ok(false)` when
    /// `key` was stored already. The value must be read whole in either
    /// case, through [`read_value`] or [`read_scalar`] (or another reader
    /// that notes repeated names inside it through `names`), so repeated
    /// names inside it are noted.
    fn member<D: Deserializer<'de>>(
        &mut self,
        key: &str,
        value: D,
        names: Names<'_>,
    ) -> Result<bool, D::Error>;
}

impl<'de, S: FieldSink> MemberSink<'de> for S {
    fn member<D: Deserializer<'de>>(
        &mut self,
        key: &str,
        value: D,
        names: Names<'_>,
    ) -> Result<bool, D::Error> {
        let value = read_value(value, names)?;
        Ok(self.insert(key, value))
    }
}

/// Where a reader notes the first repeated member name it meets, at any
/// depth (see [`read_object`]).
#[derive(Clone, Copy)]
pub(crate) struct Names<'a>(&'a RefCell<Option<String>>);

impl Names<'_> {
    /// Runs `f` with a `Names` whose notes are dropped: for values that did
    /// not come from a document and cannot repeat a name (a [`Value`]'s
    /// objects are maps already).
    pub(crate) fn unchecked<T>(f: impl FnOnce(Names<'_>) -> T) -> T {
        let unused = RefCell::new(None);
        f(Names(&unused))
    }
}

/// Reads a whole value into a [`Value`], noting repeated names inside it.
#[inline]
pub(crate) fn read_value<'de, D: Deserializer<'de>>(
    value: D,
    names: Names<'_>,
) -> Result<Value, D::Error> {
    value.deserialize_any(Strict(names.0))
}

/// A member value as a tolerant typed slot reads it: what a string, number
/// or `null` field needs, without building a [`Value`]. Strings without
/// escapes are borrowed from the document.
pub(crate) enum Scalar<'de> {
    /// `null`.
    Null,
    /// A string.
    Str(Cow<'de, str>),
    /// A non-negative integer that fits in a `u64`.
    U64(u64),
    /// Anything else: a negative or fractional number, a boolean, an array
    /// or an object (read whole, repeated names noted, and dropped).
    Other,
}

/// Reads a whole value as a [`Scalar`], noting repeated names inside arrays
/// and objects.
#[inline]
pub(crate) fn read_scalar<'de, D: Deserializer<'de>>(
    value: D,
    names: Names<'_>,
) -> Result<Scalar<'de>, D::Error> {
    value.deserialize_any(ScalarVisitor(names.0))
}

/// Fills an empty typed `slot` from `value`; when the slot is filled
/// already, the value is still read whole (so a malformed or nested
/// repeated name inside it is reported first, as for any member) and
/// `Ok(false)` says the name is repeated.
#[inline]
pub(crate) fn fill_scalar<'de, D: Deserializer<'de>>(
    slot: &mut Option<Scalar<'de>>,
    value: D,
    names: Names<'_>,
) -> Result<bool, D::Error> {
    let read = read_scalar(value, names)?;
    if slot.is_some() {
        return Ok(false);
    }
    *slot = Some(read);
    Ok(true)
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

/// What [`read_object_into`] found at the top level of a well-formed
/// document.
pub(crate) enum Shape {
    /// An object without repeated names, its members in the sink.
    Object,
    /// Well-formed JSON that is not an object.
    NotAnObject,
    /// The first repeated member name, at whatever depth.
    Duplicate(String),
}

/// Reads a whole JSON document into a new sink: see [`read_object_into`].
pub(crate) fn read_object<S: FieldSink>(bytes: &[u8]) -> Result<Parsed<S>, serde_json::Error> {
    let mut sink = S::default();
    Ok(match read_object_into(bytes, &mut sink)? {
        Shape::Object => Parsed::Object(sink),
        Shape::NotAnObject => Parsed::NotAnObject,
        Shape::Duplicate(name) => Parsed::Duplicate(name),
    })
}

/// Reads a whole JSON document, handing its top-level members to `sink`:
/// see the [module docs](self). The error is serde_json's, for malformed or
/// truncated JSON; its message may quote the input, so callers report only
/// its [category](serde_json::Error::classify) and position. Unless the
/// answer is [`Shape::Object`], the sink holds whatever was read before the
/// document was found wanting.
pub(crate) fn read_object_into<'de, S: MemberSink<'de>>(
    bytes: &'de [u8],
    sink: &mut S,
) -> Result<Shape, serde_json::Error> {
    let duplicate = RefCell::new(None);
    let visitor = TopVisitor {
        duplicate: &duplicate,
        sink,
    };
    // A document that is valid UTF-8 as a whole (every well-formed one) is
    // checked once here rather than string by string inside serde_json;
    // serde_json reads a `&str` exactly as the same bytes, so the outcome is
    // the same either way. Anything else goes through the byte reader,
    // which reports where the bad byte is.
    let object = match core::str::from_utf8(bytes) {
        Ok(text) => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let object = deserializer.deserialize_any(visitor)?;
            deserializer.end()?;
            object
        }
        Err(_) => {
            let mut deserializer = serde_json::Deserializer::from_slice(bytes);
            let object = deserializer.deserialize_any(visitor)?;
            deserializer.end()?;
            object
        }
    };
    Ok(match (duplicate.into_inner(), object) {
        (Some(name), _) => Shape::Duplicate(name),
        (None, true) => Shape::Object,
        (None, false) => Shape::NotAnObject,
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

/// The top level: an object's members into the sink (`true`), or any other
/// value (`false`), fully consumed.
struct TopVisitor<'a, S> {
    duplicate: &'a RefCell<Option<String>>,
    sink: &'a mut S,
}

impl<'de, S: MemberSink<'de>> Visitor<'de> for TopVisitor<'_, S> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        while let Some(Key(key)) = access.next_key::<Key<'de>>()? {
            let fresh = access.next_value_seed(MemberSeed {
                sink: &mut *self.sink,
                key: &key,
                names: Names(self.duplicate),
            })?;
            if !fresh {
                note_duplicate(self.duplicate, &key);
            }
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// One member's value, handed to the sink with its name.
struct MemberSeed<'a, 'k, S> {
    sink: &'a mut S,
    key: &'k str,
    names: Names<'a>,
}

impl<'de, S: MemberSink<'de>> DeserializeSeed<'de> for MemberSeed<'_, '_, S> {
    type Value = bool;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        self.sink.member(self.key, deserializer, self.names)
    }
}

/// A value as a [`Scalar`]; arrays and objects go through [`Strict`] so
/// repeated names inside them are noted, then are dropped.
struct ScalarVisitor<'a>(&'a RefCell<Option<String>>);

impl<'de> Visitor<'de> for ScalarVisitor<'_> {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Scalar<'de>, E> {
        // serde_json hands non-negative integers to `visit_u64`; this is
        // for other deserializers.
        Ok(u64::try_from(value).map_or(Scalar::Other, Scalar::U64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Scalar<'de>, E> {
        // As in `Strict`: a non-finite float (never produced by serde_json)
        // would be `null`.
        Ok(if value.is_finite() {
            Scalar::Other
        } else {
            Scalar::Null
        })
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scalar<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Scalar<'de>, A::Error> {
        Strict(self.0).visit_seq(access).map(|_| Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Scalar<'de>, A::Error> {
        Strict(self.0).visit_map(access).map(|_| Scalar::Other)
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
