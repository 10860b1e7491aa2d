//! A transport wrapper that watches the MQTT packets going both ways: `-d`
//! logs each one in mosquitto's `Client X sending CONNECT` style.

use std::io::{self, IoSlice, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use sansmqtt_proto::{Decoder, Packet, ProtocolVersion, RetainHandling};

/// Shared by every connection of one run: the debug switch and the client
/// identifier shown in log lines (the broker may assign one).
#[derive(Debug)]
pub(crate) struct Watch {
    debug: bool,
    version: ProtocolVersion,
    client_id: Mutex<String>,
    /// The last message id shown for an outgoing packet: libmosquitto
    /// numbers QoS 0 publishes too, and `-d` shows those numbers.
    last_mid: Mutex<u16>,
}

impl Watch {
    /// What to watch: log packets when `debug`.
    pub(crate) fn new(debug: bool, version: ProtocolVersion, client_id: &str) -> Self {
        Self {
            debug,
            version,
            client_id: Mutex::new(client_id.to_owned()),
            last_mid: Mutex::new(0),
        }
    }

    /// Whether a transport needs wrapping at all.
    pub(crate) fn is_needed(&self) -> bool {
        self.debug
    }

    fn id(&self) -> String {
        let id = self.client_id.lock().unwrap_or_else(|p| p.into_inner());
        if id.is_empty() {
            "(null)".to_owned()
        } else {
            id.clone()
        }
    }

    /// One debug line, on stdout as mosquitto does.
    fn line(&self, text: std::fmt::Arguments<'_>) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// The message id shown for an outgoing packet: its own, or for a QoS 0
    /// PUBLISH the next number, as libmosquitto counts.
    fn mid(&self, id: Option<u16>) -> u16 {
        let mut last = self.last_mid.lock().unwrap_or_else(|p| p.into_inner());
        *last = match id {
            Some(id) => id,
            None => last.checked_add(1).unwrap_or(1),
        };
        *last
    }

    fn log(&self, sending: bool, packet: &Packet) {
        if !self.debug {
            return;
        }
        let dir = if sending { "sending" } else { "received" };
        let id = self.id();
        match packet {
            Packet::Connect(_) => self.line(format_args!("Client {id} sending CONNECT")),
            Packet::ConnAck(c) => {
                if let Some(assigned) = &c.properties.assigned_client_identifier {
                    *self.client_id.lock().unwrap_or_else(|p| p.into_inner()) =
                        assigned.as_str().to_owned();
                }
                let code = match self.version {
                    ProtocolVersion::V5 => c.reason.code(),
                    _ => c.reason.v3_return_code().unwrap_or(c.reason.code()),
                };
                let id = self.id();
                self.line(format_args!("Client {id} received CONNACK ({code})"));
            }
            Packet::Publish(p) => self.line(format_args!(
                "Client {id} {dir} PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                u8::from(p.dup),
                p.qos as u8,
                u8::from(p.retain),
                if sending {
                    self.mid(p.packet_id.map(|m| m.get()))
                } else {
                    p.packet_id.map_or(0, |m| m.get())
                },
                p.topic,
                p.payload.len()
            )),
            Packet::PubAck(a) if sending => self.line(format_args!(
                "Client {id} sending PUBACK (m{}, rc{})",
                a.packet_id.get(),
                a.reason.code()
            )),
            Packet::PubAck(a) => self.line(format_args!(
                "Client {id} received PUBACK (Mid: {}, RC:{})",
                a.packet_id.get(),
                a.reason.code()
            )),
            Packet::PubRec(a) if sending => self.line(format_args!(
                "Client {id} sending PUBREC (m{}, rc{})",
                a.packet_id.get(),
                a.reason.code()
            )),
            Packet::PubRec(a) => self.line(format_args!(
                "Client {id} received PUBREC (Mid: {})",
                a.packet_id.get()
            )),
            Packet::PubRel(a) if sending => self.line(format_args!(
                "Client {id} sending PUBREL (m{})",
                a.packet_id.get()
            )),
            Packet::PubRel(a) => self.line(format_args!(
                "Client {id} received PUBREL (Mid: {})",
                a.packet_id.get()
            )),
            Packet::PubComp(a) if sending => self.line(format_args!(
                "Client {id} sending PUBCOMP (m{})",
                a.packet_id.get()
            )),
            Packet::PubComp(a) => self.line(format_args!(
                "Client {id} received PUBCOMP (Mid: {}, RC:{})",
                a.packet_id.get(),
                a.reason.code()
            )),
            Packet::Subscribe(s) => {
                self.mid(Some(s.packet_id.get()));
                for (filter, o) in &s.filters {
                    let handling = match o.retain_handling {
                        RetainHandling::SendAtSubscribe => 0,
                        RetainHandling::SendAtSubscribeIfNew => 1,
                        RetainHandling::DoNotSend => 2,
                    };
                    let options = (u8::from(o.no_local) << 2)
                        | (u8::from(o.retain_as_published) << 3)
                        | (handling << 4);
                    self.line(format_args!(
                        "Client {id} sending SUBSCRIBE (Mid: {}, Topic: {}, QoS: {}, Options: 0x{options:02x})",
                        s.packet_id.get(),
                        filter.as_str(),
                        o.qos as u8
                    ));
                }
            }
            Packet::SubAck(s) => {
                self.line(format_args!("Client {id} received SUBACK"));
                let codes: Vec<String> = s.reasons.iter().map(|r| r.code().to_string()).collect();
                self.line(format_args!(
                    "Subscribed (mid: {}): {}",
                    s.packet_id.get(),
                    codes.join(", ")
                ));
            }
            Packet::Unsubscribe(u) => {
                self.mid(Some(u.packet_id.get()));
                for filter in &u.filters {
                    self.line(format_args!(
                        "Client {id} sending UNSUBSCRIBE (Mid: {}, Topic: {})",
                        u.packet_id.get(),
                        filter.as_str()
                    ));
                }
            }
            Packet::UnsubAck(u) => self.line(format_args!(
                "Client {id} received UNSUBACK (Mid: {})",
                u.packet_id.get()
            )),
            Packet::PingReq => self.line(format_args!("Client {id} {dir} PINGREQ")),
            Packet::PingResp => self.line(format_args!("Client {id} {dir} PINGRESP")),
            Packet::Disconnect(d) if sending => {
                self.line(format_args!("Client {id} sending DISCONNECT"));
                let _ = d;
            }
            Packet::Disconnect(d) => self.line(format_args!(
                "Client {id} received DISCONNECT ({})",
                d.reason.code()
            )),
            Packet::Auth(_) => self.line(format_args!("Client {id} {dir} AUTH")),
        }
    }
}

/// One direction's packet decoder; stops at the first malformed packet (the
/// session reports the violation itself).
struct Side {
    decoder: Decoder,
    broken: bool,
}

impl Side {
    fn new(version: ProtocolVersion) -> Self {
        Self {
            decoder: Decoder::new(version),
            broken: false,
        }
    }

    fn feed(&mut self, watch: &Watch, sending: bool, bytes: &[u8]) {
        if self.broken || !watch.debug {
            return;
        }
        self.decoder.feed(bytes);
        loop {
            match self.decoder.decode() {
                Ok(Some(packet)) => watch.log(sending, &packet),
                Ok(None) => break,
                Err(e) => {
                    self.broken = true;
                    if !sending {
                        watch.line(format_args!(
                            "Client {} received a malformed packet: {e}",
                            watch.id()
                        ));
                    }
                    break;
                }
            }
        }
    }
}

/// A transport seen through a [`Watch`].
pub(crate) struct Tap<T> {
    inner: T,
    watch: Arc<Watch>,
    sent: Side,
    received: Side,
}

impl<T> Tap<T> {
    /// Watches `inner`.
    pub(crate) fn new(inner: T, watch: Arc<Watch>) -> Self {
        let version = watch.version;
        Self {
            inner,
            watch,
            sent: Side::new(version),
            received: Side::new(version),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tap<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.received.feed(&this.watch, false, &buf[..n]);
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tap<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                let mut left = n;
                for b in bufs {
                    if left == 0 {
                        break;
                    }
                    let take = left.min(b.len());
                    this.sent.feed(&this.watch, true, &b[..take]);
                    left -= take;
                }
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
