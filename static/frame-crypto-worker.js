// Bootstrap of Veilig's frame-crypto worker (a module worker). The worker itself is Rust:
// src/frame_crypto/worker.rs, built by Trunk as veilig-worker.js + veilig-worker_bg.wasm.
//
// The page waits for the worker's `ready` message before it sends keys or attaches transforms.
// Should anything arrive earlier anyway, it is queued here until the module is loaded and then
// handed over in order. Nothing else happens here.
//
// `?glue=PATH` loads the module from another same-origin path: the in-browser tests use it to
// run the worker from their own test build.

const queue = [];
let handle = null;
const onEvent = (event) => (handle ? handle(event) : queue.push(event));
self.addEventListener("message", onEvent);
self.addEventListener("rtctransform", onEvent);

// import.meta.url, not self.location: the test runner loads this module from a wrapper.
const here = new URL(import.meta.url);
const glue = new URL(here.searchParams.get("glue") ?? "../veilig-worker.js", here);
if (glue.origin !== here.origin) {
  throw new Error("frame-crypto worker: the module must be same-origin");
}

import(glue.href)
  .then(async (module) => {
    // wasm-bindgen names the module after its glue: NAME.js loads NAME_bg.wasm.
    const wasm = new URL(glue.pathname.replace(/\.js$/, "_bg.wasm"), glue);
    await module.default({ module_or_path: wasm });
    module.frame_crypto_worker_start();
    handle = module.frame_crypto_worker_event;
    for (const event of queue.splice(0)) handle(event);
  })
  .catch((error) => {
    self.postMessage({ type: "error", message: `could not load: ${error}` });
  });
