//! Benchmark, not a check (`cargo xtask bench-browser` runs it; `cargo xtask test` skips
//! `bench_` tests): how long from opening an invite link to the first decrypted remote video
//! frame on screen, in headless Chromium, over loopback-like networking in a namespace, with
//! the real relay. Median of 5 fresh browsers, each with an empty cache.
//!
//! The joiner's link has `lobby=skip`, so the time is the app's own: loading, the camera,
//! starting the frame-crypto worker, joining, ICE and DTLS, the first key frame, decrypting and
//! decoding it. The page marks the moment (`veilig:first-remote-frame`, User Timing, measured
//! from navigation start) when the video element presents that frame.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{netns, Browser, Session, TIMEOUT};

const RUNS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run `cargo xtask bench-browser`"]
async fn bench_time_to_first_remote_frame() {
    if !netns::isolated("bench_time_to_first_remote_frame") {
        return;
    }
    let mut config = veilig_relay::Config::defaults();
    let ip: IpAddr = netns::RELAY_IP.parse().unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.udp = SocketAddr::new(ip, 0);
    config.public_ip = Some(ip);
    config.static_dir = Some(common::dist_dir().unwrap_or_else(|e| panic!("{e}")));
    let relay = veilig_relay::start(config).await.expect("relay");
    let base = format!("http://{}/", relay.http_addr);

    // The one already in the meeting, sending video.
    let host = Session::start(Browser::Chromium).await.expect("Chromium");
    host.goto(&base).await.unwrap();
    host.wait_for_test_id("new-meeting")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    host.wait_for_test_id("lobby").await.unwrap();
    let link = host.client().current_url().await.unwrap().to_string();
    let join = host.wait_for_test_id("join").await.unwrap();
    let deadline = Instant::now() + TIMEOUT;
    while !join.is_enabled().await.unwrap() {
        assert!(
            Instant::now() < deadline,
            "the host's devices never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    join.click().await.unwrap();
    host.wait_for_test_id("room").await.unwrap();

    let mut times = Vec::new();
    for run in 1..=RUNS {
        let guest = Session::start(Browser::Chromium).await.expect("Chromium");
        guest
            .goto(&format!("{link}&lobby=skip&name=Guest{run}"))
            .await
            .unwrap();
        let deadline = Instant::now() + TIMEOUT;
        let ms = loop {
            let value = guest
                .client()
                .execute(
                    "const m = performance.getEntriesByName('veilig:first-remote-frame')[0];
                     return m ? m.startTime : null;",
                    vec![],
                )
                .await
                .unwrap();
            if let Some(ms) = value.as_f64() {
                break ms;
            }
            assert!(Instant::now() < deadline, "run {run}: no remote frame");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        println!("run {run}: first decrypted remote frame {ms:.0} ms after opening the link");
        times.push(ms);
        guest.close().await.ok();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "time to first remote frame, median of {RUNS}: {:.0} ms (min {:.0}, max {:.0})",
        times[RUNS / 2],
        times[0],
        times[RUNS - 1]
    );
    host.close().await.ok();
    relay.shut_down().await;
}
