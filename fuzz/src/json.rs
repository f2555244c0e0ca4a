//! An independent reading of JSON documents for the oracles: the top-level
//! members in order with repeats kept (the core refuses repeated names at
//! any depth, `serde_json::Map` would silently keep the last one), whether a
//! nested object repeats a name, and the RFC 7519 NumericDate rule the core
//! documents.

use core::fmt;

use serde::Deserializer as _;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What the top level of a document is.
#[derive(Debug)]
pub enum Document {
    /// An object: its members in order, repeated names kept, and whether
    /// an object nested anywhere in it repeats a name.
    Object(Vec<(String, Value)>, bool),
    /// Well-formed JSON that is not an object.
    NotAnObject,
    /// Not JSON (or nested deeper than `serde_json` allows).
    NotJson,
}

impl Document {
    /// Reads `bytes` as `serde_json` does (whitespace around the value is
    /// fine, a byte order mark is not).
    pub fn parse(bytes: &[u8]) -> Document {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let Ok(document) = deserializer.deserialize_any(DocumentVisitor) else {
            return Document::NotJson;
        };
        if deserializer.end().is_err() {
            return Document::NotJson;
        }
        match document {
            Document::Object(members, _) => {
                let nested = members.iter().any(|(_, value)| nested_repeat(value, bytes));
                Document::Object(members, nested)
            }
            other => other,
        }
    }

    /// The object's members, if it is one.
    pub fn members(&self) -> Option<&[(String, Value)]> {
        match self {
            Document::Object(members, _) => Some(members),
            _ => None,
        }
    }

    /// The object without repeated names, as a map; `None` if it is not an
    /// object or repeats a name.
    pub fn unique_object(&self) -> Option<Map<String, Value>> {
        if matches!(self, Document::Object(_, true)) {
            return None;
        }
        let members = self.members()?;
        let mut map = Map::new();
        for (name, value) in members {
            if map.insert(name.clone(), value.clone()).is_some() {
                return None;
            }
        }
        Some(map)
    }
}

/// Whether `value` holds an object (at any depth) whose source text in
/// `bytes` repeats a member name. `serde_json::Value` has already collapsed
/// repeats, so the source is read again: every object in the document is
/// re-read with its members kept in order.
fn nested_repeat(value: &Value, bytes: &[u8]) -> bool {
    fn has_object(value: &Value) -> bool {
        match value {
            Value::Object(_) => true,
            Value::Array(items) => items.iter().any(has_object),
            _ => false,
        }
    }
    if !has_object(value) {
        return false;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer
        .deserialize_any(RepeatVisitor { depth: 0 })
        .unwrap_or(false)
}

/// Reads a document and answers whether any object below the top level
/// repeats a name.
struct RepeatVisitor {
    depth: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for RepeatVisitor {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RepeatVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        let mut names = std::collections::HashSet::new();
        let mut repeat = false;
        while let Some(name) = access.next_key::<String>()? {
            if !names.insert(name) && self.depth > 0 {
                repeat = true;
            }
            repeat |= access.next_value_seed(RepeatVisitor {
                depth: self.depth + 1,
            })?;
        }
        Ok(repeat)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<bool, A::Error> {
        let mut repeat = false;
        while let Some(inner) = access.next_element_seed(RepeatVisitor {
            depth: self.depth + 1,
        })? {
            repeat |= inner;
        }
        Ok(repeat)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// The first name that appears a second time, in document order.
pub fn first_repeat(members: &[(String, Value)]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    members
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| !seen.insert(*name))
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Document, A::Error> {
        let mut members = Vec::new();
        while let Some(name) = access.next_key::<String>()? {
            members.push((name, access.next_value::<Value>()?));
        }
        Ok(Document::Object(members, false))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Document, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Document::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::NotAnObject)
    }
}

/// A NumericDate (RFC 7519 §2) as the core documents it: a JSON number of
/// seconds in `[0, 2^64)`, any fraction dropped. `None` for anything else
/// (negative, too large, or not a number).
pub fn numeric_date(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(secs) = number.as_u64() {
        return Some(secs);
    }
    let secs = number.as_f64()?;
    // 2^64 exactly is out of range; below it, the float's integer part fits.
    if (0.0..18_446_744_073_709_551_616.0).contains(&secs) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some(secs as u64);
    }
    None
}

/// The type of a member: absent (or `null`), of the wanted type, or of
/// another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Not there, or `null`.
    Absent,
    /// There, with the wanted JSON type.
    Typed,
    /// There, with another JSON type.
    WrongType,
}

/// Classifies `map[name]` with `wanted` deciding the type.
pub fn slot(map: &Map<String, Value>, name: &str, wanted: impl Fn(&Value) -> bool) -> Slot {
    match map.get(name) {
        None | Some(Value::Null) => Slot::Absent,
        Some(value) if wanted(value) => Slot::Typed,
        Some(_) => Slot::WrongType,
    }
}

/// An array of strings.
pub fn is_string_array(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}
