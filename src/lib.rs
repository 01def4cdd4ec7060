//! Veilig's browser app as a library: the Yew UI, the page's side of frame encryption, and the
//! frame-crypto worker. Two thin binaries use it: `veilig` (the page, `src/main.rs`) and
//! `veilig-worker` (the worker, `src/bin/veilig-worker.rs`); the in-browser tests use it too.
//!
//! Modules that touch the DOM or WebRTC exist only on `wasm32`; the pure rules inside them
//! (`frame_crypto::codec_table`, `frame_crypto::engine`, `link_options`, `embed::messages`,
//! `embed::events`) also build natively so that
//! `cargo test` checks them.

pub mod call;
pub mod embed;
pub mod frame_crypto;
pub mod i18n;
pub mod link_options;
pub mod stage_layout;
pub mod timeline;

#[cfg(target_arch = "wasm32")]
pub mod encryption;
#[cfg(target_arch = "wasm32")]
pub mod ui;
