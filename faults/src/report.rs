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

/// The header of [`cuts_row`].
pub fn cuts_header() -> &'static str {
    "| client | QoS | messages | resets | connections | lost | duplicated | out of order | publisher done | time (s) | peak RSS pub / sub (MiB) |\n|---|---|---|---|---|---|---|---|---|---|---|"
}

/// One run of [`Cuts`].
pub fn cuts_row(c: &Cuts, o: &CutsOutcome) -> String {
    let t = &o.tally;
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
        c.peer.name(),
        c.qos,
        t.sent,
        o.counts.resets,
        o.counts.accepted,
        t.lost,
        t.duplicated,
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
        t.duplicated,
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
    let (messages, resets) = if short { (2_000, 20) } else { (200_000, 1_000) };
    println!(
        "\n### Connection resets at random offsets\n\n{}",
        cuts_header()
    );
    for &peer in peers {
        for qos in [1, 2] {
            let c = Cuts {
                peer,
                qos,
                messages,
                resets,
                seed,
            };
            println!("{}", cuts_row(&c, &c.run(bins)?));
        }
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
            println!("{}", restarts_row(&r, &r.run(bins)?));
        }
    }
    println!("\n### Half-open links\n\n{}", halfopen_header());
    for &peer in peers {
        let h = HalfOpen {
            peer,
            keep_alive: if short { 2 } else { 4 },
            stalls: if short { 2 } else { 10 },
            seed,
        };
        println!("{}", halfopen_row(&h, &h.run(bins)?));
    }
    Ok(())
}
