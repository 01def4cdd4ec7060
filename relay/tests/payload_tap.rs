//! The test-only payload tap (`--features payload-tap`, `--payload-tap FILE`): one JSON line per
//! received frame, in the format `docs/design.md` documents, holding exactly the bytes the
//! sender sent, and complete: the browser proofs (`tests/proof.rs`) say "every frame the relay
//! had" on its word, so here every frame a participant received is found in it, and it holds at
//! least as many frames as the relay's own count of frames forwarded.
#![cfg(feature = "payload-tap")]

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use common::{exchange, settle, vp8_frame, warm_up, Filler, Participant, Seen};
use veilig_protocol::Source;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tap_records_every_forwarded_frame_as_sent() {
    let tap = std::env::temp_dir().join(format!("veilig-tap-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&tap);
    let relay = common::relay(|config| {
        config.payload_tap = Some(tap.clone());
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let mut people = vec![
        Participant::join(&relay, "tapped").await,
        Participant::join(&relay, "tapped").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    let marked = vp8_frame(true, 0x7a9, 2500);
    people[0].send_frame(Source::Camera, marked.clone());
    let filler = Filler::start(&people);
    let sender = people[0].id.clone();
    people[1]
        .wait_for(|seen| matches!(seen, Seen::Frame { from, data, .. } if *from == sender && *data == marked))
        .await;
    drop(filler);
    // Both ways, video and audio, checked byte for byte on arrival.
    exchange(&mut people, 20).await;
    // The relay counts a frame forwarded after the tap has written it, so the count read first
    // can only be the smaller.
    let forwarded = forwarded_frames(&relay).await;
    for person in &mut people {
        person.drain();
    }
    relay.shut_down().await;

    let text = std::fs::read_to_string(&tap).expect("tap file written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["codec", "kind", "payload", "room", "rtp_time", "sender", "stray"],
            "{line}"
        );
        // An honest relay's participants only ever send on their own upstream slots.
        assert_eq!(line["stray"], false, "{line}");
        assert_eq!(line["room"], "tapped");
        match line["kind"].as_str().unwrap() {
            "video" => assert_eq!(line["codec"], "video/VP8"),
            "audio" => assert_eq!(line["codec"], "audio/opus"),
            other => panic!("kind {other}"),
        }
        assert!(line["rtp_time"].is_u64());
    }
    let recorded = lines.iter().any(|line| {
        line["sender"] == sender.as_str()
            && base64::engine::general_purpose::STANDARD
                .decode(line["payload"].as_str().unwrap())
                .unwrap()
                == marked
    });
    assert!(recorded, "the marked frame is in the tap, byte for byte");

    // Complete: every frame anyone received is in the tap, as often as it was received, and
    // the tap holds at least the frames the relay counted as forwarded (two people: each frame
    // goes to one other).
    let mut tapped: HashMap<(String, Vec<u8>), usize> = HashMap::new();
    for line in &lines {
        let payload = base64::engine::general_purpose::STANDARD
            .decode(line["payload"].as_str().unwrap())
            .unwrap();
        *tapped
            .entry((line["sender"].as_str().unwrap().to_owned(), payload))
            .or_default() += 1;
    }
    let mut received = HashMap::<&str, usize>::new();
    for (receiver, sender) in [(&people[1], &people[0]), (&people[0], &people[1])] {
        for source in [Source::Camera, Source::Screen, Source::Microphone] {
            for frame in receiver.frames(&sender.id, source) {
                let key = (sender.id.as_str().to_owned(), frame.to_vec());
                let left = tapped.get_mut(&key).filter(|left| **left > 0);
                assert!(
                    left.is_some(),
                    "a {source:?} frame of {} bytes that {} received is missing from the tap",
                    frame.len(),
                    receiver.id
                );
                *left.unwrap() -= 1;
                *received
                    .entry(if source == Source::Microphone {
                        "audio"
                    } else {
                        "video"
                    })
                    .or_default() += 1;
            }
        }
    }
    assert!(
        received.get("audio") >= Some(&40) && received.get("video") >= Some(&40),
        "frames received and checked: {received:?}"
    );
    assert!(
        lines.len() as u64 >= forwarded && forwarded > 80,
        "the tap holds {} frames; the relay forwarded {forwarded}",
        lines.len()
    );
    let _ = std::fs::remove_file(&tap);
}

/// The relay's own count of frames written to receivers (`veilig_forwarded_frames_total`).
async fn forwarded_frames(relay: &veilig_relay::Relay) -> u64 {
    let metrics = relay.metrics_addr.expect("metrics are served");
    let response = common::get(metrics, "/metrics").await;
    response
        .body
        .lines()
        .find_map(|line| line.strip_prefix("veilig_forwarded_frames_total "))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no forwarded count in {}", response.body))
}
