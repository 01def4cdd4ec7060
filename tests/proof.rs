//! Proof of the promise: the relay only ever has ciphertext, and never the secret.
//!
//! Real browsers meet through the real relay (in-process, in a network namespace of their own,
//! see `common/netns.rs`), with two records running:
//! - the relay's **payload tap** (`--features payload-tap`): every media frame it forwards,
//!   as `docs/design.md`, "Payload tap", describes;
//! - a **recording proxy** in front of its HTTP port (`common/recorder.rs`): every HTTP
//!   request line and header and every WebSocket message the browsers send it.
//!
//! Then, outside the browsers, the test checks that every tapped frame is our clear prefix +
//! SFrame header + ciphertext that decrypts with the keys derived from the invite link (and
//! passphrase), that no (KID, counter) pair is ever used twice, and that the secret, the
//! passphrase, the display names and the chat text appear nowhere in what the relay received.
//!
//! The two-browser call leaves its evidence in `target/proofs/`: the tap, the link and
//! passphrase, and a screenshot of each browser mid-call, so anyone can decrypt the frames
//! independently (`cargo run --example decrypt_tap -- target/proofs/meeting.json`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::app::*;
use common::recorder::{Recorder, Sent};
use common::tap::{check_tap, start_tapped_relay};
use common::{netns, Browser, HarnessError, Session};
use serde_json::json;
use veilig_e2ee::{InviteLink, RoomKeys};

/// Everything the browsers sent the relay over HTTP and WebSocket, and checks that none of
/// `secrets` is in it; `known` must be (so the record is not simply empty or unreadable).
fn check_record(
    recorder: &Recorder,
    secrets: &[&str],
    known: &str,
) -> Result<(usize, usize), HarnessError> {
    let sent = recorder.sent();
    let text = |s: &Sent| match s {
        Sent::Http(head) => head.clone(),
        Sent::WebSocket(payload) => String::from_utf8_lossy(payload).into_owned(),
    };
    let requests = sent.iter().filter(|s| matches!(s, Sent::Http(_))).count();
    let messages = sent.len() - requests;
    crate::ensure!(
        requests > 3 && messages > 3,
        "the record holds {requests} requests and {messages} messages"
    );
    crate::ensure!(
        sent.iter().any(|s| text(s).contains(known)),
        "the record never shows {known:?}: it cannot be searched"
    );
    for secret in secrets {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for s in &sent {
            let t = text(s);
            crate::ensure!(
                !t.contains(secret) && !t.contains(&encoded),
                "{secret:?} reached the relay in {t:?}"
            );
        }
    }
    for s in &sent {
        if let Sent::Http(head) = s {
            let lower = head.to_ascii_lowercase();
            crate::ensure!(!lower.contains("\r\ncookie:"), "a cookie was sent: {head}");
            crate::ensure!(
                !lower
                    .lines()
                    .any(|l| l.starts_with("referer:") && l.contains('#')),
                "a Referer with a fragment: {head}"
            );
        }
    }
    // What the messages themselves say: answers carry none of the browsers' addresses (the
    // relay is ICE-lite and learns them from their checks), and notes are padded to one size,
    // whatever name or message they hold.
    let (mut answers, mut note_sizes) = (0, std::collections::BTreeSet::new());
    for s in &sent {
        let Sent::WebSocket(payload) = s else {
            continue;
        };
        let Ok(message) = serde_json::from_slice::<veilig_protocol::ClientMessage>(payload) else {
            continue;
        };
        match message {
            veilig_protocol::ClientMessage::Answer { sdp } => {
                answers += 1;
                crate::ensure!(
                    !sdp.contains("a=candidate"),
                    "an answer carried candidates: {sdp}"
                );
                crate::ensure!(
                    sdp.lines()
                        .filter(|l| l.starts_with("c="))
                        .all(|l| l.trim_end() == "c=IN IP4 0.0.0.0"),
                    "an answer named an address: {sdp}"
                );
                // The namespace's addresses, the only ones the browsers have here.
                crate::ensure!(
                    !sdp.contains(netns::RELAY_IP) && !sdp.contains(netns::OTHER_IP),
                    "an answer named an address: {sdp}"
                );
            }
            veilig_protocol::ClientMessage::Blob { data, .. } => {
                note_sizes.insert(data.len());
            }
            _ => {}
        }
    }
    crate::ensure!(answers >= 3, "only {answers} answers recorded");
    // One padded size for all of them; only the SFrame header's KID and counter may add a few
    // bytes (the counter grows with each note: at most 16 bytes, 24 in base64), never the text.
    let (smallest, largest) = (note_sizes.first(), note_sizes.last());
    crate::ensure!(
        smallest.zip(largest).is_some_and(|(s, l)| l - s <= 24),
        "notes of sizes that tell (names, messages and mute states of different lengths): \
         {note_sizes:?}"
    );
    Ok((requests, messages))
}

/// JavaScript: the chat list's texts contain `messages` in this order.
fn chat_in_order(messages: &[&str]) -> String {
    format!(
        r#"const list = document.querySelector('[data-testid="chat-messages"]');
           if (!list) return false;
           const text = list.textContent;
           let at = -1;
           for (const m of {messages:?}) {{
             const next = text.indexOf(m);
             if (next <= at) return false;
             at = next;
           }}
           return true;"#
    )
}

const PASSPHRASE: &str = "zeven lange woorden voor de vergadering";

/// Chromium and Firefox in a passphrase meeting, with names and chat; the records are
/// checked afterwards and the evidence saved.
async fn two_browsers(
    anna: &Session,
    bram: &Session,
    base: &str,
    recorder: &Recorder,
    proofs: &Path,
) -> Result<(), HarnessError> {
    let (anna_name, bram_name) = ("Anna Jansen", "Bram de Boer");
    let link = new_meeting(anna, base, true).await?;
    join_with(anna, anna_name, Some(PASSPHRASE)).await?;
    bram.goto(&link).await?;
    join_with(bram, bram_name, Some(PASSPHRASE)).await?;
    wait_until(anna, "Bram's video", &sees_video_of(bram_name)).await?;
    wait_until(bram, "Anna's video", &sees_video_of(anna_name)).await?;
    hears(anna).await?;
    hears(bram).await?;

    // Chat, both ways; each waits for the previous, so both lists have one order.
    let chat = [
        "Goedemorgen, dit blijft tussen ons",
        "Ook goedemorgen, de relay leest niet mee",
        "Precies: alleen versleutelde blobs",
    ];
    send_chat(anna, chat[0]).await?;
    open_chat(bram).await?;
    wait_until(bram, "the first message", &chat_in_order(&chat[..1])).await?;
    send_chat(bram, chat[1]).await?;
    wait_until(anna, "the answer", &chat_in_order(&chat[..2])).await?;
    send_chat(anna, chat[2]).await?;
    for session in [anna, bram] {
        wait_until(session, "the chat in order", &chat_in_order(&chat)).await?;
    }
    screenshot_into(anna, proofs, "call-chromium").await?;
    screenshot_into(bram, proofs, "call-firefox").await?;
    std::fs::write(
        proofs.join("meeting.json"),
        serde_json::to_string_pretty(&json!({
            "link": link,
            "passphrase": PASSPHRASE,
            "tap": "tap.jsonl",
            "screenshots": ["call-chromium.png", "call-firefox.png"],
        }))
        .unwrap(),
    )?;
    click(bram, "leave").await?;
    click(anna, "leave").await?;

    let parsed = InviteLink::parse(&link)
        .map_err(|e| HarnessError::Check(format!("the link {link}: {e:?}")))?;
    let (_, secret) = link.split_once('#').unwrap();
    let secret = secret.split('&').next().unwrap();
    let room = parsed.room().to_owned();
    let mut secrets = vec![secret, PASSPHRASE, anna_name, bram_name];
    secrets.extend(chat);
    check_record(recorder, &secrets, &room)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn the_relay_only_ever_has_ciphertext_and_never_the_secret() {
    if !netns::isolated("the_relay_only_ever_has_ciphertext_and_never_the_secret") {
        return;
    }
    let proofs = common::proofs_dir();
    let _ = std::fs::remove_dir_all(&proofs);
    std::fs::create_dir_all(&proofs).unwrap();
    let tap = proofs.join("tap.jsonl");
    let tapped = tap.clone();
    let relay = start_relay_with(None, move |config| config.payload_tap = Some(tapped)).await;
    let recorder = Recorder::start(relay.http_addr).await.unwrap();
    let base = format!("http://{}/", recorder.addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = two_browsers(&anna, &bram, &base, &recorder, &proofs).await;
    finish_pair("proof_two_browsers", anna, bram, outcome, &base).await;
    relay.shut_down().await;

    // The frames, decrypted here with nothing but the link and the passphrase.
    let meeting: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(proofs.join("meeting.json")).unwrap())
            .unwrap();
    let link = InviteLink::parse(meeting["link"].as_str().unwrap()).unwrap();
    let keys = RoomKeys::derive(&link, Some(PASSPHRASE)).unwrap();
    let report = check_tap(&tap, &keys).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.kids.len(), 2, "two senders: {report:?}");
    for sender in report.kids.keys() {
        for kind in ["audio", "video"] {
            let frames = report
                .decrypted
                .get(&(sender.clone(), kind.into()))
                .copied()
                .unwrap_or(0);
            assert!(frames > 10, "{kind} frames from {sender}: {frames}");
        }
    }
    // And with the link alone (no passphrase) not one frame opens.
    let without = RoomKeys::derive(
        &InviteLink::new(link.room(), &[0; 16], false).unwrap(),
        None,
    )
    .unwrap();
    assert!(check_tap(&tap, &without).is_err());
    println!("tap: {:?}", report.decrypted);
}

/// KNOWN FAILING, left out of `cargo xtask test` until fixed: in a call of three, Firefox
/// does not show the second remote participant's video (timed out on "Bram sees Cas" with
/// every Chromium on the standard path, and on "Bram sees Anna" with Cas on
/// `createEncodedStreams`). Two-person calls and Chromium's views are fine. Suspect: Firefox and
/// the renegotiation that adds a participant's lines (receiver transform on the new
/// receivers, or the new track never reaching the tile).
///
/// Three browsers on every attachment path (Chromium's standard `RTCRtpScriptTransform`,
/// Firefox, Chromium's `createEncodedStreams`) all decode each other; one leaves and rejoins
/// and all decode each other again. Across the whole test the tap never shows a (KID,
/// counter) pair twice, every frame decrypts, and the rejoined browser sent under new KIDs.
async fn three_browsers(
    anna: &Session,
    bram: &Session,
    cas: &Session,
    base: &str,
) -> Result<(), HarnessError> {
    let link = new_meeting(anna, base, false).await?;
    join_as(anna, "Anna").await?;
    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    cas.goto(&format!("{link}&transform=streams")).await?;
    join_as(cas, "Cas").await?;
    let everyone = [(anna, "Anna"), (bram, "Bram"), (cas, "Cas")];
    let all_see_each_other = move |round: &'static str| async move {
        for (session, own) in everyone {
            for (_, other) in everyone.iter().filter(|(_, n)| *n != own) {
                wait_until(
                    session,
                    &format!("{own} sees {other} ({round})"),
                    &sees_video_of(other),
                )
                .await?;
            }
        }
        Ok::<(), HarnessError>(())
    };
    all_see_each_other("before Cas leaves").await?;
    tokio::try_join!(
        keeps_playing(bram, Some("Anna")),
        keeps_playing(bram, Some("Cas")),
    )?;

    click(cas, "leave").await?;
    click(cas, "rejoin").await?;
    join_as(cas, "Cas").await?;
    all_see_each_other("after Cas rejoined").await?;
    hears(cas).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn three_browsers_on_every_path_rejoin_without_reusing_a_nonce() {
    if !netns::isolated("three_browsers_on_every_path_rejoin_without_reusing_a_nonce") {
        return;
    }
    let (relay, tap) = start_tapped_relay("three").await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let cas = Session::start(Browser::Chromium)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
    let outcome = three_browsers(&anna, &bram, &cas, &base).await;
    let link = anna.client().current_url().await.map(|u| u.to_string());
    if outcome.is_err() {
        let _ = screenshot(&cas, "three-failure-cas").await;
    }
    cas.close().await.ok();
    finish_pair("proof_three_browsers", anna, bram, outcome, &base).await;
    relay.shut_down().await;

    let link = InviteLink::parse(&link.expect("Anna's address")).unwrap();
    let keys = RoomKeys::derive(&link, None).unwrap();
    let report = check_tap(&tap, &keys).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&tap);
    // Anna, Bram, and Cas twice (a new participant id and new KIDs after rejoining).
    assert_eq!(report.kids.len(), 4, "senders: {report:?}");
    let mut seen = HashSet::new();
    for kids in report.kids.values() {
        assert!(
            kids.iter().all(|kid| seen.insert(*kid)),
            "a KID used by two senders: {report:?}"
        );
    }
}
