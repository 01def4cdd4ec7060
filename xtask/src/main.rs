//! `cargo xtask`: the project's two commands, as a small std-only Rust program so they work
//! the same on every machine with nothing but Rust installed.
//!
//! - `cargo xtask serve [--port N]`: installs what is missing (the wasm32 target, Trunk,
//!   wasm-bindgen-cli, wasm-opt), then `trunk serve --release` on 127.0.0.1.
//! - `cargo xtask test`: installs what is missing for that too, plus the browsers and their
//!   WebDriver servers, then runs every check, failing fast on the first that fails.
//! - `cargo xtask bench-browser`: the in-browser frame-crypto benchmark (not a check).
//! - `cargo xtask bench-peers`: Veilig against LiveKit's E2EE worker, the floor of a plain
//!   WebRTC call, and Janus (not a check).
//! - `cargo xtask soak-proofs [N]`: the three-browser proof and the relay-restart test, N runs
//!   each (not a check; see `soak.rs`).
//! - `cargo xtask soak-cluster [SECONDS]`: three relay nodes on nats-server, rooms joined and
//!   left at random, memory and file descriptors at start and end (not a check).
//! - `cargo xtask build`: the release build of the app alone, as `serve` and `test` make it.
//! - `cargo xtask hashes [DIR]`: the SHA-256 of every file of the build (`dist/`), to compare
//!   with what a relay serves at `/.well-known/veilig-dist.txt` (see `dist.rs`).
//! - `cargo xtask integrity`: Trunk's post-build hook (Trunk.toml), not for typing by hand.
//!
//! Each install is skipped when the tool is already there at the right version, so a second
//! run goes straight to work. What is done is printed as it happens. It does not manage
//! anything outside this project's needs: no global configuration, no version managers.

mod apt;
mod bench;
mod dist;
mod error;
mod exec;
mod manifest;
mod prebuild;
mod serve;
mod sha256;
mod soak;
mod soak_cluster;
mod test;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use error::Error;

const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  serve [--port N]  install what is missing, then serve the app (release build) on
                    http://127.0.0.1:N/ (default 8080), rebuilding on change
  build             install what is missing, then build the app for release into dist/
                    (reproducibly) and print the SHA-256 of every file
  test              install what is missing, then run every check: formatting, clippy,
                    native tests, the e2ee crate in headless Chromium and Firefox, the
                    release build, and page-load tests in both browsers
  bench-browser     the frame-crypto benchmark page in headless Chromium and Firefox
                    (wasm AES-GCM against WebCrypto), the time to the first remote
                    frame, and the decoded frame rate clean vs lossy; not part of `test`
  soak-cluster [S]  three relay nodes on nats-server, native guests joining and leaving
                    small rooms at random for S seconds (default 600); not part of `test`
  bench-peers       Veilig against the peers: frame encryption against LiveKit's E2EE
                    worker (Chromium and Firefox), the first remote frame against a plain
                    WebRTC call, and the relay against Janus; installs livekit-client (npm)
                    and janus (apt); not part of `test`
  hashes [DIR]      the SHA-256 of every file of the build in DIR (default dist/), as
                    sha256sum prints it: compare with /.well-known/veilig-dist.txt
  integrity         (Trunk's post-build hook) write the build's integrity values into
                    the staged index.html";

/// What the user asked for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve { port: u16 },
    Build,
    Test,
    BenchBrowser,
    BenchPeers,
    SoakProofs { runs: u32 },
    SoakCluster { seconds: u64 },
    Hashes { dir: Option<PathBuf> },
    Integrity,
    Help,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // A directory the user named is relative to where they typed it, not to the workspace.
    let cwd = std::env::current_dir().unwrap_or_default();
    let outcome = parse(&args).and_then(|command| {
        let root = workspace_root();
        exec::prepare_path();
        std::env::set_current_dir(&root).map_err(|e| {
            Error::Check(format!(
                "cannot enter the workspace {}: {e}",
                root.display()
            ))
        })?;
        match command {
            Command::Serve { port } => serve::run(&root, port),
            Command::Build => serve::build(&root),
            Command::Test => test::run_all(&root),
            Command::BenchBrowser => bench::run_browser(&root),
            Command::BenchPeers => bench::run_peers(&root),
            Command::SoakProofs { runs } => soak::run(&root, runs),
            Command::SoakCluster { seconds } => soak_cluster::run(&root, seconds),
            Command::Hashes { dir } => {
                dist::print(&dir.map_or_else(|| root.join("dist"), |dir| cwd.join(dir)))
            }
            Command::Integrity => dist::stamp_staged(&root),
            Command::Help => {
                println!("{USAGE}");
                Ok(())
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: error: {error}");
            if let Error::Usage(_) = error {
                eprintln!("\n{USAGE}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `arg` as a count of `what` (1 or more), or `default` when absent.
fn positive<T: std::str::FromStr + PartialOrd + From<u8>>(
    arg: Option<&str>,
    default: T,
    what: &str,
) -> Result<T, Error> {
    match arg {
        None => Ok(default),
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| *n >= T::from(1))
            .ok_or_else(|| Error::Usage(format!("`{n}` is not a number of {what} (1 or more)"))),
    }
}

fn parse(args: &[String]) -> Result<Command, Error> {
    let mut args = args.iter().map(String::as_str);
    let command = match args.next() {
        None | Some("help" | "--help" | "-h") => return Ok(Command::Help),
        Some("test") => Command::Test,
        Some("build") => Command::Build,
        Some("bench-browser") => Command::BenchBrowser,
        Some("bench-peers") => Command::BenchPeers,
        Some("integrity") => Command::Integrity,
        Some("soak-proofs") => Command::SoakProofs {
            runs: positive(args.next(), soak::DEFAULT_RUNS, "runs")?,
        },
        Some("soak-cluster") => Command::SoakCluster {
            seconds: positive(args.next(), soak_cluster::DEFAULT_SECONDS, "seconds")?,
        },
        Some("hashes") => {
            let dir = args.next().map(PathBuf::from);
            if let Some(extra) = args.next() {
                return Err(Error::Usage(format!("unexpected argument `{extra}`")));
            }
            return Ok(Command::Hashes { dir });
        }
        Some("serve") => {
            let mut port = 8080;
            while let Some(arg) = args.next() {
                let value = match arg.strip_prefix("--port=") {
                    Some(value) => value,
                    None if arg == "--port" || arg == "-p" => args
                        .next()
                        .ok_or_else(|| Error::Usage("--port needs a value".into()))?,
                    None => return Err(Error::Usage(format!("unknown option `{arg}` for serve"))),
                };
                port =
                    value.parse().ok().filter(|&p| p != 0).ok_or_else(|| {
                        Error::Usage(format!("`{value}` is not a port (1-65535)"))
                    })?;
            }
            return Ok(Command::Serve { port });
        }
        Some(other) => return Err(Error::Usage(format!("unknown command `{other}`"))),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(Error::Usage(format!("unexpected argument `{extra}`"))),
    }
}

/// The workspace root: xtask lives in its `xtask/` directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn serve_takes_a_port_in_either_form() {
        assert_eq!(
            parse(&args(&["serve"])).unwrap(),
            Command::Serve { port: 8080 }
        );
        assert_eq!(
            parse(&args(&["serve", "--port", "9000"])).unwrap(),
            Command::Serve { port: 9000 }
        );
        assert_eq!(
            parse(&args(&["serve", "--port=9001"])).unwrap(),
            Command::Serve { port: 9001 }
        );
    }

    #[test]
    fn soak_takes_a_count_of_runs() {
        assert_eq!(
            parse(&args(&["soak-proofs"])).unwrap(),
            Command::SoakProofs { runs: 10 }
        );
        assert_eq!(
            parse(&args(&["soak-proofs", "3"])).unwrap(),
            Command::SoakProofs { runs: 3 }
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for bad in [
            &["serve", "--port"][..],
            &["serve", "--port", "0"],
            &["serve", "--port", "70000"],
            &["serve", "--open"],
            &["test", "extra"],
            &["hashes", "a", "b"],
            &["soak-proofs", "0"],
            &["soak-proofs", "ten"],
            &["soak-proofs", "3", "4"],
            &["deploy"],
        ] {
            assert!(matches!(parse(&args(bad)), Err(Error::Usage(_))), "{bad:?}");
        }
    }
}
