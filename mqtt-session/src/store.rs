//! Where in-flight state changes go, so that a session can be persisted.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use sansmqtt_proto::{PacketId, Publish};

/// Receives every change of the in-flight state of a session, in order.
/// An implementation can write them to disk so that a session survives a
/// process restart: what it read back goes into the next process's session
/// as a [`SavedSession`] ([`Session::restore`](crate::Session::restore)).
/// The session keeps its own state in memory and never reads the store.
///
/// Each call comes before the packet it describes is handed to the
/// transport ([`Session::poll_transmit`](crate::Session::poll_transmit)), so
/// a store that has written the record when the call returns never misses
/// a PUBLISH that reached the broker. A session that is given up
/// ([`Session::abandon`](crate::Session::abandon)) makes no calls: what was
/// in flight stays recorded, to be resumed.
pub trait SessionStore {
    /// An outgoing QoS 1 or 2 PUBLISH got its packet identifier and was sent.
    fn publish_sent(&mut self, packet_id: PacketId, publish: &Publish);
    /// PUBREC arrived for an outgoing QoS 2 PUBLISH; PUBREL was sent.
    fn publish_released(&mut self, packet_id: PacketId);
    /// An outgoing PUBLISH left the session (acknowledged or failed).
    fn publish_completed(&mut self, packet_id: PacketId);
    /// An incoming QoS 2 PUBLISH was acknowledged with PUBREC.
    fn incoming_received(&mut self, packet_id: PacketId);
    /// PUBREL arrived for an incoming QoS 2 PUBLISH; PUBCOMP was sent.
    fn incoming_released(&mut self, packet_id: PacketId);
    /// The broker started a new session: all state is gone.
    fn cleared(&mut self);
}

/// Forwards to the store when there is one; `None` records nothing.
impl<S: SessionStore> SessionStore for Option<S> {
    fn publish_sent(&mut self, packet_id: PacketId, publish: &Publish) {
        if let Some(s) = self {
            s.publish_sent(packet_id, publish);
        }
    }
    fn publish_released(&mut self, packet_id: PacketId) {
        if let Some(s) = self {
            s.publish_released(packet_id);
        }
    }
    fn publish_completed(&mut self, packet_id: PacketId) {
        if let Some(s) = self {
            s.publish_completed(packet_id);
        }
    }
    fn incoming_received(&mut self, packet_id: PacketId) {
        if let Some(s) = self {
            s.incoming_received(packet_id);
        }
    }
    fn incoming_released(&mut self, packet_id: PacketId) {
        if let Some(s) = self {
            s.incoming_released(packet_id);
        }
    }
    fn cleared(&mut self) {
        if let Some(s) = self {
            s.cleared();
        }
    }
}

/// The in-flight state of a session as a store recorded it, to resume the
/// session in a new process with [`Session::restore`](crate::Session::restore).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedSession {
    /// Outgoing QoS 1 and 2 publishes, each with its packet identifier set,
    /// in the order they were first sent, with `true` once released (PUBREC
    /// received, PUBREL sent; QoS 2 only).
    pub outgoing: Vec<(Publish, bool)>,
    /// Incoming QoS 2 packet identifiers acknowledged with PUBREC and
    /// awaiting PUBREL.
    pub incoming: Vec<PacketId>,
}

impl SavedSession {
    /// Nothing in flight.
    pub fn is_empty(&self) -> bool {
        self.outgoing.is_empty() && self.incoming.is_empty()
    }
}

/// The default: the state lives in the session's memory only, and the
/// changes are not recorded anywhere else.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemory;

impl SessionStore for InMemory {
    fn publish_sent(&mut self, _: PacketId, _: &Publish) {}
    fn publish_released(&mut self, _: PacketId) {}
    fn publish_completed(&mut self, _: PacketId) {}
    fn incoming_received(&mut self, _: PacketId) {}
    fn incoming_released(&mut self, _: PacketId) {}
    fn cleared(&mut self) {}
}

/// A store that mirrors the in-flight state in maps (for inspection, tests,
/// or as the model of a persistent store).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// Outgoing publishes by packet identifier, with `true` once released (PUBREL sent).
    pub outgoing: BTreeMap<PacketId, (Publish, bool)>,
    /// Incoming QoS 2 packet identifiers awaiting PUBREL.
    pub incoming: BTreeSet<PacketId>,
}

impl SessionStore for MemoryStore {
    fn publish_sent(&mut self, packet_id: PacketId, publish: &Publish) {
        self.outgoing.insert(packet_id, (publish.clone(), false));
    }
    fn publish_released(&mut self, packet_id: PacketId) {
        if let Some(entry) = self.outgoing.get_mut(&packet_id) {
            entry.1 = true;
        }
    }
    fn publish_completed(&mut self, packet_id: PacketId) {
        self.outgoing.remove(&packet_id);
    }
    fn incoming_received(&mut self, packet_id: PacketId) {
        self.incoming.insert(packet_id);
    }
    fn incoming_released(&mut self, packet_id: PacketId) {
        self.incoming.remove(&packet_id);
    }
    fn cleared(&mut self) {
        self.outgoing.clear();
        self.incoming.clear();
    }
}
