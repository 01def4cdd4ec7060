//! MLS through the real relay, without browsers: native participants (`veilig-test-peer`, real
//! WebRTC peers) each run the same [`Driver`] as the browser's worker, carrying its handshake
//! messages over the relay's signaling exactly as the app does. Joins and leaves converge on one
//! epoch and one safety code, and the time from a leave to everyone's next epoch is measured
//! (printed; run with `--nocapture` to see it).
//!
//! Native, not `#[ignore]`d: it needs no browser and runs in `cargo test --workspace`.
#![cfg(not(target_arch = "wasm32"))]

use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use tokio::sync::mpsc;
use veilig_e2ee::{InviteLink, MlsPsk, RoomKeys};
use veilig_mls::driver::{Action, Driver};
use veilig_protocol::{ClientMessage, ServerMessage};
use veilig_relay::{Config, Relay};
use veilig_test_peer::{Participant, Seen};

/// What a member reports: its id, the epoch it reached and that epoch's code, and when.
type Report = (String, u64, String, Instant);

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

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(text).ok()
}

/// One member's loop: relay messages and a 100 ms tick in, the driver's actions out.
async fn member(mut peer: Participant, reports: mpsc::UnboundedSender<Report>) {
    let origin = Instant::now();
    let now = || origin.elapsed().as_millis() as u64;
    let alone = peer.history.iter().any(|seen| {
        matches!(seen, Seen::Signal(ServerMessage::Welcome { participants, .. }) if participants.is_empty())
    });
    let id = peer.id.to_string();
    let (mut driver, first) = Driver::start(&psk(), &id, alone, now()).unwrap();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut actions = first;
    loop {
        for action in actions.drain(..) {
            match action {
                Action::SendKeyPackage(data) => {
                    peer.signal(ClientMessage::KeyPackage { data: b64(&data) })
                }
                Action::SendCommit { commit, welcome } => peer.signal(ClientMessage::Commit {
                    commit: b64(&commit),
                    link_tag: welcome.as_ref().map(|(_, tag)| b64(tag)),
                    welcome: welcome.as_ref().map(|(welcome, _)| b64(welcome)),
                }),
                Action::Epoch(keys) => {
                    let report = (id.clone(), keys.epoch(), keys.safety_code().to_string());
                    let _ = reports.send((report.0, report.1, report.2, Instant::now()));
                }
                Action::Rejoin(why) => eprintln!("{id} rejoins: {why:?}"),
            }
        }
        tokio::select! {
            _ = ticker.tick() => actions = driver.tick(now()),
            seen = peer.next() => match seen {
                None | Some(Seen::Closed(_)) => return,
                Some(Seen::Signal(ServerMessage::KeyPackage { from, data })) => {
                    if let Some(data) = unb64(&data) {
                        actions = driver.key_package(from.as_str(), data, now());
                    }
                }
                Some(Seen::Signal(ServerMessage::Commit { commit, welcome, link_tag, .. })) => {
                    let commit = unb64(&commit).unwrap_or_default();
                    let welcome = welcome.as_deref().and_then(unb64);
                    let tag = link_tag.as_deref().and_then(unb64);
                    let welcome = welcome.as_deref().zip(tag.as_deref());
                    actions = driver.commit(&commit, welcome, now());
                }
                Some(Seen::Signal(ServerMessage::Left { participant })) => {
                    actions = driver.left(participant.as_str(), now());
                }
                Some(_) => {}
            },
        }
    }
}

/// Waits until every one of `ids` has reported `epoch`, all with one code; returns the time of
/// the last report.
async fn converged(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    ids: &[String],
    epoch: u64,
) -> Instant {
    let mut seen: Vec<(String, String, Instant)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.iter().any(|id| !seen.iter().any(|(s, ..)| s == id)) {
        let (id, e, code, at) = tokio::time::timeout_at(deadline, reports.recv())
            .await
            .unwrap_or_else(|_| panic!("no convergence on epoch {epoch}; saw {seen:?}"))
            .expect("members report");
        if e == epoch && ids.contains(&id) {
            seen.push((id, code, at));
        }
    }
    let code = &seen[0].1;
    assert!(
        seen.iter().all(|(_, c, _)| c == code),
        "epoch {epoch}: one group state, one code: {seen:?}"
    );
    seen.iter().map(|(.., at)| *at).max().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_converge_through_the_relay_and_a_leave_moves_everyone_on() {
    const MEMBERS: usize = 6;
    let relay = relay().await;
    let (reports, mut inbox) = mpsc::unbounded_channel();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    let mut joins = Vec::new();
    for n in 0..MEMBERS {
        let peer = Participant::join(&relay, "mls-relay").await;
        ids.push(peer.id.to_string());
        handles.push(peer_handle(&peer));
        let started = Instant::now();
        tokio::spawn(member(peer, reports.clone()));
        let done = converged(&mut inbox, &ids, n as u64).await;
        joins.push(done - started);
    }
    // Leaves: the relay says who left; the committer removes them; everyone moves on.
    let mut leaves = Vec::new();
    let mut epoch = MEMBERS as u64 - 1;
    let everyone = ids.clone();
    for leaver in [MEMBERS - 1, 0, 2] {
        let at = Instant::now();
        handles[leaver].close();
        ids.retain(|id| *id != everyone[leaver]);
        epoch += 1;
        leaves.push(converged(&mut inbox, &ids, epoch).await - at);
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "MLS through the relay: join -> everyone at the new epoch {:?} ms; leave (socket closed) -> everyone at the new epoch {:?} ms",
        joins.iter().map(ms).map(|m| m.round()).collect::<Vec<_>>(),
        leaves.iter().map(ms).map(|m| m.round()).collect::<Vec<_>>(),
    );
    relay.shut_down().await;
}

/// A second handle on a participant's connection, to close it from the test.
fn peer_handle(peer: &Participant) -> veilig_test_peer::Closer {
    peer.closer()
}
