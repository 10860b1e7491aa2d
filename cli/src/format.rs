//! What `sansmqtt sub` prints for a message: the payload (`-v`: topic and
//! payload), or mosquitto_sub's `-F` format with its `%` fields, `@`
//! time fields and `\` escapes, and the `%j` / `%J` JSON objects.

use std::sync::Arc;

use sansmqtt_proto::Publish as Message;
use sansmqtt_tokio::Bytes;
use sansmqtt_tokio::payload::{Codec, Value};
use serde_json::Value as Json;
use time::{OffsetDateTime, UtcOffset};

/// How messages are printed.
pub(crate) struct Printer {
    /// `-F`.
    pub(crate) format: Option<String>,
    /// `-v`.
    pub(crate) verbose: bool,
    /// `-N`.
    pub(crate) no_newline: bool,
    /// `--pretty`.
    pub(crate) pretty: bool,
    /// The local time zone (read at start, before any thread).
    pub(crate) offset: UtcOffset,
    /// `--codec`: payloads are shown decoded.
    pub(crate) codec: Option<(String, Arc<dyn Codec>)>,
}

/// A printed message, and a warning for stderr if something went wrong.
pub(crate) struct Rendered {
    /// The bytes for stdout (empty when the message is skipped).
    pub(crate) out: Vec<u8>,
    /// One line for stderr.
    pub(crate) warning: Option<String>,
}

impl Printer {
    /// The output for the PUBLISH of a message, received `now`.
    pub(crate) fn render(&self, message: &Message, now: OffsetDateTime) -> Rendered {
        let now = now.to_offset(self.offset);
        let mut warning = None;
        let payload = self.payload(message, &mut warning);
        let mut out = Vec::new();
        match &self.format {
            None => {
                if self.verbose {
                    out.extend_from_slice(message.topic.as_str().as_bytes());
                    out.push(b' ');
                    if payload.is_empty() {
                        // As mosquitto_sub -v.
                        out.extend_from_slice(b"(null)");
                    }
                }
                out.extend_from_slice(&payload);
            }
            Some(format) => {
                if let Err(e) = self.expand(format, message, &payload, now, &mut out) {
                    return Rendered {
                        out: Vec::new(),
                        warning: Some(e),
                    };
                }
            }
        }
        if !self.no_newline {
            out.push(b'\n');
        }
        Rendered { out, warning }
    }

    /// The payload as shown: decoded by `--codec` if given.
    fn payload(&self, message: &Message, warning: &mut Option<String>) -> Bytes {
        let Some((name, codec)) = &self.codec else {
            return message.payload.clone();
        };
        match codec.decode(&message.payload) {
            Ok(value) => show_value(value, self.pretty),
            Err(e) => {
                *warning = Some(format!(
                    "Warning: payload on topic {} does not decode with codec {name}: {e}",
                    message.topic
                ));
                message.payload.clone()
            }
        }
    }

    fn expand(
        &self,
        format: &str,
        message: &Message,
        payload: &Bytes,
        now: OffsetDateTime,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let props = &message.properties;
        let mut chars = format.chars();
        let put = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
        while let Some(c) = chars.next() {
            match c {
                '%' => match chars.next() {
                    None => put(out, "%"),
                    Some('%') => put(out, "%"),
                    Some('t') => put(out, message.topic.as_str()),
                    Some('p') => out.extend_from_slice(payload),
                    Some('q') => put(out, &(message.qos as u8).to_string()),
                    Some('r') => put(out, if message.retain { "1" } else { "0" }),
                    Some('l') => put(out, &payload.len().to_string()),
                    Some('m') => put(out, &message.packet_id.map_or(0, |m| m.get()).to_string()),
                    Some('x') => put(out, &hex(payload, false)),
                    Some('X') => put(out, &hex(payload, true)),
                    Some('I') => put(out, &iso8601(now)),
                    Some('U') => put(
                        out,
                        &format!("{}.{:09}", now.unix_timestamp(), now.nanosecond()),
                    ),
                    Some('j') => put(out, &self.json(message, payload, now, false)?),
                    Some('J') => put(out, &self.json(message, payload, now, true)?),
                    Some('A') => {
                        if let Some(a) = props.topic_alias {
                            put(out, &a.to_string());
                        }
                    }
                    Some('C') => {
                        if let Some(c) = &props.content_type {
                            put(out, c.as_str());
                        }
                    }
                    Some('D') => {
                        if let Some(d) = &props.correlation_data {
                            out.extend_from_slice(d);
                        }
                    }
                    Some('E') => {
                        if let Some(e) = props.message_expiry_interval {
                            put(out, &e.to_string());
                        }
                    }
                    Some('F') => {
                        if let Some(f) = props.payload_format_indicator {
                            put(out, &(f as u8).to_string());
                        }
                    }
                    Some('P') => {
                        let pairs: Vec<String> = props
                            .user_properties
                            .iter()
                            .map(|p| format!("{}:{}", p.name.as_str(), p.value.as_str()))
                            .collect();
                        put(out, &pairs.join(" "));
                    }
                    Some('R') => {
                        if let Some(r) = &props.response_topic {
                            put(out, r.as_str());
                        }
                    }
                    Some('S') => {
                        if let Some(s) = props.subscription_identifiers.first() {
                            put(out, &s.get().to_string());
                        }
                    }
                    Some(other) => {
                        put(out, "%");
                        put(out, other.encode_utf8(&mut [0; 4]));
                    }
                },
                '@' => match chars.next() {
                    None => put(out, "@"),
                    Some(f) => put(out, &strftime(f, now)),
                },
                '\\' => match chars.next() {
                    None => put(out, "\\"),
                    Some('\\') => put(out, "\\"),
                    Some('0') => out.push(0),
                    Some('a') => out.push(0x07),
                    Some('e') => out.push(0x1b),
                    Some('n') => out.push(b'\n'),
                    Some('r') => out.push(b'\r'),
                    Some('t') => out.push(b'\t'),
                    Some('v') => out.push(0x0b),
                    Some(other) => {
                        put(out, "\\");
                        put(out, other.encode_utf8(&mut [0; 4]));
                    }
                },
                c => put(out, c.encode_utf8(&mut [0; 4])),
            }
        }
        Ok(())
    }

    /// `%j` (payload as a string) or `%J` (payload as JSON; an error if it
    /// is not JSON), with mosquitto's keys in mosquitto's order.
    fn json(
        &self,
        message: &Message,
        payload: &Bytes,
        now: OffsetDateTime,
        payload_is_json: bool,
    ) -> Result<String, String> {
        let props = &message.properties;
        let mut fields: Vec<(&str, Json)> = vec![
            ("tst", Json::from(json_time(now))),
            ("topic", Json::from(message.topic.as_str())),
            ("qos", Json::from(message.qos as u8)),
            ("retain", Json::from(u8::from(message.retain))),
            ("payloadlen", Json::from(payload.len())),
        ];
        if let Some(mid) = message.packet_id {
            fields.push(("mid", Json::from(mid.get())));
        }
        let mut p: Vec<(&str, Json)> = Vec::new();
        if !props.user_properties.is_empty() {
            let map = props
                .user_properties
                .iter()
                .map(|u| (u.name.as_str().to_owned(), Json::from(u.value.as_str())))
                .collect();
            p.push(("user-properties", Json::Object(map)));
        }
        if let Some(c) = &props.content_type {
            p.push(("content-type", Json::from(c.as_str())));
        }
        if let Some(d) = &props.correlation_data {
            p.push((
                "correlation-data",
                Json::from(String::from_utf8_lossy(d).into_owned()),
            ));
        }
        if let Some(r) = &props.response_topic {
            p.push(("response-topic", Json::from(r.as_str())));
        }
        if let Some(e) = props.message_expiry_interval {
            p.push(("message-expiry-interval", Json::from(e)));
        }
        if let Some(f) = props.payload_format_indicator {
            p.push(("payload-format-indicator", Json::from(f as u8)));
        }
        let mut text = String::new();
        let properties = (!p.is_empty()).then(|| object(&p, self.pretty, 1));
        let payload_json = if payload_is_json {
            match serde_json::from_slice::<Json>(payload) {
                Ok(v) => v,
                Err(_) => {
                    return Err(format!(
                        "Error: Message payload is not valid JSON on topic {}.",
                        message.topic
                    ));
                }
            }
        } else {
            Json::from(String::from_utf8_lossy(payload).into_owned())
        };
        text.push('{');
        let sep = if self.pretty { "\n  " } else { "" };
        let colon = if self.pretty { ": " } else { ":" };
        let mut first = true;
        let mut field = |text: &mut String, key: &str, value: &str| {
            if !first {
                text.push(',');
            }
            first = false;
            text.push_str(sep);
            text.push_str(&Json::from(key).to_string());
            text.push_str(colon);
            text.push_str(value);
        };
        for (k, v) in &fields {
            field(&mut text, k, &value_text(v, self.pretty, 1));
        }
        if let Some(p) = properties {
            field(&mut text, "properties", &p);
        }
        field(
            &mut text,
            "payload",
            &value_text(&payload_json, self.pretty, 1),
        );
        if self.pretty {
            text.push('\n');
        }
        text.push('}');
        Ok(text)
    }
}

/// An object of ordered fields, at nesting `depth`.
fn object(fields: &[(&str, Json)], pretty: bool, depth: usize) -> String {
    let mut text = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        if pretty {
            text.push('\n');
            text.push_str(&"  ".repeat(depth + 1));
        }
        text.push_str(&Json::from(*k).to_string());
        text.push_str(if pretty { ": " } else { ":" });
        text.push_str(&value_text(v, pretty, depth + 1));
    }
    if pretty {
        text.push('\n');
        text.push_str(&"  ".repeat(depth));
    }
    text.push('}');
    text
}

/// A JSON value, pretty-printed with its continuation lines indented for
/// `depth`.
fn value_text(value: &Json, pretty: bool, depth: usize) -> String {
    if !pretty {
        return value.to_string();
    }
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.replace('\n', &format!("\n{}", "  ".repeat(depth)))
}

/// A decoded value as printed: bytes as they are, text as UTF-8, booleans
/// and null as words, data as JSON.
fn show_value(value: Value, pretty: bool) -> Bytes {
    match value {
        Value::Bytes(b) => b,
        Value::Text(t) => Bytes::from(t),
        Value::Bool(b) => Bytes::from(if b { "true" } else { "false" }),
        Value::Null => Bytes::from_static(b"null"),
        Value::Data(d) => Bytes::from(value_text(&d, pretty, 0)),
    }
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

/// `+hhmm`.
fn zone(t: OffsetDateTime) -> String {
    let o = t.offset();
    let sign = if o.is_negative() { '-' } else { '+' };
    format!(
        "{sign}{:02}{:02}",
        o.whole_hours().unsigned_abs(),
        o.minutes_past_hour().unsigned_abs()
    )
}

/// `%I`: `2016-08-10T09:47:38+0100`.
fn iso8601(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        zone(t)
    )
}

/// The `tst` of `%j`, as mosquitto writes it: local time with
/// microseconds, then `Z`, then the offset.
fn json_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z{}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
        zone(t)
    )
}

/// One `@` field: the common `strftime` conversions.
fn strftime(field: char, t: OffsetDateTime) -> String {
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    match field {
        '@' => "@".to_owned(),
        'Y' => format!("{:04}", t.year()),
        'y' => format!("{:02}", t.year().rem_euclid(100)),
        'm' => format!("{:02}", t.month() as u8),
        'd' => format!("{:02}", t.day()),
        'e' => format!("{:2}", t.day()),
        'j' => format!("{:03}", t.ordinal()),
        'H' => format!("{:02}", t.hour()),
        'I' => format!("{hour12:02}"),
        'M' => format!("{:02}", t.minute()),
        'S' => format!("{:02}", t.second()),
        'p' => (if t.hour() < 12 { "AM" } else { "PM" }).to_owned(),
        'z' => zone(t),
        's' => t.unix_timestamp().to_string(),
        'F' => format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
        'T' => format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
        other => format!("@{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sansmqtt_proto::{Publish, TopicName};

    fn at() -> OffsetDateTime {
        // 2016-08-10 08:47:38.5 UTC.
        OffsetDateTime::from_unix_timestamp_nanos(1_470_818_858_500_000_000).unwrap()
    }

    fn printer(format: Option<&str>) -> Printer {
        Printer {
            format: format.map(str::to_owned),
            verbose: false,
            no_newline: false,
            pretty: false,
            offset: UtcOffset::from_hms(1, 0, 0).unwrap(),
            codec: None,
        }
    }

    fn message(topic: &str, payload: &'static [u8], retain: bool) -> Message {
        let mut p = Publish::at_most_once(TopicName::try_from(topic).unwrap(), payload);
        p.retain = retain;
        p
    }

    fn render(p: &Printer, m: &Message) -> String {
        String::from_utf8(p.render(m, at()).out).unwrap()
    }

    #[test]
    fn plain_verbose_and_no_newline() {
        let m = message("a/b", b"hello", false);
        assert_eq!(render(&printer(None), &m), "hello\n");
        let mut p = printer(None);
        p.verbose = true;
        assert_eq!(render(&p, &m), "a/b hello\n");
        p.no_newline = true;
        assert_eq!(render(&p, &m), "a/b hello");
    }

    #[test]
    fn format_fields_escapes_and_time() {
        let m = message("a/b", b"hi", true);
        let p = printer(Some(
            r"%t|%p|%q|%r|%l|%m|%x|%X|%%|\t|%I|@Y-@m-@d @H:@M:@S@@|%U",
        ));
        assert_eq!(
            render(&p, &m),
            "a/b|hi|0|1|2|0|6869|6869|%|\t|2016-08-10T09:47:38+0100|2016-08-10 09:47:38@|1470818858.500000000\n"
        );
    }

    #[test]
    fn json_formats() {
        let m = message("a/b", br#"{"x": [1, 2]}"#, false);
        let p = printer(Some("%j"));
        assert_eq!(
            render(&p, &m),
            "{\"tst\":\"2016-08-10T09:47:38.500000Z+0100\",\"topic\":\"a/b\",\"qos\":0,\"retain\":0,\"payloadlen\":13,\"payload\":\"{\\\"x\\\": [1, 2]}\"}\n"
        );
        let p = printer(Some("%J"));
        assert!(render(&p, &m).ends_with(",\"payload\":{\"x\":[1,2]}}\n"));
        let mut p = printer(Some("%J"));
        p.pretty = true;
        let text = render(&p, &m);
        assert!(text.starts_with("{\n  \"tst\": "), "{text}");
        assert!(text.contains("\n  \"payload\": {\n    \"x\": ["), "{text}");
        serde_json::from_str::<Json>(&text).unwrap();
        let bad = message("a/b", b"not json", false);
        let r = printer(Some("%J")).render(&bad, at());
        assert!(r.out.is_empty());
        assert_eq!(
            r.warning.as_deref(),
            Some("Error: Message payload is not valid JSON on topic a/b.")
        );
    }
}
