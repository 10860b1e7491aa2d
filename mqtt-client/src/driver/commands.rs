//! The application's side of the driver: each [`Command`] of a `Client`
//! applied to the session, routing and the requests table, its caller
//! recorded to be answered.

use super::*;

impl Driver {
    pub(super) fn handle_command(&mut self, command: Command, now: Instant) {
        if matches!(self.link, Link::Stopped) {
            command.fail();
            return;
        }
        match command {
            Command::Publish {
                publish,
                expires,
                reply,
            } => match self.session.publish_until(
                publish,
                expires.map(crate::clock::session_time),
                crate::clock::session_time(now),
            ) {
                Ok(token) => {
                    if let Some(reply) = reply {
                        self.callers.outcomes.insert(token, Waiter::Publish(reply));
                    }
                }
                Err(e) => {
                    if let Some(reply) = reply {
                        reply.send(Err(e.into()));
                    }
                }
            },
            Command::Subscribe(call) => self.subscribe(call, now),
            Command::Unsubscribe(call) => self.unsubscribe(call, now),
            // While not connected the ping waits for the connection, like
            // every other call made during an outage.
            Command::Ping { reply } if !self.session.is_connected() => {
                self.callers.pings_offline.push(reply);
            }
            Command::Ping { reply } => self.ping(reply, now),
            Command::Disconnect { packet, reply } => {
                self.callers.disconnects.push(reply);
                self.stay_down(packet, now);
            }
            Command::Reconnect { reply } => self.reconnect(reply, now),
            Command::Reauthenticate { reply } => {
                let started = self.auth.reauthenticate(reply, &mut self.session, now);
                self.auth_outcome(started, now);
            }
            Command::Route {
                id,
                filter,
                options,
                sender,
                reply,
            } => self.route(id, filter, options, sender, reply, now),
            Command::Unroute { id } => self.unroute(id, now),
            Command::WatchState { sender } => {
                if sender.unbounded_send(self.state.clone()).is_ok() {
                    self.watchers.push(sender);
                }
            }
            Command::Request {
                id,
                publish,
                expires,
                reply,
            } => self.desk(now).request(id, publish, expires, reply),
            Command::CancelRequest { id } => self.requests.cancel(id),
        }
    }

    pub(super) fn subscribe(&mut self, call: SubscribeCall, now: Instant) {
        let SubscribeCall {
            mut filters,
            user_properties,
            reply,
        } = call;
        if let Err(c) = self.routing.plan_subscribe(&mut filters) {
            let _ = reply.send(Err(c.into()));
            return;
        }
        let asked = filters.clone();
        let sid = self.routing.sid_for(asked.iter().map(|(f, _)| f));
        let properties = routing::properties(sid, user_properties);
        match self
            .session
            .subscribe(filters, properties, crate::clock::session_time(now))
        {
            Ok(token) => {
                self.routing.subscribed(&asked, sid);
                let asked = asked.into_iter().map(|(f, _)| f).collect();
                self.callers
                    .outcomes
                    .insert(token, Waiter::Subscribe(reply, asked));
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    pub(super) fn unsubscribe(&mut self, call: UnsubscribeCall, now: Instant) {
        let filters = self.routing.unsubscribe(call.filters.clone());
        // Answered at once when nothing is left to send.
        let Some((properties, waiter)) = call.sending(&filters) else {
            return;
        };
        match self
            .session
            .unsubscribe(filters, properties, crate::clock::session_time(now))
        {
            Ok(token) => {
                self.callers.outcomes.insert(token, waiter);
            }
            Err(e) => waiter.fail_with(e.into()),
        }
    }

    pub(super) fn ping(&mut self, reply: Reply<()>, now: Instant) {
        match self.session.ping(crate::clock::session_time(now)) {
            Ok(()) => self.callers.pings.push(reply),
            Err(_) => {
                let _ = reply.send(Err(ClientError::Closed));
            }
        }
    }

    /// The application disconnects, or every handle is gone: DISCONNECT
    /// after what is queued, and no automatic reconnect.
    pub(super) fn stay_down(&mut self, packet: Option<Disconnect>, now: Instant) {
        let _ = self
            .session
            .disconnect(packet, crate::clock::session_time(now));
        self.link = match self.link.take() {
            Link::Up(transport) | Link::Closing { transport, .. } => Link::Closing {
                transport,
                then: AfterClose::Disconnected,
            },
            Link::Stopped => Link::Stopped,
            Link::Down { .. } | Link::Opening { .. } | Link::Disconnected => {
                self.set_state(ConnectionState::Disconnected {
                    reason: Some(CloseReason::ClientDisconnect),
                });
                self.callers.disconnected();
                Link::Disconnected
            }
        };
    }

    pub(super) fn reconnect(&mut self, reply: Reply<bool>, now: Instant) {
        self.callers.reconnects.push(reply);
        self.link = match self.link.take() {
            // DISCONNECT, then a new connection once the transport closed.
            Link::Up(transport) | Link::Closing { transport, .. } => {
                let _ = self
                    .session
                    .disconnect(None, crate::clock::session_time(now));
                Link::Closing {
                    transport,
                    then: AfterClose::Down(Some(now)),
                }
            }
            opening @ Link::Opening { .. } => opening,
            _ => {
                self.backoff.reset();
                Link::Down {
                    reconnect_at: Some(now),
                }
            }
        };
    }

    pub(super) fn route(
        &mut self,
        id: u64,
        filter: TopicFilter,
        options: SubscriptionOptions,
        sender: RouteSender,
        reply: Reply<()>,
        now: Instant,
    ) {
        if sender.is_closed() {
            // The stream was dropped before its route was made.
            let _ = reply.send(Ok(()));
            return;
        }
        match self.routing.add_route(id, filter.clone(), options, sender) {
            RouteStart::Ready => {
                let _ = reply.send(Ok(()));
            }
            RouteStart::Conflict(kept) => {
                let _ = reply.send(Err(routing::Conflict { filter, kept }.into()));
            }
            RouteStart::Waiting => {
                self.callers.routes.insert(id, reply);
            }
            RouteStart::Subscribe(subscribe) => {
                self.callers.routes.insert(id, reply);
                let (filters, properties) = subscribe.packet();
                match self
                    .session
                    .subscribe(filters, properties, crate::clock::session_time(now))
                {
                    Ok(token) => {
                        let waiter = Waiter::RouteSubscribe(subscribe.filter);
                        self.callers.outcomes.insert(token, waiter);
                    }
                    Err(e) => self.routes_settled(&subscribe.filter, Err(e.into())),
                }
            }
        }
    }

    pub(super) fn unroute(&mut self, id: u64, now: Instant) {
        self.callers.routes.remove(&id);
        if let Some(filter) = self.routing.remove_route(id)
            && let Ok(token) = self.session.unsubscribe(
                vec![filter],
                Default::default(),
                crate::clock::session_time(now),
            )
        {
            self.callers.outcomes.insert(token, Waiter::Quiet);
        }
    }

    /// The requests table with the parts of the driver it uses.
    pub(super) fn desk(&mut self, now: Instant) -> Desk<'_> {
        Desk {
            requests: &mut self.requests,
            session: &mut self.session,
            routing: &mut self.routing,
            outcomes: &mut self.callers.outcomes,
            now,
        }
    }

    /// Answers the routes waiting for the broker subscription of `filter`.
    pub(super) fn routes_settled(
        &mut self,
        filter: &TopicFilter,
        outcome: Result<(), ClientError>,
    ) {
        let settled = self.routing.route_outcome(filter, outcome.is_ok());
        self.callers.routes_settled(&settled.ready, &outcome);
        self.callers.routes_settled(&settled.failed, &outcome);
    }
}
