//! The session's side of the driver: each [`Event`] (connected, message,
//! publish and subscribe outcomes, AUTH, closed) answered to its callers,
//! and what follows the end of a connection (version fallback, redirect,
//! reconnect with backoff, giving up).

use super::*;

impl Driver {
    pub(super) fn handle_events(&mut self, now: Instant) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Connected(c) => self.connected(&c, now),
                Event::Message(m) => {
                    if let Some((message, ack)) = self.desk(now).message(m) {
                        self.inbox.push(message, ack);
                    }
                }
                Event::Published { token, result } => self.published(token, result),
                Event::Subscribed {
                    token,
                    result,
                    properties,
                } => self.subscribed(token, result, properties, now),
                Event::Unsubscribed {
                    token,
                    result,
                    properties,
                } => self.callers.unsubscribed(token, result, properties),
                // One PINGRESP answers every ping waiting for it (the
                // session sends one PINGREQ at a time).
                Event::Pong => self.callers.pong(),
                Event::Auth(auth) => {
                    let answered = self.auth.challenge(&auth, &mut self.session, now);
                    self.auth_outcome(answered, now);
                }
                Event::AuthSuccess { data } => {
                    let checked = self.auth.finish(data.as_deref(), &mut self.session, now);
                    self.auth_outcome(checked, now);
                }
                Event::Closed(reason) => self.closed(reason, now),
            }
        }
    }

    /// An authentication step failed on our side: the waiting calls get
    /// the error, the session aborts (DISCONNECT 0x83, then `Closed`).
    pub(super) fn auth_outcome(&mut self, outcome: Result<(), AuthError>, now: Instant) {
        let Err(e) = outcome else { return };
        let error = ClientError::Auth(e);
        log::warn!("{}: {error}", self.client_id());
        self.first.failed(error.clone());
        self.callers.fail_reconnects(&error);
        self.auth.answer(&Err(error));
        let _ = self.session.abort_auth(crate::clock::session_time(now));
    }

    pub(super) fn connected(&mut self, c: &Connected, now: Instant) {
        self.backoff.reset();
        self.auth.connected();
        self.brokers.connected();
        self.server.update(c, &self.session);
        self.routing
            .connected(c.properties.subscription_identifier_available);
        self.requests.connected(&c.properties);
        self.set_state(ConnectionState::Connected {
            session_present: c.session_present,
        });
        self.first.connected();
        self.callers.connected(c.session_present);
        if !c.session_present {
            // The broker started a new session: restore the subscriptions
            // the client keeps.
            for subscribe in self.routing.resubscribe() {
                let (filters, properties) = subscribe.packet();
                if let Ok(token) =
                    self.session
                        .subscribe(filters, properties, crate::clock::session_time(now))
                {
                    self.callers.outcomes.insert(token, Waiter::Quiet);
                }
            }
        }
        for p in std::mem::take(&mut self.callers.pings_offline) {
            self.ping(p, now);
        }
    }

    pub(super) fn published(&mut self, token: Token, result: Result<PublishDone, PublishError>) {
        let reply = match self.callers.outcomes.remove(&token) {
            Some(Waiter::Publish(reply)) => reply,
            Some(Waiter::Request(id)) => return self.requests.published(id, result),
            _ => return,
        };
        match result {
            // QoS 0 is complete once written to the transport: its end is
            // at the bytes encoded so far.
            Ok(done) if done.qos == QoS::AtMostOnce => {
                let pending = self.session.pending_transmit();
                self.outbox.complete_when_written(pending, done, reply);
            }
            result => reply.send(result.map_err(ClientError::from)),
        }
    }

    pub(super) fn subscribed(
        &mut self,
        token: Token,
        result: Result<SubResults, sansmqtt_session::RequestError>,
        properties: AckProperties,
        now: Instant,
    ) {
        match self.callers.outcomes.remove(&token) {
            Some(Waiter::Subscribe(reply, asked)) => {
                self.routing.subscribe_outcome(&asked, result.as_ref().ok());
                let outcome = result.map(|r| SubscribeOutcome::new(r, properties));
                let _ = reply.send(outcome.map_err(ClientError::from));
            }
            Some(Waiter::RouteSubscribe(filter)) => {
                self.routes_settled(&filter, routing::granted(result));
            }
            Some(Waiter::RequestSubscribe(filter)) => self.desk(now).subscribed(filter, result),
            _ => {}
        }
    }

    pub(super) fn closed(&mut self, reason: CloseReason, now: Instant) {
        if self.fall_back(&reason, now) || self.redirect(&reason, now) {
            return;
        }
        self.callers.closed(&reason);
        self.auth.closed(ClientError::Connection(reason.clone()));
        self.first.closed(&reason, self.cause.as_ref());
        // Flush what the session queued (DISCONNECT), then close. A transport
        // already closing (`reconnect()` on a live link) is kept too:
        // dropping it would lose its DISCONNECT. A reconnect instant is set
        // again below if a reconnect is wanted: a stale one from an earlier
        // loss would reconnect after a refusal or without auto_reconnect.
        self.link = match self.link.take() {
            Link::Up(transport)
            | Link::Closing {
                transport,
                then: AfterClose::Down(_),
            } => Link::Closing {
                transport,
                then: AfterClose::Down(None),
            },
            other @ (Link::Closing { .. } | Link::Stopped | Link::Disconnected) => other,
            Link::Down { .. } | Link::Opening { .. } => Link::Down { reconnect_at: None },
        };
        // Neither a refusal nor an authentication we aborted is retried.
        let refused = reason.is_refusal() || matches!(reason, CloseReason::AuthAborted);
        self.set_state(ConnectionState::Disconnected {
            reason: Some(reason),
        });
        let wanted =
            (self.config.auto_reconnect && !refused) || !self.callers.reconnects.is_empty();
        if !self.link.stays_down() && wanted {
            self.schedule_reconnect(now);
        }
    }

    /// `protocol_version = "auto"` and MQTT 5 refused: a 3.1.1 CONNECT to
    /// the same broker on a new transport, at once; the refusal is nobody's
    /// answer.
    pub(super) fn fall_back(&mut self, reason: &CloseReason, now: Instant) -> bool {
        let choice = self.config.protocol_version;
        let Some(version) = choice.fall_back(reason, &mut self.session) else {
            return false;
        };
        log::info!(
            "{}: {reason}; falling back to MQTT {version}",
            self.client_id()
        );
        self.routing.connected(Some(false));
        self.brokers.retry_current();
        self.link = self.link.take().reopen(now);
        true
    }

    /// A redirect to follow (`follow_redirects`): the server's DISCONNECT
    /// is seen (state, pings), then a connection to its target at once.
    pub(super) fn redirect(&mut self, reason: &CloseReason, now: Instant) -> bool {
        let Some(to) = self.brokers.follow(reason) else {
            return false;
        };
        log::info!("{}: {reason}; redirected to {}", self.client_id(), to.uri);
        if !reason.is_refusal() {
            self.callers.closed(reason);
            self.set_state(ConnectionState::Disconnected {
                reason: Some(reason.clone()),
            });
        }
        self.link = self.link.take().reopen(now);
        true
    }

    pub(super) fn schedule_reconnect(&mut self, now: Instant) {
        let Some(delay) = self.backoff.next_delay() else {
            self.give_up();
            return;
        };
        let at = now + delay;
        log::info!(
            "{}: reconnecting in {delay:.1?} (retry {})",
            self.client_id(),
            self.backoff.attempt()
        );
        match &mut self.link {
            Link::Down { reconnect_at } => *reconnect_at = Some(at),
            Link::Closing {
                then: then @ AfterClose::Down(_),
                ..
            } => *then = AfterClose::Down(Some(at)),
            _ => {}
        }
        self.set_state(ConnectionState::Reconnecting {
            attempt: self.backoff.attempt(),
        });
    }

    /// Reconnection gave up (retries exhausted) or the client is gone.
    pub(super) fn give_up(&mut self) {
        self.session.abandon();
        self.link = Link::Stopped;
        self.handle_events(self.runtime.now());
        self.outbox.clear(&ClientError::Closed);
        self.routing.clear_routes();
        self.requests.clear();
        self.callers.stop();
        self.auth.closed(ClientError::Closed);
        self.inbox.close();
        self.first.stopped(self.cause.as_ref(), ClientError::Closed);
        self.set_state(ConnectionState::Closed);
    }
}
