//! The transport connection's state ([`Link`]), and the size of each read
//! from it ([`ReadSize`]).

use std::io;
use std::time::Instant;

use bytes::BytesMut;
use sansmqtt_proto::ProtocolVersion;

use crate::runtime::{BoxFuture, Transport};

/// Transport connection state. Every state of the driver's connection is
/// one variant: no side flag says "but stay down" or "then reconnect".
pub(crate) enum Link {
    /// No transport; (re)connect at `reconnect_at`, or wait for a
    /// `reconnect()` (`None`: refused, no `auto_reconnect`, ...).
    Down {
        reconnect_at: Option<Instant>,
    },
    /// Disconnected by the application (or every handle is gone): no
    /// automatic reconnect, until `reconnect()`.
    Disconnected,
    /// A transport being opened, which must be up by `deadline`
    /// (`connect_timeout`).
    Opening {
        future: BoxFuture<io::Result<Box<dyn Transport>>>,
        deadline: Instant,
    },
    Up(Box<dyn Transport>),
    /// Flushing the last bytes (DISCONNECT) before closing, then `then`.
    Closing {
        transport: Box<dyn Transport>,
        then: AfterClose,
    },
    /// For good: commands fail with `Closed`.
    Stopped,
}

/// What follows the close of a transport.
pub(crate) enum AfterClose {
    /// [`Link::Down`], reconnecting at the instant, if any.
    Down(Option<Instant>),
    /// [`Link::Disconnected`]: the application's `disconnect()` is done.
    Disconnected,
}

impl Link {
    /// The link, leaving [`Link::Down`] without reconnect in its place.
    pub(crate) fn take(&mut self) -> Link {
        std::mem::replace(self, Link::Down { reconnect_at: None })
    }

    /// A new connection at `now`, once the transport (if any) has written
    /// what is queued and closed (a protocol fallback, a redirect).
    pub(crate) fn reopen(self, now: Instant) -> Link {
        match self {
            Link::Up(transport) | Link::Closing { transport, .. } => Link::Closing {
                transport,
                then: AfterClose::Down(Some(now)),
            },
            _ => Link::Down {
                reconnect_at: Some(now),
            },
        }
    }

    /// The transport bytes go to: up, or closing (its last bytes).
    pub(crate) fn writable(&mut self) -> Option<&mut Box<dyn Transport>> {
        match self {
            Link::Up(transport) | Link::Closing { transport, .. } => Some(transport),
            _ => None,
        }
    }

    /// The application asked to stay down (`disconnect()`, or every handle
    /// dropped): nothing reconnects on its own.
    pub(crate) fn stays_down(&self) -> bool {
        matches!(
            self,
            Link::Disconnected
                | Link::Closing {
                    then: AfterClose::Disconnected,
                    ..
                }
        )
    }

    /// No transport and nothing being opened or closed.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self, Link::Down { .. } | Link::Disconnected | Link::Stopped)
    }

    /// When the link must be looked at again: the reconnect instant, or
    /// the opening deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Link::Down { reconnect_at } => *reconnect_at,
            Link::Opening { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }
}

/// The largest read.
const MAX_READ: usize = 64 * 1024;
/// The smallest read size, and the first: a quiet connection (one of many)
/// holds 512 bytes of read buffer; a full read doubles the next, up to
/// [`MAX_READ`]; a read that fills less than a quarter of it halves it.
const MIN_READ: usize = 512;
/// The smallest replacement for a read buffer that messages still hold.
const HELD_READ_BUFFER: usize = 12 * 1024;

/// Read sizes that follow the traffic.
///
/// Two sizes. `hint` sizes the buffer: a full read doubles it, up to
/// [`MAX_READ`], and it stays there (a buffer still held by messages is
/// replaced by one with room for three reads, so a busy connection
/// allocates once per 192 KiB). `offer` is what one read may fill, and
/// `futures-io` reads into initialized memory, so every read zeroes it
/// first: it follows what reads bring both ways (doubled by a full read,
/// halved by one under a quarter of it). A broker that coalesces its writes
/// fills 64 KiB reads; a broker sending with TCP_NODELAY brings one packet
/// per read, and zeroing 64 KiB for each 70-byte PUBLISH was a sixth of a
/// subscriber's CPU.
pub(crate) struct ReadSize {
    hint: usize,
    offer: usize,
}

impl ReadSize {
    pub(crate) fn new() -> Self {
        Self {
            hint: MIN_READ,
            offer: MIN_READ,
        }
    }

    /// Makes room at the end of `buf` (the session's input buffer, holding
    /// the start of a packet of `version`, at most `max_packet` bytes) and
    /// returns how many bytes to read into it.
    pub(crate) fn prepare(
        &mut self,
        buf: &mut BytesMut,
        version: ProtocolVersion,
        max_packet: u32,
    ) -> usize {
        let start = buf.len();
        // A packet larger than what is buffered (a large payload arriving
        // in pieces) gets room for all of it at once: growing the buffer
        // read by read would copy the partial payload again each time.
        let packet = match sansmqtt_proto::peek_header(&buf[..], version, max_packet) {
            Ok(Some(h)) if h.total > start => h.total - start,
            _ => 0,
        };
        let room = buf.capacity() - start;
        if packet > self.hint * 3 {
            // A large packet in progress: a buffer of exactly its size
            // (`BytesMut::reserve` may double and copy), filled by reads
            // that stop at its end, so it never has to grow.
            if packet > room {
                let mut fresh = BytesMut::with_capacity(start + packet);
                fresh.extend_from_slice(&buf[..]);
                *buf = fresh;
            }
            return packet.min(self.hint);
        }
        if packet > 0 && packet <= room && room < self.hint {
            // The end of a packet that fits where it is: read just that
            // rather than grow (and copy) a buffer holding a large payload.
            return packet;
        }
        if room < self.hint && !buf.try_reclaim(self.hint) {
            // Messages keep slices of the buffer they were read into: a
            // buffer that nothing holds any more is reused in place (a
            // connection that only reads acknowledgements keeps its first
            // 512 bytes); one that is still held is replaced. The new one
            // has room for three reads at the current size and at least
            // 12 KiB, so that messages held a while cost an allocation per
            // dozens of them, not one each; a busy connection (64 KiB
            // reads) gets 192 KiB at a time. A buffer replaced while held
            // means messages stay while more arrive, whatever the size of
            // the reads (one packet per read against a broker with
            // TCP_NODELAY): the next replacement is twice as large.
            let size = if buf.capacity() == 0 {
                self.hint
            } else {
                let size = (self.hint * 3).max(HELD_READ_BUFFER);
                self.hint = (self.hint * 2).min(MAX_READ);
                size
            };
            buf.reserve(size);
        }
        self.offer
    }

    /// A read of `n` bytes came: a full read doubles the next one, a read
    /// that filled less than a quarter of it halves it.
    pub(crate) fn took(&mut self, n: usize) {
        if n >= self.offer {
            self.offer = (self.offer * 2).min(MAX_READ);
            self.hint = self.hint.max(self.offer);
        } else if n < self.offer / 4 {
            self.offer = (self.offer / 2).max(MIN_READ);
        }
    }

    /// The size of the next ordinary read.
    #[cfg(test)]
    fn offer(&self) -> usize {
        self.offer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: ProtocolVersion = ProtocolVersion::V3_1_1;

    /// A broker that coalesces its writes fills every read: the size
    /// doubles up to the largest read and stays there.
    #[test]
    fn full_reads_grow_to_the_largest() {
        let mut size = ReadSize::new();
        assert_eq!(size.offer(), MIN_READ);
        for _ in 0..10 {
            let n = size.offer();
            size.took(n);
        }
        assert_eq!(size.offer(), MAX_READ);
        size.took(MAX_READ);
        assert_eq!(size.offer(), MAX_READ);
    }

    /// A broker with TCP_NODELAY brings one small packet per read: the room
    /// zeroed before each read shrinks back to the smallest read.
    #[test]
    fn small_reads_shrink_to_the_smallest() {
        let mut size = ReadSize::new();
        while size.offer() < MAX_READ {
            let n = size.offer();
            size.took(n);
        }
        for _ in 0..7 {
            size.took(70);
        }
        assert_eq!(size.offer(), MIN_READ);
        size.took(70);
        assert_eq!(size.offer(), MIN_READ);
    }

    /// Reads between a quarter and all of the room keep the size.
    #[test]
    fn partly_filled_reads_keep_the_size() {
        let mut size = ReadSize::new();
        size.took(MIN_READ);
        assert_eq!(size.offer(), 2 * MIN_READ);
        size.took(MIN_READ / 2 + 1);
        assert_eq!(size.offer(), 2 * MIN_READ);
        size.took(MIN_READ / 2 - 1);
        assert_eq!(size.offer(), MIN_READ);
    }

    /// The room offered is what a read may fill, never more than the
    /// size, and a buffer nothing else holds is reused in place.
    /// A buffer that messages still hold is replaced by a larger one each
    /// time, up to three of the largest reads, while the room offered to a
    /// read stays what reads bring.
    #[test]
    fn a_held_buffer_is_replaced_by_larger_ones() {
        let mut size = ReadSize::new();
        let mut buf = BytesMut::new();
        let mut capacities = Vec::new();
        let mut held = Vec::new();
        for _ in 0..5000 {
            let offered = size.prepare(&mut buf, V, 1 << 20);
            assert_eq!(offered, MIN_READ);
            capacities.push(buf.capacity());
            // A short read of PINGRESPs (one packet per read), and a message
            // that keeps what it was read into (a payload slice): that part
            // cannot be reclaimed.
            for _ in 0..32 {
                buf.extend_from_slice(&[0xC0, 0x00]);
            }
            held.push(buf.split());
        }
        let largest = capacities.iter().max().copied().unwrap_or(0);
        assert!(largest >= 3 * MAX_READ, "largest buffer {largest}");
    }

    #[test]
    fn prepare_offers_the_size_and_reuses_a_free_buffer() {
        let mut size = ReadSize::new();
        let mut buf = BytesMut::new();
        assert_eq!(size.prepare(&mut buf, V, 1 << 20), MIN_READ);
        assert!(buf.capacity() >= MIN_READ);
        let capacity = buf.capacity();
        buf.extend_from_slice(&[0xC0, 0x00]); // PINGRESP, consumed
        let _ = buf.split();
        assert_eq!(size.prepare(&mut buf, V, 1 << 20), MIN_READ);
        assert_eq!(buf.capacity(), capacity);
    }
}
