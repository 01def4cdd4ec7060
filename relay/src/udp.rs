//! One UDP socket for every peer of every room, and the routing of each datagram to the room
//! task that owns its peer. The router also owns the table of relay ufrags, which ICE-TCP
//! connections ([`crate::tcp`]) consult once, on their first packet.
//!
//! A browser's first datagrams are STUN binding requests whose USERNAME is
//! `<relay ufrag>:<browser ufrag>`. Each peer gets a fresh relay ufrag when it joins; its room
//! registers the ufrag here. The first STUN request from an address binds that address to the
//! ufrag's room; DTLS and SRTP from the address then follow it. Datagrams nobody claims are
//! dropped and counted. The router owns its tables alone (one task); rooms and TCP connections
//! talk to it through a channel, so no lock is shared with the media path.
//!
//! Every datagram is handed on as addressed to the advertised candidate, not to the socket's
//! own address: the ICE agent only answers requests that arrive on one of its candidates, and
//! the socket usually listens on every address (`0.0.0.0`) or sits behind a 1:1 NAT
//! (`--public-ip`), where the two differ.
//!
//! Each wakeup reads every datagram already waiting, up to [`BATCH`], then the router looks at
//! its requests again. With one read per wakeup the router fell behind at eight rooms of four in
//! the load benchmark and the kernel dropped 28–57 % of the frames; the socket's larger buffer
//! ([`crate::sockbuf`]) absorbs the stalls, and batches empty it. A batch is bounded so that a
//! room's registration never waits behind a flood (256 routings are well under a millisecond);
//! it lands in the rooms' queues at once, where datagrams beyond a full queue are dropped and
//! counted (`congested`), while signaling waits for room in the same queue and is never dropped.
//! `try_recv_from` follows a completed `recv_from`, so readiness is set, and the `WouldBlock`
//! that ends a batch clears it for the next wait.
//!
//! This module does not authenticate anything: the peer's `Rtc` checks STUN message integrity
//! and DTLS, and a datagram routed to the wrong room would simply be refused there.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::counters::UdpStats;
use crate::input::{Datagram, RoomInput, RouteRequest};

/// Most datagrams read after one wakeup before the router looks at its requests again.
pub const BATCH: usize = 256;

/// Routes datagrams from `socket`, and answers `requests`, until the request channel closes; `candidate` is the address
/// advertised for the socket in ICE candidates.
pub async fn route(
    socket: Arc<UdpSocket>,
    candidate: SocketAddr,
    mut requests: mpsc::Receiver<RouteRequest>,
    stats: Arc<UdpStats>,
) {
    let mut table = Table::new(candidate, stats);
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(request) => table.request(request),
                None => return,
            },
            _ = read_batch(&socket, &mut table, &mut buf) => {}
        }
    }
}

/// Waits for a datagram, then routes it and up to [`BATCH`] in all of those already waiting,
/// without a wakeup each. Returns how many were read.
async fn read_batch(socket: &UdpSocket, table: &mut Table, buf: &mut [u8]) -> usize {
    match socket.recv_from(buf).await {
        Ok((len, source)) => table.route(&buf[..len], source),
        // ICMP errors (port unreachable) surface here on some systems: not fatal.
        Err(error) => {
            tracing::debug!(%error, "UDP receive error");
            return 0;
        }
    }
    let mut read = 1;
    while read < BATCH {
        match socket.try_recv_from(buf) {
            Ok((len, source)) => table.route(&buf[..len], source),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(error) => tracing::debug!(%error, "UDP receive error"),
        }
        read += 1;
    }
    read
}

/// The routing table: which room owns each relay ufrag, and which ufrag each address is bound to.
struct Table {
    by_ufrag: HashMap<String, mpsc::Sender<RoomInput>>,
    by_addr: HashMap<SocketAddr, String>,
    candidate: SocketAddr,
    stats: Arc<UdpStats>,
}

impl Table {
    fn new(candidate: SocketAddr, stats: Arc<UdpStats>) -> Self {
        Table {
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            candidate,
            stats,
        }
    }

    fn request(&mut self, request: RouteRequest) {
        match request {
            RouteRequest::Register { ufrag, room } => {
                self.by_ufrag.insert(ufrag, room);
            }
            RouteRequest::Unregister { ufrag } => {
                self.by_ufrag.remove(&ufrag);
                self.by_addr.retain(|_, bound| *bound != ufrag);
            }
            RouteRequest::Find { ufrag, reply } => {
                let _ = reply.send(self.by_ufrag.get(&ufrag).cloned());
            }
        }
    }

    /// Hands one datagram from `source` to the room of the peer it is for, or counts it dropped.
    fn route(&mut self, contents: &[u8], source: SocketAddr) {
        let stats = &self.stats;
        let ufrag = match stun_username_target(contents) {
            Some(ufrag) if self.by_ufrag.contains_key(ufrag) => {
                self.by_addr.insert(source, ufrag.to_owned());
                Some(ufrag.to_owned())
            }
            _ => self.by_addr.get(&source).cloned(),
        };
        let Some(room) = ufrag.and_then(|ufrag| self.by_ufrag.get(&ufrag)) else {
            stats.unrouted.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let datagram = Datagram {
            at: Instant::now(),
            proto: Protocol::Udp,
            source,
            destination: self.candidate,
            contents: contents.to_vec(),
        };
        match room.try_send(RoomInput::Datagram(datagram)) {
            Ok(()) => {
                stats.routed.fetch_add(1, Ordering::Relaxed);
                stats
                    .routed_bytes
                    .fetch_add(contents.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                stats.congested.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const STUN_USERNAME: u16 = 0x0006;

/// The recipient's ufrag from a STUN message's USERNAME (`recipient:sender`), if `packet` is a
/// STUN message with one. Untrusted input: bounds-checked, never panics.
pub fn stun_username_target(packet: &[u8]) -> Option<&str> {
    // RFC 8489 §5: two zero bits, then type, length, magic cookie, 96-bit transaction id.
    if packet.len() < 20 || packet[0] & 0xc0 != 0 || packet[4..8] != STUN_MAGIC_COOKIE {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let mut attributes = packet.get(20..20 + declared)?;
    while attributes.len() >= 4 {
        let kind = u16::from_be_bytes([attributes[0], attributes[1]]);
        let len = usize::from(u16::from_be_bytes([attributes[2], attributes[3]]));
        let value = attributes.get(4..4 + len)?;
        if kind == STUN_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        // Attributes are padded to four bytes.
        let padded = 4 + len.div_ceil(4) * 4;
        attributes = attributes.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockbuf;

    /// A router's table with one room (a channel of `capacity`) owning `ufrag`, the relay's
    /// socket, and a browser's socket that has sent the room's first STUN request.
    async fn one_room(
        ufrag: &str,
        capacity: usize,
    ) -> (
        Table,
        UdpSocket,
        std::net::UdpSocket,
        mpsc::Receiver<RoomInput>,
    ) {
        let (relay, _) = sockbuf::bind("127.0.0.1:0".parse().unwrap(), 4 << 20).unwrap();
        let relay = UdpSocket::from_std(relay).unwrap();
        let candidate = relay.local_addr().unwrap();
        let mut table = Table::new(candidate, Arc::new(UdpStats::default()));
        let (room, inputs) = mpsc::channel(capacity);
        table.request(RouteRequest::Register {
            ufrag: ufrag.into(),
            room,
        });
        let browser = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        browser.connect(candidate).unwrap();
        let username = format!("{ufrag}:browser");
        browser
            .send(&stun(&[(STUN_USERNAME, username.as_bytes())]))
            .unwrap();
        (table, relay, browser, inputs)
    }

    fn received(inputs: &mut mpsc::Receiver<RoomInput>) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        while let Ok(input) = inputs.try_recv() {
            match input {
                RoomInput::Datagram(datagram) => all.push(datagram.contents),
                other => panic!("not a datagram: {other:?}"),
            }
        }
        all
    }

    #[tokio::test]
    async fn a_burst_is_read_in_batches_and_all_routed_in_order() {
        let (mut table, relay, browser, mut inputs) = one_room("burst", 4096).await;
        let burst = BATCH + BATCH / 2;
        for n in 0..burst as u32 {
            browser.send(&n.to_be_bytes()).unwrap();
        }
        let mut buf = vec![0u8; 2048];
        // One wakeup reads the STUN request and what waits behind it, up to a batch.
        assert_eq!(read_batch(&relay, &mut table, &mut buf).await, BATCH);
        assert_eq!(
            read_batch(&relay, &mut table, &mut buf).await,
            burst + 1 - BATCH
        );
        let all = received(&mut inputs);
        assert_eq!(all.len(), burst + 1);
        assert_eq!(stun_username_target(&all[0]), Some("burst"));
        for (n, contents) in all[1..].iter().enumerate() {
            assert_eq!(contents, &(n as u32).to_be_bytes());
        }
        assert_eq!(table.stats.routed.load(Ordering::Relaxed), burst as u64 + 1);
        assert_eq!(table.stats.congested.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_full_room_queue_drops_and_counts_the_rest() {
        let (mut table, relay, browser, mut inputs) = one_room("full", 8).await;
        for n in 0..20u32 {
            browser.send(&n.to_be_bytes()).unwrap();
        }
        let mut buf = vec![0u8; 2048];
        assert_eq!(read_batch(&relay, &mut table, &mut buf).await, 21);
        assert_eq!(received(&mut inputs).len(), 8);
        assert_eq!(table.stats.routed.load(Ordering::Relaxed), 8);
        assert_eq!(table.stats.congested.load(Ordering::Relaxed), 13);
    }

    fn stun(attributes: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attributes {
            body.extend(kind.to_be_bytes());
            body.extend((value.len() as u16).to_be_bytes());
            body.extend(*value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut packet = vec![0x00, 0x01];
        packet.extend((body.len() as u16).to_be_bytes());
        packet.extend(STUN_MAGIC_COOKIE);
        packet.extend([7u8; 12]);
        packet.extend(body);
        packet
    }

    #[test]
    fn finds_the_recipient_ufrag() {
        let packet = stun(&[
            (0x0024, &[0, 0, 0, 1]),
            (STUN_USERNAME, b"relayufrag:browser"),
        ]);
        assert_eq!(stun_username_target(&packet), Some("relayufrag"));
    }

    #[test]
    fn ignores_what_is_not_stun_with_a_username() {
        assert_eq!(
            stun_username_target(&stun(&[(0x0024, &[0, 0, 0, 1])])),
            None
        );
        assert_eq!(stun_username_target(&[0x16, 0xfe, 0xfd]), None);
        let mut dtls = stun(&[(STUN_USERNAME, b"a:b")]);
        dtls[0] = 0x80;
        assert_eq!(stun_username_target(&dtls), None);
        let mut lying = stun(&[(STUN_USERNAME, b"a:b")]);
        lying[3] = 200;
        assert_eq!(stun_username_target(&lying), None);
        for cut in 0..lying.len() {
            let _ = stun_username_target(&lying[..cut]);
        }
    }
}
