//! The streaming decoder: bytes in as they arrive, packets out as soon as
//! they are complete.

use bytes::{Buf, BytesMut};

use crate::wire::{MAX_VAR_INT, parse_var_int};
use crate::{
    DecodeError, Packet, PacketId, PacketType, Properties, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, QoS, TopicName,
};

/// The largest packet MQTT can express: fixed header of 5 bytes plus the
/// largest remaining length.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VAR_INT;

/// Decodes the next packet at the front of `buf`, removing its bytes.
///
/// Returns `Ok(None)` while the packet is incomplete. The fixed header is
/// checked as soon as its bytes are present: a reserved type, wrong flags or
/// a packet larger than `max_packet_size` (whole packet, fixed header
/// included) are errors at once, before any of the body is awaited or
/// buffered. PUBLISH payloads and strings are slices of `buf`'s storage.
pub fn decode_packet(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<Packet>, DecodeError> {
    if let Some(done) = short_packet(buf, max_packet_size) {
        return Ok(Some(done));
    }
    if let Some(done) = usual_publish(buf, version, max_packet_size) {
        return done;
    }
    let Some(header) = peek_header(buf, version, max_packet_size)? else {
        return Ok(None);
    };
    if buf.len() < header.total {
        return Ok(None);
    }
    let mut frame = buf.split_to(header.total).freeze();
    frame.advance(header.header_len);
    Packet::decode_body(header.kind, header.flags, frame, version).map(Some)
}

/// The other hot path: the four-byte acknowledgements (success, no
/// properties) and the two-byte pings, read in place without taking a
/// buffer reference; the same bytes mean the same packet in every version.
/// `None` sends anything else down the general path.
#[inline]
fn short_packet(buf: &mut BytesMut, max_packet_size: u32) -> Option<Packet> {
    let packet = match *buf.get(..2)? {
        [0xc0, 0] if max_packet_size >= 2 => Packet::PingReq,
        [0xd0, 0] if max_packet_size >= 2 => Packet::PingResp,
        [first @ (0x40 | 0x50 | 0x62 | 0x70), 2] if max_packet_size >= 4 => {
            let id = PacketId::new(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]))?;
            match first {
                0x40 => Packet::PubAck(PubAck::new(id)),
                0x50 => Packet::PubRec(PubRec::new(id)),
                0x62 => Packet::PubRel(PubRel::new(id)),
                _ => Packet::PubComp(PubComp::new(id)),
            }
        }
        _ => return None,
    };
    buf.advance(if buf[0] >= 0xc0 { 2 } else { 4 });
    Some(packet)
}

/// The hot path: a well-formed PUBLISH without properties and with an
/// all-ASCII topic, read straight from the buffer. Anything unusual (and
/// every error) returns `None` and takes the general path, so the result is
/// always the one the general path gives.
#[inline]
fn usual_publish(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Option<Result<Option<Packet>, DecodeError>> {
    use nom::number::complete::be_u16;
    type E<'a> = nom::error::Error<&'a [u8]>;

    let &first = buf.first()?;
    let qos = match (first >> 4, (first >> 1) & 0x03) {
        (3, 0) if first & 0x08 == 0 => QoS::AtMostOnce,
        (3, 1) => QoS::AtLeastOnce,
        (3, 2) => QoS::ExactlyOnce,
        _ => return None,
    };
    let (remaining, used) = parse_var_int(&buf[1..]).ok()??;
    let total = 1 + used + remaining as usize;
    if total as u64 > u64::from(max_packet_size) {
        return None;
    }
    if buf.len() < total {
        return Some(Ok(None));
    }
    let head = 1 + used;
    let (rest, topic_len) = be_u16::<_, E<'_>>(&buf[head..total]).ok()?;
    let topic_len = usize::from(topic_len);
    if topic_len == 0
        || rest.len() < topic_len
        || !crate::string::ascii_clean(&rest[..topic_len], true)
    {
        return None;
    }
    let mut offset = head + 2 + topic_len;
    let packet_id = if qos == QoS::AtMostOnce {
        None
    } else {
        let (_, id) = be_u16::<_, E<'_>>(&buf[offset..total]).ok()?;
        offset += 2;
        Some(PacketId::new(id)?)
    };
    if version.is_v5() {
        // Only an empty property list takes this path.
        if buf.get(offset).copied() != Some(0) || offset >= total {
            return None;
        }
        offset += 1;
    }
    let mut payload = buf.split_to(total).freeze();
    let topic = match TopicName::from_ascii(payload.slice(head + 2..head + 2 + topic_len)) {
        Some(topic) => topic,
        None => return Some(Err(DecodeError::InvalidUtf8)),
    };
    payload.advance(offset);
    Some(Ok(Some(Packet::Publish(Publish {
        dup: first & 0x08 != 0,
        qos,
        retain: first & 0x01 != 0,
        topic,
        packet_id,
        properties: Properties::none(),
        payload,
    }))))
}

/// A checked fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Packet type.
    pub kind: PacketType,
    /// The flag nibble.
    pub flags: u8,
    /// Bytes of the fixed header (2 to 5).
    pub header_len: usize,
    /// Size of the whole packet.
    pub total: usize,
}

/// Reads and checks the fixed header at the front of `buf`, if complete.
#[inline]
pub fn peek_header(
    buf: &[u8],
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let kind = PacketType::from_header(first, version)?;
    let Some((remaining, used)) = parse_var_int(&buf[1..])? else {
        return Ok(None);
    };
    let total = 1 + used as u64 + u64::from(remaining);
    if total > u64::from(max_packet_size) {
        return Err(DecodeError::PacketTooLarge {
            size: total,
            max: max_packet_size,
        });
    }
    Ok(Some(FixedHeader {
        kind,
        flags: first & 0x0f,
        header_len: 1 + used,
        total: total as usize,
    }))
}

/// A streaming decoder that owns its buffer.
///
/// Feed it bytes split anywhere ([`Decoder::feed`], or read straight into
/// [`Decoder::buffer_mut`]) and call [`Decoder::decode`] until it returns
/// `Ok(None)`. Memory stays bounded: the buffer never needs to grow past the
/// maximum packet size plus what the caller feeds at once.
///
/// ```
/// use sansmqtt_proto::{Decoder, Packet, ProtocolVersion};
///
/// let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
/// decoder.feed(&[0xd0]); // PINGRESP, first byte
/// assert_eq!(decoder.decode(), Ok(None));
/// decoder.feed(&[0x00]);
/// assert_eq!(decoder.decode(), Ok(Some(Packet::PingResp)));
/// ```
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
}

impl Decoder {
    /// A decoder for `version` accepting packets up to [`MAX_PACKET_SIZE`].
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            buf: BytesMut::new(),
            version,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// Sets the maximum packet size (whole packet, fixed header included).
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// Changes the maximum packet size.
    pub fn set_max_packet_size(&mut self, max: u32) {
        self.max_packet_size = max;
    }

    /// The maximum packet size in force.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Changes the protocol version (a server learns it from CONNECT).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// The protocol version in force.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer, to read into directly (e.g. with `BufMut` APIs).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Number of bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes complete the packet at the front of the buffer, if
    /// its fixed header is known (a hint for sizing reads).
    pub fn missing(&self) -> Option<usize> {
        match peek_header(&self.buf, self.version, self.max_packet_size) {
            Ok(Some(h)) => Some(h.total.saturating_sub(self.buf.len())),
            _ => None,
        }
    }

    /// Decodes the next complete packet, `Ok(None)` if more bytes are needed.
    /// After an error the stream is out of sync and the connection must close.
    pub fn decode(&mut self) -> Result<Option<Packet>, DecodeError> {
        decode_packet(&mut self.buf, self.version, self.max_packet_size)
    }
}
