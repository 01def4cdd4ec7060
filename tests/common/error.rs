//! Everything that can stop a browser test, as one type, so a test body is a plain
//! `async fn ... -> Result<(), HarnessError>` and its failure report can say what happened.
//!
//! Setup problems (no `dist/` or an outdated one, no driver) say how to fix them; [`HarnessError::Check`] is an
//! expectation about the page that did not hold.

use std::path::PathBuf;

use fantoccini::error::{CmdError, NewSessionError};

/// Why a browser test failed.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The release build is missing.
    #[error(
        "{} has no index.html: run `cargo xtask test`, which builds the app with \
         `trunk build --release` before it runs the browser tests",
        .0.display()
    )]
    DistMissing(PathBuf),
    /// The release build is older than the app's sources: it runs another app than the tests
    /// expect.
    #[error(
        "{} was built before {} last changed: the browsers would run an older app than these \
         tests expect. Run `cargo xtask build` (or `cargo xtask test`) first",
        .dist.display(),
        .changed.display()
    )]
    DistStale {
        /// The build.
        dist: PathBuf,
        /// A source file newer than it.
        changed: PathBuf,
    },
    /// A browser or WebDriver binary is not installed.
    #[error("{name} not found (looked in {looked}): run `cargo xtask test`, which installs it")]
    ToolMissing {
        /// The program, e.g. `geckodriver`.
        name: &'static str,
        /// Where it was looked for.
        looked: String,
    },
    /// A WebDriver server did not answer `/status` with `ready` in time, or exited.
    #[error("{driver} did not become ready: {reason}; its output:\n{output}")]
    DriverNotReady {
        /// `chromedriver` or `geckodriver`.
        driver: &'static str,
        /// Timed out, or the exit status.
        reason: String,
        /// What it printed.
        output: String,
    },
    /// The browser could not be started.
    #[error("could not start a WebDriver session: {0}")]
    NewSession(Box<NewSessionError>),
    /// A WebDriver command failed (including timed-out waits for elements).
    #[error("WebDriver command failed: {0}")]
    Command(Box<CmdError>),
    /// The WebDriver BiDi connection (Firefox's console) failed.
    #[error("WebDriver BiDi: {0}")]
    Bidi(String),
    /// A condition did not come true in time.
    #[error("timed out after {secs}s waiting for {what}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long we waited.
        secs: u64,
    },
    /// An expectation about the page did not hold.
    #[error("{0}")]
    Check(String),
    /// Local IO: sockets, files, processes.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<NewSessionError> for HarnessError {
    fn from(e: NewSessionError) -> Self {
        Self::NewSession(Box::new(e))
    }
}

impl From<CmdError> for HarnessError {
    fn from(e: CmdError) -> Self {
        Self::Command(Box::new(e))
    }
}
