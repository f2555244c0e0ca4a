//! Sealed values: a serde value encrypted and authenticated into one URL-safe
//! string that fits a browser cookie (RFC 6265 §6.1: at least 4096 bytes per
//! cookie), bound to a purpose and an expiry.
//!
//! The module is private: its guide (which token belongs where, the
//! `Set-Cookie` attributes, what to do when a value is too large, the format
//! and its errors) is on [`Sealer`], where the public documentation shows it.

use core::fmt;
use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::CryptoRng;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::{digest, hmac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, SealError};
use crate::time::UnixTime;

/// The longest sealed value, in bytes: what browsers keep of a cookie
/// (RFC 6265 §6.1).
pub const MAX_SEALED_LEN: usize = 4096;

/// The version prefix, and the first bytes of the associated data.
const PREFIX: &str = "gf1.";
const KEY_ID_LEN: usize = 4;
const PURPOSE_TAG_LEN: usize = 4;
const EXPIRY_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Key id, purpose tag, expiry and nonce.
const HEADER_LEN: usize = KEY_ID_LEN + PURPOSE_TAG_LEN + EXPIRY_LEN + NONCE_LEN;
/// The longest JSON that still seals within [`MAX_SEALED_LEN`].
const MAX_PLAINTEXT: usize = (MAX_SEALED_LEN - PREFIX.len()) / 4 * 3 - HEADER_LEN - TAG_LEN;

const KEY_ID_LABEL: &[u8] = b"grantflow seal v1 key id";
const ENCRYPTION_LABEL: &[u8] = b"grantflow seal v1 encryption key";
const PURPOSE_LABEL: &[u8] = b"grantflow seal v1 purpose ";

/// The length of the sealed string for a plaintext of `plaintext_len` bytes.
const fn sealed_len(plaintext_len: usize) -> usize {
    let binary = HEADER_LEN
        .saturating_add(plaintext_len)
        .saturating_add(TAG_LEN);
    // base64 without padding: four characters per three bytes, rounded up.
    PREFIX
        .len()
        .saturating_add(binary / 3 * 4)
        .saturating_add(match binary % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        })
}

fn malformed(reason: &'static str) -> Error {
    Error::Seal(SealError::Malformed { reason })
}

/// A 256-bit key for [`Sealer`]. `Debug` shows only its key id; the derived
/// key is zeroized on drop.
///
/// Load it from your secret store with [`SealKey::from_bytes`] (generate the
/// 32 bytes once, for example with `openssl rand -base64 32`), so that
/// sealed values survive a restart and every instance of the application
/// opens them. `ring` keeps an internal copy while a value is sealed or
/// opened that it does not zeroize.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SealKey {
    encryption: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl SealKey {
    /// The key made of these 32 bytes. The bytes are used only through
    /// HMAC-SHA-256 with fixed labels (one for the encryption key, one for
    /// the key id); zeroize your own copy after this call.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        bytes.zeroize();
        let mut encryption = [0u8; 32];
        let derived = hmac::sign(&root, ENCRYPTION_LABEL);
        for (to, from) in encryption.iter_mut().zip(derived.as_ref()) {
            *to = *from;
        }
        let mut id = [0u8; KEY_ID_LEN];
        for (to, from) in id.iter_mut().zip(hmac::sign(&root, KEY_ID_LABEL).as_ref()) {
            *to = *from;
        }
        SealKey { encryption, id }
    }

    /// A fresh key of 32 bytes from `rng`. Values sealed with it can be
    /// opened only by this process, while it keeps the key: use it for
    /// tests, or when sealed values may die with the process.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let key = SealKey::from_bytes(bytes);
        bytes.zeroize();
        key
    }

    /// The key id written into every value sealed with this key, in
    /// lower-case hex (it reveals nothing about the key).
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    fn cipher(&self) -> LessSafeKey {
        // ChaCha20-Poly1305 takes exactly 32 bytes, the length of
        // `encryption`: `UnboundKey::new` fails only on another length.
        #[allow(clippy::expect_used)]
        let key = UnboundKey::new(&CHACHA20_POLY1305, &self.encryption)
            .expect("a 32-byte key fits ChaCha20-Poly1305");
        LessSafeKey::new(key)
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Seals values into URL-safe strings and opens them, for one purpose, with
/// one current key (and, while keys rotate, previous keys that only open):
/// encrypted, authenticated cookies (RFC 8439 AEAD, RFC 6265 §6.1 size).
///
/// A sealer holds a [`SealKey`], a purpose string (say `"session"`) and a
/// lifetime. [`Sealer::seal`] serializes any [`Serialize`] value to JSON and
/// encrypts it with ChaCha20-Poly1305 (RFC 8439) under a 96-bit nonce drawn
/// from the caller's generator; [`Sealer::open`] authenticates, checks the
/// purpose and the expiry, and deserializes. Like the rest of the core it
/// reads no clock and draws no OS entropy: `now` and the generator are passed
/// in.
///
/// ```
/// use grantflow::{SealKey, Sealer, UnixTime};
/// # use grantflow::testing::CountingRng as OsRng;
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Login {
///     user: String,
///     refresh_token: String,
/// }
///
/// # fn main() -> Result<(), grantflow::Error> {
/// # let mut rng = OsRng::new(0);
/// // Load the key from your secret store; generate one per process only if
/// // sealed cookies may die with the process.
/// let key = SealKey::generate(&mut rng);
/// let sealer = Sealer::new(key, "login", 14 * 24 * 3600);
///
/// let login = Login { user: "alice".into(), refresh_token: "8xLOxBtZp8".into() };
/// let now = UnixTime::from_secs(1_700_000_000);
/// let cookie = sealer.seal(&login, &mut rng, now)?;
/// assert!(cookie.starts_with("gf1."));
/// assert!(!cookie.contains("8xLOxBtZp8"));
///
/// // Later, in another request:
/// let opened: Login = sealer.open(&cookie, now.saturating_add_secs(60))?;
/// assert_eq!(opened, login);
///
/// // After the lifetime, the value is refused.
/// let late = now.saturating_add_secs(14 * 24 * 3600);
/// assert!(matches!(
///     sealer.open::<Login>(&cookie, late),
///     Err(grantflow::Error::Seal(grantflow::SealError::Expired { .. }))
/// ));
/// # Ok(())
/// # }
/// ```
///
/// # Which token belongs where, and why
///
/// - **Access tokens** are bearer credentials (RFC 6750 §5.3): whoever holds
///   one uses it. Never put one in a URL (it lands in logs, history and
///   `Referer` headers; RFC 6750 §5.3, RFC 9700 §4.3.2) or in storage a script
///   can read (`localStorage`, `sessionStorage`, a cookie without
///   `HttpOnly`): one XSS bug then leaks every user's token. Keep them in
///   server memory or in the server-side session, and send them only in the
///   `Authorization` header.
/// - **Refresh tokens** live longer and mint new access tokens (RFC 6749
///   §10.4, RFC 9700 §4.14): keep them server-side (a database row keyed by
///   the session), or sealed with this module in an `HttpOnly`, `Secure`,
///   `SameSite` cookie that only your server can read or forge.
/// - **Public native apps** (desktop, mobile, CLI) have no server: keep the
///   refresh token in the operating system's keychain (Keychain on Apple
///   platforms, the Credential Manager on Windows, the Secret Service on
///   Linux, the Android Keystore), never in a plain file.
///
/// # The cookie
///
/// Send a sealed value with all of these attributes:
///
/// ```text
/// Set-Cookie: __Host-session=gf1.…; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=1209600
/// ```
///
/// `HttpOnly` keeps it from scripts; `Secure` from plain HTTP; `SameSite=Lax`
/// from cross-site subrequests and POSTs (CSRF); the `__Host-` prefix makes
/// the browser refuse it unless it is `Secure`, has `Path=/` and no `Domain`,
/// so a sibling subdomain cannot plant or overwrite it. Give `Max-Age` the
/// sealer's lifetime: the browser then drops the cookie about when
/// [`Sealer::open`] would refuse it. Use one purpose per cookie name, so a
/// value made for one cookie is refused ([`SealError::WrongPurpose`]) when
/// presented as another.
///
/// # When a value is too large
///
/// A sealed value is at most [`MAX_SEALED_LEN`] (4096) bytes; longer values
/// give [`SealError::TooLarge`] before anything is encrypted. Browsers count
/// the cookie's name (and, for some, its attributes) in their 4096-byte
/// limit, so keep some headroom. When a session does not fit (typically an
/// ID token with many claims), store it server-side, under a random id of
/// 128 bits or more, and seal only that id. Do not split it over several
/// cookies.
///
/// # Format and what each error means
///
/// ```text
/// gf1.BASE64URL( key id (4) | purpose tag (4) | expires_at (8) | nonce (12) | ciphertext | tag (16) )
/// ```
///
/// base64url without padding (RFC 4648 §5), all integers big-endian:
///
/// - the key id is the first 4 bytes of HMAC-SHA-256(key, `"grantflow seal
///   v1 key id"`), so a key rotation can tell keys apart without revealing
///   them; the encryption key is HMAC-SHA-256(key, `"grantflow seal v1
///   encryption key"`), so the id says nothing about it;
/// - the purpose tag is the first 4 bytes of SHA-256(`"grantflow seal v1
///   purpose "` ‖ purpose);
/// - `expires_at` is in seconds since the epoch, in clear;
/// - the associated data of the AEAD is `"gf1."` ‖ the first 28 bytes (key
///   id to nonce) ‖ the full purpose; the plaintext is the value's JSON.
///
/// [`Sealer::open`] checks, in order: the length and the version prefix
/// ([`SealError::Malformed`]), the base64url ([`SealError::Malformed`]), the
/// key id ([`SealError::WrongKey`]), the purpose tag
/// ([`SealError::WrongPurpose`]), the AEAD tag ([`SealError::Tampered`]),
/// the expiry ([`SealError::Expired`]: `now` at or after `expires_at`), and
/// finally the JSON ([`SealError::Malformed`] when it does not fit the type
/// asked for, say after a change of the stored type).
///
/// **Why the clear header is safe to read.** The key id and purpose tag are
/// compared before decryption, so that an operator learns why a value was
/// refused (a retired key, a cookie sent under another name), but they are
/// only hints: the whole header and the full purpose are associated data, so
/// a value whose header was altered fails authentication. An attacker who
/// edits a header can choose between `WrongKey`, `WrongPurpose` and
/// `Tampered`, and learns nothing by it: the key id and the purpose tag are
/// already in every genuine value, and every outcome is a refusal. The
/// expiry is read only after the tag has verified, so an edited expiry is
/// `Tampered`, never accepted and never reported as `Expired`.
///
/// **Nonces.** Nonces are 96 random bits from the caller's generator: keep
/// well below 2^32 values sealed under one key (rotate keys, see
/// [`Sealer::with_previous_key`]). ChaCha20-Poly1305 is chosen over AES-GCM
/// because a repeated nonce exposes only the values under that nonce, not
/// the authentication key of every value, and because it is constant-time
/// without AES instructions.
#[derive(Clone)]
pub struct Sealer {
    /// Seals and opens.
    current: SealKey,
    /// Only open (keys being retired).
    previous: Vec<SealKey>,
    purpose: String,
    purpose_tag: [u8; PURPOSE_TAG_LEN],
    lifetime: u64,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("purpose", &self.purpose)
            .field("lifetime", &self.lifetime)
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish()
    }
}

impl Sealer {
    /// A sealer for `purpose` (one per cookie, e.g. `"session"`) whose values
    /// expire `lifetime_secs` seconds after they are sealed.
    pub fn new(key: SealKey, purpose: impl Into<String>, lifetime_secs: u64) -> Self {
        let purpose = purpose.into();
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(PURPOSE_LABEL);
        context.update(purpose.as_bytes());
        let mut purpose_tag = [0u8; PURPOSE_TAG_LEN];
        for (to, from) in purpose_tag.iter_mut().zip(context.finish().as_ref()) {
            *to = *from;
        }
        Sealer {
            current: key,
            previous: Vec::new(),
            purpose,
            purpose_tag,
            lifetime: lifetime_secs,
        }
    }

    /// Also opens values sealed with `key`, a key being retired. To rotate:
    /// make the new key current and pass the old one here for at least one
    /// lifetime; then drop it. Keys are tried by their id, in the order
    /// given after the current one.
    #[must_use]
    pub fn with_previous_key(mut self, key: SealKey) -> Self {
        self.previous.push(key);
        self
    }

    /// The purpose values are bound to.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// How long a value sealed by [`Sealer::seal`] stays valid, in seconds.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// Seals `value` with the current key, to expire one lifetime after
    /// `now`. The nonce is drawn from `rng`.
    ///
    /// # Errors
    ///
    /// [`SealError::Unserializable`] when serde cannot write `value` as
    /// JSON, [`SealError::TooLarge`] when the sealed string would exceed
    /// [`MAX_SEALED_LEN`], [`SealError::Expired`] when the lifetime is zero.
    pub fn seal<T: Serialize + ?Sized>(
        &self,
        value: &T,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<String, Error> {
        self.seal_until(value, now.saturating_add_secs(self.lifetime), rng, now)
    }

    /// Seals `value` with the current key, to expire at `expires_at` (for
    /// example when the session it holds ends); the sealer's lifetime is
    /// not used.
    ///
    /// # Errors
    ///
    /// As for [`Sealer::seal`]; [`SealError::Expired`] when `expires_at` is
    /// not after `now`: such a value could never be opened.
    pub fn seal_until<T: Serialize + ?Sized>(
        &self,
        value: &T,
        expires_at: UnixTime,
        rng: &mut impl CryptoRng,
        now: UnixTime,
    ) -> Result<String, Error> {
        if now >= expires_at {
            return Err(Error::Seal(SealError::Expired {
                expired_at: expires_at,
                now,
            }));
        }
        let mut plaintext = SecretWriter::default();
        serde_json::to_writer(&mut plaintext, value)
            .map_err(|_| Error::Seal(SealError::Unserializable))?;
        let len = sealed_len(plaintext.written);
        if len > MAX_SEALED_LEN {
            return Err(Error::Seal(SealError::TooLarge {
                len,
                max: MAX_SEALED_LEN,
            }));
        }
        let key = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.written + TAG_LEN);
        sealed.extend_from_slice(&key.id);
        sealed.extend_from_slice(&self.purpose_tag);
        sealed.extend_from_slice(&expires_at.as_secs().to_be_bytes());
        sealed.extend_from_slice(&nonce);
        let aad = self.associated_data(&sealed);
        // Encrypted in place: the buffer holding the JSON now holds the
        // ciphertext (and is zeroized on drop all the same).
        let tag = key
            .cipher()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut plaintext.buffer,
            )
            // ring refuses only plaintexts of hundreds of gigabytes; this one
            // is at most `MAX_PLAINTEXT` bytes.
            .map_err(|_| {
                Error::Seal(SealError::TooLarge {
                    len,
                    max: MAX_SEALED_LEN,
                })
            })?;
        sealed.extend_from_slice(&plaintext.buffer);
        sealed.extend_from_slice(tag.as_ref());
        let mut out = String::with_capacity(len);
        out.push_str(PREFIX);
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut out);
        Ok(out)
    }

    /// Opens a value sealed by this sealer (with its current or a previous
    /// key) for its purpose, and deserializes it.
    ///
    /// # Errors
    ///
    /// Each refusal is an [`Error::Seal`], checked in this order:
    /// [`SealError::Malformed`] (too long, no or an unknown version prefix,
    /// not base64url, too short), [`SealError::WrongKey`] (no key of this
    /// sealer has the value's key id), [`SealError::WrongPurpose`],
    /// [`SealError::Tampered`] (authentication failed), [`SealError::Expired`]
    /// (`now` is at or after the sealed expiry), and
    /// [`SealError::Malformed`] when the authentic JSON does not deserialize
    /// as `T`.
    pub fn open<T: DeserializeOwned>(&self, sealed: &str, now: UnixTime) -> Result<T, Error> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(malformed("longer than any sealed value"));
        }
        let Some((version, encoded)) = sealed.split_once('.') else {
            return Err(malformed("no version prefix"));
        };
        if PREFIX.strip_suffix('.') != Some(version) {
            return Err(malformed("unknown version"));
        }
        let mut binary = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| malformed("not base64url"))?,
        );
        let Some((header, body)) = binary.split_at_mut_checked(HEADER_LEN) else {
            return Err(malformed("too short"));
        };
        if body.len() < TAG_LEN {
            return Err(malformed("too short"));
        }
        let header: &[u8] = header;
        let parts = header
            .split_first_chunk::<KEY_ID_LEN>()
            .and_then(|(id, rest)| {
                let (purpose_tag, rest) = rest.split_first_chunk::<PURPOSE_TAG_LEN>()?;
                let (expiry, rest) = rest.split_first_chunk::<EXPIRY_LEN>()?;
                let nonce = rest.first_chunk::<NONCE_LEN>()?;
                Some((id, purpose_tag, expiry, nonce))
            });
        let Some((id, purpose_tag, expiry, nonce)) = parts else {
            return Err(malformed("too short"));
        };
        let mut keys = core::iter::once(&self.current).chain(&self.previous);
        let Some(key) = keys.find(|key| &key.id == id) else {
            return Err(Error::Seal(SealError::WrongKey));
        };
        if purpose_tag != &self.purpose_tag {
            return Err(Error::Seal(SealError::WrongPurpose));
        }
        let expires_at = UnixTime::from_secs(u64::from_be_bytes(*expiry));
        let aad = self.associated_data(header);
        let plaintext = key
            .cipher()
            .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(aad), body)
            .map_err(|_| Error::Seal(SealError::Tampered))?;
        // Authentic from here on: the expiry was part of the associated data.
        if now >= expires_at {
            return Err(Error::Seal(SealError::Expired {
                expired_at: expires_at,
                now,
            }));
        }
        serde_json::from_slice(plaintext)
            .map_err(|_| malformed("the sealed JSON does not fit the type asked for"))
    }

    /// `"gf1."` ‖ header ‖ purpose.
    fn associated_data(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(PREFIX.len() + header.len() + self.purpose.len());
        aad.extend_from_slice(PREFIX.as_bytes());
        aad.extend_from_slice(header);
        aad.extend_from_slice(self.purpose.as_bytes());
        aad
    }
}

/// Where the JSON of a value is written: it keeps at most [`MAX_PLAINTEXT`]
/// bytes and only counts the rest (so a huge value costs no memory before
/// it is refused), never leaves a copy behind when it grows, and is
/// zeroized on drop.
#[derive(Default)]
struct SecretWriter {
    buffer: Vec<u8>,
    written: usize,
}

impl io::Write for SecretWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written = self.written.saturating_add(data.len());
        if self.written > MAX_PLAINTEXT {
            return Ok(data.len());
        }
        let needed = self.buffer.len() + data.len();
        if needed > self.buffer.capacity() {
            // Grow by hand so the old allocation is zeroized, not freed with
            // the plaintext in it.
            let capacity = needed
                .max(self.buffer.capacity() * 2)
                .clamp(64, MAX_PLAINTEXT);
            let mut bigger = Vec::with_capacity(capacity);
            bigger.extend_from_slice(&self.buffer);
            self.buffer.zeroize();
            self.buffer = bigger;
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SecretWriter {
    fn drop(&mut self) {
        self.buffer.zeroize();
    }
}
