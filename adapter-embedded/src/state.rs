//! The state a client and its connection share, and the memory it lives in.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::task::Waker;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::signal::Signal;
use embassy_sync::waitqueue::WakerRegistration;
use heapless::Deque;
use sansmqtt_proto::{QoS, SubAckReason, UnsubAckReason};
use sansmqtt_session::{
    CloseReason, Event, Message, PublishDone, PublishError, RequestError, Session, Token,
};

use sansmqtt_session::Instant;

/// The memory of one client: its read buffer of `RX` bytes, its queue of
/// `QUEUE` received messages and `REQUESTS` slots for publish, subscribe
/// and unsubscribe requests awaiting their outcome, plus the session once
/// [`new`](crate::new) has built it. Like embassy-net's `StackResources`,
/// it is meant for a `static` (e.g. a `StaticCell`), so that none of this
/// sits on a task's stack; [`new`](crate::new) borrows it mutably for as
/// long as the client lives.
///
/// `M` is the [`RawMutex`] guarding the shared state, as in embassy-sync:
/// `NoopRawMutex` when the client and the connection run on one executor,
/// `CriticalSectionRawMutex` when they are used from several (or from
/// interrupts).
pub struct Resources<M: RawMutex, const RX: usize, const QUEUE: usize, const REQUESTS: usize> {
    pub(crate) shared: Option<Shared<M, QUEUE, REQUESTS>>,
    pub(crate) rx: [u8; RX],
}

impl<M: RawMutex, const RX: usize, const QUEUE: usize, const REQUESTS: usize>
    Resources<M, RX, QUEUE, REQUESTS>
{
    /// Empty resources; the session is built by [`new`](crate::new).
    pub const fn new() -> Self {
        Self {
            shared: None,
            rx: [0; RX],
        }
    }
}

impl<M: RawMutex, const RX: usize, const QUEUE: usize, const REQUESTS: usize> Default
    for Resources<M, RX, QUEUE, REQUESTS>
{
    fn default() -> Self {
        Self::new()
    }
}

/// What the client and the connection share.
pub(crate) struct Shared<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> {
    inner: Mutex<M, RefCell<Inner<QUEUE, REQUESTS>>>,
    /// Something for the connection to do: bytes to send (a request), or
    /// room in the message queue after a pause.
    pub(crate) wake_connection: Signal<M, ()>,
}

impl<M: RawMutex, const QUEUE: usize, const REQUESTS: usize> Shared<M, QUEUE, REQUESTS> {
    pub(crate) fn new(session: Session, max_packet_size: u32) -> Self {
        Self {
            inner: Mutex::new(RefCell::new(Inner {
                session,
                max_packet_size,
                queue: Deque::new(),
                overflow: VecDeque::new(),
                receivers: WakerSet::default(),
                slots: core::array::from_fn(|_| Slot::Free),
                slot_waiters: WakerSet::default(),
                connected_waiters: WakerSet::default(),
            })),
            wake_connection: Signal::new(),
        }
    }

    /// Runs `f` on the shared state, under the lock. `f` must not lock
    /// again (it cannot: it has no `Shared`).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner<QUEUE, REQUESTS>) -> T) -> T {
        self.inner.lock(|cell| f(&mut cell.borrow_mut()))
    }
}

/// The outcome of a request, for the future awaiting it.
#[derive(Debug)]
pub(crate) enum Outcome {
    Published(Result<PublishDone, PublishError>),
    Subscribed(Result<Vec<Result<QoS, SubAckReason>>, RequestError>),
    Unsubscribed(Result<Vec<UnsubAckReason>, RequestError>),
}

/// One request slot.
#[derive(Debug)]
pub(crate) enum Slot {
    Free,
    /// Taken by a request future that has not started its request yet.
    Reserved,
    /// The request with this token waits for its outcome.
    Waiting {
        token: Token,
        waker: WakerRegistration,
    },
    /// The outcome, for the request future to take.
    Done(Outcome),
}

/// Wakers of the futures waiting for one thing (a message, a free slot):
/// all are woken together, each registers once however often it is polled.
#[derive(Debug, Default)]
pub(crate) struct WakerSet(Vec<Waker>);

impl WakerSet {
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.0.iter().any(|w| w.will_wake(waker)) {
            self.0.push(waker.clone());
        }
    }

    pub(crate) fn wake_all(&mut self) {
        for waker in self.0.drain(..) {
            waker.wake();
        }
    }
}

/// The shared state proper.
pub(crate) struct Inner<const QUEUE: usize, const REQUESTS: usize> {
    pub(crate) session: Session,
    /// Bound of outgoing packets ([`crate::Config::max_packet_size`]).
    pub(crate) max_packet_size: u32,
    /// Received messages for [`crate::Client::deliver_message`].
    queue: Deque<Message, QUEUE>,
    /// Messages decoded while `queue` was full: at most what one read of
    /// the read buffer held, since the connection stops reading while any
    /// wait here.
    overflow: VecDeque<Message>,
    pub(crate) receivers: WakerSet,
    pub(crate) slots: [Slot; REQUESTS],
    pub(crate) slot_waiters: WakerSet,
    /// Waiting for CONNACK (`Session::is_connected` says whether it came).
    pub(crate) connected_waiters: WakerSet,
}

impl<const QUEUE: usize, const REQUESTS: usize> Inner<QUEUE, REQUESTS> {
    /// Hands out what the session reported: messages to the queue,
    /// outcomes to their requests. Returns why the connection closed, if
    /// it did.
    pub(crate) fn dispatch(&mut self, now: Instant) -> Option<CloseReason> {
        self.refill(now);
        let mut closed = None;
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected(_) => self.connected_waiters.wake_all(),
                Event::Message(message) => self.push_message(message, now),
                Event::Published { token, result } => {
                    self.complete(token, Outcome::Published(result));
                }
                Event::Subscribed { token, result, .. } => {
                    self.complete(token, Outcome::Subscribed(result));
                }
                Event::Unsubscribed { token, result, .. } => {
                    self.complete(token, Outcome::Unsubscribed(result));
                }
                // Pings here are the session's keep-alive; enhanced
                // authentication is not offered (no Authentication Method
                // can be set without answering its challenges), so the
                // session never reports AUTH.
                Event::Pong | Event::Auth(_) | Event::AuthSuccess { .. } => {}
                Event::Closed(reason) => closed = Some(reason),
            }
        }
        closed
    }

    /// A received message into the queue, or behind it when it is full
    /// (then the connection stops reading: backpressure).
    fn push_message(&mut self, message: Message, now: Instant) {
        if self.overflow.is_empty() {
            match self.queue.push_back(message) {
                Ok(()) => {}
                Err(message) => self.overflow.push_back(message),
            }
        } else {
            self.overflow.push_back(message);
        }
        self.receivers.wake_all();
        self.sync_pause(now);
    }

    /// Moves waiting messages into the queue as far as it has room; input
    /// resumes once none waits.
    pub(crate) fn refill(&mut self, now: Instant) {
        while !self.queue.is_full()
            && let Some(message) = self.overflow.pop_front()
        {
            // Room was checked: the push cannot fail.
            let _ = self.queue.push_back(message);
        }
        self.sync_pause(now);
    }

    /// Input is paused exactly while messages wait behind a full queue.
    fn sync_pause(&mut self, now: Instant) {
        match (self.overflow.is_empty(), self.session.is_input_paused()) {
            (false, false) => self.session.pause_input(now),
            (true, true) => self.session.resume_input(now),
            _ => {}
        }
    }

    /// The next received message, if any.
    pub(crate) fn take_message(&mut self, now: Instant) -> Option<Message> {
        let message = self.queue.pop_front()?;
        self.refill(now);
        Some(message)
    }

    /// Whether the connection has to be told that input may resume.
    pub(crate) fn input_paused(&self) -> bool {
        self.session.is_input_paused()
    }

    fn complete(&mut self, token: Token, outcome: Outcome) {
        for slot in &mut self.slots {
            if let Slot::Waiting { token: t, waker } = slot
                && *t == token
            {
                waker.wake();
                *slot = Slot::Done(outcome);
                return;
            }
        }
        // The request's future was dropped: nobody waits for the outcome.
    }

    /// Frees a slot whose future is done with it.
    pub(crate) fn free_slot(&mut self, index: usize) {
        self.slots[index] = Slot::Free;
        self.slot_waiters.wake_all();
    }

    /// Messages waiting for the application.
    pub(crate) fn queued_messages(&self) -> usize {
        self.queue.len() + self.overflow.len()
    }
}
