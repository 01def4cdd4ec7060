//! Installing what the commands need, each only when it is missing or at the wrong version,
//! so a second run skips straight to the work. Every check prints what it found.
//!
//! | tool | version from | installed with |
//! |---|---|---|
//! | rustfmt, clippy, `wasm32-unknown-unknown` | the active toolchain | `rustup` |
//! | trunk | [`TRUNK_VERSION`] | `cargo install --locked` |
//! | wasm-bindgen-cli (+ test runner) | `Cargo.lock` (must equal the crate) | `cargo install` |
//! | wasm-opt | `Trunk.toml` `[tools] wasm_opt` | npm `binaryen`, into xtask's cache |
//! | chromium, chromium-driver, firefox-esr | Debian | `apt-get`, in the background (`apt.rs`) |
//! | geckodriver | latest | `cargo install --locked` |
//!
//! Nothing is downloaded except through those package managers: Trunk itself runs offline
//! (see Trunk.toml) and finds these tools on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;
use crate::exec::{self, probe, run};
use crate::manifest;

/// The Trunk release the project is built with.
pub const TRUNK_VERSION: &str = "0.21.14";
/// The browser's Rust target.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// rustfmt, clippy and the wasm32 target for the active toolchain.
pub fn rust_toolchain() -> Result<(), Error> {
    let cargo = exec::cargo().get_program().to_owned();
    let cargo = cargo.to_string_lossy();
    let fmt = probe(&cargo, &["fmt", "--version"]);
    let clippy = probe(&cargo, &["clippy", "--version"]);
    if let (Some(fmt), Some(clippy)) = (&fmt, &clippy) {
        println!("    ok: {fmt}; {clippy}");
    } else {
        println!("    installing rustfmt and clippy");
        run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]))?;
    }

    let installed = probe("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|t| t.trim() == WASM_TARGET) {
        println!("    ok: target {WASM_TARGET}");
        Ok(())
    } else {
        println!("    installing target {WASM_TARGET}");
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
    }
}

/// Trunk, at [`TRUNK_VERSION`].
pub fn trunk() -> Result<(), Error> {
    let want = format!("trunk {TRUNK_VERSION}");
    ensure_version("trunk", &["--version"], &want, || {
        cargo_install(&trunk_tool(), "about 10 minutes on 2 cores")
    })
}

/// wasm-bindgen-cli (`wasm-bindgen` and `wasm-bindgen-test-runner`) at the version of the
/// `wasm-bindgen` crate in Cargo.lock: their schemas must match exactly.
pub fn wasm_bindgen(root: &Path) -> Result<(), Error> {
    let version = manifest::locked_version(root, "wasm-bindgen")?;
    let install = || cargo_install(&wasm_bindgen_tool(&version), "about 5 minutes");
    ensure_version(
        "wasm-bindgen",
        &["--version"],
        &format!("wasm-bindgen {version}"),
        install,
    )?;
    let want = format!("wasm-bindgen-test-runner {version}");
    ensure_version("wasm-bindgen-test-runner", &["--version"], &want, install)
}

/// Where xtask installs binaryen from npm: `$XDG_CACHE_HOME/veilig/tools/binaryen`, by
/// default under `~/.cache`. Outside `target/`, so `cargo clean` does not throw it away.
fn binaryen_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map_or_else(|| exec::home_dir().join(".cache"), PathBuf::from)
        .join("veilig/tools/binaryen")
}

/// The directory holding the cached `wasm-opt`; first on `PATH` (see `exec::prepare_path`).
pub fn wasm_opt_bin_dir() -> PathBuf {
    binaryen_dir().join("node_modules/.bin")
}

/// wasm-opt at the version Trunk.toml asks for (e.g. `version_132`), from npm's `binaryen`
/// package: Debian's binaryen is too old for the wasm today's Rust emits.
pub fn wasm_opt(root: &Path) -> Result<(), Error> {
    let want = manifest::trunk_tool_version(root, "wasm_opt")?;
    let number = want.strip_prefix("version_").ok_or_else(|| {
        Error::Manifest(format!(
            "Trunk.toml: wasm_opt should look like `version_132`, not `{want}`"
        ))
    })?;
    // Trunk's own reading of `wasm-opt --version`: "wasm-opt version 132 (version_132)".
    let found = || {
        probe("wasm-opt", &["--version"])
            .and_then(|out| out.split(' ').nth(2).map(|n| format!("version_{n}")))
    };
    if found().as_deref() == Some(want.as_str()) {
        println!("    ok: wasm-opt {want}");
        return Ok(());
    }
    if exec::find("npm").is_none() {
        return Err(Error::Tool(format!(
            "wasm-opt {want} is missing, and npm (to install binaryen@{number}) is not on PATH: \
             install Node.js and npm (e.g. `apt-get install npm`) and run again"
        )));
    }
    let dir = binaryen_dir();
    println!(
        "    installing wasm-opt {want} (npm binaryen@{number}) into {}",
        dir.display()
    );
    run(Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&dir)
        .arg(format!("binaryen@{number}")))?;
    match found() {
        Some(got) if got == want => Ok(()),
        got => Err(Error::Tool(format!(
            "after installing, `wasm-opt --version` says {got:?}, not {want}: another wasm-opt \
             earlier on PATH? ({})",
            exec::find("wasm-opt").map_or("none found".into(), |p| p.display().to_string())
        ))),
    }
}

/// chromedriver's path (Debian's `chromium-driver` package puts it on PATH).
pub fn chromedriver() -> Result<PathBuf, Error> {
    exec::find("chromedriver").ok_or_else(|| {
        Error::Tool("chromedriver is not on PATH although chromium-driver is installed".into())
    })
}

/// geckodriver (any recent version), and its path.
pub fn geckodriver() -> Result<PathBuf, Error> {
    match probe("geckodriver", &["--version"]) {
        Some(version) => {
            println!("    ok: {}", version.lines().next().unwrap_or_default());
        }
        None => {
            cargo_install(&geckodriver_tool(), "about 3 minutes")?;
        }
    }
    exec::find("geckodriver")
        .ok_or_else(|| Error::Tool("geckodriver is not on PATH after installing it".into()))
}

/// Runs `probe` and accepts its output if it starts with `want`; otherwise installs and checks
/// again.
fn ensure_version(
    program: &str,
    args: &[&str],
    want: &str,
    install: impl Fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let matches = |out: &Option<String>| out.as_deref().is_some_and(|o| o.starts_with(want));
    let found = probe(program, args);
    if matches(&found) {
        println!("    ok: {want}");
        return Ok(());
    }
    if let Some(other) = &found {
        println!("    found {other}, need {want}");
    }
    install()?;
    let found = probe(program, args);
    if matches(&found) {
        Ok(())
    } else {
        Err(Error::Tool(format!(
            "after installing, `{program} {}` says {found:?}, not {want}: another {program} \
             earlier on PATH?",
            args.join(" ")
        )))
    }
}

/// A tool `cargo install` builds: what [`prebuild`](crate::prebuild) compiles in the
/// background and the checks above install in the foreground when it did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CargoTool {
    /// The crate.
    pub krate: &'static str,
    /// Its version, if pinned.
    pub version: Option<String>,
    /// `--locked`.
    pub locked: bool,
    /// Build without optimisation (`--debug`): for tools whose own work here is small (trunk
    /// hands the heavy work to cargo, wasm-bindgen and wasm-opt; geckodriver relays WebDriver
    /// commands). It compiles in well under the time of an optimised build.
    pub unoptimised: bool,
}

impl CargoTool {
    /// The `cargo install` command line.
    pub fn command(&self) -> Command {
        let mut command = exec::cargo();
        command.arg("install").arg("--force");
        if self.locked {
            command.arg("--locked");
        }
        if self.unoptimised {
            command.arg("--debug");
        }
        command.arg(self.krate);
        if let Some(version) = &self.version {
            command.args(["--version", version]);
        }
        // Build tools, not products: cargo's default release settings instead of a crate's
        // own fat LTO and single codegen unit (trunk's), and little optimisation. They cost
        // minutes on 2 cores, and these tools do too little work here for speed to show.
        command
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
            .env("CARGO_PROFILE_DEV_DEBUG", "false");
        command
    }
}

/// trunk at [`TRUNK_VERSION`].
fn trunk_tool() -> CargoTool {
    CargoTool {
        krate: "trunk",
        version: Some(TRUNK_VERSION.into()),
        locked: true,
        unoptimised: true,
    }
}

/// wasm-bindgen-cli at `version`. Not --locked: the lock file published with it pins a
/// dependency version that is no longer on crates.io.
fn wasm_bindgen_tool(version: &str) -> CargoTool {
    CargoTool {
        krate: "wasm-bindgen-cli",
        version: Some(version.into()),
        locked: false,
        // It rewrites every wasm test binary the test runner loads, some of them large.
        unoptimised: false,
    }
}

fn geckodriver_tool() -> CargoTool {
    CargoTool {
        krate: "geckodriver",
        version: None,
        locked: true,
        unoptimised: true,
    }
}

/// The cargo-installed tools that are missing or at another version, in the order the test
/// command needs them: wasm-bindgen-cli, geckodriver, trunk. Prints nothing.
pub fn missing_cargo_tools(root: &Path) -> Result<Vec<CargoTool>, Error> {
    let has = |program: &str, want: &str| {
        probe(program, &["--version"]).is_some_and(|found| found.starts_with(want))
    };
    let version = manifest::locked_version(root, "wasm-bindgen")?;
    let mut missing = Vec::new();
    if !has("wasm-bindgen", &format!("wasm-bindgen {version}"))
        || !has(
            "wasm-bindgen-test-runner",
            &format!("wasm-bindgen-test-runner {version}"),
        )
    {
        missing.push(wasm_bindgen_tool(&version));
    }
    if probe("geckodriver", &["--version"]).is_none() {
        missing.push(geckodriver_tool());
    }
    if !has("trunk", &format!("trunk {TRUNK_VERSION}")) {
        missing.push(trunk_tool());
    }
    Ok(missing)
}

/// `cargo install` of `tool` into Cargo's bin directory, in the foreground.
fn cargo_install(tool: &CargoTool, expect: &str) -> Result<(), Error> {
    let label = tool
        .version
        .as_ref()
        .map_or(tool.krate.to_owned(), |v| format!("{} {v}", tool.krate));
    println!("    installing {label} with cargo install ({expect})");
    run(&mut tool.command())
}
