// A long-lived transform lane, the same for every engine: a ReadableStream the page's batches are
// enqueued on, piped by the engine's own worker code through its own TransformStream into a
// WritableStream that collects what comes out. This is how a browser drives a frame transform
// (one stream of frames per track, one frame in the transform at a time), so each engine pays
// the per-frame costs it pays in a call, stream overhead included, and nothing else.
//
// Frames are plain objects shaped like RTCEncodedVideoFrame / RTCEncodedAudioFrame (`data`,
// video's `type`, `timestamp`, `getMetadata()`): the bytes are real encoded frames recorded
// from a loopback call, but the objects cannot be, since browsers do not let a page construct
// or clone a recorded frame into another worker.

export function frameOf(record) {
  const meta = { ...record.meta };
  const frame = {
    data: record.data,
    timestamp: record.timestamp,
    getMetadata: () => meta,
  };
  if (record.type !== undefined) frame.type = record.type; // audio frames have no `type`
  return frame;
}

export function recordOf(frame, like) {
  return { data: frame.data, type: like.type, timestamp: like.timestamp, meta: like.meta };
}

export class Lane {
  constructor() {
    this.waiting = null;
    this.readable = new ReadableStream({ start: (controller) => { this.controller = controller; } });
    this.writable = new WritableStream({ write: (frame) => this.arrived(frame) });
  }

  arrived(frame) {
    const w = this.waiting;
    if (!w) return;
    w.out.push(frame);
    w.last = performance.now();
    if (w.out.length === w.expected) {
      clearInterval(w.watch);
      this.waiting = null;
      w.resolve(w);
    }
  }

  // Runs `records` through the transform; resolves with the outputs (frames the engine dropped
  // are missing) and the milliseconds from the first enqueue to the last output.
  run(records) {
    return new Promise((resolve) => {
      const w = { out: [], expected: records.length, resolve, start: performance.now(), last: 0 };
      w.last = w.start;
      this.waiting = w;
      // A frame the engine drops never arrives: give up 1.5 s after the last output.
      w.watch = setInterval(() => {
        if (performance.now() - w.last > 1500) {
          clearInterval(w.watch);
          this.waiting = null;
          resolve(w);
        }
      }, 250);
      for (const record of records) this.controller.enqueue(frameOf(record));
    }).then((w) => ({ ms: w.last - w.start, out: w.out }));
  }
}

// Answers the page's `driver` messages with the given engine: `setup` (once, with the 32-byte
// base key and the direction), `run` (a batch on the audio or video lane).
export function serve(engine) {
  const lanes = new Map();
  self.addEventListener("message", async (event) => {
    const message = event.data;
    if (!message || !message.driver) return;
    event.stopImmediatePropagation();
    try {
      if (message.driver === "setup") {
        await engine.setup(message.key, message.direction);
        self.postMessage({ driver: "setup" });
      } else if (message.driver === "run") {
        let lane = lanes.get(message.kind);
        if (!lane) {
          lane = new Lane();
          lanes.set(message.kind, lane);
          await engine.attach(message.kind, lane);
        }
        const { ms, out } = await lane.run(message.frames);
        const frames = out.map((frame, i) => recordOf(frame, message.frames[i]));
        self.postMessage({ driver: "run", ms, frames }, frames.map((f) => f.data));
      }
    } catch (error) {
      self.postMessage({ driver: "error", message: String(error?.stack ?? error) });
    }
  });
}
