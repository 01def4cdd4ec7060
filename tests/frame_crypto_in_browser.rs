//! Frame encryption in real browsers (headless Chromium and Firefox through
//! `wasm-bindgen-test-runner`): two local `RTCPeerConnection`s carry a canvas video track and a
//! fake microphone, with the frame-crypto worker on both ends, attached the way the app does it.
//!
//! - With the same key the receiver decodes video (and the pixels are not uniform) and hears
//!   audio, on the standard path and, in Chromium, on `createEncodedStreams`, with each AES-GCM
//!   engine.
//! - With a different key nothing is decoded and the receiver's worker counts the drops.
//! - With the transform on the sender only (what a relay or an eavesdropper gets), nothing is
//!   decoded.
//! - Both AES-GCM engines, inside the real pipeline, give identical bytes on every codec rule.
//!
//! The worker runs from this test's own wasm build: `static/frame-crypto-worker.js?glue=...`
//! loads the test module, which exports the worker's two entry points below. The runner serves
//! the repository root, so the bootstrap script is the real one.
#![cfg(target_arch = "wasm32")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use js_sys::{Array, Promise, Reflect};
use veilig::encryption::{support, AttachPath, FrameCrypto, WorkerStats};
use veilig::frame_crypto::codec_table::MediaKind;
use veilig::frame_crypto::crosscheck::{self, Run, Sample};
use veilig::frame_crypto::engine::EnginePolicy;
use veilig::frame_crypto::messages::Direction;
use veilig::frame_crypto::messages::TransformStats;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Counts allocations of this wasm module, in each instance: the page's and each worker's.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates to the system allocator; counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// The worker's entry points, exported from this test module for the bootstrap to call.
#[wasm_bindgen]
pub fn frame_crypto_worker_start() {
    veilig::frame_crypto::worker::count_allocations_with(allocations);
    veilig::frame_crypto::worker::announce_ready();
}

/// See [`frame_crypto_worker_start`].
#[wasm_bindgen]
pub fn frame_crypto_worker_event(event: web_sys::Event) {
    veilig::frame_crypto::worker::handle_event(event);
}

const WORKER: &str = "/static/frame-crypto-worker.js?glue=/wasm-bindgen-test.js";

/// Test scaffolding in plain JavaScript: media sources, negotiation between two local peer
/// connections, and reading what the receiver decoded. The thing under test (the worker and
/// its attachment) is Rust and is attached by the test itself.
#[wasm_bindgen(inline_js = r##"
export function source() {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  const ctx = canvas.getContext("2d");
  let t = 0;
  const draw = () => {
    t += 1;
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      ctx.fillStyle = (x + y) % 2 ? "#f4f4f4" : "#123456";
      ctx.fillRect(x * 40, y * 30, 40, 30);
    }
    ctx.fillStyle = "#e03030";
    ctx.fillRect((t * 7) % 320, 100, 40, 40);
  };
  draw();
  setInterval(draw, 33);
  const stream = canvas.captureStream(30);
  return navigator.mediaDevices.getUserMedia({ audio: true }).then((mic) => {
    stream.addTrack(mic.getAudioTracks()[0]);
    return stream;
  });
}

export function peer(insertableStreams) {
  return new RTCPeerConnection(insertableStreams ? { encodedInsertableStreams: true } : {});
}

// Adds every track send-only, preferring `video` (a mime type) and Opus.
export function addTracks(pc, stream, video) {
  return stream.getTracks().map((track) => {
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    const want = track.kind === "video" ? video.toLowerCase() : "audio/opus";
    const codecs = RTCRtpSender.getCapabilities(track.kind).codecs
      .filter((c) => c.mimeType.toLowerCase() === want);
    try { transceiver.setCodecPreferences(codecs); } catch (e) { console.warn(e); }
    return [transceiver.sender, track.kind];
  });
}

export async function connect(a, b) {
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  await b.setRemoteDescription(offer);
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(answer);
}

export async function inbound(pc) {
  const out = { videoPackets: 0, framesDecoded: 0, audioPackets: 0, audioEnergy: 0, videoCodec: "" };
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "video") {
      out.videoPackets += s.packetsReceived || 0;
      out.framesDecoded += s.framesDecoded || 0;
      const codec = s.codecId && report.get(s.codecId);
      if (codec) out.videoCodec = codec.mimeType;
    } else {
      out.audioPackets += s.packetsReceived || 0;
      out.audioEnergy += s.totalAudioEnergy || 0;
    }
  });
  return out;
}

export function play(track) {
  const video = document.createElement(track.kind === "video" ? "video" : "audio");
  video.muted = track.kind === "video";
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  document.body.appendChild(video);
  video.play().catch(() => {});
  return video;
}

// Standard deviation of the luminance of the video's current picture (0 if none yet).
export function pixelSpread(video) {
  if (!video.videoWidth) return 0;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, sq = 0, n = 0;
  for (let i = 0; i < data.length; i += 16) {
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    sum += y; sq += y * y; n += 1;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}

// Fraction of the 64 checkerboard cells whose centre shows the source's colour there: near 1
// for the source picture, low for garbage or a blank picture.
export function pictureMatch(video) {
  if (!video.videoWidth) return 0;
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0, 320, 240);
  const data = ctx.getImageData(0, 0, 320, 240).data;
  let matches = 0;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
    const i = ((y * 30 + 15) * 320 + (x * 40 + 20)) * 4;
    const luma = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    const expected = (x + y) % 2 ? 244 : 45;
    if (Math.abs(luma - expected) < 40) matches += 1;
  }
  return matches / 64;
}

// Whether this browser can send video in `mime`.
export function sends(mime) {
  return RTCRtpSender.getCapabilities("video").codecs
    .some((c) => c.mimeType.toLowerCase() === mime.toLowerCase());
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
"##)]
extern "C" {
    fn source() -> Promise;
    fn peer(insertable_streams: bool) -> web_sys::RtcPeerConnection;
    #[wasm_bindgen(js_name = addTracks)]
    fn add_tracks(pc: &web_sys::RtcPeerConnection, stream: &JsValue, video: &str) -> Array;
    fn connect(a: &web_sys::RtcPeerConnection, b: &web_sys::RtcPeerConnection) -> Promise;
    fn inbound(pc: &web_sys::RtcPeerConnection) -> Promise;
    fn play(track: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = pixelSpread)]
    fn pixel_spread(video: &JsValue) -> f64;
    #[wasm_bindgen(js_name = pictureMatch)]
    fn picture_match(video: &JsValue) -> f64;
    fn sleep(ms: u32) -> Promise;
    fn sends(mime: &str) -> bool;
}

const ROOM_KEY: [u8; 32] = [0x5a; 32];
const OTHER_KEY: [u8; 32] = [0xa5; 32];

/// Whether the receiver accepts only announced KIDs, and whether they were announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Announcements {
    /// Not required (as the worker's own tests and benchmarks run).
    #[default]
    NotRequired,
    /// Required, and the sender's KIDs never announced: what a relay passing one
    /// participant's frames off as another's gets.
    Withheld,
    /// Required, and the sender's KIDs announced for the receiver's lines.
    Made,
}

/// The video codec the relay negotiates, and the one most calls here use.
const VP8: &str = "video/VP8";

/// The KIDs the sender uses for its tracks when it chooses them (track index added).
const SENDER_KIDS: u64 = 0x5e1d_0000;

/// What one call is set up with.
struct Call {
    path: AttachPath,
    /// The video codec the sender prefers (a mime type).
    video_codec: &'static str,
    engine: &'static str,
    receiver_key: [u8; 32],
    receiver_transform: bool,
    announcements: Announcements,
}

/// What the receiving side saw.
#[derive(Debug, Default)]
struct Received {
    video_packets: f64,
    frames_decoded: f64,
    audio_packets: f64,
    audio_energy: f64,
    pixel_spread: f64,
    /// How much of the source picture the receiver shows (0 to 1), now and at most so far.
    picture_match: f64,
    best_picture_match: f64,
    /// The mime type of the video codec the receiver decodes.
    video_codec: String,
    /// The receiver worker's counters, summed over its transforms.
    worker: TransformStats,
    /// The sender worker's counters, summed.
    sender: TransformStats,
    /// Allocations so far in the receiver's and the sender's worker, as they last reported
    /// them (`None` until a report carries the count).
    receiver_allocations: Option<u64>,
    sender_allocations: Option<u64>,
    /// Both workers have measured their engine crossover.
    calibrated: bool,
}

/// The latest counters per transform, and the worker's allocation count.
#[derive(Default)]
struct Counters {
    transforms: RefCell<HashMap<u32, TransformStats>>,
    allocations: Cell<Option<u64>>,
    calibrated: Cell<bool>,
}

fn collect(crypto: &FrameCrypto) -> Rc<Counters> {
    let counters: Rc<Counters> = Rc::default();
    let sink = counters.clone();
    crypto.on_stats(Box::new(move |stats: &WorkerStats| {
        let mut transforms = sink.transforms.borrow_mut();
        for (id, _, s) in &stats.transforms {
            transforms.insert(*id, *s);
        }
        sink.allocations.set(stats.allocations);
        sink.calibrated.set(stats.calibrated);
    }));
    counters
}

fn sum(counters: &Counters) -> TransformStats {
    counters
        .transforms
        .borrow()
        .values()
        .fold(TransformStats::default(), |mut total, s| {
            total.encrypted += s.encrypted;
            total.decrypted += s.decrypted;
            total.bad_tag += s.bad_tag;
            total.replay += s.replay;
            total.unknown_format += s.unknown_format;
            total.kid_collision += s.kid_collision;
            total.retired += s.retired;
            total.over_limit += s.over_limit;
            total.unannounced += s.unannounced;
            total.no_key += s.no_key;
            total.unsupported_codec += s.unsupported_codec;
            total.wasm += s.wasm;
            total.webcrypto += s.webcrypto;
            total
        })
}

fn number(object: &JsValue, field: &str) -> f64 {
    Reflect::get(object, &field.into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// Runs a call until `done` says the receiver has seen enough (or 45 s pass), then returns what
/// it saw. The peer connections and workers stay alive until then.
async fn run_call(call: Call, mut done: impl FnMut(&Received) -> bool) -> Received {
    let sender_crypto = FrameCrypto::start(WORKER, call.path)
        .await
        .expect("sender worker");
    let receiver_crypto = FrameCrypto::start(WORKER, call.path)
        .await
        .expect("receiver worker");
    sender_crypto.set_key(&ROOM_KEY, call.engine).unwrap();
    let announcements = call.announcements;
    if announcements == Announcements::NotRequired {
        receiver_crypto
            .set_key(&call.receiver_key, call.engine)
            .unwrap();
    } else {
        receiver_crypto
            .set_key_announced_only(&call.receiver_key, call.engine)
            .unwrap();
    }
    let sender_counters = collect(&sender_crypto);
    let receiver_counters = collect(&receiver_crypto);

    let streams = call.path == AttachPath::EncodedStreams;
    let a = peer(streams);
    let b = peer(streams);
    let stream = JsFuture::from(source()).await.expect("media");
    for (id, entry) in add_tracks(&a, &stream, call.video_codec).iter().enumerate() {
        let entry: Array = entry.unchecked_into();
        let sender: web_sys::RtcRtpSender = entry.get(0).unchecked_into();
        let kind = MediaKind::parse(&entry.get(1).as_string().unwrap()).unwrap();
        sender_crypto
            .protect_sender(&sender, id as u32, kind, Some(SENDER_KIDS + id as u64))
            .expect("sender transform");
    }

    let videos: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let receiver_crypto = Rc::new(receiver_crypto);
    let on_track = {
        let receiver_crypto = receiver_crypto.clone();
        let videos = videos.clone();
        let next_id = RefCell::new(100u32);
        Closure::<dyn FnMut(web_sys::RtcTrackEvent)>::new(move |event: web_sys::RtcTrackEvent| {
            let track = event.track();
            let kind = MediaKind::parse(&track.kind()).unwrap();
            if call.receiver_transform {
                let id = {
                    let mut next = next_id.borrow_mut();
                    *next += 1;
                    *next
                };
                receiver_crypto
                    .protect_receiver(&event.receiver(), id, kind, Vec::new())
                    .expect("receiver transform");
                if announcements == Announcements::Made {
                    // Which track arrives first is the browser's business: either KID.
                    receiver_crypto.announce(id, &[(SENDER_KIDS, 0), (SENDER_KIDS + 1, 0)]);
                }
            }
            // Audio is played too: browsers compute its energy as it plays out.
            let element = play(&track);
            if kind == MediaKind::Video {
                videos.borrow_mut().push(element);
            }
        })
    };
    b.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
    JsFuture::from(connect(&a, &b)).await.expect("negotiation");

    let mut received = Received::default();
    let mut best_picture_match: f64 = 0.0;
    for _ in 0..180 {
        JsFuture::from(sleep(250)).await.unwrap();
        let stats = JsFuture::from(inbound(&b)).await.unwrap();
        let picture = videos.borrow().first().map(picture_match).unwrap_or(0.0);
        best_picture_match = best_picture_match.max(picture);
        received = Received {
            picture_match: picture,
            best_picture_match,
            video_packets: number(&stats, "videoPackets"),
            frames_decoded: number(&stats, "framesDecoded"),
            video_codec: Reflect::get(&stats, &"videoCodec".into())
                .ok()
                .and_then(|c| c.as_string())
                .unwrap_or_default(),
            audio_packets: number(&stats, "audioPackets"),
            audio_energy: number(&stats, "audioEnergy"),
            pixel_spread: videos.borrow().first().map(pixel_spread).unwrap_or(0.0),
            worker: sum(&receiver_counters),
            sender: sum(&sender_counters),
            receiver_allocations: receiver_counters.allocations.get(),
            sender_allocations: sender_counters.allocations.get(),
            calibrated: sender_counters.calibrated.get() && receiver_counters.calibrated.get(),
        };
        if done(&received) {
            break;
        }
    }
    a.close();
    b.close();
    drop(on_track);
    received
}

fn decodes(received: &Received) -> bool {
    received.frames_decoded >= 30.0
        && received.pixel_spread > 20.0
        && received.picture_match >= 0.85
        && received.audio_energy > 0.0
        && received.worker.decrypted > 60
        && received.sender.encrypted > 60
}

/// A call on `path` with `engine`, sending video in `video_codec`: the receiver decodes in that
/// codec and nothing is dropped.
async fn assert_call_decodes(path: AttachPath, engine: &'static str, video_codec: &'static str) {
    let received = run_call(
        Call {
            path,
            video_codec,
            engine,
            receiver_key: ROOM_KEY,
            receiver_transform: true,
            announcements: Announcements::NotRequired,
        },
        decodes,
    )
    .await;
    assert!(
        received.video_codec.eq_ignore_ascii_case(video_codec),
        "{path:?}/{engine}/{video_codec}: the call must use it: {received:?}"
    );
    assert!(
        decodes(&received),
        "{path:?}/{engine}/{video_codec}: the receiver should decode video and audio: {received:?}"
    );
    assert_eq!(
        received.worker.dropped(),
        0,
        "{path:?}/{engine}/{video_codec}: nothing dropped: {received:?}"
    );
    match engine {
        "wasm" => assert_eq!(received.sender.webcrypto + received.worker.webcrypto, 0),
        // After the first frames of each key (wasm while WebCrypto imports it), all WebCrypto.
        "webcrypto" => assert!(
            received.sender.webcrypto > received.sender.wasm
                && received.worker.webcrypto > received.worker.wasm,
            "{received:?}"
        ),
        _ => {}
    }
}

fn in_chromium() -> bool {
    web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .is_some_and(|ua| ua.contains("Chrome/"))
}

/// VP9 and H.264, where this browser can send them, survive SFrame as VP8 does: the worker
/// encrypts each frame under the codec's clear-prefix rule, the browser's own packetizer
/// carries the result, and the receiver decrypts and decodes the picture, in the codec asked
/// for (read from the receiver's statistics), with nothing dropped. Which codecs a browser
/// sends is its own `RTCRtpSender.getCapabilities`: here Chromium sends VP8, VP9, AV1 and
/// H.264, Firefox ESR VP8, VP9 and AV1 (its H.264 is a plugin these machines cannot download).
///
/// AV1 is not here: the browsers' AV1 packetizers parse the frame as OBUs and rewrite their
/// headers and size fields, so a frame encrypted whole arrives altered and fails
/// authentication (tried in Chromium 156: about 60 % of the frames dropped as bad tags, none
/// decoded). It fails closed, and it needs a clear-prefix rule per OBU (issue 19).
#[wasm_bindgen_test]
async fn vp9_and_h264_survive_sframe_where_the_browser_sends_them() {
    let path = support::choose(None).unwrap();
    for codec in ["video/VP9", "video/H264"] {
        if !sends(codec) {
            continue;
        }
        assert_call_decodes(path, "auto", codec).await;
    }
}

#[wasm_bindgen_test]
async fn script_transform_call_decodes_with_the_automatic_engine() {
    assert!(support::path_available(AttachPath::ScriptTransform));
    assert_call_decodes(AttachPath::ScriptTransform, "auto", VP8).await;
}

#[wasm_bindgen_test]
async fn script_transform_call_decodes_with_each_engine_alone() {
    assert_call_decodes(AttachPath::ScriptTransform, "wasm", VP8).await;
    assert_call_decodes(AttachPath::ScriptTransform, "webcrypto", VP8).await;
}

#[wasm_bindgen_test]
async fn encoded_streams_call_decodes_in_chromium() {
    if !in_chromium() {
        // Firefox and Safari never had Chromium's legacy API; the app picks the standard path.
        assert!(!support::path_available(AttachPath::EncodedStreams));
        assert_eq!(support::choose(None), Ok(AttachPath::ScriptTransform));
        return;
    }
    assert!(support::path_available(AttachPath::EncodedStreams));
    assert_call_decodes(AttachPath::EncodedStreams, "auto", VP8).await;
    assert_call_decodes(AttachPath::EncodedStreams, "webcrypto", VP8).await;
}

async fn assert_wrong_key_decodes_nothing(path: AttachPath) {
    let received = run_call(
        Call {
            path,
            video_codec: VP8,
            engine: "auto",
            receiver_key: OTHER_KEY,
            receiver_transform: true,
            announcements: Announcements::NotRequired,
        },
        |r| r.worker.bad_tag >= 100 && r.video_packets >= 200.0,
    )
    .await;
    assert!(
        received.worker.bad_tag >= 100,
        "{path:?}: drops counted as bad tags: {received:?}"
    );
    assert_eq!(received.frames_decoded, 0.0, "{path:?}: {received:?}");
    assert_eq!(received.worker.decrypted, 0, "{path:?}: {received:?}");
}

/// Frames under KIDs nobody announced for the receiver's lines never reach a decoder, though
/// they are under the right key; announced, the same frames decode.
#[wasm_bindgen_test]
async fn only_announced_kids_decode() {
    let path = support::choose(None).unwrap();
    let call = |announcements| Call {
        path,
        video_codec: VP8,
        engine: "auto",
        receiver_key: ROOM_KEY,
        receiver_transform: true,
        announcements,
    };
    let withheld = run_call(call(Announcements::Withheld), |r| {
        r.worker.unannounced >= 100 && r.video_packets >= 200.0
    })
    .await;
    assert!(withheld.worker.unannounced >= 100, "{withheld:?}");
    assert_eq!(withheld.frames_decoded, 0.0, "{withheld:?}");
    assert_eq!(withheld.worker.decrypted, 0, "{withheld:?}");
    let made = run_call(call(Announcements::Made), decodes).await;
    assert!(decodes(&made), "{made:?}");
    assert_eq!(made.worker.unannounced, 0, "{made:?}");
}

#[wasm_bindgen_test]
async fn a_wrong_key_decodes_nothing_and_counts_the_drops() {
    assert_wrong_key_decodes_nothing(AttachPath::ScriptTransform).await;
    if in_chromium() {
        assert_wrong_key_decodes_nothing(AttachPath::EncodedStreams).await;
    }
}

/// What a relay or an eavesdropper gets. A decoder fed ciphertext does not reliably refuse it:
/// libvpx "decodes" some frames of noise (measured: a few in Chromium, about one in ten in
/// Firefox), and Opus plays noise. So this asserts what matters: at no moment does any of the
/// source picture show, where the decrypting receiver shows 85 % or more of it.
#[wasm_bindgen_test]
async fn without_the_receiver_transform_the_picture_never_shows() {
    let path = support::choose(None).unwrap();
    let received = run_call(
        Call {
            path,
            video_codec: VP8,
            engine: "auto",
            receiver_key: ROOM_KEY,
            receiver_transform: false,
            announcements: Announcements::NotRequired,
        },
        |r| r.video_packets >= 300.0 && r.audio_packets >= 100.0 && r.sender.encrypted >= 300,
    )
    .await;
    assert!(received.video_packets >= 300.0, "{received:?}");
    assert!(
        received.best_picture_match < 0.5,
        "none of the picture may show: {received:?}"
    );
}

/// Both AES-GCM engines, each inside the real transform pipeline (`Attached`), give the same
/// bytes for the same frames under the same key, KID and counters, on every codec's
/// clear-prefix rule: Opus, VP8 key and delta frames, VP9, AV1 and H.264 (whose escaping keeps
/// it in wasm even when WebCrypto is asked for), each from a frame exactly as long as its clear
/// prefix up to 12 KB. Each engine then opens what was sealed, back to the original frames, and
/// the counters show that the engine asked for is the one that ran.
#[wasm_bindgen_test]
async fn both_engines_give_identical_bytes_through_the_pipeline_on_every_codec_rule() {
    const KEY: &[u8] = b"veilig crosscheck: a media base key";
    let tracks: [(MediaKind, Codecs, Vec<Sample>); 2] = [
        (MediaKind::Audio, &[(111, "audio/opus")], opus_samples()),
        (
            MediaKind::Video,
            &[
                (96, "video/VP8"),
                (98, "video/VP9"),
                (45, "video/AV1"),
                (102, "video/H264"),
            ],
            video_samples(),
        ),
    ];
    for (kind, codecs, samples) in tracks {
        let plain: Vec<Vec<u8>> = samples.iter().map(|s| s.data.clone()).collect();
        // Frames WebCrypto cannot take (H.264: escaped in wasm) go to wasm on any policy.
        let h264 = samples.iter().filter(|s| s.payload_type == 102).count() as u64;
        let n = samples.len() as u64;
        let run = |direction, policy| Run {
            direction,
            kind,
            codecs,
            policy,
            key: KEY,
            kid: 0x5eed,
        };

        let mut sealed = Vec::new();
        for policy in [EnginePolicy::Wasm, EnginePolicy::WebCrypto] {
            let out = crosscheck::run(&run(Direction::Send, policy), &samples)
                .await
                .expect("the send pipeline runs");
            assert_eq!(
                out.frames.len(),
                samples.len(),
                "{kind:?} {policy:?}: {:?}",
                out.stats
            );
            assert_eq!(out.stats.encrypted, n, "{kind:?} {policy:?}");
            let (wasm, webcrypto) = match policy {
                EnginePolicy::Wasm => (n, 0),
                _ => (h264, n - h264),
            };
            assert_eq!(
                (out.stats.wasm, out.stats.webcrypto),
                (wasm, webcrypto),
                "{kind:?} {policy:?}: the engine asked for ran"
            );
            for (frame, original) in out.frames.iter().zip(&plain) {
                assert_ne!(frame, original, "{kind:?} {policy:?}: sealed");
            }
            sealed.push(out.frames);
        }
        for (i, (by_wasm, by_webcrypto)) in sealed[0].iter().zip(&sealed[1]).enumerate() {
            assert_eq!(
                by_wasm,
                by_webcrypto,
                "{kind:?} frame {i} ({} bytes): both engines seal to the same bytes",
                plain[i].len()
            );
        }

        for (sealed_by, frames) in ["wasm", "WebCrypto"].into_iter().zip(&sealed) {
            let wire: Vec<Sample> = samples
                .iter()
                .zip(frames)
                .map(|(s, data)| Sample {
                    payload_type: s.payload_type,
                    data: data.clone(),
                })
                .collect();
            for policy in [EnginePolicy::Wasm, EnginePolicy::WebCrypto] {
                let out = crosscheck::run(&run(Direction::Receive, policy), &wire)
                    .await
                    .expect("the receive pipeline runs");
                assert_eq!(
                    out.frames, plain,
                    "{kind:?}: {policy:?} opens what {sealed_by} sealed: {:?}",
                    out.stats
                );
                assert_eq!(out.stats.decrypted, n);
                // A KID's key goes to WebCrypto only once a frame under it has opened (in
                // wasm); the next frame finds it unknown to WebCrypto, starts the import and
                // opens in wasm too.
                let (wasm, webcrypto) = match policy {
                    EnginePolicy::Wasm => (n, 0),
                    _ => (h264 + 2, n - h264 - 2),
                };
                assert_eq!(
                    (out.stats.wasm, out.stats.webcrypto),
                    (wasm, webcrypto),
                    "{kind:?} {policy:?}: the engine asked for ran"
                );
            }
        }
    }
}

/// Payload type → mime type, as the page reads them from the SDP.
type Codecs = &'static [(u8, &'static str)];

/// Encoder-like bytes (no long runs), `len` of them after `head`.
fn frame_of(head: &[u8], len: usize) -> Vec<u8> {
    let mut frame = head.to_vec();
    frame.extend((frame.len()..len).map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8));
    frame.truncate(len);
    frame
}

/// Opus: a 1-byte TOC is the whole clear prefix; frames of only that (DTX) and longer, the
/// short ones after the two a receive run opens in wasm.
fn opus_samples() -> Vec<Sample> {
    [60, 160, 1, 2, 400]
        .into_iter()
        .map(|len| Sample {
            payload_type: 111,
            data: frame_of(&[0x78], len),
        })
        .collect()
}

/// Video: VP8 delta (3-byte clear prefix) first, so that a receive run's first two frames,
/// which open in wasm before their key reaches WebCrypto, are plain ones; then VP8 key frames
/// (10-byte prefix), VP9 and AV1 (no clear prefix), and H.264 with its parameter sets and an
/// IDR slice whose payload holds start-code-like bytes (escaped in the SFrame part).
fn video_samples() -> Vec<Sample> {
    let vp8_delta = [0x51, 0x2a, 0x00];
    let vp8_key = [0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
    let mut samples = Vec::new();
    for len in [200, 300, 3, 4, 1500, 12_000] {
        samples.push(Sample {
            payload_type: 96,
            data: frame_of(&vp8_delta, len),
        });
    }
    for len in [10, 11, 3000, 12_000] {
        samples.push(Sample {
            payload_type: 96,
            data: frame_of(&vp8_key, len),
        });
    }
    for (pt, head) in [
        (98u8, &[0x86, 0x00, 0x40][..]),
        (45, &[0x12, 0x00, 0x32][..]),
    ] {
        for len in [1, 90, 2500, 12_000] {
            samples.push(Sample {
                payload_type: pt,
                data: frame_of(head, len),
            });
        }
    }
    let mut h264 = vec![
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
    ];
    h264.extend([
        0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    ]);
    for len in [h264.len(), 700, 12_000] {
        samples.push(Sample {
            payload_type: 102,
            data: frame_of(&h264, len),
        });
    }
    samples
}

/// Once a call runs, the worker's frame path allocates nothing: its buffers are reused, and
/// what the browser allocates (frame buffers, promises) is JavaScript's. What the worker does
/// allocate comes from its once-a-second stats report, so the bound asserted is at most one
/// allocation per 20 frames, not zero (audio and video make about 80 frames a second: room for
/// 4 allocations a second, the report's). Each worker must report its count at the start and
/// at the end of the window: a worker that stopped counting would otherwise pass as one that
/// allocated nothing.
#[wasm_bindgen_test]
async fn frames_allocate_at_most_once_per_20_in_the_steady_state() {
    let path = support::choose(None).unwrap();
    // (encrypted, sender allocations, decrypted, receiver allocations) once the call runs.
    let start: Cell<Option<(u64, u64, u64, u64)>> = Cell::new(None);
    let received = run_call(
        Call {
            path,
            video_codec: VP8,
            engine: "auto",
            receiver_key: ROOM_KEY,
            receiver_transform: true,
            announcements: Announcements::NotRequired,
        },
        |r| match (
            start.get(),
            r.sender_allocations.zip(r.receiver_allocations),
        ) {
            // The window starts once frames flow, both workers have finished measuring their
            // engine crossover (which allocates) and both report their allocations.
            (None, Some((sender, receiver))) => {
                if decodes(r) && r.calibrated {
                    start.set(Some((
                        r.sender.encrypted,
                        sender,
                        r.worker.decrypted,
                        receiver,
                    )));
                }
                false
            }
            (None, None) => false,
            (Some((encrypted, _, decrypted, _)), _) => {
                r.sender.encrypted >= encrypted + 600 && r.worker.decrypted >= decrypted + 600
            }
        },
    )
    .await;
    let (encrypted, sender_allocations, decrypted, receiver_allocations) = start
        .get()
        .unwrap_or_else(|| panic!("the call never reported allocations: {received:?}"));
    let sent = received.sender.encrypted - encrypted;
    let opened = received.worker.decrypted - decrypted;
    assert!(sent >= 600 && opened >= 600, "{received:?}");
    let (Some(sender_now), Some(receiver_now)) =
        (received.sender_allocations, received.receiver_allocations)
    else {
        panic!("a worker stopped reporting its allocations: {received:?}");
    };
    let sender_allocs = sender_now - sender_allocations;
    let receiver_allocs = receiver_now - receiver_allocations;
    assert!(
        sender_allocs * 20 <= sent && receiver_allocs * 20 <= opened,
        "allocations: sender {sender_allocs} for {sent} frames, receiver {receiver_allocs} \
         for {opened} frames"
    );
}
