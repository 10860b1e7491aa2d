//! What one run of one client on one workload measured; a child process
//! prints it as one `RESULT {json}` line.

use serde::{Deserialize, Serialize};

/// One run's figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Outcome {
    /// Messages (deliveries) the subscribers received.
    pub(crate) received: u64,
    /// Deliveries expected.
    pub(crate) expected: u64,
    /// From the first publish (first connect for W5) to the last receipt
    /// (last disconnect for W5), microseconds.
    pub(crate) elapsed_us: u64,
    /// Client CPU (user + system, every thread of the client's process)
    /// over the same interval, microseconds.
    pub(crate) cpu_us: u64,
    /// Context switches of the client's process over the interval.
    pub(crate) switches: u64,
    /// Peak resident memory of the client's process, KiB.
    pub(crate) peak_rss_kib: u64,
    /// The most heap the client's process held at once, KiB (counting
    /// allocator; 0 where unobservable).
    #[serde(default)]
    pub(crate) peak_heap_kib: u64,
    /// Heap allocations over the interval (counting allocator), and bytes.
    pub(crate) allocations: u64,
    /// Bytes allocated over the interval.
    pub(crate) allocated_bytes: u64,
    /// W4: round-trip latency percentiles, microseconds (p50, p99, max).
    pub(crate) latency_us: Option<[u64; 3]>,
    /// Broker CPU over the interval, microseconds (filled in by the parent).
    pub(crate) broker_cpu_us: u64,
    /// The client's heap traffic is not observable (mosquitto's C clients):
    /// `allocations` and `allocated_bytes` mean nothing.
    #[serde(default)]
    pub(crate) heap_unmeasured: bool,
    /// `--perf`: system calls (`raw_syscalls:sys_enter`) of the client's
    /// process (and of the processes it started) over the interval, counted
    /// by `perf stat`; `None` without `--perf` or where perf cannot count
    /// (filled in by the parent).
    #[serde(default)]
    pub(crate) syscalls: Option<u64>,
    /// `--perf`: futex calls (`syscalls:sys_enter_futex`), likewise.
    #[serde(default)]
    pub(crate) futex_calls: Option<u64>,
    /// `--perf`: context switches as perf counts them (`context-switches`),
    /// likewise; `switches` (getrusage) stays the figure of every run.
    #[serde(default)]
    pub(crate) perf_switches: Option<u64>,
}

impl Outcome {
    /// Messages per second.
    pub(crate) fn rate(&self) -> f64 {
        self.received as f64 / (self.elapsed_us.max(1) as f64 / 1e6)
    }

    /// `count` per delivered message.
    pub(crate) fn per_msg(&self, count: u64) -> f64 {
        count as f64 / self.received.max(1) as f64
    }

    /// Client CPU per delivered message, microseconds.
    pub(crate) fn cpu_per_msg(&self) -> f64 {
        self.cpu_us as f64 / self.received.max(1) as f64
    }
}
