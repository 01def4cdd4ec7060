//! `cargo xtask test`: every check the project has, cheapest first, stopping at the first that
//! fails. Tools are checked just before the first step that needs them, so a formatting
//! mistake is reported in seconds even on a fresh machine; the browsers, a long download, are
//! installed in the background from the start (see `apt.rs`), and so are the tools that
//! `cargo install` compiles, at the lowest CPU priority (see `prebuild.rs`).
//!
//! 1. formatting; clippy on the host and on wasm32 (the app only compiles for wasm32)
//! 2. native tests of the whole workspace (`cargo test --workspace`; the relay's payload-tap
//!    test included, since the app's tests turn that test-only feature on)
//! 3. in-browser tests in headless Chromium, then headless Firefox: the e2ee core, then the
//!    app's frame-crypto worker on real peer connections
//! 4. the release build (`trunk build --release`, with wasm-opt)
//! 5. the page-load tests in `tests/`, which drive both browsers against `dist/`
//!
//! Browser tests in the root crate are `#[ignore]`d so that a plain `cargo test` needs neither
//! browsers nor a build; step 5 runs exactly those (`-- --ignored`).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::apt;
use crate::error::Error;
use crate::exec::{self, minutes, run, step};
use crate::prebuild;
use crate::serve::trunk_command;
use crate::tools::{self, WASM_TARGET};

/// Which WebDriver the wasm-bindgen test runner drives.
#[derive(Clone, Copy)]
enum Browser {
    Chromium,
    Firefox,
}

/// Runs everything; prints a timing summary on success.
pub fn run_all(root: &Path) -> Result<(), Error> {
    let start = Instant::now();
    let mut timings: Vec<(String, Duration)> = Vec::new();

    let s = step("Rust toolchain: rustfmt, clippy, wasm32 target; browsers");
    tools::rust_toolchain()?;
    // Started now, needed only at the browser steps: the download overlaps the compiles.
    let mut browsers = apt::start(root)?;
    // Likewise the cargo-installed tools, compiled in idle CPU time (see prebuild.rs).
    let mut prebuild = prebuild::start(root, tools::missing_cargo_tools(root)?)?;
    timings.push(s.done());

    let s = step("Formatting");
    run(&mut cargo("fmt --all --check"))?;
    timings.push(s.done());

    let s = step("Clippy, native (whole workspace, all targets)");
    run(&mut cargo(
        "clippy --workspace --all-targets -- -D warnings",
    ))?;
    timings.push(s.done());

    let s = step("Clippy, wasm32 (the app)");
    run(&mut cargo(&format!(
        "clippy -p veilig --target {WASM_TARGET} --all-targets -- -D warnings"
    )))?;
    timings.push(s.done());

    let s = step("Native tests (whole workspace)");
    // The relay's cluster tests start nats-server: the packages must be in by now (the
    // download has had both clippy runs to finish).
    browsers.wait()?;
    run(&mut cargo("test --workspace"))?;
    timings.push(s.done());

    // The relay's test-only payload tap needs no step of its own: the app's browser tests
    // depend on the relay with `payload-tap`, so the workspace builds (clippy and tests above)
    // already include it, and `relay/tests/payload_tap.rs` runs with the native tests.

    let s = step("Browser test tools: wasm-bindgen-cli, Chromium, Firefox ESR, WebDriver servers");
    prebuild.wait_for("wasm-bindgen-cli");
    tools::wasm_bindgen(root)?;
    browsers.wait()?;
    let chromedriver = tools::chromedriver()?;
    prebuild.wait_for("geckodriver");
    let geckodriver = tools::geckodriver()?;
    timings.push(s.done());

    // The e2ee core, then the app's frame-crypto worker on real peer connections.
    let suites = [
        ("veilig-e2ee", in_browser_targets(&root.join("e2ee"))?),
        ("veilig", in_browser_targets(root)?),
    ];
    for (browser, driver) in [
        (Browser::Chromium, &chromedriver),
        (Browser::Firefox, &geckodriver),
    ] {
        let name = match browser {
            Browser::Chromium => "Chromium",
            Browser::Firefox => "Firefox",
        };
        for (package, targets) in &suites {
            let s = step(format!(
                "{package} in headless {name} ({})",
                targets.join(", ")
            ));
            run(&mut wasm_browser_tests(
                root, package, targets, browser, driver,
            ))?;
            timings.push(s.done());
        }
    }

    let s = step("Build tools: trunk, wasm-opt");
    prebuild.wait_for("trunk");
    tools::trunk()?;
    tools::wasm_opt(root)?;
    timings.push(s.done());

    let s = step("Release build (trunk build --release)");
    run(trunk_command("build").arg("--release"))?;
    timings.push(s.done());
    crate::serve::print_manifest(root)?;

    let s = step("Page-load tests in Chromium and Firefox (tests/, against dist/)");
    // `--workspace`, like the native tests: the same packages give the same feature
    // resolution, so the test binaries built there are reused. (`-p veilig` resolved
    // features differently and rebuilt much of the dependency graph, minutes on 2 cores.)
    // Only the root crate has ignored tests.
    run(cargo("test --workspace --tests -- --ignored --skip bench_")
        .env("CHROMEDRIVER", &chromedriver)
        .env("GECKODRIVER", &geckodriver))?;
    timings.push(s.done());

    println!("\n==> All checks passed in {}", minutes(start.elapsed()));
    for (title, took) in timings {
        println!("    {:>8}  {title}", minutes(took));
    }
    Ok(())
}

/// `cargo` with space-separated arguments (none of ours contain spaces).
fn cargo(args: &str) -> Command {
    let mut cargo = exec::cargo();
    cargo.args(args.split_whitespace());
    cargo
}

/// The e2ee crate's test files that run in a browser: those that say
/// `wasm_bindgen_test_configure!(run_in_browser)`. The others are native-only (they use
/// proptest and friends, which do not build for wasm32).
fn in_browser_targets(krate: &Path) -> Result<Vec<String>, Error> {
    let dir = krate.join("tests");
    let entries = fs::read_dir(&dir)
        .map_err(|e| Error::Check(format!("cannot list {}: {e}", dir.display())))?;
    let mut targets: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| {
            fs::read_to_string(path).is_ok_and(|source| source.contains("run_in_browser"))
        })
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    targets.sort();
    if targets.is_empty() {
        return Err(Error::Check(format!(
            "no in-browser tests in {} (files with `wasm_bindgen_test_configure!(run_in_browser)`)",
            dir.display()
        )));
    }
    Ok(targets)
}

/// `cargo test` of a package's in-browser targets for wasm32, run by wasm-bindgen-test-runner
/// in one headless browser. The runner serves the package's directory too (the app's tests
/// load `static/frame-crypto-worker.js` from it).
fn wasm_browser_tests(
    root: &Path,
    package: &str,
    targets: &[String],
    browser: Browser,
    driver: &Path,
) -> Command {
    let mut cargo = exec::cargo();
    cargo.args(["test", "-p", package, "--target", WASM_TARGET]);
    for target in targets {
        cargo.args(["--test", target]);
    }
    // The runner picks the first driver it finds configured; name exactly one.
    for var in [
        "GECKODRIVER",
        "CHROMEDRIVER",
        "SAFARIDRIVER",
        "MSEDGEDRIVER",
    ] {
        cargo.env_remove(var).env_remove(format!("{var}_REMOTE"));
    }
    let driver_var = match browser {
        Browser::Chromium => "CHROMEDRIVER",
        Browser::Firefox => "GECKODRIVER",
    };
    cargo
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env(driver_var, driver)
        // Browser binaries, the flags they need as root, fake camera and microphone: see
        // webdriver.json.
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            root.join("webdriver.json"),
        )
        // Generous: a cold 2-core CI machine starts browsers slowly.
        .env("WASM_BINDGEN_TEST_DRIVER_TIMEOUT", "60")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300");
    cargo
}
