//! A half-open link (the proxy stops relaying both ways, no RST, no FIN)
//! under `sansmqtt sub -k 5`: noticed, and a new connection open, within
//! 1.5 x Keep Alive (the bound a server keeps for its clients,
//! MQTT-3.1.2-24), and the messages flow again.

use std::path::Path;
use std::time::Duration;

use sansmqtt_faults::halfopen::HalfOpen;
use sansmqtt_faults::peer::{Bins, Peer};

#[test]
fn a_stalled_link_is_noticed_within_one_and_a_half_keep_alive() {
    let bins = Bins::find(Path::new(env!("CARGO_BIN_EXE_sansmqtt-faults"))).unwrap();
    let h = HalfOpen {
        peer: Peer::Sansmqtt,
        keep_alive: 5,
        stalls: 2,
        seed: 31,
    };
    let stalls = h.run(&bins).unwrap();
    assert_eq!(stalls.len(), 2);
    for s in stalls {
        let noticed = s.noticed.expect("noticed");
        assert!(noticed <= Duration::from_millis(7_500), "{s:?}");
        assert!(s.recovered.is_some(), "{s:?}");
    }
}
