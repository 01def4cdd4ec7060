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
//! `cargo bench -p veilig-relay --bench janus -- 4,8x4 5`. With `VEILIG_RELAY_BEFORE` set to
//! another build of the relay binary (an earlier commit's `target/release/veilig-relay`), each
//! row also runs that one first, as "Before": a change measured against what it changes, and
//! against Janus, in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

mod relays;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{settle, warm_up, Participant, Seen};
use relays::{
    host_ip, measure, prioritise, rss_kb, start_janus, start_veilig, start_veilig_binary, Outcome,
};
use veilig_test_peer::janus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    /// The build of `VEILIG_RELAY_BEFORE`.
    Before,
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
    let before = std::env::var_os("VEILIG_RELAY_BEFORE").map(PathBuf::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| rooms × size | relay | forwarded Mbit/s | relay CPU (% of a core) | CPU-s per forwarded Gbit | Mbit/s per core | frames lost | latency median / p99 (ms) | memory per participant | UDP buffer drops |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (rooms, size) in rows {
        let mut cpu = Vec::new();
        for system in systems(before.is_some()) {
            let binary = before.as_deref();
            let r = runtime.block_on(run(
                system,
                binary,
                rooms,
                size,
                Duration::from_secs(seconds),
            ));
            println!(
                "| {rooms} × {size} | {system:?} | {:.1} | {:.1} | {:.2} | {:.0} | {:.2} % ({} of {}) | {:.1} / {:.1} | {:.0} KB | {} |",
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
                r.udp_rcvbuf_errors,
            );
            cpu.push((system, r.cpu_seconds_per_gbit));
        }
        let janus = cpu
            .iter()
            .find(|(system, _)| *system == System::Janus)
            .unwrap()
            .1;
        for (system, cpu) in cpu.iter().filter(|(system, _)| *system != System::Janus) {
            println!(
                "| {rooms} × {size} | {system:?} / Janus, CPU per forwarded bit | {:.2} | | | | | | | |",
                cpu / janus
            );
        }
    }
}

/// The systems of each row, in order.
fn systems(before: bool) -> Vec<System> {
    let all = [System::Before, System::Veilig, System::Janus];
    all.into_iter()
        .filter(|system| before || *system != System::Before)
        .collect()
}

/// Everyone in `rooms` rooms of `size`, connected and receiving from everyone in their room.
async fn join(system: System, url: &str, rooms: usize, size: usize) -> Vec<Vec<Participant>> {
    let mut all = Vec::new();
    for room in 0..rooms {
        let mut people = Vec::new();
        for i in 0..size {
            people.push(match system {
                System::Before | System::Veilig => {
                    Participant::join_url(url, &format!("load{room}")).await
                }
                System::Janus => {
                    let id = 1000 + room as u64;
                    janus::create_room(url, id, 64).await;
                    janus::join(url, id, &format!("p{i}"), host_ip()).await
                }
            });
        }
        match system {
            System::Before | System::Veilig => settle(&mut people).await,
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
    all
}

/// One row's measurement of `system`; `before` is the binary of [`System::Before`].
async fn run(
    system: System,
    before: Option<&Path>,
    rooms: usize,
    size: usize,
    duration: Duration,
) -> Outcome {
    let (relay, url) = match (system, before) {
        (System::Before, Some(binary)) => start_veilig_binary(binary),
        (System::Before, None) => unreachable!("no Before without VEILIG_RELAY_BEFORE"),
        (System::Veilig, _) => start_veilig(),
        (System::Janus, _) => start_janus(),
    };
    let pid = relay.0.id();
    prioritise(pid);
    let rss_before = rss_kb(pid);
    let rooms = join(system, &url, rooms, size).await;
    measure(rooms, pid, rss_before, duration).await
}
