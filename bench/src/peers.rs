//! The clients measured, and the dispatch of one run to its implementation.

use crate::outcome::Outcome;
use crate::workload::{Params, Workload};

/// A client measured by the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Peer {
    /// sansmqtt on tokio.
    SansTokio,
    /// sansmqtt on async-std.
    SansAsyncStd,
    /// sansmqtt on smol.
    SansSmol,
    /// sansmqtt on tokio with its session in a file (`persistence`): what
    /// session persistence costs the publisher, on the QoS 1/2 workloads.
    SansTokioFile,
    /// rumqttc (tokio), the reference of every ratio.
    Rumqttc,
    /// paho-mqtt (Rust over the Paho C library), with the `paho` feature.
    Paho,
    /// mosquitto's own C clients (`mosquitto_pub -l`, `mosquitto_sub -C`).
    MosquittoC,
}

impl Peer {
    /// Every peer, in report order.
    pub(crate) const ALL: [Peer; 7] = [
        Peer::SansTokio,
        Peer::SansAsyncStd,
        Peer::SansSmol,
        Peer::SansTokioFile,
        Peer::Rumqttc,
        Peer::Paho,
        Peer::MosquittoC,
    ];

    /// Its name on the command line and in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::SansTokio => "sansmqtt-tokio",
            Peer::SansAsyncStd => "sansmqtt-async-std",
            Peer::SansSmol => "sansmqtt-smol",
            Peer::SansTokioFile => "sansmqtt-tokio+file",
            Peer::Rumqttc => "rumqttc",
            Peer::Paho => "paho",
            Peer::MosquittoC => "mosquitto-c",
        }
    }

    /// Parses a name.
    pub(crate) fn parse(s: &str) -> Option<Peer> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether this build can run it, and on which workloads.
    pub(crate) fn supports(self, w: Workload) -> bool {
        match self {
            // The Paho C library stalls above about 350 connections in one
            // process (connects hang after ~250 of 400; docs/benchmarks.md),
            // so W5's 500 are not run for it (nor W5b's, the same 500).
            Peer::Paho => cfg!(feature = "paho") && !matches!(w, Workload::W5 | Workload::W5b),
            // Persistence is of QoS 1 and 2 publishes.
            Peer::SansTokioFile => {
                matches!(w, Workload::W2 | Workload::W3 | Workload::W6 | Workload::W7)
            }
            // The C clients measure throughput only.
            Peer::MosquittoC => {
                matches!(w, Workload::W1 | Workload::W2 | Workload::W3 | Workload::W6)
            }
            _ => true,
        }
    }

    /// Runs `workload` in this (child) process against the broker on `port`.
    pub(crate) fn run(self, workload: Workload, p: &Params, port: u16) -> Result<Outcome, String> {
        match self {
            Peer::SansTokio => crate::sans::run_tokio(workload, p, port),
            Peer::SansAsyncStd => crate::sans::run_async_std(workload, p, port),
            Peer::SansSmol => crate::sans::run_smol(workload, p, port),
            Peer::SansTokioFile => crate::sans::run_tokio_file(workload, p, port),
            Peer::Rumqttc => crate::rumq::run(workload, p, port),
            #[cfg(feature = "paho")]
            Peer::Paho => crate::paho::run(workload, p, port),
            #[cfg(not(feature = "paho"))]
            Peer::Paho => Err("built without the `paho` feature".into()),
            Peer::MosquittoC => crate::mosq_c::run(workload, p, port),
        }
    }
}

/// The runtime of every tokio client (sansmqtt-tokio and rumqttc alike):
/// multi-thread, two workers.
pub(crate) fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}
