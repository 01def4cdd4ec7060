//! The cluster soak (`cargo xtask soak-cluster [SECONDS]`, not part of the tests: `bench_` is
//! skipped there): three `veilig-relay` processes on a real `nats-server`, and native
//! participants joining and leaving small rooms at random through random nodes for
//! `VEILIG_SOAK_SECS` (default 600), each sending audio and small video frames.
//!
//! Sized for a 2-core machine that also runs the participants: [`ROOMS`] rooms of at most
//! [`PER_ROOM`] (about 25 participants at a time). Each participant is a str0m peer in this
//! process, which costs about what a relay does per participant, so the machine carries both
//! halves of every call; more rooms starve the clients first, which would measure the test.
//!
//! Prints each node's memory and open file descriptors at the start and the end (flat is the
//! goal), rooms placed and joins lost, frames forwarded and dropped.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::nats::NatsServer;
use common::node::NodeProcess;
use common::{opus_frame, vp8_frame, FrameSender, Participant};
use veilig_protocol::Source;

/// Rooms in play.
const ROOMS: usize = 10;
/// Most participants per room.
const PER_ROOM: usize = 3;

/// A tiny random source (no crate needed): xorshift.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One counter summed over every node's `/metrics`.
async fn total(nodes: &[NodeProcess], metric: &str) -> u64 {
    let mut sum = 0;
    for node in nodes {
        let body = common::get(node.metrics, "/metrics").await.body;
        sum += body
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{metric} ")))
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0);
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak, not a check: cargo xtask soak-cluster"]
async fn bench_soak_cluster() {
    let seconds: u64 = std::env::var("VEILIG_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let nats = NatsServer::start();
    let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&nats.url())).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let start: Vec<(u64, usize)> = nodes.iter().map(NodeProcess::footprint).collect();
    let senders: Arc<Mutex<Vec<FrameSender>>> = Arc::default();
    let sending = {
        let senders = senders.clone();
        tokio::spawn(async move {
            for n in 0u64.. {
                for sender in senders.lock().unwrap().iter() {
                    sender.send_frame(Source::Microphone, opus_frame(n));
                    if n % 2 == 0 {
                        sender.send_frame(Source::Camera, vp8_frame(n % 60 == 0, n, 800));
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut rooms: Vec<Vec<Participant>> = (0..ROOMS).map(|_| Vec::new()).collect();
    let mut dice = Dice(0x5eed_cafe);
    let (mut placed, mut lost, mut joins, mut leaves) = (0u64, 0u64, 0u64, 0u64);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let room = dice.below(ROOMS);
        if rooms[room].len() < PER_ROOM && dice.below(3) > 0 {
            let url = nodes[dice.below(nodes.len())].ws_url();
            let name = format!("soak-{room}");
            let joining = tokio::spawn(async move { Participant::join_url(&url, &name).await });
            match tokio::time::timeout(Duration::from_secs(20), joining).await {
                Ok(Ok(participant)) => {
                    if rooms[room].is_empty() {
                        placed += 1;
                    }
                    senders.lock().unwrap().push(participant.frame_sender());
                    rooms[room].push(participant);
                    joins += 1;
                }
                _ => lost += 1,
            }
        } else if !rooms[room].is_empty() {
            let which = dice.below(rooms[room].len());
            let leaving = rooms[room].remove(which);
            leaving.close();
            leaves += 1;
            // Senders of those who left fail quietly; drop them all now and then.
            if leaves % 10 == 0 {
                let mut list = senders.lock().unwrap();
                list.clear();
                list.extend(rooms.iter().flatten().map(Participant::frame_sender));
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let forwarded = total(&nodes, "veilig_forwarded_frames_total").await;
    let dropped = total(&nodes, "veilig_udp_unsent_datagrams_total").await
        + total(&nodes, "veilig_udp_congested_datagrams_total").await;
    sending.abort();
    for participant in rooms.iter().flatten() {
        participant.close();
    }
    drop(rooms);
    // Rooms close once their last participant has gone.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let open = total(&nodes, "veilig_rooms").await;
    let finish: Vec<(u64, usize)> = nodes.iter().map(NodeProcess::footprint).collect();
    println!("soak: {seconds} s, {ROOMS} rooms of up to {PER_ROOM}, three nodes");
    println!("  joins {joins}, leaves {leaves}, rooms placed {placed}, joins lost {lost}, rooms open at the end {open}");
    println!("  frames forwarded {forwarded}, datagrams dropped {dropped}");
    for (n, (before, after)) in start.iter().zip(&finish).enumerate() {
        println!(
            "  node {n}: memory {} -> {} kB, open fds {} -> {}",
            before.0, after.0, before.1, after.1
        );
    }
    assert_eq!(lost, 0, "joins lost");
    assert_eq!(open, 0, "rooms left open");
}
