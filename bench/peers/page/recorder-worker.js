// Records the encoded frames of a loopback call's senders (RTCRtpScriptTransform) and passes
// each on unchanged.
const record = (label, frame) => {
  const meta = frame.getMetadata();
  self.postMessage({
    label,
    type: frame.type,
    timestamp: frame.timestamp,
    meta: {
      payloadType: meta.payloadType,
      synchronizationSource: meta.synchronizationSource,
      mimeType: meta.mimeType,
    },
    data: frame.data.slice(0),
  });
};

self.onrtctransform = (event) => {
  const transformer = event.transformer;
  const { label } = transformer.options;
  transformer.readable
    .pipeThrough(new TransformStream({
      transform(frame, controller) {
        record(label, frame);
        controller.enqueue(frame);
      },
    }))
    .pipeTo(transformer.writable);
};
