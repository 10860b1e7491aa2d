//! The workloads of issue #7 and their parameters.

use serde::{Deserialize, Serialize};

/// The topic every workload publishes to (W5 and W5b use one topic per
/// client).
pub(crate) const TOPIC: &str = "bench/t";

/// QoS 1/2 messages awaiting acknowledgement at once, the same for every
/// client (sansmqtt `max_inflight`, rumqttc `set_inflight`, paho
/// `max_inflight`, `mosquitto_pub -M`).
pub(crate) const INFLIGHT: u16 = 100;

/// A workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum Workload {
    /// QoS 0 throughput: one publisher, one subscriber.
    W1,
    /// QoS 1 throughput.
    W2,
    /// QoS 2 throughput.
    W3,
    /// Latency: QoS 0 to the client's own subscription, one at a time.
    W4,
    /// Many connections: each connects, publishes QoS 1 one message at a
    /// time (awaiting each acknowledgement), disconnects.
    W5,
    /// W5 in a burst: each client sends its QoS 1 publishes at once, then
    /// awaits their acknowledgements.
    W5b,
    /// Fan-out: one publisher, many subscribers, QoS 1.
    W6,
    /// Large payloads: 1 MiB QoS 1 messages.
    W7,
}

/// What a workload does, in numbers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Params {
    /// Messages published (per client for W5 and W5b).
    pub(crate) n: usize,
    /// Payload size in bytes.
    pub(crate) payload: usize,
    /// QoS of every publish.
    pub(crate) qos: u8,
    /// Publishing clients (W5, W5b), else 1.
    pub(crate) clients: usize,
    /// Subscribing clients (W6), else 1 (0 for W5 and W5b, which have none).
    pub(crate) subscribers: usize,
}

impl Params {
    /// Deliveries the subscribers must see.
    pub(crate) fn deliveries(&self) -> u64 {
        (self.n * self.clients * self.subscribers) as u64
    }
}

impl Workload {
    /// Every workload, in order.
    pub(crate) const ALL: [Workload; 8] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W5b,
        Workload::W6,
        Workload::W7,
    ];

    /// Parses `w1`..`w7` and `w5b`.
    pub(crate) fn parse(s: &str) -> Option<Workload> {
        Self::ALL
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(s))
    }

    /// `W1`..`W7`, `W5b`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W5b => "W5b",
            Workload::W6 => "W6",
            Workload::W7 => "W7",
        }
    }

    /// One line saying what it measures.
    pub(crate) fn title(self, p: &Params) -> String {
        match self {
            Workload::W1 => format!("W1 QoS 0 throughput, {} x {} B", p.n, p.payload),
            Workload::W2 => format!("W2 QoS 1 throughput, {} x {} B", p.n, p.payload),
            Workload::W3 => format!("W3 QoS 2 throughput, {} x {} B", p.n, p.payload),
            Workload::W4 => format!("W4 QoS 0 round-trip latency, {} x {} B", p.n, p.payload),
            Workload::W5 => format!(
                "W5 {} connections x {} QoS 1 publishes, one at a time",
                p.clients, p.n
            ),
            Workload::W5b => format!(
                "W5b {} connections x {} QoS 1 publishes, all at once",
                p.clients, p.n
            ),
            Workload::W6 => format!(
                "W6 fan-out QoS 1, {} x {} B to {} subscribers",
                p.n, p.payload, p.subscribers
            ),
            Workload::W7 => format!("W7 QoS 1 large payloads, {} x {} B", p.n, p.payload),
        }
    }

    /// The parameters; `quick` only checks that the workload runs.
    pub(crate) fn params(self, quick: bool) -> Params {
        let one = |n: usize, quick_n: usize, payload: usize, qos: u8| Params {
            n: if quick { quick_n } else { n },
            payload,
            qos,
            clients: 1,
            subscribers: 1,
        };
        match self {
            Workload::W1 => one(200_000, 2_000, 64, 0),
            Workload::W2 => one(100_000, 1_000, 64, 1),
            Workload::W3 => one(30_000, 300, 64, 2),
            Workload::W4 => one(20_000, 200, 64, 0),
            Workload::W5 | Workload::W5b => Params {
                n: if quick { 2 } else { 20 },
                payload: 64,
                qos: 1,
                clients: if quick { 20 } else { 500 },
                subscribers: 0,
            },
            Workload::W6 => Params {
                n: if quick { 200 } else { 20_000 },
                payload: 64,
                qos: 1,
                clients: 1,
                subscribers: if quick { 5 } else { 50 },
            },
            Workload::W7 => one(200, 5, 1 << 20, 1),
        }
    }
}
