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
pub fn dist_dir() -> Result<PathBuf, HarnessError> {
    let dist = std::env::var_os("VEILIG_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("dist"));
    if dist.join("index.html").is_file() {
        Ok(dist)
    } else {
        Err(HarnessError::DistMissing(dist))
    }
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
