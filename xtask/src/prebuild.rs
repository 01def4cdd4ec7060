//! The cargo-installed tools (wasm-bindgen-cli, geckodriver, trunk) compiled in the background
//! from the start, at the lowest CPU priority.
//!
//! Why: on a fresh 2-core machine they take 15 minutes or more to compile, and the test command
//! needs none of them before its browser steps. The compiles and tests before those steps leave
//! a core idle much of the time (single crates at the end of a build, linking, tests waiting on
//! sockets). A `nice -n 19` build there takes only that idle time: the foreground keeps its
//! speed, its time-sensitive tests included, and the tools are ready sooner than if compiled
//! in turn.
//!
//! This is an optimisation only: each foreground step still checks its tool (`tools.rs`) and
//! installs it itself if the background build failed. The builds' output goes to
//! `target/xtask/tools.log`; it is shown when one fails.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::error::Error;
use crate::exec::{self, describe};
use crate::tools::CargoTool;

/// The background builds, in progress or done.
pub struct Prebuild {
    /// Outcome per crate, as each build ends.
    done: Receiver<(&'static str, bool)>,
    outcomes: HashMap<&'static str, bool>,
    pending: Vec<&'static str>,
    /// The process group of the build running now, to stop it if xtask stops early.
    running: Arc<Mutex<Option<u32>>>,
    log: PathBuf,
}

/// Starts building `tools`, one after another, in the background.
pub fn start(root: &Path, tools: Vec<CargoTool>) -> Result<Prebuild, Error> {
    let log = root.join("target/xtask/tools.log");
    let (sender, done) = mpsc::channel();
    let running = Arc::new(Mutex::new(None));
    let pending: Vec<&'static str> = tools.iter().map(|tool| tool.krate).collect();
    if tools.is_empty() {
        return Ok(Prebuild {
            done,
            outcomes: HashMap::new(),
            pending,
            running,
            log,
        });
    }
    let file = exec::create_log(&log)?;
    println!(
        "    building {} in the background, at the lowest priority (log: {})",
        pending.join(", "),
        log.display()
    );
    let group = running.clone();
    thread::Builder::new()
        .name("prebuild".into())
        .spawn(move || {
            for tool in tools {
                let ok = build(&tool, &file, &group);
                if sender.send((tool.krate, ok)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| exec::io_error(&log, e))?;
    Ok(Prebuild {
        done,
        outcomes: HashMap::new(),
        pending,
        running,
        log,
    })
}

/// Runs one build, niced, in a process group of its own; whether it succeeded.
fn build(tool: &CargoTool, log: &File, running: &Mutex<Option<u32>>) -> bool {
    let install = tool.command();
    let mut command = Command::new("nice");
    command.args(["-n", "19"]).arg(install.get_program());
    command.args(install.get_args());
    for (key, value) in install.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
        return false;
    };
    let mut writer = log;
    let _ = writeln!(writer, "$ {}", describe(&command));
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    *running.lock().unwrap_or_else(|p| p.into_inner()) = Some(child.id());
    let ok = child.wait().is_ok_and(|status| status.success());
    *running.lock().unwrap_or_else(|p| p.into_inner()) = None;
    ok
}

impl Prebuild {
    /// Waits until the background build of `krate` has ended, if one was started. A failed
    /// build is reported (the end of its log); the caller's own check then installs it.
    pub fn wait_for(&mut self, krate: &str) {
        let Some(&krate) = self.pending.iter().find(|k| **k == krate) else {
            return;
        };
        if !self.outcomes.contains_key(krate) {
            println!("    waiting for the background build of {krate}");
        }
        while !self.outcomes.contains_key(krate) {
            match self.done.recv() {
                Ok((name, ok)) => {
                    self.outcomes.insert(name, ok);
                }
                // The thread is gone without a word on `krate`: treat as failed.
                Err(_) => {
                    self.outcomes.insert(krate, false);
                }
            }
        }
        if self.outcomes.get(krate) == Some(&false) {
            exec::print_log_tail(&format!("the background build of {krate}"), &self.log, 30);
        }
    }
}

impl Drop for Prebuild {
    /// Stops a build still running when xtask ends early (a failed check): nothing is left
    /// compiling after the command has returned.
    fn drop(&mut self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(group) = running {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{group}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tool(krate: &'static str) -> CargoTool {
        CargoTool {
            krate,
            version: None,
            locked: false,
            unoptimised: false,
        }
    }

    #[test]
    fn waiting_for_a_tool_that_was_not_missing_returns_at_once() {
        let dir = tempdir();
        let mut prebuild = start(&dir, Vec::new()).unwrap();
        prebuild.wait_for("trunk");
        assert!(prebuild.outcomes.is_empty());
    }

    #[test]
    fn a_failed_build_is_recorded_and_the_next_one_still_runs() {
        // `cargo install` of crates that do not exist fails fast, offline or not.
        let dir = tempdir();
        let mut prebuild = start(
            &dir,
            vec![
                tool("veilig-no-such-crate-one"),
                tool("veilig-no-such-crate-two"),
            ],
        )
        .unwrap();
        prebuild.wait_for("veilig-no-such-crate-two");
        assert_eq!(
            prebuild.outcomes.get("veilig-no-such-crate-one"),
            Some(&false)
        );
        assert_eq!(
            prebuild.outcomes.get("veilig-no-such-crate-two"),
            Some(&false)
        );
        let log = fs::read_to_string(dir.join("target/xtask/tools.log")).unwrap();
        assert!(log.contains("$ ") && log.contains("nice -n 19"), "{log}");
        assert!(log.contains("veilig-no-such-crate-two"), "{log}");
    }

    fn tempdir() -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-prebuild-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
