//! Decryption of everything a room receives: one [`FrameDecryptor`] per room and base key, fed
//! frames tagged with the [`SourceId`] (remote track) they arrived on.
//!
//! What it guarantees, in the order it checks:
//! 1. The frame fits its codec's clear-prefix rule, its escaping (H.264) and the SFrame format,
//!    else `UnknownFormat`.
//! 2. If the caller requires announcements ([`FrameDecryptor::require_announced`]), the KID is
//!    one announced for this source ([`FrameDecryptor::announce`]), else `Unannounced`: who
//!    sent a frame is for its sender's own sealed announcement to say, not for the relay that
//!    labels the line. Its counter is at least the floor announced with it, else `Replay`.
//! 3. The KID was not retired (its source moved on to newer KIDs or left, or a local track
//!    ended), else `RetiredKid`. Retired is for good: no traffic makes a retired KID
//!    acceptable again.
//! 4. The frame authenticates under the KID's key, derived on first sight. Only a frame that
//!    authenticates can create an entry, so a relay inventing KIDs costs a derivation per frame
//!    and stores nothing.
//! 5. The KID belongs to this source: the first source whose frame authenticated under a KID
//!    owns it, and our own senders own theirs ([`FrameDecryptor::claim_local`]). Another source
//!    using it — a relay reflecting our frames back, or replaying one participant's frames as
//!    another's — is a `KidCollision`, reported and dropped.
//! 6. A KID seen for the first time fits the limits (`KidLimit`): each source holds a few live
//!    KIDs and its new one retires its own oldest, never another source's; see [`crate::kids`]
//!    for the rules and why memory stays bounded however many KIDs senders make up.
//! 7. The counter is fresh in the KID's replay window, and only then recorded.
//!
//! The output buffer receives plaintext only after all seven passed; on any failure it is left
//! empty, so an unauthenticated byte never reaches a decoder.

use std::collections::HashMap;

use crate::codec::{unescape_start_codes, Codec};
use crate::error::{DecryptError, DropReason};
use crate::external::ExternalOpen;
use crate::header::{Counter, Header, Kid};
use crate::kids::KidTable;
pub use crate::kids::{DecryptorLimits, KidLimit, StoredKids};
use crate::replay::{Replay, ReplayWindow};
use crate::sframe;
use crate::suite::{derive_key_material, BaseKey, CipherSuite, KeyMaterial, SframeKey};

/// The caller's name for where a frame came from: one remote track (or, for messages, one
/// remote participant). Opaque to this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u64);

/// Frames decrypted and dropped for one source, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames that decrypted.
    pub decrypted: u64,
    /// Dropped: not our format.
    pub unknown_format: u64,
    /// Dropped: failed authentication.
    pub bad_tag: u64,
    /// Dropped: replayed or too old for its KID's replay window.
    pub replay: u64,
    /// Dropped: authenticated under another sender's KID.
    pub kid_collision: u64,
    /// Dropped: under a retired KID.
    pub retired: u64,
    /// Dropped: a new KID over one of the [`DecryptorLimits`].
    pub over_limit: u64,
    /// Dropped: a KID not announced for the source.
    pub unannounced: u64,
}

/// A KID that is already in use and cannot be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("KID {0} is already in use")]
pub struct KidInUse(pub Kid);

/// What the decryptor keeps per live KID.
struct KeyEntry {
    key: SframeKey,
    window: ReplayWindow,
}

/// Decrypts a room's frames and messages under one base key.
pub struct FrameDecryptor {
    suite: CipherSuite,
    base: BaseKey,
    kids: KidTable<KeyEntry>,
    /// One entry per source the caller feeds, removed by `forget_source`: as many as the
    /// caller has tracks, not something a sender can grow.
    stats: HashMap<SourceId, SourceStats>,
    /// KIDs announced per source, once announcements are required; a source absent from the
    /// map has announced nothing.
    announced: Option<HashMap<SourceId, Vec<(Kid, u64)>>>,
    aad: Vec<u8>,
    tail: Vec<u8>,
}

impl FrameDecryptor {
    /// A decryptor for frames under `base` with default limits.
    pub fn new(suite: CipherSuite, base: &BaseKey) -> Self {
        Self::with_limits(suite, base, DecryptorLimits::default())
    }

    /// A decryptor with explicit memory bounds.
    pub fn with_limits(suite: CipherSuite, base: &BaseKey, limits: DecryptorLimits) -> Self {
        FrameDecryptor {
            suite,
            base: base.clone(),
            kids: KidTable::new(limits),
            stats: HashMap::new(),
            announced: None,
            aad: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// From now on, a frame is accepted only under a KID announced for its source (check 2 of
    /// the module docs). Messages and frames of a decryptor that never calls this are not
    /// checked.
    pub fn require_announced(&mut self) {
        self.announced.get_or_insert_with(HashMap::new);
    }

    /// The KIDs `source`'s sender announced (replacing any earlier list); requires
    /// announcements from now on, as [`FrameDecryptor::require_announced`].
    pub fn announce(&mut self, source: SourceId, kids: &[Kid]) {
        let kids: Vec<(Kid, Counter)> = kids.iter().map(|kid| (*kid, Counter(0))).collect();
        self.announce_from(source, &kids);
    }

    /// [`FrameDecryptor::announce`], each KID with the lowest counter to accept under it: its
    /// sender's counter when it announced, less a margin for frames still on their way. A
    /// decryptor that starts afresh (after a reconnect) has no replay window yet; the floor
    /// keeps frames recorded before the announcement from being played again. A floor only
    /// rises: an announcement replayed from earlier cannot lower it.
    pub fn announce_from(&mut self, source: SourceId, kids: &[(Kid, Counter)]) {
        let announced = self.announced.get_or_insert_with(HashMap::new);
        let before = announced.remove(&source).unwrap_or_default();
        let kids = kids
            .iter()
            .map(|(kid, floor)| {
                let earlier = before.iter().find(|(k, _)| k == kid).map(|(_, f)| *f);
                (*kid, floor.0.max(earlier.unwrap_or(0)))
            })
            .collect();
        announced.insert(source, kids);
    }

    /// Check 2 of the module docs.
    fn check_announced(&self, source: SourceId, header: Header) -> Result<(), DecryptError> {
        let Some(announced) = &self.announced else {
            return Ok(());
        };
        let kids = announced
            .get(&source)
            .map(Vec::as_slice)
            .unwrap_or_default();
        match kids.iter().find(|(kid, _)| *kid == header.kid) {
            None => Err(DecryptError::Unannounced(header.kid)),
            Some((_, floor)) if header.ctr.0 < *floor => Err(DecryptError::Replay {
                kid: header.kid,
                ctr: header.ctr,
                why: Replay::TooOld,
            }),
            Some(_) => Ok(()),
        }
    }

    /// Registers `kid` as one of our own senders' KIDs, so that any remote frame under it is a
    /// collision. Refuses a KID already seen, owned or retired: pick another one.
    pub fn claim_local(&mut self, kid: Kid) -> Result<(), KidInUse> {
        let (suite, base) = (self.suite, &self.base);
        let claimed = self.kids.claim_local(kid, || KeyEntry {
            key: SframeKey::derive(suite, base, kid),
            window: ReplayWindow::default(),
        });
        if claimed {
            Ok(())
        } else {
            Err(KidInUse(kid))
        }
    }

    /// Retires a local KID whose track ended: nobody may use it again.
    pub fn release_local(&mut self, kid: Kid) {
        self.kids.release_local(kid);
    }

    /// Forgets a source that left: its counters go, its KIDs are retired (for good) and its
    /// place among the [`DecryptorLimits::max_sources`] is free.
    pub fn forget_source(&mut self, source: SourceId) {
        self.stats.remove(&source);
        if let Some(announced) = self.announced.as_mut() {
            announced.remove(&source);
        }
        self.kids.forget_source(source);
    }

    /// Whether a remote sender's frames under `kid` have authenticated (and the KID is live):
    /// only then is it worth preparing an external engine's key for it.
    pub fn knows_remote(&self, kid: Kid) -> bool {
        self.kids.is_remote(kid)
    }

    /// How many KIDs and sources are stored: never more than the [`DecryptorLimits`] allow.
    pub fn stored(&self) -> StoredKids {
        self.kids.stored()
    }

    /// Counters for `source` since it was first seen.
    pub fn stats(&self, source: SourceId) -> SourceStats {
        self.stats.get(&source).copied().unwrap_or_default()
    }

    /// Every source with counters.
    pub fn sources(&self) -> impl Iterator<Item = (SourceId, SourceStats)> + '_ {
        self.stats.iter().map(|(&source, &stats)| (source, stats))
    }

    /// Replaces `out` with the decrypted form of `frame`, received from `source`, and returns
    /// the header it carried (`None` for a zero-length frame, which passes through). On error
    /// `out` is empty and the frame must be dropped; the drop is counted for `source`.
    pub fn decrypt(
        &mut self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Header>, DecryptError> {
        out.clear();
        let result = self.decrypt_frame(source, codec, frame, out);
        self.count(source, result.as_ref().map(Option::is_some));
        if result.is_err() {
            out.clear();
        }
        result
    }

    /// Opens a message sealed by [`FrameEncryptor::seal_message`](crate::FrameEncryptor::seal_message)
    /// with the same `context`. Same checks and counters as frames.
    pub fn open_message(
        &mut self,
        source: SourceId,
        context: &[u8],
        message: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Header, DecryptError> {
        out.clear();
        let result = self.open_sframe(source, context, message, out);
        self.count(source, result.as_ref().map(|_| true));
        if result.is_err() {
            out.clear();
        }
        result
    }

    fn decrypt_frame(
        &mut self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Header>, DecryptError> {
        if frame.is_empty() {
            return Ok(None);
        }
        let prefix_len = codec.clear_prefix_len(frame)?;
        let (prefix, tail) = frame.split_at(prefix_len);
        out.extend_from_slice(prefix);
        if !codec.escapes_start_codes() {
            return self.open_sframe(source, prefix, tail, out).map(Some);
        }
        let mut unescaped = std::mem::take(&mut self.tail);
        unescaped.clear();
        let result = match unescape_start_codes(tail, &mut unescaped) {
            Ok(()) => self.open_sframe(source, prefix, &unescaped, out),
            Err(error) => Err(DecryptError::Escaping(error)),
        };
        self.tail = unescaped;
        result.map(Some)
    }

    /// Checks 2–6 of the module docs on one SFrame ciphertext; appends the plaintext to `out`.
    fn open_sframe(
        &mut self,
        source: SourceId,
        metadata: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Header, DecryptError> {
        let parsed = sframe::parse(ciphertext)?;
        let kid = parsed.header.kid;
        self.check_announced(source, parsed.header)?;
        if self.kids.is_retired(kid) {
            return Err(DecryptError::RetiredKid(kid));
        }
        let new_key = match self.kids.get(kid) {
            Some(entry) => {
                sframe::open(&entry.key, parsed, metadata, ciphertext, out, &mut self.aad)?;
                None
            }
            None => {
                let key = SframeKey::derive(self.suite, &self.base, kid);
                sframe::open(&key, parsed, metadata, ciphertext, out, &mut self.aad)?;
                Some(key)
            }
        };
        self.accept(source, parsed.header, new_key)
    }

    /// Checks 4–6 of the module docs on a frame that authenticated under `header.kid` (not
    /// retired), whose key is `new_key` if the KID was not live, and records it.
    fn accept(
        &mut self,
        source: SourceId,
        header: Header,
        new_key: Option<SframeKey>,
    ) -> Result<Header, DecryptError> {
        let Header { kid, ctr } = header;
        if let Some(mut live) = self.kids.lookup(kid) {
            if live.owner() != Some(source) {
                return Err(DecryptError::KidCollision {
                    kid,
                    owner: live.owner(),
                });
            }
            let window = &mut live.value().window;
            window
                .check(ctr.0)
                .map_err(|why| DecryptError::Replay { kid, ctr, why })?;
            window.record(ctr.0);
            live.mark_used();
            return Ok(header);
        }
        let (suite, base) = (self.suite, &self.base);
        let entry = self
            .kids
            .admit(source, kid, || KeyEntry {
                key: new_key.unwrap_or_else(|| SframeKey::derive(suite, base, kid)),
                window: ReplayWindow::default(),
            })
            .map_err(|limit| DecryptError::KidLimit { kid, limit })?;
        entry.window.record(ctr.0);
        Ok(header)
    }

    /// Starts decrypting `frame` from `source` with an external AES-GCM engine (see
    /// [`crate::external`]): checks its format (1) and that its KID is not retired (2). `None`
    /// for a zero-length frame, which passes through. Drops are counted, as by `decrypt`.
    ///
    /// # Panics
    /// If `codec` escapes start codes (H.264): such frames go through [`FrameDecryptor::decrypt`].
    pub fn begin_external(
        &mut self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
    ) -> Result<Option<ExternalOpen>, DecryptError> {
        assert!(
            !codec.escapes_start_codes(),
            "{codec:?} frames are decrypted in-crate"
        );
        let result = self.plan_external(source, codec, frame);
        if let Err(error) = &result {
            self.count(source, Err(error));
        }
        result
    }

    fn plan_external(
        &self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
    ) -> Result<Option<ExternalOpen>, DecryptError> {
        if frame.is_empty() {
            return Ok(None);
        }
        let prefix_len = codec.clear_prefix_len(frame)?;
        let parsed = sframe::parse(&frame[prefix_len..])?;
        self.check_announced(source, parsed.header)?;
        if self.kids.is_retired(parsed.header.kid) {
            return Err(DecryptError::RetiredKid(parsed.header.kid));
        }
        Ok(Some(ExternalOpen::new(
            parsed.header,
            prefix_len,
            parsed.header_len,
        )))
    }

    /// The raw key and salt of `kid`, for an external engine to import and to build nonces
    /// with. Deriving creates no cache entry: only [`FrameDecryptor::finish_external`] of an
    /// authenticated frame does.
    pub fn key_material(&self, kid: Kid) -> KeyMaterial {
        derive_key_material(self.suite, &self.base, kid)
    }

    /// Finishes an external decryption: `authenticated` is the engine's verdict on the tag.
    /// Runs checks 2–6 of the module docs (the KID may have been retired meanwhile) and counts
    /// the result. Only on `Ok` may the plaintext go to a decoder.
    pub fn finish_external(
        &mut self,
        source: SourceId,
        plan: &ExternalOpen,
        authenticated: bool,
    ) -> Result<Header, DecryptError> {
        let kid = plan.header.kid;
        let result = if let Err(unannounced) = self.check_announced(source, plan.header) {
            Err(unannounced)
        } else if self.kids.is_retired(kid) {
            Err(DecryptError::RetiredKid(kid))
        } else if !authenticated {
            Err(DecryptError::Authentication)
        } else {
            self.accept(source, plan.header, None)
        };
        self.count(source, result.as_ref().map(|_| true));
        result
    }

    /// Counts a result: `Ok(true)` decrypted, `Ok(false)` passed through empty.
    fn count(&mut self, source: SourceId, result: Result<bool, &DecryptError>) {
        let stats = self.stats.entry(source).or_default();
        match result {
            Ok(true) => stats.decrypted += 1,
            Ok(false) => {}
            Err(error) => match error.reason() {
                DropReason::UnknownFormat => stats.unknown_format += 1,
                DropReason::BadTag => stats.bad_tag += 1,
                DropReason::Replay => stats.replay += 1,
                DropReason::KidCollision => stats.kid_collision += 1,
                DropReason::Retired => stats.retired += 1,
                DropReason::OverLimit => stats.over_limit += 1,
                DropReason::Unannounced => stats.unannounced += 1,
            },
        }
    }
}

impl core::fmt::Debug for FrameDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameDecryptor")
            .field("suite", &self.suite)
            .field("stored", &self.kids.stored())
            .finish_non_exhaustive()
    }
}
