//! # sansmqtt
//!
//! `sansmqtt pub` and `sansmqtt sub`: mosquitto_pub and mosquitto_sub 2.0
//! on the sansmqtt client (tokio adapter), with their flags, defaults and
//! exit statuses. See `docs/cli.md`.

#![deny(missing_docs)]

mod args;
mod connection;
mod exit;
mod format;
mod properties;
mod publish;
mod subscribe;
mod tap;

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;

use crate::args::Command;
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let help = matches!(
                e.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            let _ = e.print();
            // mosquitto's usage errors exit with 1, help with 0.
            return ExitCode::from(if help && e.kind() == ErrorKind::DisplayHelp {
                0
            } else {
                1
            });
        }
    };
    // The local time zone can only be read soundly while single-threaded.
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let (quiet, tool) = match &cli.command {
        Command::Pub(a) => (a.common.quiet, "pub"),
        Command::Sub(a) => (a.common.quiet, "sub"),
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Pub(a) => publish::run(a).await,
            Command::Sub(a) => subscribe::run(a, offset).await,
        }
    });
    let _ = std::io::stdout().flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit {
            code,
            message,
            usage,
        }) => {
            if !quiet {
                eprintln!("{message}");
                if usage {
                    eprintln!("\nUse 'sansmqtt {tool} --help' to see usage.");
                }
            }
            ExitCode::from(code)
        }
    }
}
