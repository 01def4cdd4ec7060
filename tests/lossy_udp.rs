//! The test's lossy UDP forwarder (`common/lossy_udp.rs`), on real loopback sockets: it holds
//! packets for the delay each way, drops exactly the packets its seeds pick (so a run repeats),
//! and gives each client an address of its own at the far end. No browser needed: these run in
//! a plain `cargo test`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::lossy_udp::{Impairment, LossPattern, LossyForwarder};
use tokio::net::UdpSocket;

const LOOPBACK: &str = "127.0.0.1:0";

/// A server that sends every datagram back to its sender, and reports who sent it.
async fn echo() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<SocketAddr>) {
    let socket = UdpSocket::bind(LOOPBACK).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let (seen, senders) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            let _ = seen.send(from);
            let _ = socket.send_to(&buf[..len], from).await;
        }
    });
    (addr, senders)
}

async fn forwarder(relay: SocketAddr, up: Impairment, down: Impairment) -> LossyForwarder {
    LossyForwarder::start(LOOPBACK.parse().unwrap(), relay, up, down)
        .await
        .unwrap()
}

fn impairment(delay_ms: u64, loss: f64, seed: u64) -> Impairment {
    Impairment {
        delay: Duration::from_millis(delay_ms),
        loss,
        seed,
    }
}

#[test]
fn a_loss_pattern_repeats_with_its_seed_and_drops_about_its_share() {
    let draws = |seed| {
        let mut pattern = LossPattern::new(&impairment(0, 0.02, seed));
        (0..100_000)
            .map(|_| pattern.drops_next())
            .collect::<Vec<_>>()
    };
    let first = draws(7);
    assert_eq!(first, draws(7), "the same seed drops the same packets");
    assert_ne!(first, draws(8), "another seed drops others");
    let share = first.iter().filter(|&&dropped| dropped).count() as f64 / first.len() as f64;
    assert!((0.018..0.022).contains(&share), "dropped {share}");
    let mut none = LossPattern::new(&Impairment::NONE);
    assert!((0..10_000).all(|_| !none.drops_next()));
}

#[tokio::test]
async fn each_packet_is_held_for_the_delay_each_way() {
    let (relay, _senders) = echo().await;
    let delay = Duration::from_millis(100);
    let path = forwarder(relay, impairment(100, 0.0, 1), impairment(100, 0.0, 2)).await;
    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    let mut buf = [0u8; 64];
    for n in 0u8..5 {
        let sent = Instant::now();
        client.send_to(&[n], path.addr).await.unwrap();
        let (len, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("the packet comes back")
            .unwrap();
        let round_trip = sent.elapsed();
        assert_eq!((&buf[..len], from), (&[n][..], path.addr));
        assert!(
            round_trip >= 2 * delay && round_trip < 2 * delay + Duration::from_millis(250),
            "packet {n}: round trip {round_trip:?}"
        );
    }
    assert_eq!(path.to_relay.forwarded(), 5);
    assert_eq!(path.from_relay.forwarded(), 5);
}

#[tokio::test]
async fn exactly_the_packets_the_seeds_pick_are_dropped() {
    let (relay, _senders) = echo().await;
    let (up, down) = (impairment(0, 0.3, 11), impairment(0, 0.3, 12));
    let path = forwarder(relay, up, down).await;
    // What must come back: each direction draws once per packet that reaches it, in order.
    let (mut up_pattern, mut down_pattern) = (LossPattern::new(&up), LossPattern::new(&down));
    let (mut up_drops, mut down_drops) = (0, 0);
    let mut expected = Vec::new();
    for n in 0u16..300 {
        if up_pattern.drops_next() {
            up_drops += 1;
        } else if down_pattern.drops_next() {
            down_drops += 1;
        } else {
            expected.push(n);
        }
    }
    assert!(up_drops > 0 && down_drops > 0 && !expected.is_empty());

    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    for n in 0u16..300 {
        client.send_to(&n.to_be_bytes(), path.addr).await.unwrap();
        // Paced, so that no socket buffer overflows and only the forwarder drops.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut received = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(Ok((2, _))) =
        tokio::time::timeout(Duration::from_secs(1), client.recv_from(&mut buf)).await
    {
        received.push(u16::from_be_bytes([buf[0], buf[1]]));
    }
    assert_eq!(received, expected);
    assert_eq!(path.to_relay.dropped(), up_drops);
    assert_eq!(path.from_relay.dropped(), down_drops);
}

#[tokio::test]
async fn each_client_reaches_the_far_end_from_an_address_of_its_own() {
    let (relay, mut senders) = echo().await;
    let path = forwarder(relay, Impairment::NONE, Impairment::NONE).await;
    let mut seen = HashSet::new();
    for _ in 0..2 {
        let client = UdpSocket::bind(LOOPBACK).await.unwrap();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            client.send_to(b"hi", path.addr).await.unwrap();
            let (len, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..len], from), (&b"hi"[..], path.addr));
            seen.insert(senders.recv().await.unwrap());
        }
    }
    assert_eq!(seen.len(), 2, "one address per client: {seen:?}");
    assert!(!seen.contains(&path.addr));
}
