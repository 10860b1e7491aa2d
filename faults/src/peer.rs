//! The clients tried: sansmqtt's command-line client, mosquitto's C clients
//! and a small rumqttc program, all with the same command line (the
//! mosquitto_pub / mosquitto_sub options they share): `pub -l` publishes one
//! message per line of its standard input, `sub` prints one payload per
//! line. Every client runs in a process of its own, on a persistent session
//! (`-c -i ID`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// `sansmqtt pub` / `sansmqtt sub` (the `sansmqtt-cli` package).
    Sansmqtt,
    /// `mosquitto_pub` / `mosquitto_sub` (Debian's `mosquitto-clients`).
    Mosquitto,
    /// rumqttc 0.25 on its public API (`sansmqtt-faults rumqttc-pub`,
    /// `rumqttc-sub`: [`crate::rumqttc_peer`]).
    Rumqttc,
}

impl Peer {
    /// Every peer, sansmqtt first.
    pub const ALL: [Peer; 3] = [Peer::Sansmqtt, Peer::Mosquitto, Peer::Rumqttc];

    /// The peer's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Sansmqtt => "sansmqtt",
            Peer::Mosquitto => "mosquitto",
            Peer::Rumqttc => "rumqttc",
        }
    }

    /// The peer named `name`.
    pub fn parse(name: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Where the programs are.
#[derive(Debug, Clone)]
pub struct Bins {
    /// The `sansmqtt` command-line client.
    pub sansmqtt: PathBuf,
    /// This crate's `sansmqtt-faults` (the rumqttc programs, the crash
    /// publisher, the flood client).
    pub faults: PathBuf,
}

impl Bins {
    /// Next to the running executable (`target/<profile>/`, or its parent
    /// for a test binary in `deps/`); `sansmqtt` is built with cargo when
    /// it is missing. `faults` is the given path (a test's
    /// `env!("CARGO_BIN_EXE_sansmqtt-faults")`, or the running binary).
    pub fn find(faults: &Path) -> Result<Bins, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut dirs = Vec::new();
        if let Some(d) = exe.parent() {
            dirs.push(d.to_path_buf());
            if let Some(p) = d.parent() {
                dirs.push(p.to_path_buf());
            }
        }
        if let Some(d) = faults.parent() {
            dirs.push(d.to_path_buf());
        }
        let look = |dirs: &[PathBuf]| {
            dirs.iter()
                .map(|d| d.join("sansmqtt"))
                .find(|p| p.is_file())
        };
        let sansmqtt = match look(&dirs) {
            Some(p) => p,
            None => {
                let release = faults.components().any(|c| c.as_os_str() == "release");
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let mut cmd = Command::new(cargo);
                cmd.args(["build", "-q", "--locked", "-p", "sansmqtt-cli"]);
                if release {
                    cmd.arg("--release");
                }
                let ok = cmd.status().is_ok_and(|s| s.success());
                match look(&dirs) {
                    Some(p) if ok => p,
                    _ => return Err("the sansmqtt binary is missing and did not build".into()),
                }
            }
        };
        Ok(Bins {
            sansmqtt,
            faults: faults.to_path_buf(),
        })
    }
}

/// What a client process is asked to do.
#[derive(Debug, Clone)]
pub struct Args {
    /// The broker (or the proxy) on 127.0.0.1.
    pub port: u16,
    /// 1 or 2.
    pub qos: u8,
    /// The client identifier (persistent session).
    pub id: String,
    /// The topic (a filter for `sub`).
    pub topic: String,
    /// Keep-alive in seconds.
    pub keep_alive: u16,
}

impl Peer {
    /// The publisher: one message per line of standard input, then exits
    /// once they are all delivered.
    pub fn publisher(self, bins: &Bins, a: &Args) -> Command {
        let mut cmd = self.program(bins, "pub");
        cmd.args(common(a)).arg("-l");
        cmd
    }

    /// The subscriber: prints each payload on a line of its own.
    pub fn subscriber(self, bins: &Bins, a: &Args) -> Command {
        let mut cmd = self.program(bins, "sub");
        cmd.args(common(a));
        cmd
    }

    fn program(self, bins: &Bins, role: &str) -> Command {
        match self {
            Peer::Sansmqtt => {
                let mut c = Command::new(&bins.sansmqtt);
                c.arg(role);
                c
            }
            Peer::Mosquitto => Command::new(format!("mosquitto_{role}")),
            Peer::Rumqttc => {
                let mut c = Command::new(&bins.faults);
                c.arg(format!("rumqttc-{role}"));
                c
            }
        }
    }
}

fn common(a: &Args) -> Vec<String> {
    let mut v = vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        a.port.to_string(),
        "-q".into(),
        a.qos.to_string(),
        "-c".into(),
        "-i".into(),
        a.id.clone(),
        "-t".into(),
        a.topic.clone(),
        "-k".into(),
        a.keep_alive.to_string(),
    ];
    // The clients' debug output in the run's log files.
    if std::env::var_os("SANSMQTT_FAULTS_DEBUG").is_some() {
        v.push("-d".into());
    }
    v
}
