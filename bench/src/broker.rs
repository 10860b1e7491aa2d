//! The mosquitto of a benchmark run (one per broker regime), on a free
//! loopback port, with settings that never drop a message in these
//! workloads.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the broker sends, the two regimes of issue #15.
///
/// mosquitto writes every packet it has for a client with its own `write`.
/// By default (Nagle's algorithm on) the kernel holds a small segment back
/// while an earlier one is unacknowledged, so packets written in quick
/// succession leave together and a client reads several at once. With
/// `set_tcp_nodelay true` (what EMQX, HiveMQ and VerneMQ do by default)
/// every packet leaves at once in its own segment, and a client that keeps
/// up reads one packet per wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Regime {
    /// `set_tcp_nodelay true`: one packet per client read.
    Nodelay,
    /// mosquitto's default (`set_tcp_nodelay false`): small writes coalesce.
    Coalesced,
}

impl Regime {
    /// Both, in report order.
    pub(crate) const ALL: [Regime; 2] = [Regime::Nodelay, Regime::Coalesced];

    /// Its name in reports (`nodelay`, `coalesced`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Regime::Nodelay => "nodelay",
            Regime::Coalesced => "coalesced",
        }
    }

    /// What it means, in a few words.
    pub(crate) fn about(self) -> &'static str {
        match self {
            Regime::Nodelay => "mosquitto with TCP_NODELAY, one packet per client read",
            Regime::Coalesced => "mosquitto's default, its small writes coalesce",
        }
    }

    /// mosquitto's `set_tcp_nodelay`.
    pub(crate) fn nodelay(self) -> bool {
        self == Regime::Nodelay
    }

    /// `--broker-nodelay on|off|both`.
    pub(crate) fn parse_option(s: &str) -> Option<Vec<Regime>> {
        match s {
            "on" => Some(vec![Regime::Nodelay]),
            "off" => Some(vec![Regime::Coalesced]),
            "both" => Some(Regime::ALL.to_vec()),
            _ => None,
        }
    }
}

/// A running mosquitto, stopped (by its PID) when dropped.
pub(crate) struct Broker {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its configuration file, as written.
    pub(crate) settings: String,
    dir: PathBuf,
    /// How it sends.
    pub(crate) regime: Regime,
}

impl Broker {
    /// Starts mosquitto in `regime`; fails if it is not installed or does
    /// not listen.
    pub(crate) fn start(regime: Regime) -> Result<Broker, String> {
        let nodelay = regime.nodelay();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = std::env::temp_dir().join(format!("sansmqtt-bench-{port}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let conf = dir.join("mosquitto.conf");
        // No queue limit, no in-flight limit, no byte limit: mosquitto
        // otherwise drops QoS 0 and QoS 1/2 messages of a slow subscriber.
        let settings = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 0\nmax_inflight_messages 0\nmax_queued_bytes 0\n\
             max_connections -1\nmessage_size_limit 0\nset_tcp_nodelay {nodelay}\n"
        );
        std::fs::write(&conf, &settings).map_err(|e| format!("{}: {e}", conf.display()))?;
        let log = std::fs::File::create(dir.join("mosquitto.log"))
            .map_err(|e| format!("mosquitto.log: {e}"))?;
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start mosquitto (apt-get install mosquitto): {e}"))?;
        let broker = Broker {
            child,
            port,
            settings,
            dir,
            regime,
        };
        for _ in 0..250 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(broker);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("mosquitto did not listen on port {port}"))
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
