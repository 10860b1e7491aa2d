//! Subscription routing, sans-IO: which broker subscriptions the client
//! keeps, which subscription streams a message goes to, and the SUBSCRIBE
//! and UNSUBSCRIBE requests that follow from the application's calls and
//! the broker's answers.
//!
//! No IO, no clock, no channels: a route holds its receiver as an opaque
//! `S` (the driver's channel sender; anything in the tests), routes are
//! named by the id the client gave them, and every decision returns what
//! the driver must send or answer. The rules:
//!
//! - **Kept subscriptions.** A filter subscribed with `subscribe()` is kept
//!   *explicitly*: it survives the streams that use it. A filter subscribed
//!   only for subscription streams is kept while a stream uses it. Its QoS
//!   is the highest asked so far: raised, never lowered.
//! - **Routes.** A stream's route waits until the broker answered the
//!   SUBSCRIBE it needs (none when the filter is kept at its QoS or above
//!   and no SUBSCRIBE of it is in flight); a refusal fails the routes
//!   waiting for it, and a filter no route uses any more is forgotten
//!   unless it is explicit.
//! - **Subscription identifiers** (MQTT 5). Each SUBSCRIBE carries one
//!   identifier: the one its filters already share, else a new one, so a
//!   filter keeps its identifier when it is subscribed again. Filters of
//!   one packet with different identifiers get none (their streams are
//!   routed by topic alone). A CONNACK saying the broker has none turns them
//!   off for good.
//! - **Delivery.** A message goes to every live route whose filter matches
//!   its topic (overlapping streams each get a copy); a message naming
//!   subscription identifiers goes only to the routes of those identifiers.
//!   A copy the broker sent for a subscription of no stream while streams
//!   match is a duplicate: they get (or got) their own copy. What no stream
//!   takes goes to `deliver_message`.
//! - **Outcomes.** A filter the broker refused, or a SUBSCRIBE never
//!   acknowledged, is not kept for its own sake any more (it stays kept
//!   while streams use it).
//! - **Unsubscribe.** A filter that live streams still use stays subscribed
//!   at the broker; it only stops being explicit.
//! - **Session loss.** After a CONNACK without a session, every kept filter
//!   is subscribed again, one SUBSCRIBE each, at its QoS, with its
//!   identifier.

use std::collections::HashMap;

use sansmqtt_proto::{
    MAX_VAR_INT, QoS, SubAckReason, SubscribeProperties, SubscriptionId, SubscriptionOptions,
    TopicFilter, TopicName,
};

/// Granted QoS or refusal, per filter, in the order asked.
pub(crate) type SubResults = Vec<Result<QoS, SubAckReason>>;

/// A subscription stream's route.
struct Route<S> {
    id: u64,
    filter: TopicFilter,
    sender: S,
    /// Waits for the broker's answer to the SUBSCRIBE of its filter: takes
    /// no message yet.
    waiting: bool,
}

/// A broker subscription the client keeps (restored after a reconnect
/// without session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    qos: QoS,
    /// Made with `subscribe()` (not only for streams): survives the streams.
    explicit: bool,
    /// MQTT 5 Subscription Identifier of the broker subscription.
    sid: Option<SubscriptionId>,
    /// A SUBSCRIBE made for streams is in flight: new routes wait for it.
    pending: bool,
}

/// A SUBSCRIBE of one filter that routing asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscribe {
    pub(crate) filter: TopicFilter,
    pub(crate) qos: QoS,
    pub(crate) sid: Option<SubscriptionId>,
}

impl Subscribe {
    /// The filters and properties of the packet.
    pub(crate) fn packet(&self) -> (Vec<(TopicFilter, SubscriptionOptions)>, SubscribeProperties) {
        (
            vec![(self.filter.clone(), SubscriptionOptions::qos(self.qos))],
            properties(self.sid),
        )
    }
}

/// SUBSCRIBE properties carrying `sid`, if any.
pub(crate) fn properties(sid: Option<SubscriptionId>) -> SubscribeProperties {
    SubscribeProperties {
        subscription_identifier: sid,
        ..Default::default()
    }
}

/// The outcome of a SUBSCRIBE of one filter: granted, refused (its reason
/// code), or failed.
pub(crate) fn granted(
    result: Result<SubResults, sansmqtt_session::RequestError>,
) -> Result<(), crate::ClientError> {
    match result {
        Ok(results) => match results.first() {
            Some(Err(reason)) => Err(crate::ClientError::SubscribeRefused(*reason)),
            _ => Ok(()),
        },
        Err(e) => Err(e.into()),
    }
}

/// What a new route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteStart {
    /// The filter is subscribed at its QoS or above: the route is live.
    Ready,
    /// A SUBSCRIBE of the filter is in flight: the route waits for it.
    Waiting,
    /// The route waits for this SUBSCRIBE, to be sent.
    Subscribe(Subscribe),
}

/// The routes a SUBSCRIBE outcome answered, by id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// Now live.
    pub(crate) ready: Vec<u64>,
    /// Removed: their subscription was refused or never acknowledged.
    pub(crate) failed: Vec<u64>,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    /// To the routes whose indexes [`Routing::destination`] listed.
    Routes,
    /// To `deliver_message`: no stream takes it.
    Default,
    /// Nowhere: a copy for a subscription of no stream while streams match.
    Duplicate,
}

/// Routes of subscription streams and the broker subscriptions kept.
pub(crate) struct Routing<S> {
    routes: Vec<Route<S>>,
    kept: HashMap<TopicFilter, Kept>,
    /// MQTT 5 with a broker that has Subscription Identifiers.
    use_sids: bool,
    next_sid: u32,
}

impl<S> Routing<S> {
    /// Routing for a session of MQTT 5 (`v5`: with subscription
    /// identifiers until a CONNACK says otherwise) or 3.1.x.
    pub(crate) fn new(v5: bool) -> Self {
        Self {
            routes: Vec::new(),
            kept: HashMap::new(),
            use_sids: v5,
            next_sid: 0,
        }
    }

    /// The Subscription Identifier of one SUBSCRIBE of `filters`: the one
    /// they already share, else a new one; none without MQTT 5 identifiers,
    /// or when they have different ones.
    pub(crate) fn sid_for<'a>(
        &mut self,
        filters: impl IntoIterator<Item = &'a TopicFilter>,
    ) -> Option<SubscriptionId> {
        if !self.use_sids {
            return None;
        }
        let mut shared = None;
        for sid in filters
            .into_iter()
            .filter_map(|f| self.kept.get(f).and_then(|k| k.sid))
        {
            match shared {
                None => shared = Some(sid),
                Some(s) if s == sid => {}
                Some(_) => return None,
            }
        }
        shared.or_else(|| {
            self.next_sid = self.next_sid % MAX_VAR_INT + 1;
            SubscriptionId::new(self.next_sid)
        })
    }

    /// The application's SUBSCRIBE of `filters` (identifier `sid`) was
    /// taken by the session: they are kept explicitly, QoS raised.
    pub(crate) fn subscribed(
        &mut self,
        filters: &[(TopicFilter, QoS)],
        sid: Option<SubscriptionId>,
    ) {
        for (f, qos) in filters {
            let k = self.kept.entry(f.clone()).or_insert(Kept {
                qos: *qos,
                explicit: true,
                sid,
                pending: false,
            });
            k.explicit = true;
            k.qos = k.qos.max(*qos);
            k.sid = sid;
        }
    }

    /// The broker's answer to the application's SUBSCRIBE of `asked`:
    /// per-filter results, or `None` if it never acknowledged it. Refused
    /// and unacknowledged filters are not kept for their own sake any more.
    pub(crate) fn subscribe_outcome(
        &mut self,
        asked: &[TopicFilter],
        results: Option<&SubResults>,
    ) {
        let failed: Vec<&TopicFilter> = match results {
            Some(results) => asked
                .iter()
                .zip(results)
                .filter(|(_, r)| r.is_err())
                .map(|(f, _)| f)
                .collect(),
            None => asked.iter().collect(),
        };
        for f in failed {
            if !self.used(f) {
                self.kept.remove(f);
            } else if let Some(k) = self.kept.get_mut(f) {
                k.explicit = false;
            }
        }
    }

    /// The application unsubscribes from `filters`: they stop being
    /// explicit; those no route uses are forgotten and returned, to
    /// UNSUBSCRIBE at the broker.
    pub(crate) fn unsubscribe(&mut self, mut filters: Vec<TopicFilter>) -> Vec<TopicFilter> {
        for f in &filters {
            if let Some(k) = self.kept.get_mut(f) {
                k.explicit = false;
            }
        }
        filters.retain(|f| !self.used(f));
        for f in &filters {
            self.kept.remove(f);
        }
        filters
    }

    /// A new stream's route `id` for `filter` at `qos`, its messages to
    /// `sender`.
    pub(crate) fn add_route(
        &mut self,
        id: u64,
        filter: TopicFilter,
        qos: QoS,
        sender: S,
    ) -> RouteStart {
        let start = match self.kept.get(&filter) {
            Some(k) if k.qos >= qos && !k.pending => RouteStart::Ready,
            Some(k) if k.qos >= qos => RouteStart::Waiting,
            _ => {
                let sid = self.sid_for(std::iter::once(&filter));
                let k = self.kept.entry(filter.clone()).or_insert(Kept {
                    qos,
                    explicit: false,
                    sid,
                    pending: true,
                });
                k.qos = k.qos.max(qos);
                k.sid = sid;
                k.pending = true;
                RouteStart::Subscribe(Subscribe {
                    filter: filter.clone(),
                    qos: k.qos,
                    sid,
                })
            }
        };
        self.routes.push(Route {
            id,
            filter,
            sender,
            waiting: start != RouteStart::Ready,
        });
        start
    }

    /// The outcome of a SUBSCRIBE of `filter` made for routes (`granted`,
    /// else refused, never acknowledged or not sent): the routes waiting
    /// for it are live, or removed. A filter no route uses any more is
    /// forgotten, unless it is explicit.
    pub(crate) fn route_outcome(&mut self, filter: &TopicFilter, granted: bool) -> Settled {
        if let Some(k) = self.kept.get_mut(filter) {
            k.pending = false;
        }
        let mut settled = Settled::default();
        let waiting = |r: &Route<S>| r.waiting && &r.filter == filter;
        if granted {
            for r in self.routes.iter_mut().filter(|r| waiting(r)) {
                r.waiting = false;
                settled.ready.push(r.id);
            }
            return settled;
        }
        self.routes.retain(|r| {
            if waiting(r) {
                settled.failed.push(r.id);
                false
            } else {
                true
            }
        });
        if !self.used(filter) && !self.kept.get(filter).is_some_and(|k| k.explicit) {
            self.kept.remove(filter);
        }
        settled
    }

    /// The stream of route `id` is gone. Returns the filter to UNSUBSCRIBE
    /// when no other route uses it and it is not explicit (then forgotten).
    pub(crate) fn remove_route(&mut self, id: u64) -> Option<TopicFilter> {
        let i = self.routes.iter().position(|r| r.id == id)?;
        let route = self.routes.remove(i);
        let explicit = self.kept.get(&route.filter).is_some_and(|k| k.explicit);
        if self.used(&route.filter) || explicit {
            return None;
        }
        self.kept.remove(&route.filter);
        Some(route.filter)
    }

    /// Every route goes (the client stops; the driver answers the calls
    /// still waiting).
    pub(crate) fn clear_routes(&mut self) {
        self.routes.clear();
    }

    /// A CONNACK accepted the connection; `sids_available` is its
    /// Subscription Identifiers Available property. `false` turns the
    /// identifiers off for good: new SUBSCRIBEs carry none (the broker
    /// would close the connection, 0xA1), kept filters lose theirs.
    pub(crate) fn connected(&mut self, sids_available: Option<bool>) {
        if self.use_sids && sids_available == Some(false) {
            self.use_sids = false;
            self.kept.values_mut().for_each(|k| k.sid = None);
        }
    }

    /// The broker started a new session: one SUBSCRIBE per kept filter,
    /// at its QoS, with its identifier (a new one if it had none), in
    /// filter order.
    pub(crate) fn resubscribe(&mut self) -> Vec<Subscribe> {
        let mut filters: Vec<TopicFilter> = self.kept.keys().cloned().collect();
        filters.sort();
        let mut plan = Vec::with_capacity(filters.len());
        for filter in filters {
            let sid = self.sid_for(std::iter::once(&filter));
            if let Some(k) = self.kept.get_mut(&filter) {
                k.sid = sid;
                plan.push(Subscribe {
                    filter,
                    qos: k.qos,
                    sid,
                });
            }
        }
        plan
    }

    /// Where a message on `topic` naming the subscription identifiers
    /// `sids` goes; for [`Destination::Routes`] the indexes of the routes
    /// are in `targets` (for [`Routing::sender`]). `open` tells whether a
    /// route's receiver still takes messages.
    pub(crate) fn destination(
        &self,
        topic: &TopicName,
        sids: &[SubscriptionId],
        open: impl Fn(&S) -> bool,
        targets: &mut Vec<usize>,
    ) -> Destination {
        let live = |r: &Route<S>| !r.waiting && open(&r.sender) && r.filter.matches(topic);
        targets.clear();
        targets.extend(
            self.routes
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    live(r)
                        && (sids.is_empty()
                            || self
                                .kept
                                .get(&r.filter)
                                .and_then(|k| k.sid)
                                .is_none_or(|sid| sids.contains(&sid)))
                })
                .map(|(i, _)| i),
        );
        if !targets.is_empty() {
            Destination::Routes
        } else if !sids.is_empty() && self.routes.iter().any(live) {
            Destination::Duplicate
        } else {
            Destination::Default
        }
    }

    /// The receiver of the route at `index` (from [`Routing::destination`]).
    pub(crate) fn sender(&self, index: usize) -> &S {
        &self.routes[index].sender
    }

    /// Whether a route uses `filter`.
    fn used(&self, filter: &TopicFilter) -> bool {
        self.routes.iter().any(|r| &r.filter == filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q0: QoS = QoS::AtMostOnce;
    const Q1: QoS = QoS::AtLeastOnce;
    const Q2: QoS = QoS::ExactlyOnce;

    fn f(s: &str) -> TopicFilter {
        TopicFilter::try_from(s).unwrap()
    }

    /// Receivers are names; `open` says all are open.
    type R = Routing<&'static str>;

    fn open(_: &&'static str) -> bool {
        true
    }

    /// Where a message goes: the destination and the receivers' names.
    fn route(r: &R, topic: &str, sids: &[SubscriptionId]) -> (Destination, Vec<&'static str>) {
        let mut targets = Vec::new();
        let topic = TopicName::try_from(topic).unwrap();
        let d = r.destination(&topic, sids, open, &mut targets);
        (d, targets.iter().map(|&i| *r.sender(i)).collect())
    }

    /// Route `id` on `filter`, answered: the SUBSCRIBE it needs, if any,
    /// is granted; its subscription identifier.
    fn live_route(
        r: &mut R,
        id: u64,
        filter: &str,
        qos: QoS,
        name: &'static str,
    ) -> Option<SubscriptionId> {
        match r.add_route(id, f(filter), qos, name) {
            RouteStart::Subscribe(s) => {
                r.route_outcome(&s.filter, true);
                s.sid
            }
            _ => None,
        }
    }

    #[test]
    fn explicit_subscription_is_kept_and_raised_never_lowered() {
        let mut r = R::new(false);
        r.subscribed(&[(f("a"), Q1)], None);
        r.subscribed(&[(f("a"), Q0)], None);
        assert_eq!(
            r.resubscribe(),
            [Subscribe {
                filter: f("a"),
                qos: Q1,
                sid: None
            }]
        );
        r.subscribed(&[(f("a"), Q2)], None);
        assert_eq!(r.resubscribe()[0].qos, Q2);
        // A stream at a lower QoS needs no SUBSCRIBE.
        assert_eq!(r.add_route(1, f("a"), Q0, "s"), RouteStart::Ready);
        assert_eq!(r.resubscribe()[0].qos, Q2);
    }

    #[test]
    fn stream_subscription_raises_the_qos_and_waits_for_its_suback() {
        let mut r = R::new(false);
        assert_eq!(
            r.add_route(1, f("a/+"), Q0, "s1"),
            RouteStart::Subscribe(Subscribe {
                filter: f("a/+"),
                qos: Q0,
                sid: None
            })
        );
        // Not live before the SUBACK.
        assert_eq!(route(&r, "a/b", &[]), (Destination::Default, vec![]));
        // A second stream of the same filter joins the SUBSCRIBE in flight.
        assert_eq!(r.add_route(2, f("a/+"), Q0, "s2"), RouteStart::Waiting);
        assert_eq!(
            r.route_outcome(&f("a/+"), true),
            Settled {
                ready: vec![1, 2],
                failed: vec![]
            }
        );
        assert_eq!(
            route(&r, "a/b", &[]),
            (Destination::Routes, vec!["s1", "s2"])
        );
        // A higher QoS subscribes again at it; a lower one is ready at once.
        let RouteStart::Subscribe(s) = r.add_route(3, f("a/+"), Q2, "s3") else {
            panic!("a higher QoS subscribes again");
        };
        assert_eq!(s.qos, Q2);
        r.route_outcome(&s.filter, true);
        assert_eq!(r.add_route(4, f("a/+"), Q1, "s4"), RouteStart::Ready);
        assert_eq!(r.resubscribe()[0].qos, Q2);
    }

    /// MQTT-3.3.4-2: overlapping subscriptions may each bring the message;
    /// without subscription identifiers every matching stream gets a copy,
    /// by topic.
    #[test]
    fn mqtt_3_3_4_2_overlapping_streams_each_get_a_copy() {
        let mut r = R::new(false);
        live_route(&mut r, 1, "a/#", Q0, "all");
        live_route(&mut r, 2, "a/+", Q0, "one");
        live_route(&mut r, 3, "b", Q0, "other");
        assert_eq!(
            route(&r, "a/x", &[]),
            (Destination::Routes, vec!["all", "one"])
        );
        assert_eq!(route(&r, "a/x/y", &[]), (Destination::Routes, vec!["all"]));
        // Matching no stream: deliver_message.
        assert_eq!(route(&r, "c", &[]), (Destination::Default, vec![]));
    }

    /// A closed receiver (its stream dropped, its route not yet removed)
    /// takes nothing.
    #[test]
    fn closed_receivers_take_nothing() {
        let mut r = Routing::<(&str, bool)>::new(false);
        for (id, name, open) in [(1, "gone", false), (2, "here", true)] {
            if let RouteStart::Subscribe(s) = r.add_route(id, f("a"), Q0, (name, open)) {
                r.route_outcome(&s.filter, true);
            }
        }
        let mut targets = Vec::new();
        let topic = TopicName::try_from("a").unwrap();
        let d = r.destination(&topic, &[], |s| s.1, &mut targets);
        assert_eq!(d, Destination::Routes);
        assert_eq!(targets.len(), 1);
        assert_eq!(r.sender(targets[0]).0, "here");
    }

    /// MQTT-3.3.4-3, -4, -5: a copy carries the identifiers of the
    /// subscriptions it is for (one copy with all of them, or a copy per
    /// subscription with its own): each stream takes the copies naming its
    /// identifier, once.
    #[test]
    fn mqtt_3_3_4_3_subscription_identifiers_route_copies() {
        let mut r = R::new(true);
        let all = live_route(&mut r, 1, "a/#", Q0, "all").unwrap();
        let one = live_route(&mut r, 2, "a/+", Q0, "one").unwrap();
        assert_ne!(all, one);
        // -5: one copy per subscription, each with its identifier.
        assert_eq!(route(&r, "a/x", &[all]), (Destination::Routes, vec!["all"]));
        assert_eq!(route(&r, "a/x", &[one]), (Destination::Routes, vec!["one"]));
        // -4: one copy with both identifiers.
        assert_eq!(
            route(&r, "a/x", &[one, all]),
            (Destination::Routes, vec!["all", "one"])
        );
        // A copy without identifiers goes by topic.
        assert_eq!(
            route(&r, "a/x", &[]),
            (Destination::Routes, vec!["all", "one"])
        );
    }

    /// The duplicate rule: a copy for a subscription of no stream (an
    /// explicit `subscribe()`) while streams match is dropped (the streams
    /// get their own copy; `deliver_message` gets the messages no stream
    /// matches); with no matching stream it goes to `deliver_message`.
    #[test]
    fn mqtt_3_3_4_5_copy_for_a_subscription_of_no_stream_is_a_duplicate() {
        let mut r = R::new(true);
        let explicit = r.sid_for([&f("#")]).unwrap();
        r.subscribed(&[(f("#"), Q0)], Some(explicit));
        live_route(&mut r, 1, "a/+", Q0, "stream");
        assert_eq!(
            route(&r, "a/x", &[explicit]),
            (Destination::Duplicate, vec![])
        );
        assert_eq!(route(&r, "b", &[explicit]), (Destination::Default, vec![]));
    }

    #[test]
    fn subscription_identifiers_are_allocated_and_shared() {
        let mut r = R::new(true);
        // A new identifier per SUBSCRIBE of new filters.
        let a = r.sid_for([&f("a"), &f("b")]).unwrap();
        r.subscribed(&[(f("a"), Q0), (f("b"), Q0)], Some(a));
        let RouteStart::Subscribe(c) = r.add_route(1, f("c"), Q0, "c") else {
            panic!("c is new");
        };
        assert_ne!(c.sid, Some(a));
        assert!(c.sid.is_some());
        // Filters subscribed again keep the identifier they share.
        assert_eq!(r.sid_for([&f("a"), &f("b")]), Some(a));
        assert_eq!(r.sid_for([&f("a"), &f("new")]), Some(a));
        // A stream of an explicit filter at a higher QoS keeps it too.
        let RouteStart::Subscribe(s) = r.add_route(2, f("a"), Q2, "a") else {
            panic!("a higher QoS subscribes again");
        };
        assert_eq!(s.sid, Some(a));
        // Filters with different identifiers in one packet: none.
        assert_eq!(r.sid_for([&f("a"), &f("c")]), None);
        // Identifiers wrap within 1..=268,435,455 (§3.8.2.1.2).
        r.next_sid = MAX_VAR_INT;
        assert_eq!(r.sid_for([&f("x")]), SubscriptionId::new(1));
    }

    /// MQTT 3.1.x has no subscription identifiers.
    #[test]
    fn no_subscription_identifiers_before_mqtt_5() {
        let mut r = R::new(false);
        assert_eq!(r.sid_for([&f("a")]), None);
        let RouteStart::Subscribe(s) = r.add_route(1, f("a"), Q0, "a") else {
            panic!("a is new");
        };
        assert_eq!(s.sid, None);
        assert_eq!(s.packet().1.subscription_identifier, None);
    }

    /// Subscription Identifiers Available = 0 in CONNACK: none are sent any
    /// more, kept filters lose theirs (their resubscription carries none).
    #[test]
    fn connack_without_subscription_identifiers_turns_them_off() {
        let mut r = R::new(true);
        let a = r.sid_for([&f("a")]);
        assert!(a.is_some());
        r.subscribed(&[(f("a"), Q1)], a);
        // Available (or not said): unchanged.
        r.connected(None);
        r.connected(Some(true));
        assert_eq!(r.resubscribe()[0].sid, a);
        r.connected(Some(false));
        assert_eq!(r.sid_for([&f("b")]), None);
        let plan = r.resubscribe();
        assert_eq!(plan[0].sid, None);
        assert_eq!(plan[0].packet().1.subscription_identifier, None);
        // For good: a later CONNACK saying they are available changes nothing.
        r.connected(Some(true));
        assert_eq!(r.sid_for([&f("b")]), None);
    }

    #[test]
    fn refused_and_unacknowledged_filters_are_forgotten() {
        let mut r = R::new(false);
        let asked = [(f("ok"), Q1), (f("no"), Q1), (f("late"), Q0)];
        r.subscribed(&asked, None);
        let filters: Vec<_> = asked.iter().map(|(f, _)| f.clone()).collect();
        r.subscribe_outcome(
            &filters[..2],
            Some(&vec![Ok(Q1), Err(SubAckReason::NotAuthorized)]),
        );
        r.subscribe_outcome(&filters[2..], None);
        let kept: Vec<_> = r.resubscribe().into_iter().map(|s| s.filter).collect();
        assert_eq!(kept, [f("ok")]);
    }

    /// A refused explicit filter that streams use stays kept for them, but
    /// no longer for its own sake.
    #[test]
    fn refused_filter_used_by_streams_stays_for_them() {
        let mut r = R::new(false);
        live_route(&mut r, 1, "a", Q1, "s");
        r.subscribed(&[(f("a"), Q1)], None);
        r.subscribe_outcome(&[f("a")], Some(&vec![Err(SubAckReason::QuotaExceeded)]));
        assert_eq!(r.resubscribe().len(), 1);
        // No longer explicit: the last stream going unsubscribes it.
        assert_eq!(r.remove_route(1), Some(f("a")));
        assert!(r.resubscribe().is_empty());
    }

    /// A refused stream subscription fails the routes waiting for it and
    /// leaves the live routes of the filter alone.
    #[test]
    fn refused_stream_subscription_fails_its_routes_only() {
        let mut r = R::new(false);
        let RouteStart::Subscribe(s) = r.add_route(1, f("a"), Q0, "s1") else {
            panic!("a is new");
        };
        assert_eq!(
            r.route_outcome(&s.filter, false),
            Settled {
                ready: vec![],
                failed: vec![1]
            }
        );
        assert_eq!(route(&r, "a", &[]), (Destination::Default, vec![]));
        assert!(r.resubscribe().is_empty(), "forgotten");
        // A live route, then a higher QoS refused: the live one stays.
        live_route(&mut r, 2, "a", Q0, "s2");
        let RouteStart::Subscribe(s) = r.add_route(3, f("a"), Q2, "s3") else {
            panic!("a higher QoS subscribes again");
        };
        assert_eq!(r.route_outcome(&s.filter, false).failed, [3]);
        assert_eq!(route(&r, "a", &[]), (Destination::Routes, vec!["s2"]));
        assert_eq!(r.resubscribe().len(), 1, "kept for s2");
    }

    /// A refused stream subscription of an explicit filter keeps it.
    #[test]
    fn refused_stream_subscription_keeps_an_explicit_filter() {
        let mut r = R::new(false);
        r.subscribed(&[(f("a"), Q0)], None);
        let RouteStart::Subscribe(s) = r.add_route(1, f("a"), Q1, "s") else {
            panic!("a higher QoS subscribes again");
        };
        assert_eq!(r.route_outcome(&s.filter, false).failed, [1]);
        assert_eq!(r.resubscribe().len(), 1);
    }

    /// A filter still used by streams stays subscribed: UNSUBSCRIBE goes
    /// only for the others, and when the last stream goes.
    #[test]
    fn unsubscribe_keeps_filters_streams_use() {
        let mut r = R::new(false);
        r.subscribed(&[(f("a"), Q1), (f("b"), Q1)], None);
        live_route(&mut r, 1, "a", Q0, "s");
        assert_eq!(
            r.unsubscribe(vec![f("a"), f("b"), f("never")]),
            [f("b"), f("never")]
        );
        let kept: Vec<_> = r.resubscribe().into_iter().map(|s| s.filter).collect();
        assert_eq!(kept, [f("a")]);
        assert_eq!(r.remove_route(1), Some(f("a")));
        assert!(r.resubscribe().is_empty());
    }

    /// The last stream of a filter unsubscribes it, unless the filter was
    /// subscribed explicitly; an unknown route changes nothing.
    #[test]
    fn last_stream_unsubscribes_unless_explicit() {
        let mut r = R::new(false);
        live_route(&mut r, 1, "a", Q0, "s1");
        live_route(&mut r, 2, "a", Q0, "s2");
        assert_eq!(r.remove_route(1), None, "s2 still uses it");
        assert_eq!(r.remove_route(2), Some(f("a")));
        assert_eq!(r.remove_route(2), None);
        r.subscribed(&[(f("b"), Q0)], None);
        live_route(&mut r, 3, "b", Q0, "s3");
        assert_eq!(r.remove_route(3), None, "explicit");
        assert_eq!(r.resubscribe().len(), 1);
    }

    /// After a session loss every kept filter is subscribed again, one
    /// SUBSCRIBE each, at its QoS, keeping its identifier.
    #[test]
    fn resubscribe_plan_after_session_loss() {
        let mut r = R::new(true);
        let ab = r.sid_for([&f("a"), &f("b")]);
        r.subscribed(&[(f("b"), Q2), (f("a"), Q1)], ab);
        let RouteStart::Subscribe(c) = r.add_route(1, f("c/#"), Q0, "s") else {
            panic!("c/# is new");
        };
        r.route_outcome(&c.filter, true);
        let plan = r.resubscribe();
        assert_eq!(
            plan,
            [
                Subscribe {
                    filter: f("a"),
                    qos: Q1,
                    sid: ab
                },
                Subscribe {
                    filter: f("b"),
                    qos: Q2,
                    sid: ab
                },
                Subscribe {
                    filter: f("c/#"),
                    qos: Q0,
                    sid: c.sid
                },
            ]
        );
        let (filters, props) = plan[1].packet();
        assert_eq!(filters, [(f("b"), SubscriptionOptions::qos(Q2))]);
        assert_eq!(props.subscription_identifier, ab);
    }

    /// The client stops: every route goes, waiting or live.
    #[test]
    fn clear_routes_removes_every_route() {
        let mut r = R::new(false);
        live_route(&mut r, 1, "a", Q0, "live");
        r.add_route(2, f("b"), Q0, "waiting");
        r.clear_routes();
        assert_eq!(route(&r, "a", &[]), (Destination::Default, vec![]));
        assert_eq!(r.route_outcome(&f("b"), true), Settled::default());
        assert_eq!(r.remove_route(1), None);
    }
}
