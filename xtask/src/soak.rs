//! `cargo xtask soak-proofs [N]`: the two browser tests that have been flaky run N times in a row
//! (default 10), each run counted, so "passes 10 runs in a row on a 2-core machine" is a number
//! anyone can reproduce rather than a history to trust. A soak, not a check: it is not part of
//! `cargo xtask test`, whose runs would take N times as long.
//!
//! The tests: the three-browser proof on every attachment path with a rejoin
//! (`tests/proof.rs`), and both browsers reconnecting by themselves after a relay restart
//! (`tests/meeting.rs`). What it does not do: stop at the first failure (a soak counts them
//! all), or retry one.

use std::path::Path;
use std::time::Instant;

use crate::bench::browsers_and_build;
use crate::error::Error;
use crate::exec::{self, minutes, step};

/// Runs in a soak by default.
pub const DEFAULT_RUNS: u32 = 10;

/// The soaked tests: (test file, exact test name).
const SOAKED: [(&str, &str); 2] = [
    (
        "proof",
        "three_browsers_on_every_path_rejoin_without_reusing_a_nonce",
    ),
    (
        "meeting",
        "both_reconnect_by_themselves_after_a_relay_restart",
    ),
];

/// Builds, then runs each soaked test `runs` times; fails if any run failed.
pub fn run(root: &Path, runs: u32) -> Result<(), Error> {
    let with_drivers = browsers_and_build(root)?;
    let s = step("The soaked tests' binaries");
    let mut build = with_drivers(&["test", "-p", "veilig", "--no-run"]);
    for (file, _) in SOAKED {
        build.args(["--test", file]);
    }
    exec::run(&mut build)?;
    s.done();

    let mut failed = Vec::new();
    for (file, test) in SOAKED {
        let s = step(format!("{test}, {runs} runs"));
        let mut passes = 0;
        for n in 1..=runs {
            let start = Instant::now();
            let mut cargo = with_drivers(&[
                "test",
                "-p",
                "veilig",
                "--test",
                file,
                "--",
                "--ignored",
                "--exact",
                test,
            ]);
            let ok = cargo.status().is_ok_and(|status| status.success());
            let verdict = if ok { "passed" } else { "FAILED" };
            println!(
                "    run {n}/{runs}: {verdict} in {}",
                minutes(start.elapsed())
            );
            if ok {
                passes += 1;
            } else {
                failed.push(format!("{test} run {n}"));
            }
        }
        println!("    {test}: {passes} of {runs} runs passed");
        s.done();
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Check(format!(
            "runs that failed: {}",
            failed.join(", ")
        )))
    }
}
