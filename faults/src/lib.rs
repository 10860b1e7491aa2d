//! Fault runs of issue #16: what holds when links are reset, stall or
//! trickle, brokers restart, publisher processes crash and brokers flood,
//! for sansmqtt and, side by side, mosquitto's C clients and rumqttc.
//!
//! - [`proxy::FaultProxy`]: the fault-injecting TCP proxy.
//! - [`exchange`]: numbered messages from a publisher process to a
//!   subscriber process, counted (lost, duplicated, out of order).
//! - [`cuts`], [`restarts`], [`halfopen`]: the runs; [`report`]: their figures.
//! - [`crashes`]: publisher process crashes with file persistence, and
//!   their figures.
//! - [`peer`]: the clients tried; [`rumqttc_peer`]: the rumqttc programs.
//! - [`flood`]: a broker that floods a slowly read client, its memory measured.
//!
//! `cargo run -p sansmqtt-faults --release -- all` runs every fault at its
//! full size and prints the figures of `docs/reliability.md`; the tests of
//! this crate run each at a small size (`scripts/test`).

pub mod broker_log;
pub mod crashes;
pub mod cuts;
pub mod exchange;
pub mod flags;
pub mod flood;
pub mod halfopen;
pub mod peer;
pub mod proxy;
pub mod report;
pub mod restarts;
pub mod rumqttc_peer;

#[path = "../../mqtt-client/tests/support/mod.rs"]
mod support;
