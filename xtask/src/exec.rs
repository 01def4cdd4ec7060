//! Running other programs, the same way everywhere: each command line is printed before it
//! runs, inherits the terminal so its own progress shows (cargo's, apt's, npm's), and a failure
//! becomes an [`Error`] that names the command. Steps are announced and timed.
//!
//! No command is run through a shell, so nothing is ever re-quoted or expanded.

use std::env;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::tools;

/// Puts Cargo's bin directory (where `cargo install` puts trunk, wasm-bindgen, geckodriver)
/// and xtask's tool cache (wasm-opt) first on this process's `PATH`, so that the tools it
/// installs are found by it and by every program it starts, whatever the caller's `PATH`.
/// Called once, before any thread exists.
pub fn prepare_path() {
    let current = env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = vec![tools::wasm_opt_bin_dir(), cargo_bin_dir()];
    dirs.extend(env::split_paths(&current));
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let fresh = !seen.contains(d);
        seen.push(d.clone());
        fresh
    });
    if let Ok(path) = env::join_paths(dirs) {
        env::set_var("PATH", path);
    }
}

/// `$CARGO_HOME/bin`, by default `~/.cargo/bin`.
pub fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".cargo"))
        .join("bin")
}

/// `$HOME`, or `/root` when unset (a bare CI container).
pub fn home_dir() -> PathBuf {
    env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// The cargo that runs xtask (`$CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Prints `command`, runs it with the terminal, and fails unless it exits successfully.
pub fn run(command: &mut Command) -> Result<(), Error> {
    let line = describe(command);
    println!("    $ {line}");
    let status = command.status().map_err(|e| missing(command, e.kind()))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command: line,
            status,
        })
    }
}

/// Runs `program args` quietly and returns what it printed (stdout, else stderr), trimmed, if it
/// exited successfully: for asking a tool its version.
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = if output.stdout.is_empty() {
        output.stderr
    } else {
        output.stdout
    };
    Some(String::from_utf8_lossy(&text).trim().to_owned())
}

/// The first `program` on `PATH`.
pub fn find(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The command line as the user could type it (environment overrides first).
pub fn describe(command: &Command) -> String {
    let mut parts: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| {
            let value = value?.to_string_lossy();
            // PATH is ours (see `prepare_path`); printing it would only be noise.
            (key != "PATH").then(|| format!("{}={value}", key.to_string_lossy()))
        })
        .collect();
    parts.push(command.get_program().to_string_lossy().into_owned());
    parts.extend(command.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn missing(command: &Command, kind: ErrorKind) -> Error {
    let program = command.get_program().to_string_lossy().into_owned();
    let hint = if kind == ErrorKind::NotFound {
        "it is not installed or not on PATH".to_owned()
    } else {
        format!("{kind}")
    };
    Error::Missing { program, hint }
}

/// A named, timed part of a command's work.
pub struct Step {
    title: String,
    start: Instant,
}

/// Announces a step.
pub fn step(title: impl Into<String>) -> Step {
    let title = title.into();
    println!("\n==> {title}");
    Step {
        title,
        start: Instant::now(),
    }
}

impl Step {
    /// Ends the step, printing and returning how long it took.
    pub fn done(self) -> (String, Duration) {
        let took = self.start.elapsed();
        println!("    done in {}", minutes(took));
        (self.title, took)
    }
}

/// `1m 05s`, or `4.2s` under a minute.
pub fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

/// Creates (or empties) the log file of a background job, with its directory.
pub fn create_log(path: &std::path::Path) -> Result<std::fs::File, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(path, e))?;
    }
    std::fs::File::create(path).map_err(|e| io_error(path, e))
}

/// A file operation on `path` that failed, as an [`Error`].
pub fn io_error(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Tool(format!("{}: {e}", path.display()))
}

/// Prints the last `lines` lines of the log at `path`, after `what` failed.
pub fn print_log_tail(what: &str, path: &std::path::Path, lines: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(lines).collect();
    println!("    {what} failed; the end of {}:", path.display());
    for line in tail.into_iter().rev() {
        println!("    | {line}");
    }
}
