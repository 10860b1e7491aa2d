//! `--perf`: system calls, futex calls and context switches of a client
//! over its measured interval, counted by `perf stat`.
//!
//! The parent runs the child under
//! `perf stat -x, -o FILE --delay=-1 --control fifo:CTL,ACK -e EVENTS`:
//! counting starts disabled, and the child's [`Window`](crate::probe::Window)
//! writes `enable` to the control FIFO when its interval starts and
//! `disable` when it ends (each waits for perf's `ack`), so that connecting,
//! subscribing and tearing down are left out, as for every other figure.
//! The counters are inherited: every thread of the child, and every process
//! it starts, is counted. The parent reads the counts from FILE.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The events counted: every system call, context switches, futex calls.
const EVENTS: &str = "raw_syscalls:sys_enter,context-switches,syscalls:sys_enter_futex";

/// The environment variable that gives the child `CTL,ACK`, the paths of
/// perf's control and acknowledgement FIFOs.
const CTL_ENV: &str = "SANSMQTT_BENCH_PERF_CTL";

/// What `perf stat` counted over one run's interval.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    /// `raw_syscalls:sys_enter`.
    pub(crate) syscalls: u64,
    /// `syscalls:sys_enter_futex`.
    pub(crate) futex: u64,
    /// `context-switches`.
    pub(crate) switches: u64,
}

/// Whether `perf stat` can count [`EVENTS`] under a control FIFO here; the
/// reason when not (no perf, events not allowed or not supported).
pub(crate) fn available() -> Result<(), String> {
    let session = Session::new()?;
    let mut cmd = session.command("true");
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run perf: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let why = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Events "))
            .unwrap_or("no reason given");
        return Err(format!("perf stat exited with {}: {why}", out.status));
    }
    let text = std::fs::read_to_string(&session.out).unwrap_or_default();
    if text.contains("<not supported>") {
        return Err(format!("perf stat: {EVENTS}: not supported here"));
    }
    Ok(())
}

/// The FIFOs and output file of one child run under `perf stat`, in a
/// directory of their own, removed when dropped.
pub(crate) struct Session {
    dir: PathBuf,
    ctl: PathBuf,
    ack: PathBuf,
    out: PathBuf,
}

impl Session {
    /// A new directory with the two FIFOs.
    pub(crate) fn new() -> Result<Self, String> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sansmqtt-bench-perf-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let session = Session {
            ctl: dir.join("ctl"),
            ack: dir.join("ack"),
            out: dir.join("stat.csv"),
            dir,
        };
        mkfifo(&session.ctl)?;
        mkfifo(&session.ack)?;
        Ok(session)
    }

    /// `perf stat ... -- program`, with the environment variable that tells
    /// the child where the FIFOs are; the caller adds the program's
    /// arguments.
    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("perf");
        cmd.arg("stat")
            .arg("-x,")
            .arg("-o")
            .arg(&self.out)
            .arg("--delay=-1")
            .arg("--control")
            .arg(format!(
                "fifo:{},{}",
                self.ctl.display(),
                self.ack.display()
            ))
            .arg("-e")
            .arg(EVENTS)
            .arg("--")
            .arg(program)
            .env(
                CTL_ENV,
                format!("{},{}", self.ctl.display(), self.ack.display()),
            );
        cmd
    }

    /// The counts perf wrote once the child ended; `None` if any event was
    /// not counted (the child never enabled the counters) or the file is
    /// not there.
    pub(crate) fn counts(&self) -> Option<Counts> {
        parse(&std::fs::read_to_string(&self.out).ok()?)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[allow(unsafe_code)]
fn mkfifo(path: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(format!(
            "mkfifo {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// `perf stat -x,` output: `value,unit,event,run time,percentage,...` per
/// event, after a `# started on` comment; `<not counted>` when an event
/// never ran.
fn parse(text: &str) -> Option<Counts> {
    let value = |event: &str| -> Option<u64> {
        text.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.get(2) == Some(&event))
            .and_then(|f| f.first()?.trim().parse().ok())
    };
    Some(Counts {
        syscalls: value("raw_syscalls:sys_enter")?,
        futex: value("syscalls:sys_enter_futex")?,
        switches: value("context-switches")?,
    })
}

/// The child's end of the control FIFOs, opened by the first command.
fn control() -> Option<&'static Mutex<(File, File)>> {
    static CTL: OnceLock<Option<Mutex<(File, File)>>> = OnceLock::new();
    CTL.get_or_init(|| {
        let paths = std::env::var(CTL_ENV).ok()?;
        let (ctl, ack) = paths.split_once(',')?;
        // perf holds both FIFOs open (read-write) before it starts the
        // child: neither open blocks.
        let opened = File::options()
            .write(true)
            .open(ctl)
            .and_then(|c| Ok((c, File::open(ack)?)));
        match opened {
            Ok(files) => Some(Mutex::new(files)),
            Err(e) => {
                eprintln!("--perf: cannot open perf's control FIFOs {paths}: {e}");
                None
            }
        }
    })
    .as_ref()
}

/// Sends `command` (`enable`, `disable`) to perf and waits for its `ack`;
/// nothing when the child does not run under `--perf`.
fn send(command: &str) {
    let Some(ctl) = control() else {
        return;
    };
    let mut files = ctl.lock().unwrap_or_else(PoisonError::into_inner);
    let (ctl, ack) = &mut *files;
    if let Err(e) = ctl.write_all(format!("{command}\n").as_bytes()) {
        eprintln!("--perf: {command}: {e}");
        return;
    }
    // perf answers `ack\n` (and a NUL) once the command is done.
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while !seen.windows(4).any(|w| w == b"ack\n") {
        match ack.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Counting on (the measured interval starts).
pub(crate) fn enable() {
    send("enable");
}

/// Counting off (the measured interval ended).
pub(crate) fn disable() {
    send("disable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_perf_stat_csv() {
        let text = "# started on Mon Dec  7 18:51:40 2026\n\n\
                    332,,raw_syscalls:sys_enter,3789792,100.00,,\n\
                    4,,context-switches,3766694,100.00,,\n\
                    2,,syscalls:sys_enter_futex,3745224,100.00,,\n";
        let c = parse(text).expect("counts");
        assert_eq!((c.syscalls, c.switches, c.futex), (332, 4, 2));
        let not = "<not counted>,,raw_syscalls:sys_enter,0,100.00,,\n\
                   <not counted>,,context-switches,0,100.00,,\n\
                   <not counted>,,syscalls:sys_enter_futex,0,100.00,,\n";
        assert!(parse(not).is_none());
    }
}
