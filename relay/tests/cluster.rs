//! Many relays as one service (`--nats`): a real `nats-server` started here, three relay nodes
//! on loopback, native participants (real WebRTC peers) joining through whichever node.
//!
//! - Two participants on different nodes meet in one room and receive each other's frames
//!   byte for byte; the room runs on one node only and the offer's ICE candidate names that
//!   node's media address; a blob goes across nodes as sent; a join with another access value,
//!   through the third node, is refused as on a single relay.
//! - 60 rooms opened in bursts, three quarters through one node and the rest through another,
//!   spread over the three nodes: every node holds
//!   20 ± [`SPREAD`] (see there why), and `/metrics` counts them per node.

mod common;

use std::time::{Duration, Instant};

use common::nats::NatsServer;
use common::{Participant, Seen};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use veilig_protocol::{ClientMessage, RoomAccess, RoomId, ServerMessage};
use veilig_relay::Relay;

/// Three nodes on `nats`, each with `/metrics`; returns once every node hears all three.
async fn three_nodes(nats: &NatsServer) -> Vec<Relay> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            common::relay(|config| {
                config.nats = Some(nats.url());
                config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
            })
            .await,
        );
    }
    all_hear_each_other(&nodes).await;
    nodes
}

/// Waits until every node hears every other.
async fn all_hear_each_other(nodes: &[Relay]) {
    let deadline = Instant::now() + common::PATIENCE;
    while !nodes
        .iter()
        .all(|node| node.cluster.as_ref().unwrap().node_counts().len() == nodes.len())
    {
        assert!(
            Instant::now() < deadline,
            "the nodes never heard each other"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rooms_per_node(nodes: &[Relay]) -> Vec<usize> {
    nodes.iter().map(|node| node.rooms.count()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_on_different_nodes_meet_in_one_room() {
    let nats = NatsServer::start();
    let nodes = three_nodes(&nats).await;
    let room = "across-nodes";
    let anna = Participant::join(&nodes[0], room).await;
    let bram = Participant::join(&nodes[1], room).await;
    let counts = rooms_per_node(&nodes);
    assert_eq!(
        counts.iter().sum::<usize>(),
        1,
        "one room on one node: {counts:?}"
    );
    let owner = &nodes[counts.iter().position(|&n| n == 1).unwrap()];

    // Media goes straight to the room's node: its address is the one candidate offered.
    let mut anna = anna;
    let offer = match anna
        .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Offer { .. })))
        .await
    {
        Seen::Signal(ServerMessage::Offer { sdp, .. }) => sdp.clone(),
        _ => unreachable!("waited for an offer"),
    };
    let candidate = format!("{} {} typ host", owner.udp_addr.ip(), owner.udp_addr.port());
    assert!(offer.contains(&candidate), "no {candidate} in {offer}");

    // Join time (to the welcome) through the room's node and through another, side by side.
    let other = nodes.iter().find(|n| n.udp_addr != owner.udp_addr).unwrap();
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..5 {
        for (through, times) in [owner, other].into_iter().zip(&mut times) {
            let started = Instant::now();
            let guest = Participant::join(through, room).await;
            times.push(started.elapsed());
            guest.close();
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (direct, carried) = (median(&mut times[0]), median(&mut times[1]));
    println!(
        "join to welcome, median of 5: through the room's node {:.1} ms, through another {:.1} ms (ratio {:.2})",
        direct.as_secs_f64() * 1e3,
        carried.as_secs_f64() * 1e3,
        carried.as_secs_f64() / direct.as_secs_f64()
    );

    let mut pair = [anna, bram];
    common::settle(&mut pair).await;
    common::warm_up(&mut pair).await;
    common::exchange(&mut pair, 20).await;

    // Whatever a browser sends goes across as sent.
    let [anna, mut bram] = pair;
    anna.signal(ClientMessage::Blob {
        to: None,
        data: "c2VhbGVk".into(),
    });
    let from = anna.id.clone();
    bram.wait_for(|seen| {
        matches!(seen, Seen::Signal(ServerMessage::Blob { from: f, data }) if *f == from && data == "c2VhbGVk")
    })
    .await;

    // Room access holds through any node.
    let (mut ws, _) = tokio_tungstenite::connect_async(common::ws_url(&nodes[2]))
        .await
        .unwrap();
    let join = ClientMessage::Join {
        version: veilig_protocol::PROTOCOL_VERSION,
        room: RoomId::new(room).unwrap(),
        access: RoomAccess::new(&"0".repeat(64)).unwrap(),
    };
    ws.send(Message::Text(join.encode().into())).await.unwrap();
    let mut code = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(common::PATIENCE, ws.next()).await {
        match message {
            Message::Text(text) => assert!(
                !text.contains("welcome"),
                "a wrong access value was welcomed: {text}"
            ),
            Message::Close(frame) => {
                code = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(code, Some(4401));
    for node in nodes {
        node.shut_down().await;
    }
}

/// How far a node's share of 60 rooms may be from 20. Placement reads each node's room count
/// from the placement bucket, which every node watches, and counts its own choices at once, so
/// a placement sees every one made before it on any node, and every one made on its own node:
/// the rule itself (least loaded, with one room of slack) keeps nodes within one room of each
/// other's share. What it cannot see are placements made on another node in the same few
/// milliseconds: here each burst of 12 comes 9 through one node and 3 through another, so at
/// worst 3 unseen rooms land on one node beyond the slack of one. 4 is that bound (measured:
/// within 1 in six runs), where placing by entry node gives 45/15/0 and random placement
/// 20 ± 11 (3σ).
const SPREAD: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_rooms_spread_over_three_nodes() {
    let nats = NatsServer::start();
    let nodes = three_nodes(&nats).await;
    let mut participants = Vec::new();
    for burst in 0..5 {
        let nodes = &nodes;
        let joins = (0..12).map(|i| async move {
            let n = burst * 12 + i;
            // Most guests arrive through one node (its address is the one handed out), the
            // rest through another: the rooms must still spread by load, not by entry.
            let entry = if n % 4 == 3 { 1 } else { 0 };
            Participant::join(&nodes[entry], &format!("spread-{n}")).await
        });
        participants.extend(futures_util::future::join_all(joins).await);
    }
    let counts = rooms_per_node(&nodes);
    println!("60 rooms over three nodes: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 60);
    for count in &counts {
        assert!(count.abs_diff(20) <= SPREAD, "{counts:?}");
    }
    // /metrics on any node counts rooms and participants per node (from the heartbeats).
    let metrics = nodes[0].metrics_addr.unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let body = common::get(metrics, "/metrics").await.body;
        let per_node: Vec<u64> = body
            .lines()
            .filter(|line| line.starts_with("veilig_node_rooms{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
            .collect();
        let participants: u64 = body
            .lines()
            .filter(|line| line.starts_with("veilig_node_participants{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if per_node.len() == 3 && per_node.iter().sum::<u64>() == 60 && participants == 60 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "per-node counts never added up: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(participants);
    for node in nodes {
        node.shut_down().await;
    }
}

/// Whether anyone saw their WebSocket closed.
fn closed(participants: &[Participant]) -> Vec<Option<u16>> {
    participants
        .iter()
        .flat_map(|p| &p.history)
        .filter_map(|seen| match seen {
            Seen::Closed(code) => Some(*code),
            _ => None,
        })
        .collect()
}

/// NATS going away stops new placements but no meeting: media flows through the outage (longer
/// than a node's silence that counts as death) and after the server is back, nobody's signaling
/// is closed, and a new room is placed again once NATS is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meetings_keep_their_media_while_nats_restarts() {
    let mut nats = NatsServer::start();
    let nodes = three_nodes(&nats).await;
    let room = "through-an-outage";
    let mut pair = [
        Participant::join(&nodes[0], room).await,
        Participant::join(&nodes[1], room).await,
    ];
    common::settle(&mut pair).await;
    common::warm_up(&mut pair).await;
    nats.kill();
    common::exchange(&mut pair, 10).await;
    // Longer than DEAD_AFTER: nobody is heard, nobody is judged.
    tokio::time::sleep(Duration::from_secs(4)).await;
    common::exchange(&mut pair, 10).await;
    nats.restart();
    all_hear_each_other(&nodes).await;
    // Longer than DEAD_AFTER again: the carried session outlives the judging after the return.
    tokio::time::sleep(Duration::from_secs(4)).await;
    common::exchange(&mut pair, 10).await;
    assert_eq!(
        closed(&pair),
        Vec::<Option<u16>>::new(),
        "a socket was closed"
    );
    // Placing works again.
    let _newcomer = Participant::join(&nodes[2], "placed-after-the-outage").await;
    assert_eq!(rooms_per_node(&nodes).iter().sum::<usize>(), 2);
    for node in nodes {
        node.shut_down().await;
    }
}

/// A node stopping (SIGTERM) gives its rooms up: everyone in them is told to rejoin (4012, the
/// code the app reconnects on), and rejoining through the other nodes puts the room on one of
/// them, where the meeting goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_hands_its_rooms_over() {
    let nats = NatsServer::start();
    let mut nodes = three_nodes(&nats).await;
    let room = "moving-house";
    let mut pair = [
        Participant::join(&nodes[0], room).await,
        Participant::join(&nodes[1], room).await,
    ];
    let owner = rooms_per_node(&nodes).iter().position(|&n| n == 1).unwrap();
    nodes.remove(owner).shut_down().await;
    for participant in &mut pair {
        participant
            .wait_for(|seen| matches!(seen, Seen::Closed(_)))
            .await;
    }
    assert_eq!(closed(&pair), vec![Some(4012), Some(4012)]);
    let mut pair = [
        Participant::join(&nodes[0], room).await,
        Participant::join(&nodes[1], room).await,
    ];
    assert_eq!(rooms_per_node(&nodes).iter().sum::<usize>(), 1);
    common::settle(&mut pair).await;
    common::warm_up(&mut pair).await;
    common::exchange(&mut pair, 10).await;
    for node in nodes {
        node.shut_down().await;
    }
}
