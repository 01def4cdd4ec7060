//! Frame encryption, Veilig's frame-crypto worker against LiveKit's E2EE worker, in headless
//! Chromium and Firefox (`bench/peers/page/frames.html`): real Opus, VP8 camera and screen-share
//! frames recorded from a loopback call in each browser, encrypted and decrypted by both
//! workers in the same page, rounds alternating. Prints the per-frame medians and the ratios.
//!
//! `cargo xtask bench-peers` installs `livekit-client` (npm, a dev dependency of `bench/peers/`
//! only: nothing of it ships in the app), builds `dist/` and runs this; a benchmark, not a check.
//! The site it serves is assembled under `target/bench-peers/site/`: the release build, the
//! benchmark pages in `peers/`, and LiveKit's worker as its package ships it.

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `dist/`, the pages and LiveKit's worker, in one directory to serve.
#[cfg(not(target_arch = "wasm32"))]
fn site() -> std::path::PathBuf {
    let root = common::workspace_root();
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let site = common::artifacts_dir()
        .with_file_name("bench-peers")
        .join("site");
    let _ = std::fs::remove_dir_all(&site);
    copy_tree(&dist, &site).expect("copying dist/");
    let pages = root.join("bench/peers/page");
    copy_tree(&pages, &site.join("peers")).expect("copying the pages");
    let worker =
        root.join("bench/peers/node_modules/livekit-client/dist/livekit-client.e2ee.worker.mjs");
    std::fs::copy(&worker, site.join("peers/livekit-client.e2ee.worker.mjs")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `npm ci` in bench/peers, or `cargo xtask bench-peers`)",
            worker.display()
        )
    });
    site
}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use common::{Browser, Session, StaticServer};
    use std::time::Duration;

    let site = site();
    let server = StaticServer::serve(&site).expect("static server");
    let browsers = match std::env::var("VEILIG_BENCH_BROWSERS") {
        Ok(only) if only == "chromium" => vec![Browser::Chromium],
        Ok(only) if only == "firefox" => vec![Browser::Firefox],
        _ => vec![Browser::Chromium, Browser::Firefox],
    };
    // `VEILIG_BENCH_ENGINES=livekit` (or `veilig`): one engine alone, to try the page out.
    let query = std::env::var("VEILIG_BENCH_ENGINES")
        .map(|engines| format!("?engines={engines}"))
        .unwrap_or_default();
    for browser in browsers {
        let session = Session::start(browser)
            .await
            .unwrap_or_else(|e| panic!("starting {}: {e}", browser.name()));
        session
            .goto(&server.url(&format!("/peers/frames.html{query}")))
            .await
            .expect("open the page");
        let mut results = None;
        for _ in 0..1200 {
            let value = session
                .client()
                .execute("return document.body.dataset.results || null", vec![])
                .await
                .expect("read the results");
            if let Some(text) = value.as_str() {
                results = Some(text.to_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let errors = session.console_errors().await.unwrap_or_default();
        let results = results.expect("the benchmark finished within 10 minutes");
        let parsed: serde_json::Value = serde_json::from_str(&results).expect("JSON results");
        if let Some(error) = parsed.get("error") {
            panic!("{}: {error}\nconsole: {errors:?}", browser.name());
        }
        print_table(browser.name(), &parsed);
        if !errors.is_empty() {
            println!("console errors: {errors:?}");
        }
        session.close().await.ok();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn print_table(browser: &str, parsed: &serde_json::Value) {
    println!(
        "\nFrame encryption in {browser}, µs per frame, median of {} rounds (Veilig: engine `auto`)",
        parsed["rounds"]
    );
    println!(
        "{:<13} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}  intact",
        "frames", "n", "bytes", "ours enc", "ours dec", "LK enc", "LK dec", "LK/ours", "enc", "dec"
    );
    for row in parsed["results"].as_array().into_iter().flatten() {
        let f = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        let (oe, od, le, ld) = (
            f("veiligEncUs"),
            f("veiligDecUs"),
            f("livekitEncUs"),
            f("livekitDecUs"),
        );
        println!(
            "{:<13} {:>6} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2}  {}/{}",
            row["class"].as_str().unwrap_or("?"),
            row["recorded"],
            row["medianBytes"],
            oe,
            od,
            le,
            ld,
            (le + ld) / (oe + od),
            le / oe,
            ld / od,
            row["veiligIntact"],
            row["livekitIntact"],
        );
    }
}
