//! The channels between client handles and the driver.
//!
//! - [`Commands`]: many client handles to the driver, in order: one deque
//!   under a lock that grows with a burst and shrinks back; the driver takes
//!   everything waiting at once, and only the first command of a burst wakes
//!   it.
//! - [`channel`]: the driver to one receiver (a subscription stream or the
//!   `deliver_message` queue), bounded, its deque following what waits; each
//!   end is woken only at the edges (empty to not empty, full to not full).
//! - [`ReplyPool`]: where the outcome of a publish comes back; slots are
//!   recycled (lock-free rings of `concurrent-queue`), so a publish
//!   allocates nothing once the pool is warm.
//! - [`Budget`]: the bound of publishes handed over without waiting.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use concurrent_queue::ConcurrentQueue;

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
}

// ------------------------------------------------------------- commands

/// Slots a queue keeps when nothing is waiting: a client that never
/// bursts holds this little (a thousand clients in a process stay cheap).
const KEEP: usize = 8;

/// An empty deque gives back what a burst made it grow to: it keeps room
/// for `need` (what the last burst held), at least `floor`, and is only
/// shrunk when it holds more than twice that, so that bursts of a steady
/// size never reallocate it.
fn trim<T>(deque: &mut VecDeque<T>, need: usize, floor: usize) {
    let keep = need.max(floor);
    if deque.is_empty() && deque.capacity() > 2 * keep {
        deque.shrink_to(keep);
    }
}

/// What senders and the driver share under the lock.
struct Pending<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// Commands from every client handle to the driver, in the order they were
/// sent. One deque under a lock, which grows with need and shrinks back
/// once a burst is taken: a client with 20 publishes at once holds room for
/// 32, not a preallocated ring of 256. The driver takes everything waiting
/// in one step ([`CommandReceiver`]), so a burst costs the driver one lock,
/// and a sender wakes the driver only when the queue was empty: the first
/// command of a burst wakes it, the others find it awake.
pub(crate) struct Commands<T> {
    pending: std::sync::Mutex<Pending<T>>,
    /// The driver, parked on an empty queue.
    driver: AtomicWaker,
    /// Live client handles; the driver ends when it reaches zero.
    handles: AtomicUsize,
}

/// The queue is closed: the driver is gone.
#[derive(Debug)]
pub(crate) struct Closed;

impl<T> Commands<T> {
    /// An empty queue.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            pending: std::sync::Mutex::new(Pending {
                items: VecDeque::new(),
                closed: false,
            }),
            driver: AtomicWaker::new(),
            handles: AtomicUsize::new(0),
        })
    }

    /// The driver's end.
    pub(crate) fn receiver(self: &Arc<Self>) -> CommandReceiver<T> {
        CommandReceiver {
            shared: self.clone(),
            batch: VecDeque::new(),
        }
    }

    /// Queues a command; never waits. Fails only when the driver is gone.
    pub(crate) fn send_now(&self, command: T) -> Result<(), Closed> {
        let was_empty = {
            let mut pending = lock(&self.pending);
            if pending.closed {
                return Err(Closed);
            }
            let was_empty = pending.items.is_empty();
            pending.items.push_back(command);
            was_empty
        };
        // A queue that held something was seen non-empty by the driver's
        // last look, or the driver has not looked since it was woken.
        if was_empty {
            self.driver.wake();
        }
        Ok(())
    }

    /// Commands waiting for the driver to take them.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        lock(&self.pending).items.len()
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

    /// The driver is gone: queued and future commands are refused (their
    /// replies, dropped, answer `Closed`).
    pub(crate) fn close(&self) {
        let dropped = {
            let mut pending = lock(&self.pending);
            pending.closed = true;
            std::mem::take(&mut pending.items)
        };
        // Dropped outside the lock: a reply's waker may run code.
        drop(dropped);
    }
}

/// The driver's end of [`Commands`]: the batch it took, in order.
pub(crate) struct CommandReceiver<T> {
    shared: Arc<Commands<T>>,
    batch: VecDeque<T>,
}

impl<T> CommandReceiver<T> {
    /// The next command: `Ready(None)` once every handle is gone and the
    /// queue is empty.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(c) = self.batch.pop_front().or_else(|| self.take()) {
            return Poll::Ready(Some(c));
        }
        if self.shared.handles.load(Ordering::Acquire) == 0 {
            return Poll::Ready(None);
        }
        self.shared.driver.register(cx.waker());
        match self.take() {
            Some(c) => Poll::Ready(Some(c)),
            None if self.shared.handles.load(Ordering::Acquire) == 0 => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Takes everything waiting (the batch is empty): the senders get the
    /// batch's deque back, trimmed if a burst made it large.
    fn take(&mut self) -> Option<T> {
        {
            let mut pending = lock(&self.shared.pending);
            if pending.items.is_empty() {
                return None;
            }
            std::mem::swap(&mut pending.items, &mut self.batch);
            let taken = self.batch.len();
            trim(&mut pending.items, taken, KEEP);
        }
        self.batch.pop_front()
    }
}

impl<T> Drop for CommandReceiver<T> {
    /// Commands queued or sent later fail with `Closed`: nobody takes them.
    fn drop(&mut self) {
        self.shared.close();
    }
}

/// A lock that a panic elsewhere does not poison for good.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ------------------------------------------------ driver to one receiver

/// What the driver and one receiver share under the lock.
struct Queue<T> {
    items: VecDeque<T>,
    /// The most that waited since the queue was last empty.
    peak: usize,
    capacity: usize,
    /// Either end is gone.
    closed: bool,
}

/// Slots a receiver's queue keeps once it has caught up: a consumer that
/// keeps up keeps a small deque without reallocating it.
const HELD: usize = 32;

struct Ring<T> {
    queue: std::sync::Mutex<Queue<T>>,
    /// The receiver, parked on an empty queue.
    receiver: AtomicWaker,
    /// The driver, parked on a full queue.
    sender: AtomicWaker,
}

/// A bounded channel from the driver to one receiver. Its deque grows with
/// what waits (a receiver that never gets a message holds nothing) and
/// shrinks back once the receiver has caught up. The receiver is woken
/// only when the queue was empty, the driver only when it was full.
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let ring = Arc::new(Ring {
        queue: std::sync::Mutex::new(Queue {
            items: VecDeque::new(),
            peak: 0,
            capacity: capacity.max(1),
            closed: false,
        }),
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
        let queue = lock(&self.ring.queue);
        queue.closed || queue.items.len() < queue.capacity
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

    /// Sends; the message comes back if the queue is full or closed.
    pub(crate) fn try_send(&self, message: T) -> Result<(), T> {
        let was_empty = {
            let mut queue = lock(&self.ring.queue);
            if queue.closed || queue.items.len() >= queue.capacity {
                return Err(message);
            }
            queue.items.push_back(message);
            queue.peak = queue.peak.max(queue.items.len());
            queue.items.len() == 1
        };
        if was_empty {
            self.ring.receiver.wake();
        }
        Ok(())
    }

    /// The receiver was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.ring.queue).closed
    }

    /// Ends the channel: the receiver takes what is queued, then `None`.
    pub(crate) fn close_channel(&self) {
        lock(&self.ring.queue).closed = true;
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
        let (message, was_full) = {
            let mut queue = lock(&self.ring.queue);
            let was_full = queue.items.len() >= queue.capacity;
            match queue.items.pop_front() {
                Some(m) => {
                    if queue.items.is_empty() {
                        let peak = std::mem::take(&mut queue.peak);
                        trim(&mut queue.items, peak, HELD);
                    }
                    (m, was_full)
                }
                None if queue.closed => return Some(None),
                None => return None,
            }
        };
        if was_full {
            self.ring.sender.wake();
        }
        Some(Some(message))
    }

    /// Messages waiting, and the room the queue holds for them now.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let queue = lock(&self.ring.queue);
        (queue.items.len(), queue.items.capacity())
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // What waits is dropped with the channel, outside the lock.
        let dropped = {
            let mut queue = lock(&self.ring.queue);
            queue.closed = true;
            std::mem::take(&mut queue.items)
        };
        drop(dropped);
        self.ring.sender.wake();
    }
}

// --------------------------------------------------------------- replies

/// One reply's slot: the outcome and the waiter's waker.
struct Slot<T> {
    /// The outcome, once sent. A lock, not a one-element
    /// `ConcurrentQueue`: that queue is about 600 bytes whatever it holds,
    /// and a client with 20 publishes waiting holds 20 slots (W5b: 6 MB of
    /// them in 500 clients); sender and receiver each take it once.
    value: std::sync::Mutex<Option<T>>,
    /// Set once `value` holds the outcome: a poll before that (a caller
    /// looking whether its handle is done) takes no lock.
    ready: std::sync::atomic::AtomicBool,
    waker: AtomicWaker,
}

impl<T> Slot<T> {
    fn put(&self, value: T) {
        *lock(&self.value) = Some(value);
        self.ready.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<T> {
        if !self.ready.load(Ordering::Acquire) {
            return None;
        }
        let value = lock(&self.value).take();
        if value.is_some() {
            // The slot goes back to the pool empty.
            self.ready.store(false, Ordering::Release);
        }
        value
    }
}

/// Recycled reply slots, so that a publish allocates nothing once warm.
/// The free list is a few rings of growing size, each allocated only when
/// the ones before it are full: a client with few calls at a time keeps a
/// small one (a thousand clients in a process stay cheap), a client with a
/// thousand concurrent publishes gets room for all of them.
pub(crate) struct ReplyPool<T> {
    free: [LazyRing<Arc<Slot<T>>>; 4],
}

/// Sizes of the free-list rings: a client with 20 publishes at once
/// keeps a 32-slot ring (half a KiB), not a 256-slot one.
const TIERS: [usize; 4] = [4, 32, 512, 4096];

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

    fn slot(&self) -> Arc<Slot<T>> {
        self.pop().unwrap_or_else(|| {
            Arc::new(Slot {
                value: std::sync::Mutex::new(None),
                ready: std::sync::atomic::AtomicBool::new(false),
                waker: AtomicWaker::new(),
            })
        })
    }

    /// A reply channel: the driver's sender and the caller's receiver.
    /// `closed` is what a sender dropped without sending delivers.
    pub(crate) fn reply(&self, closed: fn() -> T) -> (ReplySender<T>, Reply<&Self, T>) {
        let slot = self.slot();
        let sender = ReplySender {
            slot: Some(slot.clone()),
            closed,
            permit: None,
        };
        (
            sender,
            Reply {
                pool: self,
                slot: Some(slot),
            },
        )
    }

    /// [`ReplyPool::reply`] whose receiver owns a share of the pool (it
    /// may outlive the call that made it), and whose sender holds
    /// `permit` until the outcome is sent.
    pub(crate) fn reply_owned(
        self: &Arc<Self>,
        closed: fn() -> T,
        permit: Permit,
    ) -> (ReplySender<T>, Reply<Arc<Self>, T>) {
        let slot = self.slot();
        let sender = ReplySender {
            slot: Some(slot.clone()),
            closed,
            permit: Some(permit),
        };
        let reply = Reply {
            pool: self.clone(),
            slot: Some(slot),
        };
        (sender, reply)
    }
}

/// Where the driver sends one outcome.
pub(crate) struct ReplySender<T> {
    slot: Option<Arc<Slot<T>>>,
    closed: fn() -> T,
    /// Released once the outcome is sent (or the sender dropped).
    permit: Option<Permit>,
}

impl<T> ReplySender<T> {
    /// Delivers the outcome (dropped if the caller gave up).
    pub(crate) fn send(mut self, value: T) {
        // The permit is back before the caller can see the outcome: a
        // caller that awaited every handle finds every permit free.
        self.permit.take();
        if let Some(slot) = self.slot.take() {
            slot.put(value);
            slot.waker.wake();
        }
    }
}

impl<T> Drop for ReplySender<T> {
    fn drop(&mut self) {
        self.permit.take();
        if let Some(slot) = self.slot.take() {
            slot.put((self.closed)());
            slot.waker.wake();
        }
    }
}

/// The caller's end: a future of the outcome. The slot goes back to the
/// pool (`P`: borrowed or shared) once the outcome is taken.
pub(crate) struct Reply<P, T>
where
    P: std::ops::Deref<Target = ReplyPool<T>>,
{
    pool: P,
    slot: Option<Arc<Slot<T>>>,
}

impl<P: std::ops::Deref<Target = ReplyPool<T>>, T> Unpin for Reply<P, T> {}

impl<P: std::ops::Deref<Target = ReplyPool<T>>, T> Future for Reply<P, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(slot) = self.slot.as_ref() else {
            return Poll::Pending;
        };
        let value = match slot.take() {
            Some(v) => v,
            None => {
                slot.waker.register(cx.waker());
                match slot.take() {
                    Some(v) => v,
                    None => return Poll::Pending,
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

// ----------------------------------------------------------- permits

/// A bound on calls handed to the driver without their caller waiting for
/// the outcome (`Client::publish_nowait`, `Client::try_publish`): each
/// holds a [`Permit`] until its outcome is known.
pub(crate) struct Budget {
    used: AtomicUsize,
    max: usize,
    /// Callers waiting for a permit.
    room: event_listener::Event,
}

/// One of a [`Budget`]'s permits, given back when dropped.
pub(crate) struct Permit(Arc<Budget>);

impl Budget {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max: max.max(1),
            room: event_listener::Event::new(),
        })
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A permit if one is free.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Permit> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used < self.max).then_some(used + 1)
            })
            .ok()
            .map(|_| Permit(self.clone()))
    }

    /// A permit, once one is free.
    pub(crate) async fn take(self: &Arc<Self>) -> Permit {
        loop {
            if let Some(permit) = self.try_take() {
                return permit;
            }
            let listener = self.room.listen();
            // Given back between the first look and the listening.
            if let Some(permit) = self.try_take() {
                return permit;
            }
            listener.await;
        }
    }

    /// Permits held.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for Permit {
    /// Callers waiting for a permit are woken once a quarter of the bound
    /// is free, not at each permit given back: a telemetry loop at the
    /// bound then hands a quarter of it over per wake-up, instead of
    /// waking for each acknowledgement. ([`Budget::try_take`] takes any
    /// free permit at once.)
    fn drop(&mut self) {
        let budget = &self.0;
        let used = budget.used.fetch_sub(1, Ordering::AcqRel) - 1;
        if used <= budget.max - budget.max / 4 {
            budget.room.notify(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Wake, Waker};

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    /// The next `n` polls of the driver's side.
    fn take<T>(c: &mut CommandReceiver<T>, n: usize) -> Vec<Poll<Option<T>>> {
        (0..n).map(|_| c.poll_next(&mut cx())).collect()
    }

    /// `Ready(Some(i))` for each of `range`.
    fn ready(range: std::ops::Range<u32>) -> Vec<Poll<Option<u32>>> {
        range.map(|i| Poll::Ready(Some(i))).collect()
    }

    #[test]
    fn commands_end_when_every_handle_is_gone() {
        let c: Arc<Commands<u32>> = Commands::new();
        let mut rx = c.receiver();
        c.add_handle();
        assert!(c.send_now(1).is_ok());
        c.drop_handle();
        assert_eq!(rx.poll_next(&mut cx()), Poll::Ready(Some(1)));
        assert_eq!(rx.poll_next(&mut cx()), Poll::Ready(None));
    }

    #[test]
    fn commands_keep_their_order_and_the_driver_takes_a_burst_at_once() {
        let c: Arc<Commands<u32>> = Commands::new();
        let mut rx = c.receiver();
        c.add_handle();
        for i in 0..70 {
            assert!(c.send_now(i).is_ok());
        }
        assert_eq!(rx.poll_next(&mut cx()), Poll::Ready(Some(0)));
        assert_eq!(c.waiting(), 0, "the first take took the whole burst");
        for i in 70..80 {
            assert!(c.send_now(i).is_ok());
        }
        assert_eq!(take(&mut rx, 79), ready(1..80));
        assert!(rx.poll_next(&mut cx()).is_pending());
        drop(rx);
        assert!(c.send_now(80).is_err(), "the driver is gone");
    }

    /// A burst wakes the driver once: the first command finds the queue
    /// empty, the others find it holding something the driver will take.
    #[test]
    fn a_burst_wakes_the_driver_once() {
        let c: Arc<Commands<u32>> = Commands::new();
        let mut rx = c.receiver();
        c.add_handle();
        let (wakes, waker) = counting();
        assert!(rx.poll_next(&mut Context::from_waker(&waker)).is_pending());
        for i in 0..20 {
            c.send_now(i).unwrap();
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(take(&mut rx, 20), ready(0..20));
        assert!(rx.poll_next(&mut Context::from_waker(&waker)).is_pending());
        c.send_now(20).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
    }

    /// The queue grows with a burst and gives the memory back afterwards
    /// (issue #15: no 256-slot ring for a client that sent 20 at once).
    #[test]
    fn the_command_queue_grows_with_a_burst_and_shrinks_back() {
        let c: Arc<Commands<[u8; 64]>> = Commands::new();
        let mut rx = c.receiver();
        c.add_handle();
        let capacity = |c: &Commands<[u8; 64]>| lock(&c.pending).items.capacity();
        for _ in 0..20 {
            c.send_now([0; 64]).unwrap();
        }
        assert!(capacity(&c) < 64, "20 commands hold {} slots", capacity(&c));
        for _ in 0..5000 {
            c.send_now([0; 64]).unwrap();
        }
        assert!(capacity(&c) >= 5020);
        // The driver takes the burst; the senders' deque is the old batch
        // (empty), then small batches make both small again.
        while let Poll::Ready(Some(_)) = rx.poll_next(&mut cx()) {}
        for _ in 0..3 {
            c.send_now([0; 64]).unwrap();
            while let Poll::Ready(Some(_)) = rx.poll_next(&mut cx()) {}
        }
        assert!(capacity(&c) <= 2 * KEEP, "{} slots kept", capacity(&c));
        assert!(
            rx.batch.capacity() <= 2 * KEEP,
            "{} slots kept",
            rx.batch.capacity()
        );
    }

    /// Senders on several threads while the driver takes commands: nothing
    /// is lost, and each sender's commands arrive in its order.
    #[test]
    fn concurrent_senders_keep_their_own_order() {
        const SENDERS: u32 = 4;
        const EACH: u32 = 20_000;
        for _ in 0..3 {
            let c: Arc<Commands<(u32, u32)>> = Commands::new();
            let mut rx = c.receiver();
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
                match rx.poll_next(&mut cx) {
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
    fn a_closed_queue_refuses_commands_and_drops_what_waited() {
        let c: Arc<Commands<Arc<()>>> = Commands::new();
        let held = Arc::new(());
        c.send_now(held.clone()).unwrap();
        c.close();
        assert_eq!(
            Arc::strong_count(&held),
            1,
            "the queued command was dropped"
        );
        assert!(c.send_now(held.clone()).is_err());
    }

    #[test]
    fn a_channel_holds_nothing_until_its_first_message() {
        let (tx, rx) = channel::<u32>(4);
        assert_eq!(rx.held(), (0, 0));
        assert_eq!(rx.poll_recv(&mut cx()), Poll::Pending);
        assert!(tx.poll_ready(&mut cx()).is_ready());
        assert!(tx.try_send(1).is_ok());
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

    /// The receiver is woken when the queue goes from empty to not empty,
    /// the driver when it goes from full to not full: not per message.
    #[test]
    fn a_channel_wakes_each_end_only_at_the_edges() {
        let (tx, rx) = channel::<u32>(3);
        let (receiver_wakes, rw) = counting();
        let (sender_wakes, sw) = counting();
        assert!(rx.poll_recv(&mut Context::from_waker(&rw)).is_pending());
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(receiver_wakes.0.load(Ordering::SeqCst), 1);
        assert!(tx.poll_ready(&mut Context::from_waker(&sw)).is_pending());
        for i in 0..3 {
            assert_eq!(rx.poll_recv(&mut cx()), Poll::Ready(Some(i)));
        }
        assert_eq!(sender_wakes.0.load(Ordering::SeqCst), 1);
    }

    /// A receiver that caught up keeps a small deque, whatever a burst
    /// made it grow to.
    #[test]
    fn a_channel_gives_back_what_a_burst_took() {
        let (tx, rx) = channel::<[u8; 64]>(1024);
        for _ in 0..1024 {
            tx.try_send([0; 64]).unwrap();
        }
        assert!(rx.held().1 >= 1024);
        while let Poll::Ready(Some(_)) = rx.poll_recv(&mut cx()) {}
        assert_eq!(rx.held().0, 0);
        assert!(rx.held().1 >= 1024, "room for the last burst is kept");
        // Bursts of a steady size keep their room, without reallocating.
        for _ in 0..3 {
            for _ in 0..600 {
                tx.try_send([0; 64]).unwrap();
            }
            while let Poll::Ready(Some(_)) = rx.poll_recv(&mut cx()) {}
            assert!(rx.held().1 >= 600);
        }
        // Once the bursts are small, the room goes back.
        for _ in 0..2 {
            tx.try_send([0; 64]).unwrap();
            while let Poll::Ready(Some(_)) = rx.poll_recv(&mut cx()) {}
        }
        assert!(rx.held().1 <= 2 * HELD, "{} slots kept", rx.held().1);
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

    /// A permit is held by the sender of an owned reply until the outcome
    /// is sent (or the sender dropped); the bound refuses one more.
    #[test]
    fn permits_are_held_until_the_outcome_is_sent() {
        let pool = Arc::new(ReplyPool::<Result<u8, ()>>::new());
        let budget = Budget::new(2);
        let (tx1, mut rx1) = pool.reply_owned(|| Err(()), budget.try_take().unwrap());
        let (tx2, rx2) = pool.reply_owned(|| Err(()), budget.try_take().unwrap());
        assert!(budget.try_take().is_none(), "the bound is 2");
        assert_eq!(budget.used(), 2);
        tx1.send(Ok(1));
        assert_eq!(budget.used(), 1, "sent: the permit is back");
        drop(tx2);
        assert_eq!(budget.used(), 0, "dropped: the permit is back");
        assert_eq!(Pin::new(&mut rx1).poll(&mut cx()), Poll::Ready(Ok(1)));
        drop(rx2);
        assert!(budget.try_take().is_some());
    }

    /// A caller waiting at the bound is woken once a quarter of it is
    /// free: one wake-up per quarter, not per permit given back.
    #[test]
    fn a_waiting_caller_is_woken_once_a_quarter_is_free() {
        let budget = Budget::new(8);
        let mut held: Vec<_> = (0..8).map(|_| budget.try_take().unwrap()).collect();
        let (wakes, waker) = counting();
        let mut waiting = Box::pin(budget.take());
        let mut cx = Context::from_waker(&waker);
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        held.pop();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "7 of 8 still held");
        held.pop();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "a quarter is free");
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
        assert!(budget.try_take().is_some(), "the other free permit");
    }

    /// A caller waiting for a permit gets one when another is given back.
    #[test]
    fn a_waiting_caller_gets_the_permit_given_back() {
        let budget = Budget::new(1);
        let held = budget.try_take().unwrap();
        let (wakes, waker) = counting();
        let mut waiting = Box::pin(budget.take());
        let mut cx = Context::from_waker(&waker);
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(held);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
    }
}
