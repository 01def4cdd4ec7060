//! Veilig's browser app: the Yew entry point that Trunk builds to WebAssembly.
//!
//! A native build compiles just the stub `main` below, which keeps `cargo test --workspace`
//! and `cargo clippy --workspace` on the host from compiling a UI framework they never run. The
//! app's own lints run with `--target wasm32-unknown-unknown` (see `cargo xtask test`).
//!
//! This module does no work of its own: it mounts [`veilig::ui::App`] on `<body>`.

#[cfg(target_arch = "wasm32")]
fn main() {
    veilig::timeline::mark(veilig::timeline::Milestone::AppStarted);
    yew::Renderer::<veilig::ui::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "Veilig runs in the browser: build and serve it with `cargo xtask serve` \
         (Trunk, target wasm32-unknown-unknown), then open http://127.0.0.1:8080/"
    );
    std::process::exit(2);
}
