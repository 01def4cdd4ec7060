// Bootstrap of Veilig's frame-crypto worker (a module worker). The worker itself is Rust:
// src/frame_crypto/worker.rs, built by Trunk as veilig-worker.js + veilig-worker_bg.wasm.
//
// The page waits for the worker's `ready` message before it sends keys or attaches transforms.
// Should anything arrive earlier anyway, it is queued here until the module is loaded and then
// handed over in order. Nothing else happens here.
//
// Integrity: in the release build the page fetches this file with its SHA-256 (from the
// page's import map) and starts it from those checked bytes, as a blob: URL
// (src/encryption/integrity.rs). Its first message, `boot`, then says where it lives and
// gives the integrity values; the glue and the wasm are fetched with theirs, so the browser
// refuses other bytes, and the glue is imported from the checked bytes too. Started from its
// own URL (the in-browser tests' runner page has no import map), it loads them unchecked.
//
// `?glue=PATH` loads the module from another same-origin path: the in-browser tests use it to
// run the worker from their own test build.

const queue = [];
let handle = null;
let booting = null;
const onEvent = (event) => {
  if (booting && event.type === "message" && event.data?.type === "boot") {
    const boot = booting;
    booting = null;
    boot(event.data);
  } else if (handle) {
    handle(event);
  } else {
    queue.push(event);
  }
};
self.addEventListener("message", onEvent);
self.addEventListener("rtctransform", onEvent);

const failed = (error) => self.postMessage({ type: "error", message: `could not load: ${error}` });

// import.meta.url, not self.location: the test runner loads this module from a wrapper.
const own = new URL(import.meta.url);
if (own.protocol === "blob:") {
  booting = ({ url, integrity }) => start(new URL(url), integrity).catch(failed);
} else {
  start(own, null).catch(failed);
}

async function start(here, integrity) {
  const glue = new URL(here.searchParams.get("glue") ?? "../veilig-worker.js", here);
  if (glue.origin !== here.origin) {
    throw new Error("frame-crypto worker: the module must be same-origin");
  }
  // wasm-bindgen names the module after its glue: NAME.js loads NAME_bg.wasm.
  const wasm = new URL(glue.pathname.replace(/\.js$/, "_bg.wasm"), glue);
  let module;
  if (integrity) {
    const checked = await fetch(glue, { integrity: valueFor(integrity, glue) });
    // The glue imports wasm-bindgen's snippets (mls-rs-core's `Date.now()`) by relative paths,
    // which mean nothing in a blob: module: each is fetched with its own integrity value and
    // imported from its checked bytes too.
    const blobs = [];
    let text = await checked.text();
    for (const path of new Set(text.match(/(?<=from ")\.\/snippets\/[^"]+\.js(?=")/g) ?? [])) {
      const url = new URL(path, glue);
      const snippet = await fetch(url, { integrity: valueFor(integrity, url) });
      const blob = URL.createObjectURL(
        new Blob([await snippet.text()], { type: "text/javascript" }),
      );
      blobs.push(blob);
      text = text.split(`from "${path}"`).join(`from "${blob}"`);
    }
    const source = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
    blobs.push(source);
    try {
      module = await import(source);
    } finally {
      blobs.forEach((blob) => URL.revokeObjectURL(blob));
    }
    await module.default({ module_or_path: fetch(wasm, { integrity: valueFor(integrity, wasm) }) });
  } else {
    module = await import(glue.href);
    await module.default({ module_or_path: wasm });
  }
  module.frame_crypto_worker_start();
  handle = module.frame_crypto_worker_event;
  for (const event of queue.splice(0)) handle(event);
}

function valueFor(integrity, url) {
  const value = integrity[url.pathname];
  if (!value) throw new Error(`no integrity value for ${url.pathname}, not loading it`);
  return value;
}
