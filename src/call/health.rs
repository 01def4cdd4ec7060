//! How each remote participant's media is doing, from two sources: the frame-crypto worker's
//! counters (does it decrypt?) and the browser's own statistics (what arrives, how much is
//! lost, by which route). Read-only: nothing here changes the call.

use std::collections::HashMap;

use veilig_protocol::{ParticipantId, Source};
use wasm_bindgen::{JsCast, JsValue};

use super::events::{Decryption, Reception};
use super::route::{self, Stat};
use crate::encryption::WorkerStats;
use crate::frame_crypto::messages::Direction;

/// Reports in a row with frames under an epoch we do not hold and none decrypted before a
/// participant is shown out of step: at every join and leave some frames arrive under the new
/// epoch before we processed its commit (or under the old one after its overlap), for well
/// under a second; three reports (about 3 s) is past that, and past the 2 s overlap too.
pub const OUT_OF_STEP_REPORTS: u32 = 3;

/// A transform's counts at the last report, and how many reports in a row it was out of step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counted {
    decrypted: u64,
    failed: u64,
    refused: u64,
    other_epoch: u64,
    out_of_step: u32,
}

/// A state per participant from the worker's per-transform counters: fine if any of their
/// frames decrypted since the last report; out of step if for [`OUT_OF_STEP_REPORTS`] reports
/// in a row frames arrived under an MLS epoch we do not hold and none decrypted; failing if
/// frames arrived that do not open; refusing if frames arrived that were refused as not
/// theirs or replayed. `lines` maps transform ids to participants; `last` holds each
/// transform's counts at the last report.
pub fn decryption(
    lines: &[(u32, ParticipantId, Source)],
    stats: &WorkerStats,
    last: &mut HashMap<u32, Counted>,
) -> HashMap<ParticipantId, Decryption> {
    let owner: HashMap<u32, &ParticipantId> = lines.iter().map(|(id, who, _)| (*id, who)).collect();
    let mut health: HashMap<ParticipantId, Decryption> = HashMap::new();
    for (id, direction, counters) in &stats.transforms {
        if *direction != Direction::Receive {
            continue;
        }
        let Some(who) = owner.get(id) else { continue };
        // Frames that do not open; frames that open but under a KID their sender never
        // announced for this line, or that another sender owns, or replayed: not this
        // participant's media.
        let now = Counted {
            decrypted: counters.decrypted,
            failed: counters.bad_tag + counters.unknown_format,
            refused: counters.unannounced
                + counters.kid_collision
                + counters.replay
                + counters.retired
                + counters.over_limit,
            other_epoch: counters.other_epoch,
            out_of_step: 0,
        };
        let before = last.get(id).copied().unwrap_or_default();
        let decrypted = now.decrypted > before.decrypted;
        let out_of_step = if !decrypted && now.other_epoch > before.other_epoch {
            before.out_of_step + 1
        } else {
            0
        };
        last.insert(*id, Counted { out_of_step, ..now });
        let state = if decrypted {
            Decryption::Fine
        } else if out_of_step >= OUT_OF_STEP_REPORTS {
            Decryption::OutOfStep
        } else if now.failed > before.failed {
            Decryption::Failing
        } else if now.refused > before.refused {
            Decryption::Refusing
        } else {
            Decryption::Waiting
        };
        let entry = health.entry((*who).clone()).or_insert(Decryption::Waiting);
        *entry = match (*entry, state) {
            (Decryption::Fine, _) | (_, Decryption::Fine) => Decryption::Fine,
            (Decryption::OutOfStep, _) | (_, Decryption::OutOfStep) => Decryption::OutOfStep,
            (Decryption::Failing, _) | (_, Decryption::Failing) => Decryption::Failing,
            (Decryption::Refusing, _) | (_, Decryption::Refusing) => Decryption::Refusing,
            _ => Decryption::Waiting,
        };
    }
    health
}

/// What arrives from each participant, from a `getStats()` report; `tracks` maps remote track
/// ids to (participant, is audio).
pub fn reception(
    report: &JsValue,
    tracks: &HashMap<String, (ParticipantId, bool)>,
) -> HashMap<ParticipantId, Reception> {
    let mut reception: HashMap<ParticipantId, Reception> = HashMap::new();
    let number = |entry: &JsValue, field: &str| {
        js_sys::Reflect::get(entry, &field.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    let report: &web_sys::RtcStatsReport = report.unchecked_ref();
    let values = js_sys::try_iter(&report.values()).ok().flatten();
    let entries: Vec<JsValue> = values.into_iter().flatten().flatten().collect();
    let route = route::of(&entries.iter().map(Stat::read).collect::<Vec<_>>());
    for entry in entries {
        let kind = js_sys::Reflect::get(&entry, &"type".into())
            .ok()
            .and_then(|v| v.as_string());
        if kind.as_deref() != Some("inbound-rtp") {
            continue;
        }
        let Some(id) = js_sys::Reflect::get(&entry, &"trackIdentifier".into())
            .ok()
            .and_then(|v| v.as_string())
        else {
            continue;
        };
        let Some((who, audio)) = tracks.get(&id) else {
            continue;
        };
        let r = reception.entry(who.clone()).or_default();
        r.route = route;
        r.packets_lost += number(&entry, "packetsLost") as i64;
        r.nacks_sent += number(&entry, "nackCount") as u64;
        if *audio {
            r.audio_energy += number(&entry, "totalAudioEnergy");
            r.audio_level = r.audio_level.max(number(&entry, "audioLevel"));
        } else {
            let decoded = number(&entry, "framesDecoded") as u64;
            r.frames_decoded = Some(r.frames_decoded.unwrap_or(0) + decoded);
            r.video_packets += number(&entry, "packetsReceived") as u64;
            r.frames_per_second += number(&entry, "framesPerSecond");
        }
    }
    reception
}
