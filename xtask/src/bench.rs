//! `cargo xtask bench-browser`: the in-browser frame-crypto benchmark (`static/bench.html`),
//! run headless in Chromium and Firefox against a fresh release build; then the time to the
//! first remote frame, and the decoded frame rate over a clean and a lossy path. A benchmark, not a
//! check: it is not part of `cargo xtask test`. The numbers go in the README.

use std::path::Path;
use std::process::Command;

use crate::apt;
use crate::error::Error;
use crate::exec::{self, run, step};
use crate::serve::trunk_command;
use crate::tools;

/// Installs what is missing, builds `dist/`, and runs `examples/browser_bench.rs` and the
/// `bench_` browser tests.
pub fn run_browser(root: &Path) -> Result<(), Error> {
    let with_drivers = browsers_and_build(root)?;

    timed(
        "Frame-crypto benchmark in headless Chromium and Firefox",
        with_drivers(&[
            "run",
            "--quiet",
            "-p",
            "veilig",
            "--example",
            "browser_bench",
        ]),
    )?;

    timed(
        "Time from invite link to the first remote frame (headless Chromium, real relay)",
        with_drivers(&bench_test(
            "first_frame",
            "bench_time_to_first_remote_frame",
        )),
    )?;

    timed(
        "Time to the first remote frame, MLS keys against the link's (headless Chromium)",
        with_drivers(&bench_test(
            "first_frame",
            "bench_first_frame_with_mls_against_link_keys",
        )),
    )?;

    timed(
        "Decoded frame rate, clean vs 100 ms and 2 % loss each way (Chromium and Firefox)",
        with_drivers(&bench_test("network", "bench_")),
    )?;
    Ok(())
}

/// `cargo xtask bench-peers`: Veilig measured against the systems users know, side by side in
/// one run: frame encryption against LiveKit's E2EE worker (`examples/peers_frames.rs`), the
/// time to the first remote frame against the floor, a plain WebRTC call
/// (`tests/first_frame.rs`), and the relay against Janus (`relay/benches/janus.rs`). Installs
/// `livekit-client` from npm into `bench/peers/` (its lockfile pins the version), a dev
/// dependency of the benchmark alone, and Debian's `janus` if it is missing.
pub fn run_peers(root: &Path) -> Result<(), Error> {
    let with_drivers = browsers_and_build(root)?;

    if exec::find("npm").is_none() {
        return Err(Error::Tool(
            "npm is not on PATH: install Node.js and npm (e.g. `apt-get install npm`)".into(),
        ));
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(root.join("bench/peers"));
    timed(
        "livekit-client from npm (bench/peers/package-lock.json)",
        npm,
    )?;

    timed(
        "Frame encryption: Veilig's worker against LiveKit's (Chromium and Firefox)",
        with_drivers(&[
            "run",
            "--quiet",
            "-p",
            "veilig",
            "--example",
            "peers_frames",
        ]),
    )?;

    timed(
        "The join against the floor: first remote frame, Veilig and a plain call",
        with_drivers(&bench_test("first_frame", "bench_join_against_the_floor")),
    )?;

    if exec::find("janus").is_none() {
        run(Command::new("apt-get").args(["install", "-y", "--no-install-recommends", "janus"]))?;
    }
    let mut bench = exec::cargo();
    bench.args(["bench", "-p", "veilig-relay", "--bench", "janus"]);
    timed(
        "The relay against Janus (Debian's janus, VideoRoom), the same native clients",
        bench,
    )
}

/// The arguments of `cargo test` for the ignored browser benchmarks matching `filter` in
/// test file `test` of the app, their output shown.
fn bench_test<'a>(test: &'a str, filter: &'a str) -> [&'a str; 9] {
    [
        "test",
        "-p",
        "veilig",
        "--test",
        test,
        "--",
        "--ignored",
        "--nocapture",
        filter,
    ]
}

/// Runs `command` as one announced, timed step.
fn timed(title: &str, mut command: Command) -> Result<(), Error> {
    let s = step(title);
    run(&mut command)?;
    s.done();
    Ok(())
}

/// What a run of browser tests outside `cargo xtask test` needs first: the tools and browsers,
/// and a fresh release build; gives a `cargo` with the given arguments and the WebDriver
/// servers named, as the browser tests want.
pub fn browsers_and_build(root: &Path) -> Result<impl Fn(&[&str]) -> Command, Error> {
    let s = step("Tools: wasm32 target, trunk, wasm-bindgen-cli, wasm-opt, browsers");
    tools::rust_toolchain()?;
    let mut browsers = apt::start(root)?;
    tools::trunk()?;
    tools::wasm_bindgen(root)?;
    tools::wasm_opt(root)?;
    browsers.wait()?;
    let chromedriver = tools::chromedriver()?;
    let geckodriver = tools::geckodriver()?;
    s.done();

    let s = step("Release build (trunk build --release)");
    run(trunk_command("build").arg("--release"))?;
    s.done();

    Ok(move |args: &[&str]| {
        let mut cargo = exec::cargo();
        cargo
            .args(args)
            .env("CHROMEDRIVER", &chromedriver)
            .env("GECKODRIVER", &geckodriver);
        cargo
    })
}
