//! ICE over TCP with real sockets: a participant that has no UDP at all (a str0m peer with only
//! a TCP candidate, as a browser behind a UDP-blocking firewall) joins through signaling, finds
//! the relay's passive TCP candidate in its offer, and exchanges frames byte for byte with a UDP
//! participant and with another TCP one. Connections that name no participant are closed, and
//! a connection ends with its participant.

mod common;

use std::time::Duration;

use common::{exchange, passive_tcp_candidate, settle, warm_up, Participant, Seen, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use veilig_protocol::ServerMessage;
use veilig_relay::config::TcpListen;
use veilig_relay::counters::Gauge;
use veilig_relay::tcp::frame;
use veilig_relay::Relay;

/// Loads on the relay's counters, read once.
fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// Joins one participant per transport into `room`, gets media flowing and exchanges frames.
/// Returns the participants: they stay in the room (and their connections open) until dropped.
async fn meet(relay: &Relay, room: &str, transports: [Transport; 2]) -> Vec<Participant> {
    let mut people = Vec::new();
    for transport in transports {
        people.push(Participant::join_over(relay, room, transport).await);
    }
    settle(&mut people).await;
    warm_up(&mut people).await;
    exchange(&mut people, 30).await;
    people
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_only_participant_exchanges_frames_with_a_udp_one() {
    let relay = common::relay(|_| {}).await;
    let _people = meet(&relay, "mixed", [Transport::Udp, Transport::Tcp]).await;
    let tcp = &relay.tcp_stats;
    assert!(load(&tcp.received) > 0 && load(&tcp.sent) > 0);
    assert!(load(&relay.udp_stats.routed) > 0);
    assert_eq!(load(&tcp.refused), 0);
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tcp_only_participants_exchange_frames_without_any_udp() {
    let relay = common::relay(|_| {}).await;
    let people = meet(&relay, "no-udp", [Transport::Tcp, Transport::Tcp]).await;
    assert_eq!(load(&relay.udp_stats.routed), 0);
    assert_eq!(load(&relay.udp_stats.unrouted), 0);
    assert_eq!(load(&relay.counters.sent_datagrams), 0);
    assert_eq!(relay.counters.get(Gauge::TcpConnections), 2);
    assert!(load(&relay.tcp_stats.sent_bytes) > load(&relay.counters.forwarded_bytes));
    drop(people);
    relay.shut_down().await;
}

/// The SDP of a participant's first offer.
async fn first_offer(participant: &mut Participant) -> String {
    let offer = participant
        .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Offer { .. })))
        .await;
    let Seen::Signal(ServerMessage::Offer { sdp, .. }) = offer else {
        unreachable!()
    };
    sdp.clone()
}

#[tokio::test]
async fn the_relay_offers_a_passive_tcp_candidate_unless_tcp_is_off() {
    let relay = common::relay(|_| {}).await;
    let tcp_addr = relay.tcp_addr.expect("ICE-TCP is on by default");
    let mut participant = Participant::join(&relay, "candidates").await;
    let sdp = first_offer(&mut participant).await;
    assert_eq!(passive_tcp_candidate(&sdp), Some(tcp_addr));
    let udp = format!("127.0.0.1 {} typ host", relay.udp_addr.port());
    let has_udp = sdp.lines().any(|line| {
        line.starts_with("a=candidate:") && line.contains(" udp ") && line.contains(&udp)
    });
    assert!(has_udp, "the UDP candidate stays: {sdp}");
    relay.shut_down().await;

    let relay = common::relay(|config| config.tcp = Some(TcpListen::Off)).await;
    assert_eq!(relay.tcp_addr, None);
    let mut participant = Participant::join(&relay, "candidates").await;
    let sdp = first_offer(&mut participant).await;
    assert_eq!(passive_tcp_candidate(&sdp), None);
    assert!(!sdp.to_ascii_lowercase().contains(" tcp "), "{sdp}");
    relay.shut_down().await;
}

/// A STUN binding request whose USERNAME is `username`, without integrity: enough for the
/// relay to route it, never enough for a session to answer it.
fn stun_request(username: &str) -> Vec<u8> {
    let mut attribute = 0x0006u16.to_be_bytes().to_vec();
    attribute.extend((username.len() as u16).to_be_bytes());
    attribute.extend(username.as_bytes());
    attribute.resize(attribute.len().div_ceil(4) * 4, 0);
    let mut packet = vec![0x00, 0x01];
    packet.extend((attribute.len() as u16).to_be_bytes());
    packet.extend([0x21, 0x12, 0xa4, 0x42]);
    packet.extend([7u8; 12]);
    packet.extend(attribute);
    packet
}

/// Whether the relay closes `stream` (within [`common::PATIENCE`]), reading whatever it sends.
async fn closed_by_relay(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn connections_that_name_no_participant_are_closed() {
    let relay = common::relay(|_| {}).await;
    let tcp_addr = relay.tcp_addr.unwrap();
    let mut not_stun = Vec::new();
    frame(b"GET / HTTP/1.1\r\n\r\n", &mut not_stun);
    let mut unknown = Vec::new();
    frame(&stun_request("nosuchufrag:browser"), &mut unknown);
    let oversized = u16::MAX.to_be_bytes().to_vec();
    for first in [not_stun, unknown, oversized] {
        let mut stream = TcpStream::connect(tcp_addr).await.unwrap();
        stream.write_all(&first).await.unwrap();
        assert!(closed_by_relay(&mut stream, common::PATIENCE).await);
    }
    assert_eq!(load(&relay.tcp_stats.refused), 3);
    assert_eq!(load(&relay.tcp_stats.received), 0);
    relay.shut_down().await;
}

#[tokio::test]
async fn a_tcp_connection_ends_when_its_participant_leaves() {
    let relay = common::relay(|_| {}).await;
    let mut participant = Participant::join(&relay, "leaving").await;
    let sdp = first_offer(&mut participant).await;
    let ufrag = sdp
        .lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .expect("the offer has a ufrag")
        .to_owned();
    let mut stream = TcpStream::connect(relay.tcp_addr.unwrap()).await.unwrap();
    let mut claim = Vec::new();
    frame(&stun_request(&format!("{ufrag}:browser")), &mut claim);
    stream.write_all(&claim).await.unwrap();
    // Claimed: kept open (the session ignores a request without integrity) and counted.
    assert!(!closed_by_relay(&mut stream, Duration::from_millis(500)).await);
    assert_eq!(relay.counters.get(Gauge::TcpConnections), 1);
    assert_eq!(load(&relay.tcp_stats.received), 1);

    participant.close();
    assert!(closed_by_relay(&mut stream, common::PATIENCE).await);
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while relay.counters.get(Gauge::TcpConnections) > 0 {
        assert!(tokio::time::Instant::now() < deadline, "still counted open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.shut_down().await;
}
