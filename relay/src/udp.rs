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

/// Routes datagrams from `socket`, and answers `requests`, until the request channel closes; `candidate` is the address
/// advertised for the socket in ICE candidates.
pub async fn route(
    socket: Arc<UdpSocket>,
    candidate: SocketAddr,
    mut requests: mpsc::Receiver<RouteRequest>,
    stats: Arc<UdpStats>,
) {
    let mut by_ufrag: HashMap<String, mpsc::Sender<RoomInput>> = HashMap::new();
    let mut by_addr: HashMap<SocketAddr, String> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                Some(RouteRequest::Register { ufrag, room }) => { by_ufrag.insert(ufrag, room); }
                Some(RouteRequest::Unregister { ufrag }) => {
                    by_ufrag.remove(&ufrag);
                    by_addr.retain(|_, bound| *bound != ufrag);
                }
                Some(RouteRequest::Find { ufrag, reply }) => { let _ = reply.send(by_ufrag.get(&ufrag).cloned()); }
                None => return,
            },
            received = socket.recv_from(&mut buf) => {
                let (len, source) = match received {
                    Ok(received) => received,
                    // ICMP errors (port unreachable) surface here on some systems: not fatal.
                    Err(error) => { tracing::debug!(%error, "UDP receive error"); continue; }
                };
                let contents = &buf[..len];
                let ufrag = match stun_username_target(contents) {
                    Some(ufrag) if by_ufrag.contains_key(ufrag) => {
                        by_addr.insert(source, ufrag.to_owned());
                        Some(ufrag.to_owned())
                    }
                    _ => by_addr.get(&source).cloned(),
                };
                let Some(room) = ufrag.and_then(|ufrag| by_ufrag.get(&ufrag)) else {
                    stats.unrouted.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let datagram = Datagram { at: Instant::now(), proto: Protocol::Udp, source, destination: candidate, contents: contents.to_vec() };
                match room.try_send(RoomInput::Datagram(datagram)) {
                    Ok(()) => {
                        stats.routed.fetch_add(1, Ordering::Relaxed);
                        stats.routed_bytes.fetch_add(len as u64, Ordering::Relaxed);
                    }
                    Err(_) => { stats.congested.fetch_add(1, Ordering::Relaxed); }
                }
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
