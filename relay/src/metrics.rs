//! Counts for operators: the counters the relay keeps as it works, and `/metrics` in
//! Prometheus' text format on a listener of its own (`--metrics-listen`).
//!
//! Counts only, by design: never a room id, a participant id, a name or an address, so that
//! scraping the relay tells an operator how busy it is and nothing about who meets whom. The
//! endpoint is off unless asked for and never served on the public listener: an operator binds
//! it to loopback or a private network for their scraper.
//!
//! Counters are relaxed atomics bumped where the work happens (one add per datagram or frame),
//! so keeping them costs the media path next to nothing whether or not anyone scrapes.
//! Bitrate is for the scraper to derive: `rate(veilig_udp_sent_bytes_total[1m]) * 8`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use veilig_protocol::ErrorCode;

use crate::limits::{Cap, Refusal};
use crate::rooms::Rooms;
use crate::tcp::TcpStats;
use crate::udp::UdpStats;

/// What the relay counts beyond the UDP router ([`UdpStats`]) and the room directory.
#[derive(Debug, Default)]
pub struct Counters {
    /// Participants in rooms now.
    participants: AtomicU64,
    /// Media frames written to a receiver's forwarded line.
    pub forwarded_frames: AtomicU64,
    /// Their payload bytes.
    pub forwarded_bytes: AtomicU64,
    /// Datagrams the rooms sent (media, RTCP, STUN, DTLS).
    pub sent_datagrams: AtomicU64,
    /// Their bytes.
    pub sent_bytes: AtomicU64,
    /// Datagrams the rooms could not send (socket buffer full).
    pub unsent_datagrams: AtomicU64,
    /// Signaling connections open now.
    signaling_open: AtomicU64,
    /// ICE-TCP media connections open now.
    tcp_open: AtomicU64,
    /// Signaling connections ever opened.
    pub signaling_total: AtomicU64,
    /// Signaling connections the relay closed, by reason (rare: a lock is fine).
    closed: Mutex<BTreeMap<String, u64>>,
    /// Refused by a per-address cap ([`crate::limits`]), by cap.
    limited_websockets: AtomicU64,
    limited_joins: AtomicU64,
    limited_ice_tcp: AtomicU64,
    limited_tls: AtomicU64,
}

/// The counts that go up while something lasts and down when it ends.
#[derive(Clone, Copy, Debug)]
pub enum Gauge {
    /// A participant in a room.
    Participants,
    /// An open signaling connection.
    SignalingConnections,
    /// An open ICE-TCP media connection.
    TcpConnections,
}

/// One unit of a [`Gauge`], given back when dropped, so no exit path can forget it.
#[derive(Debug)]
pub struct Held {
    counters: Arc<Counters>,
    gauge: Gauge,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.counters
            .gauge(self.gauge)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

impl Counters {
    /// Counts one more of `gauge` until the returned value is dropped.
    pub fn hold(self: &Arc<Self>, gauge: Gauge) -> Held {
        self.gauge(gauge).fetch_add(1, Ordering::Relaxed);
        Held {
            counters: self.clone(),
            gauge,
        }
    }

    /// The current value of `gauge`.
    pub fn get(&self, gauge: Gauge) -> u64 {
        self.gauge(gauge).load(Ordering::Relaxed)
    }

    fn gauge(&self, gauge: Gauge) -> &AtomicU64 {
        match gauge {
            Gauge::Participants => &self.participants,
            Gauge::SignalingConnections => &self.signaling_open,
            Gauge::TcpConnections => &self.tcp_open,
        }
    }

    /// The count of refusals for `refusal`.
    pub fn address_limited(&self, refusal: Refusal) -> &AtomicU64 {
        match refusal {
            Refusal::Cap(Cap::WebSockets) => &self.limited_websockets,
            Refusal::Joins => &self.limited_joins,
            Refusal::Cap(Cap::IceTcpWaiting) => &self.limited_ice_tcp,
            Refusal::Cap(Cap::TlsHandshakes) => &self.limited_tls,
        }
    }

    /// Counts a signaling connection the relay closed with `code`.
    pub fn closed(&self, code: ErrorCode) {
        let reason = match serde_json::to_value(code) {
            Ok(serde_json::Value::String(reason)) => reason,
            _ => format!("{}", code.close_code()),
        };
        *self
            .closed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(reason)
            .or_default() += 1;
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_gauge_is_given_back_when_dropped() {
        let counters = Arc::new(Counters::default());
        let first = counters.hold(Gauge::Participants);
        let second = counters.hold(Gauge::Participants);
        assert_eq!(counters.get(Gauge::Participants), 2);
        drop(first);
        assert_eq!(counters.get(Gauge::Participants), 1);
        drop(second);
        assert_eq!(counters.get(Gauge::Participants), 0);
        assert_eq!(counters.get(Gauge::SignalingConnections), 0);
    }

    #[test]
    fn closes_are_counted_by_the_protocol_name_of_their_reason() {
        let counters = Counters::default();
        counters.closed(ErrorCode::RateLimited);
        counters.closed(ErrorCode::RateLimited);
        counters.closed(ErrorCode::BadMessage);
        let closed = counters.closed.lock().unwrap();
        assert_eq!(closed.get("rate_limited"), Some(&2));
        assert_eq!(closed.get("bad_message"), Some(&1));
    }
}
