//! Proof of the promise: the relay only ever has ciphertext, and never the secret.
//!
//! Real browsers meet through the real relay (in-process, in a network namespace of their own,
//! see `common/netns.rs`), with two records running:
//! - the relay's **payload tap** (`--features payload-tap`): every media frame it forwards,
//!   as `docs/design.md`, "Payload tap", describes;
//! - a **recording proxy** in front of its HTTP port (`common/recorder.rs`): every HTTP
//!   request line, header and body and every WebSocket message the browsers send it, as bytes.
//!
//! Then, outside the browsers, the test checks every tapped frame (`common/tap.rs`): a clear
//! prefix exactly as long as the codec rule allows (`common/codec_rule.rs`, not the app's own
//! count) + SFrame header + ciphertext that decrypts with the keys derived from the invite link
//! (and passphrase), none of its plaintext forwarded, no (KID, counter) pair twice; that with
//! the link alone not one frame opens; and that no form of the secret, the passphrase, the
//! derived keys, the safety code, the display names or the chat text (`common/wire_forms.rs`)
//! is anywhere in what the relay received.
//!
//! The two-browser call leaves its evidence in `target/proofs/`: the tap, the link and
//! passphrase, and a screenshot of each browser mid-call, so anyone can decrypt the frames
//! independently (`cargo run --example decrypt_tap -- target/proofs/meeting.json`).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashSet;
use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::app::*;
use common::recorder::{Recorder, Sent};
use common::tap::{check_tap, read_tap, start_tapped_relay};
use common::wire_forms::{contains, Secret};
use common::{netns, Browser, HarnessError, Session};
use serde_json::json;
use veilig_e2ee::{InviteLink, RoomKeys};

/// Everything the browsers sent the relay over HTTP and WebSocket (request lines, headers and
/// bodies, whole messages as bytes), and checks that no form of any of `secrets` is in it;
/// each of `known` must be (so the record is not simply empty, unreadable or searched wrongly:
/// the room id, and the access value, a key-schedule output sent in hex).
fn check_record(
    recorder: &Recorder,
    secrets: &[Secret],
    known: &[&str],
) -> Result<(usize, usize), HarnessError> {
    let sent = recorder.sent();
    let requests = sent.iter().filter(|s| matches!(s, Sent::Http(_))).count();
    let messages = sent
        .iter()
        .filter(|s| matches!(s, Sent::WebSocket(_)))
        .count();
    crate::ensure!(
        requests > 3 && messages > 3,
        "the record holds {requests} requests and {messages} messages"
    );
    for known in known {
        crate::ensure!(
            sent.iter().any(|s| contains(s.bytes(), known.as_bytes())),
            "the record never shows {known:?}: it cannot be searched"
        );
    }
    for secret in secrets {
        for s in &sent {
            if let Some(form) = secret.found_in(s.bytes()) {
                return Err(HarnessError::Check(format!(
                    "{} reached the relay as {:?} in {:?}",
                    secret.name,
                    String::from_utf8_lossy(form),
                    String::from_utf8_lossy(s.bytes())
                )));
            }
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
    let keys = RoomKeys::derive(&parsed, Some(PASSPHRASE)).unwrap();
    let code = keys.safety_code.to_string();
    let mut secrets = vec![
        Secret::text("the link's secret", secret),
        Secret::bytes(
            "the link's secret, decoded",
            &Base64UrlUnpadded::decode_vec(secret).unwrap(),
        ),
        Secret::text("the passphrase", PASSPHRASE),
        Secret::bytes("the media key", keys.media.as_bytes()),
        Secret::bytes("the metadata key", keys.metadata.as_bytes()),
        Secret::text("the safety code", &code),
        Secret::text("the safety code's digits", &code.replace(' ', "")),
        Secret::text("a display name", anna_name),
        Secret::text("a display name", bram_name),
    ];
    secrets.extend(chat.iter().map(|text| Secret::text("a chat message", text)));
    let known = [parsed.room(), &keys.access.to_text()];
    check_record(recorder, &secrets, &known)?;
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
    // And with the link alone (no passphrase), not one frame opens: every frame is tried.
    let link_text = meeting["link"].as_str().unwrap();
    let (page, fragment) = link_text.split_once('#').unwrap();
    let link_alone =
        InviteLink::parse(&format!("{page}#{}", fragment.split('&').next().unwrap())).unwrap();
    assert!(!link_alone.passphrase_required(), "{link_text}");
    let without = read_tap(&tap, &RoomKeys::derive(&link_alone, None).unwrap()).unwrap();
    assert_eq!(without.frames, report.frames, "the same tap");
    assert_eq!(
        (without.opened(), without.failures.len()),
        (0, without.frames),
        "frames that opened with the link alone, and frames that failed: {:?}",
        &without.failures[..without.failures.len().min(3)]
    );
    println!("tap: {:?}", report.decrypted);
}

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
