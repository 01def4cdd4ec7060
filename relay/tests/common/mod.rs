//! Test helpers: a relay on loopback; participants that are real WebRTC peers (the
//! `veilig-test-peer` crate, re-exported here); synthetic frames laid out like Veilig's E2EE
//! output, and [`exchange`], which checks frames arrive byte for byte; [`tls`] adds test
//! certificates and clients that trust only them.
#![allow(dead_code, unused_imports)]

pub mod nats;
pub mod node;
pub mod tls;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use veilig_protocol::{ParticipantId, Source};
use veilig_relay::{Config, Relay};
pub use veilig_test_peer::{
    passive_tcp_candidate, test_access, ws_url, FrameSender, Participant, Seen, Transport, PATIENCE,
};

/// A relay on loopback with ephemeral ports and a stand-in app page.
pub async fn relay(tweak: impl FnOnce(&mut Config)) -> Relay {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("veilig_relay=debug,warn")
        .with_test_writer()
        .try_init();
    // One directory per relay: tests run in parallel and must not rewrite each other's page.
    static RELAYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RELAYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("veilig-relay-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Veilig</title><script type=\"module\">boot()</script>",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(dir.join("static/embed.js"), "window.Veilig = {};").unwrap();
    std::fs::write(dir.join("static/veilig.css"), "body {}").unwrap();
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.udp = "127.0.0.1:0".parse().unwrap();
    config.public_ip = Some("127.0.0.1".parse().unwrap());
    config.static_dir = Some(dir);
    tweak(&mut config);
    veilig_relay::start(config).await.expect("relay starts")
}

/// Keeps every participant sending filler frames (tags from `u64::MAX / 2` up) until dropped,
/// as a live call does, so a lost final packet is noticed and retransmitted instead of ending
/// a test's stream.
pub struct Filler(tokio::task::JoinHandle<()>);

impl Filler {
    /// Starts the filler for `participants`.
    pub fn start(participants: &[Participant]) -> Filler {
        let senders: Vec<FrameSender> =
            participants.iter().map(Participant::frame_sender).collect();
        Filler(tokio::spawn(async move {
            for n in 0.. {
                for sender in &senders {
                    sender.send_frame(Source::Camera, vp8_frame(false, u64::MAX / 2 + n, 500));
                    sender.send_frame(Source::Screen, vp8_frame(false, u64::MAX / 2 + n, 700));
                    sender.send_frame(Source::Microphone, opus_frame(u64::MAX / 2 + n));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }))
    }
}

impl Drop for Filler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A synthetic VP8 frame laid out like Veilig's E2EE output: the clear prefix (10 bytes on key
/// frames, 3 on delta frames, key-frame bit as VP8 has it), then bytes that look like
/// ciphertext, with `tag` inside so frames can be told apart.
pub fn vp8_frame(key: bool, tag: u64, len: usize) -> Vec<u8> {
    let mut frame = if key {
        vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]
    } else {
        vec![0x51, 0x2a, 0x00]
    };
    frame.extend(tag.to_be_bytes());
    let mut x = tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while frame.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        frame.push(x as u8);
    }
    frame
}

/// A synthetic Opus packet: TOC byte, then ciphertext-like bytes with `tag` inside.
pub fn opus_frame(tag: u64) -> Vec<u8> {
    let mut frame = vp8_frame(false, tag, 80);
    frame[0] = 0x78;
    frame
}

/// Each participant sends a batch of key and delta frames and audio; each other participant
/// must receive all of them, unchanged and in order.
pub async fn exchange(participants: &mut [Participant], batch: u64) {
    let senders: Vec<_> = participants.iter().map(|p| p.id.clone()).collect();
    let camera = |index: usize, n: u64| {
        vp8_frame(n % 10 == 0, (index as u64) << 32 | n, 300 + 97 * n as usize)
    };
    let microphone = |index: usize, n: u64| opus_frame((index as u64) << 32 | n);
    // Paced like a real sender (50 frames a second), not a burst.
    for n in 0..batch {
        for (index, participant) in participants.iter().enumerate() {
            participant.send_frame(Source::Camera, camera(index, n));
            participant.send_frame(Source::Microphone, microphone(index, n));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _filler = Filler::start(participants);
    for receiver in participants.iter_mut() {
        let me = receiver.id.clone();
        for (index, sender) in senders.iter().enumerate().filter(|(_, id)| **id != me) {
            for source in [Source::Camera, Source::Microphone] {
                let expected: Vec<Vec<u8>> = (0..batch)
                    .map(|n| {
                        if source == Source::Camera {
                            camera(index, n)
                        } else {
                            microphone(index, n)
                        }
                    })
                    .collect();
                let last = expected.last().unwrap().clone();
                receiver
                    .wait_for(|seen| matches!(seen, Seen::Frame { from, source: s, data, .. } if from == sender && *s == source && *data == last))
                    .await;
                let received: Vec<&[u8]> = receiver
                    .frames(sender, source)
                    .into_iter()
                    .filter(|frame| expected.iter().any(|e| e.as_slice() == *frame))
                    .collect();
                let expected: Vec<&[u8]> = expected.iter().map(Vec::as_slice).collect();
                if received != expected {
                    panic!(
                        "{source:?} from {sender} to {me}: sent {:?}, received {:?}",
                        summary(&expected),
                        summary(&receiver.frames(sender, source))
                    );
                }
            }
        }
    }
}

/// Frames as (tag, length), to say what went wrong without printing kilobytes.
fn summary(frames: &[&[u8]]) -> Vec<(u64, usize)> {
    frames
        .iter()
        .map(|frame| {
            let at = if frame[0] & 1 == 0 && frame[0] != 0x78 {
                10
            } else {
                3
            };
            (
                u64::from_be_bytes(frame[at..at + 8].try_into().unwrap()),
                frame.len(),
            )
        })
        .collect()
}

/// Waits until every participant has a connected peer and lines from all the others.
pub async fn settle(participants: &mut [Participant]) {
    let ids: Vec<ParticipantId> = participants.iter().map(|p| p.id.clone()).collect();
    for participant in participants.iter_mut() {
        participant
            .wait_for(|seen| matches!(seen, Seen::Connected))
            .await;
        let others: Vec<ParticipantId> = ids
            .iter()
            .filter(|id| **id != participant.id)
            .cloned()
            .collect();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let lines = participant.lines();
            if others.iter().all(|other| {
                lines
                    .iter()
                    .filter(|l| l.from.as_ref() == Some(other))
                    .count()
                    == 3
            }) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never got lines for {others:?}: {lines:?}",
                participant.id
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            participant.drain();
        }
    }
}

/// Sends warm-up key frames and audio from everyone until everyone receives from everyone, so
/// every forwarded line is open before a test measures anything.
pub async fn warm_up(participants: &mut [Participant]) {
    let ids: Vec<ParticipantId> = participants.iter().map(|p| p.id.clone()).collect();
    let deadline = Instant::now() + PATIENCE;
    let mut n = 0u64;
    loop {
        for participant in participants.iter() {
            participant.send_frame(Source::Camera, vp8_frame(true, u64::MAX - n, 1200));
            participant.send_frame(Source::Microphone, opus_frame(u64::MAX - n));
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut done = true;
        for participant in participants.iter_mut() {
            participant.drain();
            for other in ids.iter().filter(|id| **id != participant.id) {
                done &= !participant.frames(other, Source::Camera).is_empty();
                done &= !participant.frames(other, Source::Microphone).is_empty();
            }
        }
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "media never flowed between everyone"
        );
    }
}

/// Local address of a relay's HTTP side, for raw HTTP requests.
pub fn http_addr(relay: &Relay) -> SocketAddr {
    relay.http_addr
}

/// An HTTP response, as read off the wire.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over `stream` (plain TCP or TLS), with `Connection: close`.
pub async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
) -> HttpResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    http_get_raw(&mut stream, &request).await
}

/// Sends `request` as written over `stream` and reads the response until the server closes.
pub async fn http_get_raw<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
) -> HttpResponse {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// `GET path` from a relay's plain HTTP listener at `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    http_get(tokio::net::TcpStream::connect(addr).await.unwrap(), path).await
}
