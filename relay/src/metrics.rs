//! Counts for operators: `/metrics`, in Prometheus' text format, on a listener of its own
//! (`--metrics-listen`), rendered from the counts the relay keeps ([`crate::counters`]).
//!
//! Counts only, by design: never a room id, a participant id, a name or an address, so that
//! scraping the relay tells an operator how busy it is and nothing about who meets whom. The
//! endpoint is off unless asked for and never served on the public listener: an operator binds
//! it to loopback or a private network for their scraper.
//!
//! Counters are relaxed atomics bumped where the work happens (one add per datagram or frame),
//! so keeping them costs the media path next to nothing whether or not anyone scrapes.
//! Bitrate is for the scraper to derive: `rate(veilig_udp_sent_bytes_total[1m]) * 8`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::cluster::Cluster;
use crate::counters::{Counters, Gauge, TcpStats, UdpStats};
use crate::limits::{Cap, Refusal};
use crate::rooms::Rooms;

/// What `/metrics` reads.
#[derive(Clone)]
pub struct Sources {
    /// The room directory.
    pub rooms: Rooms,
    /// The UDP router's counts.
    pub udp: Arc<UdpStats>,
    /// ICE-TCP's counts.
    pub tcp: Arc<TcpStats>,
    /// Everything else.
    pub counters: Arc<Counters>,
    /// The cluster, if this relay is a node: per-node counts.
    pub cluster: Option<Cluster>,
}

/// The metrics listener's routes: `/metrics` and nothing else.
pub fn app(sources: Sources) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(sources)
}

async fn metrics(State(sources): State<Sources>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render(&sources),
    )
}

/// The text exposition format: `# HELP`, `# TYPE`, then samples.
pub fn render(sources: &Sources) -> String {
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let (udp, tcp, c) = (&*sources.udp, &*sources.tcp, &*sources.counters);
    let rooms = sources.rooms.count() as u64;
    // One row per metric, as the scraper will see them: name, type, value, help.
    #[rustfmt::skip]
    let samples = [
        ("veilig_rooms", "gauge", rooms, "Rooms open now."),
        ("veilig_participants", "gauge", c.get(Gauge::Participants), "Participants in rooms now."),
        ("veilig_signaling_connections", "gauge", c.get(Gauge::SignalingConnections), "Signaling WebSockets open now."),
        ("veilig_signaling_connections_total", "counter", load(&c.signaling_total), "Signaling WebSockets opened."),
        ("veilig_udp_received_datagrams_total", "counter", load(&udp.routed), "Datagrams received and routed to a room."),
        ("veilig_udp_received_bytes_total", "counter", load(&udp.routed_bytes), "Their bytes."),
        ("veilig_udp_unroutable_datagrams_total", "counter", load(&udp.unrouted), "Datagrams dropped: no participant claims their sender."),
        ("veilig_udp_congested_datagrams_total", "counter", load(&udp.congested), "Datagrams dropped: their room's queue was full."),
        ("veilig_udp_receive_buffer_bytes", "gauge", udp.receive_buffer, "The media socket's receive buffer, as the kernel granted it (--udp-buffer)."),
        ("veilig_udp_send_buffer_bytes", "gauge", udp.send_buffer, "The media socket's send buffer, as the kernel granted it (--udp-buffer)."),
        ("veilig_udp_sent_datagrams_total", "counter", load(&c.sent_datagrams), "Datagrams sent (media, RTCP, STUN, DTLS)."),
        ("veilig_udp_sent_bytes_total", "counter", load(&c.sent_bytes), "Their bytes."),
        ("veilig_udp_unsent_datagrams_total", "counter", load(&c.unsent_datagrams), "Datagrams dropped: the socket's send buffer was full."),
        ("veilig_tcp_connections", "gauge", c.get(Gauge::TcpConnections), "ICE-TCP media connections open now."),
        ("veilig_tcp_connections_total", "counter", load(&tcp.accepted), "ICE-TCP media connections accepted."),
        ("veilig_tcp_refused_connections_total", "counter", load(&tcp.refused), "ICE-TCP connections closed before naming a participant (or over the limit)."),
        ("veilig_tcp_received_packets_total", "counter", load(&tcp.received), "Packets received over ICE-TCP and routed to a room."),
        ("veilig_tcp_received_bytes_total", "counter", load(&tcp.received_bytes), "Their bytes."),
        ("veilig_tcp_sent_packets_total", "counter", load(&tcp.sent), "Packets sent over ICE-TCP."),
        ("veilig_tcp_sent_bytes_total", "counter", load(&tcp.sent_bytes), "Their bytes."),
        ("veilig_tcp_unsent_packets_total", "counter", load(&tcp.unsent), "Packets dropped: the connection's queue was full."),
        ("veilig_forwarded_frames_total", "counter", load(&c.forwarded_frames), "Encrypted media frames forwarded to a receiver."),
        ("veilig_forwarded_bytes_total", "counter", load(&c.forwarded_bytes), "Payload bytes of the forwarded frames."),
    ];
    let mut out = String::new();
    for (name, kind, value, help) in samples {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out.push_str(
        "# HELP veilig_address_limited_total Connections refused by a per-address cap, by cap.\n\
         # TYPE veilig_address_limited_total counter\n",
    );
    for (limit, refusal) in [
        ("websockets", Refusal::Cap(Cap::WebSockets)),
        ("joins", Refusal::Joins),
        ("ice_tcp_waiting", Refusal::Cap(Cap::IceTcpWaiting)),
        ("tls_handshakes", Refusal::Cap(Cap::TlsHandshakes)),
    ] {
        let _ = writeln!(
            out,
            "veilig_address_limited_total{{limit=\"{limit}\"}} {}",
            load(c.address_limited(refusal))
        );
    }
    out.push_str(
        "# HELP veilig_signaling_closed_total Signaling connections the relay closed, by reason.\n\
         # TYPE veilig_signaling_closed_total counter\n",
    );
    if let Some(cluster) = &sources.cluster {
        render_nodes(cluster, &mut out);
    }
    let closed = c
        .closed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (reason, count) in closed.iter() {
        let _ = writeln!(
            out,
            "veilig_signaling_closed_total{{reason=\"{reason}\"}} {count}"
        );
    }
    out
}
/// Per node of the cluster, from the heartbeats this node hears (alive nodes only): rooms and
/// participants, labelled by node id (random per process, so a restarted node is a new series).
fn render_nodes(cluster: &Cluster, out: &mut String) {
    let nodes = cluster.node_counts();
    let _ = writeln!(
        out,
        "# HELP veilig_cluster_nodes Nodes alive in the cluster, as this node hears them.\n\
         # TYPE veilig_cluster_nodes gauge\nveilig_cluster_nodes {}",
        nodes.len()
    );
    out.push_str(
        "# HELP veilig_node_rooms Rooms open on each node of the cluster.\n\
         # TYPE veilig_node_rooms gauge\n",
    );
    for (node, rooms, _) in &nodes {
        let _ = writeln!(out, "veilig_node_rooms{{node=\"{node}\"}} {rooms}");
    }
    out.push_str(
        "# HELP veilig_node_participants Participants on each node of the cluster.\n\
         # TYPE veilig_node_participants gauge\n",
    );
    for (node, _, participants) in &nodes {
        let _ = writeln!(
            out,
            "veilig_node_participants{{node=\"{node}\"}} {participants}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP veilig_node_info This node's id in the cluster.\n\
         # TYPE veilig_node_info gauge\nveilig_node_info{{node=\"{}\"}} 1",
        cluster.node()
    );
}
