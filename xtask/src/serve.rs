//! `cargo xtask serve`: the app, built for release (with wasm-opt), served by the Veilig relay
//! on 127.0.0.1 together with signaling and media, so two tabs on the page make a call. Only the
//! tools the build needs are installed; browsers are the user's own. `cargo xtask build` is the
//! build alone.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::error::Error;
use crate::exec::{self, run as run_command, step};
use crate::tools;

/// Installs what is missing, builds the app, then becomes the relay until the user stops it.
pub fn run(root: &Path, port: u16) -> Result<(), Error> {
    build(root)?;

    let relay = step("Building the relay (cargo build --release -p veilig-relay)");
    run_command(exec::cargo().args(["build", "--release", "-p", "veilig-relay"]))?;
    relay.done();

    step(format!(
        "Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)"
    ));
    let mut relay = Command::new(root.join("target/release/veilig-relay"));
    relay
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--static-dir")
        .arg(root.join("dist"));
    println!("    $ {}", exec::describe(&relay));
    // exec: the relay takes over this process, so Ctrl-C and exit status are simply its own.
    let error = relay.exec();
    Err(Error::Missing {
        program: "veilig-relay".into(),
        hint: error.to_string(),
    })
}

/// `cargo xtask build`: installs what the build needs, builds `dist/` for release exactly as
/// `serve` and `test` do, and prints its manifest: the build to compare a server with.
pub fn build(root: &Path) -> Result<(), Error> {
    let tools_step = step("Tools for building the app");
    tools::rust_toolchain()?;
    tools::trunk()?;
    tools::wasm_bindgen(root)?;
    tools::wasm_opt(root)?;
    tools_step.done();

    let build = step("Building the app (trunk build --release)");
    run_command(trunk_command("build").arg("--release"))?;
    build.done();
    print_manifest(root)
}

/// Prints the SHA-256 of every file of the fresh build: what the relay will publish at
/// `/.well-known/veilig-dist.txt`, for comparing with a build of one's own.
pub fn print_manifest(root: &Path) -> Result<(), Error> {
    step("SHA-256 of every file in dist/ (cargo xtask hashes; served at /.well-known/veilig-dist.txt)");
    crate::dist::print(&root.join("dist"))
}

/// `trunk <subcommand>` without its update check, which would reach for the network: Trunk.toml
/// already keeps builds offline, but this check is only switched off from outside.
///
/// Reproducible: the wasm keeps the source paths of panic locations, and those of crates.io
/// dependencies start with `$CARGO_HOME` (`/root/.cargo/registry/src/...`), which differs
/// between machines. They are rewritten to `/cargo/...` (`--remap-path-prefix`, given as the
/// wasm target's rustflags, which cargo adds to those of .cargo/config.toml). The workspace's
/// own paths are already relative, and std's are `/rustc/<commit>/...`.
pub fn trunk_command(subcommand: &str) -> Command {
    let mut trunk = Command::new("trunk");
    trunk
        .arg(subcommand)
        .env("TRUNK_SKIP_VERSION_CHECK", "true");
    let cargo_home = exec::cargo_bin_dir();
    let cargo_home = cargo_home
        .parent()
        .unwrap_or(&cargo_home)
        .display()
        .to_string();
    // Cargo splits this variable at spaces; a path with one cannot be remapped this way.
    if !cargo_home.contains(char::is_whitespace) {
        trunk.env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            format!("--remap-path-prefix={cargo_home}=/cargo"),
        );
    }
    trunk
}
