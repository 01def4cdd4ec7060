//! Helpers for Veilig's end-to-end tests: real browsers, driven over WebDriver, loading the
//! release build in `dist/` from a local static server.
//!
//! ```text
//!  test ──► Session::start(Browser) ──► driver.rs: chromedriver / geckodriver, free loopback port
//!   │            │                          └──► headless Chromium / Firefox, fresh profile
//!   │            └──► console.rs: the page's console errors and uncaught exceptions
//!   ├──► StaticServer::serve(dist) ──► every request and the status it got, recorded
//!   ├──► guests.rs: native participants (no browser) for large meetings
//!   └──► session.finish(outcome): on failure a screenshot and a report in target/test-artifacts/
//! ```
//!
//! What this does not do: build the app or install browsers. `cargo xtask test` does both, then
//! runs these tests. They are `#[ignore]`d so that a plain `cargo test` needs neither.
//!
//! Waiting is always for a condition (an element, a request), with a generous [`TIMEOUT`];
//! never a fixed sleep.
//!
//! Each test file compiles its own copy of this module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod browser;
pub mod codec_rule;
pub mod console;
pub mod coturn;
pub mod driver;
pub mod error;
pub mod guests;
pub mod lossy_udp;
pub mod mls_member;
pub mod netns;
pub mod recorder;
pub mod server;
pub mod stage;
pub mod tap;
pub mod wire_forms;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use browser::{Browser, Extra, Media, Session};
pub use console::ConsoleEntry;
pub use error::HarnessError;
pub use server::{Exchange, StaticServer};

/// How long a test waits for anything: a browser to start, an element to appear, a request to
/// arrive. Generous, because a cold 2-core CI machine is slow; a passing test never waits this
/// long, since every wait ends as soon as its condition holds.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// The workspace root (this crate's manifest directory).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The release build of the app, made by `trunk build --release` (`cargo xtask test` runs it),
/// or another build's `dist/` named by `VEILIG_DIST` (to time a test against the build before
/// it, when the protocol did not change).
///
/// The workspace's own `dist/` must be newer than every source of the app
/// ([`APP_SOURCES`]): one built before a merge or a pull runs another app than the tests
/// expect, and fails them far from the reason. That happened: a `dist/` from before chat lines
/// had their time of day failed `tests/meeting.rs` at "Cas's goodbye", which had arrived, and
/// was taken for a relay bug. `VEILIG_DIST` is another build on purpose, and is not checked.
pub fn dist_dir() -> Result<PathBuf, HarnessError> {
    let (dist, own) = match std::env::var_os("VEILIG_DIST") {
        Some(dist) => (PathBuf::from(dist), false),
        None => (workspace_root().join("dist"), true),
    };
    let index = dist.join("index.html");
    if !index.is_file() {
        return Err(HarnessError::DistMissing(dist));
    }
    if own {
        let built = std::fs::metadata(&index)?.modified()?;
        if let Some(changed) = newer_source(workspace_root(), built) {
            return Err(HarnessError::DistStale { dist, changed });
        }
    }
    Ok(dist)
}

/// What `trunk build` reads, relative to the workspace root: the app crate and the crates it
/// depends on.
pub const APP_SOURCES: &[&str] = &[
    "src",
    "static",
    "index.html",
    "Trunk.toml",
    "Cargo.toml",
    "Cargo.lock",
    "e2ee/src",
    "e2ee/Cargo.toml",
    "mls/src",
    "mls/Cargo.toml",
    "protocol/src",
    "protocol/Cargo.toml",
];

/// A file of [`APP_SOURCES`] under `root` changed after `built`, if one did.
pub fn newer_source(root: &Path, built: std::time::SystemTime) -> Option<PathBuf> {
    let mut pending: Vec<PathBuf> = APP_SOURCES.iter().map(|path| root.join(path)).collect();
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            let entries = std::fs::read_dir(&path).into_iter().flatten().flatten();
            pending.extend(entries.map(|entry| entry.path()));
        } else if metadata.modified().is_ok_and(|changed| changed > built) {
            return Some(path);
        }
    }
    None
}

/// Where failing tests leave screenshots and reports: `target/test-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("test-artifacts")
}

/// Where the proof tests leave their evidence: `target/proofs/`.
pub fn proofs_dir() -> PathBuf {
    artifacts_dir().with_file_name("proofs")
}

/// Fails the check with a formatted message unless `cond` holds: `ensure!(cond, "...", args)`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::common::HarnessError::Check(format!($($msg)+)));
        }
    };
}
