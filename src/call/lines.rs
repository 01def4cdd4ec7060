//! What the relay's offers may say, decided in one place: the rules that keep every frame we
//! send encrypted and every frame we play decrypted, whatever the relay claims.
//!
//! The relay always offers, and each offer comes with `lines`: which m-line is one of our three
//! upstream slots (`from: null`) and which carries whose track. The browser acts on those labels:
//! it puts our camera on a slot and plays a remote line in someone's tile. A relay that lies
//! about them could make the browser send our camera on a line that has no encrypt transform,
//! or play whatever it sends on a line that has no decrypt transform. So a line's role is fixed
//! the first time its mid appears, and an offer that changes it is refused as a whole, before
//! the browser applies any of it; [`super::peer`] then fails the call closed.
//!
//! [`LineBook::admit`] checks one offer against everything seen before, as a [`Verdict`]:
//! - every m-line the browser will create a transceiver for is labelled, and every label names
//!   an m-line; no mid twice;
//! - a known mid keeps its role (slot or remote), its source, its owner and its kind;
//! - at most one slot per source, and a slot never moves to another mid;
//! - the SDP direction matches the role: the relay only receives on our slots (`recvonly`) and
//!   only sends on remote lines (`sendonly`), or neither (`inactive`);
//! - only the codecs the worker knows how to frame (Opus, VP8 and VP8's retransmissions): the
//!   clear prefix the worker leaves unencrypted depends on the codec;
//! - no remote line claims to be from us, and no two open lines claim the same participant's
//!   same source.
//!
//! [`scrub_answer`] takes our own addresses out of every answer.
//!
//! This module does no IO and knows nothing of web-sys: `cargo test` checks it natively,
//! with honest and hostile sequences of offers. It does not attach transforms or set tracks
//! (that is `peer.rs`, which only applies the verdicts), and it cannot tell whether the
//! relay's labels are *true* for honest-looking offers: who really sent a frame is for the
//! KIDs announced in the sealed presence notes to say.

use std::collections::HashMap;

use veilig_protocol::{MediaLine, ParticipantId, Source};

/// What a line is for us, fixed when its mid first appears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// One of our upstream slots: we send `Source` on it, encrypted.
    Slot(Source),
    /// Another participant's track, which we decrypt and play.
    Remote {
        /// Whose, as the relay says.
        from: ParticipantId,
        /// What it carries.
        source: Source,
    },
}

impl Role {
    fn of(line: &MediaLine) -> Role {
        match &line.from {
            None => Role::Slot(line.source),
            Some(from) => Role::Remote {
                from: from.clone(),
                source: line.source,
            },
        }
    }
}

/// Audio or video, as an m-line says (`m=audio`, `m=video`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `m=audio`.
    Audio,
    /// `m=video`.
    Video,
}

impl Kind {
    fn of(source: Source) -> Kind {
        match source {
            Source::Microphone => Kind::Audio,
            Source::Camera | Source::Screen => Kind::Video,
        }
    }
}

/// One line of an admitted offer, for `peer.rs` to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The m-line's mid.
    pub mid: String,
    /// Its role, the same in every offer.
    pub role: Role,
    /// First seen in this offer: its transform is to be attached now.
    pub new: bool,
}

/// An admitted offer: the open lines, in the SDP's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Every open (port ≠ 0) m-line of the offer.
    pub lines: Vec<Planned>,
}

impl Verdict {
    /// The planned line with this mid.
    pub fn get(&self, mid: &str) -> Option<&Planned> {
        self.lines.iter().find(|line| line.mid == mid)
    }
}

/// Why an offer was refused. Any of these means the relay lied or is broken; the call stops.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The SDP could not be read as an offer of audio and video lines.
    #[error("the offer's SDP is malformed: {0}")]
    Malformed(&'static str),
    /// An m-line of a kind we never take (data channels, anything else).
    #[error("the offer has an m-line of another kind: {0}")]
    OtherKind(String),
    /// An open m-line has no label.
    #[error("m-line {0} has no label")]
    Unlabelled(String),
    /// A label names no open m-line.
    #[error("the label for {0} names no open m-line")]
    NoSuchLine(String),
    /// A mid appears twice, in the SDP or among the labels.
    #[error("mid {0} appears twice")]
    DuplicateMid(String),
    /// A known line now has another role, source or owner.
    #[error("line {0} changed its role")]
    RoleChanged(String),
    /// A line's m-line kind does not fit its source.
    #[error("line {0} is of the wrong kind for its source")]
    WrongKind(String),
    /// A line's SDP direction does not fit its role.
    #[error("line {0} has a direction its role cannot have")]
    WrongDirection(String),
    /// Two slots for one source, or a slot that moved to another mid.
    #[error("more than one slot for {0:?}")]
    ExtraSlot(Source),
    /// Two open lines claim the same participant's same source.
    #[error("two lines claim one track of {0}")]
    DuplicateTrack(ParticipantId),
    /// A remote line claims to carry our own track.
    #[error("line {0} claims to be from us")]
    FromUs(String),
    /// A codec the worker does not know how to frame.
    #[error("line {mid} offers codec {codec}")]
    ForeignCodec {
        /// The line.
        mid: String,
        /// The codec's name (or payload type, if it has no rtpmap).
        codec: String,
    },
}

/// The roles of every line seen on this peer connection, and the slots' mids.
#[derive(Debug, Default)]
pub struct LineBook {
    roles: HashMap<String, Role>,
    you: Option<ParticipantId>,
}

impl LineBook {
    /// An empty book, for a new peer connection.
    pub fn new() -> LineBook {
        LineBook::default()
    }

    /// Our own participant id in this connection (from the welcome): no remote line is ours.
    pub fn set_you(&mut self, you: ParticipantId) {
        self.you = Some(you);
    }

    /// The mid of our slot for `source`, once an offer had it.
    pub fn slot_mid(&self, source: Source) -> Option<&str> {
        self.roles
            .iter()
            .find(|(_, role)| **role == Role::Slot(source))
            .map(|(mid, _)| mid.as_str())
    }

    /// The role of a known mid.
    pub fn role(&self, mid: &str) -> Option<&Role> {
        self.roles.get(mid)
    }

    /// Checks an offer against every offer before it; on success records its new lines and
    /// returns what to do with each open line. A refused offer changes nothing.
    pub fn admit(&mut self, sdp: &str, lines: &[MediaLine]) -> Result<Verdict, Refusal> {
        let sections = parse_offer(sdp)?;
        let mut labels: HashMap<&str, &MediaLine> = HashMap::new();
        for line in lines {
            if labels.insert(line.mid.as_str(), line).is_some() {
                return Err(Refusal::DuplicateMid(line.mid.clone()));
            }
        }
        let mut verdict = Verdict::default();
        let mut seen_mids: Vec<&str> = Vec::new();
        let mut slots: HashMap<Source, &str> = HashMap::new();
        let mut tracks: Vec<(ParticipantId, Source)> = Vec::new();
        for section in &sections {
            if seen_mids.contains(&section.mid.as_str()) {
                return Err(Refusal::DuplicateMid(section.mid.clone()));
            }
            seen_mids.push(&section.mid);
            if section.port_zero {
                // A stopped line: the browser stops its transceiver and sends nothing on it.
                continue;
            }
            let line = labels
                .get(section.mid.as_str())
                .ok_or_else(|| Refusal::Unlabelled(section.mid.clone()))?;
            let role = Role::of(line);
            if let Some(known) = self.roles.get(&section.mid) {
                if *known != role {
                    return Err(Refusal::RoleChanged(section.mid.clone()));
                }
            }
            if section.kind != Kind::of(line.source) {
                return Err(Refusal::WrongKind(section.mid.clone()));
            }
            check_codecs(section)?;
            match &role {
                Role::Slot(source) => {
                    if !matches!(section.direction, Direction::RecvOnly | Direction::Inactive) {
                        return Err(Refusal::WrongDirection(section.mid.clone()));
                    }
                    let moved = self.slot_mid(*source).is_some_and(|mid| mid != section.mid);
                    if moved || slots.insert(*source, &section.mid).is_some() {
                        return Err(Refusal::ExtraSlot(*source));
                    }
                }
                Role::Remote { from, source } => {
                    if !matches!(section.direction, Direction::SendOnly | Direction::Inactive) {
                        return Err(Refusal::WrongDirection(section.mid.clone()));
                    }
                    if self.you.as_ref() == Some(from) {
                        return Err(Refusal::FromUs(section.mid.clone()));
                    }
                    let track = (from.clone(), *source);
                    if tracks.contains(&track) {
                        return Err(Refusal::DuplicateTrack(from.clone()));
                    }
                    tracks.push(track);
                }
            }
            verdict.lines.push(Planned {
                mid: section.mid.clone(),
                new: !self.roles.contains_key(&section.mid),
                role,
            });
        }
        if let Some(line) = lines.iter().find(|line| verdict.get(&line.mid).is_none()) {
            return Err(Refusal::NoSuchLine(line.mid.clone()));
        }
        for planned in &verdict.lines {
            self.roles.insert(planned.mid.clone(), planned.role.clone());
        }
        Ok(verdict)
    }
}

/// An m-line's direction attribute, from the offerer's (the relay's) side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// What the rules need of one m-section.
#[derive(Debug)]
struct Section {
    kind: Kind,
    port_zero: bool,
    mid: String,
    direction: Direction,
    /// Payload types listed on the m-line.
    formats: Vec<String>,
    /// Payload type → codec name, from `a=rtpmap`.
    rtpmap: HashMap<String, String>,
}

/// Reads the m-sections of an offer: kind, port, mid, direction and codecs.
fn parse_offer(sdp: &str) -> Result<Vec<Section>, Refusal> {
    let mut sections: Vec<Section> = Vec::new();
    let mut mids: Vec<Option<String>> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            let mut fields = m.split(' ');
            let kind = match fields.next() {
                Some("audio") => Kind::Audio,
                Some("video") => Kind::Video,
                Some(other) => return Err(Refusal::OtherKind(other.to_owned())),
                None => return Err(Refusal::Malformed("an empty m-line")),
            };
            let port = fields
                .next()
                .ok_or(Refusal::Malformed("an m-line without a port"))?;
            let _protocol = fields
                .next()
                .ok_or(Refusal::Malformed("an m-line without a protocol"))?;
            sections.push(Section {
                kind,
                port_zero: port == "0",
                mid: String::new(),
                // RFC 4566: sendrecv unless the section says otherwise.
                direction: Direction::SendRecv,
                formats: fields.map(str::to_owned).collect(),
                rtpmap: HashMap::new(),
            });
            mids.push(None);
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        let Some(attribute) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attribute.split_once(':').unwrap_or((attribute, ""));
        match name {
            "mid" => {
                let mid = mids.last_mut().expect("one per section");
                if mid.is_some() {
                    return Err(Refusal::Malformed("an m-line with two mids"));
                }
                *mid = Some(value.to_owned());
            }
            "sendrecv" => section.direction = Direction::SendRecv,
            "sendonly" => section.direction = Direction::SendOnly,
            "recvonly" => section.direction = Direction::RecvOnly,
            "inactive" => section.direction = Direction::Inactive,
            "rtpmap" => {
                let (pt, codec) = value
                    .split_once(' ')
                    .ok_or(Refusal::Malformed("an rtpmap without a codec"))?;
                let name = codec.split('/').next().unwrap_or_default();
                section.rtpmap.insert(pt.to_owned(), name.to_owned());
            }
            _ => {}
        }
    }
    for (section, mid) in sections.iter_mut().zip(mids) {
        section.mid = mid.ok_or(Refusal::Malformed("an m-line without a mid"))?;
    }
    Ok(sections)
}

/// Every payload type on the m-line must be a codec the worker frames correctly.
fn check_codecs(section: &Section) -> Result<(), Refusal> {
    for format in &section.formats {
        let name = section.rtpmap.get(format).map(String::as_str);
        let allowed = match (section.kind, name) {
            (Kind::Audio, Some(name)) => name.eq_ignore_ascii_case("opus"),
            (Kind::Video, Some(name)) => {
                name.eq_ignore_ascii_case("VP8") || name.eq_ignore_ascii_case("rtx")
            }
            // A payload type without an rtpmap is a static one (PCMU, ...): never ours.
            (_, None) => false,
        };
        if !allowed {
            return Err(Refusal::ForeignCodec {
                mid: section.mid.clone(),
                codec: name.unwrap_or(format).to_owned(),
            });
        }
    }
    Ok(())
}

/// Our answer without our addresses: no candidate lines, and the connection and RTCP
/// addresses set to the "no address" of RFC 8840 (`0.0.0.0`, port 9).
///
/// The relay is an ICE-lite agent that never sends checks: it learns each of our addresses
/// from the checks we send it, and needs none from the answer. Answers made after ICE
/// gathering would otherwise hand it our LAN and IPv6 addresses on every renegotiation.
pub fn scrub_answer(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
            continue;
        }
        if line.starts_with("c=IN ") {
            out.push_str("c=IN IP4 0.0.0.0");
        } else if let Some(rtcp) = line.strip_prefix("a=rtcp:") {
            // `a=rtcp:<port> [IN IP4 <address>]`
            if rtcp.contains(' ') {
                out.push_str("a=rtcp:9 IN IP4 0.0.0.0");
            } else {
                out.push_str("a=rtcp:9");
            }
        } else if let Some(m) = line.strip_prefix("m=") {
            // `m=<kind> <port> <proto> <formats>`: the port is that of the default candidate.
            let mut fields: Vec<&str> = m.split(' ').collect();
            if fields.len() > 1 && fields[1] != "0" {
                fields[1] = "9";
            }
            out.push_str("m=");
            out.push_str(&fields.join(" "));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
