//! Which KIDs a [`FrameDecryptor`](crate::FrameDecryptor) knows, who owns each, and which are
//! retired, in memory that senders choosing KIDs cannot grow without bound.
//!
//! What it does not do: cryptography, replay windows or counters. It keeps a value for each
//! live KID (the decryptor's key and replay window) and decides, for a KID seen for the first
//! time, whether it may become live, and which KID is retired to make room.
//!
//! Anyone holding the link can make frames that authenticate under any KID they like, so the
//! KIDs a decryptor meets are chosen by whoever sends. The rules, per KID:
//!
//! ```text
//!            admit (first authenticated frame)                 retire
//!  unknown ─────────────────────────────────────► live ─────────────────────► retired, for good
//!     │     ≤ live_per_source live per source         a source's own least recently used,
//!     │     ≤ kids_per_source in a source's life      when that source brings one more;
//!     │     ≤ max_sources sources holding KIDs        all of a source's, when it leaves;
//!     │     ≤ max_kids stored (live and retired)      a local KID, when its track ends
//!     └──► refused: KidLimit, nothing stored
//! ```
//!
//! - **A source only displaces itself.** A source's new KID retires that source's own least
//!   recently used KID, never another source's. A flood of fresh KIDs on one source leaves every
//!   other source's keys alone, however long they have been idle (a camera that is off, a
//!   paused screen share).
//! - **Retired is for good.** A retired KID is remembered for the life of the decryptor: every
//!   frame under it is refused, on any source, and it cannot be claimed as a local KID. There
//!   is no cache to push it out of, so no amount of traffic makes it acceptable again with a
//!   fresh replay window. Why not keep a retired KID's replay high-water mark and accept frames
//!   above it? An honest sender never goes back to a KID once it is retired here (that takes its
//!   own source moving on to [`DecryptorLimits::live_per_source`] newer KIDs, its source
//!   leaving, or our own track ending), so every frame under a retired KID is a replay or an
//!   attacker's. Refusing them all loses no honest frame and stores 8 bytes per retired KID
//!   instead of 16.
//! - **Memory is bounded by admission, not by eviction.** Because nothing is forgotten, the
//!   bound is on what comes in: each source brings at most
//!   [`kids_per_source`](DecryptorLimits::kids_per_source) KIDs in its life, at most
//!   [`max_sources`](DecryptorLimits::max_sources) sources hold KIDs at once, and at most
//!   [`max_kids`](DecryptorLimits::max_kids) KIDs are stored in all, live and retired, including
//!   those of sources that left. A KID over any limit is refused with the limit it hit, and
//!   nothing else changes: the decryptor fails closed for *new* KIDs rather than forget an old
//!   one or drop another source's state. With the default limits the sources present at any
//!   time can hold at most half of `max_kids`, so only sources that left (more than 128 of them,
//!   each having used up its lifetime allowance) can fill the store; see
//!   [`DecryptorLimits::default`].
//!
//! Local KIDs (our own senders', [`KidTable::claim_local`]) belong to no source and are not
//! limited: the caller makes one per local track. They count towards `max_kids` all the same.

use std::collections::{HashMap, HashSet};

use crate::header::Kid;
use crate::receiver::SourceId;

/// Bounds on what a decryptor stores about KIDs. See the [module docs](self) for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecryptorLimits {
    /// Live KIDs per source. A source's next KID retires that source's least recently used one.
    pub live_per_source: usize,
    /// KIDs one source may bring in its life, live and retired; beyond it, its new KIDs are
    /// refused ([`KidLimit::SourceKids`]).
    pub kids_per_source: usize,
    /// Sources holding KIDs at once; beyond it, a new source's KIDs are refused
    /// ([`KidLimit::Sources`]) until a source is forgotten.
    pub max_sources: usize,
    /// KIDs stored in all, live and retired, ours included; beyond it, new remote KIDs are
    /// refused ([`KidLimit::Kids`]).
    pub max_kids: usize,
}

impl Default for DecryptorLimits {
    /// - `live_per_source` 4: a sender draws a fresh KID on every reconnect and track restart,
    ///   and the relay may hand the same receive line to that sender's next track or to
    ///   someone else's; frames under the old KID still arrive for a moment (jitter buffer,
    ///   retransmissions) while the new one starts. Two would do for one restart; four leave
    ///   room for restarts in quick succession, and keep what a flooding source holds at once
    ///   (its keys and replay windows) small.
    /// - `kids_per_source` 64: an honest line sees a handful of KIDs in a meeting; 64 is hours
    ///   of reconnects, and all a flooding line will ever cost.
    /// - `max_sources` 128: 25 participants × 3 tracks (microphone, camera, screen) is 75.
    /// - `max_kids` 16,384: twice what 128 sources can hold (8,192), so the sources present
    ///   can never fill it. Full, the retired set takes under 300 KiB (8 bytes a KID in a
    ///   hash set of 32,768 slots); live keys are at most 4 × 128 = 512, plus our own.
    fn default() -> Self {
        DecryptorLimits {
            live_per_source: 4,
            kids_per_source: 64,
            max_sources: 128,
            max_kids: 16_384,
        }
    }
}

/// The limit a refused KID ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum KidLimit {
    /// The source has brought [`DecryptorLimits::kids_per_source`] KIDs already.
    #[error("the source has used up its KIDs")]
    SourceKids,
    /// [`DecryptorLimits::max_sources`] other sources hold KIDs.
    #[error("too many sources")]
    Sources,
    /// [`DecryptorLimits::max_kids`] KIDs are stored.
    #[error("too many KIDs")]
    Kids,
}

/// How many KIDs and sources a decryptor stores, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredKids {
    /// Live KIDs (each with its key and replay window), ours included.
    pub live: usize,
    /// Retired KIDs (8 bytes each).
    pub retired: usize,
    /// Sources holding KIDs.
    pub sources: usize,
}

/// A live KID: who owns it and the caller's value for it.
pub(crate) struct Live<V> {
    owner: Option<SourceId>,
    last_used: u64,
    value: V,
}

/// A live KID looked up for a frame: [`LiveUse::mark_used`] once the frame is accepted.
pub(crate) struct LiveUse<'a, V> {
    live: &'a mut Live<V>,
    tick: u64,
}

impl<V> LiveUse<'_, V> {
    /// The source that owns the KID; `None` for a local KID.
    pub(crate) fn owner(&self) -> Option<SourceId> {
        self.live.owner
    }

    /// The caller's value.
    pub(crate) fn value(&mut self) -> &mut V {
        &mut self.live.value
    }

    /// Records a use, for the source's least-recently-used order.
    pub(crate) fn mark_used(self) {
        self.live.last_used = self.tick;
    }
}

/// What one source holds.
#[derive(Default)]
struct SourceKids {
    /// Its live KIDs, at most `live_per_source`.
    live: Vec<Kid>,
    /// KIDs it brought in its life.
    admitted: usize,
}

/// The KIDs of one decryptor; `V` is what it keeps per live KID.
pub(crate) struct KidTable<V> {
    limits: DecryptorLimits,
    live: HashMap<Kid, Live<V>>,
    retired: HashSet<Kid>,
    sources: HashMap<SourceId, SourceKids>,
    tick: u64,
}

impl<V> KidTable<V> {
    pub(crate) fn new(limits: DecryptorLimits) -> Self {
        KidTable {
            limits,
            live: HashMap::new(),
            retired: HashSet::new(),
            sources: HashMap::new(),
            tick: 0,
        }
    }

    pub(crate) fn is_retired(&self, kid: Kid) -> bool {
        self.retired.contains(&kid)
    }

    /// Whether `kid` is live and owned by a remote source.
    pub(crate) fn is_remote(&self, kid: Kid) -> bool {
        self.live.get(&kid).is_some_and(|live| live.owner.is_some())
    }

    /// The live entry of `kid`, if any.
    pub(crate) fn get(&self, kid: Kid) -> Option<&V> {
        self.live.get(&kid).map(|live| &live.value)
    }

    /// The live entry of `kid`, to check a frame against.
    pub(crate) fn lookup(&mut self, kid: Kid) -> Option<LiveUse<'_, V>> {
        self.tick += 1;
        let tick = self.tick;
        self.live.get_mut(&kid).map(|live| LiveUse { live, tick })
    }

    pub(crate) fn stored(&self) -> StoredKids {
        StoredKids {
            live: self.live.len(),
            retired: self.retired.len(),
            sources: self.sources.len(),
        }
    }

    /// Makes `kid`, neither live nor retired, a live KID of `source` with the value `make()`
    /// (called only if admitted). Retires the source's least recently used KID if it holds
    /// `live_per_source` already.
    pub(crate) fn admit(
        &mut self,
        source: SourceId,
        kid: Kid,
        make: impl FnOnce() -> V,
    ) -> Result<&mut V, KidLimit> {
        debug_assert!(!self.live.contains_key(&kid) && !self.retired.contains(&kid));
        let limits = self.limits;
        let known = self.sources.get(&source);
        let admitted = known.map_or(0, |kids| kids.admitted);
        if admitted >= limits.kids_per_source || limits.live_per_source == 0 {
            return Err(KidLimit::SourceKids);
        }
        if known.is_none() && self.sources.len() >= limits.max_sources {
            return Err(KidLimit::Sources);
        }
        if self.live.len() + self.retired.len() >= limits.max_kids {
            return Err(KidLimit::Kids);
        }
        let kids = self.sources.entry(source).or_default();
        if kids.live.len() >= limits.live_per_source {
            let live = &self.live;
            let oldest = kids
                .live
                .iter()
                .enumerate()
                .min_by_key(|(_, kid)| live.get(kid).map_or(0, |entry| entry.last_used))
                .map(|(at, _)| at);
            // Always `Some`: `live_per_source > 0`, so a full source holds a KID.
            if let Some(at) = oldest {
                let gone = kids.live.swap_remove(at);
                self.live.remove(&gone);
                self.retired.insert(gone);
            }
        }
        kids.live.push(kid);
        kids.admitted += 1;
        self.tick += 1;
        let live = Live {
            owner: Some(source),
            last_used: self.tick,
            value: make(),
        };
        Ok(&mut self.live.entry(kid).or_insert(live).value)
    }

    /// Makes `kid` a local KID, owned by no source. `false` if it is live or retired.
    pub(crate) fn claim_local(&mut self, kid: Kid, make: impl FnOnce() -> V) -> bool {
        if self.live.contains_key(&kid) || self.retired.contains(&kid) {
            return false;
        }
        let live = Live {
            owner: None,
            last_used: 0,
            value: make(),
        };
        self.live.insert(kid, live);
        true
    }

    /// Retires local `kid`; a remote or unknown KID is left alone.
    pub(crate) fn release_local(&mut self, kid: Kid) {
        if self.live.get(&kid).is_some_and(|live| live.owner.is_none()) {
            self.live.remove(&kid);
            self.retired.insert(kid);
        }
    }

    /// Retires every live KID of `source` and frees its place among the sources. Its retired
    /// KIDs stay retired.
    pub(crate) fn forget_source(&mut self, source: SourceId) {
        if let Some(kids) = self.sources.remove(&source) {
            for kid in kids.live {
                self.live.remove(&kid);
                self.retired.insert(kid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const LIMITS: DecryptorLimits = DecryptorLimits {
        live_per_source: 2,
        kids_per_source: 5,
        max_sources: 3,
        max_kids: 12,
    };

    /// A frame under `kid` from `source`, as the decryptor treats it once it authenticated:
    /// `Ok(true)` newly admitted, `Ok(false)` already live and owned by `source`.
    fn frame(table: &mut KidTable<()>, source: SourceId, kid: Kid) -> Result<bool, String> {
        if table.is_retired(kid) {
            return Err("retired".into());
        }
        if let Some(used) = table.lookup(kid) {
            if used.owner() != Some(source) {
                return Err("collision".into());
            }
            used.mark_used();
            return Ok(false);
        }
        table
            .admit(source, kid, || ())
            .map(|_| true)
            .map_err(|limit| format!("{limit:?}"))
    }

    #[test]
    fn a_source_retires_its_own_least_recently_used_kid() {
        let (a, b) = (SourceId(1), SourceId(2));
        let mut table = KidTable::new(LIMITS);
        assert_eq!(frame(&mut table, a, Kid(1)), Ok(true));
        assert_eq!(frame(&mut table, b, Kid(9)), Ok(true));
        assert_eq!(frame(&mut table, a, Kid(2)), Ok(true));
        assert_eq!(frame(&mut table, a, Kid(1)), Ok(false)); // 2 is now a's least recent
        assert_eq!(frame(&mut table, a, Kid(3)), Ok(true));
        assert!(table.is_retired(Kid(2)));
        assert_eq!(frame(&mut table, a, Kid(1)), Ok(false));
        assert_eq!(
            frame(&mut table, b, Kid(9)),
            Ok(false),
            "b's idle KID stays"
        );
        assert_eq!(frame(&mut table, b, Kid(2)), Err("retired".into()));
    }

    #[test]
    fn limits_refuse_new_kids_and_change_nothing_else() {
        let mut table = KidTable::new(LIMITS);
        for kid in 0..5 {
            assert_eq!(frame(&mut table, SourceId(1), Kid(kid)), Ok(true));
        }
        assert_eq!(
            frame(&mut table, SourceId(1), Kid(5)),
            Err("SourceKids".into())
        );
        assert_eq!(frame(&mut table, SourceId(1), Kid(4)), Ok(false));
        assert_eq!(frame(&mut table, SourceId(2), Kid(10)), Ok(true));
        assert_eq!(frame(&mut table, SourceId(3), Kid(20)), Ok(true));
        assert_eq!(
            frame(&mut table, SourceId(4), Kid(30)),
            Err("Sources".into())
        );
        table.forget_source(SourceId(1));
        assert_eq!(frame(&mut table, SourceId(4), Kid(30)), Ok(true));
        // 5 of source 1 (retired) + 10, 20, 30 live: 8 stored. Four more fill the store.
        for kid in 31..35 {
            assert_eq!(frame(&mut table, SourceId(4), Kid(kid)), Ok(true));
        }
        assert_eq!(table.stored().live + table.stored().retired, 12);
        assert_eq!(frame(&mut table, SourceId(2), Kid(11)), Err("Kids".into()));
        assert_eq!(frame(&mut table, SourceId(2), Kid(10)), Ok(false));
        for kid in 0..5 {
            assert_eq!(
                frame(&mut table, SourceId(2), Kid(kid)),
                Err("retired".into())
            );
        }
    }

    #[test]
    fn local_kids_collide_and_retire() {
        let mut table = KidTable::new(LIMITS);
        assert!(table.claim_local(Kid(7), || ()));
        assert!(!table.claim_local(Kid(7), || ()));
        assert_eq!(
            frame(&mut table, SourceId(1), Kid(7)),
            Err("collision".into())
        );
        table.release_local(Kid(7));
        assert!(!table.claim_local(Kid(7), || ()));
        assert_eq!(
            frame(&mut table, SourceId(1), Kid(7)),
            Err("retired".into())
        );
    }

    #[derive(Clone, Debug)]
    enum Op {
        Frame(u8, u8),
        Forget(u8),
        Claim(u8),
        Release(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few sources and KIDs, so that collisions, rotations and limits all happen.
        prop_oneof![
            8 => (0u8..4, 0u8..24).prop_map(|(s, k)| Op::Frame(s, k)),
            1 => (0u8..4).prop_map(Op::Forget),
            1 => (0u8..24).prop_map(Op::Claim),
            1 => (0u8..24).prop_map(Op::Release),
        ]
    }

    proptest! {
        /// Any sequence of frames, departures and local tracks: a KID once retired is never
        /// accepted again, a KID is only ever accepted from one source, a KID live on one
        /// source stays live whatever other sources do, and the store stays within its limits.
        #[test]
        fn retired_is_for_good_and_sources_only_displace_themselves(
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut table = KidTable::new(LIMITS);
            let mut ever_retired = HashSet::new();
            let mut first_owner: BTreeMap<Kid, Option<SourceId>> = BTreeMap::new();
            let mut locals = 0;
            for op in ops {
                let before: Vec<(Kid, Option<SourceId>)> =
                    table.live.iter().map(|(&kid, live)| (kid, live.owner)).collect();
                let mut acting = None;
                match op {
                    Op::Frame(s, k) => {
                        let (source, kid) = (SourceId(u64::from(s)), Kid(u64::from(k)));
                        acting = Some(source);
                        if frame(&mut table, source, kid).is_ok() {
                            prop_assert!(!ever_retired.contains(&kid), "{kid:?} came back");
                            let owner = *first_owner.entry(kid).or_insert(Some(source));
                            prop_assert_eq!(owner, Some(source), "{:?} from two sources", kid);
                        }
                    }
                    Op::Forget(s) => {
                        acting = Some(SourceId(u64::from(s)));
                        table.forget_source(SourceId(u64::from(s)));
                    }
                    Op::Claim(k) => {
                        let kid = Kid(u64::from(k));
                        if table.claim_local(kid, || ()) {
                            locals += 1;
                            prop_assert!(!ever_retired.contains(&kid));
                            prop_assert!(first_owner.insert(kid, None).is_none());
                        }
                    }
                    Op::Release(k) => table.release_local(Kid(u64::from(k))),
                }
                // Only the acting source's KIDs (or a released local one) may have left.
                for (kid, owner) in before {
                    if !table.live.contains_key(&kid) {
                        prop_assert!(owner.is_none() || owner == acting, "{kid:?} of {owner:?}");
                    }
                }
                ever_retired.extend(table.retired.iter().copied());
                prop_assert!(ever_retired.len() == table.retired.len(), "a retired KID forgotten");
                let stored = table.stored();
                prop_assert!(stored.live + stored.retired <= LIMITS.max_kids + locals);
                prop_assert!(stored.sources <= LIMITS.max_sources);
                for kids in table.sources.values() {
                    prop_assert!(kids.live.len() <= LIMITS.live_per_source);
                    prop_assert!(kids.admitted <= LIMITS.kids_per_source);
                }
            }
        }
    }
}
