//! `veilig-relay`: see `--help` for every setting.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use veilig_relay::Config;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let relay = veilig_relay::start(config).await?;
    println!(
        "Veilig relay on http://{} (media on UDP {})",
        relay.http_addr, relay.udp_addr
    );
    shutdown_signal().await;
    relay.shut_down().await;
    Ok(())
}

/// Ctrl-C or SIGTERM (systemd's stop).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("can listen for SIGTERM");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
