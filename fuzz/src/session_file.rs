//! The check behind the `session_file` fuzz target: the reader of the
//! client's session files (config key `persistence`,
//! `sansmqtt::persist::read`) on any bytes.
//!
//! Input layout: byte 0 chooses the protocol version (its value modulo 3:
//! 3.1, 3.1.1, 5), the rest is the file.
//!
//! Asserted, whatever the input:
//! - nothing panics, and a file that is not a session file of that version
//!   is an `InvalidData` error;
//! - what `read` accepts, `write` turns into a file that `read` gives back
//!   the same (the state is what the records left, not their history);
//! - a new session of that version whose options resume sessions restores
//!   it without error (what the client does at `connect`), and once
//!   connected with the session present transmits only valid client
//!   packets: every restored publish, and a PUBREL for each released one.

use sansmqtt_session::Instant;

use bytes::BytesMut;
use sansmqtt::persist;
use sansmqtt_proto::{ConnAck, ConnectReason, Decoder, Packet, ProtocolVersion};
use sansmqtt_session::{Session, SessionOptions};

use crate::VERSIONS;

/// Reads `data[1..]` as a session file of the version `data[0]` picks and
/// checks what it gives (see the module documentation).
pub fn check_session_file(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let version = VERSIONS[usize::from(pick) % VERSIONS.len()];
    let saved = match persist::read(file, version) {
        Ok(saved) => saved,
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
            return;
        }
    };
    let again = persist::write(&saved, version).expect("a state read writes");
    assert_eq!(
        persist::read(&again, version).expect("what write wrote reads"),
        saved
    );

    let mut options = SessionOptions::new("fuzz".try_into().expect("client id"));
    options.version = version;
    options.clean_start = false;
    if version.is_v5() {
        options.properties.session_expiry_interval = Some(60);
    }
    let mut session = Session::new(options);
    let tokens = session
        .restore(saved.clone())
        .expect("a read state restores");
    assert_eq!(tokens.len(), saved.outgoing.len());
    let now = Instant::from_secs(1); // simulated time
    session.connect(now).expect("connect");
    let mut ack = BytesMut::new();
    Packet::ConnAck(ConnAck::new(true, ConnectReason::Success))
        .encode(version, &mut ack)
        .expect("CONNACK");
    session.handle_input(&ack, now);
    let mut wire = Decoder::new(version);
    let (mut publishes, mut releases) = (0, 0);
    while let Some(bytes) = session.poll_transmit() {
        wire.feed(&bytes);
        while let Some(p) = wire.decode().expect("the session sends valid packets") {
            match p {
                Packet::Publish(p) => {
                    assert!(p.dup, "a resent PUBLISH has DUP");
                    publishes += 1;
                }
                Packet::PubRel(_) => releases += 1,
                _ => {}
            }
        }
    }
    let released = saved.outgoing.iter().filter(|(_, r)| *r).count();
    // Receive Maximum is not announced: every publish goes at once.
    assert_eq!(
        (publishes, releases),
        (saved.outgoing.len() - released, released)
    );
}

/// The session files of the seed corpus: one per version, with QoS 1 and 2
/// publishes (one released) and incoming QoS 2 identifiers; the first byte
/// picks the version as [`check_session_file`] reads it.
pub fn seed_files() -> Vec<(&'static str, Vec<u8>)> {
    use sansmqtt_proto::{PacketId, Publish, QoS, TopicName};
    use sansmqtt_session::SavedSession;

    let id = |n| PacketId::new(n).expect("non-zero");
    let topic = |t| TopicName::try_from(t).expect("topic");
    let mut v5_publish = Publish::with_qos(topic("s/v5"), &b"payload"[..], QoS::ExactlyOnce, id(7));
    v5_publish.properties.content_type = Some("text/plain".try_into().expect("string"));
    let names = ["file_v31", "file_v311", "file_v5"];
    VERSIONS
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (&version, name))| {
            let mut outgoing = vec![
                (
                    Publish::with_qos(topic("s/1"), &b"one"[..], QoS::AtLeastOnce, id(3)),
                    false,
                ),
                (
                    Publish::with_qos(topic("s/2"), &b"two"[..], QoS::ExactlyOnce, id(1)),
                    true,
                ),
            ];
            if version == ProtocolVersion::V5 {
                outgoing.push((v5_publish.clone(), false));
            }
            let saved = SavedSession {
                outgoing,
                incoming: vec![id(2), id(9)],
            };
            let mut data = vec![i as u8];
            data.extend(persist::write(&saved, version).expect("seed"));
            (name, data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_pass_and_read_back_whole() {
        for (name, data) in seed_files() {
            check_session_file(&data);
            let version = VERSIONS[usize::from(data[0]) % 3];
            let saved = persist::read(&data[1..], version).unwrap();
            assert_eq!(saved.incoming.len(), 2, "{name}");
            assert!(saved.outgoing.len() >= 2, "{name}");
            // Cut anywhere: still no panic, and never more than was there.
            for cut in 1..data.len() {
                check_session_file(&data[..cut]);
            }
        }
    }
}
