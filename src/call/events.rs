//! What a call tells the UI: its status, why it failed, and the events it emits
//! ([`CallEvent`]). Types only; [`super::session`] produces them.

use std::collections::HashMap;

use veilig_protocol::ParticipantId;

use super::media::MediaError;
use super::peer::RemoteTrack;
use super::route::Route;

/// How the call is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Reaching the relay.
    Connecting,
    /// In the room, media connected.
    Connected,
    /// Lost; trying again in `in_seconds`.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
        /// Seconds until the next attempt.
        in_seconds: u32,
    },
    /// Given up (the reason is for the UI to word).
    Failed(Failure),
    /// Left on purpose.
    Ended,
}

/// Why a call cannot go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The room is full.
    RoomFull,
    /// The relay runs another protocol version: reload the page.
    Version,
    /// Encryption could not start or attach.
    Encryption,
    /// The relay refused us for another reason.
    Refused,
    /// The relay sent something it never should (an offer that relabels a line, say): it may
    /// be trying to make us send unencrypted or play forged media, so the call was stopped.
    ServerMisbehaved,
    /// The room exists with another access value: our link or passphrase is not the one its
    /// first participant used.
    AccessDenied,
}

/// Whether a remote participant's media decrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decryption {
    /// Nothing received yet.
    Waiting,
    /// Frames decrypt.
    Fine,
    /// Frames arrive but do not authenticate: a different key.
    Failing,
    /// Frames arrive that authenticate but are refused: under a KID this participant never
    /// announced or another sender owns (the relay passing someone's media off as theirs), or
    /// replayed or retired. Whoever sent them, they are not this participant's media now.
    Refusing,
    /// In an MLS meeting, frames arrive under an epoch we do not hold: this participant's
    /// group state is not ours. Briefly normal while a commit travels; if it lasts, one of us
    /// missed a commit or the server split the meeting (the safety codes differ).
    OutOfStep,
}

/// What the UI hears.
#[derive(Clone, Debug)]
pub enum CallEvent {
    /// The call's state changed.
    Status(Status),
    /// Our id in the room (new on every reconnect).
    You(ParticipantId),
    /// The participants other than us, in order of arrival.
    Participants(Vec<ParticipantId>),
    /// A participant said who they are and what they send.
    Presence {
        /// Who.
        who: ParticipantId,
        /// Display name.
        name: String,
        /// Microphone on.
        mic: bool,
        /// Camera on.
        camera: bool,
        /// Sharing the screen.
        screen: bool,
    },
    /// Every remote track now received.
    Tracks(Vec<RemoteTrack>),
    /// A chat message; `from` is `None` for our own.
    Chat {
        /// Sender.
        from: Option<ParticipantId>,
        /// Text.
        text: String,
    },
    /// Decryption state per participant.
    Decryption(HashMap<ParticipantId, Decryption>),
    /// What arrives from each participant, from the browser's own statistics.
    Reception(HashMap<ParticipantId, Reception>),
    /// Our own camera track changed (turned on or off).
    LocalVideo(Option<web_sys::MediaStreamTrack>),
    /// Our microphone, camera or name changed (including a device that came on after
    /// joining without it).
    LocalChanged,
    /// The browser refused to open the microphone or camera when asked to turn it on.
    DeviceRefused(MediaError),
    /// In an MLS meeting: our group moved to a new epoch (someone joined or left).
    Epoch {
        /// The MLS epoch.
        epoch: u64,
        /// The safety code of this group state: the same for everyone in it.
        code: String,
        /// Members of the group, us included.
        members: u32,
    },
}

/// Received media of one participant, as the browser counts it (shown per tile on request).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reception {
    /// Video frames the decoder of this participant's video produced so far, as the browser
    /// counts them; `None` while the browser reports no video receiver of theirs, so that a tile
    /// never shows a count of zero it did not read.
    pub frames_decoded: Option<u64>,
    /// Video packets received so far: with `frames_decoded`, tells frames that arrive and are
    /// refused from frames that never came.
    pub video_packets: u64,
    /// Video frames per second now.
    pub frames_per_second: f64,
    /// Audio energy received so far (sum of squared levels times duration).
    pub audio_energy: f64,
    /// Packets lost, audio and video.
    pub packets_lost: i64,
    /// NACKs we sent asking for lost packets again, audio and video.
    pub nacks_sent: u64,
    /// Audio level now, 0 to 1.
    pub audio_level: f64,
    /// Whether media comes straight from the relay or through TURN (the same for everyone:
    /// one connection carries it all).
    pub route: Route,
}
