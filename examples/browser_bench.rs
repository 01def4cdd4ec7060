//! Runs the in-browser frame-crypto benchmark (`static/bench.html`) in headless Chromium and
//! Firefox against the release build in `dist/`, and prints the medians per frame size and the
//! WebCrypto ÷ wasm ratio. `cargo xtask bench-browser` builds `dist/` and runs this; it is not
//! part of the test suite (a benchmark, not a check).

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use common::{Browser, Session, StaticServer};
    use std::time::Duration;

    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let server = StaticServer::serve(&dist).expect("static server");
    for browser in [Browser::Chromium, Browser::Firefox] {
        let session = Session::start(browser)
            .await
            .unwrap_or_else(|e| panic!("starting {}: {e}", browser.name()));
        session
            .goto(&server.url("/static/bench.html"))
            .await
            .expect("open the bench page");
        let mut results = None;
        for _ in 0..600 {
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
        let results = results.expect("the benchmark finished within 5 minutes");
        let parsed: serde_json::Value = serde_json::from_str(&results).expect("JSON results");
        println!("\n{} ({})", browser.name(), parsed["rounds"]);
        println!(
            "identical frames from both engines: {}",
            parsed["identical"]
        );
        println!(
            "the worker's own calibration sends frames from {} B to WebCrypto",
            parsed["crossover"]
        );
        println!(
            "{:>9} {:>10} {:>13} {:>17}",
            "frame", "wasm µs", "WebCrypto µs", "WebCrypto ÷ wasm"
        );
        for row in parsed["results"].as_array().into_iter().flatten() {
            let wasm = row["wasmUs"].as_f64().unwrap_or(f64::NAN);
            let web = row["webcryptoUs"].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:>7} B {:>10.1} {:>13.1} {:>17.2}",
                row["size"],
                wasm,
                web,
                web / wasm
            );
        }
        session.close().await.ok();
    }
}
