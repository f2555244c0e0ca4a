//! The JOSE rules `grantflow::jws` documents, re-stated for the oracles.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::json::Document;

/// `segment` decoded, if it is strict unpadded base64url (RFC 7515 §2): the
/// URL-safe alphabet only, a length that is not 1 mod 4, and no stray bits
/// in the last character.
pub fn strict_b64url(segment: &str) -> Option<Vec<u8>> {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !segment.bytes().all(alphabet) || segment.len() % 4 == 1 {
        return None;
    }
    let decoded = URL_SAFE_NO_PAD.decode(segment).ok()?;
    // Re-encoding gives the segment back only if the unused bits are zero.
    (URL_SAFE_NO_PAD.encode(&decoded) == segment).then_some(decoded)
}

/// What a header that passes the rules says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `alg`.
    pub alg: String,
    /// `kid`, if present.
    pub kid: Option<String>,
    /// `typ`, if present.
    pub typ: Option<String>,
}

/// The header rules of `CompactJws::parse` (RFC 7515 §4, §4.1.11, RFC 7797,
/// RFC 8725 §3.1) applied to the decoded header: a JSON object without a
/// repeated name, a string `alg` that is not `none` in any case, no `crit`
/// at all, `b64` absent or `true`, `kid` and `typ` absent or strings.
pub fn header_rules(header: &[u8]) -> Result<Header, &'static str> {
    let map = Document::parse(header)
        .unique_object()
        .ok_or("header is not an object without repeats")?;
    let alg = match map.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err("no alg string"),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err("alg none");
    }
    if map.contains_key("crit") {
        return Err("crit present");
    }
    if !matches!(map.get("b64"), None | Some(Value::Bool(true))) {
        return Err("b64 other than true");
    }
    let optional = |name: &str| match map.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err("kid or typ is not a string"),
    };
    Ok(Header {
        alg,
        kid: optional("kid")?,
        typ: optional("typ")?,
    })
}
