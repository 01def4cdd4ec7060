// LiveKit's end-to-end encryption worker, as livekit-client ships it
// (dist/livekit-client.e2ee.worker.mjs, copied beside this file by the benchmark), with the
// benchmark's lane driver in front of it. The worker sets `onmessage`; the driver keeps that
// handler and calls it with the messages LiveKit's E2eeManager sends: `init` (shared-key mode),
// `setKey` (HKDF key material, as createKeyMaterialFromBuffer makes it), `enable`, then
// `encode` or `decode` with the lane's streams.
import { serve } from "./lane.js";
import "./livekit-client.e2ee.worker.mjs";

const livekit = self.onmessage;
self.onmessage = null;
const send = (data) => livekit({ data });
const participantIdentity = "bench";
let operation = "encode";

serve({
  async setup(key, direction) {
    operation = direction === "send" ? "encode" : "decode";
    send({
      kind: "init",
      data: {
        loglevel: "warn",
        keyProviderOptions: {
          sharedKey: true,
          ratchetSalt: "LKFrameEncryptionKey",
          ratchetWindowSize: 8,
          failureTolerance: 10,
          keyringSize: 16,
          keySize: 128,
        },
      },
    });
    const material = await crypto.subtle.importKey("raw", new Uint8Array(key), "HKDF", false, [
      "deriveBits",
      "deriveKey",
    ]);
    send({ kind: "setKey", data: { key: material, keyIndex: 0, participantIdentity } });
    send({ kind: "enable", data: { enabled: true, participantIdentity } });
    await new Promise((r) => setTimeout(r, 300));
  },
  async attach(kind, lane) {
    send({
      kind: operation,
      data: {
        readableStream: lane.readable,
        writableStream: lane.writable,
        trackId: `bench-${kind}`,
        codec: kind === "video" ? "vp8" : undefined,
        participantIdentity,
        isReuse: false,
      },
    });
  },
});
self.postMessage({ type: "ready" });
