//! Who may send what on which line: the KIDs each participant announced for its tracks in its
//! sealed presence note, with the counters below which their frames are replays, and ours.
//!
//! The relay labels each remote line with an owner; it is not believed. A line's frames open
//! only under the KID its labelled owner announced for that source (the worker enforces it:
//! [`Announcements::to_tell`] says what to tell it), and only at or above the counter floor
//! announced with it. Our own presence notes carry our tracks' KIDs and floors
//! ([`Announcements::ours`]): each track's count at the worker's last report, less a margin for
//! frames still on their way.
//!
//! Pure: no browser, no clock. One per connection: a reconnect starts with new KIDs and
//! forgets every announcement.

use std::collections::HashMap;

use veilig_protocol::{ParticipantId, Source};

use super::metadata::MediaKids;

/// Frames a track may still have on their way when we announce, beyond the worker's last
/// report (at most a second old): a second and a half of video, three of audio.
pub const FLOOR_MARGIN: u64 = 64;

/// The announcements of one connection, ours and everyone else's.
#[derive(Debug, Default)]
pub struct Announcements {
    /// Our tracks' KIDs on this connection.
    kids: MediaKids,
    /// Frames our tracks have encrypted, at the worker's last report.
    sent: MediaKids,
    /// Each participant's announced KIDs and floors.
    heard: HashMap<ParticipantId, (MediaKids, MediaKids)>,
    /// What each remote transform was last told: (KID, floor).
    told: HashMap<u32, (u64, u64)>,
}

impl Announcements {
    /// A new connection's, with our tracks' `kids`.
    pub fn new(kids: MediaKids) -> Announcements {
        Announcements {
            kids,
            ..Announcements::default()
        }
    }

    /// The worker counted `encrypted` frames on our track of `source` so far.
    pub fn sent(&mut self, source: Source, encrypted: u64) {
        match source {
            Source::Microphone => self.sent.microphone = encrypted,
            Source::Camera => self.sent.camera = encrypted,
            Source::Screen => self.sent.screen = encrypted,
        }
    }

    /// What our presence note announces: our KIDs, and the floors below which our frames are
    /// replays to whoever reads it.
    pub fn ours(&self) -> (MediaKids, MediaKids) {
        let floor = |sent: u64| sent.saturating_sub(FLOOR_MARGIN);
        let floors = MediaKids {
            microphone: floor(self.sent.microphone),
            camera: floor(self.sent.camera),
            screen: floor(self.sent.screen),
        };
        (self.kids, floors)
    }

    /// `who` announced `kids` and `floors` in a presence note that opened.
    pub fn heard(&mut self, who: ParticipantId, kids: MediaKids, floors: MediaKids) {
        self.heard.insert(who, (kids, floors));
    }

    /// `who` left.
    pub fn forget(&mut self, who: &ParticipantId) {
        self.heard.remove(who);
    }

    /// For remote `lines` (transform id, labelled owner, source), what to tell the worker now:
    /// each line whose owner announced something new for its source, with that (KID, floor).
    /// A line whose owner announced nothing is told nothing, so its frames stay refused.
    pub fn to_tell(&mut self, lines: &[(u32, ParticipantId, Source)]) -> Vec<(u32, (u64, u64))> {
        let mut tell = Vec::new();
        for (id, owner, source) in lines {
            let Some((kids, floors)) = self.heard.get(owner) else {
                continue;
            };
            let now = (kids.of(*source), floors.of(*source));
            if self.told.insert(*id, now) != Some(now) {
                tell.push((*id, now));
            }
        }
        tell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> ParticipantId {
        ParticipantId::new(name).unwrap()
    }

    fn kids(base: u64) -> MediaKids {
        MediaKids {
            microphone: base,
            camera: base + 1,
            screen: base + 2,
        }
    }

    #[test]
    fn each_line_is_told_its_labelled_owners_kid_for_its_source_once() {
        let mut book = Announcements::new(kids(1));
        let lines = [
            (1000, id("anna"), Source::Camera),
            (1001, id("anna"), Source::Microphone),
            (1002, id("bram"), Source::Camera),
        ];
        assert!(book.to_tell(&lines).is_empty(), "nothing announced yet");
        book.heard(id("anna"), kids(10), MediaKids::default());
        assert_eq!(book.to_tell(&lines), [(1000, (11, 0)), (1001, (10, 0))]);
        assert!(book.to_tell(&lines).is_empty(), "told once");
        // Anna announces again with higher floors: told again.
        book.heard(id("anna"), kids(10), kids(100));
        assert_eq!(book.to_tell(&lines), [(1000, (11, 101)), (1001, (10, 100))]);
        book.forget(&id("anna"));
        book.heard(id("bram"), kids(20), MediaKids::default());
        assert_eq!(book.to_tell(&lines), [(1002, (21, 0))]);
    }

    /// A line the relay labels as Bram's is told Bram's KID, whoever's frames it carries: a
    /// relay passing Anna's camera off as Bram's gets them refused.
    #[test]
    fn the_label_decides_which_kid_a_line_may_carry() {
        let mut book = Announcements::new(kids(1));
        book.heard(id("anna"), kids(10), MediaKids::default());
        book.heard(id("bram"), kids(20), MediaKids::default());
        let swapped = [(1000, id("bram"), Source::Camera)];
        assert_eq!(book.to_tell(&swapped), [(1000, (21, 0))]);
    }

    #[test]
    fn our_floors_trail_our_counts_by_the_margin() {
        let mut book = Announcements::new(kids(1));
        assert_eq!(book.ours(), (kids(1), MediaKids::default()));
        book.sent(Source::Camera, 1000);
        book.sent(Source::Microphone, 10);
        let (ours, floors) = book.ours();
        assert_eq!(ours, kids(1));
        assert_eq!(floors.camera, 1000 - FLOOR_MARGIN);
        assert_eq!(floors.microphone, 0);
        assert_eq!(floors.screen, 0);
    }
}
