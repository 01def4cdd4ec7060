// Runs the frame-crypto worker's benchmark (src/frame_crypto/bench.rs) and shows the result.
// `cargo xtask bench-browser` opens this page headless and reads `data-results` from <body>.
const sizes = [100, 256, 512, 1000, 2000, 4000, 10000, 100000];
const worker = new Worker("/static/frame-crypto-worker.js", { type: "module" });
const status = document.getElementById("status");
worker.onerror = () => { status.textContent = "The worker failed to load."; };
worker.onmessage = (event) => {
  const message = event.data;
  if (message.type === "ready") {
    worker.postMessage({ type: "bench", sizes });
  } else if (message.type === "bench") {
    const rows = document.getElementById("rows");
    for (const r of message.results) {
      const tr = document.createElement("tr");
      for (const cell of [`${r.size} B`, r.wasmUs.toFixed(1), r.webcryptoUs.toFixed(1),
        (r.webcryptoUs / r.wasmUs).toFixed(2)]) {
        const td = document.createElement("td");
        td.textContent = cell;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
    status.textContent = (message.identical
      ? `Done: ${message.rounds} rounds; both engines produce identical frames.`
      : "Done, but the engines' frames DIFFER.")
      + ` The worker's own calibration sends frames from ${message.crossover ?? "∞"} bytes to WebCrypto.`;
    document.body.dataset.results = JSON.stringify(message);
  } else if (message.type === "error") {
    status.textContent = `Error: ${message.message}`;
    document.body.dataset.results = JSON.stringify(message);
  }
};
