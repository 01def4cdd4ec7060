// Veilig's frame-crypto worker, as it ships (static/frame-crypto-worker.js and its wasm), with
// the benchmark's lane driver in front of it. The driver's listener is registered first and
// takes only `driver` messages; everything else reaches the worker as from the page. Transforms
// are attached with the worker's own `attach` message (the path Chromium's
// createEncodedStreams uses), on the engine policy the app uses (`auto`).
import { serve } from "./lane.js";

let ids = 1;
const send = (data) => self.dispatchEvent(new MessageEvent("message", { data }));
const codecs = { video: [[96, "video/VP8"]], audio: [[111, "audio/opus"]] };
let direction = "send";

serve({
  async setup(key, dir) {
    direction = dir;
    send({ type: "key", key: new Uint8Array(key), engine: "auto", announced: false });
    // The worker calibrates its engine choice after its first key (a fraction of a second).
    await new Promise((r) => setTimeout(r, 1500));
  },
  async attach(kind, lane) {
    const options = { id: ids++, direction, kind, codecs: codecs[kind] };
    send({ type: "attach", options, readable: lane.readable, writable: lane.writable });
  },
});

await import("/static/frame-crypto-worker.js");
