//! Load benchmark (not a test): N synthetic participants in one room, each publishing 30 fps
//! video at 1.5 Mbit/s and 50 fps Opus-sized audio, through the real relay binary (a separate
//! process, so its CPU time is its own).
//!
//! Reports per N: forwarded Mbit/s (payload bytes that reached receivers), relay CPU (share of
//! one core and CPU-seconds per forwarded Gbit), frame loss, and end-to-end latency (send call
//! to receipt, both str0m clients and the relay on loopback included).
//!
//! `cargo bench -p veilig-relay --bench load` (default N = 4,10,25 for 10 s each), or
//! `cargo bench -p veilig-relay --bench load -- 4,10 5` for other sizes and seconds. The clients
//! run on the same 2-core machine as the relay, so at high N they, not the relay, saturate first:
//! read loss and latency with that in mind.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{opus_frame, settle, vp8_frame, warm_up, Filler, Participant, Seen};
use veilig_protocol::Source;

const VIDEO_FPS: u64 = 30;
const VIDEO_BITRATE: u64 = 1_500_000;
const AUDIO_FPS: u64 = 50;
const VIDEO_TAG: u64 = 1 << 62;
const AUDIO_TAG: u64 = 1 << 61;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sizes: Vec<usize> = args.first().map_or(vec![4, 10, 25], |s| {
        s.split(',').map(|n| n.parse().unwrap()).collect()
    });
    let seconds: u64 = args.get(1).map_or(10, |s| s.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| participants | forwarded Mbit/s | relay CPU (% of a core) | relay CPU-s per forwarded Gbit | frames lost | latency median / p95 (ms) |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let result = runtime.block_on(run(n, Duration::from_secs(seconds)));
        println!(
            "| {n} | {:.1} | {:.1} | {:.2} | {:.2} % ({} of {}) | {:.1} / {:.1} |",
            result.forwarded_mbps,
            result.cpu_share * 100.0,
            result.cpu_seconds_per_gbit,
            100.0 * result.lost as f64 / result.expected.max(1) as f64,
            result.lost,
            result.expected,
            result.latency_median_ms,
            result.latency_p95_ms,
        );
    }
}

struct Outcome {
    forwarded_mbps: f64,
    cpu_share: f64,
    cpu_seconds_per_gbit: f64,
    expected: u64,
    lost: u64,
    latency_median_ms: f64,
    latency_p95_ms: f64,
}

struct RelayProcess(Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_ports() -> (u16, u16) {
    let tcp = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (tcp, udp)
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    ticks / hz
}

async fn run(n: usize, duration: Duration) -> Outcome {
    let (http, udp) = free_ports();
    let dir = std::env::temp_dir().join("veilig-load");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Veilig</title>",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_veilig-relay"))
        .args([
            "--listen",
            &format!("127.0.0.1:{http}"),
            "--udp",
            &format!("127.0.0.1:{udp}"),
            "--public-ip",
            "127.0.0.1",
        ])
        .args(["--max-participants", "64", "--message-burst", "1000"])
        // Every client is on loopback: one address, so no per-address caps.
        .args(["--max-websockets-per-address", "0"])
        .args(["--joins-per-minute-per-address", "0"])
        .arg("--static-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("relay binary starts");
    let relay = RelayProcess(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "relay did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = format!("ws://127.0.0.1:{http}/ws");
    let mut people = Vec::new();
    for _ in 0..n {
        people.push(Participant::join_url(&url, "load").await);
    }
    settle(&mut people).await;
    warm_up(&mut people).await;
    for person in people.iter_mut() {
        person.drain();
        person.history.clear();
    }

    let video_bytes = (VIDEO_BITRATE / 8 / VIDEO_FPS) as usize;
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let cpu_before = cpu_seconds(relay.0.id());
    let begin = Instant::now();
    let frames = duration.as_millis() as u64 * VIDEO_FPS / 1000;
    let mut audio_sent = 0u64;
    let mut received_bytes = 0u64;
    let mut received_tags: HashMap<u64, usize> = HashMap::new();
    let mut latencies = Vec::new();
    let mut collect = |people: &mut Vec<Participant>, sent_at: &HashMap<u64, Instant>| {
        for person in people.iter_mut() {
            person.drain();
            for seen in person.history.drain(..) {
                if let Seen::Frame { data, at, .. } = seen {
                    let offset = if data[0] & 1 == 0 && data[0] != 0x78 {
                        10
                    } else {
                        3
                    };
                    let tag = u64::from_be_bytes(data[offset..offset + 8].try_into().unwrap());
                    if let Some(sent) = sent_at.get(&tag) {
                        received_bytes += data.len() as u64;
                        *received_tags.entry(tag).or_default() += 1;
                        latencies.push(at.duration_since(*sent));
                    }
                }
            }
        }
    };
    for frame in 0..frames {
        let due = begin + Duration::from_micros(frame * 1_000_000 / VIDEO_FPS);
        tokio::time::sleep_until(due.into()).await;
        for (index, person) in people.iter().enumerate() {
            let tag = VIDEO_TAG | (index as u64) << 32 | frame;
            let key = frame % (2 * VIDEO_FPS) == 0;
            sent_at.insert(tag, Instant::now());
            person.send_frame(
                Source::Camera,
                vp8_frame(key, tag, if key { 3 * video_bytes } else { video_bytes }),
            );
        }
        while audio_sent * 1000 / AUDIO_FPS <= frame * 1000 / VIDEO_FPS {
            for (index, person) in people.iter().enumerate() {
                let tag = AUDIO_TAG | (index as u64) << 32 | audio_sent;
                sent_at.insert(tag, Instant::now());
                person.send_frame(Source::Microphone, opus_frame(tag));
            }
            audio_sent += 1;
        }
        if frame % 10 == 0 {
            collect(&mut people, &sent_at);
        }
    }
    let elapsed = begin.elapsed();
    let cpu_used = cpu_seconds(relay.0.id()) - cpu_before;
    let filler = Filler::start(&people);
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(filler);
    collect(&mut people, &sent_at);

    let expected = sent_at.len() as u64 * (n as u64 - 1);
    let delivered: u64 = received_tags.values().map(|&count| count as u64).sum();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let forwarded_mbps = received_bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e6;
    Outcome {
        forwarded_mbps,
        cpu_share: cpu_used / elapsed.as_secs_f64(),
        cpu_seconds_per_gbit: cpu_used / (received_bytes as f64 * 8.0 / 1e9),
        expected,
        lost: expected.saturating_sub(delivered),
        latency_median_ms: percentile(0.5),
        latency_p95_ms: percentile(0.95),
    }
}
