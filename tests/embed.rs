//! Embedding, end to end: a host page on one origin embeds a meeting from the relay on
//! another (`static/embed.js`), drives it through the `postMessage` API and hears its events,
//! while a second participant joins the meeting directly. A page on an origin the relay does
//! not list gets no meeting at all, and messages from any window but the host page (another
//! origin, or the host's own origin in another frame) are ignored.
//!
//! Origins: the relay, the allowed host and the refused host are three servers on three
//! loopback ports, so three origins. Runs in its own network namespace (`common/netns.rs`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::app::*;
use common::recorder::{Recorder, Sent};
use common::{netns, HarnessError, Session, StaticServer};
use serde_json::{json, Value};

/// The host page: loads the helper from the relay (cross-origin, as a classic script) and
/// keeps every event the meeting reports in `window.events`; `start(link)` embeds.
fn host_page(relay: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>Host</title>
<script src="{relay}static/embed.js"></script>
<div id="meeting" style="width: 900px; height: 650px"></div>
<script>
  window.events = [];
  window.loaded = false;
  window.start = function (link, options) {{
    window.meeting = Veilig.embed(document.getElementById("meeting"),
      Object.assign({{ link: link, name: "Host", skipLobby: true }}, options || {{}}));
    window.meeting.on("*", function (e) {{ window.events.push(e); }});
    window.meeting.iframe.addEventListener("load", function () {{ window.loaded = true; }});
  }};
  // The other frames of the test say when they have posted their message.
  window.addEventListener("message", function (e) {{
    if (e.data === "posted") window.posted = (window.posted || 0) + 1;
  }});
</script>"#
    )
}

/// A frame that tries to drive the meeting, the host page's first frame, from outside.
const INTRUDER: &str = r#"<!doctype html><meta charset="utf-8"><script>
  parent.frames[0].postMessage({ veilig: 1, type: "setMicrophone", on: true }, "*");
  parent.postMessage("posted", "*");
</script>"#;

/// JavaScript: whether the host has heard an event of `type`.
fn heard(kind: &str) -> String {
    format!("return window.events.some(e => e.type === {kind:?});")
}

/// A page on an origin the relay does not list: the browser does not show the meeting, and
/// the host never hears from it. `link` goes through `recorder`, in front of the relay: the
/// browser asks for the meeting's page (so the frame was tried) and never for the app it would
/// load (so the page never ran), in either browser. Firefox says nothing in its console.
async fn refused(
    session: &Session,
    page: &str,
    link: &str,
    recorder: &Recorder,
) -> Result<(), HarnessError> {
    let before = recorder.sent().len();
    session.goto(page).await?;
    eval(session, &format!("start({link:?});")).await?;
    if session.browser() == common::Browser::Chromium {
        // A refused frame still fires `load` (with the browser's error page) in Chromium.
        wait_until(session, "the iframe to load", "return window.loaded;").await?;
        // Chromium says why, in the console.
        let deadline = std::time::Instant::now() + common::TIMEOUT;
        loop {
            let entries = session.console_errors().await?;
            if entries.iter().any(|e| e.text.contains("frame-ancestors")) {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "no frame-ancestors refusal in the console: {entries:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // An allowed meeting says `ready` within a second or two of loading (see below, where
    // the same page is allowed); a refused one must stay silent for much longer.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let requests: Vec<String> = recorder.sent()[before..]
        .iter()
        .filter_map(|sent| match sent {
            Sent::Http(head) => head.lines().next().map(str::to_owned),
            _ => None,
        })
        .collect();
    ensure!(
        requests.iter().any(|line| line.starts_with("GET /nowhere")),
        "{}: the frame never asked for the meeting: {requests:?}",
        session.browser().name()
    );
    ensure!(
        !requests.iter().any(|line| [".wasm", ".js", ".css"]
            .iter()
            .any(|ext| line.contains(ext))),
        "{}: a refused frame loaded the app: {requests:?}",
        session.browser().name()
    );
    let events = eval(session, "return window.events;").await?;
    ensure!(
        events == json!([]),
        "{}: a refused embedder heard {events}",
        session.browser().name()
    );
    Ok(())
}

async fn embedded(
    host: &Session,
    guest: &Session,
    base: &str,
    recorder: &Recorder,
    allowed: &StaticServer,
    other: &StaticServer,
) -> Result<(), HarnessError> {
    // Neither browser gets a meeting on the origin the relay does not list.
    let some_link = format!("http://{}/nowhere#AAECAwQFBgcICQoLDA0ODw", recorder.addr);
    for session in [host, guest] {
        refused(session, &other.url("/host.html"), &some_link, recorder).await?;
    }

    // The guest starts a meeting and joins directly.
    let link = new_meeting(guest, base, false).await?;
    join_as(guest, "Gast").await?;

    // The host page embeds it: ready, joined, and the guest is there.
    host.goto(&allowed.url("/host.html")).await?;
    eval(
        host,
        &format!(r#"start({link:?}, {{ chat: false, toolbar: "compact", lang: "nl" }});"#),
    )
    .await?;
    for kind in ["ready", "joined", "participantJoined"] {
        wait_until(host, kind, &heard(kind)).await?;
    }
    // The link options embed.js set: Dutch, no chat, the compact toolbar.
    host.client().enter_frame(0).await?;
    let layout = eval(
        host,
        r#"return [document.querySelector('.app').lang,
                   !!document.querySelector('[data-testid="toggle-chat"]'),
                   document.querySelector('[data-testid="room"]').classList.contains("compact")];"#,
    )
    .await;
    host.client().enter_parent_frame().await?;
    let layout = layout?;
    ensure!(
        layout == json!(["nl", false, true]),
        "language, chat button, compact: {layout}"
    );
    wait_until(guest, "the host's tile", &sees_video_of("Host")).await?;
    screenshot(host, "embedded-meeting").await?;

    // The host mutes the meeting: the guest sees it, and the host is told.
    eval(host, "return meeting.setMicrophone(false);").await?;
    guest.wait_for_test_id("tile-muted").await?;
    wait_until(
        host,
        "muteChanged",
        "return window.events.some(e => e.type === 'muteChanged' && e.microphone === false);",
    )
    .await?;

    // A new name travels to the guest (sealed, as names do), not to the host page.
    eval(host, r#"return meeting.setDisplayName("Gastheer");"#).await?;
    wait_until(guest, "the host's new name", &sees_video_of("Gastheer")).await?;

    // Frames that are not the host page try to unmute: one from another origin, one from the
    // host's own origin. The host page itself sends what this version does not accept.
    eval(
        host,
        r#"const iframe = (url) => { const f = document.createElement("iframe");
                                     f.src = url; document.body.appendChild(f); };
           iframe(arguments[0]); iframe(arguments[1]);
           const target = meeting.iframe.contentWindow;
           for (const bad of [
             { veilig: 2, type: "setMicrophone", on: true },
             { veilig: 1, type: "setMicrophone", on: "yes" },
             { veilig: 1, type: "setMicrophone", on: true, please: true },
             { veilig: 1, type: "unmuteEveryone" },
             "setMicrophone",
           ]) target.postMessage(bad, meeting.origin);"#
            .replace(
                "arguments[0]",
                &format!("{:?}", other.url("/intruder.html")),
            )
            .replace(
                "arguments[1]",
                &format!("{:?}", allowed.url("/intruder.html")),
            )
            .as_str(),
    )
    .await?;
    wait_until(
        host,
        "both intruders to post",
        "return window.posted === 2;",
    )
    .await?;
    // Then a proper command: once it has taken effect, the meeting has read the others too.
    eval(host, "return meeting.setCamera(false);").await?;
    guest.wait_for_test_id("camera-off").await?;
    let still_muted = eval(
        guest,
        r#"return !!document.querySelector('[data-testid="tile-muted"]');"#,
    )
    .await?;
    ensure!(
        still_muted == json!(true),
        "a message from another window unmuted the host"
    );

    // The host leaves through the API: it hears `left`, the guest is alone again.
    eval(host, "return meeting.leave();").await?;
    wait_until(host, "left", &heard("left")).await?;
    wait_until(
        guest,
        "the host gone",
        r#"return !document.querySelector('[data-testid="tile-remote"]');"#,
    )
    .await?;

    // Nothing the host heard carries a name, chat or the link's secret.
    let events = eval(host, "return window.events;").await?;
    let secret = link.split_once('#').map(|(_, s)| s).unwrap_or_default();
    let text = events.to_string();
    for private in ["Gast", "Gastheer", "Host", secret] {
        ensure!(
            !text.contains(private),
            "the host heard {private:?}: {text}"
        );
    }
    let kinds: Vec<&str> = events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("type").and_then(Value::as_str))
        .collect();
    ensure!(
        kinds.iter().all(|k| [
            "ready",
            "joined",
            "participantJoined",
            "participantLeft",
            "muteChanged",
            "decryptionFailure",
            "left",
        ]
        .contains(k)),
        "unexpected events: {kinds:?}"
    );
    ensure!(
        !text.contains(r#""microphone":true,"camera":false"#),
        "the host was unmuted: {text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_host_page_drives_an_embedded_meeting_and_others_cannot() {
    if !netns::isolated("a_host_page_drives_an_embedded_meeting_and_others_cannot") {
        return;
    }
    let pages = tempfile::tempdir().expect("a directory for the host pages");
    let allowed = StaticServer::serve(pages.path()).expect("the host page's server");
    let other = StaticServer::serve(pages.path()).expect("the other origin's server");
    let host_origin = allowed.url("");
    let relay = start_relay_with(None, |config| config.frame_ancestors = vec![host_origin]).await;
    let base = format!("http://{}/", relay.http_addr);
    std::fs::write(pages.path().join("host.html"), host_page(&base)).unwrap();
    std::fs::write(pages.path().join("intruder.html"), INTRUDER).unwrap();

    let recorder = Recorder::start(relay.http_addr)
        .await
        .expect("a recorder in front of the relay");
    let (host, guest) = chromium_and_firefox().await;
    let outcome = embedded(&host, &guest, &base, &recorder, &allowed, &other).await;
    let context = format!("relay at {base}\n{}\n{}", allowed.report(), other.report());
    finish_pair("embed", host, guest, outcome, &context).await;
    relay.shut_down().await;
}
