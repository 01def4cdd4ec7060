// The floor for the time to the first remote frame: the least a browser needs to show a remote
// WebRTC video frame, with no app, no worker, no SFrame and no signaling server. The page opens
// the camera and microphone as Veilig does (1280x720), makes a call between two
// RTCPeerConnections in this page (offer, answer and candidates handed over directly), and
// marks, with Veilig's own mark names, when the devices answered, when the call connected and
// when the video element presented the first remote frame (requestVideoFrameCallback, as
// src/ui/media_element.rs does). tests/first_frame.rs reads the marks.
const mark = (name) => {
  if (!performance.getEntriesByName(`veilig:${name}`).length) performance.mark(`veilig:${name}`);
};

const media = await navigator.mediaDevices.getUserMedia({
  audio: true,
  video: { width: 1280, height: 720 },
});
mark("devices-open");
const a = new RTCPeerConnection();
const b = new RTCPeerConnection();
a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
b.onconnectionstatechange = () => b.connectionState === "connected" && mark("peer-connected");
const video = document.getElementById("remote");
b.ontrack = (e) => {
  if (e.track.kind !== "video") return;
  video.srcObject = new MediaStream([e.track]);
  video.requestVideoFrameCallback(() => mark("first-remote-frame"));
  video.play().catch(() => {});
};
for (const track of media.getTracks()) a.addTrack(track, media);
await a.setLocalDescription();
await b.setRemoteDescription(a.localDescription);
await b.setLocalDescription();
mark("answer-sent");
await a.setRemoteDescription(b.localDescription);
