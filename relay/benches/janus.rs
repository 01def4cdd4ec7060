//! Veilig's relay against Janus (Debian's `janus`, VideoRoom plugin), side by side in one run
//! (a benchmark, not a test; `cargo xtask bench-peers` runs it, and installs `janus`).
//!
//! The same native participants (`veilig-test-peer`: str0m, real DTLS-SRTP over loopback UDP)
//! drive both, through each relay's own signaling (`veilig_test_peer::janus` for Janus), with the
//! same load as `benches/load.rs`: 30 fps VP8-sized frames at 1.5 Mbit/s (a key frame of 3× size
//! every 2 s) and 50 fps Opus-sized audio per participant. Rows: one room of 4, 10 and 25, and
//! eight rooms of 4. For each row it runs Veilig's relay, then Janus, each a fresh process.
//!
//! Reports per row and relay: forwarded Mbit/s, the relay process's own CPU (from /proc, so the
//! clients' CPU is not counted; the relay also runs at a higher priority than the clients, so
//! that on this shared machine the clients and other work wait first), CPU-seconds per forwarded
//! Gbit and forwarded Mbit/s per core, frames lost, latency (send call to receipt, median and
//! p99, both client stacks included) and the relay's resident memory per participant.
//!
//! `cargo bench -p veilig-relay --bench janus` (rows 4,10,25,8x4 for 10 s each), or
//! `cargo bench -p veilig-relay --bench janus -- 4,8x4 5`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{opus_frame, settle, vp8_frame, warm_up, Filler, Participant, Seen};
use veilig_protocol::Source;
use veilig_test_peer::janus;

const VIDEO_FPS: u64 = 30;
const VIDEO_BITRATE: u64 = 1_500_000;
const AUDIO_FPS: u64 = 50;
const VIDEO_TAG: u64 = 1 << 62;
const AUDIO_TAG: u64 = 1 << 61;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Veilig,
    Janus,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rows: Vec<(usize, usize)> = args
        .first()
        .map_or("4,10,25,8x4", String::as_str)
        .split(',')
        .map(|row| match row.split_once('x') {
            Some((rooms, size)) => (rooms.parse().unwrap(), size.parse().unwrap()),
            None => (1, row.parse().unwrap()),
        })
        .collect();
    let seconds: u64 = args.get(1).map_or(10, |s| s.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| rooms × size | relay | forwarded Mbit/s | relay CPU (% of a core) | CPU-s per forwarded Gbit | Mbit/s per core | frames lost | latency median / p99 (ms) | memory per participant |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (rooms, size) in rows {
        let mut cpu = Vec::new();
        for system in [System::Veilig, System::Janus] {
            let r = runtime.block_on(run(system, rooms, size, Duration::from_secs(seconds)));
            println!(
                "| {rooms} × {size} | {system:?} | {:.1} | {:.1} | {:.2} | {:.0} | {:.2} % ({} of {}) | {:.1} / {:.1} | {:.0} KB |",
                r.forwarded_mbps,
                r.cpu_share * 100.0,
                r.cpu_seconds_per_gbit,
                r.forwarded_mbps / r.cpu_share,
                100.0 * r.lost as f64 / r.expected.max(1) as f64,
                r.lost,
                r.expected,
                r.latency_median_ms,
                r.latency_p99_ms,
                r.memory_per_participant_kb,
            );
            cpu.push(r.cpu_seconds_per_gbit);
        }
        println!(
            "| {rooms} × {size} | Veilig / Janus, CPU per forwarded bit | {:.2} | | | | | | |",
            cpu[0] / cpu[1]
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
    latency_p99_ms: f64,
    memory_per_participant_kb: f64,
}

/// A relay process, stopped when dropped.
struct RelayProcess(Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One field of /proc/PID/stat after the command name (0 = state).
fn stat_field(pid: u32, index: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[index].parse().unwrap()
}

/// CPU seconds (user + system) the process has used, all its threads.
fn cpu_seconds(pid: u32) -> f64 {
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    (stat_field(pid, 11) + stat_field(pid, 12)) / hz
}

/// Resident memory of the process, in KB.
fn rss_kb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The relay ahead of the clients on the CPU: the clients are the benchmark, not the subject.
fn prioritise(pid: u32) {
    let _ = Command::new("renice")
        .args(["-n", "-5", "-p", &pid.to_string()])
        .stdout(Stdio::null())
        .status();
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Veilig's release relay on loopback; returns it and its signaling URL.
fn start_veilig() -> (RelayProcess, String) {
    let (http, udp) = (free_tcp_port(), free_udp_port());
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
        .args(["--max-websockets-per-address", "0"])
        .args(["--joins-per-minute-per-address", "0"])
        .arg("--static-dir")
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("relay binary starts");
    wait_for_port(http, "Veilig's relay");
    (RelayProcess(child), format!("ws://127.0.0.1:{http}/ws"))
}

/// This host's address on its default route: Janus gathers no loopback candidates, so Janus and
/// its clients meet there (packets between two local addresses still never leave the host).
fn host_ip() -> std::net::IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket.connect("8.8.8.8:53").unwrap(); // UDP: no packet is sent
    socket.local_addr().unwrap().ip()
}

/// Janus with the VideoRoom plugin and the WebSocket transport alone, ICE on [`host_ip`], its
/// configuration in a fresh directory; returns it and its WebSocket URL.
fn start_janus() -> (RelayProcess, String) {
    let ws = free_tcp_port();
    let dir = std::env::temp_dir().join(format!("veilig-janus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib = "/usr/lib/x86_64-linux-gnu/janus";
    let disable = |kind: &str, keep: &str| -> String {
        std::fs::read_dir(Path::new(lib).join(kind))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| name.ends_with(".so") && name != keep)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let config = format!(
        "general: {{\n configs_folder = \"{dir}\"\n plugins_folder = \"{lib}/plugins\"\n \
         transports_folder = \"{lib}/transports\"\n events_folder = \"{lib}/events\"\n \
         loggers_folder = \"{lib}/loggers\"\n debug_level = 2\n}}\n\
         media: {{\n ipv6 = false\n rtp_port_range = \"40000-60000\"\n}}\n\
         nat: {{\n ice_enforce_list = \"{ip}\"\n}}\n\
         plugins: {{\n disable = \"{}\"\n}}\n\
         transports: {{\n disable = \"{}\"\n}}\n\
         loggers: {{\n disable = \"{}\"\n}}\n\
         events: {{\n broadcast = false\n disable = \"{}\"\n}}\n",
        disable("plugins", "libjanus_videoroom.so"),
        disable("transports", "libjanus_websockets.so"),
        disable("loggers", ""),
        disable("events", ""),
        dir = dir.display(),
        ip = host_ip(),
    );
    std::fs::write(dir.join("janus.jcfg"), config).unwrap();
    std::fs::write(
        dir.join("janus.transport.websockets.jcfg"),
        format!(
            "general: {{\n ws = true\n ws_port = {ws}\n ws_ip = \"127.0.0.1\"\n wss = false\n}}\n\
             admin: {{\n admin_ws = false\n admin_wss = false\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n").unwrap();
    let log = std::fs::File::create(dir.join("janus.log")).unwrap();
    let child = Command::new("janus")
        .arg("-C")
        .arg(dir.join("janus.jcfg"))
        .arg("-F")
        .arg(&dir)
        .stdout(log)
        .stderr(Stdio::null())
        .spawn()
        .expect("janus starts (apt-get install janus)");
    wait_for_port(ws, "Janus");
    (RelayProcess(child), format!("ws://127.0.0.1:{ws}"))
}

/// Everyone in `rooms` rooms of `size`, connected and receiving from everyone in their room.
async fn join(system: System, url: &str, rooms: usize, size: usize) -> Vec<Vec<Participant>> {
    let mut all = Vec::new();
    for room in 0..rooms {
        let mut people = Vec::new();
        for i in 0..size {
            people.push(match system {
                System::Veilig => Participant::join_url(url, &format!("load{room}")).await,
                System::Janus => {
                    let id = 1000 + room as u64;
                    janus::create_room(url, id, 64).await;
                    janus::join(url, id, &format!("p{i}"), host_ip()).await
                }
            });
        }
        match system {
            System::Veilig => settle(&mut people).await,
            System::Janus => {
                for person in people.iter_mut() {
                    person
                        .wait_for(|seen| matches!(seen, Seen::Connected))
                        .await;
                }
            }
        }
        warm_up(&mut people).await;
        all.push(people);
    }
    for person in all.iter_mut().flatten() {
        person.drain();
        person.history.clear();
    }
    all
}

async fn run(system: System, rooms: usize, size: usize, duration: Duration) -> Outcome {
    let (relay, url) = match system {
        System::Veilig => start_veilig(),
        System::Janus => start_janus(),
    };
    let pid = relay.0.id();
    prioritise(pid);
    let rss_before = rss_kb(pid);
    let mut rooms = join(system, &url, rooms, size).await;
    let rss_after = rss_kb(pid);
    let participants = rooms.iter().map(Vec::len).sum::<usize>();

    let video_bytes = (VIDEO_BITRATE / 8 / VIDEO_FPS) as usize;
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let cpu_before = cpu_seconds(pid);
    let begin = Instant::now();
    let frames = duration.as_millis() as u64 * VIDEO_FPS / 1000;
    let mut audio_sent = 0u64;
    let mut received_bytes = 0u64;
    let mut delivered = 0u64;
    let mut latencies = Vec::new();
    let mut collect = |rooms: &mut Vec<Vec<Participant>>, sent_at: &HashMap<u64, Instant>| {
        for person in rooms.iter_mut().flatten() {
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
                        delivered += 1;
                        latencies.push(at.duration_since(*sent));
                    }
                }
            }
        }
    };
    for frame in 0..frames {
        let due = begin + Duration::from_micros(frame * 1_000_000 / VIDEO_FPS);
        tokio::time::sleep_until(due.into()).await;
        for (index, person) in rooms.iter().flatten().enumerate() {
            let tag = VIDEO_TAG | (index as u64) << 32 | frame;
            let key = frame % (2 * VIDEO_FPS) == 0;
            sent_at.insert(tag, Instant::now());
            person.send_frame(
                Source::Camera,
                vp8_frame(key, tag, if key { 3 * video_bytes } else { video_bytes }),
            );
        }
        while audio_sent * 1000 / AUDIO_FPS <= frame * 1000 / VIDEO_FPS {
            for (index, person) in rooms.iter().flatten().enumerate() {
                let tag = AUDIO_TAG | (index as u64) << 32 | audio_sent;
                sent_at.insert(tag, Instant::now());
                person.send_frame(Source::Microphone, opus_frame(tag));
            }
            audio_sent += 1;
        }
        if frame % 10 == 0 {
            collect(&mut rooms, &sent_at);
        }
    }
    let elapsed = begin.elapsed();
    let cpu_used = cpu_seconds(pid) - cpu_before;
    let everyone: Vec<Participant> = rooms.iter_mut().flat_map(std::mem::take).collect();
    let filler = Filler::start(&everyone);
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(filler);
    let mut rooms = vec![everyone];
    collect(&mut rooms, &sent_at);
    for person in rooms.iter().flatten() {
        person.close();
    }

    let expected = sent_at.len() as u64 * (size as u64 - 1);
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Outcome {
        forwarded_mbps: received_bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e6,
        cpu_share: cpu_used / elapsed.as_secs_f64(),
        cpu_seconds_per_gbit: cpu_used / (received_bytes as f64 * 8.0 / 1e9),
        expected,
        lost: expected.saturating_sub(delivered),
        latency_median_ms: percentile(0.5),
        latency_p99_ms: percentile(0.99),
        memory_per_participant_kb: (rss_after - rss_before) / participants as f64,
    }
}
