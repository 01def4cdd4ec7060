// Frame encryption, Veilig's worker against LiveKit's, in this browser, on the same frames.
//
// 1. Records real encoded frames from a loopback call (two RTCPeerConnections in this page):
//    the fake camera at 1280x720 in VP8, the fake microphone in Opus, and a 1920x1080 canvas of
//    text with the `detail` content hint as the screen share, VP8 too.
// 2. Starts four workers: Veilig's frame-crypto worker and LiveKit's E2EE worker, each once to
//    encrypt and once to decrypt (./veilig-driver.js, ./livekit-driver.js), with the same key.
// 3. Checks that each engine's decryption gives back the recorded bytes, then times rounds: for
//    each class of frame, a batch through each engine's encrypt lane and its output through its
//    decrypt lane, the engines' order alternating from round to round. Reports the medians of
//    the rounds per frame, in `document.body.dataset.results` (JSON).
const ROUNDS = 9;
const RECORD_MS = 7000;
const SKIP_MS = 2500; // the first seconds, while bandwidth estimation ramps up
const status = (text) => { document.getElementById("status").textContent = text; };

// How many frames of each class go through an engine in one timed batch (recorded frames are
// repeated to fill it): large enough that the coarse worker clocks (1 ms in Firefox) blur little.
const CLASSES = [
  { name: "opus", kind: "audio", batch: 1500, pick: (f) => f.label === "opus" },
  { name: "vp8-delta", kind: "video", batch: 600, pick: (f) => f.label === "camera" && f.type === "delta" },
  { name: "vp8-key", kind: "video", batch: 300, pick: (f) => f.label === "camera" && f.type === "key" },
  { name: "screen-delta", kind: "video", batch: 600, pick: (f) => f.label === "screen" && f.type === "delta" },
  { name: "screen-key", kind: "video", batch: 60, pick: (f) => f.label === "screen" && f.type === "key" },
];

function screenTrack() {
  const canvas = document.createElement("canvas");
  canvas.width = 1920;
  canvas.height = 1080;
  const g = canvas.getContext("2d");
  let top = 0;
  let typed = 0;
  const page = () => {
    g.fillStyle = "#fff";
    g.fillRect(0, 0, 1920, 1080);
    g.fillStyle = "#123";
    g.font = "18px sans-serif";
    for (let y = 0; y < 50; y++) {
      const n = top + y;
      g.fillText(`${n}: Veilig meeting notes — frame encryption, the relay, the join; item ${n * 7919 % 1000} of the agenda, owner ${"ABCDEFGH"[n % 8]}`, 20 + (n % 5) * 6, 22 + y * 21);
    }
  };
  page();
  // Someone typing (a few characters a second: small deltas), and the page scrolling by a
  // line every 3 s (a large delta), as a shared document does.
  setInterval(() => {
    typed++;
    if (typed % 45 === 0) {
      top++;
      page();
    }
    g.fillStyle = "#123";
    g.fillText("x", 20 + (typed % 45) * 10, 1070);
  }, 66);
  const track = canvas.captureStream(15).getVideoTracks()[0];
  track.contentHint = "detail";
  return track;
}

// Key frames every 700 ms on the video senders (both paths): turning an encoding off and on
// again makes the encoder start over with one.
function keyFrames(pc) {
  return setInterval(async () => {
    for (const sender of pc.getSenders()) {
      if (sender.track?.kind !== "video") continue;
      for (const active of [false, true]) {
        const p = sender.getParameters();
        if (!p.encodings?.[0]) continue;
        p.encodings[0].active = active;
        await sender.setParameters(p).catch(() => {});
      }
    }
  }, 700);
}

async function record() {
  const scriptTransform = "RTCRtpScriptTransform" in window;
  const recorder = new Worker("./recorder-worker.js");
  const frames = [];
  const started = performance.now();
  const keep = (frame) => { if (performance.now() - started > SKIP_MS) frames.push(frame); };
  recorder.onmessage = (event) => keep(event.data);

  const media = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 1280, height: 720, frameRate: 30 },
  });
  const tracks = [
    ["opus", media.getAudioTracks()[0]],
    ["camera", media.getVideoTracks()[0]],
    ["screen", screenTrack()],
  ];
  const config = scriptTransform ? {} : { encodedInsertableStreams: true };
  const a = new RTCPeerConnection(config);
  const b = new RTCPeerConnection(config);
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  b.ontrack = (e) => {
    if (!scriptTransform) {
      const { readable, writable } = e.receiver.createEncodedStreams();
      readable.pipeTo(writable);
    }
  };
  const vp8 = RTCRtpSender.getCapabilities("video").codecs.filter((c) => c.mimeType === "video/VP8");
  for (const [label, track] of tracks) {
    const transceiver = a.addTransceiver(track, { direction: "sendonly" });
    if (track.kind === "video") transceiver.setCodecPreferences(vp8);
    const sender = transceiver.sender;
    if (scriptTransform) {
      sender.transform = new RTCRtpScriptTransform(recorder, { label });
    } else {
      const { readable, writable } = sender.createEncodedStreams();
      readable.pipeThrough(new TransformStream({
        transform(frame, controller) {
          const meta = frame.getMetadata();
          keep({
            label, type: frame.type, timestamp: frame.timestamp,
            meta: { payloadType: meta.payloadType, synchronizationSource: meta.synchronizationSource, mimeType: meta.mimeType },
            data: frame.data.slice(0),
          });
          controller.enqueue(frame);
        },
      })).pipeTo(writable);
    }
  }
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  for (const s of a.getSenders()) {
    if (s.track?.kind !== "video") continue;
    const p = s.getParameters();
    if (p.encodings?.[0]) {
      p.encodings[0].maxBitrate = 2_500_000;
      await s.setParameters(p).catch(() => {});
    }
  }
  const keys = keyFrames(a);
  await new Promise((r) => setTimeout(r, RECORD_MS));
  clearInterval(keys);
  a.close();
  b.close();
  recorder.terminate();
  media.getTracks().forEach((t) => t.stop());
  return frames;
}

function worker(url, label) {
  const w = new Worker(url, { type: "module" });
  const inbox = [];
  let wake = null;
  let ready;
  const isReady = new Promise((r) => { ready = r; });
  w.onmessage = (event) => {
    const m = event.data;
    if (m?.type === "ready") ready();
    else if (m?.type === "error") console.error(label, m.message);
    else if (m?.driver) { inbox.push(m); if (wake) wake(); }
  };
  w.onerror = (e) => console.error(label, e.message);
  const reply = async () => {
    while (!inbox.length) await new Promise((r) => { wake = r; });
    const m = inbox.shift();
    if (m.driver === "error") throw new Error(`${label}: ${m.message}`);
    return m;
  };
  return {
    ready: isReady,
    async call(message, transfer = []) { w.postMessage(message, transfer); return reply(); },
  };
}

function copies(records, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = records[i % records.length];
    out.push({ ...r, data: r.data.slice(0) });
  }
  return out;
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const same = (x, y) => {
  if (x.byteLength !== y.byteLength) return false;
  const [p, q] = [new Uint8Array(x), new Uint8Array(y)];
  return p.every((v, i) => v === q[i]);
};

async function engine(name, url, key) {
  const send = worker(url, `${name} send`);
  const receive = worker(url, `${name} receive`);
  await Promise.all([send.ready, receive.ready]);
  await send.call({ driver: "setup", key, direction: "send" });
  await receive.call({ driver: "setup", key, direction: "receive" });
  return {
    name,
    // One batch both ways: µs per frame each way, how many frames came back, and whether
    // every frame decrypted to its original bytes.
    async batch(cls, records) {
      const plain = copies(records, records.length);
      const sealed = await send.call({ driver: "run", kind: cls.kind, frames: plain });
      const wire = sealed.frames;
      const opened = await receive.call({ driver: "run", kind: cls.kind, frames: copies(wire, wire.length) });
      const intact = opened.frames.length === records.length
        && opened.frames.every((f, i) => same(f.data, records[i].data));
      return {
        encUs: (sealed.ms * 1000) / records.length,
        decUs: (opened.ms * 1000) / records.length,
        through: opened.frames.length,
        intact,
        overhead: wire.reduce((s, f, i) => s + f.data.byteLength - records[i].data.byteLength, 0) / wire.length,
      };
    },
  };
}

async function main() {
  const recorded = await record();
  status(`Recorded ${recorded.length} frames; starting the workers…`);
  const key = crypto.getRandomValues(new Uint8Array(32)).buffer;
  // `?engines=livekit` (or `veilig`) runs one alone, to try the page out.
  const only = new URLSearchParams(location.search).get("engines");
  const engines = [];
  for (const [name, url] of [["veilig", "./veilig-driver.js"], ["livekit", "./livekit-driver.js"]]) {
    if (!only || only.split(",").includes(name)) engines.push(await engine(name, url, key));
  }
  const results = [];
  for (const cls of CLASSES) {
    const records = recorded.filter(cls.pick);
    if (!records.length) { results.push({ class: cls.name, frames: 0 }); continue; }
    const batch = copies(records, cls.batch);
    const row = {
      class: cls.name,
      recorded: records.length,
      batch: batch.length,
      medianBytes: median(records.map((r) => r.data.byteLength)),
    };
    const times = Object.fromEntries(engines.map((e) => [e.name, { enc: [], dec: [] }]));
    // The warm-up round checks correctness; its times are not kept.
    for (const e of engines) {
      const r = await e.batch(cls, batch);
      row[`${e.name}Intact`] = r.intact;
      row[`${e.name}Through`] = r.through;
      row[`${e.name}OverheadBytes`] = r.overhead;
    }
    for (let round = 0; round < ROUNDS; round++) {
      status(`${cls.name}: round ${round + 1} of ${ROUNDS}`);
      const order = round % 2 ? [...engines].reverse() : engines;
      for (const e of order) {
        const r = await e.batch(cls, batch);
        times[e.name].enc.push(r.encUs);
        times[e.name].dec.push(r.decUs);
      }
    }
    for (const e of engines) {
      row[`${e.name}EncUs`] = median(times[e.name].enc);
      row[`${e.name}DecUs`] = median(times[e.name].dec);
    }
    results.push(row);
  }
  document.body.dataset.results = JSON.stringify({ rounds: ROUNDS, userAgent: navigator.userAgent, results });
  status("Done.");
}

main().catch((error) => {
  status(`Error: ${error}`);
  document.body.dataset.results = JSON.stringify({ error: String(error?.stack ?? error) });
});
