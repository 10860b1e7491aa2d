//! UTF-8 Encoded Strings of §1.5.4, zero-copy over `Bytes`.

use alloc::string::String;
use core::fmt;
use core::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

use crate::DecodeError;

/// Why a string is not a valid MQTT UTF-8 Encoded String.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StringError {
    /// Not well-formed UTF-8; this includes encoded surrogates U+D800..U+DFFF [MQTT-1.5.4-1].
    #[error("not well-formed UTF-8 [MQTT-1.5.4-1]")]
    InvalidUtf8,
    /// Contains the null character U+0000 [MQTT-1.5.4-2].
    #[error("contains U+0000 [MQTT-1.5.4-2]")]
    NullCharacter,
    /// Longer than 65,535 bytes.
    #[error("longer than 65,535 bytes")]
    TooLong,
}

impl From<StringError> for DecodeError {
    fn from(e: StringError) -> Self {
        match e {
            StringError::InvalidUtf8 => DecodeError::InvalidUtf8,
            StringError::NullCharacter => DecodeError::NullCharacter,
            // Unreachable from the wire (the length prefix is two bytes), kept total.
            StringError::TooLong => DecodeError::UnexpectedEnd,
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero (exact for the lowest one;
/// nonzero exactly when some byte is zero).
#[inline(always)]
const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

/// What makes a word of a string need a closer look: a non-ASCII byte, a
/// zero byte, and (topic names) `+` or `#`.
#[inline(always)]
const fn suspect(w: u64, wildcards: bool) -> u64 {
    let mut bad = (w & HI) | zero_bytes(w);
    if wildcards {
        bad |= zero_bytes(w ^ (LO * b'+' as u64)) | zero_bytes(w ^ (LO * b'#' as u64));
    }
    bad
}

/// True if `bytes` is all ASCII without U+0000 (and without `+` and `#`
/// when `wildcards` is set). False means "look closer", not "invalid".
/// Eight bytes at a time; a tail is covered by re-reading the last eight
/// bytes (overlapping), short strings byte by byte.
#[inline]
pub(crate) fn ascii_clean(bytes: &[u8], wildcards: bool) -> bool {
    let word = |i: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let n = bytes.len();
    if n < 8 {
        return bytes
            .iter()
            .all(|&b| b != 0 && b < 0x80 && !(wildcards && (b == b'+' || b == b'#')));
    }
    let mut bad = suspect(word(n - 8), wildcards);
    let mut i = 0;
    while i + 8 <= n {
        bad |= suspect(word(i), wildcards);
        i += 8;
    }
    bad == 0
}

/// The checks of an MQTT string that come before its UTF-8 check, shared by
/// the owned and the borrowed decoders: no U+0000 and, if asked (topic
/// names), no `+` or `#`; the first such byte decides the error.
#[inline]
pub(crate) fn check_forbidden(bytes: &[u8], forbids_wildcards: bool) -> Result<(), Invalid> {
    // Fast path: eight bytes at a time. All ASCII and none forbidden is
    // the common case; anything else is looked at byte by byte.
    if ascii_clean(bytes, forbids_wildcards) {
        return Ok(());
    }
    // A forbidden ASCII byte never occurs inside a multi-byte sequence.
    match bytes
        .iter()
        .find(|&&b| b == 0 || (forbids_wildcards && (b == b'+' || b == b'#')))
    {
        Some(0) => Err(Invalid::String(StringError::NullCharacter)),
        Some(_) => Err(Invalid::Forbidden),
        None => Ok(()),
    }
}

/// Why [`MqttString::validate`] refused a string.
pub(crate) enum Invalid {
    /// Not an MQTT string.
    String(StringError),
    /// A byte the caller forbids.
    Forbidden,
}

/// A UTF-8 Encoded String as MQTT defines it: well-formed UTF-8, no U+0000,
/// at most 65,535 bytes. Cloning is cheap (reference counted) and decoding
/// one borrows the packet's buffer instead of copying.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MqttString(ByteString);

impl MqttString {
    /// The empty string.
    pub const fn empty() -> Self {
        Self(ByteString::from_static(""))
    }

    /// Validates `bytes` as an MQTT string without copying them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, StringError> {
        Self::validate(bytes, false).map_err(|e| match e {
            Invalid::String(e) => e,
            Invalid::Forbidden => StringError::NullCharacter,
        })
    }

    /// Validates `bytes`, also refusing the wildcards `+` and `#` if asked
    /// (topic names), in one fast pass for the common all-ASCII case.
    #[inline]
    pub(crate) fn validate(bytes: Bytes, forbids_wildcards: bool) -> Result<Self, Invalid> {
        if bytes.len() > u16::MAX as usize {
            return Err(Invalid::String(StringError::TooLong));
        }
        check_forbidden(&bytes, forbids_wildcards)?;
        ByteString::try_from(bytes)
            .map(Self)
            .map_err(|_| Invalid::String(StringError::InvalidUtf8))
    }

    /// Wraps bytes already checked by [`ascii_clean`] (`None` if not UTF-8,
    /// which ASCII always is).
    #[inline]
    pub(crate) fn from_ascii(bytes: Bytes) -> Option<Self> {
        ByteString::try_from(bytes).ok().map(Self)
    }

    /// A copy of a string the borrowed decoder already validated.
    pub(crate) fn copy_of(s: &str) -> Self {
        Self(ByteString::from(s))
    }

    /// Validates a static string (no copy).
    pub fn from_static(s: &'static str) -> Result<Self, StringError> {
        Self::from_bytes(Bytes::from_static(s.as_bytes()))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The underlying shared buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl TryFrom<&str> for MqttString {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        Self::from_bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<String> for MqttString {
    type Error = StringError;
    fn try_from(s: String) -> Result<Self, StringError> {
        Self::from_bytes(Bytes::from(s))
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn mqtt_1_5_4_1_surrogates_are_ill_formed() {
        // U+D800 encoded as if it were a scalar value: ED A0 80.
        let b = Bytes::from_static(&[0xed, 0xa0, 0x80]);
        assert_eq!(MqttString::from_bytes(b), Err(StringError::InvalidUtf8));
    }

    #[test]
    fn mqtt_1_5_4_2_null_character_refused() {
        assert_eq!(
            MqttString::try_from("a\0b"),
            Err(StringError::NullCharacter)
        );
    }

    #[test]
    fn mqtt_1_5_4_3_bom_is_kept_not_stripped() {
        let s = MqttString::try_from("\u{feff}x").unwrap();
        assert_eq!(s.as_bytes(), &[0xef, 0xbb, 0xbf, b'x']);
    }

    #[test]
    fn ascii_clean_agrees_with_a_byte_by_byte_check_at_every_position() {
        let reference = |b: &[u8], w: bool| {
            b.iter()
                .all(|&c| c != 0 && c < 0x80 && !(w && (c == b'+' || c == b'#')))
        };
        for len in 0..40 {
            for pos in 0..len {
                for special in [0u8, b'+', b'#', 0x80, 0xff, b'/', b'a'] {
                    let mut v = vec![b'x'; len];
                    v[pos] = special;
                    for w in [false, true] {
                        assert_eq!(
                            ascii_clean(&v, w),
                            reference(&v, w),
                            "{len} {pos} {special}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn length_limit() {
        let long = "a".repeat(65_536);
        assert_eq!(MqttString::try_from(long), Err(StringError::TooLong));
        assert!(MqttString::try_from("a".repeat(65_535)).is_ok());
    }
}
