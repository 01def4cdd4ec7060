//! A node killed mid-call (SIGKILL): three `veilig-relay` processes on a real `nats-server`, two
//! participants in a room through two of them. The room's node is killed; each participant, as
//! the app does, rejoins one second after its WebSocket closes, through a node that is alive
//! (as a load balancer would send it). The room is placed again on a live node and frames flow
//! both ways; the time from the kill to frames flowing again is printed (the failover time) and
//! bounded by [`FAILOVER_BOUND`].

mod common;

use std::time::{Duration, Instant};

use common::nats::NatsServer;
use common::node::NodeProcess;
use common::{Participant, Seen};
use veilig_protocol::ServerMessage;

/// Detection (a carried session: the owner's heartbeat missed for 3 s; a WebSocket on the
/// killed node: at once), the app's first retry (1 s), a join with a new placement, ICE and
/// DTLS, and a keyframe each way: about 5 s on an idle machine. Twice that, for a loaded one.
const FAILOVER_BOUND: Duration = Duration::from_secs(10);

/// The media address in the first offer `participant` got.
async fn offered_port(participant: &mut Participant) -> u16 {
    let sdp = match participant
        .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Offer { .. })))
        .await
    {
        Seen::Signal(ServerMessage::Offer { sdp, .. }) => sdp.clone(),
        _ => unreachable!("waited for an offer"),
    };
    let candidate = sdp
        .lines()
        .find(|line| line.starts_with("a=candidate"))
        .expect("a candidate");
    candidate
        .split_whitespace()
        .nth(5)
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_rooms_node_moves_the_meeting() {
    let nats = NatsServer::start();
    let mut nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(&nats.url())).collect();
    // Heartbeats: let every node hear the others before placing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let room = "survives-a-crash";
    let mut anna = Participant::join_url(&nodes[0].ws_url(), room).await;
    let bram = Participant::join_url(&nodes[1].ws_url(), room).await;
    let port = offered_port(&mut anna).await;
    let owner = nodes
        .iter()
        .position(|n| n.udp.port() == port)
        .expect("the room's node");
    let mut pair = [anna, bram];
    common::settle(&mut pair).await;
    common::warm_up(&mut pair).await;

    nodes[owner].kill();
    let killed = Instant::now();
    let live: Vec<String> = (0..3)
        .filter(|&n| n != owner)
        .map(|n| nodes[n].ws_url())
        .collect();
    let rejoin = |mut participant: Participant, entry: String| async move {
        participant
            .wait_for(|seen| matches!(seen, Seen::Closed(_)))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        Participant::join_url(&entry, room).await
    };
    let [anna, bram] = pair;
    let (anna, bram) = tokio::join!(rejoin(anna, live[0].clone()), rejoin(bram, live[1].clone()));
    let mut pair = [anna, bram];
    common::settle(&mut pair).await;
    common::warm_up(&mut pair).await;
    let failover = killed.elapsed();
    println!(
        "failover: frames flow both ways {:.1} s after the room's node was killed",
        failover.as_secs_f64()
    );
    common::exchange(&mut pair, 10).await;
    assert!(failover < FAILOVER_BOUND, "{failover:?}");
}
