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

    let s = step("Frame-crypto benchmark in headless Chromium and Firefox");
    run(&mut with_drivers(&[
        "run",
        "--quiet",
        "-p",
        "veilig",
        "--example",
        "browser_bench",
    ]))?;
    s.done();

    let s = step("Time from invite link to the first remote frame (headless Chromium, real relay)");
    run(&mut with_drivers(&[
        "test",
        "-p",
        "veilig",
        "--test",
        "first_frame",
        "--",
        "--ignored",
        "--nocapture",
    ]))?;
    s.done();

    let s =
        step("Decoded frame rate, clean vs 100 ms and 2 % loss each way (Chromium and Firefox)");
    run(&mut with_drivers(&[
        "test",
        "-p",
        "veilig",
        "--test",
        "network",
        "--",
        "--ignored",
        "--nocapture",
        "bench_",
    ]))?;
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
