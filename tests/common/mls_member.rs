//! A member of a meeting's MLS group without a browser: a native participant
//! (`veilig-test-peer`, a real WebRTC peer) running the same [`Driver`] as the browser's
//! worker, carrying its handshake messages over the relay's signaling exactly as the app does.
//!
//! It sends no media. What it gives a test: every epoch it reached, with that epoch's keys
//! (a member holds every member's frame keys, RFC 9605 §5.2), so the test can check the
//! relay's tap per epoch, and what a member who left still holds.
//!
//! ```text
//!  relay ── key_package / commit / left ──► Driver ──► key_package / commit ──► relay
//!                                             └──► Action::Epoch(keys) ──► reports + kept keys
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use tokio::sync::mpsc;
use veilig_e2ee::MlsPsk;
use veilig_mls::driver::{Action, Driver};
use veilig_mls::EpochKeys;
use veilig_protocol::{ClientMessage, ServerMessage};
use veilig_test_peer::{Closer, Participant, Seen};

/// What a member reports: its id, the epoch it reached and that epoch's code, and when.
pub type Report = (String, u64, String, Instant);

/// A running member: its id, its epochs' keys, and a way to leave.
pub struct MlsMember {
    /// Its participant id at the relay.
    pub id: String,
    /// The keys of every epoch it reached, in order.
    pub epochs: Arc<Mutex<Vec<EpochKeys>>>,
    closer: Closer,
}

impl MlsMember {
    /// Runs `peer` (joined already) as a member of the group on `psk`; reports go to `reports`.
    pub fn start(peer: Participant, psk: MlsPsk, reports: mpsc::UnboundedSender<Report>) -> Self {
        let member = MlsMember {
            id: peer.id.to_string(),
            epochs: Arc::default(),
            closer: peer.closer(),
        };
        tokio::spawn(run(peer, psk, reports, member.epochs.clone()));
        member
    }

    /// Leaves: its connection closes, the relay tells the others, and the keys it held stay
    /// in [`MlsMember::epochs`] (what a participant who left keeps).
    pub fn leave(&self) {
        self.closer.close();
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(text).ok()
}

/// One member's loop: relay messages and a 100 ms tick in, the driver's actions out.
async fn run(
    mut peer: Participant,
    psk: MlsPsk,
    reports: mpsc::UnboundedSender<Report>,
    epochs: Arc<Mutex<Vec<EpochKeys>>>,
) {
    let origin = Instant::now();
    let now = || origin.elapsed().as_millis() as u64;
    let alone = peer.history.iter().any(|seen| {
        matches!(seen, Seen::Signal(ServerMessage::Welcome { participants, .. }) if participants.is_empty())
    });
    let id = peer.id.to_string();
    let (mut driver, first) = Driver::start(&psk, &id, alone, now()).unwrap();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    // The browsers' keepalive: the relay closes connections silent for 45 s.
    let mut ping = tokio::time::interval(Duration::from_secs(15));
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
                    epochs.lock().unwrap().push(keys);
                    let _ = reports.send((report.0, report.1, report.2, Instant::now()));
                }
                Action::Rejoin(why) => eprintln!("{id} rejoins: {why:?}"),
            }
        }
        tokio::select! {
            _ = ticker.tick() => actions = driver.tick(now()),
            _ = ping.tick() => peer.signal(ClientMessage::Ping),
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

/// Waits until every one of `ids` has reported `epoch`, all with one code; returns that code
/// and the time of the last report.
pub async fn converged(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    ids: &[String],
    epoch: u64,
) -> (String, Instant) {
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
    let code = seen[0].1.clone();
    assert!(
        seen.iter().all(|(_, c, _)| *c == code),
        "epoch {epoch}: one group state, one code: {seen:?}"
    );
    (code, seen.iter().map(|(.., at)| *at).max().unwrap())
}
