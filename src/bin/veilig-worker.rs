//! The frame-crypto worker's wasm module, built by Trunk (`data-type="worker"` in index.html)
//! and loaded by `static/frame-crypto-worker.js`, which hands it every event through
//! [`frame_crypto_worker_event`]. The worker itself is `veilig::frame_crypto::worker`.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

/// Called by the bootstrap once the module is loaded.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn frame_crypto_worker_start() {
    veilig::frame_crypto::worker::announce_ready();
}

/// Called by the bootstrap for every `message` and `rtctransform` event.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn frame_crypto_worker_event(event: web_sys::Event) {
    veilig::frame_crypto::worker::handle_event(event);
}

fn main() {}
