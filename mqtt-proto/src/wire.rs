//! Wire primitives of §1.5: integers, Variable Byte Integers, Binary Data and
//! UTF-8 Encoded Strings, read with `nom` from a complete packet body and
//! written into a `BytesMut`.
//!
//! Reading happens only once the whole packet is buffered, so running out of
//! bytes inside a body is a malformed packet ([`DecodeError::UnexpectedEnd`]),
//! never "need more data".

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u16, be_u32};

use crate::{DecodeError, EncodeError, MqttString};

/// The largest value of a Variable Byte Integer (and of a remaining length).
pub const MAX_VAR_INT: u32 = 268_435_455;

/// Largest Binary Data or UTF-8 string length (two-byte length prefix).
pub(crate) const MAX_BINARY: usize = u16::MAX as usize;

type NomError<'a> = nom::error::Error<&'a [u8]>;

/// A cursor over a complete packet body. It owns the body, so that
/// strings are cheap `Bytes` slices of it and the payload is the body itself.
pub(crate) struct Reader {
    buf: Bytes,
    pos: usize,
    end: usize,
}

impl Reader {
    #[inline]
    pub(crate) fn new(buf: Bytes) -> Self {
        let end = buf.len();
        Self { buf, pos: 0, end }
    }

    #[inline]
    fn input(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    #[inline]
    fn run<O>(
        &mut self,
        parser: impl for<'a> FnOnce(&'a [u8]) -> nom::IResult<&'a [u8], O, NomError<'a>>,
    ) -> Result<O, DecodeError> {
        let input = self.input();
        match parser(input) {
            Ok((rest, out)) => {
                self.pos = self.end - rest.len();
                Ok(out)
            }
            Err(_) => Err(DecodeError::UnexpectedEnd),
        }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        self.run(|i| be_u8(i))
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.run(|i| be_u16(i))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.run(|i| be_u32(i))
    }

    /// A Variable Byte Integer [MQTT-1.5.5].
    pub(crate) fn var_int(&mut self) -> Result<u32, DecodeError> {
        match parse_var_int(self.input())? {
            Some((value, used)) => {
                self.pos += used;
                Ok(value)
            }
            None => Err(DecodeError::UnexpectedEnd),
        }
    }

    /// Binary Data: a two-byte length then that many bytes, as a slice of the body.
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = usize::from(self.u16()?);
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let start = self.pos;
        self.pos += len;
        Ok(self.buf.slice(start..self.pos))
    }

    /// A UTF-8 Encoded String, validated, as a slice of the body.
    pub(crate) fn string(&mut self) -> Result<MqttString, DecodeError> {
        MqttString::from_bytes(self.binary()?).map_err(DecodeError::from)
    }

    /// Everything left (a payload): the body itself, advanced, without a new reference.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        let mut b = core::mem::take(&mut self.buf);
        b.truncate(self.end);
        b.advance(self.pos);
        self.pos = 0;
        self.end = 0;
        b
    }

    /// Restricts reading to the next `len` bytes (a property list); returns
    /// the token to give back to [`Reader::unlimit`].
    pub(crate) fn limit(&mut self, len: usize) -> Result<usize, DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::UnexpectedEnd);
        }
        let old = self.end;
        self.end = self.pos + len;
        Ok(old)
    }

    /// Ends a [`Reader::limit`]ed section; it must have been read entirely.
    pub(crate) fn unlimit(&mut self, old_end: usize) {
        debug_assert!(self.is_empty());
        self.end = old_end;
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless everything was read.
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Parses a Variable Byte Integer at the start of `input`.
///
/// Returns `Ok(None)` when `input` ends before the integer does, and the value
/// with the number of bytes used otherwise. More than four bytes, or a
/// non-minimal encoding [MQTT-1.5.5-1], are errors.
#[inline]
pub fn parse_var_int(input: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i == 4 {
            return Err(DecodeError::VarIntTooLong);
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A zero final byte after the first means a longer-than-needed encoding.
            if i > 0 && byte == 0 {
                return Err(DecodeError::NonMinimalVarInt);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if input.len() >= 4 {
        return Err(DecodeError::VarIntTooLong);
    }
    Ok(None)
}

/// Bytes a Variable Byte Integer of `value` takes.
#[inline]
pub const fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a Variable Byte Integer. `value` must be at most [`MAX_VAR_INT`]
/// (callers check lengths before writing).
#[inline]
pub(crate) fn put_var_int(buf: &mut BytesMut, mut value: u32) {
    debug_assert!(value <= MAX_VAR_INT);
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Writes Binary Data (length checked by the caller via [`binary_len`]).
pub(crate) fn put_binary(buf: &mut BytesMut, data: &[u8]) {
    buf.put_u16(data.len() as u16);
    buf.put_slice(data);
}

/// Writes a UTF-8 Encoded String (its length is bounded by construction).
pub(crate) fn put_string(buf: &mut BytesMut, s: &MqttString) {
    put_binary(buf, s.as_bytes());
}

/// Encoded length of Binary Data, refusing data longer than 65,535 bytes.
pub(crate) fn binary_len(data: &[u8]) -> Result<usize, EncodeError> {
    if data.len() > MAX_BINARY {
        return Err(EncodeError::BinaryTooLong(data.len()));
    }
    Ok(2 + data.len())
}

/// Encoded length of a UTF-8 Encoded String.
#[inline]
pub(crate) fn string_len(s: &MqttString) -> usize {
    2 + s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_int_boundaries_of_table_1_1() {
        // MQTT 5.0 §1.5.5, Table 1-1: the boundaries of each length.
        let cases: [(u32, &[u8]); 8] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for (value, bytes) in cases {
            assert_eq!(parse_var_int(bytes), Ok(Some((value, bytes.len()))));
            assert_eq!(var_int_len(value), bytes.len());
            let mut buf = BytesMut::new();
            put_var_int(&mut buf, value);
            assert_eq!(&buf[..], bytes);
        }
    }

    #[test]
    fn var_int_of_five_bytes_is_malformed() {
        assert_eq!(
            parse_var_int(&[0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(DecodeError::VarIntTooLong)
        );
        assert_eq!(
            parse_var_int(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::VarIntTooLong)
        );
    }

    #[test]
    fn var_int_incomplete_needs_more() {
        assert_eq!(parse_var_int(&[]), Ok(None));
        assert_eq!(parse_var_int(&[0x80, 0x80]), Ok(None));
    }

    #[test]
    fn mqtt_1_5_5_1_var_int_must_be_minimal() {
        assert_eq!(
            parse_var_int(&[0x80, 0x00]),
            Err(DecodeError::NonMinimalVarInt)
        );
        assert_eq!(
            parse_var_int(&[0xff, 0x80, 0x00]),
            Err(DecodeError::NonMinimalVarInt)
        );
    }
}
