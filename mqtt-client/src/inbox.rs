//! Delivery: messages decoded but not yet handed to their receivers (the
//! routes [`Routing`] picks, or `deliver_message`'s queue), and the
//! acknowledgement each one releases once delivered.
//!
//! Backpressure: a message waits while one of its receivers is full, and
//! the driver stops reading the socket when too many wait, so QoS 1 and 2
//! acknowledgements are withheld and the broker slows down. Under
//! [`Qos0Overflow::Drop`] a QoS 0 copy for a full receiver is dropped
//! instead (counted).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::Context;
use std::time::Instant;

use sansmqtt_proto::QoS;
use sansmqtt_session::{AckId, Session};

use crate::Message;
use crate::chan;
use crate::client::Counters;
use crate::config::Qos0Overflow;
use crate::persist::FileStore;
use crate::routing::{Destination, Routing};

/// A route's receiver.
pub(crate) type RouteSender = chan::Sender<Message>;

/// Messages waiting for room in their receivers.
pub(crate) struct Inbox {
    queue: VecDeque<(Message, Option<AckId>)>,
    /// Scratch buffer of route indexes, reused for every message.
    targets: Vec<usize>,
    /// `deliver_message`'s queue.
    deliver: chan::Sender<Message>,
    /// QoS 0 copies are being dropped: set by a drop, cleared by a drain
    /// that delivers messages and drops none.
    dropping: bool,
}

impl Inbox {
    pub(crate) fn new(deliver: chan::Sender<Message>) -> Self {
        Self {
            queue: VecDeque::new(),
            targets: Vec::new(),
            deliver,
            dropping: false,
        }
    }

    /// A message from the session; `ack` is sent once it is delivered.
    pub(crate) fn push(&mut self, message: Message, ack: Option<AckId>) {
        self.queue.push_back((message, ack));
    }

    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The client stops: `deliver_message` ends once its queue is empty.
    pub(crate) fn close(&self) {
        self.deliver.close_channel();
    }

    /// Hands messages to their receivers, in order; `false` if one is
    /// full (then the driver reads less: backpressure, acks withheld).
    pub(crate) fn drain(
        &mut self,
        cx: &mut Context<'_>,
        routing: &Routing<RouteSender>,
        session: &mut Session<Option<FileStore>>,
        overflow: Qos0Overflow,
        counters: &Counters,
        now: Instant,
    ) -> bool {
        // On the session's time line once, not per message.
        let now = crate::clock::session_time(now);
        let (mut dropped_now, mut delivered_now) = (false, false);
        while let Some((message, _)) = self.queue.front() {
            let targets = &mut self.targets;
            // MQTT 5: the copy is for the subscriptions it names.
            let sids = &message.properties().subscription_identifiers;
            let destination =
                routing.destination(message.topic(), sids, |s| !s.is_closed(), targets);
            // Every receiver must have room before the message is delivered,
            // so that no copy is sent twice. A full receiver makes the
            // driver wait, or, for QoS 0 under `Qos0Overflow::Drop`, loses
            // its copy (counted).
            let may_drop = overflow == Qos0Overflow::Drop && message.qos() == QoS::AtMostOnce;
            let mut dropped = 0u64;
            let mut to_deliver = destination == Destination::Default;
            if to_deliver {
                if self.deliver.poll_ready(cx).is_pending() {
                    if !may_drop {
                        return false;
                    }
                    to_deliver = false;
                    dropped += 1;
                }
            } else {
                let mut full = false;
                targets.retain(|&i| {
                    if routing.sender(i).poll_ready(cx).is_ready() {
                        return true;
                    }
                    if may_drop {
                        dropped += 1;
                        false
                    } else {
                        full = true;
                        true
                    }
                });
                if full {
                    return false;
                }
            }
            if dropped > 0 {
                counters.qos0_dropped.fetch_add(dropped, Ordering::Relaxed);
                self.dropping = true;
                dropped_now = true;
            }
            let Some((mut message, ack)) = self.queue.pop_front() else {
                break;
            };
            // While copies are dropped, those that get through are
            // scattered, about one per read buffer: each would keep its
            // whole buffer while it waits in a full receiver (1,024 x
            // 192 KiB). They get memory of their own instead (a copy per
            // message delivered, at the pace of the full receiver).
            let delivered = to_deliver || !self.targets.is_empty();
            delivered_now |= delivered;
            if self.dropping && delivered {
                message = message.detached();
            }
            match self.targets.split_last() {
                None if to_deliver => {
                    let _ = self.deliver.try_send(message);
                }
                None => {}
                Some((&last, others)) => {
                    for &i in others {
                        let _ = routing.sender(i).try_send(message.clone());
                    }
                    // The last receiver takes the message itself: no copy.
                    let _ = routing.sender(last).try_send(message);
                }
            }
            if let Some(ack) = ack {
                let _ = session.ack(ack, now);
            }
        }
        if delivered_now && !dropped_now {
            self.dropping = false;
        }
        true
    }
}
