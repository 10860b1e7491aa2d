//! What a [`Client`](crate::Client) asks of the driver ([`Command`]), and
//! who waits for the session's outcome of it ([`Waiter`]).

use std::collections::HashMap;
use std::time::Instant;

use futures_channel::{mpsc, oneshot};
use sansmqtt_proto::{
    AckProperties, Disconnect, Publish, SubscriptionOptions, TopicFilter, UnsubAckReason,
};
use sansmqtt_session::{CloseReason, Token};

use crate::inbox::RouteSender;
use crate::outbox::PublishReply;
use crate::subscribe_options::{
    SubscribeCall, SubscribeOutcome, UnsubscribeCall, UnsubscribeOutcome,
};
use crate::{ClientError, ConnectionState, Message};

/// The answer to a call.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// What a `Client` asks of the driver.
pub(crate) enum Command {
    Publish {
        publish: Publish,
        /// Dropped with `PublishError::Expired` if not sent by then.
        expires: Option<Instant>,
        reply: Option<PublishReply>,
    },
    Subscribe(SubscribeCall),
    Unsubscribe(UnsubscribeCall),
    Ping {
        reply: Reply<()>,
    },
    Disconnect {
        /// The MQTT 5 DISCONNECT to send (`disconnect_with`), else a plain one.
        packet: Option<Disconnect>,
        reply: oneshot::Sender<()>,
    },
    Reconnect {
        reply: Reply<bool>,
    },
    Reauthenticate {
        reply: Reply<()>,
    },
    Route {
        id: u64,
        filter: TopicFilter,
        options: SubscriptionOptions,
        sender: RouteSender,
        reply: Reply<()>,
    },
    Unroute {
        id: u64,
    },
    WatchState {
        sender: mpsc::UnboundedSender<ConnectionState>,
    },
    /// A request (MQTT 5 request / response), its reply to `reply`.
    Request {
        id: u64,
        publish: Publish,
        expires: Option<Instant>,
        reply: Reply<Message>,
    },
    /// The caller of request `id` gave up.
    CancelRequest {
        id: u64,
    },
}

/// Who waits for a session outcome.
pub(crate) enum Waiter {
    Publish(PublishReply),
    /// With the filters, to forget those that were refused or never acknowledged.
    Subscribe(Reply<SubscribeOutcome>, Vec<TopicFilter>),
    /// A subscribe made for subscription streams: their routes wait on it.
    RouteSubscribe(TopicFilter),
    /// With, per filter asked, whether it was sent (see
    /// [`sent_mask`](crate::subscribe_options::sent_mask)).
    Unsubscribe(Reply<UnsubscribeOutcome>, Vec<bool>),
    /// The publish of request `id`: a failure fails the request.
    Request(u64),
    /// The subscription to the response topic of requests.
    RequestSubscribe(TopicFilter),
    /// Bookkeeping only (resubscribe after reconnect, unsubscribe on drop).
    Quiet,
}

impl Waiter {
    /// The client stops: the caller gets `Closed`.
    pub(crate) fn fail(self) {
        self.fail_with(ClientError::Closed);
    }

    /// The caller gets `error`.
    pub(crate) fn fail_with(self, error: ClientError) {
        match self {
            Waiter::Publish(r) => r.send(Err(error)),
            Waiter::Subscribe(r, _) => {
                let _ = r.send(Err(error));
            }
            Waiter::Unsubscribe(r, _) => {
                let _ = r.send(Err(error));
            }
            // The requests table answers the callers of requests.
            Waiter::RouteSubscribe(..)
            | Waiter::Request(_)
            | Waiter::RequestSubscribe(_)
            | Waiter::Quiet => {}
        }
    }
}

impl Command {
    /// The client stopped: the command fails with `Closed` (a disconnect
    /// is done).
    pub(crate) fn fail(self) {
        match self {
            Command::Publish { reply, .. } => {
                if let Some(r) = reply {
                    r.send(Err(ClientError::Closed));
                }
            }
            Command::Subscribe(call) => {
                let _ = call.reply.send(Err(ClientError::Closed));
            }
            Command::Unsubscribe(call) => {
                let _ = call.reply.send(Err(ClientError::Closed));
            }
            Command::Ping { reply } | Command::Reauthenticate { reply } => {
                let _ = reply.send(Err(ClientError::Closed));
            }
            Command::Disconnect { reply, .. } => {
                let _ = reply.send(());
            }
            Command::Reconnect { reply } => {
                let _ = reply.send(Err(ClientError::Closed));
            }
            Command::Route { reply, .. } => {
                let _ = reply.send(Err(ClientError::Closed));
            }
            Command::Request { reply, .. } => {
                let _ = reply.send(Err(ClientError::Closed));
            }
            Command::Unroute { .. }
            | Command::WatchState { .. }
            | Command::CancelRequest { .. } => {}
        }
    }
}

/// The callers waiting for the driver, by what they wait for.
#[derive(Default)]
pub(crate) struct Callers {
    /// Session outcomes, by the session's token.
    pub(crate) outcomes: HashMap<Token, Waiter>,
    /// Pings waiting for PINGRESP (one answers them all).
    pub(crate) pings: Vec<Reply<()>>,
    /// Pings asked for while not connected: sent once connected.
    pub(crate) pings_offline: Vec<Reply<()>>,
    pub(crate) reconnects: Vec<Reply<bool>>,
    pub(crate) disconnects: Vec<oneshot::Sender<()>>,
    /// `subscription()` calls waiting for their route's broker
    /// subscription, by route id.
    pub(crate) routes: HashMap<u64, Reply<()>>,
}

impl Callers {
    /// PINGRESP came.
    pub(crate) fn pong(&mut self) {
        for p in self.pings.drain(..) {
            let _ = p.send(Ok(()));
        }
    }

    /// A CONNACK accepted a connection.
    pub(crate) fn connected(&mut self, session_present: bool) {
        for r in self.reconnects.drain(..) {
            let _ = r.send(Ok(session_present));
        }
    }

    /// The connection ended: pings fail, and reconnects too when the
    /// broker refused it.
    pub(crate) fn closed(&mut self, reason: &CloseReason) {
        for p in self.pings.drain(..) {
            let _ = p.send(Err(ClientError::Connection(reason.clone())));
        }
        if reason.is_refusal() {
            self.fail_reconnects(&ClientError::Connection(reason.clone()));
        }
    }

    pub(crate) fn fail_reconnects(&mut self, error: &ClientError) {
        for r in self.reconnects.drain(..) {
            let _ = r.send(Err(error.clone()));
        }
    }

    /// The application's disconnect() calls are done.
    pub(crate) fn disconnected(&mut self) {
        for d in self.disconnects.drain(..) {
            let _ = d.send(());
        }
    }

    /// An UNSUBSCRIBE ended: its caller gets the outcome.
    pub(crate) fn unsubscribed(
        &mut self,
        token: Token,
        result: Result<Vec<UnsubAckReason>, sansmqtt_session::RequestError>,
        properties: AckProperties,
    ) {
        if let Some(Waiter::Unsubscribe(reply, sent)) = self.outcomes.remove(&token) {
            let outcome = result.map(|r| UnsubscribeOutcome::new(&sent, &r, properties));
            let _ = reply.send(outcome.map_err(ClientError::from));
        }
    }

    /// Answers the `subscription()` calls of the routes `ids`.
    pub(crate) fn routes_settled(&mut self, ids: &[u64], outcome: &Result<(), ClientError>) {
        for id in ids {
            if let Some(reply) = self.routes.remove(id) {
                let _ = reply.send(outcome.clone());
            }
        }
    }

    /// The client stops: every call waiting fails with `Closed`.
    pub(crate) fn stop(&mut self) {
        for (_, w) in self.outcomes.drain() {
            w.fail();
        }
        self.fail_reconnects(&ClientError::Closed);
        for p in self.pings_offline.drain(..) {
            let _ = p.send(Err(ClientError::Closed));
        }
        for (_, r) in self.routes.drain() {
            let _ = r.send(Err(ClientError::Closed));
        }
    }
}
