//! `sansmqtt-faults`: the fault runs of docs/reliability.md.
//!
//! ```text
//! sansmqtt-faults all [--short] [--peers sansmqtt,mosquitto,rumqttc]
//! sansmqtt-faults cuts --peer P --qos Q --messages N --resets R [--seed S]
//!                 [--delay-ms D] [--trickle BYTES_PER_S] [--refusals N --refusal-ms D] [--broker aedes]
//! sansmqtt-faults restarts --peer P --qos Q --messages N --restarts R --stop term|kill
//!                 [--outage 0.2..10] [--uptime 1..3] [--resets R] [--seed S]
//! sansmqtt-faults halfopen --peer P --keep-alive K --stalls N [--seed S]
//! sansmqtt-faults crashes --qos Q --kills K [--delay 0.03..0.4] [--early 0.005]
//!                 [--window W] [--settle SECS] [--seed S]
//! sansmqtt-faults flood [--client sansmqtt|rumqttc] [--qos Q] [--overflow wait|drop] [--payload B]
//!                 [--secs S] [--every-ms M] [--version 4|5] [--receive-maximum N] [--ignore-receive-maximum] | --suite
//! ```
//!
//! Each run prints one Markdown table row. `rumqttc-pub` and `rumqttc-sub`
//! are the rumqttc peer programs the runs start; `crash-publisher` is the
//! publisher process that `crashes` kills (`sansmqtt_faults::crashes`).

use std::process::ExitCode;
use std::time::Duration;

use sansmqtt_faults::crashes::{self, Crashes};
use sansmqtt_faults::cuts::Cuts;
use sansmqtt_faults::flags::Flags;
use sansmqtt_faults::halfopen::HalfOpen;
use sansmqtt_faults::peer::{Bins, Peer};
use sansmqtt_faults::restarts::{Restarts, Stop};
use sansmqtt_faults::{report, rumqttc_peer};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!(
            "usage: sansmqtt-faults all|cuts|restarts|halfopen|crashes ... (see the crate docs)"
        );
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "rumqttc-pub" => rumqttc_peer::publisher(rest),
        "rumqttc-sub" => rumqttc_peer::subscriber(rest),
        "crash-publisher" => crashes::publisher(rest),
        "crashes" => crash_run(rest),
        "flood" => sansmqtt_faults::flood::command(rest),
        "flood-client" => sansmqtt_faults::flood::client(rest),
        other => run(other, rest),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sansmqtt-faults {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--peer NAME` (default sansmqtt).
fn peer(flags: &Flags) -> Result<Peer, String> {
    let name = flags.str("peer").unwrap_or("sansmqtt");
    Peer::parse(name).ok_or(format!("--peer {name}"))
}

/// `--peers A,B` (default every client).
fn peers(flags: &Flags) -> Result<Vec<Peer>, String> {
    match flags.str("peers") {
        None => Ok(Peer::ALL.to_vec()),
        Some(list) => list
            .split(',')
            .map(|n| Peer::parse(n).ok_or(format!("--peers: {n}")))
            .collect(),
    }
}

/// `crashes`: needs no other program than this one.
fn crash_run(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["short"])?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let c = Crashes {
        qos: flags.get("qos", 1)?,
        kills: flags.get("kills", 300)?,
        delay: flags.range("delay", (0.03, 0.4))?,
        early: Duration::from_secs_f64(flags.get("early", 0.005)?),
        window: flags.get("window", 100)?,
        seed: flags.get("seed", 1)?,
        settle: Duration::from_secs_f64(flags.get("settle", 3.0)?),
    };
    let tally = c.run(&exe)?;
    println!("{}", crashes::header());
    println!("{}", crashes::row(&c, &tally));
    let broken = tally.violations();
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("checks broken: {}", broken.join("; ")))
    }
}

fn run(command: &str, args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["short"])?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bins = Bins::find(&exe)?;
    let seed = flags.get("seed", 1u64)?;
    match command {
        "cuts" => {
            let mut c = Cuts::resets(
                peer(&flags)?,
                flags.get("qos", 2)?,
                flags.get("messages", 2_000)?,
                flags.get("resets", 20)?,
                seed,
            );
            c.delay = Duration::from_millis(flags.get("delay-ms", 0)?);
            c.trickle = flags
                .get::<u32>("trickle", 0)
                .map(|t| (t > 0).then_some(t))?;
            c.aedes = match flags.str("broker").unwrap_or("mosquitto") {
                "mosquitto" => false,
                "aedes" => true,
                b => return Err(format!("--broker {b}")),
            };
            c.refusals = (
                flags.get("refusals", 0)?,
                Duration::from_millis(flags.get("refusal-ms", 1_000)?),
            );
            println!("{}", report::cuts_header());
            println!("{}", report::cuts_row(&c, &c.run(&bins)?));
        }
        "restarts" => {
            let r = Restarts {
                peer: peer(&flags)?,
                qos: flags.get("qos", 2)?,
                messages: flags.get("messages", 3_000)?,
                restarts: flags.get("restarts", 3)?,
                stop: match flags.str("stop").unwrap_or("term") {
                    "term" => Stop::Term,
                    "kill" => Stop::Kill,
                    s => return Err(format!("--stop {s}")),
                },
                outage: flags.range("outage", (0.2, 1.0))?,
                uptime: flags.range("uptime", (1.0, 3.0))?,
                resets: flags.get("resets", 0)?,
                seed,
            };
            let o = r.run(&bins)?;
            println!("{}", report::restarts_header());
            println!("{}", report::restarts_row(&r, &o));
            if !o.probe.errors.is_empty() {
                println!("\nprobe errors: {:?}", o.probe.errors);
            }
        }
        "halfopen" => {
            let h = HalfOpen {
                peer: peer(&flags)?,
                keep_alive: flags.get("keep-alive", 4)?,
                stalls: flags.get("stalls", 5)?,
                seed,
            };
            println!("{}", report::halfopen_header());
            println!("{}", report::halfopen_row(&h, &h.run(&bins)?));
        }
        "all" => report::all(&bins, flags.has("short"), &peers(&flags)?, seed)?,
        other => return Err(format!("unknown command {other}")),
    }
    Ok(())
}
