//! The MessagePack codecs (`msgpack` feature): `msgpack` and
//! `msgpack+json`. Old MessagePack (`use_bin_type = false`): see
//! [`MsgPackCodec`].

use std::io::Cursor;

use bytes::Bytes;
use serde::Deserialize;

use super::codec::{Codec, MSGPACK, MSGPACK_JSON};
use super::error::PayloadError;
use super::value::Value;

/// Deepest nesting of arrays and maps a MessagePack payload may have (as
/// serde_json's limit for JSON): deeper payloads are refused, not a stack
/// overflow.
const MAX_DEPTH: usize = 128;

/// MessagePack of a value; `bin_type`: bytes as `bin` (the 2013 spec),
/// else old MessagePack (see [`MsgPackCodec`]).
fn msgpack_encode(codec: &str, value: &Value, bin_type: bool) -> Result<Bytes, PayloadError> {
    if bin_type {
        return rmp_serde::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| PayloadError::msgpack(codec, e));
    }
    let mut out = Vec::new();
    let written = match value {
        Value::Bytes(b) => write_raw(&mut out, b),
        Value::Text(t) => write_raw(&mut out, t.as_bytes()),
        Value::Bool(b) => write_data(&mut out, &serde_json::Value::Bool(*b)),
        Value::Null => write_data(&mut out, &serde_json::Value::Null),
        Value::Data(d) => write_data(&mut out, d),
    };
    written
        .map(|()| out.into())
        .map_err(|e| PayloadError::msgpack(codec, e))
}

/// Bytes (or text) in the raw family: fixraw, raw16, raw32.
fn write_raw(out: &mut Vec<u8>, raw: &[u8]) -> Result<(), String> {
    let len = raw.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else {
        write_len(out, len, 0xda, 0xdb)?;
    }
    out.extend_from_slice(raw);
    Ok(())
}

/// A 16-bit (`marker16`) or 32-bit (`marker32`) length.
fn write_len(out: &mut Vec<u8>, len: usize, marker16: u8, marker32: u8) -> Result<(), String> {
    if let Ok(n) = u16::try_from(len) {
        out.push(marker16);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(len) {
        out.push(marker32);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        return Err(format!(
            "{len} items or bytes: MessagePack holds at most 4 GiB - 1"
        ));
    }
    Ok(())
}

/// Structured data in old MessagePack: strings in the raw family; nil,
/// booleans and numbers as in both specs (rmp-serde writes integers in
/// their shortest form and floats as float 64, as msgpack-python does).
fn write_data(out: &mut Vec<u8>, data: &serde_json::Value) -> Result<(), String> {
    match data {
        serde_json::Value::Null => out.push(0xc0),
        serde_json::Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        serde_json::Value::Number(n) => {
            rmp_serde::encode::write(out, n).map_err(|e| e.to_string())?
        }
        serde_json::Value::String(s) => write_raw(out, s.as_bytes())?,
        serde_json::Value::Array(items) => {
            match u8::try_from(items.len()) {
                Ok(n) if n < 16 => out.push(0x90 | n),
                _ => write_len(out, items.len(), 0xdc, 0xdd)?,
            }
            for item in items {
                write_data(out, item)?;
            }
        }
        serde_json::Value::Object(map) => {
            match u8::try_from(map.len()) {
                Ok(n) if n < 16 => out.push(0x80 | n),
                _ => write_len(out, map.len(), 0xde, 0xdf)?,
            }
            for (key, item) in map {
                write_raw(out, key.as_bytes())?;
                write_data(out, item)?;
            }
        }
    }
    Ok(())
}

/// The value of a MessagePack payload (all of it: trailing bytes are an
/// error, as in Python's `msgpack.unpackb`).
fn msgpack_decode(codec: &str, payload: &[u8]) -> Result<Value, PayloadError> {
    let mut de = rmp_serde::Deserializer::new(Cursor::new(payload));
    de.set_max_depth(MAX_DEPTH);
    let value = Value::deserialize(&mut de).map_err(|e| PayloadError::msgpack(codec, e))?;
    let used = de.position();
    if used != payload.len() as u64 {
        return Err(PayloadError::msgpack(
            codec,
            format!(
                "{} bytes after the value",
                payload.len() as u64 - used.min(payload.len() as u64)
            ),
        ));
    }
    Ok(value)
}

/// `msgpack`: any value as MessagePack.
///
/// # Old MessagePack (`use_bin_type = false`)
///
/// MessagePack before 2013 had one family for strings and bytes, `raw`:
/// fixraw (`0xa0`-`0xbf`, up to 31 bytes), raw16 (`0xda`) and raw32
/// (`0xdb`). The 2013 spec renamed it `str`, added str8 (`0xd9`) and the
/// `bin` family for bytes; an old decoder fails on `0xd9`. With
/// `use_bin_type = false` the codec writes what msgpack-python's
/// `packb(x, use_bin_type=False)` writes: bytes and text, at the top and
/// nested in arrays and maps (keys included), in the raw family only, never
/// str8 nor bin.
///
/// Decoding reads both specs, whatever `use_bin_type` says: `bin` is bytes;
/// a `str`/`raw` (fixraw, str8, raw16, raw32) that is valid UTF-8 is text,
/// as msgpack-python's `unpackb(raw=False)` (its default) gives it, and one
/// that is not UTF-8 is bytes, as `unpackb(raw=True)` would give it, where
/// `raw=False` would raise. Payloads of old peers thus decode without a
/// parameter: their text as text, their bytes as bytes (unless the bytes
/// happen to be valid UTF-8, which the old format cannot tell apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgPackCodec {
    bin_type: bool,
}

impl Default for MsgPackCodec {
    fn default() -> Self {
        Self { bin_type: true }
    }
}

impl MsgPackCodec {
    /// The codec's name.
    pub const NAME: &'static str = MSGPACK;

    /// Bytes as `bin` (`use_bin_type = true`, the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// `use_bin_type = false`: bytes and text are written in the raw
    /// family of MessagePack from before 2013 (fixraw, raw16, raw32; never
    /// str8 nor bin), for peers on it, byte for byte as msgpack-python's
    /// `packb(x, use_bin_type=False)`. Decoding reads both specs (see
    /// [`MsgPackCodec`]).
    pub fn with_bin_type(bin_type: bool) -> Self {
        Self { bin_type }
    }
}

impl Codec for MsgPackCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        msgpack_encode(Self::NAME, value, self.bin_type)
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        msgpack_decode(Self::NAME, payload)
    }
}

/// `msgpack+json`: JSON text on the application side, MessagePack on the
/// wire (distmqtt's `MsgPackJSONCodec`). Encodes text (parsed as JSON) or
/// structured data, booleans and null; decodes to compact JSON text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgPackJsonCodec;

impl MsgPackJsonCodec {
    /// The codec's name.
    pub const NAME: &'static str = MSGPACK_JSON;
}

impl Codec for MsgPackJsonCodec {
    fn encode(&self, value: &Value) -> Result<Bytes, PayloadError> {
        match value {
            Value::Text(json) => {
                let data: serde_json::Value =
                    serde_json::from_str(json).map_err(|e| PayloadError::json(Self::NAME, e))?;
                self.encode_data(data)
            }
            Value::Bytes(_) => Err(PayloadError::unsupported(
                Self::NAME,
                value,
                "JSON text or structured data",
            )),
            other => msgpack_encode(Self::NAME, other, true),
        }
    }

    fn decode(&self, payload: &Bytes) -> Result<Value, PayloadError> {
        let data = self.decode_data(payload)?;
        Ok(Value::Text(data.to_string()))
    }

    fn encode_data(&self, data: serde_json::Value) -> Result<Bytes, PayloadError> {
        rmp_serde::to_vec(&data)
            .map(Bytes::from)
            .map_err(|e| PayloadError::msgpack(Self::NAME, e))
    }

    fn decode_data(&self, payload: &Bytes) -> Result<serde_json::Value, PayloadError> {
        msgpack_decode(Self::NAME, payload).map(Value::into_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_str_family_bytes_for_every_length() {
        let codec = MsgPackCodec::with_bin_type(false);
        for (len, header) in [
            (0, &[0xa0][..]),
            (31, &[0xbf][..]),
            // Old MessagePack has no str8 (0xd9): raw16 from 32 bytes on.
            (32, &[0xda, 0, 32][..]),
            (255, &[0xda, 0, 255][..]),
            (256, &[0xda, 1, 0][..]),
            (70_000, &[0xdb, 0, 1, 0x11, 0x70][..]),
        ] {
            let data = vec![b'a'; len];
            let out = codec.encode(&Value::from(data.clone())).unwrap();
            assert_eq!(&out[..header.len()], header, "{len}");
            assert_eq!(&out[header.len()..], &data[..]);
            // Valid UTF-8 in the str family reads back as text.
            assert_eq!(
                codec.decode(&out).unwrap(),
                Value::Text(String::from_utf8(data).unwrap())
            );
        }
        // Invalid UTF-8 in the str family reads back as bytes.
        let out = codec.encode(&Value::from(vec![0xff, 0xfe])).unwrap();
        assert_eq!(&out[..], &[0xa2, 0xff, 0xfe]);
        assert_eq!(codec.decode(&out).unwrap(), Value::from(vec![0xff, 0xfe]));
    }

    #[test]
    fn msgpack_depth_is_bounded() {
        // 10,000 nested one-element arrays: refused, no stack overflow.
        let mut payload = vec![0x91; 10_000];
        payload.push(0xc0);
        let e = MsgPackCodec::new().decode(&payload.into()).unwrap_err();
        assert!(matches!(e, PayloadError::MsgPack { .. }), "{e}");
    }
}
