//! Benchmark, not a check (`cargo xtask bench-browser` runs it; `cargo xtask test` skips
//! `bench_` tests): how long from opening an invite link to the first decrypted remote video
//! frame on screen, in headless Chromium, over loopback-like networking in a namespace, with
//! the real relay. Median of 5 fresh browsers, each with an empty cache.
//!
//! The joiner's link has `lobby=skip`, and a script in the page clicks "Join" the moment it is
//! enabled (`lobby=skip` alone no longer joins with the camera on outside an embed, so that no
//! website can send a visitor into a meeting with their camera on), so the time is the app's
//! own: loading, the camera,
//! starting the frame-crypto worker, joining, ICE and DTLS, the first key frame, decrypting and
//! decoding it. The page marks the moment (`veilig:first-remote-frame`, User Timing, measured
//! from navigation start) when the video element presents that frame, and marks the milestones
//! on the way there (`veilig::timeline`), so the benchmark also says where the time goes.
//!
//! To compare two builds side by side, set `VEILIG_BASELINE_DIST` to another build's `dist/`:
//! a second relay serves it, and the runs alternate between the two, so both see the same
//! machine load. It prints both medians and their ratio. When the protocol changed between the
//! two (the baseline app cannot join this relay), also set `VEILIG_BASELINE_RELAY` to the
//! baseline's own relay binary (`cargo build --release -p veilig-relay` in its checkout): it
//! runs as a child process in the same network namespace.
//!
//! `bench_join_against_the_floor` (run by `cargo xtask bench-peers`) puts the floor beside it:
//! a bare page (`bench/peers/page/floor.html`) that opens the same fake camera and makes a plain
//! unencrypted WebRTC call between two peer connections in the page (no app, worker, SFrame or
//! relay), timed the same way, runs alternating with Veilig's in the same namespace.
#![cfg(not(target_arch = "wasm32"))]

mod common;

/// Clicks the lobby's "Join" as soon as it is enabled, as a user in a hurry would, with no
/// WebDriver round trip in the measured time. (A build where `lobby=skip` joins by itself,
/// such as a baseline, never shows an enabled button: nothing to click.)
const CLICK_JOIN: &str = r#"new MutationObserver((_, observer) => {
    const join = document.querySelector('[data-testid="join"]');
    if (join && !join.disabled) { observer.disconnect(); join.click(); }
}).observe(document, { subtree: true, childList: true, attributes: true });"#;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::app::{join_as, new_meeting, start_relay_with};
use common::{netns, Browser, Session, StaticServer, TIMEOUT};
use veilig::timeline::Milestone;

const RUNS: usize = 5;

/// A build under test: a relay serving it and a Chromium already in a meeting there, sending
/// video; `link` is that meeting's invite link.
struct Meeting {
    relay: Relay,
    host: Session,
    link: String,
    times: Times,
}

/// Link options a meeting is made with: `""` for the link's own keys, `"&keys=mls"` for keys
/// from the meeting's MLS group.
type KeysOption = &'static str;

/// The times to the first remote frame of one side, and each run's milestones.
struct Times {
    label: &'static str,
    times: Vec<f64>,
    runs: Vec<Vec<(String, f64)>>,
}

impl Meeting {
    async fn start(label: &'static str, dist: PathBuf, binary: Option<PathBuf>) -> Meeting {
        Meeting::start_with(label, dist, binary, "").await
    }

    /// [`Meeting::start`], the meeting's link carrying `keys` (the host joins it, and so does
    /// every run).
    async fn start_with(
        label: &'static str,
        dist: PathBuf,
        binary: Option<PathBuf>,
        keys: KeysOption,
    ) -> Meeting {
        let relay = match binary {
            Some(binary) => Relay::child(&binary, &dist).await,
            // The relay the app's tests use, serving `dist` instead of `dist/`.
            None => Relay::InProcess(Box::new(
                start_relay_with(None, |config| config.static_dir = Some(dist)).await,
            )),
        };
        let base = format!("http://{}/", relay.http_addr());
        let host = Session::start(Browser::Chromium).await.expect("Chromium");
        let link = new_meeting(&host, &base, false)
            .await
            .unwrap_or_else(|e| panic!("{label}: starting the meeting: {e}"));
        let link = format!("{link}{keys}");
        if !keys.is_empty() {
            host.goto("about:blank").await.expect("a blank page");
            host.goto(&link)
                .await
                .expect("the meeting with its keys option");
        }
        join_as(&host, "Host")
            .await
            .unwrap_or_else(|e| panic!("{label}: joining it: {e}"));
        Meeting {
            relay,
            host,
            link,
            times: Times::new(label),
        }
    }

    /// One fresh Chromium opens the link and waits for the first remote frame.
    async fn run(&mut self, run: usize) {
        let guest = Session::start(Browser::Chromium).await.expect("Chromium");
        guest
            .add_init_script(CLICK_JOIN)
            .await
            .expect("init script");
        guest
            .goto(&format!("{}&lobby=skip&name=Guest{run}", self.link))
            .await
            .unwrap();
        self.times.wait_for_first_frame(&guest, run).await;
        guest.close().await.ok();
    }

    /// Prints the median and the median of every milestone; returns the median.
    fn report(&mut self) -> f64 {
        self.times.report()
    }
    async fn close(self) {
        self.host.close().await.ok();
        match self.relay {
            Relay::InProcess(relay) => relay.shut_down().await,
            Relay::Child(mut child, _) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Times {
    fn new(label: &'static str) -> Times {
        Times {
            label,
            times: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Waits until `guest`'s page marks its first remote frame; keeps the time and milestones.
    async fn wait_for_first_frame(&mut self, guest: &Session, run: usize) {
        let deadline = Instant::now() + TIMEOUT;
        let ms = loop {
            let value = guest
                .client()
                .execute(
                    "const m = performance.getEntriesByName(arguments[0])[0];
                     return m ? m.startTime : null;",
                    vec![serde_json::json!(Milestone::FirstRemoteFrame.mark_name())],
                )
                .await
                .unwrap();
            if let Some(ms) = value.as_f64() {
                break ms;
            }
            assert!(Instant::now() < deadline, "run {run}: no remote frame");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let marks = milestones(guest).await;
        println!(
            "{} run {run}: first remote frame {ms:.0} ms after opening the page; {}",
            self.label,
            marks
                .iter()
                .map(|(name, at)| format!("{name} {at:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.times.push(ms);
        self.runs.push(marks);
    }

    /// Prints the median and the median of every milestone; returns the median.
    fn report(&mut self) -> f64 {
        let runs = self.times.len();
        self.times.sort_by(f64::total_cmp);
        let median = self.times[runs / 2];
        println!(
            "{}: time to first remote frame, median of {runs}: {median:.0} ms (min {:.0}, max {:.0})",
            self.label,
            self.times[0],
            self.times[runs - 1]
        );
        println!(
            "{}: milestones, median of {runs} (ms after opening the link):",
            self.label
        );
        for (name, _) in &self.runs[0] {
            let mut at: Vec<f64> = self
                .runs
                .iter()
                .filter_map(|r| r.iter().find(|m| &m.0 == name).map(|m| m.1))
                .collect();
            at.sort_by(f64::total_cmp);
            println!("  {name:<24} {:>6.0}", at[at.len() / 2]);
        }
        median
    }

    /// The median of milestone `name` over the runs that marked it.
    fn milestone(&self, name: &str) -> Option<f64> {
        let mut at: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.iter().find(|m| m.0 == name).map(|m| m.1))
            .collect();
        at.sort_by(f64::total_cmp);
        at.get(at.len() / 2).copied()
    }
}

/// This build's relay, in-process, or another build's, as a child process.
enum Relay {
    InProcess(Box<veilig_relay::Relay>),
    Child(std::process::Child, SocketAddr),
}

impl Relay {
    /// `binary` serving `dist`, on a free loopback port, media on the namespace's address.
    async fn child(binary: &Path, dist: &Path) -> Relay {
        let port = |bind: &str| {
            std::net::TcpListener::bind(bind)
                .and_then(|l| l.local_addr())
                .expect("a free port")
        };
        let http = port("127.0.0.1:0");
        let udp = port(&format!("{}:0", netns::RELAY_IP));
        let child = std::process::Command::new(binary)
            .arg("--listen")
            .arg(http.to_string())
            .arg("--udp")
            .arg(udp.to_string())
            .arg("--public-ip")
            .arg(netns::RELAY_IP)
            .arg("--static-dir")
            .arg(dist)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let deadline = Instant::now() + TIMEOUT;
        while tokio::net::TcpStream::connect(http).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the baseline relay never listened"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Relay::Child(child, http)
    }

    fn http_addr(&self) -> SocketAddr {
        match self {
            Relay::InProcess(relay) => relay.http_addr,
            Relay::Child(_, http) => *http,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run `cargo xtask bench-browser`"]
async fn bench_time_to_first_remote_frame() {
    if !netns::isolated("bench_time_to_first_remote_frame") {
        return;
    }
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut this = Meeting::start("this build", dist, None).await;
    let baseline_relay = std::env::var_os("VEILIG_BASELINE_RELAY").map(PathBuf::from);
    let mut baseline = match std::env::var_os("VEILIG_BASELINE_DIST") {
        Some(dist) => Some(Meeting::start("baseline", PathBuf::from(dist), baseline_relay).await),
        None => None,
    };
    for run in 1..=RUNS {
        this.run(run).await;
        if let Some(baseline) = &mut baseline {
            baseline.run(run).await;
        }
    }
    let median = this.report();
    if let Some(mut baseline) = baseline {
        let before = baseline.report();
        println!(
            "this build / baseline, medians of {RUNS} side by side: {:.2}",
            median / before
        );
        baseline.close().await;
    }
    this.close().await;
}

/// Keys from the meeting's MLS group against the link's own, in this build, runs alternating in
/// one namespace on one relay: what MLS adds to the join (the worker creating a key package,
/// the host's worker committing the add, the Welcome, the first epoch's keys). Prints both
/// medians and their ratio (issue 18 asks for at most 1.15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run `cargo xtask bench-browser`"]
async fn bench_first_frame_with_mls_against_link_keys() {
    if !netns::isolated("bench_first_frame_with_mls_against_link_keys") {
        return;
    }
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut link = Meeting::start_with("link keys", dist.clone(), None, "").await;
    let mut mls = Meeting::start_with("MLS keys", dist, None, "&keys=mls").await;
    for run in 1..=RUNS {
        mls.run(run).await;
        link.run(run).await;
    }
    let with_mls = mls.report();
    let before = link.report();
    println!(
        "MLS / link keys, medians of {RUNS} side by side: {:.2}",
        with_mls / before
    );
    mls.close().await;
    link.close().await;
}

/// The floor beside Veilig's join, runs alternating in one namespace: a fresh Chromium opens
/// the bare page (`bench/peers/page/floor.html`: the same fake camera, a plain unencrypted call
/// between two peer connections in the page), and another opens Veilig's invite link. Prints
/// both medians, their ratio, and the milestones both mark side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run `cargo xtask bench-peers`"]
async fn bench_join_against_the_floor() {
    if !netns::isolated("bench_join_against_the_floor") {
        return;
    }
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut veilig = Meeting::start("Veilig", dist, None).await;
    let pages = common::workspace_root().join("bench/peers/page");
    let server = StaticServer::serve(&pages).expect("a static server for the floor page");
    let mut floor = Times::new("floor");
    for run in 1..=RUNS {
        veilig.run(run).await;
        let bare = Session::start(Browser::Chromium).await.expect("Chromium");
        bare.goto(&server.url("/floor.html")).await.unwrap();
        floor.wait_for_first_frame(&bare, run).await;
        bare.close().await.ok();
    }
    let ours = veilig.report();
    let bare = floor.report();
    println!(
        "Veilig / floor, medians of {RUNS} side by side: {:.2}",
        ours / bare
    );
    println!("milestone medians, ms after opening the page: Veilig | floor");
    for m in Milestone::ALL {
        let name = m.mark_name().replace("veilig:", "");
        let cell = |t: &Times| {
            t.milestone(&name)
                .map_or("-".to_owned(), |v| format!("{v:.0}"))
        };
        println!(
            "  {name:<24} {:>6} | {:>6}",
            cell(&veilig.times),
            cell(&floor)
        );
    }
    veilig.close().await;
}

/// When the page passed each of the app's milestones (`veilig::timeline`), and when its two
/// wasm files (the app's and the worker's) had arrived, in ms from opening the link, in the
/// order of the timeline; a milestone the page did not mark is left out.
async fn milestones(guest: &Session) -> Vec<(String, f64)> {
    let names: Vec<&str> = Milestone::ALL.iter().map(|m| m.mark_name()).collect();
    let value = guest
        .client()
        .execute(
            "const out = [];
             for (const r of performance.getEntriesByType('resource'))
               if (r.name.endsWith('.wasm'))
                 out.push([r.name.includes('worker') ? 'worker wasm loaded' : 'app wasm loaded',
                           r.responseEnd]);
             for (const name of arguments[0]) {
               const m = performance.getEntriesByName(name)[0];
               if (m) out.push([name.replace('veilig:', ''), m.startTime]);
             }
             return out;",
            vec![serde_json::json!(names)],
        )
        .await
        .unwrap();
    let mut marks: Vec<(String, f64)> = serde_json::from_value(value).unwrap();
    marks.sort_by(|a, b| a.1.total_cmp(&b.1));
    marks
}
