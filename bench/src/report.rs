//! Medians, ranges and ratios to rumqttc, per (workload, broker regime);
//! the Markdown tables, CSV and JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::Run;
use crate::broker::Regime;
use crate::outcome::Outcome;
use crate::workload::Workload;

/// Median, minimum and maximum of a figure over the runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Stat {
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

fn stat(mut v: Vec<f64>) -> Option<Stat> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

/// One client on one workload under one broker regime, over its runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    pub(crate) workload: Workload,
    /// The broker regime (`nodelay`, `coalesced`).
    pub(crate) regime: Regime,
    pub(crate) title: String,
    pub(crate) peer: &'static str,
    pub(crate) runs_ok: usize,
    pub(crate) runs_failed: usize,
    /// The workload's headline figure: msg/s (W1-W3, W6: deliveries/s),
    /// p50 µs (W4), wall ms (W5, W5b), MB/s (W7).
    pub(crate) metric_name: &'static str,
    pub(crate) higher_is_better: bool,
    pub(crate) metric: Option<Stat>,
    pub(crate) cpu_us_per_msg: Option<Stat>,
    pub(crate) peak_rss_mib: Option<Stat>,
    /// The most heap held at once (counting allocator), MiB.
    pub(crate) peak_heap_mib: Option<f64>,
    pub(crate) allocations_per_msg: Option<f64>,
    pub(crate) allocated_bytes_per_msg: Option<f64>,
    pub(crate) switches_per_msg: Option<f64>,
    pub(crate) broker_cpu_us_per_msg: Option<f64>,
    /// W4: medians of p50, p99, max (µs).
    pub(crate) latency_us: Option<[f64; 3]>,
    pub(crate) lost: u64,
    /// `--perf`: system calls, futex calls and context switches (perf's
    /// count) per message, medians over the runs that have them.
    pub(crate) syscalls_per_msg: Option<f64>,
    pub(crate) futex_per_msg: Option<f64>,
    pub(crate) perf_switches_per_msg: Option<f64>,
    /// Median metric relative to rumqttc's in the same regime (rumqttc = 1).
    pub(crate) metric_vs_rumqttc: Option<f64>,
    pub(crate) cpu_vs_rumqttc: Option<f64>,
    pub(crate) rss_vs_rumqttc: Option<f64>,
}

fn metric(w: Workload, payload: usize, o: &Outcome) -> f64 {
    match w {
        Workload::W4 => o.latency_us.map_or(f64::NAN, |l| l[0] as f64),
        Workload::W5 | Workload::W5b => o.elapsed_us as f64 / 1000.0,
        Workload::W7 => o.rate() * payload as f64 / 1e6,
        _ => o.rate(),
    }
}

fn metric_name(w: Workload) -> (&'static str, bool) {
    match w {
        Workload::W4 => ("p50 µs", false),
        Workload::W5 | Workload::W5b => ("wall ms", false),
        Workload::W6 => ("deliveries/s", true),
        Workload::W7 => ("MB/s", true),
        _ => ("msg/s", true),
    }
}

fn median(v: Vec<f64>) -> Option<f64> {
    stat(v).map(|s| s.median)
}

/// Summary rows, per workload in order, per regime in order, per client in
/// run order.
pub(crate) fn summarize(
    runs: &[Run],
    workloads: &[Workload],
    regimes: &[Regime],
    quick: bool,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (&w, &regime) in workloads
        .iter()
        .flat_map(|w| regimes.iter().map(move |g| (w, g)))
    {
        let p = w.params(quick);
        let here = |r: &&Run| r.workload == w && r.regime == regime;
        let mut peers: Vec<&'static str> = Vec::new();
        for r in runs.iter().filter(here) {
            if !peers.contains(&r.peer) {
                peers.push(r.peer);
            }
        }
        let start = rows.len();
        for peer in peers {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(here)
                .filter(|r| r.peer == peer)
                .collect();
            let ok: Vec<&Outcome> = mine
                .iter()
                .filter_map(|r| r.outcome.as_ref().ok())
                .collect();
            let per = |f: &dyn Fn(&Outcome) -> f64| ok.iter().map(|o| f(o)).collect::<Vec<_>>();
            let heap = |f: &dyn Fn(&Outcome) -> f64| {
                ok.iter()
                    .filter(|o| !o.heap_unmeasured)
                    .map(|o| f(o))
                    .collect::<Vec<_>>()
            };
            let perf = |f: &dyn Fn(&Outcome) -> Option<u64>| {
                median(
                    ok.iter()
                        .filter_map(|o| f(o).map(|count| o.per_msg(count)))
                        .collect(),
                )
            };
            let (name, higher) = metric_name(w);
            rows.push(Row {
                workload: w,
                regime,
                title: w.title(&p),
                peer,
                runs_ok: ok.len(),
                runs_failed: mine.len() - ok.len(),
                metric_name: name,
                higher_is_better: higher,
                metric: stat(per(&|o| metric(w, p.payload, o))),
                cpu_us_per_msg: stat(per(&|o| o.cpu_per_msg())),
                peak_rss_mib: stat(per(&|o| o.peak_rss_kib as f64 / 1024.0)),
                peak_heap_mib: median(heap(&|o| o.peak_heap_kib as f64 / 1024.0)),
                allocations_per_msg: median(heap(&|o| {
                    o.allocations as f64 / o.received.max(1) as f64
                })),
                allocated_bytes_per_msg: median(heap(&|o| {
                    o.allocated_bytes as f64 / o.received.max(1) as f64
                })),
                switches_per_msg: median(per(&|o| o.switches as f64 / o.received.max(1) as f64)),
                broker_cpu_us_per_msg: median(per(&|o| {
                    o.broker_cpu_us as f64 / o.received.max(1) as f64
                })),
                latency_us: o_latency(&ok),
                lost: ok
                    .iter()
                    .map(|o| o.expected.saturating_sub(o.received))
                    .sum(),
                syscalls_per_msg: perf(&|o| o.syscalls),
                futex_per_msg: perf(&|o| o.futex_calls),
                perf_switches_per_msg: perf(&|o| o.perf_switches),
                metric_vs_rumqttc: None,
                cpu_vs_rumqttc: None,
                rss_vs_rumqttc: None,
            });
        }
        let reference = rows[start..].iter().find(|r| r.peer == "rumqttc").cloned();
        if let Some(reference) = reference {
            let ratio = |a: Option<Stat>, b: Option<Stat>| match (a, b) {
                (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
                _ => None,
            };
            for r in &mut rows[start..] {
                r.metric_vs_rumqttc = ratio(r.metric, reference.metric);
                r.cpu_vs_rumqttc = ratio(r.cpu_us_per_msg, reference.cpu_us_per_msg);
                r.rss_vs_rumqttc = ratio(r.peak_rss_mib, reference.peak_rss_mib);
            }
        }
    }
    rows
}

fn o_latency(ok: &[&Outcome]) -> Option<[f64; 3]> {
    let ls: Vec<[u64; 3]> = ok.iter().filter_map(|o| o.latency_us).collect();
    if ls.is_empty() {
        return None;
    }
    let m = |i: usize| median(ls.iter().map(|l| l[i] as f64).collect()).unwrap_or(f64::NAN);
    Some([m(0), m(1), m(2)])
}

/// One run in one line.
pub(crate) fn one_line(w: Workload, o: &Outcome) -> String {
    let mut s = format!(
        "{:.0} msg/s, {} of {} received, client {:.2} µs CPU/msg, {:.3} switches/msg, peak RSS {:.1} MiB, {:.3} allocations/msg ({:.0} B/msg), broker {:.2} µs CPU/msg",
        o.rate(),
        o.received,
        o.expected,
        o.cpu_per_msg(),
        o.per_msg(o.switches),
        o.peak_rss_kib as f64 / 1024.0,
        o.per_msg(o.allocations),
        o.per_msg(o.allocated_bytes),
        o.per_msg(o.broker_cpu_us),
    );
    if let Some([p50, p99, max]) = o.latency_us {
        let _ = write!(s, ", latency p50 {p50} µs, p99 {p99} µs, max {max} µs");
    }
    if o.peak_heap_kib > 0 {
        let _ = write!(s, ", peak heap {:.1} MiB", o.peak_heap_kib as f64 / 1024.0);
    }
    if matches!(w, Workload::W5 | Workload::W5b) {
        let _ = write!(s, ", wall {:.0} ms", o.elapsed_us as f64 / 1000.0);
    }
    if let (Some(calls), Some(futex), Some(switches)) = (o.syscalls, o.futex_calls, o.perf_switches)
    {
        let _ = write!(
            s,
            ", perf {:.2} syscalls/msg, {:.3} futex/msg, {:.3} switches/msg",
            o.per_msg(calls),
            o.per_msg(futex),
            o.per_msg(switches)
        );
    }
    s
}

fn fmt_stat(s: Option<Stat>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.d$} ({:.d$}-{:.d$})", s.median, s.min, s.max, d = digits),
        None => "-".into(),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}x"))
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// Digits of a row's headline figure.
fn metric_digits(r: &Row) -> usize {
    if r.metric_name == "MB/s" { 1 } else { 0 }
}

/// The client's name, with its failed runs.
fn client_cell(r: &Row) -> String {
    if r.runs_failed > 0 {
        format!("{} ({} failed)", r.peer, r.runs_failed)
    } else {
        r.peer.to_string()
    }
}

/// One line of a Markdown table.
fn table_line(cells: &[String]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// The Markdown report: with more than one regime, first a table with the
/// main figures of each regime side by side (a line per workload and
/// client); then every figure, a line per workload, regime and client.
pub(crate) fn markdown(rows: &[Row], regimes: &[Regime]) -> String {
    let perf = rows.iter().any(|r| r.syscalls_per_msg.is_some());
    let mut s = String::new();
    if regimes.len() > 1 {
        s.push_str(&side_by_side(rows, regimes, perf));
        s.push('\n');
    }
    s.push_str(&detail(rows, perf));
    s
}

/// Per workload and client, the main figures of each regime side by side.
fn side_by_side(rows: &[Row], regimes: &[Regime], perf: bool) -> String {
    let names: Vec<&str> = regimes.iter().map(|g| g.name()).collect();
    let mut header = vec!["workload".to_owned(), "client".into(), "figure".into()];
    let mut columns = |what: &str| {
        header.extend(names.iter().map(|n| format!("{what} {n}")));
    };
    columns("median (min-max)");
    columns("vs rumqttc");
    columns("client CPU µs/msg");
    columns("CPU vs rumqttc");
    columns("peak RSS MiB");
    columns("RSS vs rumqttc");
    if perf {
        columns("syscalls/msg");
    }
    columns("lost");
    let mut s = format!(
        "Broker regimes side by side ({}):\n\n",
        regimes
            .iter()
            .map(|g| format!("{}: {}", g.name(), g.about()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    s.push_str(&table_line(&header));
    s.push_str(&table_line(&vec!["---".to_owned(); header.len()]));
    // The (workload, client) pairs, in the order of the rows.
    let mut pairs: Vec<(Workload, &'static str)> = Vec::new();
    for r in rows {
        if !pairs.contains(&(r.workload, r.peer)) {
            pairs.push((r.workload, r.peer));
        }
    }
    for (w, peer) in pairs {
        let of: Vec<Option<&Row>> = regimes
            .iter()
            .map(|&g| {
                rows.iter()
                    .find(|r| r.workload == w && r.peer == peer && r.regime == g)
            })
            .collect();
        let Some(first) = of.iter().flatten().next() else {
            continue;
        };
        let failed: usize = of.iter().flatten().map(|r| r.runs_failed).sum();
        let mut cells = vec![
            first.title.clone(),
            if failed > 0 {
                format!("{peer} ({failed} failed)")
            } else {
                peer.to_owned()
            },
            first.metric_name.to_owned(),
        ];
        let mut each = |f: &dyn Fn(&Row) -> String| {
            cells.extend(of.iter().map(|r| r.map_or("-".into(), f)));
        };
        each(&|r| fmt_stat(r.metric, metric_digits(r)));
        each(&|r| fmt_ratio(r.metric_vs_rumqttc));
        each(&|r| fmt_opt(r.cpu_us_per_msg.map(|s| s.median), 2));
        each(&|r| fmt_ratio(r.cpu_vs_rumqttc));
        each(&|r| fmt_opt(r.peak_rss_mib.map(|s| s.median), 1));
        each(&|r| fmt_ratio(r.rss_vs_rumqttc));
        if perf {
            each(&|r| fmt_opt(r.syscalls_per_msg, 2));
        }
        each(&|r| r.lost.to_string());
        s.push_str(&table_line(&cells));
    }
    s
}

/// Every figure, a line per workload, regime and client.
fn detail(rows: &[Row], perf: bool) -> String {
    let mut header: Vec<String> = [
        "workload",
        "regime",
        "client",
        "figure",
        "median (min-max)",
        "vs rumqttc",
        "client CPU µs/msg",
        "CPU vs rumqttc",
        "peak RSS MiB",
        "RSS vs rumqttc",
        "peak heap MiB",
        "latency p50/p99/max µs",
        "allocs/msg",
        "B alloc/msg",
        "lost",
        "broker CPU µs/msg",
    ]
    .map(String::from)
    .to_vec();
    if perf {
        header.extend(["syscalls/msg", "futex/msg", "perf switches/msg"].map(String::from));
    }
    let mut s = table_line(&header);
    s.push_str(&table_line(&vec!["---".to_owned(); header.len()]));
    for r in rows {
        let mut cells = vec![
            r.title.clone(),
            r.regime.name().to_owned(),
            client_cell(r),
            r.metric_name.to_owned(),
            fmt_stat(r.metric, metric_digits(r)),
            fmt_ratio(r.metric_vs_rumqttc),
            fmt_stat(r.cpu_us_per_msg, 2),
            fmt_ratio(r.cpu_vs_rumqttc),
            fmt_stat(r.peak_rss_mib, 1),
            fmt_ratio(r.rss_vs_rumqttc),
            fmt_opt(r.peak_heap_mib, 1),
            r.latency_us.map_or("-".into(), |l| {
                format!("{:.0}/{:.0}/{:.0}", l[0], l[1], l[2])
            }),
            fmt_opt(r.allocations_per_msg, 3),
            fmt_opt(r.allocated_bytes_per_msg, 0),
            r.lost.to_string(),
            fmt_opt(r.broker_cpu_us_per_msg, 2),
        ];
        if perf {
            cells.extend([
                fmt_opt(r.syscalls_per_msg, 2),
                fmt_opt(r.futex_per_msg, 3),
                fmt_opt(r.perf_switches_per_msg, 3),
            ]);
        }
        s.push_str(&table_line(&cells));
    }
    s
}

/// `results.json` (every run and the summary) and `results.csv` (the
/// summary, a line per workload, regime and client).
pub(crate) fn write_files(dir: &Path, runs: &[Run], rows: &[Row]) -> Result<(), String> {
    #[derive(Serialize)]
    struct All<'a> {
        runs: Vec<RunJson<'a>>,
        summary: &'a [Row],
    }
    #[derive(Serialize)]
    struct RunJson<'a> {
        workload: Workload,
        regime: Regime,
        peer: &'a str,
        run: usize,
        outcome: Option<&'a Outcome>,
        error: Option<&'a str>,
    }
    let all = All {
        runs: runs
            .iter()
            .map(|r| RunJson {
                workload: r.workload,
                regime: r.regime,
                peer: r.peer,
                run: r.run,
                outcome: r.outcome.as_ref().ok(),
                error: r.outcome.as_ref().err().map(String::as_str),
            })
            .collect(),
        summary: rows,
    };
    let json = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("results.json"), json).map_err(|e| e.to_string())?;
    let mut csv = String::from(
        "workload,regime,client,figure,median,min,max,vs_rumqttc,cpu_us_per_msg,cpu_vs_rumqttc,peak_rss_mib,rss_vs_rumqttc,peak_heap_mib,p50_us,p99_us,max_us,allocs_per_msg,bytes_per_msg,lost,broker_cpu_us_per_msg,syscalls_per_msg,futex_per_msg,perf_switches_per_msg,runs_ok,runs_failed\n",
    );
    let n = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let cells = [
            r.workload.name().to_owned(),
            r.regime.name().to_owned(),
            r.peer.to_owned(),
            r.metric_name.to_owned(),
            n(r.metric.map(|s| s.median)),
            n(r.metric.map(|s| s.min)),
            n(r.metric.map(|s| s.max)),
            n(r.metric_vs_rumqttc),
            n(r.cpu_us_per_msg.map(|s| s.median)),
            n(r.cpu_vs_rumqttc),
            n(r.peak_rss_mib.map(|s| s.median)),
            n(r.rss_vs_rumqttc),
            n(r.peak_heap_mib),
            n(r.latency_us.map(|l| l[0])),
            n(r.latency_us.map(|l| l[1])),
            n(r.latency_us.map(|l| l[2])),
            n(r.allocations_per_msg),
            n(r.allocated_bytes_per_msg),
            r.lost.to_string(),
            n(r.broker_cpu_us_per_msg),
            n(r.syscalls_per_msg),
            n(r.futex_per_msg),
            n(r.perf_switches_per_msg),
            r.runs_ok.to_string(),
            r.runs_failed.to_string(),
        ];
        let _ = writeln!(csv, "{}", cells.join(","));
    }
    std::fs::write(dir.join("results.csv"), csv).map_err(|e| e.to_string())
}
