//! The channels between client handles and the driver, built so that a
//! message costs no heap allocation and no lock: lock-free queues over
//! preallocated rings (`concurrent-queue`) and single-slot wakers
//! (`atomic-waker`).
//!
//! - [`Commands`]: many client handles to the driver, in order (a
//!   preallocated ring; a burst past it spills into an overflow queue).
//! - [`channel`]: the driver to one receiver (a subscription stream or the
//!   `deliver_message` queue), bounded.
//! - [`ReplyPool`]: where the outcome of a publish comes back; slots are
//!   recycled, so a publish allocates nothing once the pool is warm.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use concurrent_queue::{ConcurrentQueue, PopError, PushError};

// ------------------------------------------------------------- commands

/// Commands from every client handle to the driver, in the order they were
/// sent: a preallocated lock-free ring, and past it (a burst faster than
/// the driver) an overflow queue that everything goes to, in order, until
/// the driver has emptied it.
pub(crate) struct Commands<T> {
    queue: ConcurrentQueue<T>,
    /// The driver, parked on an empty queue.
    driver: AtomicWaker,
    /// Live client handles; the driver ends when it reaches zero.
    handles: AtomicUsize,
    /// Commands sent while the ring was full, oldest first.
    overflow: std::sync::Mutex<std::collections::VecDeque<T>>,
    has_overflow: std::sync::atomic::AtomicBool,
}

/// The queue is closed: the driver is gone.
#[derive(Debug)]
pub(crate) struct Closed;

impl<T> Commands<T> {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: ConcurrentQueue::bounded(capacity),
            driver: AtomicWaker::new(),
            handles: AtomicUsize::new(0),
            overflow: std::sync::Mutex::new(std::collections::VecDeque::new()),
            has_overflow: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Queues a command; never waits: a full ring spills into the overflow
    /// queue. Fails only when the driver is gone.
    pub(crate) fn send_now(&self, command: T) -> Result<(), Closed> {
        let command = if self.has_overflow.load(Ordering::Acquire) {
            command
        } else {
            match self.queue.push(command) {
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
            if self.queue.is_closed() {
                return Err(Closed);
            }
            // Behind what already overflowed; into the ring only if the
            // overflow is empty again (the driver took it all).
            let command = if overflow.is_empty() {
                match self.queue.push(command) {
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

    /// The ring first (it holds the older commands), then the overflow.
    fn pop(&self) -> Option<T> {
        if let Ok(c) = self.queue.pop() {
            return Some(c);
        }
        if !self.has_overflow.load(Ordering::Acquire) {
            return None;
        }
        let mut overflow = lock(&self.overflow);
        // Under the lock no sender can slip into the ring; what is there
        // was sent before the overflow began.
        if let Ok(c) = self.queue.pop() {
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
        self.queue.close();
        while self.queue.pop().is_ok() {}
        lock(&self.overflow).clear();
    }
}

/// A lock that a panic elsewhere does not poison for good.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ------------------------------------------------ driver to one receiver

struct Ring<T> {
    queue: ConcurrentQueue<T>,
    /// The receiver, parked on an empty ring.
    receiver: AtomicWaker,
    /// The driver, parked on a full ring.
    sender: AtomicWaker,
}

/// A bounded channel from the driver to one receiver.
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let ring = Arc::new(Ring {
        queue: ConcurrentQueue::bounded(capacity),
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
    /// Ready when a message can be sent (or the receiver is gone).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        let q = &self.ring.queue;
        if !q.is_full() || q.is_closed() {
            return Poll::Ready(());
        }
        self.ring.sender.register(cx.waker());
        if !q.is_full() || q.is_closed() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Sends; the message comes back if the ring is full or closed.
    pub(crate) fn try_send(&self, message: T) -> Result<(), T> {
        match self.ring.queue.push(message) {
            Ok(()) => {
                self.ring.receiver.wake();
                Ok(())
            }
            Err(e) => Err(e.into_inner()),
        }
    }

    /// The receiver was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.ring.queue.is_closed()
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
        match self.ring.queue.pop() {
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
    free: [std::sync::OnceLock<ConcurrentQueue<Arc<Slot<T>>>>; 3],
}

/// Sizes of the free-list rings.
const TIERS: [usize; 3] = [16, 256, 4096];

impl<T> ReplyPool<T> {
    /// An empty pool.
    pub(crate) fn new() -> Self {
        Self {
            free: Default::default(),
        }
    }

    fn pop(&self) -> Option<Arc<Slot<T>>> {
        self.free
            .iter()
            .filter_map(|ring| ring.get())
            .find_map(|ring| ring.pop().ok())
    }

    fn push(&self, mut slot: Arc<Slot<T>>) {
        for (ring, size) in self.free.iter().zip(TIERS) {
            match ring
                .get_or_init(|| ConcurrentQueue::bounded(size))
                .push(slot)
            {
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
        let got: Vec<_> = (0..3).map(|_| c.poll_next(&mut cx())).collect();
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
        let got: Vec<_> = (0..5).map(|_| c.poll_next(&mut cx())).collect();
        assert_eq!(
            got,
            (1..=5).map(|i| Poll::Ready(Some(i))).collect::<Vec<_>>()
        );
        assert!(c.poll_next(&mut cx()).is_pending());
        c.close();
        assert!(c.send_now(6).is_err());
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
