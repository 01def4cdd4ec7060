//! Load benchmark (not a test): N synthetic participants in one room, each publishing 30 fps
//! video at 1.5 Mbit/s and 50 fps Opus-sized audio, through the real relay binary (a separate
//! process, so its CPU time is its own; it also runs at a higher priority than the clients).
//!
//! Reports per N: forwarded Mbit/s (payload bytes that reached receivers), relay CPU (share of
//! one core and CPU-seconds per forwarded Gbit), frame loss, and end-to-end latency (send call
//! to receipt, both str0m clients and the relay on loopback included). The load and the
//! measuring are shared with `janus.rs`, which runs the same against Janus (`relays/mod.rs`).
//!
//! `cargo bench -p veilig-relay --bench load` (default N = 4,10,25 for 10 s each), or
//! `cargo bench -p veilig-relay --bench load -- 4,10 5` for other sizes and seconds. The clients
//! run on the same 2-core machine as the relay, so at high N they, not the relay, saturate first:
//! read loss and latency with that in mind.

#[path = "../tests/common/mod.rs"]
mod common;
mod relays;

use std::time::Duration;

use common::{settle, warm_up, Participant};
use relays::{measure, prioritise, rss_kb, start_veilig};

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
    println!("| participants | forwarded Mbit/s | relay CPU (% of a core) | relay CPU-s per forwarded Gbit | frames lost | latency median / p99 (ms) |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let result = runtime.block_on(async {
            let (relay, url) = start_veilig();
            let pid = relay.0.id();
            prioritise(pid);
            let rss_before = rss_kb(pid);
            let mut people = Vec::new();
            for _ in 0..n {
                people.push(Participant::join_url(&url, "load").await);
            }
            settle(&mut people).await;
            warm_up(&mut people).await;
            measure(vec![people], pid, rss_before, Duration::from_secs(seconds)).await
        });
        println!(
            "| {n} | {:.1} | {:.1} | {:.2} | {:.2} % ({} of {}) | {:.1} / {:.1} |",
            result.forwarded_mbps,
            result.cpu_share * 100.0,
            result.cpu_seconds_per_gbit,
            100.0 * result.lost as f64 / result.expected.max(1) as f64,
            result.lost,
            result.expected,
            result.latency_median_ms,
            result.latency_p99_ms,
        );
    }
}
