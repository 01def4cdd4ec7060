//! `cargo xtask soak-cluster [SECONDS]`: the cluster soak (`relay/tests/soak_cluster.rs`):
//! nats-server and three relay processes, native participants joining and leaving small rooms
//! at random for SECONDS (default 600), then each node's memory and open file descriptors at
//! start and end, rooms placed, joins lost, frames forwarded and dropped. Release build. A soak,
//! not a check: not part of `cargo xtask test`. Needs `nats-server` (Debian's package).

use std::path::Path;

use crate::error::Error;
use crate::exec::{self, step};

/// Seconds a soak runs by default.
pub const DEFAULT_SECONDS: u64 = 600;

/// Runs the soak for `seconds`.
pub fn run(_root: &Path, seconds: u64) -> Result<(), Error> {
    let s = step(format!("Cluster soak, {seconds} s"));
    let mut soak = exec::cargo();
    soak.args([
        "test",
        "--release",
        "-p",
        "veilig-relay",
        "--test",
        "soak_cluster",
        "--",
        "--ignored",
        "--nocapture",
        "--exact",
        "bench_soak_cluster",
    ])
    .env("VEILIG_SOAK_SECS", seconds.to_string());
    exec::run(&mut soak)?;
    s.done();
    Ok(())
}
