//! Session persistence: the in-flight state of a session kept in a file, so
//! that a process that stops (or crashes) with QoS 1 and 2 messages in
//! flight resumes them when it starts again (config key `persistence`).
//!
//! [`FileStore`] is a [`SessionStore`]: the session tells it of every change
//! (a PUBLISH sent under a packet identifier, released, completed; an
//! incoming QoS 2 identifier acknowledged, released; the session cleared)
//! and it appends one record per change to the file, before the packet the
//! change describes goes to the transport. [`FileStore::open`] reads the
//! records back into a [`SavedSession`] for [`Session::restore`], and
//! rewrites the file with only what is still in flight.
//!
//! # The file
//!
//! An 18-byte header, `SANSMQTT-SESSION`, the format (1) and the MQTT
//! protocol level (3, 4 or 5: the session belongs to one version), then
//! records: body length (u32, little endian), CRC-32 of the body (u32, little
//! endian), body. A body is a tag and its fields:
//!
//! | tag | change | fields |
//! |---|---|---|
//! | 1 | PUBLISH sent | packet identifier (u16, big endian), the PUBLISH as encoded on the wire |
//! | 2 | PUBREL sent (PUBREC received) | packet identifier |
//! | 3 | publish completed or failed | packet identifier |
//! | 4 | incoming QoS 2 acknowledged with PUBREC | packet identifier |
//! | 5 | incoming QoS 2 released (PUBCOMP sent) | packet identifier |
//! | 6 | session cleared (the broker has none) | |
//!
//! A record cut short or with a wrong checksum ends the file: it is what a
//! crash in the middle of a write leaves, and everything before it holds.
//! The file is rewritten (a temporary file, synced, renamed over it) when it
//! is opened and when it has grown to four times what is in flight and
//! 64 KiB. A payload of 4 KiB or more is written from where it is, not
//! copied into the record.
//!
//! # Guarantees, and what is not covered
//!
//! Records reach the operating system (one `write` each) before the packet
//! goes out: a process crash loses nothing the broker saw. They are not
//! synced to the disk one by one, so a power failure can lose the last
//! ones. Publishes still queued in the client (not yet sent under a packet
//! identifier, e.g. beyond `max_inflight` or while offline) are not in the
//! file: their callers have not been answered. An incoming QoS 2 message
//! handed to the application but not yet acknowledged with PUBREC is
//! redelivered by the broker after a restart. One store at a time uses a
//! file: `<file>.lock` is locked (advisory, `flock` on Linux) while it is
//! open, and a second one is refused.
//!
//! [`Session::restore`]: sansmqtt_session::Session::restore

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sansmqtt_proto::{Packet, PacketId, ProtocolVersion, Publish, QoS};
use sansmqtt_session::{SavedSession, SessionStore};

const MAGIC: &[u8; 16] = b"SANSMQTT-SESSION";
const FORMAT: u8 = 1;
const HEADER_LEN: u64 = 18;
/// Record framing: body length and CRC-32.
const FRAME_LEN: u64 = 8;
/// The file is not rewritten below this size.
const COMPACT_MIN: u64 = 64 * 1024;
/// The file is rewritten when it is this many times what is in flight: the
/// rewrites then cost at most a third of the bytes appended (W7 of the
/// benchmark, 1 MiB messages: 290 MB/s with 2, 473 MB/s with 4).
const COMPACT_RATIO: u64 = 4;

const TAG_SENT: u8 = 1;
const TAG_RELEASED: u8 = 2;
const TAG_COMPLETED: u8 = 3;
const TAG_IN_RECEIVED: u8 = 4;
const TAG_IN_RELEASED: u8 = 5;
const TAG_CLEARED: u8 = 6;

/// Characters of a client identifier kept as they are in its file name;
/// everything else (`.`, `/`, `%`, non-ASCII, ...) is percent-encoded.
const FILE_NAME: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// A [`SessionStore`] that appends every change to a file (see the
/// [module](self) for the format and the guarantees).
pub struct FileStore {
    path: PathBuf,
    file: File,
    version: ProtocolVersion,
    live: Live,
    /// Bytes in the file.
    len: u64,
    /// The framing of the record being written (reused).
    buf: Vec<u8>,
    /// The PUBLISH head being written (reused).
    head: BytesMut,
    /// The first write that failed: the file no longer describes the
    /// session.
    failure: Option<String>,
    /// The file is not rewritten below this size ([`COMPACT_MIN`]; tests
    /// lower it).
    compact_min: u64,
    /// `<file>.lock`, locked while the store is open (the file itself is
    /// replaced by each rewrite; this one never is).
    _lock: File,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .field("outgoing", &self.live.outgoing.len())
            .field("incoming", &self.live.incoming.len())
            .field("len", &self.len)
            .field("failure", &self.failure)
            .finish()
    }
}

/// What is in flight, as the records say, in order of first transmission.
#[derive(Default)]
struct Live {
    /// By order of transmission: the publish, whether it was released, and
    /// its encoded length.
    outgoing: BTreeMap<u64, (Publish, bool, u64)>,
    order: HashMap<PacketId, u64>,
    incoming: BTreeSet<PacketId>,
    next: u64,
    /// Bytes of the records of a file holding only this (header aside).
    bytes: u64,
}

/// A record of a packet identifier alone: framing, tag, identifier.
const ID_RECORD: u64 = FRAME_LEN + 3;

impl Live {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Sent(id, publish, len) => {
                self.remove(id);
                self.next += 1;
                self.order.insert(id, self.next);
                self.outgoing.insert(self.next, (publish, false, len));
                self.bytes += ID_RECORD + len;
            }
            // Only a QoS 2 publish is released (a record saying otherwise
            // cannot come from a session, and is ignored).
            Record::Released(id) => {
                if let Some(entry) = self.order.get(&id).and_then(|n| self.outgoing.get_mut(n))
                    && !entry.1
                    && entry.0.qos == QoS::ExactlyOnce
                {
                    entry.1 = true;
                    self.bytes += ID_RECORD;
                }
            }
            Record::Completed(id) => self.remove(id),
            Record::InReceived(id) => {
                if self.incoming.insert(id) {
                    self.bytes += ID_RECORD;
                }
            }
            Record::InReleased(id) => {
                if self.incoming.remove(&id) {
                    self.bytes -= ID_RECORD;
                }
            }
            Record::Cleared => {
                self.outgoing.clear();
                self.order.clear();
                self.incoming.clear();
                self.bytes = 0;
            }
        }
    }

    /// The outgoing publish under `id` is gone (completed, or sent anew).
    fn remove(&mut self, id: PacketId) {
        if let Some((_, released, len)) = self
            .order
            .remove(&id)
            .and_then(|n| self.outgoing.remove(&n))
        {
            self.bytes -= ID_RECORD + len + if released { ID_RECORD } else { 0 };
        }
    }

    fn saved(&self) -> SavedSession {
        SavedSession {
            outgoing: self
                .outgoing
                .values()
                .map(|(p, released, _)| (p.clone(), *released))
                .collect(),
            incoming: self.incoming.iter().copied().collect(),
        }
    }
}

/// One change, as read from the file.
enum Record {
    /// With the PUBLISH's encoded length.
    Sent(PacketId, Publish, u64),
    Released(PacketId),
    Completed(PacketId),
    InReceived(PacketId),
    InReleased(PacketId),
    Cleared,
}

/// Locks `<path>.lock` (created if needed) for this store alone: a second
/// store on the same file, in this process or another, is refused instead
/// of interleaving its records.
fn lock(path: &Path) -> io::Result<File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "in use by another client (locked: {})",
                PathBuf::from(name).display()
            ),
        )),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl FileStore {
    /// The file of `client_id`'s session in `dir`: `<client_id>.session`,
    /// the identifier percent-encoded but for ASCII letters, digits, `-`
    /// and `_`.
    pub fn file_in(dir: &Path, client_id: &str) -> PathBuf {
        dir.join(format!(
            "{}.session",
            utf8_percent_encode(client_id, FILE_NAME)
        ))
    }

    /// Opens (or creates) the session file at `path` for a session of
    /// `version`, and returns the store with what the file holds in flight:
    /// `None` when there was no file (a new session), else the saved
    /// session, empty if nothing was in flight (the session goes on: its
    /// first connection resumes it). The file is rewritten with that alone
    /// (a record cut short by a crash is dropped). A file of another
    /// protocol version, or not a session file, is an `InvalidData` error
    /// and is left as it is.
    pub fn open(path: &Path, version: ProtocolVersion) -> io::Result<(Self, Option<SavedSession>)> {
        Self::open_unnamed(path, version)
            .map_err(|e| io::Error::new(e.kind(), format!("session file {}: {e}", path.display())))
    }

    /// [`FileStore::open`], its errors not yet naming the file.
    fn open_unnamed(
        path: &Path,
        version: ProtocolVersion,
    ) -> io::Result<(Self, Option<SavedSession>)> {
        let lock = lock(path)?;
        let live = match File::open(path) {
            Ok(mut f) => {
                let mut data = Vec::new();
                f.read_to_end(&mut data)?;
                Some(read_records(&data, version).map_err(invalid)?)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let saved = live.as_ref().map(Live::saved);
        let live = live.unwrap_or_default();
        let (file, len) = write_snapshot(path, version, &live)?;
        let store = Self {
            path: path.to_owned(),
            file,
            version,
            live,
            len,
            buf: Vec::new(),
            head: BytesMut::new(),
            failure: None,
            compact_min: COMPACT_MIN,
            _lock: lock,
        };
        Ok((store, saved))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write that failed, if one did: from then on the file no
    /// longer describes the session (the client stops).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Bytes in the file.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Appends one record (tag, packet identifier, then `head` and `tail`).
    fn append(&mut self, tag: u8, id: Option<PacketId>, head: &[u8], tail: &[u8]) {
        if self.failure.is_some() {
            return;
        }
        match write_record(&mut self.file, &mut self.buf, tag, id, head, tail) {
            Ok(n) => self.len += n,
            Err(e) => self.fail(e),
        }
    }

    /// Keeps the first failure (the client logs it and stops).
    fn fail(&mut self, e: io::Error) {
        self.failure = Some(format!("session file {}: {e}", self.path.display()));
    }

    /// Rewrites the file with what is in flight once the history is most
    /// of it.
    fn maybe_compact(&mut self) {
        if self.len < self.compact_min || self.failure.is_some() {
            return;
        }
        if self.len < COMPACT_RATIO * (HEADER_LEN + self.live.bytes) {
            return;
        }
        match write_snapshot(&self.path, self.version, &self.live) {
            Ok((file, len)) => {
                self.file = file;
                self.len = len;
            }
            Err(e) => self.fail(e),
        }
    }
}

impl SessionStore for FileStore {
    fn publish_sent(&mut self, packet_id: PacketId, publish: &Publish) {
        let mut p = publish.clone();
        p.dup = false;
        p.packet_id = Some(packet_id);
        let mut head = std::mem::take(&mut self.head);
        let len = match publish_head(&p, self.version, &mut head) {
            Ok(len) => {
                self.append(TAG_SENT, Some(packet_id), &head, &p.payload);
                len
            }
            Err(e) => {
                self.fail(e);
                0
            }
        };
        self.head = head;
        self.live.apply(Record::Sent(packet_id, p, len));
        self.maybe_compact();
    }
    fn publish_released(&mut self, packet_id: PacketId) {
        self.append(TAG_RELEASED, Some(packet_id), &[], &[]);
        self.live.apply(Record::Released(packet_id));
    }
    fn publish_completed(&mut self, packet_id: PacketId) {
        self.append(TAG_COMPLETED, Some(packet_id), &[], &[]);
        self.live.apply(Record::Completed(packet_id));
        self.maybe_compact();
    }
    fn incoming_received(&mut self, packet_id: PacketId) {
        self.append(TAG_IN_RECEIVED, Some(packet_id), &[], &[]);
        self.live.apply(Record::InReceived(packet_id));
        self.maybe_compact();
    }
    fn incoming_released(&mut self, packet_id: PacketId) {
        self.append(TAG_IN_RELEASED, Some(packet_id), &[], &[]);
        self.live.apply(Record::InReleased(packet_id));
        self.maybe_compact();
    }
    fn cleared(&mut self) {
        self.append(TAG_CLEARED, None, &[], &[]);
        self.live.apply(Record::Cleared);
        self.maybe_compact();
    }
}

/// Encodes the PUBLISH as on the wire but for its payload, which follows it
/// as it is (never copied into a record), into `head` (cleared first);
/// returns the length of the whole packet.
fn publish_head(p: &Publish, version: ProtocolVersion, head: &mut BytesMut) -> io::Result<u64> {
    head.clear();
    p.encode_without_payload(version, head)
        .map(|len| len as u64)
        .map_err(|e| invalid(format!("cannot encode a PUBLISH: {e}")))
}

/// Below this size a record's tail is copied next to its head (one write);
/// above, it is written from where it is (two writes, no copy).
const COPY_TAIL: usize = 4096;

fn header(version: ProtocolVersion) -> [u8; HEADER_LEN as usize] {
    let mut h = [0; HEADER_LEN as usize];
    h[..16].copy_from_slice(MAGIC);
    h[16] = FORMAT;
    h[17] = version.level();
    h
}

/// Writes one framed record to `out`: body length, CRC-32, then the body
/// (tag, packet identifier if any, `head`, `tail`); `scratch` holds the
/// framing. Returns the bytes written.
fn write_record(
    out: &mut impl Write,
    scratch: &mut Vec<u8>,
    tag: u8,
    id: Option<PacketId>,
    head: &[u8],
    tail: &[u8],
) -> io::Result<u64> {
    scratch.clear();
    scratch.extend_from_slice(&[0; FRAME_LEN as usize]);
    scratch.push(tag);
    if let Some(id) = id {
        scratch.extend_from_slice(&id.get().to_be_bytes());
    }
    scratch.extend_from_slice(head);
    let body = FRAME_LEN as usize;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&scratch[body..]);
    crc.update(tail);
    let body_len = (scratch.len() - body + tail.len()) as u32;
    scratch[..4].copy_from_slice(&body_len.to_le_bytes());
    scratch[4..body].copy_from_slice(&crc.finalize().to_le_bytes());
    if tail.len() < COPY_TAIL {
        scratch.extend_from_slice(tail);
        out.write_all(scratch)?;
    } else {
        out.write_all(scratch)?;
        out.write_all(tail)?;
    }
    Ok(FRAME_LEN + u64::from(body_len))
}

/// Writes a file holding only what is in flight next to `path`, syncs it,
/// renames it over `path`, and returns it open for appending.
fn write_snapshot(path: &Path, version: ProtocolVersion, live: &Live) -> io::Result<(File, u64)> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let len = {
        let mut f = io::BufWriter::with_capacity(64 * 1024, File::create(&tmp)?);
        let len = snapshot(&mut f, live, version)?;
        f.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        len
    };
    fs::rename(&tmp, path)?;
    let file = OpenOptions::new().append(true).open(path)?;
    Ok((file, len))
}

/// Writes a file holding only what is in flight to `out`; returns its
/// length.
fn snapshot(out: &mut impl Write, live: &Live, version: ProtocolVersion) -> io::Result<u64> {
    out.write_all(&header(version))?;
    let mut len = HEADER_LEN;
    let mut scratch = Vec::new();
    let mut head = BytesMut::new();
    for (p, released, _) in live.outgoing.values() {
        let id = p.packet_id;
        publish_head(p, version, &mut head)?;
        len += write_record(out, &mut scratch, TAG_SENT, id, &head, &p.payload)?;
        if *released {
            len += write_record(out, &mut scratch, TAG_RELEASED, id, &[], &[])?;
        }
    }
    for &id in &live.incoming {
        len += write_record(out, &mut scratch, TAG_IN_RECEIVED, Some(id), &[], &[])?;
    }
    Ok(len)
}

/// What the bytes of a session file of `version` hold in flight: its
/// records replayed, up to the first one cut short or damaged. The reading
/// half of [`FileStore::open`], without the file (to inspect one, or to
/// fuzz the reader). An `InvalidData` error for bytes that are not a
/// session file of this version.
pub fn read(data: &[u8], version: ProtocolVersion) -> io::Result<SavedSession> {
    read_records(data, version)
        .map(|live| live.saved())
        .map_err(invalid)
}

/// The bytes of a session file of `version` holding `saved` alone: what
/// [`read`] reads back as `saved` (a `released` flag on a QoS 1 publish
/// aside: it is not a state a session can be in, and is dropped). An
/// `InvalidInput` error for a publish without a packet identifier.
pub fn write(saved: &SavedSession, version: ProtocolVersion) -> io::Result<Vec<u8>> {
    let mut live = Live::default();
    for (p, released) in &saved.outgoing {
        let id = p.packet_id.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a saved publish without a packet identifier",
            )
        })?;
        let len =
            p.encoded_len(version)
                .map_err(|e| invalid(format!("cannot encode a PUBLISH: {e}")))? as u64;
        live.apply(Record::Sent(id, p.clone(), len));
        if *released {
            live.apply(Record::Released(id));
        }
    }
    for &id in &saved.incoming {
        live.apply(Record::InReceived(id));
    }
    let mut out = Vec::new();
    snapshot(&mut out, &live, version)?;
    Ok(out)
}

/// Replays the records of a file (after its header); stops at the first
/// record cut short or damaged.
fn read_records(data: &[u8], version: ProtocolVersion) -> Result<Live, String> {
    if data.len() < HEADER_LEN as usize || &data[..16] != MAGIC {
        return Err("not a sansmqtt session file".into());
    }
    if data[16] != FORMAT {
        return Err(format!("format {} (this build reads {FORMAT})", data[16]));
    }
    if data[17] != version.level() {
        return Err(format!(
            "a session of protocol level {}, not {} (the session belongs to the protocol \
             version it was made with)",
            data[17],
            version.level()
        ));
    }
    let mut live = Live::default();
    let mut rest = &data[HEADER_LEN as usize..];
    while rest.len() >= FRAME_LEN as usize {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let Some(body) = rest.get(FRAME_LEN as usize..FRAME_LEN as usize + len) else {
            break; // cut short
        };
        if crc32fast::hash(body) != crc {
            break; // a damaged (torn) write
        }
        live.apply(parse_record(body, version)?);
        rest = &rest[FRAME_LEN as usize + len..];
    }
    Ok(live)
}

fn parse_record(body: &[u8], version: ProtocolVersion) -> Result<Record, String> {
    let (&tag, fields) = body.split_first().ok_or("an empty record")?;
    if tag == TAG_CLEARED {
        return Ok(Record::Cleared);
    }
    let id = fields
        .get(..2)
        .and_then(|b| PacketId::new(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| format!("record {tag}: no packet identifier"))?;
    Ok(match tag {
        TAG_SENT => {
            let packet = Packet::decode(Bytes::copy_from_slice(&fields[2..]), version)
                .map_err(|e| format!("a saved PUBLISH: {e}"))?;
            match packet {
                Packet::Publish(p) if p.packet_id == Some(id) => {
                    Record::Sent(id, p, (fields.len() - 2) as u64)
                }
                _ => return Err(format!("record of packet {}: not its PUBLISH", id.get())),
            }
        }
        TAG_RELEASED => Record::Released(id),
        TAG_COMPLETED => Record::Completed(id),
        TAG_IN_RECEIVED => Record::InReceived(id),
        TAG_IN_RELEASED => Record::InReleased(id),
        other => return Err(format!("unknown record {other}")),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use proptest::prelude::*;
    use sansmqtt_proto::{QoS, TopicName};

    use super::*;

    const V5: ProtocolVersion = ProtocolVersion::V5;

    /// A new empty directory, removed on drop.
    struct Dir(PathBuf);
    impl Dir {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "sansmqtt-persist-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
        fn file(&self) -> PathBuf {
            self.0.join("c.session")
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn pid(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    fn publish(payload: &'static str, qos: QoS, id: u16) -> Publish {
        let mut p = Publish::with_qos(
            TopicName::try_from("t/1").unwrap(),
            payload.as_bytes(),
            qos,
            pid(id),
        );
        p.properties.content_type = Some("text/plain".try_into().unwrap());
        p
    }

    /// What the file of `dir` holds.
    fn reopen(dir: &Dir) -> SavedSession {
        let (_, saved) = FileStore::open(&dir.file(), V5).unwrap();
        saved.expect("the file was there")
    }

    fn payloads(saved: &SavedSession) -> Vec<(&[u8], bool)> {
        saved
            .outgoing
            .iter()
            .map(|(p, released)| (&p.payload[..], *released))
            .collect()
    }

    #[test]
    fn every_change_is_read_back_in_order_of_transmission() {
        let dir = Dir::new();
        let (mut store, saved) = FileStore::open(&dir.file(), V5).unwrap();
        assert_eq!(saved, None, "a new session");
        store.publish_sent(pid(1), &publish("a", QoS::AtLeastOnce, 1));
        store.publish_sent(pid(2), &publish("b", QoS::ExactlyOnce, 2));
        store.publish_sent(pid(3), &publish("c", QoS::AtLeastOnce, 3));
        store.publish_released(pid(2));
        store.publish_completed(pid(1));
        // Identifier 1 again, later: it comes after the others.
        store.publish_sent(pid(1), &publish("d", QoS::ExactlyOnce, 1));
        store.incoming_received(pid(7));
        store.incoming_received(pid(8));
        store.incoming_released(pid(8));
        drop(store);

        let saved = reopen(&dir);
        assert_eq!(
            payloads(&saved),
            [(&b"b"[..], true), (&b"c"[..], false), (&b"d"[..], false)]
        );
        // The PUBLISH as it was sent: packet identifier, properties, no DUP.
        let (d, _) = &saved.outgoing[2];
        assert_eq!(d, &publish("d", QoS::ExactlyOnce, 1));
        assert_eq!(saved.incoming, [pid(7)]);
        // Opening rewrote the file with that state alone; it reads the same.
        let again = reopen(&dir);
        assert_eq!(again, saved);
    }

    #[test]
    fn cleared_session_reads_back_empty() {
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        store.publish_sent(pid(1), &publish("a", QoS::AtLeastOnce, 1));
        store.incoming_received(pid(2));
        store.cleared();
        store.publish_sent(pid(4), &publish("b", QoS::AtLeastOnce, 4));
        drop(store);
        let saved = reopen(&dir);
        assert_eq!(payloads(&saved), [(&b"b"[..], false)]);
        assert!(saved.incoming.is_empty());
    }

    /// A crash in the middle of a write leaves a record cut short, or one
    /// whose bytes are not all there: what comes before it holds, and the
    /// file is repaired on opening.
    #[test]
    fn a_record_cut_short_or_damaged_ends_the_file() {
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        store.publish_sent(pid(1), &publish("kept", QoS::AtLeastOnce, 1));
        let before_last = store.file_len();
        store.publish_sent(pid(2), &publish("torn", QoS::AtLeastOnce, 2));
        let full = store.file_len();
        drop(store);
        let bytes = fs::read(dir.file()).unwrap();
        assert_eq!(bytes.len() as u64, full);

        for cut in [before_last + 3, full - 1] {
            fs::write(dir.file(), &bytes[..cut as usize]).unwrap();
            let (store, saved) = FileStore::open(&dir.file(), V5).unwrap();
            let saved = saved.expect("the file was there");
            assert_eq!(payloads(&saved), [(&b"kept"[..], false)], "cut at {cut}");
            assert_eq!(store.file_len(), before_last, "repaired");
        }
        let mut damaged = bytes.clone();
        let last = damaged.len() - 2;
        damaged[last] ^= 0xff;
        fs::write(dir.file(), &damaged).unwrap();
        let saved = reopen(&dir);
        assert_eq!(payloads(&saved), [(&b"kept"[..], false)]);
    }

    /// A large payload is written from where it is (no copy into the
    /// record) and reads back whole; a crash in its middle drops the record.
    #[test]
    fn a_large_payload_reads_back_whole_or_not_at_all() {
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut p = publish("", QoS::ExactlyOnce, 5);
        p.payload = Bytes::from(big.clone());
        store.publish_sent(pid(5), &p);
        store.publish_released(pid(5));
        let len = store.file_len();
        drop(store);
        let saved = reopen(&dir);
        assert_eq!(saved.outgoing.len(), 1);
        assert_eq!(&saved.outgoing[0].0.payload[..], &big[..]);
        assert!(saved.outgoing[0].1, "released");
        let bytes = write(&saved, V5).unwrap();
        assert_eq!(bytes.len() as u64, len);
        fs::write(dir.file(), &bytes[..50_000]).unwrap();
        assert!(reopen(&dir).outgoing.is_empty());
    }

    /// A session belongs to its protocol version, and a file that is not a
    /// session file is not taken for one: both are errors, the file stays.
    #[test]
    fn another_version_or_another_file_is_refused_and_left_alone() {
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        store.publish_sent(pid(1), &publish("a", QoS::AtLeastOnce, 1));
        drop(store);
        let bytes = fs::read(dir.file()).unwrap();
        let e = FileStore::open(&dir.file(), ProtocolVersion::V3_1_1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("protocol level 5, not 4"), "{e}");
        assert_eq!(fs::read(dir.file()).unwrap(), bytes);

        fs::write(dir.file(), b"key = value\n").unwrap();
        let e = FileStore::open(&dir.file(), V5).unwrap_err();
        assert!(e.to_string().contains("not a sansmqtt session file"), "{e}");
        assert_eq!(fs::read(dir.file()).unwrap(), b"key = value\n");
    }

    /// The file does not grow with the traffic: once the history is most of
    /// it (and it is over 64 KiB), it is rewritten with what is in flight.
    #[test]
    fn the_file_is_compacted_as_traffic_goes_through() {
        static PAYLOAD: [u8; 1000] = [b'x'; 1000];
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        let mut largest = 0;
        for n in 0..2_000u32 {
            let id = pid(1 + (n % 50) as u16);
            let mut p = publish("", QoS::AtLeastOnce, id.get());
            p.payload = Bytes::from_static(&PAYLOAD);
            store.publish_sent(id, &p);
            // Always one left in flight: the last one sent.
            if n > 0 {
                store.publish_completed(pid(1 + ((n - 1) % 50) as u16));
            }
            largest = largest.max(store.file_len());
        }
        assert!(largest < 3 * COMPACT_MIN, "{largest} bytes");
        drop(store);
        let saved = reopen(&dir);
        assert_eq!(saved.outgoing.len(), 1);
        assert_eq!(
            saved.outgoing[0].0.packet_id,
            Some(pid(1 + (1_999 % 50) as u16))
        );
    }

    /// A write that fails (here: the directory is gone when the file is
    /// rewritten) is kept as the store's failure, and nothing more is
    /// written: the client stops on it.
    #[test]
    fn a_failed_write_is_reported_and_ends_the_records() {
        static PAYLOAD: [u8; 4000] = [b'y'; 4000];
        let dir = Dir::new();
        let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
        fs::remove_dir_all(&dir.0).unwrap();
        for n in 1..=40u16 {
            let mut p = publish("", QoS::AtLeastOnce, n);
            p.payload = Bytes::from_static(&PAYLOAD);
            store.publish_sent(pid(n), &p);
            store.publish_completed(pid(n));
        }
        let failure = store.failure().expect("the rewrite failed");
        assert!(failure.contains("c.session"), "{failure}");
        let len = store.file_len();
        store.incoming_received(pid(1));
        assert_eq!(store.file_len(), len);
    }

    /// `read` and `write` are the file's two halves: what one writes the
    /// other reads, and `read` of the file a store wrote is what `open`
    /// restores.
    #[test]
    fn read_and_write_are_the_two_halves_of_the_file() {
        let saved = SavedSession {
            outgoing: vec![
                (publish("a", QoS::ExactlyOnce, 4), true),
                (publish("b", QoS::AtLeastOnce, 2), false),
            ],
            incoming: vec![pid(9), pid(3)],
        };
        let bytes = write(&saved, V5).unwrap();
        let back = read(&bytes, V5).unwrap();
        assert_eq!(back.outgoing, saved.outgoing, "order of transmission kept");
        assert_eq!(back.incoming, [pid(3), pid(9)]);
        let dir = Dir::new();
        fs::write(dir.file(), &bytes).unwrap();
        assert_eq!(reopen(&dir), back);
        assert_eq!(
            read(&bytes, ProtocolVersion::V3_1_1).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let no_id = SavedSession {
            outgoing: vec![(
                Publish::at_most_once(TopicName::try_from("t").unwrap(), &b""[..]),
                false,
            )],
            incoming: vec![],
        };
        assert_eq!(
            write(&no_id, V5).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// Two stores on one file would interleave their records: the second
    /// is refused while the first is open (here in one process; the lock
    /// is the operating system's, so across processes too).
    #[test]
    fn a_file_in_use_is_refused() {
        let dir = Dir::new();
        let (first, _) = FileStore::open(&dir.file(), V5).unwrap();
        let e = FileStore::open(&dir.file(), V5).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        assert!(e.to_string().contains("in use by another client"), "{e}");
        drop(first);
        FileStore::open(&dir.file(), V5).expect("free again");
    }

    #[test]
    fn file_names_keep_letters_digits_dash_underscore_only() {
        let dir = Path::new("/var/lib/app");
        assert_eq!(
            FileStore::file_in(dir, "sensor-1_a"),
            dir.join("sensor-1_a.session")
        );
        assert_eq!(
            FileStore::file_in(dir, "../a/b.c é"),
            dir.join("%2E%2E%2Fa%2Fb%2Ec%20%C3%A9.session")
        );
    }

    /// One change of the session, for the property test.
    #[derive(Debug, Clone)]
    enum Op {
        Sent(u16, bool),
        Released(u16),
        Completed(u16),
        InReceived(u16),
        InReleased(u16),
        Cleared,
    }

    fn op() -> impl Strategy<Value = Op> {
        let id = 1..=6u16;
        prop_oneof![
            4 => (id.clone(), any::<bool>()).prop_map(|(i, q2)| Op::Sent(i, q2)),
            2 => id.clone().prop_map(Op::Released),
            3 => id.clone().prop_map(Op::Completed),
            2 => id.clone().prop_map(Op::InReceived),
            2 => id.prop_map(Op::InReleased),
            1 => Just(Op::Cleared),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the changes, and wherever the file is rewritten (here
        /// from 256 bytes on) or a crash cuts the last record, reading the
        /// file back gives what the changes left in flight, in order of
        /// transmission: no acknowledged-by-nobody publish is lost, none
        /// comes back that was completed.
        #[test]
        fn the_file_reads_back_as_the_changes_left_it(
            ops in proptest::collection::vec(op(), 0..120),
            cut in 0usize..40,
        ) {
            let dir = Dir::new();
            let (mut store, _) = FileStore::open(&dir.file(), V5).unwrap();
            store.compact_min = 256;
            // The model: (id, payload, QoS 2, released) in order; incoming ids.
            let mut out: Vec<(u16, String, bool, bool)> = Vec::new();
            let mut inc: BTreeSet<u16> = BTreeSet::new();
            let mut before_last = (store.file_len(), out.clone(), inc.clone());
            for (n, op) in ops.iter().enumerate() {
                before_last = (store.file_len(), out.clone(), inc.clone());
                match *op {
                    Op::Sent(id, q2) => {
                        let qos = if q2 { QoS::ExactlyOnce } else { QoS::AtLeastOnce };
                        let payload = format!("m{n}");
                        let p = Publish::with_qos(
                            TopicName::try_from("t").unwrap(),
                            payload.clone().into_bytes(),
                            qos,
                            pid(id),
                        );
                        store.publish_sent(pid(id), &p);
                        out.retain(|o| o.0 != id);
                        out.push((id, payload, q2, false));
                    }
                    Op::Released(id) => {
                        store.publish_released(pid(id));
                        // Only QoS 2 is released.
                        if let Some(o) = out.iter_mut().find(|o| o.0 == id && o.2) {
                            o.3 = true;
                        }
                    }
                    Op::Completed(id) => {
                        store.publish_completed(pid(id));
                        out.retain(|o| o.0 != id);
                    }
                    Op::InReceived(id) => {
                        store.incoming_received(pid(id));
                        inc.insert(id);
                    }
                    Op::InReleased(id) => {
                        store.incoming_released(pid(id));
                        inc.remove(&id);
                    }
                    Op::Cleared => {
                        store.cleared();
                        out.clear();
                        inc.clear();
                    }
                }
            }
            prop_assert!(store.failure().is_none());
            let len = store.file_len();
            let live_bytes = store.live.bytes;
            drop(store);
            let expect = |out: &[(u16, String, bool, bool)], inc: &BTreeSet<u16>| {
                let o: Vec<(u16, Vec<u8>, bool)> =
                    out.iter().map(|o| (o.0, o.1.clone().into_bytes(), o.3)).collect();
                (o, inc.iter().copied().collect::<Vec<u16>>())
            };
            let read = |saved: SavedSession| {
                let o: Vec<(u16, Vec<u8>, bool)> = saved
                    .outgoing
                    .iter()
                    .map(|(p, r)| (p.packet_id.unwrap().get(), p.payload.to_vec(), *r))
                    .collect();
                (o, saved.incoming.iter().map(|i| i.get()).collect::<Vec<u16>>())
            };
            // The file as the store left it (opening rewrites it).
            let bytes = fs::read(dir.file()).unwrap();
            prop_assert_eq!(bytes.len() as u64, len);
            let (reopened, saved) = FileStore::open(&dir.file(), V5).unwrap();
            prop_assert_eq!(read(saved.unwrap()), expect(&out, &inc));
            // The size the store kept of what is in flight is the size of
            // the file that holds just that (what compaction compares).
            prop_assert_eq!(reopened.file_len(), HEADER_LEN + live_bytes);
            drop(reopened);
            // A crash in the middle of the last record (when the file was
            // not rewritten by it): the state before it.
            let (len_before, out_before, inc_before) = before_last;
            if len_before < len && !ops.is_empty() {
                let at = len_before + (cut as u64 % (len - len_before));
                fs::write(dir.file(), &bytes[..at as usize]).unwrap();
                prop_assert_eq!(read(reopen(&dir)), expect(&out_before, &inc_before));
            }
        }
    }
}
