//! The ratios of the SFrame benchmark, measured so that load from other processes cancels out:
//! the contenders take turns in short slots (a fraction of a millisecond each), the order
//! rotating every round, and each round's time per frame is divided by the bare AES-GCM time of
//! the same round. The table gives, over [`rounds`] rounds, the median time per frame and the
//! median of the per-round ratios.
//!
//! ```text
//! cargo bench -p veilig-e2ee --bench paired_ratios
//! ```
//!
//! Criterion (`sframe.rs`) gives better absolute figures on a quiet machine; this gives
//! trustworthy ratios on a busy one. The contenders are the same code (`common/mod.rs`). Under
//! `cargo test --benches` it runs a few rounds only.

mod common;

use std::time::Duration;

use common::{decrypt_contenders, encrypt_contenders, sizes, Contender};

/// Rounds per operation and size (a few under `cargo test`).
fn rounds() -> usize {
    if common::benchmarking() {
        301
    } else {
        3
    }
}

/// Plaintext bytes per contender per slot: enough for a slot to dwarf the clock's resolution,
/// few enough that the contenders of a round run within a few milliseconds of each other.
const SLOT_BYTES: usize = 256 * 1024;

/// Frames per slot: at least 8.
fn frames_per_slot(size: usize) -> usize {
    (SLOT_BYTES / size).max(8)
}

fn main() {
    common::assert_outputs_agree();
    for operation in ["encrypt", "decrypt"] {
        println!("\n### {operation}: median µs per frame (MB/s), and ratio to bare AES-GCM\n");
        let mut header = false;
        for (size, label) in sizes() {
            let slot = frames_per_slot(size);
            let mut contenders = match operation {
                "encrypt" => encrypt_contenders(size),
                _ => decrypt_contenders(size, slot),
            };
            if !header {
                let names: Vec<&str> = contenders.iter().map(|c| c.name.as_str()).collect();
                println!("| size | {} |", names.join(" | "));
                println!("|---|{}", "---|".repeat(names.len()));
                header = true;
            }
            let per_frame = paired(&mut contenders, slot);
            let bare = per_frame.len() - 1;
            let cells: Vec<String> = per_frame
                .iter()
                .map(|times| {
                    let micros = median(times.iter().copied());
                    let ratio = median(times.iter().zip(&per_frame[bare]).map(|(t, b)| t / b));
                    format!("{micros:.3} ({:.0}) ×{ratio:.2}", size as f64 / micros)
                })
                .collect();
            println!("| {label} | {} |", cells.join(" | "));
        }
    }
}

/// Runs [`rounds`] rounds of one `slot` per contender, rotating the order; returns, per
/// contender, the µs per frame of each round. The last contender is the bare AEAD.
fn paired(contenders: &mut [Contender], slot: usize) -> Vec<Vec<f64>> {
    for contender in contenders.iter_mut() {
        (contender.time)(slot); // warm-up
    }
    let n = contenders.len();
    let rounds = rounds();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for turn in 0..n {
            let which = (round + turn) % n;
            let elapsed: Duration = (contenders[which].time)(slot);
            times[which].push(elapsed.as_secs_f64() * 1e6 / slot as f64);
        }
    }
    times
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
