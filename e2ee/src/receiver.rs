//! Decryption of everything a room receives: one [`FrameDecryptor`] per room and base key, fed
//! frames tagged with the [`SourceId`] (remote track) they arrived on.
//!
//! What it guarantees, in the order it checks:
//! 1. The frame fits its codec's clear-prefix rule, its escaping (H.264) and the SFrame format,
//!    else `UnknownFormat`.
//! 2. The KID was not retired (evicted from the cache, or a local track that ended).
//! 3. The frame authenticates under the KID's key, derived on first sight. Only a frame that
//!    authenticates can create a cache entry, so a relay inventing KIDs costs a derivation per
//!    frame and fills nothing.
//! 4. The KID belongs to this source: the first source whose frame authenticated under a KID
//!    owns it, and our own senders own theirs ([`FrameDecryptor::claim_local`]). Another source
//!    using it — a relay reflecting our frames back, or replaying one participant's frames as
//!    another's — is a `KidCollision`, reported and dropped.
//! 5. The counter is fresh in the KID's replay window, and only then recorded.
//!
//! The output buffer receives plaintext only after all five passed; on any failure it is left
//! empty, so an unauthenticated byte never reaches a decoder.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::codec::{unescape_start_codes, Codec};
use crate::error::{DecryptError, DropReason};
use crate::external::ExternalOpen;
use crate::header::{Header, Kid};
use crate::replay::ReplayWindow;
use crate::sframe;
use crate::suite::{derive_key_material, BaseKey, CipherSuite, KeyMaterial, SframeKey};

/// The caller's name for where a frame came from: one remote track (or, for messages, one
/// remote participant). Opaque to this crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u64);

/// Bounds on the decryptor's memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecryptorLimits {
    /// Sender keys kept; beyond it the least recently used remote key is retired.
    pub max_keys: usize,
    /// Retired KIDs remembered; beyond it the oldest is forgotten.
    pub max_retired: usize,
}

impl Default for DecryptorLimits {
    /// 256 keys: 25 participants × 3 tracks, several times over for rejoins.
    fn default() -> Self {
        DecryptorLimits {
            max_keys: 256,
            max_retired: 4096,
        }
    }
}

/// Frames decrypted and dropped for one source, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames that decrypted.
    pub decrypted: u64,
    /// Dropped: not our format.
    pub unknown_format: u64,
    /// Dropped: failed authentication.
    pub bad_tag: u64,
    /// Dropped: replayed, too old or under a retired KID.
    pub replay: u64,
    /// Dropped: authenticated under another sender's KID.
    pub kid_collision: u64,
}

/// A KID that is already in use and cannot be claimed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("KID {0} is already in use")]
pub struct KidInUse(pub Kid);

struct KeyEntry {
    /// `None` for our own senders.
    owner: Option<SourceId>,
    key: SframeKey,
    window: ReplayWindow,
    last_used: u64,
}

/// Decrypts a room's frames and messages under one base key.
pub struct FrameDecryptor {
    suite: CipherSuite,
    base: BaseKey,
    limits: DecryptorLimits,
    keys: HashMap<Kid, KeyEntry>,
    retired: HashSet<Kid>,
    retired_order: VecDeque<Kid>,
    stats: HashMap<SourceId, SourceStats>,
    tick: u64,
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
            limits,
            keys: HashMap::new(),
            retired: HashSet::new(),
            retired_order: VecDeque::new(),
            stats: HashMap::new(),
            tick: 0,
            aad: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// Registers `kid` as one of our own senders' KIDs, so that any remote frame under it is a
    /// collision. Refuses a KID already seen, owned or retired: pick another one.
    pub fn claim_local(&mut self, kid: Kid) -> Result<(), KidInUse> {
        if self.keys.contains_key(&kid) || self.retired.contains(&kid) {
            return Err(KidInUse(kid));
        }
        let key = SframeKey::derive(self.suite, &self.base, kid);
        self.keys.insert(
            kid,
            KeyEntry {
                owner: None,
                key,
                window: ReplayWindow::default(),
                last_used: 0,
            },
        );
        Ok(())
    }

    /// Retires a local KID whose track ended: nobody may use it again.
    pub fn release_local(&mut self, kid: Kid) {
        if self
            .keys
            .get(&kid)
            .is_some_and(|entry| entry.owner.is_none())
        {
            self.keys.remove(&kid);
            self.retire(kid);
        }
    }

    /// Forgets a source that left: its counters go, its KIDs are retired.
    pub fn forget_source(&mut self, source: SourceId) {
        self.stats.remove(&source);
        let owned: Vec<Kid> = self
            .keys
            .iter()
            .filter(|(_, entry)| entry.owner == Some(source))
            .map(|(&kid, _)| kid)
            .collect();
        for kid in owned {
            self.keys.remove(&kid);
            self.retire(kid);
        }
    }

    /// Whether a remote sender's frames under `kid` have authenticated (and the KID is in the
    /// cache): only then is it worth preparing an external engine's key for it.
    pub fn knows_remote(&self, kid: Kid) -> bool {
        self.keys
            .get(&kid)
            .is_some_and(|entry| entry.owner.is_some())
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

    /// Checks 2–5 of the module docs on one SFrame ciphertext; appends the plaintext to `out`.
    fn open_sframe(
        &mut self,
        source: SourceId,
        metadata: &[u8],
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Header, DecryptError> {
        let parsed = sframe::parse(ciphertext)?;
        let kid = parsed.header.kid;
        if self.retired.contains(&kid) {
            return Err(DecryptError::RetiredKid(kid));
        }
        let new_key = match self.keys.get(&kid) {
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

    /// Checks 4–5 of the module docs on a frame that authenticated under `header.kid`, whose
    /// key is `new_key` if the KID was not in the cache, and records it.
    fn accept(
        &mut self,
        source: SourceId,
        header: Header,
        new_key: Option<SframeKey>,
    ) -> Result<Header, DecryptError> {
        let Header { kid, ctr } = header;
        self.tick += 1;
        match (self.keys.get_mut(&kid), new_key) {
            (Some(entry), _) => {
                if entry.owner != Some(source) {
                    return Err(DecryptError::KidCollision {
                        kid,
                        owner: entry.owner,
                    });
                }
                entry
                    .window
                    .check(ctr.0)
                    .map_err(|why| DecryptError::Replay { kid, ctr, why })?;
                entry.window.record(ctr.0);
                entry.last_used = self.tick;
            }
            (None, key) => {
                let key = key.unwrap_or_else(|| SframeKey::derive(self.suite, &self.base, kid));
                let mut window = ReplayWindow::default();
                window.record(ctr.0);
                self.make_room();
                self.keys.insert(
                    kid,
                    KeyEntry {
                        owner: Some(source),
                        key,
                        window,
                        last_used: self.tick,
                    },
                );
            }
        }
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
        let result = self.plan_external(codec, frame);
        if let Err(error) = &result {
            self.count(source, Err(error));
        }
        result
    }

    fn plan_external(
        &self,
        codec: Codec,
        frame: &[u8],
    ) -> Result<Option<ExternalOpen>, DecryptError> {
        if frame.is_empty() {
            return Ok(None);
        }
        let prefix_len = codec.clear_prefix_len(frame)?;
        let parsed = sframe::parse(&frame[prefix_len..])?;
        if self.retired.contains(&parsed.header.kid) {
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
    /// Runs checks 2–5 of the module docs (the KID may have been retired meanwhile) and counts
    /// the result. Only on `Ok` may the plaintext go to a decoder.
    pub fn finish_external(
        &mut self,
        source: SourceId,
        plan: &ExternalOpen,
        authenticated: bool,
    ) -> Result<Header, DecryptError> {
        let kid = plan.header.kid;
        let result = if self.retired.contains(&kid) {
            Err(DecryptError::RetiredKid(kid))
        } else if !authenticated {
            Err(DecryptError::Authentication)
        } else {
            self.accept(source, plan.header, None)
        };
        self.count(source, result.as_ref().map(|_| true));
        result
    }

    /// Retires the least recently used remote key if the cache is full.
    fn make_room(&mut self) {
        if self.keys.len() < self.limits.max_keys {
            return;
        }
        let oldest = self
            .keys
            .iter()
            .filter(|(_, entry)| entry.owner.is_some())
            .min_by_key(|(_, entry)| entry.last_used)
            .map(|(&kid, _)| kid);
        if let Some(kid) = oldest {
            self.keys.remove(&kid);
            self.retire(kid);
        }
    }

    fn retire(&mut self, kid: Kid) {
        if self.retired.insert(kid) {
            self.retired_order.push_back(kid);
        }
        while self.retired_order.len() > self.limits.max_retired {
            if let Some(forgotten) = self.retired_order.pop_front() {
                self.retired.remove(&forgotten);
            }
        }
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
            },
        }
    }
}

impl core::fmt::Debug for FrameDecryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameDecryptor")
            .field("suite", &self.suite)
            .field("keys", &self.keys.len())
            .field("retired", &self.retired.len())
            .finish_non_exhaustive()
    }
}
