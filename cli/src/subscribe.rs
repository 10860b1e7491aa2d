//! `sansmqtt sub`: mosquitto_sub.

use std::io::{ErrorKind, Write};
use std::time::Duration;

use sansmqtt_proto::ProtocolVersion;
use sansmqtt_tokio::payload::Codecs;
use sansmqtt_tokio::{Bytes, Client, ClientError, QoS, SubscriptionOptions, TopicFilter};
use time::{OffsetDateTime, UtcOffset};

use crate::args::SubArgs;
use crate::connection::{self, fatal_close};
use crate::exit::Exit;
use crate::format::Printer;

/// Exit status of `-W` (libmosquitto's `MOSQ_ERR_TIMEOUT`, as mosquitto_sub).
pub(crate) const TIMED_OUT: u8 = 27;

fn filters(list: &[String], what: &str) -> Result<Vec<TopicFilter>, Exit> {
    list.iter()
        .map(|t| {
            TopicFilter::try_from(t.as_str()).map_err(|_| {
                Exit::usage(format!(
                    "Invalid {what} topic '{t}', are all '+' and '#' wildcards correct?"
                ))
            })
        })
        .collect()
}

fn request_error(e: ClientError, version: ProtocolVersion) -> Exit {
    match e {
        ClientError::Connection(reason) => fatal_close(&reason, version)
            .unwrap_or_else(|| Exit::general(format!("Error: {reason}"))),
        other => Exit::general(format!("Error: {other}")),
    }
}

/// Runs `sansmqtt sub`.
pub(crate) async fn run(args: SubArgs, offset: UtcOffset) -> Result<(), Exit> {
    let (target, config) = connection::prepare(&args.common)?;
    let mut topics = args.topics.clone();
    if let Some(t) = &target.url_topic {
        topics.insert(0, t.clone());
    }
    if topics.is_empty() {
        return Err(Exit::usage("You must specify a topic to subscribe to."));
    }
    let subscribe = filters(&topics, "subscription")?;
    let filter_out = filters(&args.filter_out, "filter")?;
    let unsubscribe = filters(&args.unsubscribe, "unsubscribe")?;
    let subscribe_options = target.properties.subscribe()?;
    let unsubscribe_options = target.properties.unsubscribe();
    let qos = QoS::try_from(args.qos).map_err(|_| Exit::usage("Invalid QoS given."))?;
    let codec = match &args.common.codec {
        None => None,
        Some(name) => {
            let codecs =
                Codecs::from_config(&config).map_err(|e| Exit::general(format!("Error: {e}")))?;
            let codec = codecs
                .get(name)
                .map_err(|e| Exit::general(format!("Error: {e}")))?;
            Some((name.clone(), codec))
        }
    };
    let printer = Printer {
        format: args.format.clone(),
        verbose: args.verbose,
        no_newline: args.no_newline,
        pretty: args.pretty,
        offset,
        codec,
    };

    let client = connection::connect(&args.common, &target, config).await?;
    let deadline = args
        .timeout
        .map(|w| tokio::time::Instant::now() + Duration::from_secs(w.into()));
    let fatal = connection::watch_fatal(client.clone(), target.version, args.common.debug);
    let timed_out = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let work = async {
        let pairs: Vec<(&str, SubscriptionOptions)> = subscribe
            .iter()
            .map(|f| (f.as_str(), SubscriptionOptions::qos(qos)))
            .collect();
        let granted = client
            .subscribe_with(&pairs, subscribe_options)
            .await
            .map_err(|e| request_error(e, target.version))?;
        for (filter, result) in subscribe.iter().zip(&granted.results) {
            if let Err(reason) = result {
                return Err(Exit::general(format!(
                    "Error: subscription to '{}' refused: {reason}",
                    filter.as_str()
                )));
            }
        }
        if !unsubscribe.is_empty() {
            let list: Vec<&str> = unsubscribe.iter().map(|f| f.as_str()).collect();
            client
                .unsubscribe_with(&list, unsubscribe_options)
                .await
                .map_err(|e| request_error(e, target.version))?;
        }
        if args.exit_after_suback {
            return Ok(());
        }
        receive(&client, &args, &filter_out, &printer, target.version).await
    };
    let outcome = tokio::select! {
        biased;
        exit = fatal => Err(exit),
        () = timed_out => Err(Exit::new(TIMED_OUT, "Timed out")),
        r = work => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    connection::disconnect(&client, target.disconnect.clone()).await;
    outcome
}

/// Prints messages until `-C`, `--retained-only` or the end of stdout.
async fn receive(
    client: &Client,
    args: &SubArgs,
    filter_out: &[TopicFilter],
    printer: &Printer,
    version: ProtocolVersion,
) -> Result<(), Exit> {
    let mut printed = 0u64;
    loop {
        let Some(message) = client.deliver_message().await else {
            return Err(Exit::general("Error: the connection is closed."));
        };
        let publish = message.publish();
        if args.retained_only && !publish.retain {
            return Ok(());
        }
        if publish.retain && args.no_retained {
            continue;
        }
        if filter_out.iter().any(|f| f.matches(&publish.topic)) {
            continue;
        }
        if args.remove_retained && publish.retain {
            client
                .publish(publish.topic.clone(), Bytes::new(), QoS::AtLeastOnce, true)
                .await
                .map_err(|e| request_error(e, version))?;
        }
        let rendered = printer.render(publish, OffsetDateTime::now_utc());
        if let Some(w) = rendered.warning
            && !args.common.quiet
        {
            eprintln!("{w}");
        }
        if !rendered.out.is_empty() {
            let mut out = std::io::stdout().lock();
            let written = out.write_all(&rendered.out).and_then(|()| out.flush());
            match written {
                Ok(()) => {}
                // The reader went away (`| head`): done.
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(Exit::general(format!("Error: writing stdout: {e}"))),
            }
        }
        printed += 1;
        if args.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
    }
}
