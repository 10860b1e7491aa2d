//! The one mosquitto of a benchmark run, on a free loopback port, with
//! settings that never drop a message in these workloads.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running mosquitto, stopped (by its PID) when dropped.
pub(crate) struct Broker {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its configuration file, as written.
    pub(crate) settings: String,
    dir: PathBuf,
}

impl Broker {
    /// Starts mosquitto; fails if it is not installed or does not listen.
    /// With `nodelay`, mosquitto sends with TCP_NODELAY (`set_tcp_nodelay
    /// true`, as EMQX, HiveMQ and VerneMQ do): every packet leaves in its own
    /// segment and a client reads one packet per wake-up.
    pub(crate) fn start(nodelay: bool) -> Result<Broker, String> {
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
