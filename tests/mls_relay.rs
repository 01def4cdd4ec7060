//! MLS through the real relay, without browsers: native participants (`veilig-test-peer`, real
//! WebRTC peers) each run the same [`Driver`] as the browser's worker, carrying its handshake
//! messages over the relay's signaling exactly as the app does. Joins and leaves converge on one
//! epoch and one safety code, and the time from a leave to everyone's next epoch is measured
//! (printed; run with `--nocapture` to see it).
//!
//! Native, not `#[ignore]`d: it needs no browser and runs in `cargo test --workspace`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::mls_member::{converged, MlsMember};
use tokio::sync::mpsc;
use veilig_e2ee::{InviteLink, MlsPsk, RoomKeys};
use veilig_relay::{Config, Relay};
use veilig_test_peer::Participant;

async fn relay() -> Relay {
    let dir = std::env::temp_dir().join(format!("veilig-mls-relay-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Veilig</title>",
    )
    .unwrap();
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.udp = "127.0.0.1:0".parse().unwrap();
    config.public_ip = Some("127.0.0.1".parse().unwrap());
    config.static_dir = Some(dir);
    veilig_relay::start(config).await.expect("relay starts")
}

fn psk() -> MlsPsk {
    let link = InviteLink::new("mls-relay", &[9; 16], false).unwrap();
    RoomKeys::derive(&link, None).unwrap().mls_psk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_converge_through_the_relay_and_a_leave_moves_everyone_on() {
    const MEMBERS: usize = 6;
    let relay = relay().await;
    let (reports, mut inbox) = mpsc::unbounded_channel();
    let mut ids = Vec::new();
    let mut members = Vec::new();
    let mut joins = Vec::new();
    for n in 0..MEMBERS {
        let peer = Participant::join(&relay, "mls-relay").await;
        ids.push(peer.id.to_string());
        let started = Instant::now();
        members.push(MlsMember::start(peer, psk(), reports.clone()));
        let (_, done) = converged(&mut inbox, &ids, n as u64).await;
        joins.push(done - started);
    }
    // Leaves: the relay says who left; the committer removes them; everyone moves on.
    let mut leaves = Vec::new();
    let mut epoch = MEMBERS as u64 - 1;
    let everyone = ids.clone();
    for leaver in [MEMBERS - 1, 0, 2] {
        let at = Instant::now();
        members[leaver].leave();
        ids.retain(|id| *id != everyone[leaver]);
        epoch += 1;
        leaves.push(converged(&mut inbox, &ids, epoch).await.1 - at);
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "MLS through the relay: join -> everyone at the new epoch {:?} ms; leave (socket closed) -> everyone at the new epoch {:?} ms",
        joins.iter().map(ms).map(|m| m.round()).collect::<Vec<_>>(),
        leaves.iter().map(ms).map(|m| m.round()).collect::<Vec<_>>(),
    );
    relay.shut_down().await;
}
