//! `veilig-relay`: see `--help` for every setting.
//!
//! Signals: Ctrl-C or SIGTERM (systemd's stop) stop the relay gracefully; SIGHUP (systemd's
//! `reload`, or a certbot deploy hook) re-reads the TLS certificate without dropping a call.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use veilig_relay::{Config, Relay};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let relay = match veilig_relay::start(config).await {
        Ok(relay) => relay,
        Err(error) => {
            eprintln!("veilig-relay: {error}");
            return ExitCode::FAILURE;
        }
    };
    let scheme = if relay.serves_https() {
        "https"
    } else {
        "http"
    };
    let tcp = match relay.tcp_addr {
        Some(addr) => format!(", ICE-TCP {addr}"),
        None => String::new(),
    };
    println!(
        "Veilig relay on {scheme}://{} (media on UDP {}{tcp})",
        relay.http_addr, relay.udp_addr
    );
    if let Some(metrics) = relay.metrics_addr {
        println!("Metrics on http://{metrics}/metrics");
    }
    run_until_stopped(&relay).await;
    relay.shut_down().await;
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C or SIGTERM; reloads the TLS certificate on each SIGHUP meanwhile (a
/// failed reload is logged and changes nothing).
async fn run_until_stopped(relay: &Relay) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).expect("can listen for SIGTERM");
        let mut hangup = signal(SignalKind::hangup()).expect("can listen for SIGHUP");
        tokio::pin!(interrupt);
        loop {
            tokio::select! {
                _ = &mut interrupt => return,
                _ = terminate.recv() => return,
                _ = hangup.recv() => { let _ = relay.reload_tls(); }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = relay;
        let _ = interrupt.await;
    }
}
