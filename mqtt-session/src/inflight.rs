//! Packet identifiers and what waits for an acknowledgement under each.
//!
//! A slab indexed by packet identifier: O(1) allocation, lookup and
//! release, memory bounded by the window. Identifiers are never reused while
//! in flight [MQTT-2.3.1-2]; the cursor cycles through the window so that an
//! identifier just released is not the next one handed out.

use alloc::boxed::Box;
use alloc::vec::Vec;
use sansmqtt_proto::{PacketId, Publish};

use crate::Token;

/// Stage of an outgoing QoS 1 or 2 publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// QoS 1, PUBLISH sent, waiting for PUBACK.
    Qos1Sent,
    /// QoS 2, PUBLISH sent, waiting for PUBREC.
    Qos2Sent,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    Released,
}

/// An outgoing publish awaiting acknowledgement.
#[derive(Debug, Clone)]
pub(crate) struct OutFlight {
    pub(crate) token: Token,
    /// Order of first transmission, for redelivery in the original order [MQTT-4.6.0-1].
    pub(crate) seq: u64,
    pub(crate) stage: Stage,
    /// The publish as the application gave it (full topic, packet id set).
    pub(crate) publish: Publish,
}

/// What a packet identifier is in use for.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Publish(OutFlight),
    Subscribe { token: Token, filters: usize },
    Unsubscribe { token: Token, filters: usize },
}

#[derive(Debug)]
pub(crate) struct Slots {
    slots: Vec<Option<Slot>>,
    /// Identifiers are taken from 1..=window.
    window: u16,
    cursor: u16,
    used: usize,
}

impl Slots {
    pub(crate) fn new(window: u16) -> Self {
        Self {
            slots: Vec::new(),
            window: window.max(1),
            cursor: 0,
            used: 0,
        }
    }

    /// A free identifier, or `None` if the whole window is in use.
    pub(crate) fn allocate(&mut self, slot: Slot) -> Option<PacketId> {
        if self.used >= usize::from(self.window) {
            return None;
        }
        // Nothing in flight: start again from 1, so that a client with one
        // request at a time keeps one slot, not a window's worth of them
        // (an identifier is free again once acknowledged, MQTT-2.2.1-3).
        if self.used == 0 {
            self.cursor = 0;
        }
        loop {
            self.cursor = if self.cursor >= self.window {
                1
            } else {
                self.cursor + 1
            };
            let i = usize::from(self.cursor);
            if self.slots.len() <= i {
                self.slots.resize_with(i + 1, || None);
            }
            if self.slots[i].is_none() {
                self.slots[i] = Some(slot);
                self.used += 1;
                return PacketId::new(self.cursor);
            }
        }
    }

    /// Nothing in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Puts a slot under a given identifier (a restored session); false if
    /// the identifier is taken.
    pub(crate) fn insert_at(&mut self, id: PacketId, slot: Slot) -> bool {
        let i = usize::from(id.get());
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].is_some() {
            return false;
        }
        self.slots[i] = Some(slot);
        self.used += 1;
        true
    }

    /// The slot under an identifier.
    pub(crate) fn get_mut(&mut self, id: PacketId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::from(id.get()))?.as_mut()
    }

    pub(crate) fn remove(&mut self, id: PacketId) -> Option<Slot> {
        let slot = self.slots.get_mut(usize::from(id.get()))?.take();
        if slot.is_some() {
            self.used -= 1;
        }
        slot
    }

    /// Removes and returns every slot for which `take` is true.
    pub(crate) fn drain_where(
        &mut self,
        mut take: impl FnMut(&Slot) -> bool,
    ) -> Vec<(PacketId, Slot)> {
        let mut out = Vec::new();
        for (i, entry) in self.slots.iter_mut().enumerate() {
            if entry.as_ref().is_some_and(&mut take)
                && let (Some(slot), Some(id)) = (entry.take(), PacketId::new(i as u16))
            {
                self.used -= 1;
                out.push((id, slot));
            }
        }
        out
    }

    /// The outgoing publishes, in the order they were first sent.
    pub(crate) fn publishes_in_order(&self) -> Vec<PacketId> {
        let mut v: Vec<(u64, PacketId)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(Slot::Publish(f)) => PacketId::new(i as u16).map(|id| (f.seq, id)),
                _ => None,
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }
}

/// A set of packet identifiers (incoming QoS 2 awaiting PUBREL): 8 KiB
/// bitmap allocated on first use.
#[derive(Debug, Default)]
pub(crate) struct IdSet {
    bits: Option<Box<[u64; 1024]>>,
    len: usize,
}

impl IdSet {
    pub(crate) fn contains(&self, id: PacketId) -> bool {
        let i = usize::from(id.get());
        self.bits
            .as_ref()
            .is_some_and(|b| b[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Inserts; returns false if it was present.
    pub(crate) fn insert(&mut self, id: PacketId) -> bool {
        let i = usize::from(id.get());
        let bits = self.bits.get_or_insert_with(|| Box::new([0; 1024]));
        let was = bits[i / 64] & (1 << (i % 64)) != 0;
        bits[i / 64] |= 1 << (i % 64);
        if !was {
            self.len += 1;
        }
        !was
    }

    /// Removes; returns true if it was present.
    pub(crate) fn remove(&mut self, id: PacketId) -> bool {
        let i = usize::from(id.get());
        match self.bits.as_mut() {
            Some(bits) if bits[i / 64] & (1 << (i % 64)) != 0 => {
                bits[i / 64] &= !(1 << (i % 64));
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        if let Some(bits) = self.bits.as_mut() {
            bits.fill(0);
        }
        self.len = 0;
    }
}
