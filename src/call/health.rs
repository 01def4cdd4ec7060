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

/// A state per participant from the worker's per-transform counters: fine if any of their
/// frames decrypted since the last report, out of step if frames arrived under an MLS epoch we
/// do not hold, failing if frames arrived that do not open,
/// refusing if frames arrived that were refused as not theirs or replayed. `lines` maps
/// transform ids to participants; `last` holds each transform's counts at the last report.
pub fn decryption(
    lines: &[(u32, ParticipantId, Source)],
    stats: &WorkerStats,
    last: &mut HashMap<u32, (u64, u64, u64, u64)>,
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
        let failed = counters.bad_tag + counters.unknown_format;
        let refused = counters.unannounced
            + counters.kid_collision
            + counters.replay
            + counters.retired
            + counters.over_limit;
        let (decrypted_before, failed_before, refused_before, other_before) = last
            .insert(
                *id,
                (counters.decrypted, failed, refused, counters.other_epoch),
            )
            .unwrap_or((0, 0, 0, 0));
        let now = if counters.decrypted > decrypted_before {
            Decryption::Fine
        } else if counters.other_epoch > other_before {
            Decryption::OutOfStep
        } else if failed > failed_before {
            Decryption::Failing
        } else if refused > refused_before {
            Decryption::Refusing
        } else {
            Decryption::Waiting
        };
        let entry = health.entry((*who).clone()).or_insert(Decryption::Waiting);
        *entry = match (*entry, now) {
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
