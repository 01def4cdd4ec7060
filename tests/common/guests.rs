//! Participants without a browser, for meetings larger than a 2-core machine can run browsers
//! for: each is a native WebRTC peer (`veilig-test-peer`) that the app cannot tell from a
//! browser running Veilig. It joins the room with the real protocol, announces its display name
//! in a presence note sealed with the room's metadata key by the app's own code
//! ([`veilig::call::roster::Roster`]: a greeting to everyone on joining, one answer to each
//! participant who greets it, with the floors of what it has sent so far), and sends
//! real VP8 frames SFrame-encrypted as the app's worker does: the media key derived from the
//! link, a random KID of its own, the VP8 clear prefix (`veilig_e2ee::FrameEncryptor`). In a
//! meeting whose link carries `keys=mls` it is a member of the meeting's MLS group instead
//! (`veilig_mls::driver::Driver`, as the app's worker), and seals its camera under the current
//! epoch's RFC 9605 §5.2 key and KID; until it is in the group it sends nothing.
//!
//! What it does not do: encode video (there is no VP8 encoder here; [`vp8_clips`] has the
//! browser's WebCodecs make the frames once, and each guest plays its clip in a loop), send
//! audio (it is muted, and says so), or decrypt what it receives. It does read the clear
//! prefix of the keyframes it receives from others' cameras: their size, for
//! [`Guests::camera_size`].
//!
//! ```text
//!  browser (WebCodecs) ── base64 VP8 clips ──► test ──► Guest task ×N
//!                                                        │ every 100 ms: next frame of its clip,
//!                                                        │   FrameEncryptor (media key, own KID)
//!                                                        │ greeting, answers: presence notes
//!                                                        ▼   (Roster, metadata key)
//!                                                      relay ──► the browser's meeting
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use veilig::call::metadata::MediaKids;
use veilig::call::roster::{Me, Roster};
use veilig_e2ee::key_schedule::LinkError;
use veilig_e2ee::{CipherSuite, Codec, FrameEncryptor, InviteLink, Kid, MlsPsk, RoomKeys};
use veilig_mls::driver::{Action, Driver};
use veilig_protocol::{ClientMessage, ParticipantId, RoomAccess, ServerMessage, Source};
use veilig_test_peer::{Participant, Seen};

use super::app::eval;
use super::{HarnessError, Session, TIMEOUT};

/// Frames a second the guests send: a webcam's pace on a slow link, and what 24 of them cost
/// the test machine (the relay forwards each to every other participant).
pub const FRAMES_PER_SECOND: u32 = 10;
/// A clip's picture size.
pub const CLIP_SIZE: (u32, u32) = (320, 180);

/// The browsers' keepalive interval (the relay closes silent connections after 45 s).
const PING_EVERY: Duration = Duration::from_secs(15);

/// A few seconds of VP8: a keyframe, then delta frames that each need the one before.
#[derive(Clone, Debug)]
pub struct Clip(Vec<Vec<u8>>);

impl Clip {
    /// The frames of `frames`, checked to start with a keyframe.
    pub fn new(frames: Vec<Vec<u8>>) -> Result<Clip, HarnessError> {
        crate::ensure!(
            frames.first().is_some_and(|f| keyframe_size(f).is_some()),
            "a clip must start with a VP8 keyframe ({} frames)",
            frames.len()
        );
        Ok(Clip(frames))
    }
}

/// The size a VP8 keyframe's header gives (RFC 6386 9.1: frame tag, start code `9d 01 2a`, then
/// 14-bit width and height, little-endian); `None` for a delta frame or something else.
pub fn keyframe_size(frame: &[u8]) -> Option<(u16, u16)> {
    let header = frame.get(..10)?;
    if header[0] & 1 != 0 || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let dimension = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) & 0x3fff;
    Some((dimension(6), dimension(8)))
}

/// The background colour of clip `clip` of `count`, as CSS: hues spread around the circle.
pub fn clip_colour(clip: usize, count: usize) -> String {
    format!("hsl({}, 65%, 45%)", clip * 360 / count)
}

/// Waits (up to [`TIMEOUT`]) until every remote tile shows its guest's own picture at the same
/// moment (see [`wrong_pictures`]); the error lists the tiles that did not.
pub async fn shows_own_pictures(
    session: &Session,
    expected: &[(&str, String)],
) -> Result<(), HarnessError> {
    let script = wrong_pictures(expected);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let wrong = eval(session, &script).await?;
        if wrong == json!([]) {
            return Ok(());
        }
        crate::ensure!(
            Instant::now() < deadline,
            "every guest's own picture, at the same moment; still wrong: {wrong}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// JavaScript: the remote tiles whose picture is not what their guest sends, as a list of
/// reasons (empty when all are right). `expected` maps each guest's name to its clip's
/// [`clip_colour`]. Only the background is sampled (the bottom band and the top-right corner,
/// where the bar and the number never go), against a tolerance for VP8's losses: a frame decoded
/// against the wrong reference shows blocks of other colours there.
pub fn wrong_pictures(expected: &[(&str, String)]) -> String {
    let expected: serde_json::Map<String, serde_json::Value> = expected
        .iter()
        .map(|(name, colour)| ((*name).to_owned(), json!(colour)))
        .collect();
    let expected = serde_json::Value::Object(expected);
    format!(
        r#"const expected = {expected};
           const [width, height] = [{width}, {height}];
           const canvas = document.createElement("canvas");
           canvas.width = width;
           canvas.height = height;
           const context = canvas.getContext("2d", {{ willReadFrequently: true }});
           const rgb = css => {{
             context.fillStyle = css;
             context.fillRect(0, 0, 1, 1);
             return [...context.getImageData(0, 0, 1, 1).data.slice(0, 3)];
           }};
           const points = [];
           for (let i = 0; i < 16; i++) points.push([8 + i * 19, 0.8 * height], [8 + i * 19, 0.9 * height]);
           for (let i = 0; i < 4; i++) points.push([0.7 * width + i * 20, 0.08 * height]);
           const wrong = [];
           for (const tile of document.querySelectorAll('[data-testid="tile-remote"]')) {{
             const name = tile.querySelector('[data-testid="tile-name"]')?.textContent;
             const video = tile.querySelector("video");
             if (!(name in expected)) {{ wrong.push(`unexpected tile ${{name}}`); continue; }}
             if (!video || video.videoWidth !== width) {{ wrong.push(`${{name}}: no ${{width}}-wide video`); continue; }}
             const want = rgb(expected[name]);
             context.drawImage(video, 0, 0, width, height);
             const off = points.filter(([x, y]) => {{
               const got = context.getImageData(x, y, 1, 1).data;
               return [0, 1, 2].some(c => Math.abs(got[c] - want[c]) > 48);
             }});
             if (off.length > 0) wrong.push(`${{name}}: ${{off.length}} of ${{points.length}} background points off`);
           }}
           return wrong;"#,
        width = CLIP_SIZE.0,
        height = CLIP_SIZE.1,
    )
}

/// Has the browser's WebCodecs encode `count` clips of `frames` frames each (320x180, one
/// colour per clip, a white bar moving across it, the clip's number), a keyframe first and
/// delta frames after. Run it on a page of the relay's origin (a secure context) before
/// joining, so that it does not compete with the meeting.
pub async fn vp8_clips(
    session: &Session,
    count: usize,
    frames: usize,
) -> Result<Vec<Clip>, HarnessError> {
    let script = r##"
        const [colours, frames, width, height, fps] = arguments;
        const count = colours.length;
        return (async () => {
            const canvas = new OffscreenCanvas(width, height);
            const context = canvas.getContext("2d");
            const clips = [];
            for (let clip = 0; clip < count; clip++) {
                const chunks = [];
                let failure = null;
                const encoder = new VideoEncoder({
                    output: chunk => {
                        const bytes = new Uint8Array(chunk.byteLength);
                        chunk.copyTo(bytes);
                        let text = "";
                        for (const b of bytes) text += String.fromCharCode(b);
                        chunks.push(btoa(text));
                    },
                    error: e => { failure = String(e); },
                });
                encoder.configure({ codec: "vp8", width, height, bitrate: 200000, framerate: fps });
                for (let n = 0; n < frames; n++) {
                    context.fillStyle = colours[clip];
                    context.fillRect(0, 0, width, height);
                    context.fillStyle = "#fff";
                    context.fillRect((n * 11) % width, height / 3, width / 8, height / 3);
                    context.font = `${height / 3}px sans-serif`;
                    context.fillText(String(clip + 1), width / 16, height / 3);
                    const frame = new VideoFrame(canvas, { timestamp: n * 1e6 / fps });
                    encoder.encode(frame, { keyFrame: n === 0 });
                    frame.close();
                }
                await encoder.flush();
                encoder.close();
                if (failure) throw new Error(failure);
                clips.push(chunks);
            }
            return clips;
        })();"##;
    let (width, height) = CLIP_SIZE;
    let clips = session
        .client()
        .execute(
            script,
            vec![
                json!((0..count)
                    .map(|clip| clip_colour(clip, count))
                    .collect::<Vec<_>>()),
                json!(frames),
                json!(width),
                json!(height),
                json!(FRAMES_PER_SECOND),
            ],
        )
        .await?;
    let clips: Vec<Vec<String>> = serde_json::from_value(clips)
        .map_err(|e| HarnessError::Check(format!("the encoder's output: {e}")))?;
    crate::ensure!(
        clips.len() == count && clips.iter().all(|c| c.len() == frames),
        "asked for {count} clips of {frames} frames, got {:?}",
        clips.iter().map(Vec::len).collect::<Vec<_>>()
    );
    clips
        .into_iter()
        .map(|frames| {
            let frames = frames
                .iter()
                .map(|f| Base64::decode_vec(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| HarnessError::Check(format!("base64 from the encoder: {e}")))?;
            Clip::new(frames)
        })
        .collect()
}

/// A cryptographically unimportant but unpredictable 64-bit value (std's per-process random
/// hash keys): KIDs must differ between participants, as the app's random ones do.
fn random_u64(salt: u64) -> u64 {
    RandomState::new().hash_one(salt)
}

/// What a guest sends on its camera line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Its clip, under the KID it announced, [`FRAMES_PER_SECOND`].
    Playing,
    /// Nothing: its KID idle.
    Paused,
    /// A KID flood, as a link holder could send: ten frames a tick, each under a fresh KID it
    /// never announced (the right key, so each would open if a receiver took it in).
    Flooding,
}

/// Frames a flooding guest sends per tick, each under a fresh KID.
pub const FLOOD_PER_TICK: u32 = 10;

/// Native participants in one meeting; they leave when this is dropped.
pub struct Guests {
    /// Their participant ids, in the order of their names.
    pub ids: Vec<ParticipantId>,
    /// Who was in the room before the guests came (the browsers).
    pub hosts: Vec<ParticipantId>,
    tasks: Vec<JoinHandle<()>>,
    modes: Vec<watch::Sender<Mode>>,
    camera_sizes: watch::Receiver<HashMap<ParticipantId, (u16, u16)>>,
}

impl Guests {
    /// One guest per name joins the meeting of `link` on `relay`, each playing clip
    /// `i % clips.len()`.
    pub async fn join(
        relay: &veilig_relay::Relay,
        link: &str,
        names: &[String],
        clips: &[Clip],
    ) -> Result<Guests, LinkError> {
        Guests::join_in(relay, link, names, clips, Mode::Playing).await
    }

    /// [`Guests::join`], each guest sending as `mode` from the start.
    pub async fn join_in(
        relay: &veilig_relay::Relay,
        link: &str,
        names: &[String],
        clips: &[Clip],
        mode: Mode,
    ) -> Result<Guests, LinkError> {
        let link = InviteLink::parse(link)?;
        let keys = RoomKeys::derive(&link, None)?;
        // A meeting whose keys move with it: each guest is a member of its MLS group.
        let mls = link
            .options()
            .iter()
            .any(|(key, value)| key == "keys" && value == "mls");
        let (sizes, camera_sizes) = watch::channel(HashMap::new());
        let mut guests = Guests {
            ids: Vec::new(),
            hosts: Vec::new(),
            tasks: Vec::new(),
            modes: Vec::new(),
            camera_sizes,
        };
        // All at once, as a meeting filling up at the hour: the relay batches the offers.
        // With the link's own access value, as the browsers present it, so the guests get into
        // a meeting a browser started.
        let access = RoomAccess::new(&keys.access.to_text()).expect("the key schedule's text form");
        let peers = futures_util::future::join_all(
            names
                .iter()
                .map(|_| Participant::join_with(relay, link.room(), &access)),
        )
        .await;
        for (index, (name, peer)) in names.iter().zip(peers).enumerate() {
            let mut there = Vec::new();
            if let Some(Seen::Signal(ServerMessage::Welcome { participants, .. })) = peer
                .history
                .iter()
                .find(|seen| matches!(seen, Seen::Signal(ServerMessage::Welcome { .. })))
            {
                guests.hosts.extend(participants.iter().cloned());
                there = participants.clone();
            }
            guests.ids.push(peer.id.clone());
            let camera_kid = random_u64(2 * index as u64 + 1);
            let mut roster = Roster::default();
            roster.connect(
                link.room(),
                &keys.metadata,
                random_u64(2 * index as u64),
                random_u64(u64::MAX - index as u64),
                MediaKids {
                    camera: camera_kid,
                    ..MediaKids::default()
                },
            );
            let (sender, modes) = watch::channel(mode);
            guests.modes.push(sender);
            let guest = Guest {
                modes,
                key: keys.media.clone(),
                roster,
                there,
                me: Me {
                    name: name.clone(),
                    mic: false,
                    camera: true,
                    screen: false,
                },
                camera: (!mls).then(|| {
                    FrameEncryptor::new(CipherSuite::default(), &keys.media, Kid(camera_kid))
                }),
                group: mls.then(|| keys.mls_psk.clone()),
                clip: clips[index % clips.len()].clone(),
                sizes: sizes.clone(),
            };
            guests.tasks.push(tokio::spawn(guest.run(peer)));
        }
        // Those already there when a guest came, other than guests: the browsers.
        guests.hosts.retain(|id| !guests.ids.contains(id));
        guests.hosts.sort();
        guests.hosts.dedup();
        Ok(guests)
    }

    /// Guest `index` sends as `mode` from now on.
    pub fn set_mode(&self, index: usize, mode: Mode) {
        self.modes[index].send_replace(mode);
    }

    /// Waits until some guest has received a keyframe from `whose` camera that satisfies
    /// `fits` (width, height), and returns that size.
    pub async fn camera_size(
        &mut self,
        whose: &ParticipantId,
        fits: impl Fn((u16, u16)) -> bool,
        timeout: Duration,
    ) -> Result<(u16, u16), HarnessError> {
        let seen = tokio::time::timeout(
            timeout,
            self.camera_sizes
                .wait_for(|sizes| sizes.get(whose).is_some_and(|size| fits(*size))),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|sizes| sizes.get(whose).copied());
        let latest = self.camera_sizes.borrow().get(whose).copied();
        crate::ensure!(
            seen.is_some(),
            "{whose}'s camera as the guests receive it: {latest:?} (last keyframe's size)"
        );
        Ok(seen.expect("checked"))
    }
}

impl Drop for Guests {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One guest's state, owned by its task.
struct Guest {
    modes: watch::Receiver<Mode>,
    /// The media key, for a flood's fresh KIDs.
    key: veilig_e2ee::BaseKey,
    roster: Roster,
    /// Who was there when it joined.
    there: Vec<ParticipantId>,
    me: Me,
    /// The camera's encryptor: under the link's key, or the current MLS epoch's (`None`
    /// until the guest is in the group).
    camera: Option<FrameEncryptor>,
    /// In an MLS meeting, the link's PSK for the group the guest joins.
    group: Option<MlsPsk>,
    clip: Clip,
    sizes: watch::Sender<HashMap<ParticipantId, (u16, u16)>>,
}

impl Guest {
    async fn run(mut self, mut peer: Participant) {
        let alone = self.there.is_empty();
        // Everyone already there is greeted now; each answers, and is answered: as the app.
        let welcome = self.roster.welcome(
            peer.id.clone(),
            std::mem::take(&mut self.there),
            &self.me,
            now(),
        );
        send(&peer, welcome);
        let frames = peer.frame_sender();
        let mut tick = tokio::time::interval(Duration::from_secs(1) / FRAMES_PER_SECOND);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ping = tokio::time::interval(PING_EVERY);
        let (mut connected, mut sent, mut position) = (false, 0u32, 0usize);
        // Every frame's RTP time, flooded ones included, so it never runs backwards.
        let mut clock = 0u32;
        let mut sealed = Vec::new();
        let origin = std::time::Instant::now();
        let elapsed = || origin.elapsed().as_millis() as u64;
        let mut driver = match self.group.take() {
            Some(psk) => {
                let Ok((driver, actions)) = Driver::start(&psk, peer.id.as_str(), alone, elapsed())
                else {
                    return;
                };
                self.act(&peer, actions);
                Some(driver)
            }
            None => None,
        };
        let mut group_tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = group_tick.tick(), if driver.is_some() => {
                    let actions = driver.as_mut().map(|d| d.tick(elapsed())).unwrap_or_default();
                    self.act(&peer, actions);
                }
                // Back from a pause: from the clip's keyframe.
                _ = self.modes.changed() => position = 0,
                _ = tick.tick(), if connected => {
                    let mode = *self.modes.borrow();
                    if mode == Mode::Flooding {
                        for _ in 0..FLOOD_PER_TICK {
                            clock += 1;
                            let kid = Kid(random_u64(u64::from(clock)) >> 1);
                            let mut flood =
                                FrameEncryptor::new(CipherSuite::default(), &self.key, kid);
                            if flood.encrypt(Codec::Vp8, &self.clip.0[0], &mut sealed).is_err() {
                                return;
                            }
                            let rtp_time = clock.wrapping_mul(90_000 / FRAMES_PER_SECOND);
                            frames.send_frame_at(Source::Camera, rtp_time, std::mem::take(&mut sealed));
                        }
                    }
                    if mode != Mode::Playing {
                        continue;
                    }
                    let frame = &self.clip.0[position];
                    let Some(camera) = self.camera.as_mut() else {
                        // Not in the group yet: nothing leaves unencrypted.
                        continue;
                    };
                    if camera.encrypt(Codec::Vp8, frame, &mut sealed).is_err() {
                        return;
                    }
                    clock += 1;
                    let rtp_time = clock.wrapping_mul(90_000 / FRAMES_PER_SECOND);
                    frames.send_frame_at(Source::Camera, rtp_time, std::mem::take(&mut sealed));
                    sent += 1;
                    self.roster.sent(Source::Camera, u64::from(sent));
                    position = (position + 1) % self.clip.0.len();
                }
                _ = ping.tick() => peer.signal(ClientMessage::Ping),
                seen = peer.next() => match seen {
                    None => return,
                    Some(Seen::Connected) => connected = true,
                    // A receiver cannot decode (it just opened our line, or lost a packet):
                    // start the clip again at its keyframe.
                    Some(Seen::KeyframeRequest(Source::Camera)) => position = 0,
                    Some(Seen::Signal(ServerMessage::Joined { participant })) => {
                        send(&peer, self.roster.arrived(participant, now()));
                    }
                    Some(Seen::Signal(ServerMessage::Left { participant })) => {
                        self.roster.left(&participant);
                        if let Some(driver) = driver.as_mut() {
                            let actions = driver.left(participant.as_str(), elapsed());
                            self.act(&peer, actions);
                        }
                    }
                    Some(Seen::Signal(ServerMessage::KeyPackage { from, data })) => {
                        if let (Some(driver), Ok(data)) = (driver.as_mut(), Base64::decode_vec(&data)) {
                            let actions = driver.key_package(from.as_str(), data, elapsed());
                            self.act(&peer, actions);
                        }
                    }
                    Some(Seen::Signal(ServerMessage::Commit { commit, welcome, link_tag, .. })) => {
                        if let Some(driver) = driver.as_mut() {
                            let commit = Base64::decode_vec(&commit).unwrap_or_default();
                            let welcome = welcome.and_then(|w| Base64::decode_vec(&w).ok());
                            let tag = link_tag.and_then(|t| Base64::decode_vec(&t).ok());
                            let welcome = welcome.as_deref().zip(tag.as_deref());
                            let actions = driver.commit(&commit, welcome, elapsed());
                            self.act(&peer, actions);
                        }
                    }
                    Some(Seen::Signal(ServerMessage::Blob { from, data })) => {
                        let (_, answers) = self.roster.blob(&from, &data, &self.me, now());
                        send(&peer, answers);
                    }
                    Some(Seen::Frame { from, source: Source::Camera, data, .. }) => {
                        if let Some(size) = keyframe_size(&data) {
                            self.sizes.send_modify(|sizes| {
                                sizes.insert(from, size);
                            });
                        }
                    }
                    Some(_) => {}
                },
            }
        }
    }
}

impl Guest {
    /// Carries out its MLS driver's actions: handshake messages to the relay; a new epoch's
    /// camera encryptor (a fresh KID of its leaf, context 1: the camera, as the app numbers
    /// its tracks), from its next frame on.
    fn act(&mut self, peer: &Participant, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendKeyPackage(data) => peer.signal(ClientMessage::KeyPackage {
                    data: Base64::encode_string(&data),
                }),
                Action::SendCommit { commit, welcome } => peer.signal(ClientMessage::Commit {
                    commit: Base64::encode_string(&commit),
                    link_tag: welcome.as_ref().map(|(_, tag)| Base64::encode_string(tag)),
                    welcome: welcome.as_ref().map(|(w, _)| Base64::encode_string(w)),
                }),
                Action::Epoch(mut keys) => self.camera = keys.encryptor(1).ok(),
                Action::Rejoin(_) => self.camera = None,
            }
        }
    }
}

fn send(peer: &Participant, messages: Vec<ClientMessage>) {
    for message in messages {
        peer.signal(message);
    }
}

/// Milliseconds since the Unix epoch (the notes' time).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
