//! Where the driver meets the requests table: the parts of the driver a
//! request touches (session, routing, the callers of session outcomes),
//! borrowed for one step. The driver calls these on the request commands,
//! the messages, and the outcomes of what they sent.

use std::collections::HashMap;
use std::time::Instant;

use sansmqtt_proto::{Publish, QoS, SubscriptionOptions, TopicFilter};
use sansmqtt_session::{AckId, PublishDone, PublishError, RequestError, Session, Token};

use super::{Requests, Start};
use crate::command::{Reply, Waiter};
use crate::inbox::RouteSender;
use crate::persist::FileStore;
use crate::routing::{self, Routing, SubResults};
use crate::{ClientError, Message};

/// The QoS of the subscription to the response topic.
const REPLY_QOS: QoS = QoS::AtLeastOnce;

/// The requests table with the parts of the driver it uses, at `now`.
pub(crate) struct Desk<'a> {
    pub(crate) requests: &'a mut Requests<Reply<Message>>,
    pub(crate) session: &'a mut Session<Option<FileStore>>,
    pub(crate) routing: &'a mut Routing<RouteSender>,
    pub(crate) outcomes: &'a mut HashMap<Token, Waiter>,
    pub(crate) now: Instant,
}

impl Desk<'_> {
    /// The application's request `id`: published once the response topic
    /// is subscribed (subscribing first if it is not).
    pub(crate) fn request(
        &mut self,
        id: u64,
        publish: Publish,
        expires: Option<Instant>,
        reply: Reply<Message>,
    ) {
        let v5 = self.session.options().version.is_v5();
        match self.requests.start(id, publish, expires, reply, v5) {
            Start::Send(publish, expires) => self.publish(id, publish, expires),
            Start::Subscribe(filter) => self.subscribe(filter),
            Start::Wait | Start::Answered => {}
        }
    }

    /// A message from the session: a reply is taken (and acknowledged:
    /// the session sends acknowledgements in order); any other is handed
    /// back for delivery, with its acknowledgement.
    pub(crate) fn message(
        &mut self,
        message: sansmqtt_session::Message,
    ) -> Option<(Message, Option<AckId>)> {
        let ack = message.ack;
        match self.requests.reply(Message::new(message.publish)) {
            Some(message) => Some((message, ack)),
            None => {
                if let Some(ack) = ack {
                    let _ = self.session.ack(ack, crate::clock::session_time(self.now));
                }
                None
            }
        }
    }

    /// The broker's answer to the SUBSCRIBE of the response topic
    /// `filter`: the requests that waited for it go out, or fail.
    pub(crate) fn subscribed(
        &mut self,
        filter: TopicFilter,
        result: Result<SubResults, RequestError>,
    ) {
        self.routing
            .subscribe_outcome(&[filter], result.as_ref().ok());
        self.subscribe_outcome(routing::granted(result));
    }

    fn subscribe(&mut self, filter: TopicFilter) {
        let sid = self.routing.sid_for(std::iter::once(&filter));
        let filters = vec![(filter.clone(), SubscriptionOptions::qos(REPLY_QOS))];
        let properties = routing::properties(sid, Vec::new());
        match self.session.subscribe(
            filters.clone(),
            properties,
            crate::clock::session_time(self.now),
        ) {
            Ok(token) => {
                // Kept like the application's subscriptions: restored
                // after a reconnect without session.
                self.routing.subscribed(&filters, sid);
                let waiter = Waiter::RequestSubscribe(filter);
                self.outcomes.insert(token, waiter);
            }
            Err(e) => self.subscribe_outcome(Err(e.into())),
        }
    }

    fn subscribe_outcome(&mut self, outcome: Result<(), ClientError>) {
        for (id, publish, expires) in self.requests.subscribed(outcome) {
            self.publish(id, publish, expires);
        }
    }

    fn publish(&mut self, id: u64, publish: Publish, expires: Option<Instant>) {
        match self.session.publish_until(
            publish,
            expires.map(crate::clock::session_time),
            crate::clock::session_time(self.now),
        ) {
            Ok(token) => {
                self.outcomes.insert(token, Waiter::Request(id));
            }
            Err(e) => self.requests.fail(id, e.into()),
        }
    }
}

impl Requests<Reply<Message>> {
    /// The outcome of the publish of request `id`: a failure fails the
    /// request (success: its reply is awaited).
    pub(crate) fn published(&mut self, id: u64, result: Result<PublishDone, PublishError>) {
        if let Err(e) = result {
            self.fail(id, e.into());
        }
    }
}
