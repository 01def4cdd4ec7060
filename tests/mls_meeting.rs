//! Keys that move with the meeting, end to end (issue 18): Chromium and Firefox in a meeting
//! whose link asks for MLS (`keys=mls`), with two native members of the group
//! (`common/mls_member.rs`: the same driver as the browsers' workers, no media) and the relay's
//! payload tap running. One meeting carries every check:
//!
//! 1. Olaf (native) opens the room and creates the group (epoch 0); Anna (Chromium) and Bram
//!    (Firefox) join (epochs 1, 2): each browser shows the safety code Olaf's group state
//!    gives for that epoch, and each decodes the other's video.
//! 2. Nico (native) joins (epoch 3), then leaves keeping everything he held (epoch 4): at each
//!    change both browsers show the new epoch's code, and the video plays on across it.
//! 3. The relay withholds a commit from Bram (Piet, native, joins): the others move to epoch
//!    5, Bram stays in 4, and once the overlap is over neither browser decrypts a frame of the
//!    other (fail closed) and each shows the other's tile as out of step, by itself. When the relay delivers again, the next commit (Piet's leave) is for an epoch
//!    Bram never reached: he is added again, and all meet in epoch 7, playing.
//! 4. The relay lies: Eva and Fien (native guests, members sending their cameras under their
//!    epoch keys) join, and their lines are labelled as each other's for whoever joins next.
//!    Bram, told the truth, sees both; Anna, back after the lie, decodes neither (each line
//!    opens only its owner's KIDs) and both tiles say their frames are refused.
//! 5. Afterwards, outside the browsers: every tapped frame passes the proofs' checks under the
//!    keys of the epoch its KID names (RFC 9605 §5.2, Olaf's keys: the tap checked per epoch),
//!    no sender kept sending under an old epoch once it had moved on, frames of epochs 1, 2 and 4 are there, and
//!    Nico's keys open exactly the frames of epoch 3: none from before he joined, none from
//!    after his leave's commit. Not one frame opens under the link's own media key.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::app::*;
use common::guests::{vp8_clips, Guests};
use common::mls_member::{converged, MlsMember};
use common::tap::{check_tap_epochs, read_tap, read_tap_epochs, start_tapped_relay};
use common::{netns, HarnessError, Session};
use tokio::sync::mpsc;
use veilig_e2ee::{InviteLink, RoomKeys};
use veilig_protocol::{ParticipantId, RoomAccess, RoomId};
use veilig_relay::hostile::Attack;
use veilig_test_peer::Participant;

/// The epoch and safety code a browser shows (`None` for the epoch until it is in the group).
async fn group_state(session: &Session) -> Result<(Option<u64>, String), HarnessError> {
    let state = eval(
        session,
        r#"const c = document.querySelector('[data-testid="safety-code"]');
           return c ? [c.dataset.epoch ?? null, c.textContent.trim()] : null;"#,
    )
    .await?;
    let epoch = state[0].as_str().and_then(|e| e.parse().ok());
    let code = state[1].as_str().unwrap_or_default().to_owned();
    Ok((epoch, code))
}

/// Waits until `session` shows epoch `epoch` with `code`.
async fn shows_epoch(session: &Session, epoch: u64, code: &str) -> Result<(), HarnessError> {
    wait_until(
        session,
        &format!("epoch {epoch} with code {code}"),
        &format!(
            r#"const c = document.querySelector('[data-testid="safety-code"]');
               return !!c && c.dataset.epoch === "{epoch}" && c.textContent.trim() === {code:?};"#
        ),
    )
    .await?;
    let (shown, text) = group_state(session).await?;
    crate::ensure!(
        shown == Some(epoch) && text == code,
        "shows {shown:?} {text}, not epoch {epoch} {code}"
    );
    Ok(())
}

struct Natives {
    olaf: MlsMember,
    nico: Option<MlsMember>,
}

async fn meeting(
    anna: &Session,
    bram: &Session,
    relay: &veilig_relay::Relay,
    base: &str,
    natives: &mut Option<Natives>,
) -> Result<RoomKeys, HarnessError> {
    let link = new_meeting(anna, base, false).await?;
    let link = format!("{link}&keys=mls");
    let parsed = InviteLink::parse(&link)
        .map_err(|e| HarnessError::Check(format!("the link {link}: {e:?}")))?;
    let keys = RoomKeys::derive(&parsed, None).unwrap();
    let access = RoomAccess::new(&keys.access.to_text()).unwrap();
    let (reports, mut inbox) = mpsc::unbounded_channel();

    // Olaf opens the room and the group.
    let peer = Participant::join_with(relay, parsed.room(), &access).await;
    let olaf = MlsMember::start(peer, keys.mls_psk.clone(), reports.clone());
    let olaf_id = olaf.id.clone();
    converged(&mut inbox, std::slice::from_ref(&olaf_id), 0).await;
    *natives = Some(Natives { olaf, nico: None });

    anna.goto("about:blank").await?;
    anna.goto(&link).await?;
    join_as(anna, "Anna").await?;
    let (code1, _) = converged(&mut inbox, std::slice::from_ref(&olaf_id), 1).await;
    shows_epoch(anna, 1, &code1).await?;
    crate::ensure!(
        code1 != keys.safety_code.to_string(),
        "the group's code is the link's: {code1}"
    );

    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    let (code2, _) = converged(&mut inbox, std::slice::from_ref(&olaf_id), 2).await;
    crate::ensure!(code2 != code1, "the code changes when someone joins");
    shows_epoch(anna, 2, &code2).await?;
    shows_epoch(bram, 2, &code2).await?;
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    wait_until(bram, "Anna's video", &sees_video_of("Anna")).await?;
    hears_from(anna, "Bram").await?;
    hears_from(bram, "Anna").await?;
    // The invite link the meeting hands out keeps the meeting on MLS.
    let invite = eval(
        anna,
        r#"return document.querySelector('[data-testid="invite-link"]').value;"#,
    )
    .await?;
    crate::ensure!(
        invite.as_str().is_some_and(|i| i.ends_with("&keys=mls")),
        "the invite link drops keys=mls: {invite}"
    );

    // Nico joins, then leaves with everything he held.
    let peer = Participant::join_with(relay, parsed.room(), &access).await;
    let nico = MlsMember::start(peer, keys.mls_psk.clone(), reports.clone());
    let (code3, _) = converged(&mut inbox, &[olaf_id.clone(), nico.id.clone()], 3).await;
    shows_epoch(anna, 3, &code3).await?;
    shows_epoch(bram, 3, &code3).await?;
    keeps_playing(anna, Some("Bram")).await?;
    keeps_playing(bram, Some("Anna")).await?;
    nico.leave();
    natives.as_mut().unwrap().nico = Some(nico);
    let (code4, _) = converged(&mut inbox, std::slice::from_ref(&olaf_id), 4).await;
    crate::ensure!(
        [&code1, &code2, &code3].iter().all(|c| **c != code4),
        "every epoch has its own code"
    );
    shows_epoch(anna, 4, &code4).await?;
    shows_epoch(bram, 4, &code4).await?;
    keeps_playing(anna, Some("Bram")).await?;
    keeps_playing(bram, Some("Anna")).await?;
    // A few seconds of the new epoch in the tap, past the old epoch's overlap.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The relay withholds the next commit from Bram: Piet (native) joins, and everyone but
    // Bram moves to epoch 5. Once Anna's worker erased epoch 4, neither decodes the other
    // (fail closed: Bram's keys are not the meeting's). When the relay delivers again, the
    // next commit (Piet's leave) is for an epoch Bram never reached: his worker drops its
    // group state and asks to be added again, and everyone meets in epoch 7.
    let bram_id = eval(
        anna,
        &format!("return {}.dataset.participant;", tile_of("Bram")),
    )
    .await?
    .as_str()
    .and_then(|id| ParticipantId::new(id).ok())
    .ok_or_else(|| HarnessError::Check("Bram's participant id".into()))?;
    let room = RoomId::new(parsed.room()).unwrap();
    relay
        .rooms
        .attack(&room, Attack::WithholdCommits { victim: bram_id })
        .await
        .map_err(|e| HarnessError::Check(format!("the relay could not withhold: {e}")))?;
    let peer = Participant::join_with(relay, parsed.room(), &access).await;
    let piet = MlsMember::start(peer, keys.mls_psk.clone(), reports.clone());
    let (code5, _) = converged(&mut inbox, &[olaf_id.clone(), piet.id.clone()], 5).await;
    shows_epoch(anna, 5, &code5).await?;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (bram_epoch, _) = group_state(bram).await?;
    crate::ensure!(
        bram_epoch == Some(4),
        "Bram got the withheld commit: epoch {bram_epoch:?}"
    );
    // Each says so by itself, without anyone reading codes aloud: the tile shows no picture,
    // only that the keys differ (three reports in a row with frames of another epoch and none
    // decrypted).
    for (session, other) in [(bram, "Anna"), (anna, "Bram")] {
        wait_until(
            session,
            &format!("{other}'s tile out of step"),
            &format!(
                "const t = {}; return !!t && t.dataset.state === 'out-of-step';",
                tile_of(other)
            ),
        )
        .await?;
    }
    relay
        .rooms
        .attack(&room, Attack::Truce)
        .await
        .map_err(|e| HarnessError::Check(format!("the relay could not stop: {e}")))?;
    piet.leave();
    let (code7, _) = converged(&mut inbox, std::slice::from_ref(&olaf_id), 7).await;
    shows_epoch(anna, 7, &code7).await?;
    shows_epoch(bram, 7, &code7).await?;
    keeps_playing(anna, Some("Bram")).await?;
    keeps_playing(bram, Some("Anna")).await?;

    // The relay lies: Eva's and Fien's lines (native guests, members sending their cameras
    // under their epoch keys) are labelled as each other's for whoever joins next. Anna comes
    // back after the lie and decodes neither; Bram, told the truth, sees both.
    click(anna, "leave").await?;
    anna.goto(base).await?;
    let clips = vp8_clips(anna, 2, 30).await?;
    let names = ["Eva".to_owned(), "Fien".to_owned()];
    let guests = Guests::join(relay, &link, &names, &clips)
        .await
        .map_err(|e| HarnessError::Check(format!("guests: {e:?}")))?;
    wait_until(
        bram,
        "Eva's and Fien's video",
        &sees_videos_of(&["Eva", "Fien"]),
    )
    .await?;
    let lie = Attack::SwapLines {
        a: guests.ids[0].clone(),
        b: guests.ids[1].clone(),
    };
    relay
        .rooms
        .attack(&room, lie)
        .await
        .map_err(|e| HarnessError::Check(format!("the relay could not lie: {e}")))?;
    anna.goto(&link).await?;
    join_as(anna, "Anna").await?;
    wait_until(anna, "Bram's video again", &sees_video_of("Bram")).await?;
    let refusing = format!(
        "return [{}, {}].every(t => t && t.dataset.state === 'refusing');",
        tile_of("Eva"),
        tile_of("Fien")
    );
    wait_until(anna, "Eva's and Fien's tiles refusing", &refusing).await?;
    decodes_none_while_frames_arrive(
        anna,
        "a member's frames on another member's line",
        &format!("[{}, {}]", tile_of("Eva"), tile_of("Fien")),
    )
    .await?;
    keeps_playing(bram, Some("Eva")).await?;
    drop(guests);
    click(bram, "leave").await?;
    click(anna, "leave").await?;
    Ok(keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn keys_move_with_the_meeting_and_a_leaver_reads_nothing_after() {
    if !netns::isolated("keys_move_with_the_meeting_and_a_leaver_reads_nothing_after") {
        return;
    }
    let (relay, tap) = start_tapped_relay("mls_meeting").await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let mut natives = None;
    let outcome = meeting(&anna, &bram, &relay, &base, &mut natives).await;
    let (outcome, keys) = match outcome {
        Ok(keys) => (Ok(()), Some(keys)),
        Err(e) => (Err(e), None),
    };
    finish_pair(
        "mls_meeting",
        anna,
        bram,
        outcome,
        &format!("relay at {base}"),
    )
    .await;
    relay.shut_down().await;
    let keys = keys.expect("the meeting's keys");
    let natives = natives.unwrap();
    let nico = natives.nico.unwrap();

    // Every frame, under the keys of the epoch its KID names.
    let olafs = natives.olaf.epochs.lock().unwrap();
    let report = check_tap_epochs(&tap, &olafs).unwrap_or_else(|e| panic!("{e}"));
    println!("tap per epoch: {:?}", report.epochs);
    // Anna twice, Bram, Eva and Fien.
    assert_eq!(report.kids.len(), 5, "five senders: {report:?}");
    for sender in report.kids.keys() {
        let frames = report
            .decrypted
            .get(&(sender.clone(), "video".into()))
            .copied()
            .unwrap_or(0);
        assert!(frames > 20, "video from {sender}: {frames} frames");
    }
    // Once a sender's frames are under a new epoch, the old epoch's stop: at most a few
    // stragglers (a packet resent after a NACK completes an older frame late) in the order the
    // relay received them.
    for (sender, order) in &report.epoch_order {
        let stragglers = order
            .iter()
            .enumerate()
            .filter(|(at, epoch)| order[..*at].iter().any(|before| before > epoch))
            .count();
        assert!(
            stragglers <= 10,
            "{sender} kept sending under older epochs ({stragglers} frames): {order:?}"
        );
    }
    for epoch in [1, 2, 4] {
        assert!(
            report.epochs.get(&epoch).copied().unwrap_or(0) > 20,
            "frames of epoch {epoch}: {:?}",
            report.epochs
        );
    }

    // What Nico kept opens exactly the frames of the one epoch he was in.
    let nicos = nico.epochs.lock().unwrap();
    assert_eq!(
        nicos.iter().map(|k| k.epoch()).collect::<Vec<_>>(),
        [3],
        "Nico was in epoch 3 only"
    );
    let his = read_tap_epochs(&tap, &nicos).unwrap();
    assert_eq!(
        his.epochs.keys().copied().collect::<Vec<_>>(),
        [3],
        "Nico opened frames of other epochs: {:?}",
        his.epochs
    );
    assert_eq!(
        his.opened(),
        report.epochs.get(&3).copied().unwrap_or(0),
        "Nico opens every frame of his epoch and nothing else"
    );
    // No downgrade: the link's own media key opens nothing.
    let linked = read_tap(&tap, &keys).unwrap();
    assert_eq!(linked.opened(), 0, "frames under the link's key");
}
