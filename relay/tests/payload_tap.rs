//! The test-only payload tap (`--features payload-tap`, `--payload-tap FILE`): one JSON line per
//! received frame, in the format the README documents, holding exactly the bytes the sender
//! sent.
#![cfg(feature = "payload-tap")]

mod common;

use base64::Engine as _;
use common::{settle, vp8_frame, warm_up, Filler, Participant, Seen};
use veilig_protocol::Source;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tap_records_every_forwarded_frame_as_sent() {
    let tap = std::env::temp_dir().join(format!("veilig-tap-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&tap);
    let relay = common::relay(|config| config.payload_tap = Some(tap.clone())).await;
    let mut people = vec![
        Participant::join(&relay, "tapped").await,
        Participant::join(&relay, "tapped").await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    let marked = vp8_frame(true, 0x7a9, 2500);
    people[0].send_frame(Source::Camera, marked.clone());
    let _filler = Filler::start(&people);
    let sender = people[0].id.clone();
    people[1]
        .wait_for(|seen| matches!(seen, Seen::Frame { from, data, .. } if *from == sender && *data == marked))
        .await;
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
    let _ = std::fs::remove_file(&tap);
}
