//! The relay is the adversary: a relay that lies on purpose, and browsers that refuse its lies.
//!
//! The real relay, built with its test-only `hostile` feature (`relay/src/hostile.rs`), carries
//! out attacks on command through the real signaling and real str0m sessions, and its payload
//! tap records every frame a browser sends it, including frames on lines it relabelled (which
//! an honest relay never gets). One meeting carries every check: Chromium on the standard
//! `RTCRtpScriptTransform` path, Chromium on `createEncodedStreams`, and Firefox each join it in
//! turn, beside a native participant (Bram) whose lines are the ones relabelled, and each is
//! attacked once per kind of lie:
//!
//! | attack | the lie | what a browser that believed it did (before the fix) |
//! |---|---|---|
//! | `ForwardAsSlot` | Bram's camera line is "your camera slot", the relay receiving | sent our camera there with no encrypt transform: plaintext VP8 |
//! | `SlotAsForward` | our camera slot is "Bram's camera", the relay sending | played whatever came on it, undecrypted, in Bram's tile |
//! | `SwapLines` | two guests' lines are labelled as each other's for a newcomer | played each one's picture and voice in the other's tile; now each line's frames are under KIDs its labelled owner never announced: refused, nothing decoded |
//! | `SwapNotes` | two guests' notes are delivered as each other's | showed each one's name (and would show their chat) on the other's tile; now neither note opens, and without their announced KIDs neither guest's frames decode |
//! | a KID flood | Hugo (holding the link) sends frames under 300 and more fresh KIDs while Gijs is idle | a flood of 256 retired an idle participant's KID for good; now none of Hugo's KIDs was announced, so none of his frames decodes, and Gijs is seen again |
//! | `Record`, `Replay` | a guest's notes and frames recorded, the browser made to reconnect, the recording played in place of the live ones | believed the recorded presence and decoded the recorded frames; now no recorded note answers the new session, and the recorded frames are below the floors of the live answer: nameless or refused, nothing decoded |
//!
//! Every lie is told on each of the three paths. For the relabelled lines the browser must stop
//! the call at once with the plain message ("The server sent something unexpected. For your
//! safety the call was stopped.", or the Dutch one); swapped notes and lines must leave the
//! guests' tiles refusing their frames, with no name from a swapped note. At the end every frame the relay received from any browser, stray ones included, must be our clear
//! prefix + SFrame header + ciphertext that opens under the link's keys. Swapped notes must not
//! open at all: their associated data names the sender they were sealed by.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::app::*;
use common::guests::{vp8_clips, Clip, Guests, Mode};
use common::tap::{check_tap, start_tapped_relay};
use common::{netns, HarnessError, Session, TIMEOUT};
use veilig_e2ee::{InviteLink, RoomKeys};
use veilig_protocol::{ParticipantId, RoomAccess, RoomId, Source};
use veilig_relay::hostile::Attack;
use veilig_test_peer::Participant;

/// The status line of a call stopped for safety, in either language (the retry button follows).
const STOPPED_FOR_SAFETY: &str = r#"const status = document.querySelector('[data-testid="status"]');
    const text = status ? status.textContent : '';
    return text.startsWith('The server sent something unexpected. For your safety the call was stopped.')
        || text.startsWith('De server stuurde iets onverwachts. Voor uw veiligheid is het gesprek gestopt.');"#;

/// Every lie, each told to a browser freshly joined.
fn attacks(bram: &ParticipantId) -> [(&'static str, Attack); 3] {
    [
        (
            "Bram's camera line relabelled as our camera slot",
            Attack::ForwardAsSlot {
                origin: bram.clone(),
                source: Source::Camera,
            },
        ),
        (
            "Bram's microphone line relabelled as our microphone slot",
            Attack::ForwardAsSlot {
                origin: bram.clone(),
                source: Source::Microphone,
            },
        ),
        (
            "our camera slot relabelled as Bram's camera",
            Attack::SlotAsForward {
                origin: bram.clone(),
                source: Source::Camera,
            },
        ),
    ]
}

/// The meeting every browser joins in turn.
struct Meeting<'a> {
    relay: &'a veilig_relay::Relay,
    tap: &'a Path,
    base: &'a str,
    link: &'a str,
    /// The native participant whose lines are relabelled.
    bram: &'a ParticipantId,
}

/// Tells `attack` as soon as the browser in the room receives Bram's lines (the relay refuses
/// while the lines are still being negotiated).
async fn attack_when_ready(
    relay: &veilig_relay::Relay,
    room: &RoomId,
    attack: &Attack,
) -> Result<(), HarnessError> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match relay.rooms.attack(room, attack.clone()).await {
            Ok(_) => return Ok(()),
            Err(not_now) if Instant::now() >= deadline => {
                crate::ensure!(false, "the relay could not attack: {not_now}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The room of `link`.
fn parsed_room(link: &str) -> RoomId {
    RoomId::new(InviteLink::parse(link).unwrap().room()).unwrap()
}

/// Frames in the tap so far.
fn tapped(tap: &Path) -> usize {
    std::fs::read_to_string(tap)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// Waits until the relay received `more` frames beyond `before`.
async fn frames_arrive(tap: &Path, before: usize, more: usize) -> Result<(), HarnessError> {
    let deadline = Instant::now() + TIMEOUT;
    while tapped(tap) < before + more {
        crate::ensure!(
            Instant::now() < deadline,
            "the relay received {} frames, not {more}",
            tapped(tap) - before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Joins `link` in `session` (with `options` appended), lets media flow, and has the relay tell
/// each lie in turn, rejoining after each; the call must stop every time.
async fn every_lie_refused(
    session: &Session,
    meeting: &Meeting<'_>,
    options: &str,
) -> Result<(), HarnessError> {
    let Meeting {
        relay,
        tap,
        base,
        link,
        bram,
    } = meeting;
    let room = RoomId::new(InviteLink::parse(link).unwrap().room()).unwrap();
    let path = if options.is_empty() {
        "standard path"
    } else {
        options
    };
    for (what, attack) in &attacks(bram) {
        // From the start page, so the meeting page loads afresh.
        session.goto(base).await?;
        session.goto(&format!("{link}{options}")).await?;
        let before = tapped(tap);
        join_as(session, "Anna").await?;
        // Our camera and microphone reach the relay, encrypted, before the lie is told.
        frames_arrive(tap, before, 10).await?;
        attack_when_ready(relay, &room, attack).await?;
        wait_until(
            session,
            &format!("the call stopped for safety ({what}, {path})"),
            STOPPED_FOR_SAFETY,
        )
        .await?;
        // Stopped means stopped: the camera is released, and nothing plays.
        wait_until(
            session,
            &format!("no video playing ({what}, {path})"),
            r#"return [...document.querySelectorAll('video')]
                 .every(v => !v.srcObject || v.srcObject.getTracks().every(t => t.readyState === 'ended'));"#,
        )
        .await?;
    }
    Ok(())
}

/// Two native guests named `names` join; the relay is told the lie `swap` makes of them; then
/// `session` joins the meeting afresh (with `options`). Returns the guests (they leave when
/// dropped).
async fn guests_under_a_lie(
    session: &Session,
    meeting: &Meeting<'_>,
    options: &str,
    clips: &[Clip],
    names: &[String],
    swap: impl FnOnce(ParticipantId, ParticipantId) -> Attack,
) -> Result<Guests, HarnessError> {
    let room = RoomId::new(InviteLink::parse(meeting.link).unwrap().room()).unwrap();
    let guests = Guests::join(meeting.relay, meeting.link, names, clips)
        .await
        .map_err(|e| HarnessError::Check(format!("guests: {e:?}")))?;
    let lie = swap(guests.ids[0].clone(), guests.ids[1].clone());
    attack_when_ready(meeting.relay, &room, &lie).await?;
    // From the start page, so the meeting page loads afresh.
    session.goto(meeting.base).await?;
    session.goto(&format!("{}{options}", meeting.link)).await?;
    join_as(session, "Anna").await?;
    Ok(guests)
}

/// Two native guests, Cas and Daan, whose notes the relay delivers as each other's: the browser
/// opens neither note, so it shows neither name, and since neither announced a KID to it, it
/// decodes none of their frames either.
async fn swapped_notes_are_refused(
    session: &Session,
    meeting: &Meeting<'_>,
    options: &str,
    clips: &[Clip],
) -> Result<(), HarnessError> {
    let names = ["Cas".to_owned(), "Daan".to_owned()];
    let guests = guests_under_a_lie(session, meeting, options, clips, &names, |a, b| {
        Attack::SwapNotes { a, b }
    })
    .await?;
    // Their notes do not open (sealed for the other's id), so neither announced a KID: their
    // frames arrive and are dropped as unannounced, and both tiles say their frames are refused.
    let tiles = format!(
        r#"return {:?}.every(id => document.querySelector(
               `[data-testid="tile-remote"][data-participant="${{id}}"][data-state="refusing"]`));"#,
        [guests.ids[0].as_str(), guests.ids[1].as_str()]
    );
    wait_until(session, "both guests' tiles refusing their frames", &tiles).await?;
    // Every tile (the browser of an earlier step may still be in the meeting, named Anna):
    // none may carry a guest's name; the guests' own tiles decoded nothing.
    let shown = eval(
        session,
        r#"return [...document.querySelectorAll('[data-testid="tile-remote"]')]
             .map(t => [t.dataset.participant,
                        t.querySelector('[data-testid="tile-name"]')?.textContent,
                        t.dataset.framesDecoded]);"#,
    )
    .await?;
    let shown: Vec<(String, Option<String>, String)> =
        serde_json::from_value(shown).unwrap_or_default();
    crate::ensure!(
        !shown
            .iter()
            .any(|(_, name, _)| name.as_ref().is_some_and(|n| names.contains(n))),
        "a swapped note was believed: the tiles say {shown:?}"
    );
    let guest_tiles = format!(
        r#"{:?}.map(id => document.querySelector(
               `[data-testid="tile-remote"][data-participant="${{id}}"]`))"#,
        [guests.ids[0].as_str(), guests.ids[1].as_str()]
    );
    decodes_none_while_frames_arrive(
        session,
        "the guests' frames under unannounced KIDs",
        &guest_tiles,
    )
    .await?;
    drop(guests);
    Ok(())
}

/// Two native guests, Eva and Fien, whose lines the relay labels as each other's for the
/// browser that joins after them (their notes honest): each tile shows its own name, and
/// neither decodes a frame, since each line carries frames under the other guest's KIDs.
async fn swapped_lines_are_refused(
    session: &Session,
    meeting: &Meeting<'_>,
    options: &str,
    clips: &[Clip],
) -> Result<(), HarnessError> {
    let names = ["Eva".to_owned(), "Fien".to_owned()];
    let guests = guests_under_a_lie(session, meeting, options, clips, &names, |a, b| {
        Attack::SwapLines { a, b }
    })
    .await?;
    let refusing = format!(
        "return [{}, {}].every(t => t && t.dataset.state === 'refusing');",
        tile_of("Eva"),
        tile_of("Fien")
    );
    wait_until(session, "Eva's and Fien's tiles refusing", &refusing).await?;
    decodes_none_while_frames_arrive(
        session,
        "a guest's frames shown as the other's",
        &format!("[{}, {}]", tile_of("Eva"), tile_of("Fien")),
    )
    .await?;
    drop(guests);
    Ok(())
}

/// The replay of finding 4: the relay has recorded Gijs (a native guest) since he joined, and
/// makes the browser reconnect twice. The first time it plays the browser Gijs's recorded
/// notes and frames in place of his live ones: no recorded note answers the browser's new
/// session, so Gijs stays nameless and his frames refused. The second time his notes are live
/// (his answer names the browser's new session, with his counters of now) and only his frames
/// are recorded: they are under his floors, so refused as replays, and once the relay stops
/// lying, his live frames decode again.
async fn recordings_are_refused_after_a_reconnect(
    session: &Session,
    meeting: &Meeting<'_>,
    options: &str,
    guests: &Guests,
    clips: &[Clip],
) -> Result<(), HarnessError> {
    let gijs = &guests.ids[0];
    let room = RoomId::new(InviteLink::parse(meeting.link).unwrap().room()).unwrap();
    let path = if options.is_empty() {
        "standard path"
    } else {
        options
    };
    session.goto(meeting.base).await?;
    session.goto(&format!("{}{options}", meeting.link)).await?;
    join_as(session, "Anna").await?;
    let decoding = format!(
        "const t = {}; return !!t && t.dataset.state === 'ok' && Number(t.dataset.framesDecoded) > 0;",
        tile_of("Gijs")
    );
    wait_until(
        session,
        &format!("Gijs's picture, live ({path})"),
        &decoding,
    )
    .await?;
    a_kid_flood_takes_no_ones_picture(session, meeting, guests, clips, path).await?;
    let gijs_tile = format!(
        r#"document.querySelector('[data-testid="tile-remote"][data-participant="{gijs}"]')"#
    );
    for notes in [true, false] {
        let replay = Attack::Replay {
            origin: gijs.clone(),
            notes,
        };
        let what = if notes { "notes and frames" } else { "frames" };
        attack_when_ready(meeting.relay, &room, &replay).await?;
        // Back in, with Gijs's tile refusing what it is played.
        let refusing = if notes {
            format!("const t = {gijs_tile}; return !!t && t.dataset.state === 'refusing';")
        } else {
            format!(
                "const t = {}; return !!t && t.dataset.state === 'refusing';",
                tile_of("Gijs")
            )
        };
        wait_until(
            session,
            &format!("Gijs's recorded {what} refused after a reconnect ({path})"),
            &refusing,
        )
        .await?;
        // Not one recorded frame decodes: the browser's own count for his receiver, read as 0
        // while 60 of them arrive (ten frames a second).
        decodes_none_while_frames_arrive(
            session,
            &format!("Gijs's recorded {what} ({path})"),
            &format!("[{gijs_tile}]"),
        )
        .await?;
        let name = eval(
            session,
            &format!(
                "return {gijs_tile}?.querySelector('[data-testid=\"tile-name\"]')?.textContent;"
            ),
        )
        .await?;
        crate::ensure!(
            !notes || name != "Gijs",
            "a recorded note of Gijs was believed ({path}): {name}"
        );
        meeting.relay.rooms.attack(&room, Attack::Truce).await.ok();
    }
    // The relay tells the truth again: Gijs's live frames, above his floors, decode.
    wait_until(
        session,
        &format!("Gijs's picture, live again ({path})"),
        &decoding,
    )
    .await?;
    // Out of the meeting, so the next path's replays force no one else to reconnect.
    session.goto(meeting.base).await
}

/// Finding 5, the KID flood: Hugo, who holds the link, joins and sends frames under fresh
/// KIDs (ten a tick, 300 or more in all) while Gijs is idle, as a camera turned off is. Hugo
/// never announced those KIDs, so not one of his frames decodes though each is under the right
/// key; and Gijs, back, is seen again (before the fix, a flood of 256 retired an idle
/// participant's KID for good: their picture stayed black). Hugo leaves at the end.
async fn a_kid_flood_takes_no_ones_picture(
    session: &Session,
    meeting: &Meeting<'_>,
    guests: &Guests,
    clips: &[Clip],
    path: &str,
) -> Result<(), HarnessError> {
    let hugo = Guests::join_in(
        meeting.relay,
        meeting.link,
        &["Hugo".to_owned()],
        clips,
        Mode::Paused,
    )
    .await
    .map_err(|e| HarnessError::Check(format!("Hugo: {e:?}")))?;
    wait_until(
        session,
        &format!("Hugo in the meeting ({path})"),
        &format!("return !!{};", tile_of("Hugo")),
    )
    .await?;
    let decoded = |name: &str| {
        format!(
            "return Number(({})?.dataset.framesDecoded ?? 0);",
            tile_of(name)
        )
    };
    let before = eval(session, &decoded("Gijs")).await?;
    guests.set_mode(0, Mode::Paused);
    hugo.set_mode(0, Mode::Flooding);
    let flood = Instant::now();
    decodes_none_while_frames_arrive(
        session,
        &format!("Hugo's flood of fresh KIDs ({path})"),
        &format!("[{}]", tile_of("Hugo")),
    )
    .await?;
    // At least 300 fresh KIDs (ten a tick, ten ticks a second).
    let flooded_for = Duration::from_secs(3);
    if let Some(rest) = flooded_for.checked_sub(flood.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let hugo = eval(session, &decoded("Hugo")).await?;
    crate::ensure!(
        hugo == 0,
        "a flooded frame of Hugo decoded ({path}): {hugo}"
    );
    drop(hugo);
    guests.set_mode(0, Mode::Playing);
    wait_until(
        session,
        &format!("Gijs's picture back after the flood ({path}; {before} frames decoded before)"),
        &format!(
            "const t = {}; return !!t && t.dataset.state === 'ok' && Number(t.dataset.framesDecoded) > {before};",
            tile_of("Gijs")
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn a_relay_that_relabels_lines_gets_no_plaintext_and_the_call_stops() {
    if !netns::isolated("a_relay_that_relabels_lines_gets_no_plaintext_and_the_call_stops") {
        return;
    }
    let (relay, tap) = start_tapped_relay("hostile").await;
    let base = format!("http://{}/", relay.http_addr);
    let (chromium, firefox) = chromium_and_firefox().await;
    let mut link = String::new();
    let outcome = async {
        link = new_meeting(&chromium, &base, false).await?;
        let parsed = InviteLink::parse(&link).unwrap();
        let keys = RoomKeys::derive(&parsed, None).unwrap();
        let access = RoomAccess::new(&keys.access.to_text()).unwrap();
        let bram = Participant::join_with(&relay, parsed.room(), &access).await;
        let meeting = Meeting {
            relay: &relay,
            tap: &tap,
            base: &base,
            link: &link,
            bram: &bram.id,
        };
        every_lie_refused(&chromium, &meeting, "").await?;
        every_lie_refused(&chromium, &meeting, "&transform=streams").await?;
        every_lie_refused(&firefox, &meeting, "").await?;
        // The guests' pictures, encoded by Chromium's WebCodecs on a page of the relay's
        // origin, before joining.
        chromium.goto(&base).await?;
        let clips = vp8_clips(&chromium, 2, 30).await?;
        // Gijs, recorded from now on: by the time of the replays, his recording is far below
        // the floors he announces.
        let gijs = Guests::join(&relay, &link, &["Gijs".to_owned()], &clips)
            .await
            .map_err(|e| HarnessError::Check(format!("Gijs: {e:?}")))?;
        let record = Attack::Record {
            origin: gijs.ids[0].clone(),
        };
        attack_when_ready(&relay, &parsed_room(&link), &record).await?;
        let paths = [
            (&chromium, ""),
            (&chromium, "&transform=streams"),
            (&firefox, ""),
        ];
        for (session, options) in paths {
            swapped_notes_are_refused(session, &meeting, options, &clips).await?;
            swapped_lines_are_refused(session, &meeting, options, &clips).await?;
        }
        // Only the browser under test is in the meeting for each replay.
        firefox.goto(&base).await?;
        for (session, options) in paths {
            recordings_are_refused_after_a_reconnect(session, &meeting, options, &gijs, &clips)
                .await?;
        }
        drop(gijs);
        bram.close();
        Ok(())
    }
    .await;
    finish_pair("hostile_relabel", chromium, firefox, outcome, &base).await;
    relay.shut_down().await;

    let keys = RoomKeys::derive(&InviteLink::parse(&link).unwrap(), None).unwrap();
    let report = check_tap(&tap, &keys).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(&tap);
    println!(
        "tap: {:?}, stray frames: {}",
        report.decrypted, report.stray
    );
    // Twenty-four connections of the browsers (three lies, then the swapped notes and lines,
    // on three paths; then a join and two reconnects on each for the replays) and sixteen
    // guests (Hugo floods once on each path), each a new participant id with its own KIDs, and every frame any of them sent,
    // on any line, opened under the link's keys (Hugo's flood too: his frames are under the
    // right key, only under KIDs he never announced).
    assert_eq!(report.kids.len(), 40, "senders: {report:?}");
    for ((sender, kind), frames) in &report.decrypted {
        assert!(*frames > 0, "{kind} from {sender}: {frames}");
    }
}
