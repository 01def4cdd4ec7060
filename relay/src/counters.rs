//! The counts the relay keeps as it works: gauges held while something lasts ([`Held`]), and
//! counters bumped where the work happens (one relaxed atomic add per datagram or frame, so
//! keeping them costs the media path next to nothing whether or not anyone scrapes).
//!
//! Counts only, by design: never a room id, a participant id, a name or an address. This module
//! does not serve them: [`crate::metrics`] renders them for `/metrics`. It depends on nothing
//! else in the relay but [`crate::sockbuf`]'s sizes (which depend on nothing), so every part
//! that counts can use it without a circle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use veilig_protocol::ErrorCode;

use crate::sockbuf::Buffers;

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
    pub(crate) closed: Mutex<BTreeMap<String, u64>>,
    /// Refused by a per-address cap, by cap: read and bumped through
    /// `Counters::address_limited`, which [`crate::limits`] defines (it owns the caps).
    pub(crate) limited_websockets: AtomicU64,
    pub(crate) limited_joins: AtomicU64,
    pub(crate) limited_ice_tcp: AtomicU64,
    pub(crate) limited_tls: AtomicU64,
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

/// The UDP router's counts ([`crate::udp`]).
#[derive(Debug, Default)]
pub struct UdpStats {
    /// Datagrams routed to a room.
    pub routed: AtomicU64,
    /// Their bytes.
    pub routed_bytes: AtomicU64,
    /// Datagrams nobody claimed.
    pub unrouted: AtomicU64,
    /// Datagrams dropped because a room's queue was full.
    pub congested: AtomicU64,
    /// The media socket's receive and send buffers, in bytes, as the kernel granted them.
    pub receive_buffer: u64,
    pub send_buffer: u64,
}

impl UdpStats {
    /// No counts yet, for a socket with these buffers.
    pub fn with_buffers(buffers: Buffers) -> Self {
        UdpStats {
            receive_buffer: buffers.receive as u64,
            send_buffer: buffers.send as u64,
            ..UdpStats::default()
        }
    }
}

/// ICE-TCP's counts ([`crate::tcp`]). Open connections are a [`Gauge`].
#[derive(Debug, Default)]
pub struct TcpStats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed before they named a participant (or over [`MAX_UNCLAIMED`]).
    pub refused: AtomicU64,
    /// Packets read and handed to a room.
    pub received: AtomicU64,
    /// Their bytes.
    pub received_bytes: AtomicU64,
    /// Packets written.
    pub sent: AtomicU64,
    /// Their bytes (without framing).
    pub sent_bytes: AtomicU64,
    /// Packets dropped: the connection's queue was full.
    pub unsent: AtomicU64,
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
