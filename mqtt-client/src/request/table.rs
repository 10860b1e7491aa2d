//! The requests waiting for their reply, sans-IO: the response topic, the
//! correlation data of each request, the state of the one subscription to
//! the response topic, and which waiting caller a reply goes to.
//!
//! No IO, no clock, no channels: a caller is an opaque `S` that
//! [`Answer`]s; every decision returns what the driver must send.
//!
//! - **Response topic.** Chosen at the first request and kept for the
//!   client's life: the CONNACK's Response Information followed by
//!   `/response` when the broker gave one (the client asked for it with
//!   Request Response Information), else `sansmqtt/response/<client id>`
//!   (the assigned client identifier when the broker assigned one; `+`,
//!   `#` and U+0000 replaced by `_`).
//! - **Correlation data.** 16 bytes: the client's nonce (random, chosen
//!   when the client is built) then the request's id (unique in the
//!   process), both big-endian. A reply from an earlier process using the
//!   same topic carries another nonce: it is dropped.
//! - **Subscription.** One, subscribed at the first request; requests wait
//!   for its SUBACK before they are published (else a fast responder's
//!   reply could come before the subscription exists). A refusal fails the
//!   requests waiting for it; the next request tries again.
//! - **Replies.** A message on the response topic goes to the caller its
//!   correlation data names, once; one with missing, foreign or unknown
//!   correlation data (a caller that gave up, a duplicate) is dropped and
//!   counted, never delivered to another caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use sansmqtt_proto::{ConnAckProperties, MqttString, Publish, TopicFilter, TopicName};

use crate::client::Counters;
use crate::{ClientError, Message};

/// A caller waiting for the outcome of its request.
pub(crate) trait Answer {
    /// Gives the caller its reply, or why there is none.
    fn answer(self, outcome: Result<Message, ClientError>);
}

/// Length of the correlation data the client generates.
const CORRELATION_LEN: usize = 16;

/// The correlation data of request `id` of the client with `nonce`.
pub(crate) fn correlation(nonce: u64, id: u64) -> Bytes {
    let mut data = [0u8; CORRELATION_LEN];
    data[..8].copy_from_slice(&nonce.to_be_bytes());
    data[8..].copy_from_slice(&id.to_be_bytes());
    Bytes::copy_from_slice(&data)
}

/// The request id in `data`, if it is correlation data of the client
/// with `nonce`.
fn request_id(nonce: u64, data: &[u8]) -> Option<u64> {
    let data: &[u8; CORRELATION_LEN] = data.try_into().ok()?;
    let (ours, id) = data.split_at(8);
    (ours == nonce.to_be_bytes()).then(|| u64::from_be_bytes(id.try_into().unwrap_or_default()))
}

/// The response topic: from the broker's Response Information when it
/// gave one that makes a topic name, else the client's own.
pub(crate) fn response_topic(info: Option<&str>, client_id: &str, nonce: u64) -> TopicName {
    let from_info = info
        .filter(|i| !i.is_empty())
        .and_then(|i| TopicName::try_from(format!("{}/response", i.trim_end_matches('/'))).ok());
    if let Some(topic) = from_info {
        return topic;
    }
    let id: String = client_id
        .chars()
        .map(|c| {
            if matches!(c, '+' | '#' | '\0') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let id = if id.is_empty() {
        format!("{nonce:016x}")
    } else {
        id
    };
    TopicName::try_from(format!("sansmqtt/response/{id}"))
        .or_else(|_| TopicName::try_from(format!("sansmqtt/response/{nonce:016x}")))
        .expect("a topic name of letters, digits and slashes")
}

/// The subscription to the response topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    /// Not made (yet, or refused).
    None,
    /// SUBSCRIBE sent, SUBACK awaited: requests wait.
    Pending,
    /// Acknowledged: requests go out at once. Kept (and restored after a
    /// reconnect without session) by the routing of subscriptions.
    Ready,
}

/// A request waiting for the subscription before it is published.
type Queued = (u64, Publish, Option<Instant>);

/// What a new request needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Publish it now (until the instant, if any).
    Send(Publish, Option<Instant>),
    /// Subscribe to this filter; the request waits for the SUBACK.
    Subscribe(TopicFilter),
    /// The request waits for the SUBACK of a SUBSCRIBE in flight.
    Wait,
    /// The caller was answered already (an error).
    Answered,
}

/// The requests waiting for their reply, by id.
pub(crate) struct Requests<S> {
    nonce: u64,
    /// The session's client identifier, replaced by the assigned one.
    client_id: String,
    /// The last CONNACK's Response Information.
    info: Option<MqttString>,
    topic: Option<TopicName>,
    sub: Sub,
    queued: Vec<Queued>,
    waiting: HashMap<u64, S>,
    counters: Arc<Counters>,
}

impl<S: Answer> Requests<S> {
    /// No request yet; `nonce` is the first half of every correlation data.
    pub(crate) fn new(nonce: u64, client_id: &str, counters: Arc<Counters>) -> Self {
        Self {
            nonce,
            client_id: client_id.to_owned(),
            info: None,
            topic: None,
            sub: Sub::None,
            queued: Vec::new(),
            waiting: HashMap::new(),
            counters,
        }
    }

    /// A CONNACK accepted the connection: its assigned client identifier
    /// and Response Information, for a response topic not chosen yet.
    pub(crate) fn connected(&mut self, properties: &ConnAckProperties) {
        if let Some(id) = &properties.assigned_client_identifier {
            self.client_id = id.as_str().to_owned();
        }
        self.info = properties.response_information.clone();
    }

    /// The response topic, once chosen (at the first request).
    #[cfg(test)]
    pub(crate) fn topic(&self) -> Option<&TopicName> {
        self.topic.as_ref()
    }

    /// Callers waiting (queued or sent).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// A new request `id` of `caller`: `publish` gets the response topic
    /// and its correlation data. `v5`: the connection speaks MQTT 5 (in
    /// 3.1.1 there is no response topic: the caller gets
    /// [`ClientError::NeedsMqtt5`]).
    pub(crate) fn start(
        &mut self,
        id: u64,
        mut publish: Publish,
        expires: Option<Instant>,
        caller: S,
        v5: bool,
    ) -> Start {
        if !v5 {
            caller.answer(Err(ClientError::NeedsMqtt5("request / response")));
            return Start::Answered;
        }
        let (nonce, info, client_id) = (self.nonce, &self.info, &self.client_id);
        let topic = self
            .topic
            .get_or_insert_with(|| response_topic(info.as_deref(), client_id, nonce));
        publish.properties.response_topic = Some(topic.clone());
        publish.properties.correlation_data = Some(correlation(self.nonce, id));
        self.waiting.insert(id, caller);
        match self.sub {
            Sub::Ready => Start::Send(publish, expires),
            Sub::Pending => {
                self.queued.push((id, publish, expires));
                Start::Wait
            }
            Sub::None => {
                self.queued.push((id, publish, expires));
                self.sub = Sub::Pending;
                let filter = TopicFilter::try_from(topic.as_str())
                    .expect("a topic name without wildcards is a filter");
                Start::Subscribe(filter)
            }
        }
    }

    /// The outcome of the SUBSCRIBE to the response topic: the requests
    /// that waited for it, to publish now; or, refused or never
    /// acknowledged, they fail with `error`.
    pub(crate) fn subscribed(&mut self, outcome: Result<(), ClientError>) -> Vec<Queued> {
        let queued = std::mem::take(&mut self.queued);
        match outcome {
            Ok(()) => {
                self.sub = Sub::Ready;
                queued
                    .into_iter()
                    .filter(|(id, ..)| self.waiting.contains_key(id))
                    .collect()
            }
            Err(error) => {
                self.sub = Sub::None;
                for (id, ..) in queued {
                    self.fail(id, error.clone());
                }
                Vec::new()
            }
        }
    }

    /// A message from the broker: taken when it is on the response topic
    /// (given to its caller, or dropped and counted), else handed back.
    pub(crate) fn reply(&mut self, message: Message) -> Option<Message> {
        if self.topic.as_ref() != Some(message.topic()) {
            return Some(message);
        }
        let data = message.properties().correlation_data.as_deref();
        let caller = data
            .and_then(|d| request_id(self.nonce, d))
            .and_then(|id| self.waiting.remove(&id));
        match caller {
            Some(caller) => caller.answer(Ok(message)),
            None => {
                self.counters
                    .replies_dropped
                    .fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "{}: reply on {} dropped: correlation data {:02x?} names no waiting request",
                    self.client_id,
                    message.topic(),
                    data.unwrap_or_default()
                );
            }
        }
        None
    }

    /// The caller of request `id` gave up (its future was dropped, or
    /// timed out): a reply to it will be dropped.
    pub(crate) fn cancel(&mut self, id: u64) {
        self.waiting.remove(&id);
        self.queued.retain(|(q, ..)| *q != id);
    }

    /// Request `id` failed (its publish did): its caller gets `error`.
    pub(crate) fn fail(&mut self, id: u64, error: ClientError) {
        if let Some(caller) = self.waiting.remove(&id) {
            caller.answer(Err(error));
        }
    }

    /// The client stops: every caller gets [`ClientError::Closed`].
    pub(crate) fn clear(&mut self) {
        self.queued.clear();
        for (_, caller) in self.waiting.drain() {
            caller.answer(Err(ClientError::Closed));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use sansmqtt_proto::SubAckReason;

    use super::*;

    /// Outcomes by caller name.
    type Log = Rc<RefCell<Vec<(&'static str, Result<Message, ClientError>)>>>;

    /// A caller that writes its outcome in the log.
    struct Caller(&'static str, Log);

    impl Answer for Caller {
        fn answer(self, outcome: Result<Message, ClientError>) {
            self.1.borrow_mut().push((self.0, outcome));
        }
    }

    const NONCE: u64 = 0x0102_0304_0506_0708;

    fn table(client_id: &str) -> (Requests<Caller>, Log, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        (
            Requests::new(NONCE, client_id, counters.clone()),
            Log::default(),
            counters,
        )
    }

    fn request(topic: &str) -> Publish {
        Publish::at_most_once(TopicName::try_from(topic).unwrap(), "question")
    }

    /// The publish of a `Start::Send`.
    fn sent(start: Start) -> Publish {
        match start {
            Start::Send(p, _) => p,
            other => panic!("not sent: {other:?}"),
        }
    }

    /// A reply on `topic` with `correlation`.
    fn reply(topic: &str, correlation: Option<Bytes>, payload: &'static str) -> Message {
        let mut p = Publish::at_most_once(TopicName::try_from(topic).unwrap(), payload);
        p.properties.correlation_data = correlation;
        Message::new(p)
    }

    fn outcomes(log: &Log) -> Vec<(&'static str, Result<String, ClientError>)> {
        log.borrow()
            .iter()
            .map(|(n, r)| {
                let r = r
                    .as_ref()
                    .map(|m| String::from_utf8(m.payload().to_vec()).unwrap());
                (*n, r.map_err(Clone::clone))
            })
            .collect()
    }

    /// Subscribes, then the SUBACK comes: returns the first publish.
    fn ready(t: &mut Requests<Caller>, log: &Log) -> Publish {
        let start = t.start(0, request("svc"), None, Caller("first", log.clone()), true);
        assert_eq!(
            start,
            Start::Subscribe(TopicFilter::try_from("sansmqtt/response/me").unwrap())
        );
        let mut go = t.subscribed(Ok(()));
        assert_eq!(go.len(), 1);
        go.remove(0).1
    }

    #[test]
    fn correlation_data_is_the_nonce_then_the_id() {
        let data = correlation(NONCE, 7);
        assert_eq!(&data[..], &[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(request_id(NONCE, &data), Some(7));
        assert_eq!(request_id(NONCE + 1, &data), None);
        assert_eq!(request_id(NONCE, &data[..15]), None);
    }

    /// MQTT 5 §4.10: the Response Information is the start of the response
    /// topic; without it the client's own topic, from its (assigned)
    /// client identifier, wildcards replaced.
    #[test]
    fn response_topic_from_response_information_else_the_client_id() {
        let t = |info, id| response_topic(info, id, NONCE).as_str().to_owned();
        assert_eq!(t(Some("reply/42/"), "me"), "reply/42/response");
        assert_eq!(t(Some("reply/42"), "me"), "reply/42/response");
        assert_eq!(t(Some(""), "me"), "sansmqtt/response/me");
        assert_eq!(t(Some("bad/#"), "me"), "sansmqtt/response/me");
        assert_eq!(t(None, "a+b#c"), "sansmqtt/response/a_b_c");
        assert_eq!(t(None, ""), "sansmqtt/response/0102030405060708");
    }

    #[test]
    fn the_assigned_client_id_and_response_information_choose_the_topic() {
        let (mut t, log, _) = table("");
        t.connected(&ConnAckProperties {
            assigned_client_identifier: Some(MqttString::try_from("auto-1").unwrap()),
            ..Default::default()
        });
        t.start(0, request("svc"), None, Caller("a", log.clone()), true);
        assert_eq!(t.topic().unwrap().as_str(), "sansmqtt/response/auto-1");

        let (mut t, log, _) = table("me");
        t.connected(&ConnAckProperties {
            response_information: Some(MqttString::try_from("granted/me").unwrap()),
            ..Default::default()
        });
        t.start(0, request("svc"), None, Caller("a", log.clone()), true);
        assert_eq!(t.topic().unwrap().as_str(), "granted/me/response");
    }

    /// Requests wait for the SUBACK of the one subscription, then all go;
    /// each carries the response topic and its own correlation data.
    #[test]
    fn requests_wait_for_the_one_subscription_then_go() {
        let (mut t, log, _) = table("me");
        let first = t.start(1, request("svc"), None, Caller("a", log.clone()), true);
        assert!(matches!(first, Start::Subscribe(_)));
        let second = t.start(2, request("svc"), None, Caller("b", log.clone()), true);
        assert_eq!(second, Start::Wait);
        let go = t.subscribed(Ok(()));
        let ids: Vec<u64> = go.iter().map(|(id, ..)| *id).collect();
        assert_eq!(ids, [1, 2]);
        for (id, p, _) in &go {
            assert_eq!(
                p.properties.response_topic.as_ref().unwrap().as_str(),
                "sansmqtt/response/me"
            );
            assert_eq!(p.properties.correlation_data, Some(correlation(NONCE, *id)));
        }
        // Once subscribed, a request goes at once.
        let third = sent(t.start(3, request("svc"), None, Caller("c", log.clone()), true));
        assert_eq!(
            third.properties.correlation_data,
            Some(correlation(NONCE, 3))
        );
        assert_eq!(t.len(), 3);
        assert!(log.borrow().is_empty());
    }

    #[test]
    fn replies_go_to_their_own_caller_in_any_order() {
        let (mut t, log, counters) = table("me");
        ready(&mut t, &log);
        sent(t.start(1, request("svc"), None, Caller("one", log.clone()), true));
        sent(t.start(2, request("svc"), None, Caller("two", log.clone()), true));
        let topic = "sansmqtt/response/me";
        assert_eq!(
            t.reply(reply(topic, Some(correlation(NONCE, 2)), "r2")),
            None
        );
        assert_eq!(
            t.reply(reply(topic, Some(correlation(NONCE, 1)), "r1")),
            None
        );
        assert_eq!(
            outcomes(&log),
            [("two", Ok("r2".to_owned())), ("one", Ok("r1".to_owned()))]
        );
        assert_eq!(t.len(), 1, "the first request still waits");
        assert_eq!(counters.replies_dropped.load(Ordering::Relaxed), 0);
    }

    /// A reply whose correlation data is missing, another client's, or
    /// names no waiting request (answered already, cancelled) is dropped
    /// and counted, never given to another caller.
    #[test]
    fn foreign_missing_and_stale_correlation_data_are_dropped_and_counted() {
        let (mut t, log, counters) = table("me");
        ready(&mut t, &log);
        sent(t.start(1, request("svc"), None, Caller("one", log.clone()), true));
        sent(t.start(2, request("svc"), None, Caller("two", log.clone()), true));
        t.cancel(2);
        let topic = "sansmqtt/response/me";
        for data in [
            None,
            Some(correlation(NONCE ^ 1, 1)),
            Some(Bytes::from_static(b"1")),
            Some(correlation(NONCE, 2)),
            Some(correlation(NONCE, 99)),
        ] {
            assert_eq!(t.reply(reply(topic, data, "stray")), None);
        }
        assert!(log.borrow().is_empty());
        assert_eq!(counters.replies_dropped.load(Ordering::Relaxed), 5);
        // The right one still reaches its caller, once.
        t.reply(reply(topic, Some(correlation(NONCE, 1)), "r1"));
        t.reply(reply(topic, Some(correlation(NONCE, 1)), "again"));
        assert_eq!(outcomes(&log), [("one", Ok("r1".to_owned()))]);
        assert_eq!(counters.replies_dropped.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn messages_on_other_topics_are_handed_back() {
        let (mut t, log, _) = table("me");
        let other = reply("sansmqtt/response/me", Some(correlation(NONCE, 0)), "x");
        // No response topic yet: nothing is a reply.
        assert_eq!(t.reply(other.clone()), Some(other));
        ready(&mut t, &log);
        let m = reply("sensors/1", Some(correlation(NONCE, 0)), "x");
        assert_eq!(t.reply(m.clone()), Some(m));
        assert!(log.borrow().is_empty());
    }

    /// A caller that gave up before the SUBACK is not published.
    #[test]
    fn a_cancelled_request_is_not_published() {
        let (mut t, log, _) = table("me");
        t.start(1, request("svc"), None, Caller("a", log.clone()), true);
        t.start(2, request("svc"), None, Caller("b", log.clone()), true);
        t.cancel(1);
        let go = t.subscribed(Ok(()));
        assert_eq!(go.iter().map(|(id, ..)| *id).collect::<Vec<_>>(), [2]);
        assert_eq!(t.len(), 1);
    }

    /// A refused subscription fails the requests waiting for it; the next
    /// request subscribes again.
    #[test]
    fn a_refused_subscription_fails_its_requests_and_is_tried_again() {
        let (mut t, log, _) = table("me");
        t.start(1, request("svc"), None, Caller("a", log.clone()), true);
        t.start(2, request("svc"), None, Caller("b", log.clone()), true);
        let refused = ClientError::SubscribeRefused(SubAckReason::NotAuthorized);
        assert!(t.subscribed(Err(refused.clone())).is_empty());
        let mut got = outcomes(&log);
        got.sort_by_key(|(n, _)| *n);
        assert_eq!(got, [("a", Err(refused.clone())), ("b", Err(refused))]);
        assert_eq!(t.len(), 0);
        let again = t.start(3, request("svc"), None, Caller("c", log.clone()), true);
        assert!(matches!(again, Start::Subscribe(_)));
    }

    /// MQTT 3.1.1 has no Response Topic: the caller gets a typed error at
    /// once, and nothing is subscribed or published.
    #[test]
    fn a_request_in_mqtt_3_1_1_is_a_typed_error() {
        let (mut t, log, _) = table("me");
        let start = t.start(1, request("svc"), None, Caller("a", log.clone()), false);
        assert_eq!(start, Start::Answered);
        assert_eq!(
            outcomes(&log),
            [("a", Err(ClientError::NeedsMqtt5("request / response")))]
        );
        assert_eq!(t.len(), 0);
        assert_eq!(t.topic(), None);
    }

    #[test]
    fn a_failed_publish_and_a_stop_answer_their_callers() {
        let (mut t, log, _) = table("me");
        ready(&mut t, &log);
        sent(t.start(1, request("svc"), None, Caller("one", log.clone()), true));
        let expired = ClientError::Publish(sansmqtt_session::PublishError::Expired);
        t.fail(1, expired.clone());
        t.clear();
        let mut got = outcomes(&log);
        got.sort_by_key(|(n, _)| *n);
        assert_eq!(
            got,
            [("first", Err(ClientError::Closed)), ("one", Err(expired))]
        );
        assert_eq!(t.len(), 0);
    }
}
