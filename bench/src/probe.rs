//! The measured interval of a run: wall time, CPU, context switches and
//! heap traffic from `Window::start` to `Window::finish` (and, under
//! `--perf`, perf's counters, switched on and off with it).

use std::time::Instant;

use crate::measure::{Meter, peak_rss_kib};
use crate::outcome::Outcome;

/// An interval being measured.
pub(crate) struct Window {
    started: Instant,
    meter: Meter,
    allocated: (u64, u64),
}

impl Window {
    /// Starts measuring (right before the first publish, or the first
    /// connect for W5).
    pub(crate) fn start() -> Self {
        // Before the clock starts: waiting for perf's acknowledgement is
        // not the client's time.
        crate::perf::enable();
        Self {
            allocated: crate::alloc::allocated(),
            meter: Meter::start(),
            started: Instant::now(),
        }
    }

    /// Stops at `end` (the last receipt) with what was received.
    pub(crate) fn finish_at(self, end: Instant, received: u64, expected: u64) -> Outcome {
        let (cpu, switches) = self.meter.stop();
        let (count, bytes) = crate::alloc::allocated();
        crate::perf::disable();
        Outcome {
            received,
            expected,
            elapsed_us: end.saturating_duration_since(self.started).as_micros() as u64,
            cpu_us: cpu.as_micros() as u64,
            switches,
            peak_rss_kib: peak_rss_kib(),
            peak_heap_kib: crate::alloc::peak_heap() / 1024,
            allocations: count - self.allocated.0,
            allocated_bytes: bytes - self.allocated.1,
            latency_us: None,
            broker_cpu_us: 0,
            heap_unmeasured: false,
            // Filled in by the parent, from perf's output.
            syscalls: None,
            futex_calls: None,
            perf_switches: None,
        }
    }

    /// Stops now.
    pub(crate) fn finish(self, received: u64, expected: u64) -> Outcome {
        self.finish_at(Instant::now(), received, expected)
    }
}

/// The payload of `size` bytes every client sends.
pub(crate) fn payload(size: usize) -> Vec<u8> {
    vec![0x5a; size]
}
