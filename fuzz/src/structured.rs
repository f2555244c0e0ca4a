//! Pieces the structured targets draw with `arbitrary`: JSON values of every
//! type written as text the harness controls (so member names may repeat or
//! be spelled with `\u` escapes, and numbers may be written as floats,
//! exponents or out of range), and the instants a response is received at.
//!
//! The structured targets build their inputs from these and then hand the
//! oracles only the bytes that were produced: the oracles re-read those with
//! `serde_json`, `form_urlencoded` and `url`, never from the structure.

use arbitrary::Arbitrary;

/// Any JSON value, drawn structurally.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A negative or positive integer.
    Int(i64),
    /// An integer up to `u64::MAX`.
    UInt(u64),
    /// A float (non-finite ones are written as `-0.0`).
    Float(f64),
    /// A number written with an exponent: `1e{n}`, `-1e{n}` or
    /// `1.5e{n}`, so `1e19`..`1e400` (out of `u64`, out of `f64`) come up.
    Exponent(u8, u16),
    /// A string, escaped as JSON wants (or every character as `\u`).
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, members in order (names may repeat).
    Obj(Vec<(String, Json)>),
}

/// How strings (and member names) are spelled.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// As `serde_json` writes them.
    Plain,
    /// Every character as `\uXXXX` (surrogate pairs beyond the BMP).
    Escaped,
}

impl Json {
    /// Writes the value as JSON text.
    pub fn write(&self, out: &mut String, spelling: Spelling) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::UInt(u) => out.push_str(&u.to_string()),
            Json::Float(f) if f.is_finite() => out.push_str(&format!("{f:?}")),
            Json::Float(_) => out.push_str("-0.0"),
            Json::Exponent(form, exp) => {
                let mantissa = ["1", "-1", "1.5", "0.5"][usize::from(*form % 4)];
                out.push_str(&format!("{mantissa}e{}", exp % 420));
            }
            Json::Str(s) => write_string(out, s, spelling),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out, spelling);
                }
                out.push(']');
            }
            Json::Obj(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, name, spelling);
                    out.push(':');
                    value.write(out, spelling);
                }
                out.push('}');
            }
        }
    }

    /// The value as text, for a form body or a query: a string as itself,
    /// anything else as its JSON.
    pub fn as_text(&self) -> String {
        match self {
            Json::Str(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write(&mut out, Spelling::Plain);
                out
            }
        }
    }
}

/// Writes `s` as a JSON string.
pub fn write_string(out: &mut String, s: &str, spelling: Spelling) {
    match spelling {
        Spelling::Plain => {
            out.push_str(&serde_json::to_string(s).expect("a string always serializes"))
        }
        Spelling::Escaped => {
            out.push('"');
            let mut units = [0u16; 2];
            for c in s.chars() {
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            out.push('"');
        }
    }
}

/// An object written member by member (names may repeat).
pub fn write_object(members: &[(String, Json)], spelling: Spelling) -> String {
    let mut out = String::new();
    Json::Obj(members.to_vec()).write(&mut out, spelling);
    out
}

/// When something is received.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Instant {
    /// [`crate::DEFAULT_NOW`].
    Default,
    /// The epoch.
    Epoch,
    /// `u64::MAX - n`.
    NearMax(u8),
    /// Any instant.
    Any(u64),
}

impl Instant {
    /// The instant in seconds.
    pub fn secs(self) -> u64 {
        match self {
            Instant::Default => crate::DEFAULT_NOW,
            Instant::Epoch => 0,
            Instant::NearMax(n) => u64::MAX - u64::from(n),
            Instant::Any(secs) => secs,
        }
    }
}
