//! The channels between client handles and the driver, built so that a
//! message costs no heap allocation and no lock: lock-free queues over
//! preallocated rings (`concurrent-queue`) and single-slot wakers
//! (`atomic-waker`).
//!
//! - [`Commands`]: many client handles to the driver, in order (a small
//!   preallocated ring, a large one allocated on the first burst, and past
//!   it an overflow queue).
//! - [`channel`]: the driver to one receiver (a subscription stream or the
//!   `deliver_message` queue), bounded; its ring is allocated by the first
//!   message.
//! - [`ReplyPool`]: where the outcome of a publish comes back; slots are
//!   recycled, so a publish allocates nothing once the pool is warm.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use concurrent_queue::{ConcurrentQueue, PopError, PushError};

/// A bounded lock-free ring allocated on first use, so that a queue that is
/// never used costs nothing (boxed: a `ConcurrentQueue` is 512 bytes even
/// empty). Closing one that was never allocated gives it a closed one-slot
/// ring, so a late sender finds it closed without allocating it in full.
struct LazyRing<T> {
    queue: std::sync::OnceLock<Box<ConcurrentQueue<T>>>,
    capacity: usize,
}

impl<T> LazyRing<T> {
    fn new(capacity: usize) -> Self {
        Self {
            queue: std::sync::OnceLock::new(),
            capacity,
        }
    }

    /// The ring, if allocated.
    fn get(&self) -> Option<&ConcurrentQueue<T>> {
        self.queue.get().map(|q| &**q)
    }

    /// The ring, allocated now if it was not yet.
    fn ring(&self) -> &ConcurrentQueue<T> {
        self.queue
            .get_or_init(|| Box::new(ConcurrentQueue::bounded(self.capacity)))
    }

    fn close(&self) {
        self.queue
            .get_or_init(|| Box::new(ConcurrentQueue::bounded(1)))
            .close();
    }
}

// ------------------------------------------------------------- commands

/// Commands from every client handle to the driver, in the order they were
/// sent: a small preallocated lock-free ring, a larger one allocated the
/// first time the small one is full (a client that never bursts stays
/// cheap: a thousand of them in a process), and past that (a burst faster
/// than the driver) an overflow queue that everything goes to, in order,
/// until the driver has emptied it.
pub(crate) struct Commands<T> {
    /// `rings[0]` (small, at once) then `rings[1]` (large, on demand);
    /// senders push to `rings[active]`, and `active` only ever goes from 0
    /// to 1, so a sender's later command is never in an earlier ring.
    rings: [LazyRing<T>; 2],
    active: AtomicUsize,
    /// The driver, parked on an empty queue.
    driver: AtomicWaker,
    /// Live client handles; the driver ends when it reaches zero.
    handles: AtomicUsize,
    /// Commands sent while the rings were full, oldest first.
    overflow: std::sync::Mutex<std::collections::VecDeque<T>>,
    has_overflow: std::sync::atomic::AtomicBool,
    /// A command the driver took from the large ring while the small one
    /// still held older ones; delivered once the small ring is empty.
    stash: std::sync::Mutex<Option<T>>,
    has_stash: std::sync::atomic::AtomicBool,
}

/// The queue is closed: the driver is gone.
#[derive(Debug)]
pub(crate) struct Closed;

/// Slots of the ring every command queue has from the start.
const SMALL_RING: usize = 4;

impl<T> Commands<T> {
    /// A queue whose rings hold up to `capacity` commands (4 at first).
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        let small = LazyRing::new(SMALL_RING.min(capacity));
        small.ring();
        Arc::new(Self {
            rings: [small, LazyRing::new(capacity)],
            active: AtomicUsize::new(0),
            driver: AtomicWaker::new(),
            handles: AtomicUsize::new(0),
            overflow: std::sync::Mutex::new(std::collections::VecDeque::new()),
            has_overflow: std::sync::atomic::AtomicBool::new(false),
            stash: std::sync::Mutex::new(None),
            has_stash: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Pushes into the active ring, moving on to the large one when the
    /// small one is full.
    fn push_ring(&self, mut command: T) -> Result<(), PushError<T>> {
        let mut i = self.active.load(Ordering::Acquire);
        loop {
            match self.rings[i].ring().push(command) {
                Err(PushError::Full(c))
                    if i == 0 && self.rings[1].capacity > self.rings[0].capacity =>
                {
                    command = c;
                    i = 1;
                    self.active.store(1, Ordering::Release);
                }
                r => return r,
            }
        }
    }

    /// Pops from the rings: the small one first (a sender's commands there
    /// are older than its commands in the large one), then the stash, then
    /// the large one.
    fn pop_ring(&self) -> Option<T> {
        let small = self.rings[0].get()?;
        if let Ok(c) = small.pop() {
            return Some(c);
        }
        if self.has_stash.load(Ordering::Acquire) {
            let mut stash = lock(&self.stash);
            if let Some(c) = stash.take() {
                self.has_stash.store(false, Ordering::Release);
                return Some(c);
            }
        }
        let large = self.rings[1].get()?;
        let c = large.pop().ok()?;
        // The small ring was empty a moment ago, but its sender may have
        // put an older command there since (then filled it, and moved on
        // to the large ring): having taken `c`, every command its sender
        // sent before it is visible, so the small ring is looked at again
        // and what it holds goes first.
        match small.pop() {
            Ok(older) => {
                *lock(&self.stash) = Some(c);
                self.has_stash.store(true, Ordering::Release);
                Some(older)
            }
            Err(_) => Some(c),
        }
    }

    fn is_closed(&self) -> bool {
        self.rings[0].ring().is_closed()
    }

    /// Queues a command; never waits: full rings spill into the overflow
    /// queue. Fails only when the driver is gone.
    pub(crate) fn send_now(&self, command: T) -> Result<(), Closed> {
        let command = if self.has_overflow.load(Ordering::Acquire) {
            command
        } else {
            match self.push_ring(command) {
                Ok(()) => {
                    self.driver.wake();
                    return Ok(());
                }
                Err(PushError::Closed(_)) => return Err(Closed),
                Err(PushError::Full(command)) => command,
            }
        };
        {
            let mut overflow = lock(&self.overflow);
            if self.is_closed() {
                return Err(Closed);
            }
            // Behind what already overflowed; into a ring only if the
            // overflow is empty again (the driver took it all).
            let command = if overflow.is_empty() {
                match self.push_ring(command) {
                    Ok(()) => None,
                    Err(PushError::Closed(_)) => return Err(Closed),
                    Err(PushError::Full(command)) => Some(command),
                }
            } else {
                Some(command)
            };
            if let Some(command) = command {
                overflow.push_back(command);
                self.has_overflow.store(true, Ordering::Release);
            }
        }
        self.driver.wake();
        Ok(())
    }

    /// A client handle came to life.
    pub(crate) fn add_handle(&self) {
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// A client handle is gone; the last one wakes the driver to leave.
    pub(crate) fn drop_handle(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.driver.wake();
        }
    }

    /// The driver takes the next command: `Ready(None)` once every handle
    /// is gone and the queue is empty.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.pop() {
            Some(c) => return Poll::Ready(Some(c)),
            None if self.handles.load(Ordering::Acquire) == 0 => return Poll::Ready(None),
            None => {}
        }
        self.driver.register(cx.waker());
        match self.pop() {
            Some(c) => Poll::Ready(Some(c)),
            None if self.handles.load(Ordering::Acquire) == 0 => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// The rings first (they hold the older commands), then the overflow.
    fn pop(&self) -> Option<T> {
        if let Some(c) = self.pop_ring() {
            return Some(c);
        }
        if !self.has_overflow.load(Ordering::Acquire) {
            return None;
        }
        let mut overflow = lock(&self.overflow);
        // Under the lock no sender can slip into a ring; what is there
        // was sent before the overflow began.
        if let Some(c) = self.pop_ring() {
            return Some(c);
        }
        let c = overflow.pop_front();
        if overflow.is_empty() {
            self.has_overflow.store(false, Ordering::Release);
        }
        c
    }

    /// The driver is gone: queued and future commands are refused (their
    /// replies, dropped, answer `Closed`).
    pub(crate) fn close(&self) {
        let mut overflow = lock(&self.overflow);
        for ring in &self.rings {
            ring.close();
            while ring.ring().pop().is_ok() {}
        }
        overflow.clear();
        lock(&self.stash).take();
        self.has_stash.store(false, Ordering::Release);
    }
}

/// A lock that a panic elsewhere does not poison for good.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ------------------------------------------------ driver to one receiver

struct Ring<T> {
    /// Allocated by the first message: a receiver that never gets one
    /// (an unused `deliver_message` queue) costs no ring.
    queue: LazyRing<T>,
    /// The receiver, parked on an empty ring.
    receiver: AtomicWaker,
    /// The driver, parked on a full ring.
    sender: AtomicWaker,
}

/// A bounded channel from the driver to one receiver.
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let ring = Arc::new(Ring {
        queue: LazyRing::new(capacity),
        receiver: AtomicWaker::new(),
        sender: AtomicWaker::new(),
    });
    (Sender { ring: ring.clone() }, Receiver { ring })
}

/// The driver's end.
pub(crate) struct Sender<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Sender<T> {
    fn has_room(&self) -> bool {
        self.ring
            .queue
            .get()
            .is_none_or(|q| !q.is_full() || q.is_closed())
    }

    /// Ready when a message can be sent (or the receiver is gone).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.has_room() {
            return Poll::Ready(());
        }
        self.ring.sender.register(cx.waker());
        if self.has_room() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Sends; the message comes back if the ring is full or closed.
    pub(crate) fn try_send(&self, message: T) -> Result<(), T> {
        match self.ring.queue.ring().push(message) {
            Ok(()) => {
                self.ring.receiver.wake();
                Ok(())
            }
            Err(e) => Err(e.into_inner()),
        }
    }

    /// The receiver was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.ring
            .queue
            .get()
            .is_some_and(ConcurrentQueue::is_closed)
    }

    /// Ends the channel: the receiver takes what is queued, then `None`.
    pub(crate) fn close_channel(&self) {
        self.ring.queue.close();
        self.ring.receiver.wake();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.close_channel();
    }
}

/// A receiver's end.
pub(crate) struct Receiver<T> {
    ring: Arc<Ring<T>>,
}

impl<T> Receiver<T> {
    /// The next message; `None` once the driver closed the channel and
    /// everything queued was taken.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(m) = self.try_recv() {
            return Poll::Ready(m);
        }
        self.ring.receiver.register(cx.waker());
        match self.try_recv() {
            Some(m) => Poll::Ready(m),
            None => Poll::Pending,
        }
    }

    /// `Some(Some(m))`: a message; `Some(None)`: closed and empty; `None`:
    /// nothing yet.
    pub(crate) fn try_recv(&self) -> Option<Option<T>> {
        // No ring yet: nothing was sent, and the channel is open (closing
        // it allocates a closed one).
        match self.ring.queue.get()?.pop() {
            Ok(m) => {
                self.ring.sender.wake();
                Some(Some(m))
            }
            Err(PopError::Closed) => Some(None),
            Err(PopError::Empty) => None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.ring.queue.close();
        self.ring.sender.wake();
    }
}

// --------------------------------------------------------------- replies

/// One reply's slot: a one-element lock-free queue and the waiter's waker.
struct Slot<T> {
    value: ConcurrentQueue<T>,
    waker: AtomicWaker,
}

/// Recycled reply slots, so that a publish allocates nothing once warm.
/// The free list is a few rings of growing size, each allocated only when
/// the ones before it are full: a client with few calls at a time keeps a
/// small one (a thousand clients in a process stay cheap), a client with a
/// thousand concurrent publishes gets room for all of them.
pub(crate) struct ReplyPool<T> {
    free: [LazyRing<Arc<Slot<T>>>; 3],
}

/// Sizes of the free-list rings.
const TIERS: [usize; 3] = [4, 256, 4096];

impl<T> ReplyPool<T> {
    /// An empty pool.
    pub(crate) fn new() -> Self {
        Self {
            free: TIERS.map(LazyRing::new),
        }
    }

    fn pop(&self) -> Option<Arc<Slot<T>>> {
        self.free
            .iter()
            .filter_map(|ring| ring.get())
            .find_map(|ring| ring.pop().ok())
    }

    fn push(&self, mut slot: Arc<Slot<T>>) {
        for ring in &self.free {
            match ring.ring().push(slot) {
                Ok(()) => return,
                Err(e) => slot = e.into_inner(),
            }
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.free
            .iter()
            .filter_map(|r| r.get())
            .map(|r| r.len())
            .sum()
    }

    /// A reply channel: the driver's sender and the caller's receiver.
    /// `closed` is what a sender dropped without sending delivers.
    pub(crate) fn reply(&self, closed: fn() -> T) -> (ReplySender<T>, Reply<'_, T>) {
        let slot = self.pop().unwrap_or_else(|| {
            Arc::new(Slot {
                value: ConcurrentQueue::bounded(1),
                waker: AtomicWaker::new(),
            })
        });
        (
            ReplySender {
                slot: Some(slot.clone()),
                closed,
            },
            Reply {
                pool: self,
                slot: Some(slot),
            },
        )
    }
}

/// Where the driver sends one outcome.
pub(crate) struct ReplySender<T> {
    slot: Option<Arc<Slot<T>>>,
    closed: fn() -> T,
}

impl<T> ReplySender<T> {
    /// Delivers the outcome (dropped if the caller gave up).
    pub(crate) fn send(mut self, value: T) {
        if let Some(slot) = self.slot.take() {
            let _ = slot.value.push(value);
            slot.waker.wake();
        }
    }
}

impl<T> Drop for ReplySender<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let _ = slot.value.push((self.closed)());
            slot.waker.wake();
        }
    }
}

/// The caller's end: a future of the outcome. The slot goes back to the
/// pool once the outcome is taken.
pub(crate) struct Reply<'a, T> {
    pool: &'a ReplyPool<T>,
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Unpin for Reply<'_, T> {}

impl<T> Future for Reply<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(slot) = self.slot.as_ref() else {
            return Poll::Pending;
        };
        let value = match slot.value.pop() {
            Ok(v) => v,
            Err(_) => {
                slot.waker.register(cx.waker());
                match slot.value.pop() {
                    Ok(v) => v,
                    Err(_) => return Poll::Pending,
                }
            }
        };
        if let Some(slot) = self.slot.take() {
            // The sender is done with the slot once its value is taken (it
            // may still be waking this task: a harmless spurious wake for
            // the slot's next user).
            self.pool.push(slot);
        }
        Poll::Ready(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    /// The next `n` polls of the driver's side.
    fn take<T>(c: &Commands<T>, n: usize) -> Vec<Poll<Option<T>>> {
        (0..n).map(|_| c.poll_next(&mut cx())).collect()
    }

    /// `Ready(Some(i))` for each of `range`.
    fn ready(range: std::ops::Range<u32>) -> Vec<Poll<Option<u32>>> {
        range.map(|i| Poll::Ready(Some(i))).collect()
    }

    #[test]
    fn commands_end_when_every_handle_is_gone() {
        let c: Arc<Commands<u32>> = Commands::new(4);
        c.add_handle();
        assert!(c.send_now(1).is_ok());
        c.drop_handle();
        assert_eq!(c.poll_next(&mut cx()), Poll::Ready(Some(1)));
        assert_eq!(c.poll_next(&mut cx()), Poll::Ready(None));
    }

    #[test]
    fn send_now_goes_past_a_full_ring() {
        let c: Arc<Commands<u32>> = Commands::new(1);
        c.add_handle();
        assert!(c.send_now(1).is_ok());
        assert!(c.send_now(2).is_ok());
        assert!(c.send_now(3).is_ok());
        let got = take(&c, 3);
        assert_eq!(got.len(), 3);
        assert!(got.contains(&Poll::Ready(Some(1))));
        assert!(got.contains(&Poll::Ready(Some(2))) && got.contains(&Poll::Ready(Some(3))));
        assert!(c.poll_next(&mut cx()).is_pending());
        c.close();
        assert!(c.send_now(4).is_err());
    }

    #[test]
    fn commands_keep_their_order_past_a_full_ring() {
        let c: Arc<Commands<u32>> = Commands::new(2);
        c.add_handle();
        for i in 0..5 {
            assert!(c.send_now(i).is_ok());
        }
        assert_eq!(c.poll_next(&mut cx()), Poll::Ready(Some(0)));
        // The ring has room again, but 2, 3, 4 overflowed: 5 goes behind.
        assert!(c.send_now(5).is_ok());
        assert_eq!(take(&c, 5), ready(1..6));
        assert!(c.poll_next(&mut cx()).is_pending());
        c.close();
        assert!(c.send_now(6).is_err());
    }

    #[test]
    fn commands_keep_their_order_from_the_small_ring_to_the_large_one_and_past_it() {
        let c: Arc<Commands<u32>> = Commands::new(40);
        c.add_handle();
        assert!(
            c.rings[1].get().is_none(),
            "the large ring waits for a burst"
        );
        // 4 in the small ring, 40 in the large one, the rest overflows.
        for i in 0..70 {
            assert!(c.send_now(i).is_ok());
        }
        assert!(c.rings[1].get().is_some());
        assert_eq!(c.poll_next(&mut cx()), Poll::Ready(Some(0)));
        // Room in the small ring again: later commands still go behind.
        for i in 70..80 {
            assert!(c.send_now(i).is_ok());
        }
        assert_eq!(take(&c, 79), ready(1..80));
        assert!(c.poll_next(&mut cx()).is_pending());
        c.close();
        assert!(c.send_now(80).is_err());
    }

    /// Senders on several threads, racing through the small ring, the
    /// large one and the overflow queue while the driver takes commands:
    /// nothing is lost, and each sender's commands arrive in its order.
    #[test]
    fn concurrent_senders_keep_their_own_order_across_every_tier() {
        const SENDERS: u32 = 4;
        const EACH: u32 = 20_000;
        for _ in 0..3 {
            let c: Arc<Commands<(u32, u32)>> = Commands::new(64);
            for _ in 0..SENDERS {
                c.add_handle();
            }
            let senders: Vec<_> = (0..SENDERS)
                .map(|t| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        for i in 0..EACH {
                            c.send_now((t, i)).expect("open");
                            if i % 1000 == 0 {
                                std::thread::yield_now();
                            }
                        }
                        c.drop_handle();
                    })
                })
                .collect();
            let mut next = vec![0u32; SENDERS as usize];
            let mut cx = cx();
            loop {
                match c.poll_next(&mut cx) {
                    Poll::Ready(Some((t, i))) => {
                        assert_eq!(i, next[t as usize], "sender {t} out of order");
                        next[t as usize] += 1;
                    }
                    Poll::Ready(None) => break,
                    Poll::Pending => std::thread::yield_now(),
                }
            }
            for s in senders {
                s.join().unwrap();
            }
            assert_eq!(next, vec![EACH; SENDERS as usize], "every command arrived");
        }
    }

    #[test]
    fn a_queue_closed_before_its_large_ring_exists_refuses_commands() {
        let c: Arc<Commands<u32>> = Commands::new(64);
        c.close();
        for i in 0..20 {
            assert!(c.send_now(i).is_err());
        }
    }

    #[test]
    fn a_channel_allocates_its_ring_with_the_first_message() {
        let (tx, rx) = channel::<u32>(4);
        assert!(tx.ring.queue.get().is_none());
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Pending);
        assert!(tx.poll_ready(&mut cx()).is_ready());
        assert!(tx.ring.queue.get().is_none(), "neither end allocated it");
        assert!(tx.try_send(1).is_ok());
        assert!(tx.ring.queue.get().is_some());
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(Some(1)));
        // Closed before any message: the receiver ends at once.
        let (tx, rx) = channel::<u32>(4);
        drop(tx);
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(None));
        // A receiver dropped before any message: the sender sees it.
        let (tx, rx) = channel::<u32>(4);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.try_send(1), Err(1));
    }

    #[test]
    fn channel_is_bounded_and_ends_after_the_queued_messages() {
        let (tx, rx) = channel::<u32>(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert!(tx.poll_ready(&mut cx()).is_pending());
        assert_eq!(tx.try_send(3), Err(3));
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(Some(1)));
        assert!(tx.poll_ready(&mut cx()).is_ready());
        tx.close_channel();
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(Some(2)));
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(None));
    }

    #[test]
    fn a_dropped_receiver_closes_the_channel() {
        let (tx, rx) = channel::<u32>(2);
        drop(rx);
        assert!(tx.is_closed());
        assert!(tx.poll_ready(&mut cx()).is_ready());
        assert_eq!(tx.try_send(1), Err(1));
    }

    #[test]
    fn reply_slots_are_recycled_and_a_dropped_sender_answers() {
        let pool = ReplyPool::<Result<u8, ()>>::new();
        let (tx, mut rx) = pool.reply(|| Err(()));
        assert!(Pin::new(&mut rx).poll(&mut cx()).is_pending());
        tx.send(Ok(7));
        assert_eq!(Pin::new(&mut rx).poll(&mut cx()), Poll::Ready(Ok(7)));
        drop(rx);
        assert_eq!(pool.idle(), 1);
        let (tx, mut rx) = pool.reply(|| Err(()));
        assert_eq!(pool.idle(), 0, "the slot is reused");
        drop(tx);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx()), Poll::Ready(Err(())));
    }
}
