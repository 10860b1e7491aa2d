//! A `log` recorder for the tests that read what the client logs
//! (`logging.rs`, `secrets.rs`): every record, as `LEVEL target: message`.
//! The logger is process-wide: one test per binary installs it.

use std::sync::Mutex;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        RECORDS.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder;

/// Installs the recorder, every level on.
pub(crate) fn install() {
    log::set_logger(&RECORDER).expect("the only logger of this test process");
    log::set_max_level(log::LevelFilter::Trace);
}

/// Every record so far.
pub(crate) fn records() -> Vec<String> {
    RECORDS.lock().unwrap().clone()
}
