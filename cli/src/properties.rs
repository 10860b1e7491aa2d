//! `-D COMMAND NAME VALUE...`: MQTT 5 properties, checked as mosquitto
//! 2.0's tools check them (same messages, same order of checks), and put
//! where the library takes them: PUBLISH properties, [`Config`] keys for
//! CONNECT, the will's properties, [`SubscribeOptions`],
//! [`UnsubscribeOptions`] and [`DisconnectOptions`].
//!
//! mosquitto reads each value as C's `strtol` would (leading blanks, a
//! sign, decimal digits, the rest ignored: `abc` is 0, `1.5` is 1), checks
//! its range, then checks each packet's property list as a whole
//! (duplicates, values the protocol forbids). The few values sansmqtt
//! cannot send are refused with a message of its own (docs/cli.md,
//! "differs").

use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use sansmqtt_proto::{MqttString, PayloadFormat, Properties, PublishProperties, TopicName};
use sansmqtt_tokio::config::{TextOrBytes, UserProperties, WillConfig};
use sansmqtt_tokio::{
    Bytes, Config, DisconnectOptions, SubscribeOptions, UnsubscribeOptions, UserProperty,
};

use crate::exit::Exit;

/// Every property name mosquitto knows, with the commands (packets) the
/// specification allows it in.
const KNOWN: &[(&str, &[&str])] = &[
    ("payload-format-indicator", &["publish", "will"]),
    ("message-expiry-interval", &["publish", "will"]),
    ("content-type", &["publish", "will"]),
    ("response-topic", &["publish", "will"]),
    ("correlation-data", &["publish", "will"]),
    ("subscription-identifier", &["publish", "subscribe"]),
    (
        "session-expiry-interval",
        &["connect", "connack", "disconnect"],
    ),
    ("assigned-client-identifier", &["connack"]),
    ("server-keep-alive", &["connack"]),
    ("authentication-method", &["connect", "connack", "auth"]),
    ("authentication-data", &["connect", "connack", "auth"]),
    ("request-problem-information", &["connect"]),
    ("will-delay-interval", &["will"]),
    ("request-response-information", &["connect"]),
    ("response-information", &["connack"]),
    ("server-reference", &["connack", "disconnect"]),
    (
        "reason-string",
        &[
            "connack",
            "puback",
            "pubrec",
            "pubrel",
            "pubcomp",
            "suback",
            "unsuback",
            "disconnect",
            "auth",
        ],
    ),
    ("receive-maximum", &["connect", "connack"]),
    ("topic-alias-maximum", &["connect", "connack"]),
    ("topic-alias", &["publish"]),
    ("maximum-qos", &["connack"]),
    ("retain-available", &["connack"]),
    (
        "user-property",
        &[
            "connect",
            "connack",
            "publish",
            "will",
            "puback",
            "pubrec",
            "pubrel",
            "pubcomp",
            "subscribe",
            "suback",
            "unsubscribe",
            "unsuback",
            "disconnect",
            "auth",
        ],
    ),
    ("maximum-packet-size", &["connect", "connack"]),
    ("wildcard-subscription-available", &["connack"]),
    ("subscription-identifier-available", &["connack"]),
    ("shared-subscription-available", &["connack"]),
];

/// The commands mosquitto's `-D` accepts (`connack`, `suback` and
/// `unsuback` are not among them: what a client never sends).
const COMMANDS: &[&str] = &[
    "connect",
    "publish",
    "puback",
    "pubrec",
    "pubrel",
    "pubcomp",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "auth",
    "will",
];

/// The commands whose properties mosquitto's tools send.
const SENT: &[&str] = &[
    "connect",
    "publish",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "will",
];

/// How a property's value is read and the range it must fall in.
#[derive(Clone, Copy)]
enum Kind {
    /// An unsigned integer up to this maximum.
    Int(i64),
    /// A Variable Byte Integer (subscription identifier).
    VarInt,
    /// A UTF-8 string.
    Text,
    /// Binary data.
    Binary,
    /// A name and a value.
    Pair,
}

fn kind(name: &str) -> Kind {
    match name {
        "payload-format-indicator"
        | "request-problem-information"
        | "request-response-information"
        | "maximum-qos"
        | "retain-available"
        | "wildcard-subscription-available"
        | "subscription-identifier-available"
        | "shared-subscription-available" => Kind::Int(0xFF),
        "receive-maximum" | "topic-alias-maximum" | "topic-alias" | "server-keep-alive" => {
            Kind::Int(0xFFFF)
        }
        "message-expiry-interval"
        | "session-expiry-interval"
        | "will-delay-interval"
        | "maximum-packet-size" => Kind::Int(0xFFFF_FFFF),
        "subscription-identifier" => Kind::VarInt,
        "correlation-data" | "authentication-data" => Kind::Binary,
        "user-property" => Kind::Pair,
        _ => Kind::Text,
    }
}

/// A value as C's `strtol(value, NULL, 10)` reads it (what mosquitto does).
fn strtol(value: &str) -> i64 {
    let s = value.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative { -n } else { n }
}

/// One property value, read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Int(u32),
    Text(String),
    Pair(String, String),
}

impl Value {
    fn int(&self) -> u32 {
        match self {
            Value::Int(n) => *n,
            _ => 0,
        }
    }
    fn text(&self) -> &str {
        match self {
            Value::Text(t) => t,
            _ => "",
        }
    }
}

/// The properties of one packet, in the order given.
type List = Vec<(&'static str, Value)>;

/// The `-D` arguments, checked and sorted by packet.
#[derive(Debug, Default)]
pub(crate) struct CliProperties {
    connect: List,
    publish: List,
    will: List,
    subscribe: List,
    unsubscribe: List,
    disconnect: List,
}

/// A usage error printed as mosquitto prints it (no `Error: ` added).
fn usage_as_is(message: String) -> Exit {
    Exit {
        usage: true,
        ..Exit::general(message)
    }
}

/// mosquitto's words for a property list the protocol forbids.
fn protocol_error(packet: &str) -> Exit {
    usage_as_is(format!(
        "Error in {packet} properties: A network protocol error occurred when communicating with the broker."
    ))
}

/// A value sansmqtt cannot send (a "differs" of docs/cli.md).
fn cannot_send(what: String) -> Exit {
    Exit::general(format!("Error: {what} (sansmqtt cannot send it)."))
}

impl CliProperties {
    /// Reads the `-D` arguments (each `[command, name, values...]`), with
    /// `connect_expiry` whether `-x` or `-c` already set CONNECT's Session
    /// Expiry Interval.
    pub(crate) fn parse(args: &[Vec<String>], connect_expiry: bool) -> Result<Self, Exit> {
        let mut props = Self::default();
        for arg in args {
            props.add(arg)?;
        }
        // Checked with -x / -c's expiry in the list; not applied from it.
        let mut connect = props.connect.clone();
        if connect_expiry {
            connect.insert(0, ("session-expiry-interval", Value::Int(0)));
        }
        for (packet, list) in [
            ("CONNECT", &connect),
            ("Will", &props.will),
            ("PUBLISH", &props.publish),
            ("SUBSCRIBE", &props.subscribe),
            ("UNSUBSCRIBE", &props.unsubscribe),
            ("DISCONNECT", &props.disconnect),
        ] {
            check_list(packet, list)?;
        }
        Ok(props)
    }

    fn add(&mut self, arg: &[String]) -> Result<(), Exit> {
        let not_enough =
            || Exit::usage("--property argument given but not enough arguments specified.");
        let [command, name, values @ ..] = arg else {
            return Err(not_enough());
        };
        if values.is_empty() {
            return Err(not_enough());
        }
        let command = command.as_str();
        if !COMMANDS.contains(&command) {
            return Err(Exit::usage("Invalid command given in --property argument."));
        }
        let Some((name, allowed)) = KNOWN.iter().find(|(n, _)| *n == name.as_str()) else {
            return Err(Exit::usage(
                "Invalid property name given in --property argument.",
            ));
        };
        if !allowed.contains(&command) {
            return Err(Exit::usage(format!(
                "{name} property not allowed for {command} in --property argument."
            )));
        }
        if !SENT.contains(&command) {
            return Err(Exit::usage(format!(
                "{name} property not supported for {command} in --property argument."
            )));
        }
        let kind = kind(name);
        let (want, value) = (if matches!(kind, Kind::Pair) { 2 } else { 1 }, &values[0]);
        if values.len() < want {
            return Err(not_enough());
        }
        if let Some(extra) = values.get(want) {
            return Err(Exit::usage(format!("Unknown option '{extra}'.")));
        }
        let value = match kind {
            Kind::Int(max) => {
                let n = strtol(value);
                if !(0..=max).contains(&n) {
                    return Err(Exit::usage(format!(
                        "Property value ({n}) out of range for property {name}."
                    )));
                }
                Value::Int(u32::try_from(n).unwrap_or(u32::MAX))
            }
            Kind::VarInt => {
                let n = strtol(value);
                if !(0..=268_435_455).contains(&n) {
                    // mosquitto's words (4: the type of a Variable Byte
                    // Integer property).
                    return Err(usage_as_is(format!("Error adding property {name} 4")));
                }
                Value::Int(u32::try_from(n).unwrap_or(u32::MAX))
            }
            Kind::Text | Kind::Binary => Value::Text(value.clone()),
            Kind::Pair => Value::Pair(value.clone(), values[1].clone()),
        };
        let list = match command {
            "connect" => &mut self.connect,
            "publish" => &mut self.publish,
            "will" => &mut self.will,
            "subscribe" => &mut self.subscribe,
            "unsubscribe" => &mut self.unsubscribe,
            _ => &mut self.disconnect,
        };
        list.push((name, value));
        Ok(())
    }

    /// The PUBLISH properties.
    pub(crate) fn publish(&self) -> Result<Properties<PublishProperties>, Exit> {
        let mut props = Properties::<PublishProperties>::default();
        for (name, value) in &self.publish {
            match *name {
                "payload-format-indicator" => {
                    props.payload_format_indicator = Some(payload_format(value.int())?);
                }
                "message-expiry-interval" => props.message_expiry_interval = Some(value.int()),
                "content-type" => props.content_type = Some(text(value.text())),
                "response-topic" => props.response_topic = Some(response_topic(value.text())?),
                "correlation-data" => {
                    props.correlation_data = Some(Bytes::from(value.text().as_bytes().to_vec()));
                }
                "topic-alias" => {
                    // Zero was refused by `check_list`.
                    props.topic_alias = NonZeroU16::new(value.int() as u16);
                }
                "user-property" => props.user_properties.push(user_property(value)),
                // subscription-identifier: allowed by mosquitto, never sent.
                _ => {}
            }
        }
        Ok(props)
    }

    /// Puts the CONNECT and will properties into `config` (the will's are
    /// dropped without a will, as mosquitto does).
    pub(crate) fn apply_connect(&self, config: &mut Config) -> Result<(), Exit> {
        let mut method = None;
        let mut data = None;
        for (name, value) in &self.connect {
            let n = value.int();
            match *name {
                "session-expiry-interval" => {
                    config.session_expiry = Some(Duration::from_secs(n.into()));
                }
                "receive-maximum" => config.receive_maximum = NonZeroU16::new(n as u16),
                "topic-alias-maximum" => config.topic_alias_maximum = Some(n as u16),
                "maximum-packet-size" => config.max_packet_size = NonZeroU32::new(n).map(u32::from),
                "request-problem-information" => config.request_problem_information = Some(n == 1),
                "request-response-information" => config.request_response_information = n == 1,
                "authentication-method" => method = Some(value.text().to_owned()),
                "authentication-data" => data = Some(Bytes::from(value.text().as_bytes().to_vec())),
                "user-property" => {
                    config.user_properties = with_user(&config.user_properties, value)?
                }
                _ => {}
            }
        }
        match (method, data) {
            (Some(method), data) => {
                // The configuration's one-step authentication.
                config.authentication_method = Some(method);
                config.authentication_data = data.map(|d| d.to_vec().into());
            }
            (None, Some(_)) => {
                return Err(cannot_send(
                    "authentication-data without authentication-method".to_owned(),
                ));
            }
            (None, None) => {}
        }
        if let Some(will) = &mut config.will {
            self.apply_will(will)?;
        }
        Ok(())
    }

    fn apply_will(&self, will: &mut WillConfig) -> Result<(), Exit> {
        for (name, value) in &self.will {
            let n = value.int();
            match *name {
                "payload-format-indicator" => will.payload_format = Some(payload_format(n)?),
                "message-expiry-interval" => {
                    will.message_expiry = Some(Duration::from_secs(n.into()));
                }
                "will-delay-interval" => will.delay_interval = Some(Duration::from_secs(n.into())),
                "content-type" => will.content_type = Some(text(value.text())),
                "response-topic" => will.response_topic = Some(response_topic(value.text())?),
                "correlation-data" => {
                    will.correlation_data = Some(TextOrBytes::Text(value.text().to_owned()));
                }
                "user-property" => will.user_properties = with_user(&will.user_properties, value)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The SUBSCRIBE options (`sub`); a subscription identifier is refused:
    /// the client manages identifiers itself.
    pub(crate) fn subscribe(&self) -> Result<SubscribeOptions, Exit> {
        let mut options = SubscribeOptions::new();
        for (name, value) in &self.subscribe {
            match value {
                Value::Pair(k, v) => options = options.user_property(k, v),
                _ => {
                    return Err(Exit::general(format!(
                        "Error: -D subscribe {name} is not supported: the client sets the subscription identifiers itself."
                    )));
                }
            }
        }
        Ok(options)
    }

    /// The UNSUBSCRIBE options (`sub -U`).
    pub(crate) fn unsubscribe(&self) -> UnsubscribeOptions {
        let mut options = UnsubscribeOptions::new();
        for (_, value) in &self.unsubscribe {
            if let Value::Pair(k, v) = value {
                options = options.user_property(k, v);
            }
        }
        options
    }

    /// The options of the final DISCONNECT, `None` for a plain one. A
    /// session expiry above zero after a CONNECT without one is refused
    /// [MQTT-3.14.2-2] (mosquitto sends it and the broker closes the
    /// connection with a protocol error).
    pub(crate) fn disconnect(&self, config: &Config) -> Result<Option<DisconnectOptions>, Exit> {
        if self.disconnect.is_empty() {
            return Ok(None);
        }
        let mut options = DisconnectOptions::new();
        for (name, value) in &self.disconnect {
            match *name {
                "session-expiry-interval" => {
                    // CONNECT's, as the library sends it.
                    let connect = match config.session_expiry {
                        Some(d) => d.as_secs(),
                        None if config.cleansession => 0,
                        None => u64::from(u32::MAX),
                    };
                    if value.int() > 0 && connect == 0 {
                        return Err(cannot_send(
                            "-D disconnect session-expiry-interval above 0 when CONNECT's is 0 (a protocol error, [MQTT-3.14.2-2]); set -x or -D connect session-expiry-interval".to_owned(),
                        ));
                    }
                    options = options.session_expiry(Duration::from_secs(value.int().into()));
                }
                "reason-string" => options = options.reason_string(text(value.text())),
                "user-property" => {
                    options.user_properties = with_user(&options.user_properties, value)?;
                }
                _ => return Err(cannot_send(format!("-D disconnect {name}"))),
            }
        }
        Ok(Some(options))
    }
}

/// mosquitto's checks of a packet's whole property list: no property twice
/// but user properties, and the values the protocol forbids.
fn check_list(packet: &str, list: &List) -> Result<(), Exit> {
    for (i, (name, value)) in list.iter().enumerate() {
        if *name != "user-property" && list[..i].iter().any(|(n, _)| n == name) {
            return Err(usage_as_is(format!(
                "Error in {packet} properties: Duplicate property in property list"
            )));
        }
        let n = value.int();
        let forbidden = match *name {
            "receive-maximum" | "maximum-packet-size" | "topic-alias" => n == 0,
            "request-problem-information" | "request-response-information" => n > 1,
            _ => false,
        };
        if forbidden {
            return Err(protocol_error(packet));
        }
    }
    Ok(())
}

/// A command-line argument as an MQTT string (it cannot hold U+0000).
fn text(value: &str) -> MqttString {
    MqttString::try_from(value).unwrap_or_default()
}

fn user_property(value: &Value) -> UserProperty {
    match value {
        Value::Pair(k, v) => UserProperty {
            name: text(k),
            value: text(v),
        },
        _ => UserProperty {
            name: MqttString::default(),
            value: MqttString::default(),
        },
    }
}

fn with_user(props: &UserProperties, value: &Value) -> Result<UserProperties, Exit> {
    let mut all = props.to_vec();
    all.push(user_property(value));
    Ok(UserProperties::from(all))
}

/// 0 or 1: the library sends only those (mosquitto sends any byte).
fn payload_format(n: u32) -> Result<PayloadFormat, Exit> {
    match n {
        0 => Ok(PayloadFormat::Unspecified),
        1 => Ok(PayloadFormat::Utf8),
        _ => Err(cannot_send(format!("payload-format-indicator {n}"))),
    }
}

/// A topic name: mosquitto sends wildcards too, a protocol error
/// [MQTT-3.3.2-14].
fn response_topic(value: &str) -> Result<TopicName, Exit> {
    TopicName::try_from(value)
        .map_err(|_| cannot_send(format!("response-topic '{value}', not a topic name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    }

    fn parse(list: &[&[&str]]) -> Result<CliProperties, Exit> {
        CliProperties::parse(&args(list), false)
    }

    fn error(list: &[&[&str]]) -> String {
        parse(list).unwrap_err().message
    }

    #[test]
    fn publish_properties_are_built() {
        let p = parse(&[
            &["publish", "user-property", "k", "v"],
            &["publish", "content-type", "text/plain"],
            &["publish", "message-expiry-interval", "60"],
            &["publish", "response-topic", "r/t"],
            &["publish", "correlation-data", "abc"],
            &["publish", "topic-alias", "3"],
        ])
        .unwrap()
        .publish()
        .unwrap();
        assert_eq!(p.user_properties[0].name.as_str(), "k");
        assert_eq!(p.content_type.as_ref().unwrap().as_str(), "text/plain");
        assert_eq!(p.message_expiry_interval, Some(60));
        assert_eq!(p.response_topic.as_ref().unwrap().as_str(), "r/t");
        assert_eq!(&p.correlation_data.as_ref().unwrap()[..], b"abc");
        assert_eq!(p.topic_alias, NonZeroU16::new(3));
    }

    #[test]
    fn connect_and_will_properties_reach_the_config() {
        let p = parse(&[
            &["connect", "receive-maximum", "7"],
            &["connect", "topic-alias-maximum", "3"],
            &["connect", "maximum-packet-size", "1000"],
            &["connect", "request-problem-information", "0"],
            &["connect", "request-response-information", "1"],
            &["connect", "session-expiry-interval", "30"],
            &["connect", "user-property", "a", "b"],
            &["connect", "authentication-method", "m"],
            &["will", "will-delay-interval", "5"],
            &["will", "content-type", "ct"],
            &["will", "user-property", "w", "v"],
        ])
        .unwrap();
        let mut config = Config {
            will: Some(WillConfig::new(TopicName::try_from("w").unwrap())),
            ..Config::default()
        };
        p.apply_connect(&mut config).unwrap();
        assert_eq!(config.receive_maximum, NonZeroU16::new(7));
        assert_eq!(config.topic_alias_maximum, Some(3));
        assert_eq!(config.max_packet_size, Some(1000));
        assert_eq!(config.request_problem_information, Some(false));
        assert!(config.request_response_information);
        assert_eq!(config.session_expiry, Some(Duration::from_secs(30)));
        assert_eq!(config.user_properties.len(), 1);
        assert_eq!(config.authentication().unwrap().method(), "m");
        let will = config.will.unwrap();
        assert_eq!(will.delay_interval, Some(Duration::from_secs(5)));
        assert_eq!(will.content_type.unwrap().as_str(), "ct");
        assert_eq!(will.user_properties.len(), 1);
    }

    #[test]
    fn values_read_as_strtol() {
        assert_eq!(strtol("12abc"), 12);
        assert_eq!(strtol(" 7"), 7);
        assert_eq!(strtol("abc"), 0);
        assert_eq!(strtol("1.5"), 1);
        assert_eq!(strtol("0x10"), 0);
        assert_eq!(strtol("-1"), -1);
    }

    #[test]
    fn mosquitto_errors() {
        assert_eq!(
            error(&[&["publish", "bogus", "k"]]),
            "Error: Invalid property name given in --property argument."
        );
        assert_eq!(
            error(&[&["bogus", "content-type", "k"]]),
            "Error: Invalid command given in --property argument."
        );
        assert_eq!(
            error(&[&["subscribe", "content-type", "x"]]),
            "Error: content-type property not allowed for subscribe in --property argument."
        );
        assert_eq!(
            error(&[&["puback", "reason-string", "x"]]),
            "Error: reason-string property not supported for puback in --property argument."
        );
        assert_eq!(
            error(&[&["auth", "authentication-method", "x"]]),
            "Error: authentication-method property not supported for auth in --property argument."
        );
        assert_eq!(
            error(&[&["publish", "user-property", "k"]]),
            "Error: --property argument given but not enough arguments specified."
        );
        assert_eq!(
            error(&[&["connect", "receive-maximum", "70000"]]),
            "Error: Property value (70000) out of range for property receive-maximum."
        );
        assert_eq!(
            error(&[&["publish", "message-expiry-interval", "-1"]]),
            "Error: Property value (-1) out of range for property message-expiry-interval."
        );
        assert_eq!(
            error(&[&["connect", "receive-maximum", "abc"]]),
            "Error in CONNECT properties: A network protocol error occurred when communicating with the broker."
        );
        assert_eq!(
            error(&[&["publish", "topic-alias", "0"]]),
            "Error in PUBLISH properties: A network protocol error occurred when communicating with the broker."
        );
        assert_eq!(
            error(&[
                &["will", "content-type", "a"],
                &["will", "content-type", "b"]
            ]),
            "Error in Will properties: Duplicate property in property list"
        );
        assert_eq!(
            CliProperties::parse(&args(&[&["connect", "session-expiry-interval", "3"]]), true)
                .unwrap_err()
                .message,
            "Error in CONNECT properties: Duplicate property in property list"
        );
        assert_eq!(
            error(&[&["subscribe", "subscription-identifier", "300000000"]]),
            "Error adding property subscription-identifier 4"
        );
        // Repeated user properties are fine.
        assert!(
            parse(&[
                &["publish", "user-property", "a", "b"],
                &["publish", "user-property", "a", "c"]
            ])
            .is_ok()
        );
    }

    #[test]
    fn what_sansmqtt_cannot_send_is_refused() {
        let p = parse(&[&["subscribe", "subscription-identifier", "5"]]).unwrap();
        assert!(p.subscribe().is_err());
        let p = parse(&[&["publish", "payload-format-indicator", "2"]]).unwrap();
        assert!(p.publish().is_err());
        let p = parse(&[&["connect", "authentication-data", "x"]]).unwrap();
        assert!(p.apply_connect(&mut Config::default()).is_err());
        let p = parse(&[&["disconnect", "session-expiry-interval", "5"]]).unwrap();
        assert!(p.disconnect(&Config::default()).is_err());
        let p = parse(&[&["disconnect", "session-expiry-interval", "0"]]).unwrap();
        assert!(p.disconnect(&Config::default()).unwrap().is_some());
    }
}
