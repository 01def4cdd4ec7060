//! The whole app, end to end: headless Chromium and Firefox meet through the real relay, over
//! real WebRTC, with frame encryption on. One creates a meeting on the start page, the other
//! opens its link; both see and hear each other, chat both ways, see the other's mute, compare
//! the same safety code, and see the other leave. Screenshots of the start page, the lobby
//! and the meeting go to `target/test-artifacts/screens/` for a reviewer.
//!
//! Runs inside its own network namespace (see `common/netns.rs`): browsers do not do WebRTC
//! over loopback.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{netns, Browser, HarnessError, Session, TIMEOUT};
use fantoccini::Locator;
use serde_json::{json, Value};

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(HarnessError::Check(format!($($msg)+)));
        }
    };
}

/// The relay, in-process, serving `dist/`, media on the namespace's address; `at` gives the
/// HTTP and UDP addresses of a relay to restart in place.
async fn start_relay(at: Option<(SocketAddr, SocketAddr)>) -> veilig_relay::Relay {
    start_relay_with(at, |_| {}).await
}

/// [`start_relay`] with settings changed by `adjust`.
async fn start_relay_with(
    at: Option<(SocketAddr, SocketAddr)>,
    adjust: impl FnOnce(&mut veilig_relay::Config),
) -> veilig_relay::Relay {
    let mut config = veilig_relay::Config::defaults();
    let ip: IpAddr = netns::RELAY_IP.parse().unwrap();
    (config.listen, config.udp) =
        at.unwrap_or(("127.0.0.1:0".parse().unwrap(), SocketAddr::new(ip, 0)));
    config.public_ip = Some(ip);
    config.static_dir = Some(common::dist_dir().unwrap_or_else(|e| panic!("{e}")));
    adjust(&mut config);
    veilig_relay::start(config)
        .await
        .expect("starting the relay")
}

async fn eval(session: &Session, script: &str) -> Result<Value, HarnessError> {
    Ok(session.client().execute(script, vec![]).await?)
}

/// Waits (up to [`TIMEOUT`]) until `script` returns `true`.
async fn wait_until(session: &Session, what: &str, script: &str) -> Result<(), HarnessError> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if eval(session, script).await? == json!(true) {
            return Ok(());
        }
        check!(
            Instant::now() < deadline,
            "{}: timed out waiting for {what}",
            session.browser().name()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn click(session: &Session, test_id: &str) -> Result<(), HarnessError> {
    session.wait_for_test_id(test_id).await?.click().await?;
    Ok(())
}

async fn screenshot(session: &Session, name: &str) -> Result<(), HarnessError> {
    let dir: PathBuf = common::artifacts_dir().join("screens");
    let _ = std::fs::create_dir_all(&dir);
    let png = session.client().screenshot().await?;
    let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    Ok(())
}

/// Chromium and Firefox, each with a fresh profile.
async fn chromium_and_firefox() -> (Session, Session) {
    let chromium = Session::start(Browser::Chromium)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
    let firefox = Session::start(Browser::Firefox)
        .await
        .unwrap_or_else(|e| panic!("starting Firefox: {e}"));
    (chromium, firefox)
}

/// Ends a test of two browsers: on failure the second one's screenshot is saved too, then the
/// first reports (and panics) with its own screenshot, console and `context`.
async fn finish_pair(
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
async fn new_meeting(
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
async fn open_chat(session: &Session) -> Result<(), HarnessError> {
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
async fn join_as(session: &Session, name: &str) -> Result<(), HarnessError> {
    join_with(session, name, None).await
}

/// [`join_as`], typing `passphrase` into the passphrase field the lobby must then show.
async fn join_with(
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
    session.wait_for_test_id("room").await?;
    Ok(())
}

/// JavaScript: the remote tile of `name` plays decoded video.
fn sees_video_of(name: &str) -> String {
    format!(
        r#"for (const tile of document.querySelectorAll('[data-testid="tile-remote"]')) {{
             const n = tile.querySelector('[data-testid="tile-name"]');
             const v = tile.querySelector('video');
             if (n && n.textContent === {name:?} && v && v.videoWidth > 0 && v.currentTime > 0.5
                 && tile.dataset.state === "ok") return true;
           }}
           return false;"#
    )
}

/// Waits until audio with energy arrives from the other participant, as the app's reception
/// details show it (the browser's own `totalAudioEnergy` of the decrypted, decoded audio).
async fn hears(session: &Session) -> Result<(), HarnessError> {
    wait_until(
        session,
        "audio with energy",
        r#"const tile = document.querySelector('[data-testid="tile-remote"]');
           return !!tile && Number(tile.dataset.audioEnergy || 0) > 0;"#,
    )
    .await
}

async fn text_of(session: &Session, test_id: &str) -> Result<String, HarnessError> {
    Ok(session.wait_for_test_id(test_id).await?.text().await?)
}

async fn send_chat(session: &Session, message: &str) -> Result<(), HarnessError> {
    open_chat(session).await?;
    let input = session.wait_for_test_id("chat-input").await?;
    input.send_keys(message).await?;
    input.send_keys("\u{E007}").await?; // Enter
    Ok(())
}

async fn call(anna: &Session, bram: &Session, base: &str) -> Result<(), HarnessError> {
    // Anna starts a meeting on the start page.
    anna.goto(base).await?;
    anna.wait_for_test_id("new-meeting").await?;
    screenshot(anna, "start-page").await?;
    let link = new_meeting(anna, base, false).await?;
    check!(
        link.contains('#'),
        "the meeting link carries its secret: {link}"
    );
    wait_until(anna, "the camera preview", r#"const v = document.querySelector('[data-testid="preview"]'); return !!v && v.videoWidth > 0;"#).await?;
    // The lobby's microphone meter moves, and the pickers list the (fake) devices.
    wait_until(anna, "the microphone meter to move", r#"const m = document.querySelector('[data-testid="mic-level"]'); return !!m && m.value > 0;"#).await?;
    wait_until(
        anna,
        "the device pickers",
        r#"return document.querySelectorAll('[data-testid="camera-select"] option').length >= 1
        && document.querySelectorAll('[data-testid="mic-select"] option').length >= 1;"#,
    )
    .await?;
    screenshot(anna, "lobby").await?;
    join_as(anna, "Anna").await?;

    // Bram opens the link in the other browser, with his name as a link option; the invite
    // link his meeting screen offers to pass on is the plain one, without his option.
    bram.goto(&format!("{link}&name=Bram")).await?;
    join_as(bram, "Bram").await?;
    let offered = eval(
        bram,
        r#"return document.querySelector('[data-testid="invite-link"]').value;"#,
    )
    .await?;
    check!(
        offered == json!(link),
        "the invite link offered: {offered} (expected {link})"
    );

    // Both see each other's video, decrypted and decoded, and hear audio.
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    wait_until(bram, "Anna's video", &sees_video_of("Anna")).await?;
    hears(anna).await?;
    hears(bram).await?;
    screenshot(anna, "meeting-two").await?;

    // The same safety code on both sides.
    let (code_a, code_b) = (
        text_of(anna, "safety-code").await?,
        text_of(bram, "safety-code").await?,
    );
    check!(
        code_a == code_b && code_a.len() >= 16,
        "safety codes {code_a:?} / {code_b:?}"
    );

    // Chat, both ways.
    send_chat(anna, "Hallo Bram").await?;
    send_chat(bram, "Dag Anna").await?;
    for (session, expected) in [(anna, "Dag Anna"), (bram, "Hallo Bram")] {
        wait_until(
            session,
            "the chat message",
            &format!(
                r#"const list = document.querySelector('[data-testid="chat-messages"]');
                   return !!list && list.textContent.includes({expected:?});"#
            ),
        )
        .await?;
    }

    // Anna mutes; Bram sees it.
    click(anna, "toggle-mic").await?;
    wait_until(
        bram,
        "Anna's mute",
        r#"return !!document.querySelector('[data-testid="tile-muted"]');"#,
    )
    .await?;

    // Anna turns her camera off (Bram sees "camera off") and on again (Bram sees her again).
    click(anna, "toggle-camera").await?;
    wait_until(
        bram,
        "Anna's camera off",
        r#"return !!document.querySelector('[data-testid="camera-off"]');"#,
    )
    .await?;
    wait_until(
        anna,
        "her own tile without video",
        r#"return !document.querySelector('[data-testid="tile-self"] video');"#,
    )
    .await?;
    click(anna, "toggle-camera").await?;
    wait_until(bram, "Anna's video again", &sees_video_of("Anna")).await?;

    // Bram's (Firefox's fake) tone makes him the active speaker on Anna's screen; she pins him.
    wait_until(anna, "Bram speaking", r#"const t = document.querySelector('[data-testid="tile-remote"]'); return !!t && t.dataset.speaking === "true";"#).await?;
    click(anna, "pin").await?;
    wait_until(anna, "Bram pinned", r#"const t = document.querySelector('[data-testid="tile-remote"]'); return !!t && t.dataset.pinned === "true";"#).await?;
    click(anna, "pin").await?;

    // Anna shares her screen; Bram sees it, large; she stops, and it goes.
    click(anna, "toggle-screen").await?;
    wait_until(
        bram,
        "Anna's screen",
        r#"const t = document.querySelector('[data-testid="tile-screen"] video');
        return !!t && t.videoWidth > 0 && t.currentTime > 0.5;"#,
    )
    .await?;
    screenshot(bram, "meeting-screen-share").await?;
    click(anna, "toggle-screen").await?;
    wait_until(
        bram,
        "the screen share to end",
        r#"return !document.querySelector('[data-testid="tile-screen"]');"#,
    )
    .await?;

    // A third participant (the third screenshot), who then leaves again.
    let cas = Session::start(Browser::Chromium).await?;
    let three = async {
        cas.goto(&link).await?;
        join_as(&cas, "Cas").await?;
        wait_until(anna, "Cas's video", &sees_video_of("Cas")).await?;
        wait_until(&cas, "Bram's video", &sees_video_of("Bram")).await?;
        screenshot(anna, "meeting-three").await?;
        click(&cas, "leave").await?;
        cas.wait_for_test_id("left").await?;
        Ok::<(), HarnessError>(())
    }
    .await;
    let _ = cas.close().await;
    three?;
    wait_until(
        anna,
        "Cas gone",
        r#"return document.querySelectorAll('[data-testid="tile-remote"]').length === 1;"#,
    )
    .await?;

    // Bram leaves; Anna's meeting shrinks to herself.
    click(bram, "leave").await?;
    bram.wait_for_test_id("left").await?;
    wait_until(
        anna,
        "Bram gone",
        r#"return document.querySelectorAll('[data-testid="tile-remote"]').length === 0;"#,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn chromium_and_firefox_meet_through_the_relay() {
    if !netns::isolated("chromium_and_firefox_meet_through_the_relay") {
        return;
    }
    let relay = start_relay(None).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = call(&anna, &bram, &base).await;
    finish_pair("meeting", anna, bram, outcome, &format!("relay at {base}")).await;
    relay.shut_down().await;
}

/// Both join, the relay restarts (closing every socket with "restarting"), and both come back
/// by themselves: they see each other's video again, and a chat message typed while
/// reconnecting arrives afterwards.
async fn restart(
    anna: &Session,
    bram: &Session,
    relay: &mut Option<veilig_relay::Relay>,
) -> Result<(), HarnessError> {
    let base = format!("http://{}/", relay.as_ref().unwrap().http_addr);
    let link = new_meeting(anna, &base, false).await?;
    join_as(anna, "Anna").await?;
    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    wait_until(bram, "Anna's video", &sees_video_of("Anna")).await?;

    let old = relay.take().unwrap();
    let addresses = (old.http_addr, old.udp_addr);
    old.shut_down().await;
    wait_until(
        anna,
        "the reconnecting notice",
        r#"const s = document.querySelector('[data-testid="status"]'); return !!s;"#,
    )
    .await?;
    send_chat(anna, "Nog steeds hier").await?;
    *relay = Some(start_relay(Some(addresses)).await);

    wait_until(
        anna,
        "Bram's video after the restart",
        &sees_video_of("Bram"),
    )
    .await?;
    wait_until(
        bram,
        "Anna's video after the restart",
        &sees_video_of("Anna"),
    )
    .await?;
    open_chat(bram).await?;
    wait_until(
        bram,
        "the message typed while reconnecting",
        r#"const list = document.querySelector('[data-testid="chat-messages"]');
           return !!list && list.textContent.includes("Nog steeds hier");"#,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn both_reconnect_by_themselves_after_a_relay_restart() {
    if !netns::isolated("both_reconnect_by_themselves_after_a_relay_restart") {
        return;
    }
    let mut relay = Some(start_relay(None).await);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = restart(&anna, &bram, &mut relay).await;
    finish_pair(
        "relay_restart",
        anna,
        bram,
        outcome,
        "relay restarted in place",
    )
    .await;
    if let Some(relay) = relay {
        relay.shut_down().await;
    }
}

/// Somebody with the right room but another secret: both sides see the other's tile in the
/// "can't decrypt" state instead of a frozen or black picture, and neither reads the other's
/// name.
async fn wrong_key(anna: &Session, eve: &Session, base: &str) -> Result<(), HarnessError> {
    let link = new_meeting(anna, base, false).await?;
    join_as(anna, "Anna").await?;
    let (room, _secret) = link.split_once('#').expect("a link with a secret");
    // Another 128-bit secret, base64url: same room, different key.
    let other = format!("{room}#AAECAwQFBgcICQoLDA0ODw");
    eve.goto(&other).await?;
    join_as(eve, "Eve").await?;
    let cannot = r#"const tiles = document.querySelectorAll('[data-testid="tile-remote"]');
        return tiles.length === 1 && tiles[0].dataset.state === "cannot-decrypt"
            && !tiles[0].querySelector('video');"#;
    wait_until(anna, "Eve's tile in the can't-decrypt state", cannot).await?;
    wait_until(eve, "Anna's tile in the can't-decrypt state", cannot).await?;
    let names = r#"return [...document.querySelectorAll('[data-testid="tile-name"]')].map(n => n.textContent).join(",");"#;
    let (seen_by_anna, seen_by_eve) = (eval(anna, names).await?, eval(eve, names).await?);
    check!(
        seen_by_anna != json!("Eve") && seen_by_eve != json!("Anna"),
        "names must not be readable with another key: {seen_by_anna} / {seen_by_eve}"
    );
    let (code_a, code_e) = (
        text_of(anna, "safety-code").await?,
        text_of(eve, "safety-code").await?,
    );
    check!(
        code_a != code_e,
        "different keys show different safety codes"
    );
    screenshot(eve, "meeting-wrong-key").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_different_key_shows_cannot_decrypt_on_both_sides() {
    if !netns::isolated("a_different_key_shows_cannot_decrypt_on_both_sides") {
        return;
    }
    let relay = start_relay(None).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, eve) = chromium_and_firefox().await;
    let outcome = wrong_key(&anna, &eve, &base).await;
    finish_pair("wrong_key", anna, eve, outcome, &base).await;
    relay.shut_down().await;
}

/// A meeting that also needs a passphrase: the right one gets in and sees and hears the
/// others; a wrong one, with the right link, is in the room but decrypts nothing.
async fn passphrase(
    anna: &Session,
    bram: &Session,
    eve: &Session,
    base: &str,
) -> Result<(), HarnessError> {
    let link = new_meeting(anna, base, true).await?;
    check!(
        link.contains("pw=1"),
        "the link says a passphrase is needed: {link}"
    );
    join_with(anna, "Anna", Some("lange zin van woorden")).await?;
    bram.goto(&link).await?;
    join_with(bram, "Bram", Some("lange zin van woorden")).await?;
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    wait_until(bram, "Anna's video", &sees_video_of("Anna")).await?;
    eve.goto(&link).await?;
    join_with(eve, "Eve", Some("verkeerd")).await?;
    let all_cannot = r#"const tiles = [...document.querySelectorAll('[data-testid="tile-remote"]')];
        return tiles.length === 2 && tiles.every(t => t.dataset.state === "cannot-decrypt");"#;
    wait_until(eve, "everyone undecryptable for Eve", all_cannot).await?;
    wait_until(
        anna,
        "Eve undecryptable for Anna, Bram still fine",
        r#"const tiles = [...document.querySelectorAll('[data-testid="tile-remote"]')];
           return tiles.length === 2
               && tiles.filter(t => t.dataset.state === "cannot-decrypt").length === 1;"#,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_passphrase_meeting_admits_only_the_right_passphrase() {
    if !netns::isolated("a_passphrase_meeting_admits_only_the_right_passphrase") {
        return;
    }
    let relay = start_relay(None).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let eve = Session::start(Browser::Chromium)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
    let outcome = passphrase(&anna, &bram, &eve, &base).await;
    if outcome.is_err() {
        let _ = screenshot(&eve, "passphrase-failure-eve").await;
    }
    eve.close().await.ok();
    finish_pair("passphrase", anna, bram, outcome, &base).await;
    relay.shut_down().await;
}

/// A full room: the one who does not fit is told so, in plain words, with a way to try again,
/// instead of a spinner; the one inside is not disturbed.
async fn full(anna: &Session, bram: &Session, base: &str) -> Result<(), HarnessError> {
    let link = new_meeting(anna, base, false).await?;
    join_as(anna, "Anna").await?;
    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    wait_until(
        bram,
        "the room-full notice with a retry button",
        r#"const s = document.querySelector('[data-testid="status"]');
           return !!s && s.textContent.includes("full") && !!s.querySelector("button");"#,
    )
    .await?;
    let anna_status = eval(
        anna,
        r#"return document.querySelector('[data-testid="status"]') === null;"#,
    )
    .await?;
    check!(anna_status == json!(true), "Anna's call is undisturbed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_full_room_says_so_and_offers_to_try_again() {
    if !netns::isolated("a_full_room_says_so_and_offers_to_try_again") {
        return;
    }
    let relay = start_relay_with(None, |config| config.max_participants = 1).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = full(&anna, &bram, &base).await;
    finish_pair("room_full", anna, bram, outcome, &base).await;
    relay.shut_down().await;
}
