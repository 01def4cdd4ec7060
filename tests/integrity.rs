//! A server that serves modified code is refused by the browser: the real relay serves a copy of
//! `dist/` with one byte flipped in one file, and headless Chromium and Firefox must not run
//! it, while the unmodified copy runs in both.
//!
//! - the app's wasm, or its wasm-bindgen glue (`veilig-<hash>.js`): the app does not start (no
//!   start screen) and the console names the integrity failure;
//! - the frame-crypto worker's bootstrap (`static/frame-crypto-worker.js`) or its wasm: the
//!   start screen and lobby still show (the page is intact), but the worker never becomes
//!   ready and the page says why in the console, so no call can start.
//!
//! What protects each file is described in `xtask/src/dist.rs`. Runs in its own network
//! namespace (`common/netns.rs`), like the other tests of the whole app.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::app::*;
use common::{netns, Browser, HarnessError, Session};
use fantoccini::Locator;

/// Which file of the build a case modifies.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    Nothing,
    AppWasm,
    AppGlue,
    WorkerBootstrap,
    WorkerWasm,
}

impl Tamper {
    /// Whether this case's file is `name` (a path relative to `dist/`).
    fn targets(self, name: &str) -> bool {
        let app = name.starts_with("veilig-") && !name.starts_with("veilig-worker");
        match self {
            Tamper::Nothing => false,
            Tamper::AppWasm => app && name.ends_with("_bg.wasm"),
            Tamper::AppGlue => app && name.ends_with(".js"),
            Tamper::WorkerBootstrap => name == "static/frame-crypto-worker.js",
            Tamper::WorkerWasm => name == "veilig-worker_bg.wasm",
        }
    }

    /// Whether the page itself is modified (rather than the worker it starts later).
    fn breaks_the_page(self) -> bool {
        matches!(self, Tamper::AppWasm | Tamper::AppGlue)
    }
}

/// A copy of `dist` in a fresh directory with one byte flipped in the file `tamper` picks;
/// and that file's name.
fn tampered_copy(dist: &Path, tamper: Tamper) -> (tempfile::TempDir, Option<String>) {
    let dir = tempfile::tempdir().expect("a directory for the copy");
    let mut changed = None;
    copy_dir(dist, dir.path(), "", &mut |name, bytes| {
        if tamper.targets(name) {
            // The middle of the file, XOR 1: still ASCII in a script, so only the hash tells.
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            assert!(changed.is_none(), "{tamper:?} matches two files");
            changed = Some(name.to_owned());
        }
    });
    assert!(
        changed.is_some() || matches!(tamper, Tamper::Nothing),
        "no file in {} for {tamper:?}",
        dist.display()
    );
    (dir, changed)
}

fn copy_dir(from: &Path, to: &Path, prefix: &str, edit: &mut dyn FnMut(&str, &mut Vec<u8>)) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target, &format!("{name}/"), edit);
        } else {
            let mut bytes = std::fs::read(&path).unwrap();
            edit(&name, &mut bytes);
            std::fs::write(target, bytes).unwrap();
        }
    }
}

/// JavaScript: whether the frame-crypto worker reported ready (the call's own timeline mark).
const WORKER_READY: &str =
    r#"return performance.getEntriesByName("veilig:worker-ready").length > 0;"#;

/// Waits until a console error contains every one of `words`; returns the errors so far.
async fn console_says(
    session: &Session,
    words: &[&str],
) -> Result<Vec<common::ConsoleEntry>, HarnessError> {
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let errors = session.console_errors().await?;
        let found = errors.iter().any(|entry| {
            let text = entry.text.to_lowercase();
            words.iter().all(|word| text.contains(word))
        });
        if found {
            return Ok(errors);
        }
        ensure!(
            Instant::now() < deadline,
            "{}: no console error mentioning {words:?}; the errors: {errors:#?}",
            session.browser().name()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn check(session: &Session, base: &str, tamper: Tamper) -> Result<(), HarnessError> {
    session.goto(base).await?;
    if tamper.breaks_the_page() {
        // The browser names the failed check itself: Chromium "Failed to find a valid digest
        // in the 'integrity' attribute", Firefox "None of the "sha256" hashes in the integrity
        // attribute match".
        console_says(session, &["integrity"]).await?;
        let screens = session
            .client()
            .find_all(Locator::Css(r#"[data-testid="landing"], main, button"#))
            .await?;
        ensure!(
            screens.is_empty(),
            "{}: the modified app started anyway",
            session.browser().name()
        );
        return Ok(());
    }
    session.wait_for_test_id("landing").await?;
    // The lobby starts the worker ahead of joining (src/encryption/warm.rs).
    new_meeting(session, base, false).await?;
    if matches!(tamper, Tamper::Nothing) {
        join_as(session, "Integer").await?;
        wait_until(session, "the frame-crypto worker to be ready", WORKER_READY).await?;
        let errors = session.console_errors().await?;
        ensure!(
            !errors.iter().any(|e| e.text.contains("integrity")),
            "{}: the unmodified build has integrity errors: {errors:#?}",
            session.browser().name()
        );
    } else {
        // The page's own check (src/encryption/integrity.rs: the bootstrap), or the browser's
        // when the worker fetches its glue or wasm.
        console_says(session, &["integrity"]).await?;
        ensure!(
            eval(session, WORKER_READY).await? == serde_json::json!(false),
            "{}: the worker started from modified code",
            session.browser().name()
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_modified_app_or_worker_is_refused_and_the_real_one_runs() {
    if !netns::isolated("a_modified_app_or_worker_is_refused_and_the_real_one_runs") {
        return;
    }
    let dist = common::dist_dir().unwrap_or_else(|e| panic!("{e}"));
    for tamper in [
        Tamper::Nothing,
        Tamper::AppWasm,
        Tamper::AppGlue,
        Tamper::WorkerBootstrap,
        Tamper::WorkerWasm,
    ] {
        let (copy, changed) = tampered_copy(&dist, tamper);
        let served = copy.path().to_path_buf();
        let relay = start_relay_with(None, |config| config.static_dir = Some(served)).await;
        let base = format!("http://{}/", relay.http_addr);
        for browser in [Browser::Chromium, Browser::Firefox] {
            let session = Session::start(browser)
                .await
                .unwrap_or_else(|e| panic!("starting {}: {e}", browser.name()));
            let outcome = check(&session, &base, tamper).await;
            let context = format!("{tamper:?}: modified {changed:?}, served at {base}");
            session
                .finish(&format!("integrity-{tamper:?}"), outcome, &context)
                .await;
        }
        relay.shut_down().await;
    }
}
