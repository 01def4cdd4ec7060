//! Media forwarding with real WebRTC peers: every participant receives every other's frames,
//! byte for byte as sent (the relay never touches payloads); leave and rejoin; a track that
//! starts mid-call (screen share) reaches everyone; media connects with the UDP socket on the
//! wildcard address; a participant whose media path is gone for good is dropped.

mod common;

use std::time::{Duration, Instant};

use common::{exchange, settle, vp8_frame, warm_up, Filler, Participant, Seen};
use veilig_protocol::{ServerMessage, Source};

/// Two participants in one room of a relay set up by `tweak` exchange `batch` frames each way.
async fn pair_exchanges(tweak: impl FnOnce(&mut veilig_relay::Config), batch: u64) {
    let relay = common::relay(tweak).await;
    let mut people = vec![
        Participant::join(&relay, "pair").await,
        Participant::join(&relay, "pair").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    exchange(&mut people, batch).await;
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_participants_receive_each_others_frames_unchanged() {
    pair_exchanges(|_| {}, 40).await;
}

/// The default `--udp 0.0.0.0:10000` listens on every address while candidates name one (as
/// behind a 1:1 NAT with `--public-ip`): media must connect all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_connects_when_the_udp_socket_listens_on_every_address() {
    pair_exchanges(|config| config.udp = "0.0.0.0:0".parse().unwrap(), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_receive_each_others_frames_unchanged() {
    let relay = common::relay(|_| {}).await;
    let mut people = Vec::new();
    for _ in 0..3 {
        people.push(Participant::join(&relay, "trio").await);
    }
    settle(&mut people).await;
    warm_up(&mut people).await;
    exchange(&mut people, 30).await;
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_and_rejoining_renegotiates_for_everyone() {
    let relay = common::relay(|_| {}).await;
    let mut people = Vec::new();
    for _ in 0..3 {
        people.push(Participant::join(&relay, "rejoin").await);
    }
    settle(&mut people).await;
    warm_up(&mut people).await;

    let leaver = people.pop().unwrap();
    let gone = leaver.id.clone();
    leaver.close();
    for person in people.iter_mut() {
        person.wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Left { participant }) if *participant == gone)).await;
        // The next offer no longer carries the leaver's lines.
        person
            .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Offer { lines, .. }) if lines.iter().all(|l| l.from.as_ref() != Some(&gone))))
            .await;
    }

    people.push(Participant::join(&relay, "rejoin").await);
    let newcomer = people.last().unwrap().id.clone();
    assert_ne!(newcomer, gone, "a rejoin gets a fresh participant id");
    settle(&mut people).await;
    warm_up(&mut people).await;
    exchange(&mut people, 20).await;
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_started_mid_call_reaches_everyone() {
    let relay = common::relay(|_| {}).await;
    let mut people = Vec::new();
    for _ in 0..3 {
        people.push(Participant::join(&relay, "share").await);
    }
    settle(&mut people).await;
    warm_up(&mut people).await;
    let presenter = people[0].id.clone();
    let slides: Vec<Vec<u8>> = (0..15)
        .map(|n| vp8_frame(n % 5 == 0, 7_000 + n, 4000))
        .collect();
    for slide in &slides {
        people[0].send_frame(Source::Screen, slide.clone());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _filler = Filler::start(&people[..1]);
    for viewer in people.iter_mut().skip(1) {
        let last = slides.last().unwrap().clone();
        viewer
            .wait_for(|seen| matches!(seen, Seen::Frame { from, source: Source::Screen, data, .. } if *from == presenter && *data == last))
            .await;
        let received: Vec<&[u8]> = viewer
            .frames(&presenter, Source::Screen)
            .into_iter()
            .filter(|frame| slides.iter().any(|s| s.as_slice() == *frame))
            .collect();
        assert_eq!(
            received,
            slides.iter().map(Vec::as_slice).collect::<Vec<_>>(),
            "screen frames to {}",
            viewer.id
        );
    }
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_makes_the_relay_ask_publishers_for_a_keyframe() {
    let relay = common::relay(|_| {}).await;
    let mut people = vec![
        Participant::join(&relay, "late").await,
        Participant::join(&relay, "late").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    // Forget requests so far: only the newcomer's counts.
    people[0].drain();
    people[0]
        .history
        .retain(|seen| !matches!(seen, Seen::KeyframeRequest(_)));
    people.push(Participant::join(&relay, "late").await);
    let _filler = Filler::start(&people[..1]);
    settle(&mut people).await;
    people[0]
        .wait_for(|seen| matches!(seen, Seen::KeyframeRequest(Source::Camera)))
        .await;
    relay.shut_down().await;
}

/// Keyframe requests `participant` has seen for its camera.
fn camera_keyframe_requests(participant: &Participant) -> usize {
    participant
        .history
        .iter()
        .filter(|seen| matches!(seen, Seen::KeyframeRequest(Source::Camera)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyframe_request_within_the_interval_is_deferred_not_dropped() {
    let relay = common::relay(|_| {}).await;
    let mut people = vec![
        Participant::join(&relay, "defer").await,
        Participant::join(&relay, "defer").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    // Let the requests of warm-up arrive and their interval (300 ms) pass: quiet for 600 ms.
    let mut quiet_since = Instant::now();
    let mut seen = camera_keyframe_requests(&people[0]);
    while quiet_since.elapsed() < Duration::from_millis(600) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        people[0].drain();
        let now_seen = camera_keyframe_requests(&people[0]);
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        }
    }
    // Two requests 50 ms apart: the first goes out at once, the second when the interval has
    // passed. The relay used to drop the second.
    let publisher = people[0].id.clone();
    people[1].request_keyframe(&publisher, Source::Camera);
    tokio::time::sleep(Duration::from_millis(50)).await;
    people[1].request_keyframe(&publisher, Source::Camera);
    let deadline = Instant::now() + Duration::from_secs(10);
    while camera_keyframe_requests(&people[0]) < seen + 2 {
        assert!(
            Instant::now() < deadline,
            "the publisher saw {} of 2 keyframe requests",
            camera_keyframe_requests(&people[0]) - seen
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        people[0].drain();
    }
    relay.shut_down().await;
}

/// A participant whose media path goes away (its checks stop for 15 s, the ICE agent's limit)
/// is dropped although its WebSocket is still open, and the others are told, so nobody waits
/// for a ghost. Its browser then rejoins (`tests/network.rs` checks that end to end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_whose_media_path_is_gone_is_dropped() {
    let relay = common::relay(|_| {}).await;
    let mut people = vec![
        Participant::join(&relay, "gone").await,
        Participant::join(&relay, "gone").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    people[1].go_offline(Duration::from_secs(60));
    let gone = people[1].id.clone();
    people[0]
        .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Left { participant }) if *participant == gone))
        .await;
    people[1]
        .wait_for(|seen| {
            matches!(
                seen,
                Seen::Signal(ServerMessage::Error { .. }) | Seen::Closed(_)
            )
        })
        .await;
    relay.shut_down().await;
}
