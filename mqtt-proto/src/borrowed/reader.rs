//! A cursor over a borrowed packet body: the wire primitives of §1.5 read
//! from a `&[u8]`, with the errors of the owned decoder's reader.

use crate::string::{Invalid, check_forbidden};
use crate::wire::parse_var_int;
use crate::{DecodeError, TopicError};

/// The unread part of a complete packet body (or of one section of it, such
/// as a property list). Running out of bytes is a malformed packet
/// ([`DecodeError::UnexpectedEnd`]): the whole body is there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Self { rest: body }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(DecodeError::UnexpectedEnd),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&b, tail) = self.rest.split_first().ok_or(DecodeError::UnexpectedEnd)?;
        self.rest = tail;
        Ok(b)
    }

    /// The next `N` bytes.
    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(DecodeError::UnexpectedEnd)?;
        self.rest = tail;
        Ok(*head)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A Variable Byte Integer [MQTT-1.5.5].
    #[inline]
    pub(crate) fn var_int(&mut self) -> Result<u32, DecodeError> {
        let (value, used) = parse_var_int(self.rest)?.ok_or(DecodeError::UnexpectedEnd)?;
        self.rest = &self.rest[used..];
        Ok(value)
    }

    /// Binary Data: a two-byte length, then that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A UTF-8 Encoded String [MQTT-1.5.4-1, MQTT-1.5.4-2].
    #[inline]
    pub(crate) fn string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        checked_str(bytes, false).map_err(|e| match e {
            Invalid::String(e) => DecodeError::from(e),
            // As `MqttString::from_bytes` maps it (never produced here).
            Invalid::Forbidden => DecodeError::NullCharacter,
        })
    }

    /// The topic name of a PUBLISH, checked in one pass as the owned decoder
    /// does; it may be empty (the caller checks for a topic alias).
    #[inline]
    pub(crate) fn publish_topic(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        checked_str(bytes, true).map_err(|e| match e {
            Invalid::String(e) => DecodeError::from(e),
            Invalid::Forbidden => DecodeError::InvalidTopicName(TopicError::WildcardInName),
        })
    }

    /// A property list: its length, then a cursor over that many bytes.
    #[inline]
    pub(crate) fn section(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.var_int()?;
        self.take(len as usize)
    }

    /// Everything left (a payload).
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// The next item of a section checked when its packet was decoded, read
    /// again by `read`, which therefore cannot fail (if it did, the section
    /// would end there); `None` at the end.
    #[inline]
    pub(crate) fn next_checked<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Option<T> {
        if self.rest.is_empty() {
            return None;
        }
        let item = read(self);
        debug_assert!(
            item.is_ok(),
            "a checked section read again: {:?}",
            item.as_ref().err()
        );
        if item.is_err() {
            self.rest = &[];
        }
        item.ok()
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was read.
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// The checks of the owned `MqttString::validate` on a slice: forbidden
/// bytes first (the shared [`check_forbidden`]), then UTF-8.
#[inline]
fn checked_str(bytes: &[u8], forbids_wildcards: bool) -> Result<&str, Invalid> {
    check_forbidden(bytes, forbids_wildcards)?;
    core::str::from_utf8(bytes).map_err(|_| Invalid::String(crate::StringError::InvalidUtf8))
}
