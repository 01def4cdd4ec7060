//! The worker's keys and counters, shared by all its transforms: the room's decryptor, one
//! encryptor per local track, the WebCrypto copies of those keys, and per-transform counters.
//!
//! One per worker, behind `Rc<RefCell<_>>`: transforms run one frame at a time on the worker's
//! single thread and never hold the borrow across a call out to JavaScript that could re-enter.
//!
//! Key changes (a `key` message) start a new *generation*: all encryptors get fresh KIDs, the
//! decryptor starts over, and a WebCrypto import that finishes for an older generation is
//! thrown away.
//!
//! In an MLS meeting ([`super::group`]) the keys come from the group's epochs instead: each new
//! epoch is a generation, the encryptors take the epoch's §5.2 KIDs, and remote frames are
//! routed by their KID to the current epoch or, for a short overlap, the previous one
//! ([`veilig_mls::keyring::EpochRing`]). The base keys stay in the worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use veilig_e2ee::suite::KeyMaterial;
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, Counter, FrameDecryptor, FrameEncryptor, Kid, SourceId,
};
use veilig_mls::keyring::{frame_kid, Dropped, EpochRing};
use veilig_mls::EpochKeys;
use wasm_bindgen::JsValue;
use web_sys::CryptoKey;

use super::engine::EnginePolicy;
use super::messages::{Direction, TransformStats};
use super::webcrypto;

/// WebCrypto keys kept for remote KIDs; beyond this the map is cleared and refilled on demand.
const MAX_REMOTE_WEBCRYPTO_KEYS: usize = 256;

/// A local track's encryption.
pub struct SenderKey {
    /// The core's encryptor: counter, KID, wasm AES-GCM.
    pub encryptor: FrameEncryptor,
    /// The same key in WebCrypto, once imported.
    pub webcrypto: Option<CryptoKey>,
}

/// A remote KID's key for WebCrypto: the salt for nonces and, once imported, the key.
pub struct RemoteKey {
    /// Raw key and salt.
    pub material: KeyMaterial,
    /// `None` while the import runs.
    pub webcrypto: Option<CryptoKey>,
}

/// Everything keyed in the worker.
pub struct Keyring {
    suite: CipherSuite,
    base: Option<BaseKey>,
    generation: u64,
    /// The engine policy from the page.
    pub policy: EnginePolicy,
    /// `None` until the page sends a key.
    pub decryptor: Option<FrameDecryptor>,
    /// Local tracks by transform id.
    pub senders: HashMap<u32, SenderKey>,
    /// WebCrypto keys of remote KIDs.
    pub remote: HashMap<Kid, RemoteKey>,
    /// Counters by transform id (the decryptor's own are merged in by [`Keyring::report`]).
    pub stats: HashMap<u32, (Direction, TransformStats)>,
    /// The measured crossover, once known.
    crossover: Option<usize>,
    /// KIDs announced per receive transform, kept across key changes.
    announced: HashMap<u32, Vec<(Kid, Counter)>>,
    /// KIDs the page chose for its send transforms.
    requested: HashMap<u32, Kid>,
    /// The MLS epochs, in an MLS meeting: then `base` and `decryptor` stay `None`.
    epochs: Option<EpochRing>,
}

/// Why [`Keyring::decryptor_for`] has no decryptor for a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoDecryptor {
    /// No key for it: to be counted as `noKey` by the caller.
    NoKey,
    /// Refused and counted already (another member's KID on this line, or another epoch).
    Counted,
}

/// The epochs of an MLS meeting: a line's frames open only once it is bound to its owner.
fn owned_epochs(overlap_ms: u64) -> EpochRing {
    let mut epochs = EpochRing::new(overlap_ms);
    epochs.require_owners();
    epochs
}

/// The shared handle.
pub type SharedKeyring = Rc<RefCell<Keyring>>;

impl Keyring {
    /// No key yet: every frame is dropped and counted as `noKey` until one arrives.
    pub fn new() -> SharedKeyring {
        Rc::new(RefCell::new(Keyring {
            suite: CipherSuite::default(),
            base: None,
            generation: 0,
            policy: EnginePolicy::default(),
            decryptor: None,
            senders: HashMap::new(),
            remote: HashMap::new(),
            stats: HashMap::new(),
            crossover: None,
            announced: HashMap::new(),
            requested: HashMap::new(),
            epochs: None,
        }))
    }

    /// Makes this an MLS meeting from now on, before its first epoch: no link key is accepted
    /// any more (no downgrade), every local track waits for the first epoch's keys, and remote
    /// frames open only on a line bound to their sender ([`Keyring::bind_owner`]). `policy`
    /// is the page's engine choice, as a `key` message gives it in a link-key meeting.
    pub fn start_group(&mut self, overlap_ms: u64, policy: EnginePolicy) {
        self.generation += 1;
        self.base = None;
        self.decryptor = None;
        self.remote.clear();
        self.senders.clear();
        self.choose_policy(policy);
        self.epochs = Some(owned_epochs(overlap_ms));
    }

    /// The page's engine policy; an automatic one keeps the crossover measured already.
    fn choose_policy(&mut self, policy: EnginePolicy) {
        self.policy = match (policy, self.crossover) {
            (EnginePolicy::Auto { .. }, Some(webcrypto_from)) => {
                EnginePolicy::Auto { webcrypto_from }
            }
            _ => policy,
        };
    }

    /// Counts a frame that `decryptor_for` found no decryptor for, unless it was counted
    /// already, on receive transform `id`.
    pub fn count_undecryptable(&mut self, id: u32, why: NoDecryptor) {
        if why == NoDecryptor::NoKey {
            self.counters(id).no_key += 1;
        }
    }

    /// Receive transform `id` is the line the relay says comes from participant `who`: in an
    /// MLS meeting its frames open only under the KIDs of the member who joined as `who`.
    pub fn bind_owner(&mut self, id: u32, who: &str) {
        if let Some(epochs) = self.epochs.as_mut() {
            epochs.bind(SourceId(u64::from(id)), who.as_bytes());
        }
    }

    /// Installs a new MLS epoch's keys at `now_ms`, the previous epoch kept for `overlap_ms`:
    /// a new generation, every local track re-keyed under the epoch's KIDs.
    pub fn install_epoch(shared: &SharedKeyring, keys: EpochKeys, now_ms: u64, overlap_ms: u64) {
        let senders: Vec<u32> = {
            let mut ring = shared.borrow_mut();
            ring.generation += 1;
            ring.base = None;
            ring.decryptor = None;
            let epochs = ring.epochs.get_or_insert_with(|| owned_epochs(overlap_ms));
            epochs.install(keys, now_ms);
            ring.forget_dead_remote_keys();
            ring.senders.clear();
            // Every local track, those attached before the first epoch (no encryptor yet,
            // their frames dropped) included.
            ring.local_tracks()
        };
        for id in senders {
            Keyring::add_sender(shared, id);
        }
    }

    /// The transform ids of our local tracks.
    fn local_tracks(&self) -> Vec<u32> {
        self.stats
            .iter()
            .filter(|(_, (direction, _))| *direction == Direction::Send)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Erases every MLS key now (removed from the group, or rejoining).
    pub fn clear_epochs(&mut self) {
        if let Some(epochs) = self.epochs.as_mut() {
            epochs.clear();
        }
        self.generation += 1;
        self.senders.clear();
        self.remote.clear();
    }

    /// Erases the previous MLS epoch once its overlap is over.
    pub fn tick(&mut self, now_ms: u64) {
        if self
            .epochs
            .as_mut()
            .is_some_and(|epochs| epochs.tick(now_ms))
        {
            self.forget_dead_remote_keys();
        }
    }

    /// The current MLS epoch and the previous one while it is kept.
    pub fn epochs(&self) -> Option<(Option<u64>, Option<u64>)> {
        self.epochs
            .as_ref()
            .map(|epochs| (epochs.current_epoch(), epochs.previous_epoch()))
    }

    /// WebCrypto copies of keys whose epoch is gone go with it.
    fn forget_dead_remote_keys(&mut self) {
        if let Some(epochs) = self.epochs.as_ref() {
            self.remote.retain(|kid, _| epochs.is_live(*kid));
        }
    }

    /// Whether remote frames can be opened at all (a key, or an epoch).
    pub fn has_keys(&self) -> bool {
        self.decryptor.is_some()
            || self
                .epochs
                .as_ref()
                .is_some_and(|epochs| epochs.current_epoch().is_some())
    }

    /// The decryptor for a remote frame on receive transform `source`: the room's, or that of
    /// the MLS epoch its KID names if the KID's sender is the line's.
    pub fn decryptor_for(
        &mut self,
        source: SourceId,
        codec: Codec,
        frame: &[u8],
    ) -> Result<&mut FrameDecryptor, NoDecryptor> {
        match self.epochs.as_mut() {
            None => self.decryptor.as_mut().ok_or(NoDecryptor::NoKey),
            Some(epochs) => {
                let kid = frame_kid(codec, frame).ok_or(NoDecryptor::NoKey)?;
                epochs
                    .decryptor_from(source, kid)
                    .map_err(|dropped| match dropped {
                        // Counted per line by the epochs (see `transform_stats`).
                        Dropped::NotTheLinesSender | Dropped::OtherEpoch => NoDecryptor::Counted,
                        _ => NoDecryptor::NoKey,
                    })
            }
        }
    }

    /// The decryptor that holds `kid` (see [`Keyring::decryptor_for`]).
    pub fn decryptor_of(&mut self, kid: Kid) -> Option<&mut FrameDecryptor> {
        match self.epochs.as_mut() {
            None => self.decryptor.as_mut(),
            Some(epochs) => epochs.decryptor(kid).ok(),
        }
    }

    /// Installs the room's media base key: a fresh decryptor and fresh sender KIDs (the page's
    /// chosen ones where it chose). With `require_announced`, remote frames are accepted only
    /// under the KIDs announced for their transform ([`Keyring::announce`]).
    pub fn set_key(
        shared: &SharedKeyring,
        key: &[u8],
        policy: EnginePolicy,
        require_announced: bool,
    ) {
        let senders: Vec<u32> = {
            let mut ring = shared.borrow_mut();
            if ring.epochs.is_some() {
                // An MLS meeting never falls back to a link key: no downgrade.
                return;
            }
            let base = BaseKey::new(key);
            ring.generation += 1;
            ring.choose_policy(policy);
            let mut decryptor = FrameDecryptor::new(ring.suite, &base);
            if require_announced {
                decryptor.require_announced();
            }
            for (id, kids) in &ring.announced {
                decryptor.announce_from(SourceId(u64::from(*id)), kids);
            }
            ring.decryptor = Some(decryptor);
            ring.base = Some(base);
            ring.remote.clear();
            ring.senders.drain().map(|(id, _)| id).collect()
        };
        for id in senders {
            Keyring::add_sender(shared, id);
        }
    }

    /// The KIDs the sender of receive transform `id` announced: only frames under them open
    /// (when announcements are required).
    pub fn announce(&mut self, id: u32, kids: Vec<(Kid, Counter)>) {
        if let Some(decryptor) = self.decryptor.as_mut() {
            decryptor.announce_from(SourceId(u64::from(id)), &kids);
        }
        self.announced.insert(id, kids);
    }

    /// The KID send transform `id` must use, chosen by the page (which announces it).
    pub fn request_kid(&mut self, id: u32, kid: Kid) {
        self.requested.insert(id, kid);
    }

    /// Gives local track `id` an encryptor: in an MLS meeting under the current epoch's next
    /// §5.2 KID; else under the KID the page chose for it, or a fresh random one, if there is a
    /// key.
    pub fn add_sender(shared: &SharedKeyring, id: u32) {
        let (raw, generation, kid) = {
            let mut ring = shared.borrow_mut();
            let suite = ring.suite;
            let encryptor = match ring.epochs.as_mut() {
                Some(epochs) => epochs.encryptor().ok(),
                None => ring.link_encryptor(id),
            };
            let Some(encryptor) = encryptor else {
                return;
            };
            let kid = encryptor.kid();
            let raw = encryptor.key_material().0.key(suite).to_vec();
            ring.senders.insert(
                id,
                SenderKey {
                    encryptor,
                    webcrypto: None,
                },
            );
            (raw, ring.generation, kid)
        };
        Keyring::import_sender(shared, id, raw, generation, kid);
    }

    /// An encryptor under the link's key for local track `id`.
    fn link_encryptor(&mut self, id: u32) -> Option<FrameEncryptor> {
        let base = self.base.clone()?;
        let suite = self.suite;
        // The page's choice (it announced it), if no one uses it yet; else a fresh random KID
        // that nobody in the room uses yet: a repeat among 2^64 values is next to impossible,
        // but `claim_local` makes sure.
        let requested = self.requested.get(&id).copied();
        let decryptor = self.decryptor.as_mut()?;
        let kid = match requested {
            Some(kid) if decryptor.claim_local(kid).is_ok() => kid,
            _ => loop {
                let candidate = webcrypto::random_u64().ok()?;
                if decryptor.claim_local(Kid(candidate)).is_ok() {
                    break Kid(candidate);
                }
            },
        };
        Some(FrameEncryptor::new(suite, &base, kid))
    }

    /// Imports a local track's key into WebCrypto, for the generation it was made in.
    fn import_sender(shared: &SharedKeyring, id: u32, raw: Vec<u8>, generation: u64, kid: Kid) {
        let shared = shared.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(key) = webcrypto::import_key(&raw).await {
                let mut ring = shared.borrow_mut();
                if ring.generation != generation {
                    return;
                }
                if let Some(sender) = ring.senders.get_mut(&id) {
                    if sender.encryptor.kid() == kid {
                        sender.webcrypto = Some(key);
                    }
                }
            }
        });
    }

    /// Starts importing remote `kid`'s key into WebCrypto, once the decryptor has accepted a
    /// frame under it (so a relay inventing KIDs cannot make the worker import keys).
    pub fn prepare_remote(shared: &SharedKeyring, kid: Kid) {
        let (raw, generation) = {
            let mut ring = shared.borrow_mut();
            let suite = ring.suite;
            if ring.remote.contains_key(&kid) {
                return;
            }
            let Some(decryptor) = ring.decryptor_of(kid) else {
                return;
            };
            if !decryptor.knows_remote(kid) {
                return;
            }
            let material = decryptor.key_material(kid);
            let raw = material.key(suite).to_vec();
            if ring.remote.len() >= MAX_REMOTE_WEBCRYPTO_KEYS {
                ring.remote.clear();
            }
            ring.remote.insert(
                kid,
                RemoteKey {
                    material,
                    webcrypto: None,
                },
            );
            (raw, ring.generation)
        };
        let shared = shared.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Ok(key) = webcrypto::import_key(&raw).await {
                let mut ring = shared.borrow_mut();
                if ring.generation == generation {
                    if let Some(remote) = ring.remote.get_mut(&kid) {
                        remote.webcrypto = Some(key);
                    }
                }
            }
        });
    }

    /// Sets the measured crossover for the automatic engine choice (`None`: wasm always).
    pub fn set_crossover(&mut self, webcrypto_from: Option<usize>) {
        self.crossover = Some(webcrypto_from.unwrap_or(usize::MAX));
        if let EnginePolicy::Auto { .. } = self.policy {
            self.policy = EnginePolicy::Auto {
                webcrypto_from: webcrypto_from.unwrap_or(usize::MAX),
            };
        }
    }

    /// Whether the crossover has been measured.
    pub fn calibrated(&self) -> bool {
        self.crossover.is_some()
    }

    /// Registers a transform's counters.
    pub fn add_transform(&mut self, id: u32, direction: Direction) {
        self.stats
            .entry(id)
            .or_insert((direction, TransformStats::default()));
    }

    /// A transform's counters, to count into.
    pub fn counters(&mut self, id: u32) -> &mut TransformStats {
        &mut self
            .stats
            .entry(id)
            .or_insert((Direction::Receive, TransformStats::default()))
            .1
    }

    /// Forgets transform `id`: a local track's KID is retired, a remote track's KIDs too.
    pub fn remove_transform(&mut self, id: u32) {
        if let Some(sender) = self.senders.remove(&id) {
            if let Some(decryptor) = self.decryptor.as_mut() {
                decryptor.release_local(sender.encryptor.kid());
            }
        }
        if let Some(decryptor) = self.decryptor.as_mut() {
            decryptor.forget_source(SourceId(u64::from(id)));
        }
        if let Some(epochs) = self.epochs.as_mut() {
            epochs.forget_source(SourceId(u64::from(id)));
        }
        self.stats.remove(&id);
        self.announced.remove(&id);
        self.requested.remove(&id);
    }

    /// Transform `id`'s counters with the decryptor's for it merged in.
    pub fn transform_stats(&self, id: u32) -> TransformStats {
        let mut stats = self.stats.get(&id).map(|s| s.1).unwrap_or_default();
        let source = match (&self.decryptor, &self.epochs) {
            (Some(decryptor), _) => Some(decryptor.stats(SourceId(u64::from(id)))),
            (None, Some(epochs)) => Some(epochs.stats(SourceId(u64::from(id)))),
            (None, None) => None,
        };
        if let Some(source) = source {
            stats.decrypted = source.decrypted;
            stats.bad_tag = source.bad_tag;
            stats.replay = source.replay;
            stats.unknown_format += source.unknown_format;
            stats.kid_collision = source.kid_collision;
            stats.retired = source.retired;
            stats.over_limit = source.over_limit;
            stats.unannounced = source.unannounced;
        }
        if let Some(epochs) = &self.epochs {
            stats.other_epoch = epochs.other_epoch(SourceId(u64::from(id)));
        }
        stats
    }

    /// Every transform's counters, the decryptor's merged in, as the page's `stats` message.
    pub fn report(&self) -> JsValue {
        let transforms = js_sys::Array::new();
        let mut ids: Vec<&u32> = self.stats.keys().collect();
        ids.sort();
        for id in ids {
            let direction = self.stats[id].0;
            transforms.push(&self.transform_stats(*id).to_js(*id, direction));
        }
        let message = super::messages::message("stats");
        let _ = js_sys::Reflect::set(&message, &"transforms".into(), &transforms);
        // Whether the engine crossover has been measured (the measurement allocates; tests
        // that count allocations wait for it).
        let _ = js_sys::Reflect::set(
            &message,
            &"calibrated".into(),
            &self.crossover.is_some().into(),
        );
        if let EnginePolicy::Auto { webcrypto_from } = self.policy {
            // Bytes from which frames go to WebCrypto (absent: never).
            if webcrypto_from != usize::MAX {
                let _ = js_sys::Reflect::set(
                    &message,
                    &"webcryptoFrom".into(),
                    &(webcrypto_from as f64).into(),
                );
            }
        }
        message.into()
    }
}
