//! Driving the Veilig app in browsers, for the end-to-end tests of the whole app
//! (`tests/meeting.rs`, `tests/proof.rs`): the relay in-process serving `dist/`, and the steps
//! a user takes (start a meeting, join, chat) as functions, each waiting on a condition in the
//! page, never on a fixed sleep.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use super::{netns, Browser, HarnessError, Session, TIMEOUT};

/// The relay, in-process, serving `dist/`, media on the namespace's address; `at` gives the
/// HTTP and UDP addresses of a relay to restart in place.
pub async fn start_relay(at: Option<(SocketAddr, SocketAddr)>) -> veilig_relay::Relay {
    start_relay_with(at, |_| {}).await
}

/// [`start_relay`] with settings changed by `adjust`.
pub async fn start_relay_with(
    at: Option<(SocketAddr, SocketAddr)>,
    adjust: impl FnOnce(&mut veilig_relay::Config),
) -> veilig_relay::Relay {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("veilig_relay=info,warn")
        .with_test_writer()
        .try_init();
    let mut config = veilig_relay::Config::defaults();
    let ip: IpAddr = netns::RELAY_IP.parse().unwrap();
    (config.listen, config.udp) =
        at.unwrap_or(("127.0.0.1:0".parse().unwrap(), SocketAddr::new(ip, 0)));
    config.public_ip = Some(ip);
    config.static_dir = Some(super::dist_dir().unwrap_or_else(|e| panic!("{e}")));
    adjust(&mut config);
    veilig_relay::start(config)
        .await
        .expect("starting the relay")
}

pub async fn eval(session: &Session, script: &str) -> Result<Value, HarnessError> {
    Ok(session.client().execute(script, vec![]).await?)
}

/// What the meeting shows, for the message of a failed wait: the status line, for each tile its
/// data attributes and each media element's size, time and tracks, and the chat's lines as
/// shown (a chat wait that fails with the message on screen is a matter of form).
const TILE_REPORT: &str = r#"return [document.querySelector('[data-testid="status"]')?.textContent]
  .concat([...document.querySelectorAll('figure.tile')].map(tile => ({
    data: {...tile.dataset},
    name: tile.querySelector('figcaption')?.textContent,
    media: [...tile.querySelectorAll('video, audio')].map(m => ({
        tag: m.tagName, width: m.videoWidth, time: m.currentTime, ready: m.readyState,
        paused: m.paused,
        tracks: (m.srcObject?.getTracks() || []).map(t => `${t.kind} ${t.id} ${t.readyState} muted=${t.muted}`),
    })),
    placeholder: tile.querySelector('.no-video, .cannot-decrypt')?.textContent,
}))).concat([{chat: [...document.querySelectorAll('[data-testid="chat-messages"] li')]
    .map(li => li.innerHTML)}]);"#;

/// Waits (up to [`TIMEOUT`]) until `script` returns `true`.
pub async fn wait_until(session: &Session, what: &str, script: &str) -> Result<(), HarnessError> {
    wait_until_within(session, what, script, TIMEOUT).await
}

/// [`wait_until`] with a deadline of its own.
pub async fn wait_until_within(
    session: &Session,
    what: &str,
    script: &str,
    timeout: Duration,
) -> Result<(), HarnessError> {
    let deadline = Instant::now() + timeout;
    loop {
        if eval(session, script).await? == json!(true) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let tiles = eval(session, TILE_REPORT).await.unwrap_or_default();
            crate::ensure!(
                false,
                "{}: timed out waiting for {what}; the tiles then: {tiles}",
                session.browser().name()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn click(session: &Session, test_id: &str) -> Result<(), HarnessError> {
    session.wait_for_test_id(test_id).await?.click().await?;
    Ok(())
}

pub async fn screenshot(session: &Session, name: &str) -> Result<(), HarnessError> {
    screenshot_into(session, &super::artifacts_dir().join("screens"), name).await
}

/// Saves a screenshot as `dir/{name}.png`.
pub async fn screenshot_into(
    session: &Session,
    dir: &std::path::Path,
    name: &str,
) -> Result<(), HarnessError> {
    std::fs::create_dir_all(dir)?;
    let png = session.client().screenshot().await?;
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
}

/// Chromium with a fresh profile; panics if it cannot start (nothing to test then).
pub async fn chromium() -> Session {
    Session::start(Browser::Chromium)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"))
}

/// Chromium and Firefox, each with a fresh profile.
pub async fn chromium_and_firefox() -> (Session, Session) {
    let chromium = chromium().await;
    let firefox = Session::start(Browser::Firefox)
        .await
        .unwrap_or_else(|e| panic!("starting Firefox: {e}"));
    (chromium, firefox)
}

/// Ends a test of two browsers: on failure the second one's screenshot is saved too, then the
/// first reports (and panics) with its own screenshot, console and `context`.
pub async fn finish_pair(
    test: &str,
    first: Session,
    second: Session,
    outcome: Result<(), HarnessError>,
    context: &str,
) {
    if outcome.is_err() {
        let name = format!("{test}-failure-{}", second.browser().name());
        let _ = screenshot(&second, &name).await;
    }
    second.close().await.ok();
    first.finish(test, outcome, context).await;
}

/// Starts a meeting on the start page (one that also needs a passphrase if `passphrase`);
/// leaves the session in the lobby and returns the meeting's link.
pub async fn new_meeting(
    session: &Session,
    base: &str,
    passphrase: bool,
) -> Result<String, HarnessError> {
    session.goto(base).await?;
    if passphrase {
        click(session, "require-passphrase").await?;
    }
    click(session, "new-meeting").await?;
    session.wait_for_test_id("lobby").await?;
    Ok(session.client().current_url().await?.to_string())
}

/// Opens the chat panel if it is closed.
pub async fn open_chat(session: &Session) -> Result<(), HarnessError> {
    if session
        .client()
        .find_all(Locator::Css(r#"[data-testid="chat-input"]"#))
        .await?
        .is_empty()
    {
        click(session, "toggle-chat").await?;
    }
    Ok(())
}

/// In the lobby: types the name and joins; waits for the meeting screen.
pub async fn join_as(session: &Session, name: &str) -> Result<(), HarnessError> {
    join_with(session, name, None).await
}

/// [`join_as`], typing `passphrase` into the passphrase field the lobby must then show (and
/// into the field that repeats it, for the browser that created the meeting).
pub async fn join_with(
    session: &Session,
    name: &str,
    passphrase: Option<&str>,
) -> Result<(), HarnessError> {
    ask_to_join(session, name, passphrase).await?;
    session.wait_for_test_id("room").await?;
    Ok(())
}

/// [`join_with`] up to the click on join, without waiting for the meeting screen (a wrong
/// passphrase never gets there).
pub async fn ask_to_join(
    session: &Session,
    name: &str,
    passphrase: Option<&str>,
) -> Result<(), HarnessError> {
    session.wait_for_test_id("lobby").await?;
    if let Some(passphrase) = passphrase {
        session
            .wait_for_test_id("passphrase")
            .await?
            .send_keys(passphrase)
            .await?;
        if let Ok(repeat) = session
            .client()
            .find(Locator::Css(r#"[data-testid="passphrase-repeat"]"#))
            .await
        {
            repeat.send_keys(passphrase).await?;
        }
    }
    let field = session.wait_for_test_id("name").await?;
    field.clear().await?;
    field.send_keys(name).await?;
    // The join button is enabled once the camera and microphone answered.
    wait_until(
        session,
        "the join button",
        r#"const b = document.querySelector('[data-testid="join"]'); return !!b && !b.disabled;"#,
    )
    .await?;
    click(session, "join").await?;
    Ok(())
}

/// A JavaScript expression: `name`'s remote tile, `undefined` while there is none.
pub fn tile_of(name: &str) -> String {
    format!(
        r#"[...document.querySelectorAll('[data-testid="tile-remote"]')]
             .find(t => t.querySelector('[data-testid="tile-name"]')?.textContent === {name:?})"#
    )
}

/// JavaScript: the remote tile of `name` plays decoded video.
pub fn sees_video_of(name: &str) -> String {
    sees_videos_of(&[name])
}

/// JavaScript: each of `names` has a remote tile with that name (decrypted from their presence
/// note) that plays decoded video.
pub fn sees_videos_of(names: &[&str]) -> String {
    format!(
        r#"const playing = new Set();
           for (const tile of document.querySelectorAll('[data-testid="tile-remote"]')) {{
             const n = tile.querySelector('[data-testid="tile-name"]');
             const v = tile.querySelector('video');
             if (n && v && v.videoWidth > 0 && v.currentTime > 0.5 && tile.dataset.state === "ok")
               playing.add(n.textContent);
           }}
           return {names:?}.every(name => playing.has(name));"#
    )
}

/// Checks that the video of `whose` tile (a remote participant's name, or `None` for our own
/// preview) plays on for three seconds: the same element, the same track, its clock advancing
/// by at least one second. A video that keeps being restarted (for example given a new track
/// on every render) or freezes fails this, though it may pass [`sees_video_of`]. (Not two or
/// three seconds: three browsers on two busy cores do stall a video for a second now and
/// then, and that is not what this looks for.)
pub async fn keeps_playing(session: &Session, whose: Option<&str>) -> Result<(), HarnessError> {
    let find = match whose {
        None => r#"const v = document.querySelector('[data-testid="tile-self"] video, video[data-testid="preview"]');"#.to_owned(),
        Some(name) => format!(
            "const tile = {}; const v = tile && tile.querySelector('video');",
            tile_of(name)
        ),
    };
    let label = whose.unwrap_or("our own preview");
    let first = eval(
        session,
        &format!(
            r#"{find}
               if (!v || !v.srcObject) return null;
               (window.__veiligWatched ??= {{}})[{label:?}] = v;
               return [v.currentTime, v.srcObject.getVideoTracks()[0]?.id ?? ""];"#
        ),
    )
    .await?;
    crate::ensure!(!first.is_null(), "{label}: no video element to watch");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = eval(
        session,
        &format!(
            r#"{find}
               if (!v || v !== window.__veiligWatched[{label:?}] || !v.srcObject) return null;
               return [v.currentTime, v.srcObject.getVideoTracks()[0]?.id ?? "", v.videoWidth];"#
        ),
    )
    .await?;
    crate::ensure!(
        !second.is_null(),
        "{}: the video element of {label} was replaced within 3 s",
        session.browser().name()
    );
    let advanced = second[0].as_f64().unwrap_or(0.0) - first[0].as_f64().unwrap_or(0.0);
    crate::ensure!(
        second[1] == first[1] && advanced >= 1.0 && second[2].as_u64().unwrap_or(0) > 0,
        "{}: the video of {label} did not play on steadily: {first} then {second}",
        session.browser().name()
    );
    Ok(())
}

/// Waits until `name`'s video plays on steadily ([`keeps_playing`]), until `deadline`: for a
/// call coming back, where a tile may still hold the last picture of the call before.
pub async fn plays_again(
    session: &Session,
    name: &str,
    deadline: Instant,
) -> Result<(), HarnessError> {
    loop {
        match keeps_playing(session, Some(name)).await {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Waits until audio with energy arrives from the other participant, as the app's reception
/// details show it (the browser's own `totalAudioEnergy` of the decrypted, decoded audio).
pub async fn hears(session: &Session) -> Result<(), HarnessError> {
    wait_until(
        session,
        "audio with energy",
        r#"const tile = document.querySelector('[data-testid="tile-remote"]');
           return !!tile && Number(tile.dataset.audioEnergy || 0) > 0;"#,
    )
    .await
}

/// Waits until audio with energy arrives from `name` (see [`hears`]).
pub async fn hears_from(session: &Session, name: &str) -> Result<(), HarnessError> {
    wait_until(
        session,
        &format!("audio with energy from {name}"),
        &format!(
            "const tile = {}; return !!tile && Number(tile.dataset.audioEnergy || 0) > 0;",
            tile_of(name)
        ),
    )
    .await
}

pub async fn text_of(session: &Session, test_id: &str) -> Result<String, HarnessError> {
    Ok(session.wait_for_test_id(test_id).await?.text().await?)
}

pub async fn send_chat(session: &Session, message: &str) -> Result<(), HarnessError> {
    open_chat(session).await?;
    let input = session.wait_for_test_id("chat-input").await?;
    input.send_keys(message).await?;
    input.send_keys("\u{E007}").await?; // Enter
    Ok(())
}

/// Where the meeting grid's tiles are, as the browser laid them out in its viewport.
#[derive(Debug, serde::Deserialize)]
pub struct GridLayout {
    /// The viewport, CSS pixels.
    pub viewport: (f64, f64),
    /// Tiles in the grid (ours and everyone else's).
    pub tiles: usize,
    /// Distinct left edges, and distinct top edges, of the tiles.
    pub columns: usize,
    pub rows: usize,
    /// Tiles not wholly inside the viewport, and the same for its width only.
    pub outside: usize,
    pub outside_sideways: usize,
    /// Pairs of tiles that overlap.
    pub overlaps: usize,
    /// The narrowest tile's width.
    pub narrowest: f64,
    /// Whether the page, or the stage that holds the grid, can scroll (down, or sideways).
    pub scrolls: bool,
    pub scrolls_sideways: bool,
    /// Tile captions (name, mute state) wrapped onto a second line or sticking out of their
    /// tile.
    pub captions_cramped: usize,
    /// Pin and reception buttons showing on tiles the pointer is not on.
    pub buttons_shown: usize,
}

/// Measures the meeting grid until `fits` accepts it, for up to five seconds (a resized window
/// or a tile that just arrived is laid out over a few frames, later on a busy machine);
/// returns the last measurement either way, for the caller to check and report.
pub async fn grid_layout_settled(
    session: &Session,
    fits: impl Fn(&GridLayout) -> bool,
) -> Result<GridLayout, HarnessError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let layout = grid_layout(session).await?;
        if fits(&layout) || std::time::Instant::now() >= deadline {
            return Ok(layout);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Measures the meeting grid (see [`GridLayout`]).
pub async fn grid_layout(session: &Session) -> Result<GridLayout, HarnessError> {
    let layout = eval(
        session,
        r#"const width = window.innerWidth, height = window.innerHeight;
           const rects = [...document.querySelectorAll('.grid > figure.tile')]
             .map(t => t.getBoundingClientRect());
           const inside = r => r.left >= 0 && r.right <= width && r.top >= 0 && r.bottom <= height;
           let overlaps = 0;
           rects.forEach((a, i) => rects.slice(i + 1).forEach(b => {
             if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
                 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5) overlaps++;
           }));
           const page = document.scrollingElement, stage = document.querySelector('.stage');
           return {
             viewport: [width, height],
             tiles: rects.length,
             columns: new Set(rects.map(r => Math.round(r.left))).size,
             rows: new Set(rects.map(r => Math.round(r.top))).size,
             outside: rects.filter(r => !inside(r)).length,
             outside_sideways: rects.filter(r => r.left < 0 || r.right > width).length,
             overlaps,
             narrowest: Math.min(...rects.map(r => r.width)),
             scrolls: page.scrollHeight > page.clientHeight || stage.scrollHeight > stage.clientHeight,
             scrolls_sideways: page.scrollWidth > page.clientWidth || stage.scrollWidth > stage.clientWidth,
             captions_cramped: [...document.querySelectorAll('.grid > figure.tile figcaption')]
               .filter(c => {
                 const r = c.getBoundingClientRect(), t = c.parentElement.getBoundingClientRect();
                 return r.height > 2 * parseFloat(getComputedStyle(c).fontSize)
                   || r.left < t.left || r.right > t.right;
               }).length,
             buttons_shown: [...document.querySelectorAll('.grid > figure.tile :is(.pin, .reception)')]
               .filter(b => !b.closest('.tile').matches(':hover') && getComputedStyle(b).opacity !== '0')
               .length,
           };"#,
    )
    .await?;
    serde_json::from_value(layout.clone())
        .map_err(|e| HarnessError::Check(format!("the grid's layout {layout}: {e}")))
}

/// Checks that each of the remote tiles that `tiles` (a JavaScript expression, an array of
/// tiles) decodes nothing while its video keeps arriving: once the browser reports a video
/// receiver for each (`data-frames-decoded` is present) and 30 of its video packets arrived
/// (within 20 s), the browser's own count of decoded frames reads 0; and it reads 0 again after
/// 30 more packets. A tile whose video never arrives fails: "decoded nothing" must not be the
/// count of a receiver that got nothing.
pub async fn decodes_none_while_frames_arrive(
    session: &Session,
    what: &str,
    tiles: &str,
) -> Result<(), HarnessError> {
    let read = format!(
        "return ({tiles}).map(t => t ? [t.dataset.framesDecoded ?? null, \
         Number(t.dataset.videoPackets ?? 0)] : null);"
    );
    let mut reads = Vec::new();
    let mut packets = vec![0u64; 0];
    for round in ["arriving", "30 more"] {
        wait_until_within(
            session,
            &format!("{what}: video packets {round} ({packets:?} before)"),
            &format!(
                "const t = ({tiles}); return t.length > 0 && t.every((t, i) => t && \
                 t.dataset.framesDecoded !== undefined && \
                 Number(t.dataset.videoPackets) >= ({packets:?}[i] ?? 0) + 30);"
            ),
            Duration::from_secs(20),
        )
        .await?;
        let now = eval(session, &read).await?;
        let counts: Vec<Option<(Option<String>, u64)>> =
            serde_json::from_value(now.clone()).unwrap_or_default();
        reads.push(now);
        crate::ensure!(
            counts
                .iter()
                .all(|c| matches!(c, Some((Some(decoded), _)) if decoded == "0")),
            "{what}: a frame was decoded; (decoded, video packets) read {reads:?}"
        );
        packets = counts
            .iter()
            .map(|c| c.as_ref().map_or(0, |(_, packets)| *packets))
            .collect();
    }
    Ok(())
}
