//! The figures as Markdown table rows, and `all`: every run at its full
//! size (or `--short`), peer by peer.

use std::time::Duration;

use crate::cuts::{Cuts, CutsOutcome};
use crate::halfopen::{HalfOpen, Stall};
use crate::peer::{Bins, Peer};
use crate::restarts::{Restarts, RestartsOutcome, Stop};

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

/// Copies beyond the first, with the broker's re-sends after PUBREL among
/// them when it made any.
fn duplicated(t: &crate::exchange::Tally) -> String {
    match t.broker.republished {
        0 => t.duplicated.to_string(),
        n => format!("{} ({n} re-sent by the broker after PUBREL)", t.duplicated),
    }
}

/// The header of [`cuts_row`].
pub fn cuts_header() -> &'static str {
    "| client | faults | QoS | messages | resets | connections | lost | duplicated | out of order | publisher done | time (s) | peak RSS pub / sub (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
}

/// The faults of a [`Cuts`] run, in words.
fn link_faults(c: &Cuts, o: &CutsOutcome) -> String {
    let mut f = vec![format!("{} resets", o.counts.resets)];
    if !c.delay.is_zero() {
        f.push(format!("{} ms delay", c.delay.as_millis()));
    }
    if let Some(t) = c.trickle {
        f.push(format!("{t} B/s trickle"));
    }
    if c.refusals.0 > 0 {
        f.push(format!(
            "{} refusals of {:.1} s",
            o.refusals,
            c.refusals.1.as_secs_f64()
        ));
    }
    f.join(", ")
}

/// One run of [`Cuts`].
pub fn cuts_row(c: &Cuts, o: &CutsOutcome) -> String {
    let t = &o.tally;
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
        c.peer.name(),
        link_faults(c, o),
        c.qos,
        t.sent,
        o.counts.resets,
        o.counts.accepted,
        t.lost,
        duplicated(t),
        t.reordered,
        if t.publisher_finished { "yes" } else { "no" },
        secs(t.publish_time),
        mib(t.peak_rss_kib.0),
        mib(t.peak_rss_kib.1),
    )
}

/// The header of [`restarts_row`].
pub fn restarts_header() -> &'static str {
    "| client | QoS | stop | restarts | outages (s) | resets | messages | lost | duplicated | out of order | publisher done | probe: ok / timed out / other, longest call (ms) | RSS pub, sub: start -> end (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}

/// One run of [`Restarts`].
pub fn restarts_row(r: &Restarts, o: &RestartsOutcome) -> String {
    let t = &o.tally;
    let ((ps, ss), (pe, se)) = t.rss_start_end_kib;
    format!(
        "| {} | {} | {} | {} | {}-{} | {} | {} | {} | {} | {} | {} | {} / {} / {}, {} | {} -> {}, {} -> {} |",
        r.peer.name(),
        r.qos,
        match r.stop {
            Stop::Term => "SIGTERM",
            Stop::Kill => "SIGKILL",
        },
        o.restarts,
        secs(o.outages.0),
        secs(o.outages.1),
        o.counts.resets,
        t.sent,
        t.lost,
        duplicated(t),
        t.reordered,
        if t.publisher_finished { "yes" } else { "no" },
        o.probe.ok,
        o.probe.timed_out,
        o.probe.failed,
        o.probe.longest_ms,
        mib(ps),
        mib(pe),
        mib(ss),
        mib(se),
    )
}

/// The header of [`halfopen_row`].
pub fn halfopen_header() -> &'static str {
    "| client | keep-alive (s) | stalls | noticed: median / max (s) | recovered: median / max (s) | never noticed |\n|---|---|---|---|---|---|"
}

fn median_max(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort();
    format!("{} / {}", secs(v[v.len() / 2]), secs(v[v.len() - 1]))
}

/// One run of [`HalfOpen`].
pub fn halfopen_row(h: &HalfOpen, stalls: &[Stall]) -> String {
    let noticed: Vec<Duration> = stalls.iter().filter_map(|s| s.noticed).collect();
    let recovered: Vec<Duration> = stalls.iter().filter_map(|s| s.recovered).collect();
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        h.peer.name(),
        h.keep_alive,
        stalls.len(),
        median_max(noticed.clone()),
        median_max(recovered),
        stalls.len() - noticed.len(),
    )
}

/// Every run, peer by peer, at full size or (`short`) the size of the
/// tests; prints the tables as they fill.
pub fn all(bins: &Bins, short: bool, peers: &[Peer], seed: u64) -> Result<(), String> {
    println!(
        "\n### Connection resets at random offsets\n\n{}",
        cuts_header()
    );
    for &peer in peers {
        // Every client at 20,000 messages; sansmqtt at 200,000 as well
        // (the size of the run).
        let sizes: &[(u32, u32)] = match (short, peer) {
            (true, _) => &[(2_000, 20)],
            (false, Peer::Sansmqtt) => &[(20_000, 100), (200_000, 1_000)],
            (false, _) => &[(20_000, 100)],
        };
        for &(messages, resets) in sizes {
            for qos in [1, 2] {
                let c = Cuts::resets(peer, qos, messages, resets, seed);
                println!("{}", cuts_row(&c, &c.run(bins)?));
            }
        }
    }
    println!("\n### Slow and refused links\n\n{}", cuts_header());
    for &peer in peers {
        let n = if short { 500 } else { 5_000 };
        // One-way latency (each chunk waits): the clients publish one
        // line after the other, so this run is slow by design.
        let mut slow = Cuts::resets(
            peer,
            2,
            if short { 250 } else { 1_000 },
            if short { 5 } else { 20 },
            seed,
        );
        slow.delay = Duration::from_millis(if short { 5 } else { 20 });
        println!("{}", cuts_row(&slow, &slow.run(bins)?));
        let mut trickle = Cuts::resets(peer, 2, n, 0, seed);
        trickle.trickle = Some(if short { 20_000 } else { 50_000 });
        println!("{}", cuts_row(&trickle, &trickle.run(bins)?));
        let mut refused = Cuts::resets(peer, 2, n * 4, 0, seed);
        let (count, each) = if short { (2, 1.0) } else { (10, 3.0) };
        refused.refusals = (count, Duration::from_secs_f64(each));
        // Spread over the refusals and the gaps between them (1.25 s on
        // average).
        refused.rate = Some((f64::from(n * 4) / (f64::from(count) * (each + 1.25) + 1.0)) as u32);
        println!("{}", cuts_row(&refused, &refused.run(bins)?));
    }
    for stop in [Stop::Term, Stop::Kill] {
        println!("\n### Broker restarts ({stop:?})\n\n{}", restarts_header());
        for &peer in peers {
            let r = if short {
                Restarts {
                    peer,
                    qos: 2,
                    messages: 3_000,
                    restarts: 3,
                    stop,
                    outage: (Duration::from_millis(200), Duration::from_secs(1)),
                    uptime: (Duration::from_secs(1), Duration::from_secs(3)),
                    resets: 0,
                    seed,
                }
            } else {
                Restarts {
                    peer,
                    qos: 2,
                    messages: 100_000,
                    restarts: 20,
                    stop,
                    outage: (Duration::from_millis(200), Duration::from_secs(10)),
                    uptime: (Duration::from_secs(2), Duration::from_secs(6)),
                    resets: 300,
                    seed,
                }
            };
            let o = r.run(bins)?;
            println!("{}", restarts_row(&r, &o));
            if !o.probe.errors.is_empty() {
                eprintln!("probe errors ({}): {:?}", r.tag(), o.probe.errors);
            }
        }
    }
    println!("\n### Half-open links\n\n{}", halfopen_header());
    for &peer in peers {
        let h = HalfOpen {
            peer,
            // The command-line clients take 5 s at least.
            keep_alive: 5,
            stalls: if short { 2 } else { 10 },
            seed,
        };
        println!("{}", halfopen_row(&h, &h.run(bins)?));
    }
    Ok(())
}
