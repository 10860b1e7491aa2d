//! What mosquitto's own log (`log_type all`) shows of its QoS 2 flows to a
//! client: the protocol violations a client cannot undo, counted so that a
//! run tells the broker's duplicates and losses from the client's.

/// The broker's QoS 2 violations towards one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Qos2Violations {
    /// PUBLISHes sent again (DUP) on an identifier whose PUBREL the broker
    /// had already sent, with no PUBCOMP in between (3.1.1 §4.3.3
    /// [MQTT-4.3.3-1]: never once PUBREL was sent). A client that had
    /// completed the flow takes it as a new message: a duplicate.
    pub republished: u64,
    /// New PUBLISHes (DUP 0) on an identifier still in flight (5.0
    /// [MQTT-2.2.1-4]: a currently unused one). A client still waiting for
    /// that identifier's PUBREL must not deliver it [MQTT-4.3.3-10]: a loss.
    pub reused: u64,
}

/// Counts the violations towards `client_id` in mosquitto's `log`.
pub fn qos2_violations(log: &str, client_id: &str) -> Qos2Violations {
    use std::collections::HashMap;
    #[derive(PartialEq)]
    enum Sent {
        Publish,
        Pubrel,
    }
    let to = format!(" to {client_id} (");
    let from = format!(" from {client_id} (");
    let mut open: HashMap<u16, Sent> = HashMap::new();
    let mut v = Qos2Violations::default();
    // The identifier after the marker: "(m7)" (PUBREL), "(d0, q2, r0, m7,"
    // (PUBLISH), "(Mid: 7" (PUBCOMP).
    let id_after = |line: &str, marker: &str| -> Option<u16> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let at = match rest.strip_prefix("Mid: ") {
            Some(r) => r,
            None => match rest.find(", m") {
                Some(i) => &rest[i + 3..],
                None => rest.strip_prefix('m')?,
            },
        };
        let end = at.find(|c: char| !c.is_ascii_digit()).unwrap_or(at.len());
        at[..end].parse().ok()
    };
    for line in log.lines() {
        if line.contains("Sending PUBREL") && line.contains(&to) {
            if let Some(id) = id_after(line, &to) {
                open.insert(id, Sent::Pubrel);
            }
        } else if line.contains("Received PUBCOMP") && line.contains(&from) {
            if let Some(id) = id_after(line, &from) {
                open.remove(&id);
            }
        } else if line.contains("Sending PUBLISH") && line.contains(&to) && line.contains(", q2,") {
            let Some(id) = id_after(line, &to) else {
                continue;
            };
            match (line.contains("(d1,"), open.get(&id)) {
                (true, Some(Sent::Pubrel)) => v.republished += 1,
                (false, Some(_)) => v.reused += 1,
                _ => {}
            }
            open.insert(id, Sent::Publish);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as mosquitto 2.0 writes them (from a run's log).
    #[test]
    fn counts_a_publish_after_pubrel_and_a_reused_identifier() {
        let log = "\
1: Sending PUBLISH to s (d0, q2, r0, m7, 't', ... (3 bytes))
2: Received PUBREC from s (Mid: 7)
3: Sending PUBREL to s (m7)
4: Sending PUBLISH to s (d1, q2, r0, m7, 't', ... (3 bytes))
5: Sending PUBLISH to s (d0, q2, r0, m7, 't', ... (3 bytes))
6: Sending PUBLISH to s (d0, q2, r0, m8, 't', ... (3 bytes))
7: Received PUBREC from s (Mid: 8)
8: Sending PUBREL to s (m8)
9: Received PUBCOMP from s (Mid: 8, RC:0)
10: Sending PUBLISH to s (d0, q2, r0, m8, 't', ... (3 bytes))
11: Sending PUBLISH to other (d1, q2, r0, m8, 't', ... (3 bytes))";
        assert_eq!(
            qos2_violations(log, "s"),
            Qos2Violations {
                republished: 1,
                reused: 1,
            }
        );
    }
}
