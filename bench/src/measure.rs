//! What a run costs: CPU time and context switches of this process
//! (`getrusage`), its peak resident memory (`VmHWM`), the broker's CPU time
//! (`/proc/PID/stat`), and the resources of waited-for child processes.

use std::time::Duration;

/// CPU time (user + system, every thread) and context switches of this
/// process or of its waited-for children.
#[allow(unsafe_code)]
fn rusage(who: libc::c_int) -> libc::rusage {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; `who` is RUSAGE_SELF
    // or RUSAGE_CHILDREN.
    unsafe {
        if libc::getrusage(who, u.as_mut_ptr()) != 0 {
            return std::mem::zeroed();
        }
        u.assume_init()
    }
}

fn tv(t: libc::timeval) -> Duration {
    Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000)
}

/// (CPU time, context switches) of this process so far.
pub(crate) fn self_usage() -> (Duration, u64) {
    let u = rusage(libc::RUSAGE_SELF);
    (
        tv(u.ru_utime) + tv(u.ru_stime),
        (u.ru_nvcsw + u.ru_nivcsw) as u64,
    )
}

/// (CPU time, largest peak RSS in KiB, context switches) of every
/// waited-for child so far.
pub(crate) fn children_usage() -> (Duration, u64, u64) {
    let u = rusage(libc::RUSAGE_CHILDREN);
    (
        tv(u.ru_utime) + tv(u.ru_stime),
        u.ru_maxrss as u64,
        (u.ru_nvcsw + u.ru_nivcsw) as u64,
    )
}

/// Peak resident set size of this process, KiB (`VmHWM`).
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of another process (`/proc/PID/stat`).
#[allow(unsafe_code)]
pub(crate) fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime: fields 14 and 15, i.e. 11 and 12 after the name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// Every descendant of process `pid` (children, their children, ...),
/// deepest last, from the parent PIDs in `/proc/*/stat`.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| {
                let child: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
                // Field 4, the second after the name.
                let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                Some((child, ppid.parse().ok()?))
            })
            .collect()
        })
        .unwrap_or_default();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Sends SIGKILL to process `pid`.
#[allow(unsafe_code)]
pub(crate) fn kill(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// The CPU and context switches of this process over one measured
/// interval.
pub(crate) struct Meter {
    cpu: Duration,
    switches: u64,
}

impl Meter {
    /// Starts measuring.
    pub(crate) fn start() -> Self {
        let (cpu, switches) = self_usage();
        Self { cpu, switches }
    }

    /// (CPU time, context switches) since `start`.
    pub(crate) fn stop(&self) -> (Duration, u64) {
        let (cpu, switches) = self_usage();
        (cpu.saturating_sub(self.cpu), switches - self.switches)
    }
}
