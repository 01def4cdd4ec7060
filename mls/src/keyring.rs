//! The frame keys of the live epochs: the current one, and the previous one for a short overlap,
//! with each frame routed to its epoch by its KID before anything is decrypted.
//!
//! ```text
//!  commit applied ─► install(EpochKeys, now) ─► current ──► encryptors (our tracks, new KIDs)
//!                                          └─► previous (until now + overlap, then erased)
//!  frame ─► KID ─► epoch bits ─► current or previous ─► sender is a member, not us ─► decrypt
//! ```
//! Why keep the previous epoch at all: a sender switches to the new epoch when *it* applies the
//! commit, and its frames already on the wire (and those of members who process the commit a
//! little later than we do) are under the old keys. Dropping them would freeze a picture at
//! every join and leave. Why only briefly: a member who left still holds the previous epoch's
//! keys, so every frame under them after the overlap is one it could read. The overlap is
//! given by the caller; the app's figure and how it was measured are in docs/mls.md.
//!
//! Sans-IO: time comes in as milliseconds from any fixed origin (`now_ms`), never read here.
//! Frames of an epoch we do not have (a newer one whose commit we have not processed, an older
//! one already erased) are dropped and counted, never guessed at.

use std::collections::HashMap;
use veilig_e2ee::codec::unescape_start_codes;
use veilig_e2ee::header::Header;

use veilig_e2ee::{
    Codec, DecryptError, FrameDecryptor, FrameEncryptor, Kid, SafetyCode, SourceId, SourceStats,
};

use crate::epoch::{EpochKeys, Sender};
use crate::kid::kid_epoch_bits;
use crate::Error;

/// An epoch's keys and its decryptor.
struct Live {
    keys: EpochKeys,
    decryptor: FrameDecryptor,
    /// The next stream context to hand out in this epoch.
    next_context: u64,
}

impl Live {
    fn new(keys: EpochKeys) -> Self {
        Live {
            decryptor: keys.decryptor(),
            keys,
            next_context: 0,
        }
    }
}

/// Why a frame was not decrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Dropped {
    /// No live epoch (not joined yet, or removed).
    #[error("no epoch keys")]
    NoKeys,
    /// Not an SFrame frame: no header after the codec's clear prefix.
    #[error("no SFrame header")]
    NoHeader,
    /// Under an epoch we do not hold: a newer one not processed yet, or one erased.
    #[error("a frame of another epoch")]
    OtherEpoch,
    /// The KID names no other member of its epoch (ourselves, a free leaf, or a bad encoding).
    #[error("a KID of no member")]
    NotAMember,
    /// The KID names a member other than the one the line is from: the relay labelled one
    /// member's line as another's (or a member sends under another's KID).
    #[error("a frame from another member than the line's")]
    NotTheLinesSender,
    /// The SFrame core refused it (authentication, replay, ...).
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
}

/// The live epochs. `Debug` shows epochs only.
pub struct EpochRing {
    current: Option<Live>,
    previous: Option<(Live, u64)>,
    overlap_ms: u64,
    /// Counters of erased epochs, per source, so a track's totals survive epoch changes.
    erased: HashMap<SourceId, SourceStats>,
    /// Whose line each source is, by relay label ([`EpochRing::bind`]).
    owners: HashMap<SourceId, Vec<u8>>,
    /// Whether a source must be bound before its frames open.
    require_owners: bool,
    /// Frames refused as [`Dropped::NotTheLinesSender`], per source.
    misattributed: HashMap<SourceId, u64>,
    /// Frames dropped as [`Dropped::OtherEpoch`], per source.
    other_epoch: HashMap<SourceId, u64>,
}

impl core::fmt::Debug for EpochRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EpochRing")
            .field("current", &self.current_epoch())
            .field(
                "previous",
                &self.previous.as_ref().map(|(l, _)| l.keys.epoch()),
            )
            .finish_non_exhaustive()
    }
}

impl EpochRing {
    /// No keys yet; a replaced epoch will stay readable for `overlap_ms`.
    pub fn new(overlap_ms: u64) -> Self {
        EpochRing {
            current: None,
            previous: None,
            overlap_ms,
            erased: HashMap::new(),
            owners: HashMap::new(),
            require_owners: false,
            misattributed: HashMap::new(),
            other_epoch: HashMap::new(),
        }
    }

    /// From now on a source's frames open only once it is bound to a member ([`EpochRing::bind`])
    /// and only under that member's KIDs: what a meeting uses, so a relay cannot pass one
    /// member's line off as another's.
    pub fn require_owners(&mut self) {
        self.require_owners = true;
    }

    /// Source `source` is the line the relay says comes from `label` (a participant id): its
    /// frames open only under KIDs of a leaf that joined with that label, in whatever epoch.
    pub fn bind(&mut self, source: SourceId, label: &[u8]) {
        self.owners.insert(source, label.to_vec());
    }

    /// Makes `keys` the current epoch. The current one becomes the previous, readable until
    /// `now_ms + overlap`; an older previous one is erased now. Our senders must take new
    /// encryptors ([`EpochRing::encryptor`]): the old ones belong to the old epoch.
    pub fn install(&mut self, keys: EpochKeys, now_ms: u64) {
        let old = self.current.replace(Live::new(keys));
        let overlap = now_ms.saturating_add(self.overlap_ms);
        if let Some((gone, _)) =
            core::mem::replace(&mut self.previous, old.map(|live| (live, overlap)))
        {
            self.keep_counters(&gone);
        }
    }

    fn keep_counters(&mut self, gone: &Live) {
        for (source, stats) in gone.decryptor.sources() {
            add(self.erased.entry(source).or_default(), stats);
        }
    }

    /// A source's counters over every epoch.
    pub fn stats(&self, source: SourceId) -> SourceStats {
        let mut total = self.erased.get(&source).copied().unwrap_or_default();
        for live in self.live() {
            add(&mut total, live.decryptor.stats(source));
        }
        total.unannounced += self.misattributed.get(&source).copied().unwrap_or(0);
        total
    }

    /// Forgets a receive track (its counters and replay windows) in every epoch.
    pub fn forget_source(&mut self, source: SourceId) {
        self.erased.remove(&source);
        self.owners.remove(&source);
        self.misattributed.remove(&source);
        self.other_epoch.remove(&source);
        for live in [
            self.current.as_mut(),
            self.previous.as_mut().map(|(live, _)| live),
        ]
        .into_iter()
        .flatten()
        {
            live.decryptor.forget_source(source);
        }
    }

    fn live(&self) -> impl Iterator<Item = &Live> {
        [
            self.current.as_ref(),
            self.previous.as_ref().map(|(live, _)| live),
        ]
        .into_iter()
        .flatten()
    }

    /// Frames from `source` dropped because they are under an epoch we do not hold: a sender
    /// whose group state is not ours (a commit one of us missed, or a split meeting) when it
    /// goes on for longer than a commit takes to reach everyone.
    pub fn other_epoch(&self, source: SourceId) -> u64 {
        self.other_epoch.get(&source).copied().unwrap_or(0)
    }

    /// Whether `kid`'s low bits name a live epoch.
    pub fn is_live(&self, kid: Kid) -> bool {
        let bits = kid_epoch_bits(kid);
        self.live()
            .any(|live| crate::kid::epoch_bits(live.keys.epoch()) == bits)
    }

    /// Erases everything: removed from the group, or leaving.
    pub fn clear(&mut self) {
        for gone in [
            self.current.take(),
            self.previous.take().map(|(live, _)| live),
        ]
        .into_iter()
        .flatten()
        {
            self.keep_counters(&gone);
        }
    }

    /// Erases the previous epoch once its overlap is over. Returns whether it did.
    pub fn tick(&mut self, now_ms: u64) -> bool {
        if matches!(self.previous, Some((_, until)) if now_ms >= until) {
            if let Some((gone, _)) = self.previous.take() {
                self.keep_counters(&gone);
            }
            return true;
        }
        false
    }

    /// When [`EpochRing::tick`] has something to erase.
    pub fn next_tick(&self) -> Option<u64> {
        self.previous.as_ref().map(|(_, until)| *until)
    }

    /// The current epoch, if any.
    pub fn current_epoch(&self) -> Option<u64> {
        self.current.as_ref().map(|live| live.keys.epoch())
    }

    /// The previous epoch, while it is kept.
    pub fn previous_epoch(&self) -> Option<u64> {
        self.previous.as_ref().map(|(live, _)| live.keys.epoch())
    }

    /// The current epoch's safety code.
    pub fn safety_code(&self) -> Option<SafetyCode> {
        self.current.as_ref().map(|live| live.keys.safety_code())
    }

    /// An encryptor for one of our tracks in the current epoch, under a stream context not used
    /// before in it.
    pub fn encryptor(&mut self) -> Result<FrameEncryptor, Error> {
        let live = self.current.as_mut().ok_or(Error::NoEpoch)?;
        let context = live.next_context;
        live.next_context += 1;
        live.keys.encryptor(context)
    }

    /// The decryptor of the epoch that holds `kid`, if the KID names another member of it:
    /// for callers that run the SFrame core's steps themselves (the worker's WebCrypto path),
    /// after [`EpochRing::decryptor_from`] accepted the frame's source.
    pub fn decryptor(&mut self, kid: Kid) -> Result<&mut FrameDecryptor, Dropped> {
        self.route(kid).map(|(decryptor, ..)| decryptor)
    }

    /// [`EpochRing::decryptor`] for a frame that arrived on `source`: refused (and counted)
    /// unless the KID's sender is the member the source is bound to.
    pub fn decryptor_from(
        &mut self,
        source: SourceId,
        kid: Kid,
    ) -> Result<&mut FrameDecryptor, Dropped> {
        self.route_from(source, kid)
            .map(|(decryptor, ..)| decryptor)
    }

    /// [`EpochRing::route`] for a frame that arrived on `source`: refused unless its sender is
    /// the line's; a frame of an epoch we do not hold is counted against the line.
    fn route_from(
        &mut self,
        source: SourceId,
        kid: Kid,
    ) -> Result<(&mut FrameDecryptor, Sender, u64), Dropped> {
        self.check_sender(source, kid)?;
        let routed = Self::route_in(&mut self.current, &mut self.previous, kid);
        if let Err(Dropped::OtherEpoch) = routed {
            *self.other_epoch.entry(source).or_default() += 1;
        }
        routed
    }

    /// Whether a frame under `kid` may come from `source`'s line (see [`EpochRing::bind`]).
    fn check_sender(&mut self, source: SourceId, kid: Kid) -> Result<(), Dropped> {
        let owner = self.owners.get(&source);
        if owner.is_none() && !self.require_owners {
            return Ok(());
        }
        let bits = kid_epoch_bits(kid);
        // `None`: not a live epoch's member at all, which `route` refuses and counts itself;
        // `Some(None)`: a member that joined without a label, which no line can be from.
        let sender: Option<Option<Vec<u8>>> = self
            .live()
            .find(|live| crate::kid::epoch_bits(live.keys.epoch()) == bits)
            .and_then(|live| {
                let leaf = live.keys.sender_of(kid)?.leaf;
                Some(live.keys.label_of(leaf).map(<[u8]>::to_vec))
            });
        match (owner, sender) {
            (_, None) => Ok(()),
            (Some(owner), Some(Some(label))) if *owner == label => Ok(()),
            _ => {
                *self.misattributed.entry(source).or_default() += 1;
                Err(Dropped::NotTheLinesSender)
            }
        }
    }

    /// The epoch that holds `kid` and who sent under it.
    fn route(&mut self, kid: Kid) -> Result<(&mut FrameDecryptor, Sender, u64), Dropped> {
        Self::route_in(&mut self.current, &mut self.previous, kid)
    }

    /// [`EpochRing::route`] over the live epochs alone, so callers can count in other fields.
    fn route_in<'a>(
        current: &'a mut Option<Live>,
        previous: &'a mut Option<(Live, u64)>,
        kid: Kid,
    ) -> Result<(&'a mut FrameDecryptor, Sender, u64), Dropped> {
        let bits = kid_epoch_bits(kid);
        let joined = current.is_some();
        let live = [current.as_mut(), previous.as_mut().map(|(live, _)| live)]
            .into_iter()
            .flatten()
            .find(|live| crate::kid::epoch_bits(live.keys.epoch()) == bits);
        let Some(live) = live else {
            return Err(if joined {
                Dropped::OtherEpoch
            } else {
                Dropped::NoKeys
            });
        };
        let sender = live.keys.sender_of(kid).ok_or(Dropped::NotAMember)?;
        Ok((&mut live.decryptor, sender, live.keys.epoch()))
    }

    /// Decrypts `frame` (from `source`, one of our receive tracks) into `out`, under the epoch
    /// its KID names; returns who sent it and in which epoch.
    pub fn decrypt(
        &mut self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(Sender, u64), Dropped> {
        out.clear();
        let kid = frame_kid(codec, frame).ok_or(Dropped::NoHeader)?;
        let (decryptor, sender, epoch) = self.route_from(source, kid)?;
        decryptor.decrypt(source, codec, frame, out)?;
        Ok((sender, epoch))
    }
}

fn add(total: &mut SourceStats, more: SourceStats) {
    total.decrypted += more.decrypted;
    total.unknown_format += more.unknown_format;
    total.bad_tag += more.bad_tag;
    total.replay += more.replay;
    total.kid_collision += more.kid_collision;
    total.retired += more.retired;
    total.over_limit += more.over_limit;
    total.unannounced += more.unannounced;
}

/// The KID of an encrypted frame: its SFrame header follows the codec's clear prefix.
pub fn frame_kid(codec: Codec, frame: &[u8]) -> Option<Kid> {
    let prefix = codec.clear_prefix_len(frame).ok()?;
    let tail = &frame[prefix..];
    let header = if codec.escapes_start_codes() {
        // The header is at most 17 bytes; unescaping a little more is enough to read it.
        let mut head = Vec::with_capacity(32);
        unescape_start_codes(&tail[..tail.len().min(32)], &mut head).ok()?;
        Header::parse(&head).ok()?.0
    } else {
        Header::parse(tail).ok()?.0
    };
    Some(header.kid)
}
