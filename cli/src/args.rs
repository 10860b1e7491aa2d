//! The command line: `sansmqtt pub ...` and `sansmqtt sub ...`, with
//! mosquitto_pub / mosquitto_sub 2.0's flags (`-h` is the host, help is
//! `--help` only).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// The `sansmqtt` command line.
#[derive(Debug, Parser)]
#[command(
    name = "sansmqtt",
    about = "MQTT 3.1.1 / 5.0 command-line client: `sansmqtt pub` and `sansmqtt sub`, \
             with the flags of mosquitto_pub and mosquitto_sub",
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true
)]
pub(crate) struct Cli {
    /// The tool to run.
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Print help.
    #[arg(long, action = ArgAction::Help, global = true)]
    help: Option<bool>,
}

/// `pub` or `sub`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Publish messages, like mosquitto_pub.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Pub(PubArgs),
    /// Subscribe and print messages, like mosquitto_sub.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Sub(SubArgs),
}

/// The flags both tools share: where and how to connect.
#[derive(Debug, Args, Clone)]
pub(crate) struct Common {
    /// MQTT host to connect to (default localhost).
    #[arg(short = 'h', long = "host", value_name = "HOST")]
    pub(crate) host: Option<String>,
    /// Network port (default 1883, 8883 with TLS).
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub(crate) port: Option<u16>,
    /// Broker URL: mqtt(s)://[user[:password]@]host[:port]/topic, or
    /// ws(s)://[user[:password]@]host[:port]/path (WebSocket path; give the
    /// topic with -t).
    #[arg(short = 'L', long = "url", value_name = "URL")]
    pub(crate) url: Option<String>,
    /// Client identifier (default: assigned by the broker).
    #[arg(short = 'i', long = "id", value_name = "ID")]
    pub(crate) id: Option<String>,
    /// Client identifier prefix: the identifier is the prefix followed by
    /// the process id.
    #[arg(short = 'I', long = "id-prefix", value_name = "PREFIX")]
    pub(crate) id_prefix: Option<String>,
    /// Keep alive in seconds, 5 to 65535 (default 60).
    #[arg(
        short = 'k',
        long = "keepalive",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    pub(crate) keepalive: u16,
    /// User name.
    #[arg(short = 'u', long = "username", value_name = "USER")]
    pub(crate) username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw", value_name = "PASSWORD")]
    pub(crate) password: Option<String>,
    /// No clean session: a persistent session (needs -i or -I).
    #[arg(short = 'c', long = "disable-clean-session")]
    pub(crate) persistent: bool,
    /// MQTT 5 Session Expiry Interval in seconds; -1, 4294967295 or ∞ for
    /// none (default -1 with -c, else 0).
    #[arg(
        short = 'x',
        long = "session-expiry-interval",
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = parse_session_expiry
    )]
    pub(crate) session_expiry: Option<u32>,
    /// Protocol version: mqttv5 (5), mqttv311 (311), mqttv31 (31).
    #[arg(short = 'V', long = "protocol-version", value_name = "VERSION", value_parser = parse_version)]
    pub(crate) version: Option<String>,
    /// Topic of the Will.
    #[arg(long = "will-topic", value_name = "TOPIC")]
    pub(crate) will_topic: Option<String>,
    /// Payload of the Will (default empty).
    #[arg(long = "will-payload", value_name = "PAYLOAD")]
    pub(crate) will_payload: Option<String>,
    /// QoS of the Will.
    #[arg(long = "will-qos", value_name = "QOS", value_parser = parse_qos)]
    pub(crate) will_qos: Option<u8>,
    /// Retain the Will.
    #[arg(long = "will-retain")]
    pub(crate) will_retain: bool,
    /// CA certificates (PEM) to trust; enables TLS.
    #[arg(long = "cafile", value_name = "FILE")]
    pub(crate) cafile: Option<PathBuf>,
    /// Directory of CA certificates (PEM) to trust; enables TLS.
    #[arg(long = "capath", value_name = "DIR")]
    pub(crate) capath: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long = "cert", value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long = "key", value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// Do not check that the broker's certificate names the host.
    #[arg(long = "insecure")]
    pub(crate) insecure: bool,
    /// SOCKS5 proxy: socks5h://[username[:password]@]hostname[:port]
    /// (also socks5:// and http:// for an HTTP CONNECT proxy).
    #[arg(long = "proxy", value_name = "SOCKS-URL")]
    pub(crate) proxy: Option<String>,
    /// Bind the outgoing socket to this address.
    #[arg(short = 'A', value_name = "ADDRESS")]
    pub(crate) bind: Option<String>,
    /// Disable Nagle's algorithm (always done; accepted for mosquitto's sake).
    #[arg(long = "nodelay")]
    pub(crate) nodelay: bool,
    /// Debug: log every packet sent and received (to stdout).
    #[arg(short = 'd', long = "debug")]
    pub(crate) debug: bool,
    /// Do not print error messages.
    #[arg(long = "quiet")]
    pub(crate) quiet: bool,
    /// Codec applied to the message (pub) or to received payloads (sub):
    /// noop, utf8, json, msgpack, msgpack+json, bool.
    #[arg(long = "codec", value_name = "NAME")]
    pub(crate) codec: Option<String>,
    /// MQTT 5 property: -D COMMAND NAME VALUE (e.g. -D publish
    /// user-property key value).
    #[arg(
        id = "property",
        short = 'D',
        long = "property",
        value_names = ["COMMAND", "NAME", "VALUE"],
        num_args = 1..=4,
        allow_negative_numbers = true,
    )]
    property_values: Vec<String>,
    /// The `-D` arguments, one list per occurrence (filled by [`parse`]).
    #[arg(skip)]
    pub(crate) property: Vec<Vec<String>>,
}

/// The flags of `sansmqtt pub`.
#[derive(Debug, Args)]
pub(crate) struct PubArgs {
    /// Connection flags.
    #[command(flatten)]
    pub(crate) common: Common,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub(crate) topic: Option<String>,
    /// Message payload.
    #[arg(
        short = 'm',
        long = "message",
        value_name = "MESSAGE",
        group = "source"
    )]
    pub(crate) message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long = "file", value_name = "FILE", group = "source")]
    pub(crate) file: Option<PathBuf>,
    /// Send one message per line of stdin.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub(crate) lines: bool,
    /// Send the whole of stdin as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    pub(crate) stdin: bool,
    /// Send a null (zero-length) message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    pub(crate) null: bool,
    /// QoS (default 0).
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0, value_parser = parse_qos)]
    pub(crate) qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    pub(crate) retain: bool,
    /// Publish the message this many times (-m, -f, -s, -n).
    #[arg(long = "repeat", value_name = "COUNT", default_value_t = 1)]
    pub(crate) repeat: u32,
    /// Seconds to wait between repeats (decimals allowed).
    #[arg(long = "repeat-delay", value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) repeat_delay: Option<f64>,
}

/// The flags of `sansmqtt sub`.
#[derive(Debug, Args)]
pub(crate) struct SubArgs {
    /// Connection flags.
    #[command(flatten)]
    pub(crate) common: Common,
    /// Topic filter to subscribe to (repeatable).
    #[arg(short = 't', long = "topic", value_name = "FILTER", action = ArgAction::Append)]
    pub(crate) topics: Vec<String>,
    /// Topic filter whose messages are not printed (repeatable).
    #[arg(short = 'T', long = "filter-out", value_name = "FILTER", action = ArgAction::Append)]
    pub(crate) filter_out: Vec<String>,
    /// Filter to unsubscribe from (repeatable).
    #[arg(short = 'U', long = "unsubscribe", value_name = "FILTER", action = ArgAction::Append)]
    pub(crate) unsubscribe: Vec<String>,
    /// QoS of the subscriptions (default 0).
    #[arg(short = 'q', long = "qos", value_name = "QOS", default_value_t = 0, value_parser = parse_qos)]
    pub(crate) qos: u8,
    /// Exit after this many messages.
    #[arg(short = 'C', long = "count", value_name = "COUNT")]
    pub(crate) count: Option<u64>,
    /// Exit with code 27 after this many seconds.
    #[arg(short = 'W', long = "timeout", value_name = "SECONDS")]
    pub(crate) timeout: Option<u32>,
    /// Print the topic before the payload.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,
    /// No newline after each message.
    #[arg(short = 'N')]
    pub(crate) no_newline: bool,
    /// Do not print stale (retained) messages.
    #[arg(short = 'R')]
    pub(crate) no_retained: bool,
    /// Exit once the subscriptions are acknowledged.
    #[arg(short = 'E')]
    pub(crate) exit_after_suback: bool,
    /// Print only retained messages; exit at the first one that is not.
    #[arg(long = "retained-only")]
    pub(crate) retained_only: bool,
    /// Clear each retained message received (publish an empty retained
    /// message to its topic).
    #[arg(long = "remove-retained")]
    pub(crate) remove_retained: bool,
    /// Output format (%t topic, %p payload, %q QoS, %r retain, %l length,
    /// %I time, %j JSON, ...).
    #[arg(short = 'F', value_name = "FORMAT")]
    pub(crate) format: Option<String>,
    /// Pretty-print JSON output (%j, %J, and JSON values of --codec).
    #[arg(long = "pretty")]
    pub(crate) pretty: bool,
}

/// Parses the command line `args` (program name first).
pub(crate) fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let (common, sub) = match (&mut cli.command, matches.subcommand()) {
        (Command::Pub(a), Some((_, m))) => (&mut a.common, m),
        (Command::Sub(a), Some((_, m))) => (&mut a.common, m),
        _ => return Ok(cli),
    };
    if let Some(occurrences) = sub.get_occurrences::<String>("property") {
        common.property = occurrences.map(|o| o.cloned().collect()).collect();
    }
    common.property_values.clear();
    Ok(cli)
}

/// 0, 1 or 2, with mosquitto's message.
fn parse_qos(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(q @ 0..=2) => Ok(q),
        _ => Err(format!("Invalid QoS given: {s}")),
    }
}

/// mosquitto's spellings of the protocol versions, to the config's.
fn parse_version(s: &str) -> Result<String, String> {
    match s {
        "mqttv5" | "5" => Ok("5".to_owned()),
        "mqttv311" | "311" => Ok("3.1.1".to_owned()),
        "mqttv31" | "31" => Ok("3.1".to_owned()),
        _ => Err(format!("Invalid protocol version argument given: {s}")),
    }
}

/// 0 to 4294967294 seconds, or -1 / 4294967295 / ∞ for never.
fn parse_session_expiry(s: &str) -> Result<u32, String> {
    if s == "-1" || s == "∞" {
        return Ok(u32::MAX);
    }
    s.parse::<u32>()
        .map_err(|_| format!("Invalid session-expiry-interval given: {s}"))
}

/// A non-negative, finite number of seconds.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1e9).contains(&v) => Ok(v),
        _ => Err(format!("Invalid time given: {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        super::parse(std::iter::once("sansmqtt").chain(args.iter().copied()))
    }

    #[test]
    fn h_is_the_host_and_help_is_long_only() {
        let cli = parse(&["pub", "-h", "broker", "-t", "a", "-m", "x"]).unwrap();
        let Command::Pub(p) = cli.command else {
            panic!("not pub")
        };
        assert_eq!(p.common.host.as_deref(), Some("broker"));
        let e = parse(&["pub", "--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn sub_topics_repeat_and_values_parse() {
        let cli = parse(&[
            "sub", "-t", "a", "-t", "b/#", "-T", "b/x", "-q", "2", "-V", "mqttv5", "-x", "-1",
        ])
        .unwrap();
        let Command::Sub(s) = cli.command else {
            panic!("not sub")
        };
        assert_eq!(s.topics, ["a", "b/#"]);
        assert_eq!(s.filter_out, ["b/x"]);
        assert_eq!(s.qos, 2);
        assert_eq!(s.common.version.as_deref(), Some("5"));
        assert_eq!(s.common.session_expiry, Some(u32::MAX));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["pub", "-t", "a", "-m", "x", "-q", "3"]).is_err());
        assert!(parse(&["pub", "-t", "a", "-m", "x", "-V", "6"]).is_err());
        assert!(parse(&["pub", "-t", "a", "-m", "x", "-n"]).is_err());
        assert!(parse(&["sub", "-t", "a", "-x", "nope"]).is_err());
    }

    #[test]
    fn property_takes_three_values() {
        let cli = parse(&[
            "pub",
            "-t",
            "a",
            "-m",
            "x",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "content-type",
            "text/plain",
        ])
        .unwrap();
        let Command::Pub(p) = cli.command else {
            panic!("not pub")
        };
        assert_eq!(p.common.property.len(), 2);
        assert_eq!(p.common.property[0], ["publish", "user-property", "k", "v"]);
        assert_eq!(p.common.property[1].len(), 3);
    }
}
