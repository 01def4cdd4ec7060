//! Veilig's relay: one binary that serves the app, relays signaling between browsers, and
//! forwards their media as an SFU. It never holds a key and never depends on the E2EE crate:
//! media, chat and names pass through it as ciphertext.
//!
//! ```text
//!  browsers ── HTTP (app, /healthz) ──► http ──────────────┐
//!           ── WebSocket /ws ────────► signaling ─► rooms ─┼─► room task (one per room: its
//!           ── UDP (one port) ───────► udp router ─────────┘   peers' str0m Rtc, forwarding)
//! ```
//! Each room's state is owned by one task ([`room`]), reached only through its channel, so rooms
//! share nothing but the UDP socket.

#![forbid(unsafe_code)]

pub mod assets;
pub mod config;
pub mod http;
pub mod room;
pub mod rooms;
pub mod signaling;
pub mod tap;
pub mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::Config;

/// A running relay.
pub struct Relay {
    /// Where HTTP and WebSocket listen.
    pub http_addr: SocketAddr,
    /// Where media arrives.
    pub udp_addr: SocketAddr,
    /// The rooms (for counts).
    pub rooms: rooms::Rooms,
    /// UDP routing counts.
    pub udp_stats: Arc<udp::UdpStats>,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    router: JoinHandle<()>,
}

/// Binds the sockets and starts serving.
pub async fn start(config: Config) -> std::io::Result<Relay> {
    str0m::crypto::from_feature_flags().install_process_default();
    let listener = TcpListener::bind(config.listen).await?;
    let socket = Arc::new(UdpSocket::bind(config.udp).await?);
    let http_addr = listener.local_addr()?;
    let udp_addr = socket.local_addr()?;
    let candidate = SocketAddr::new(config.candidate_ip(), udp_addr.port());
    let (routes, changes) = mpsc::channel(1024);
    let udp_stats = Arc::new(udp::UdpStats::default());
    let router = tokio::spawn(udp::route(socket.clone(), changes, udp_stats.clone()));
    #[cfg(feature = "payload-tap")]
    let tap = match &config.payload_tap {
        Some(path) => Some(tap::Tap::open(path)?),
        None => None,
    };
    #[cfg(not(feature = "payload-tap"))]
    let tap = None;
    let ctx = room::RoomContext {
        socket,
        routes,
        candidate,
        max_participants: config.max_participants,
        tap,
    };
    let rooms = rooms::Rooms::new(ctx, config.max_rooms);
    let assets = match &config.static_dir {
        Some(dir) => assets::Assets::Directory(dir.clone()),
        None => assets::Assets::Embedded,
    };
    let state = http::AppState::new(rooms.clone(), Arc::new(config), assets);
    let (stop, mut stopped) = watch::channel(false);
    let app = http::app(state);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%http_addr, %udp_addr, %candidate, "relay listening");
    Ok(Relay {
        http_addr,
        udp_addr,
        rooms,
        udp_stats,
        stop,
        server,
        router,
    })
}

impl Relay {
    /// Stops gracefully: every participant is told the relay is restarting (close code 4012,
    /// so browsers rejoin by themselves), then HTTP stops. Waits at most a few seconds.
    pub async fn shut_down(self) {
        self.rooms.shut_down();
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.router.abort();
        tracing::info!("relay stopped");
    }
}
