//! The browsers for the tests (Chromium, chromedriver, Firefox ESR), nftables for the tests of
//! networks that block UDP or everything but a TURN server, and coturn for the latter, from
//! Debian, installed by `apt-get` in the background: on a fresh machine the download and
//! unpacking overlap the compiles that come before any browser is needed, instead of adding
//! minutes in front of them.
//!
//! apt's output goes to `target/xtask/apt.log`, not the terminal, where it would interleave
//! with cargo's; it is shown if the install fails. An install in progress is always waited for,
//! even when xtask stops early on another failure, so dpkg is never left half-done.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};

use crate::error::Error;
use crate::exec::{self, describe, probe};

/// Debian packages for the tests: the browsers, `nft` (`tests/network.rs` firewalls
/// its network namespace), coturn (`tests/network.rs` runs a call through its
/// `turnserver`, started by the test itself: the package's own service stays off) and
/// nats-server (`relay/tests/cluster.rs` starts its own, with JetStream).
const PACKAGES: [&str; 6] = [
    "chromium",
    "chromium-driver",
    "firefox-esr",
    "nftables",
    "coturn",
    "nats-server",
];

/// The browsers, present or being installed.
pub struct BrowserInstall {
    worker: Option<JoinHandle<Result<(), Error>>>,
    log: PathBuf,
}

/// Checks the packages and starts installing the missing ones in the background.
pub fn start(root: &Path) -> Result<BrowserInstall, Error> {
    let log = root.join("target/xtask/apt.log");
    if exec::find("dpkg-query").is_none() {
        return Err(Error::Tool(
            "this is not a Debian-like system: install Chromium, chromedriver and Firefox ESR \
             yourself, and put chromedriver and geckodriver on PATH"
                .into(),
        ));
    }
    let missing: Vec<&'static str> = PACKAGES
        .into_iter()
        .filter(|package| {
            probe("dpkg-query", &["-W", "-f=${Status}", package])
                .is_none_or(|status| !status.ends_with("ok installed"))
        })
        .collect();
    if missing.is_empty() {
        let versions = PACKAGES.map(|p| {
            let v = probe("dpkg-query", &["-W", "-f=${Version}", p]).unwrap_or_default();
            format!("{p} {v}")
        });
        println!("    ok: {}", versions.join(", "));
        return Ok(BrowserInstall { worker: None, log });
    }

    let sudo = needs_sudo()?;
    let apt = move |args: &[&str]| {
        let mut command = Command::new(if sudo { "sudo" } else { "apt-get" });
        if sudo {
            // -n: never prompt; there may be no terminal (CI has no stdin).
            command.args(["-n", "apt-get"]);
        }
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        command
    };
    let mut install = apt(&["install", "-y"]);
    install.args(&missing);
    let commands = vec![apt(&["update"]), install];

    let file = exec::create_log(&log)?;
    println!(
        "    installing {} with apt-get, in the background (log: {})",
        missing.join(" "),
        log.display()
    );
    let worker = thread::Builder::new()
        .name("apt-get".into())
        .spawn(move || run_logged(commands, file))
        .map_err(|e| exec::io_error(&log, e))?;
    Ok(BrowserInstall {
        worker: Some(worker),
        log,
    })
}

impl BrowserInstall {
    /// Waits for the install, if one is running, and reports how it went.
    pub fn wait(&mut self) -> Result<(), Error> {
        let Some(worker) = self.worker.take() else {
            return Ok(());
        };
        println!("    waiting for apt-get (log: {})", self.log.display());
        let outcome = worker
            .join()
            .unwrap_or_else(|_| Err(Error::Tool("the apt-get thread panicked".into())));
        match &outcome {
            Ok(()) => println!("    installed: {}", PACKAGES.join(", ")),
            Err(_) => exec::print_log_tail("apt-get", &self.log, 40),
        }
        outcome
    }
}

impl Drop for BrowserInstall {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            println!(
                "\nxtask: stopping; first waiting for the background apt-get to finish, so that \
                 dpkg is not left half-done"
            );
            let _ = worker.join();
        }
    }
}

/// Runs `commands` one after another with their output in `log`; stops at the first failure.
fn run_logged(commands: Vec<Command>, mut log: File) -> Result<(), Error> {
    for mut command in commands {
        let line = describe(&command);
        let _ = writeln!(log, "$ {line}");
        let out = log
            .try_clone()
            .map_err(|e| exec::io_error(Path::new("apt.log"), e))?;
        let err = log
            .try_clone()
            .map_err(|e| exec::io_error(Path::new("apt.log"), e))?;
        let status = command
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| Error::Missing {
                program: line.clone(),
                hint: e.to_string(),
            })?;
        if !status.success() {
            return Err(Error::Failed {
                command: line,
                status,
            });
        }
    }
    Ok(())
}

/// Whether apt-get needs `sudo`: not as root, which is the usual case on CI and here.
fn needs_sudo() -> Result<bool, Error> {
    if probe("id", &["-u"]).as_deref() == Some("0") {
        Ok(false)
    } else if exec::find("sudo").is_some() {
        Ok(true)
    } else {
        Err(Error::Tool(
            "installing the browsers needs root: run as root, or install sudo".into(),
        ))
    }
}
