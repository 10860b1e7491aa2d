//! MQTT over WebSocket (`ws://`, `wss://`), over any `futures-io` stream.
//!
//! [`connect`] sends the HTTP upgrade request to the URI's path (`/mqtt`,
//! `/`, with its query), asking for the `mqtt` subprotocol
//! (`Sec-WebSocket-Protocol: mqtt`, which the broker must accept) and
//! carrying the config's `extra_headers`. The result, a [`WsStream`], is a
//! plain byte stream again: MQTT packets travel in binary messages, split
//! anywhere (a packet may span messages, a message may hold several
//! packets).

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::error::ProtocolError;
use async_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use async_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use async_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use bytes::BytesMut;
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::{Sink, Stream};

use crate::config::BrokerUri;

/// The WebSocket subprotocol of MQTT (MQTT 3.1.1 §6, MQTT 5 §6).
pub const SUBPROTOCOL: &str = "mqtt";

/// The WebSocket handshake over `stream` (TCP, or TLS for `wss://`) with
/// the broker at `uri`: request target `uri.path`, subprotocol `mqtt`, and
/// `extra_headers` (which replace a header of the same name, e.g.
/// `Sec-WebSocket-Protocol` for a broker that wants `mqttv3.1`). A refused
/// upgrade is an `io::Error` naming the URL and the HTTP status.
pub async fn connect<S>(
    stream: S,
    uri: &BrokerUri,
    extra_headers: &BTreeMap<String, String>,
) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let scheme = if uri.scheme.is_tls() { "wss" } else { "ws" };
    let path = if uri.path.is_empty() { "/" } else { &uri.path };
    let url = format!("{scheme}://{}{path}", uri.authority());
    // Errors and logs show the URL without its query, which may hold a
    // token (a presigned URL's signature).
    let shown = match url.split_once('?') {
        Some((base, _)) => format!("{base}?..."),
        None => url.clone(),
    };
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| invalid(format!("WebSocket request to {shown}: {e}")))?;
    let headers = request.headers_mut();
    headers.insert(
        SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    for (name, value) in extra_headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| invalid(format!("extra_headers: {name:?}: {e}")))?;
        let value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|e| invalid(format!("extra_headers: {name:?}: {e}")))?;
        headers.insert(header, value);
    }
    let (ws, response) = async_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| handshake_error(&shown, e))?;
    log::debug!(
        "WebSocket to {shown}: subprotocol {:?}",
        response.headers().get(SEC_WEBSOCKET_PROTOCOL)
    );
    Ok(WsStream::new(ws))
}

/// A failed upgrade, with the URL and the cause.
fn handshake_error(url: &str, e: WsError) -> io::Error {
    match e {
        WsError::Http(response) => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!(
                "WebSocket upgrade to {url} refused: HTTP {}",
                response.status()
            ),
        ),
        WsError::Io(e) => io::Error::new(
            e.kind(),
            format!("WebSocket handshake with {url} failed: {e}"),
        ),
        e => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WebSocket handshake with {url} failed: {e}"),
        ),
    }
}

/// An error of the WebSocket layer as an `io::Error`.
fn io_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "WebSocket connection closed")
        }
        e => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {e}")),
    }
}

/// A WebSocket connection as a `futures-io` byte stream: what is written
/// goes out as binary messages (one per write; a vectored write is
/// coalesced into one message), what is read is the payload of the binary
/// messages received, their boundaries ignored.
///
/// Pings are answered (by the WebSocket layer, on the next read or write),
/// pongs ignored; a close message is the end of the stream; a text message
/// is an `InvalidData` error (MQTT forbids them, §6).
/// [`AsyncWrite::poll_close`] sends a close message.
pub struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    unread: Bytes,
    /// A close message or the end of the stream was read.
    eof: bool,
}

impl<S> std::fmt::Debug for WsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("unread", &self.unread.len())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<S> WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The byte stream of an open WebSocket connection.
    pub fn new(inner: WebSocketStream<S>) -> Self {
        Self {
            inner,
            unread: Bytes::new(),
            eof: false,
        }
    }

    /// The underlying stream (TCP, TLS).
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }
}

impl<S> AsyncRead for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if !this.unread.is_empty() {
                let n = this.unread.len().min(buf.len());
                buf[..n].copy_from_slice(&this.unread.split_to(n));
                return Poll::Ready(Ok(n));
            }
            if this.eof || buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.unread = data,
                // The WebSocket layer queued the pong; it goes out on the
                // next read or write.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "WebSocket text message: MQTT travels in binary messages only",
                    )));
                }
                Some(Ok(Message::Close(frame))) => {
                    log::debug!("WebSocket closed by the peer: {frame:?}");
                    // Best effort: send the queued close reply now, as the
                    // caller may drop the stream on end of stream.
                    let _ = Pin::new(&mut this.inner).poll_flush(cx);
                    this.eof = true;
                }
                // The peer closed the connection without a close message:
                // the end of the stream, as for TCP.
                None
                | Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                    this.eof = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
    }
}

impl<S> WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends `data` as one binary message once the sink has room.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        data: impl FnOnce() -> Bytes,
    ) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_ready(cx)).map_err(io_error)?;
        Pin::new(&mut self.inner)
            .start_send(Message::Binary(data()))
            .map_err(io_error)?;
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncWrite for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.get_mut().poll_send(cx, || Bytes::copy_from_slice(buf)))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.get_mut().poll_send(cx, || {
            let mut message = BytesMut::with_capacity(len);
            for b in bufs {
                message.extend_from_slice(b);
            }
            message.freeze()
        }))?;
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(io_error)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(io_error)
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use async_tungstenite::tungstenite::protocol::Role;
    use futures_util::{AsyncReadExt, AsyncWriteExt, FutureExt};

    use super::*;

    /// A scripted peer: reads come from `input`, `chunk` bytes at a time
    /// (never pending), writes pile up in `output`.
    struct Scripted {
        input: Vec<u8>,
        at: usize,
        chunk: usize,
        output: Vec<u8>,
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk).min(self.input.len() - self.at);
            let at = self.at;
            buf[..n].copy_from_slice(&self.input[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Scripted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.output.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// An unmasked server frame (payload under 126 bytes).
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mut f = vec![u8::from(fin) << 7 | opcode, payload.len() as u8];
        f.extend_from_slice(payload);
        f
    }

    /// The frames a client wrote: (opcode, unmasked payload).
    fn client_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let opcode = bytes[0] & 0x0f;
            assert_eq!(bytes[1] & 0x80, 0x80, "client frames are masked");
            let (len, mut rest) = match bytes[1] & 0x7f {
                126 => (
                    usize::from(u16::from_be_bytes([bytes[2], bytes[3]])),
                    &bytes[4..],
                ),
                n => (usize::from(n), &bytes[2..]),
            };
            let mask = [rest[0], rest[1], rest[2], rest[3]];
            rest = &rest[4..];
            let payload = rest[..len]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            out.push((opcode, payload));
            bytes = &rest[len..];
        }
        out
    }

    fn ws(input: Vec<u8>, chunk: usize) -> WsStream<Scripted> {
        let peer = Scripted {
            input,
            at: 0,
            chunk,
            output: Vec::new(),
        };
        let inner = WebSocketStream::from_raw_socket(peer, Role::Client, None)
            .now_or_never()
            .expect("ready");
        WsStream::new(inner)
    }

    const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
    const PINGRESP: [u8; 2] = [0xd0, 0x00];

    fn publish() -> Vec<u8> {
        // PUBLISH QoS 0, topic "a/b", payload "hello".
        vec![
            0x30, 0x0a, 0x00, 0x03, b'a', b'/', b'b', b'h', b'e', b'l', b'l', b'o',
        ]
    }

    #[test]
    fn packets_split_across_frames_and_frames_holding_several_packets() {
        let publish = publish();
        let mut script = Vec::new();
        // CONNACK and the first 3 bytes of PUBLISH in one message.
        let mut first = CONNACK.to_vec();
        first.extend_from_slice(&publish[..3]);
        script.extend(frame(true, 0x2, &first));
        // A ping between the two halves.
        script.extend(frame(true, 0x9, b"hi"));
        // The rest of PUBLISH as a fragmented message, PINGRESP in its tail.
        script.extend(frame(false, 0x2, &publish[3..7]));
        let mut tail = publish[7..].to_vec();
        tail.extend_from_slice(&PINGRESP);
        script.extend(frame(true, 0x0, &tail));
        script.extend(frame(true, 0xa, b"unsolicited pong"));
        script.extend(frame(true, 0x8, &[0x03, 0xe8]));

        for chunk in [1, 3, 1000] {
            let mut s = ws(script.clone(), chunk);
            let mut all = Vec::new();
            s.read_to_end(&mut all).now_or_never().unwrap().unwrap();
            let mut expected = CONNACK.to_vec();
            expected.extend_from_slice(&publish);
            expected.extend_from_slice(&PINGRESP);
            assert_eq!(all, expected, "chunk {chunk}");
            // The ping was answered with its payload; the close echoed.
            let sent = client_frames(&s.inner.get_ref().output);
            assert_eq!(sent[0], (0xa, b"hi".to_vec()), "chunk {chunk}");
            assert_eq!(sent.last().unwrap().0, 0x8, "chunk {chunk}");
        }
    }

    #[test]
    fn small_reads_drain_one_message_in_pieces() {
        let publish = publish();
        let mut s = ws(frame(true, 0x2, &publish), 1000);
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        while got.len() < publish.len() {
            let n = s.read(&mut buf).now_or_never().unwrap().unwrap();
            assert!(n > 0 && n <= 5);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, publish);
        // The script ends without a close: end of stream.
        assert_eq!(s.read(&mut buf).now_or_never().unwrap().unwrap(), 0);
    }

    #[test]
    fn a_text_message_is_an_error() {
        let mut s = ws(frame(true, 0x1, b"{\"json\": 1}"), 1000);
        let mut buf = [0u8; 16];
        let e = s.read(&mut buf).now_or_never().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("text"), "{e}");
    }

    #[test]
    fn writes_are_binary_messages_and_a_vectored_write_is_one_message() {
        let mut s = ws(Vec::new(), 1000);
        let n = s.write(&CONNACK).now_or_never().unwrap().unwrap();
        assert_eq!(n, 4);
        let publish = publish();
        let bufs = [
            IoSlice::new(&publish[..2]),
            IoSlice::new(&[]),
            IoSlice::new(&publish[2..]),
            IoSlice::new(&PINGRESP),
        ];
        let n = s.write_vectored(&bufs).now_or_never().unwrap().unwrap();
        assert_eq!(n, publish.len() + 2);
        assert_eq!(s.write(&[]).now_or_never().unwrap().unwrap(), 0);
        s.flush().now_or_never().unwrap().unwrap();
        let mut joined = publish.clone();
        joined.extend_from_slice(&PINGRESP);
        assert_eq!(
            client_frames(&s.inner.get_ref().output),
            [(0x2, CONNACK.to_vec()), (0x2, joined)]
        );
        s.close().now_or_never().unwrap().unwrap();
        let sent = client_frames(&s.inner.get_ref().output);
        assert_eq!(sent.last().unwrap().0, 0x8, "a close message");
    }
}
