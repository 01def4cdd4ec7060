//! What the load benchmarks share (`load.rs`, Veilig's relay alone; `janus.rs`, against
//! Janus): starting each relay as its own process, reading its CPU and memory from /proc, and the
//! measured load itself (30 fps VP8-sized frames at 1.5 Mbit/s with a key frame of 3× size every
//! 2 s, and 50 fps Opus-sized audio, per participant; every frame tagged, so loss and latency are
//! counted per frame).
//!
//! Each benchmark uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{opus_frame, vp8_frame, Filler, Participant, Seen};
use veilig_protocol::Source;

const VIDEO_FPS: u64 = 30;
const VIDEO_BITRATE: u64 = 1_500_000;
const AUDIO_FPS: u64 = 50;
const VIDEO_TAG: u64 = 1 << 62;
const AUDIO_TAG: u64 = 1 << 61;

/// What one run measured.
pub struct Outcome {
    pub forwarded_mbps: f64,
    pub cpu_share: f64,
    pub cpu_seconds_per_gbit: f64,
    pub expected: u64,
    pub lost: u64,
    pub latency_median_ms: f64,
    pub latency_p99_ms: f64,
    pub memory_per_participant_kb: f64,
    /// Datagrams the kernel dropped for full UDP receive buffers during the run, machine-wide
    /// (/proc/net/snmp `RcvbufErrors`): where loss goes when a socket is not read fast enough.
    pub udp_rcvbuf_errors: u64,
}

/// A relay process, stopped when dropped.
pub struct RelayProcess(pub Child);

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
pub fn cpu_seconds(pid: u32) -> f64 {
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    (stat_field(pid, 11) + stat_field(pid, 12)) / hz
}

/// The machine's count of UDP datagrams dropped for a full receive buffer.
pub fn udp_rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// Resident memory of the process, in KB.
pub fn rss_kb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The relay ahead of the clients on the CPU: the clients are the benchmark, not the subject.
pub fn prioritise(pid: u32) {
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
pub fn start_veilig() -> (RelayProcess, String) {
    start_veilig_binary(Path::new(env!("CARGO_BIN_EXE_veilig-relay")))
}

/// [`start_veilig`] with the relay binary at `binary` (another commit's build, to compare).
pub fn start_veilig_binary(binary: &Path) -> (RelayProcess, String) {
    let (http, udp) = (free_tcp_port(), free_udp_port());
    let dir = std::env::temp_dir().join("veilig-load");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>Veilig</title>",
    )
    .unwrap();
    let child = Command::new(binary)
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
pub fn host_ip() -> std::net::IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    socket.connect("8.8.8.8:53").unwrap(); // UDP: no packet is sent
    socket.local_addr().unwrap().ip()
}

/// Janus with the VideoRoom plugin and the WebSocket transport alone, ICE on [`host_ip`], its
/// configuration in a fresh directory; returns it and its WebSocket URL.
pub fn start_janus() -> (RelayProcess, String) {
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

/// Runs the load through `rooms` (everyone connected and warmed up) for `duration`, with
/// `pid` the relay process, whose resident memory was `rss_before` KB before anyone joined.
pub async fn measure(
    mut rooms: Vec<Vec<Participant>>,
    pid: u32,
    rss_before: f64,
    duration: Duration,
) -> Outcome {
    let size = rooms[0].len();
    let rss_after = rss_kb(pid);
    let participants = rooms.iter().map(Vec::len).sum::<usize>();
    for person in rooms.iter_mut().flatten() {
        person.drain();
        person.history.clear();
    }
    let video_bytes = (VIDEO_BITRATE / 8 / VIDEO_FPS) as usize;
    let mut sent_at: HashMap<u64, Instant> = HashMap::new();
    let cpu_before = cpu_seconds(pid);
    let drops_before = udp_rcvbuf_errors();
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
    let udp_rcvbuf_errors = udp_rcvbuf_errors() - drops_before;
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
        udp_rcvbuf_errors,
    }
}
