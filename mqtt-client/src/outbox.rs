//! Bytes the session encoded that the socket has not taken yet, written
//! with vectored writes, and the QoS 0 publishes they complete: a QoS 0
//! publish resolves once the socket took its last byte.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use sansmqtt_session::{CloseReason, PublishDone};

use crate::ClientError;
use crate::chan::ReplySender;
use crate::runtime::Transport;

/// Where a publish's outcome goes (a recycled slot, not an allocation).
pub(crate) type PublishReply = ReplySender<Result<PublishDone, ClientError>>;

/// How a write went.
pub(crate) enum Written {
    /// The transport failed or took nothing: the connection is lost (what
    /// was not written is dropped).
    Failed,
    /// The socket takes no more for now; whether it took something.
    Blocked(bool),
    /// Everything was written and flushed; whether something was written.
    Flushed(bool),
}

/// Encoded bytes waiting for the socket.
pub(crate) struct Outbox {
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`, kept so that no hot path sums it.
    len: usize,
    /// Bytes written to transports so far (a position in the stream).
    written: u64,
    /// QoS 0 publishes waiting for the socket to take their last byte (at
    /// that position).
    qos0: VecDeque<(u64, PublishDone, PublishReply)>,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            written: 0,
            qos0: VecDeque::new(),
        }
    }

    /// Bytes waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// A QoS 0 publish complete once the bytes waiting and `pending` more
    /// (encoded by the session, not yet taken) are written.
    pub(crate) fn complete_when_written(
        &mut self,
        pending: usize,
        done: PublishDone,
        reply: PublishReply,
    ) {
        let end = self.written + self.len as u64 + pending as u64;
        self.qos0.push_back((end, done, reply));
    }

    /// Drops what was not written and fails the QoS 0 publishes among it
    /// with `error`: they never reached the broker.
    pub(crate) fn clear(&mut self, error: &ClientError) {
        self.chunks.clear();
        self.len = 0;
        for (_, _, reply) in self.qos0.drain(..) {
            reply.send(Err(error.clone()));
        }
    }

    /// Writes what the transport takes, then flushes.
    pub(crate) fn write(&mut self, transport: &mut dyn Transport, cx: &mut Context<'_>) -> Written {
        let mut progress = false;
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); 64];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            match Pin::new(&mut *transport).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    self.clear(&ClientError::Connection(CloseReason::ConnectionLost));
                    return Written::Failed;
                }
                Poll::Ready(Ok(n)) => {
                    progress = true;
                    self.took(n);
                }
                Poll::Pending => return Written::Blocked(progress),
            }
        }
        let _ = Pin::new(&mut *transport).poll_flush(cx);
        Written::Flushed(progress)
    }

    /// The socket took `n` bytes: the QoS 0 publishes they end resolve.
    fn took(&mut self, mut n: usize) {
        self.written += n as u64;
        self.len -= n;
        while self.qos0.front().is_some_and(|w| w.0 <= self.written) {
            if let Some((_, done, reply)) = self.qos0.pop_front() {
                reply.send(Ok(done));
            }
        }
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(n);
                n = 0;
            }
        }
    }
}
