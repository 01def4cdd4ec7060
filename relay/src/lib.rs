//! Veilig's relay: one binary that serves the app, relays signaling between browsers, and
//! forwards their media as an SFU. It never holds a key and never depends on the E2EE crate:
//! media, chat and names pass through it as ciphertext.
//!
//! ```text
//!  browsers ── HTTP(S) (app, /healthz) ─► [tls] ─► http ───────────────┐
//!           ── WebSocket /ws ───────────► [tls] ─► signaling ─► rooms ─┼─► room task (one per
//!           ── UDP (one port) ───────────────────► udp router ─────────┤   room: its peers'
//!           ── TCP (ICE-TCP, one port) ──────────► tcp connections ────┘   str0m Rtc, forwarding)
//!  operator ── /metrics (own listener, optional) ─► metrics (counts only, read from all above)
//! ```
//! Each room's state is owned by one task ([`room`]), reached only through its channel, so rooms
//! share nothing but the UDP socket. ICE-TCP ([`tcp`]) is the fallback for networks that block
//! UDP: each connection finds its room through the UDP router's ufrag table once, then talks to
//! the room directly. TLS ([`tls`]) is optional: plain HTTP suits loopback and
//! reverse proxies.

#![forbid(unsafe_code)]

pub mod assets;
pub mod cluster;
pub mod config;
pub mod counters;
pub mod directory;
pub mod gaps;
#[cfg(feature = "hostile")]
pub mod hostile;
pub mod http;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod net;
pub mod room;
pub mod rooms;
pub mod signaling;
pub mod sockbuf;
pub mod tag;
pub mod tap;
pub mod tcp;
pub mod tls;
pub mod turn;
pub mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::Config;
use http::Scheme;
use tls::{Certificates, TlsError, TlsListener};

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A socket could not be bound (or the payload tap opened).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The TLS settings or files are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TURN settings are unusable.
    #[error(transparent)]
    Turn(#[from] turn::TurnError),
    /// `--nats` was given and the cluster cannot be joined.
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
}

/// A running relay.
pub struct Relay {
    /// Where HTTP (or HTTPS) and WebSocket listen.
    pub http_addr: SocketAddr,
    /// Where media arrives.
    pub udp_addr: SocketAddr,
    /// Where ICE-TCP media connections arrive, if ICE-TCP is on.
    pub tcp_addr: Option<SocketAddr>,
    /// Where `/metrics` is served, if it is.
    pub metrics_addr: Option<SocketAddr>,
    /// The rooms (for counts).
    pub rooms: rooms::Rooms,
    /// UDP routing counts.
    pub udp_stats: Arc<counters::UdpStats>,
    /// ICE-TCP counts.
    pub tcp_stats: Arc<counters::TcpStats>,
    /// Everything else counted for operators.
    pub counters: Arc<counters::Counters>,
    /// This relay as a node of a cluster, with `--nats`.
    pub cluster: Option<cluster::Cluster>,
    certificates: Option<Arc<Certificates>>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<std::io::Result<()>>>,
    /// The UDP router and the ICE-TCP listener.
    media: Vec<JoinHandle<()>>,
}

/// Binds the sockets and starts serving. TLS and TURN settings are checked (and their files
/// read) before anything is bound, so a bad certificate or secret fails the start at once.
pub async fn start(config: Config) -> Result<Relay, StartError> {
    str0m::crypto::from_feature_flags().install_process_default();
    let certificates = match config.tls_files()? {
        Some(files) => Some(Arc::new(Certificates::load(files)?)),
        None => None,
    };
    let turn = config.turn_issuer()?.map(Arc::new);
    let listener = TcpListener::bind(config.listen).await?;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let (socket, buffers) = sockbuf::bind(config.udp, config.udp_buffer)?;
    let socket = Arc::new(UdpSocket::from_std(socket)?);
    let media_tcp = match config.tcp_addr() {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let http_addr = listener.local_addr()?;
    let udp_addr = socket.local_addr()?;
    let tcp_addr = media_tcp
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let candidate = SocketAddr::new(config.candidate_ip(), udp_addr.port());
    let tcp_candidate = tcp_addr.map(|addr| SocketAddr::new(config.candidate_ip(), addr.port()));
    let (routes, requests) = mpsc::channel(1024);
    let udp_stats = Arc::new(counters::UdpStats::with_buffers(buffers));
    let tcp_stats = Arc::new(counters::TcpStats::default());
    let counters = Arc::new(counters::Counters::default());
    let limits = limits::AddressLimits::new(config.address_caps(), counters.clone());
    let mut media = vec![tokio::spawn(udp::route(
        socket.clone(),
        candidate,
        requests,
        udp_stats.clone(),
    ))];
    if let (Some(listener), Some(candidate)) = (media_tcp, tcp_candidate) {
        let ctx = tcp::TcpContext {
            candidate,
            routes: routes.clone(),
            stats: tcp_stats.clone(),
            counters: counters.clone(),
            limits: limits.clone(),
        };
        media.push(tokio::spawn(tcp::serve(listener, ctx)));
    }
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
        tcp_candidate,
        turn,
        max_participants: config.max_participants,
        tap,
        counters: counters.clone(),
    };
    let rooms = rooms::Rooms::new(ctx, config.max_rooms);
    let assets = match &config.static_dir {
        Some(dir) => assets::Assets::Directory(dir.clone()),
        None => assets::Assets::Embedded,
    };
    let scheme = match certificates {
        Some(_) => Scheme::Https,
        None => Scheme::Http,
    };
    let config = Arc::new(config);
    let cluster = match &config.nats {
        Some(url) => Some(
            cluster::Cluster::join(
                url,
                rooms.clone(),
                config.clone(),
                counters.clone(),
                candidate,
            )
            .await?,
        ),
        None => None,
    };
    let mut state = http::AppState::new(
        rooms.clone(),
        config,
        assets,
        scheme,
        counters.clone(),
        limits.clone(),
    );
    state.cluster = cluster.clone();
    let (stop, stopped) = watch::channel(false);
    let app = http::app(state);
    let mut servers = vec![match &certificates {
        Some(certificates) => {
            let listener = TlsListener::new(listener, certificates.server_config()?, limits)?;
            serve(listener, app, stopped.clone())
        }
        None => serve(listener, app, stopped.clone()),
    }];
    let metrics_addr = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            let sources = metrics::Sources {
                rooms: rooms.clone(),
                udp: udp_stats.clone(),
                tcp: tcp_stats.clone(),
                counters: counters.clone(),
                cluster: cluster.clone(),
            };
            servers.push(serve(listener, metrics::app(sources), stopped));
            tracing::info!(%addr, "metrics listening");
            Some(addr)
        }
        None => None,
    };
    tracing::info!(%http_addr, ?scheme, %udp_addr, ?tcp_addr, %candidate, "relay listening");
    Ok(Relay {
        http_addr,
        udp_addr,
        tcp_addr,
        metrics_addr,
        rooms,
        udp_stats,
        tcp_stats,
        counters,
        cluster,
        certificates,
        stop,
        servers,
        media,
    })
}

/// Serves `app` on `listener` until `stopped` turns true, then lets open connections finish.
/// Handlers see each connection's remote address (`ConnectInfo`), for the per-address caps.
fn serve<L>(
    listener: L,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>>
where
    L: Listener<Addr = SocketAddr>,
    for<'a> http::RemoteAddr:
        axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<http::RemoteAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await
    })
}

impl Relay {
    /// Whether the relay serves HTTPS itself.
    pub fn serves_https(&self) -> bool {
        self.certificates.is_some()
    }

    /// Reads the certificate and key files again (on SIGHUP, after a renewal). New handshakes
    /// get the new certificate; open connections, and so calls, carry on untouched. If the
    /// files are unusable, the error is logged and returned, and the current certificate stays.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        let Some(certificates) = &self.certificates else {
            tracing::warn!("asked to reload TLS, but this relay serves plain HTTP");
            return Err(TlsError::NotServingTls);
        };
        match certificates.reload() {
            Ok(()) => {
                tracing::info!("TLS certificate reloaded");
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "TLS certificate reload failed; keeping the current one");
                Err(error)
            }
        }
    }

    /// Stops gracefully: every participant is told the relay is restarting (close code 4012,
    /// so browsers rejoin by themselves), then HTTP stops. Waits at most a few seconds.
    pub async fn shut_down(self) {
        // A node first gives its rooms up, so the browsers told to rejoin land elsewhere.
        if let Some(cluster) = &self.cluster {
            cluster.drain().await;
        }
        self.rooms.shut_down();
        let _ = self.stop.send(true);
        let servers = futures_util::future::join_all(self.servers);
        let _ = tokio::time::timeout(Duration::from_secs(5), servers).await;
        for task in self.media {
            task.abort();
        }
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        tracing::info!("relay stopped");
    }
}
