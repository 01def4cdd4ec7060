//! The worker's keys and counters, shared by all its transforms: the room's decryptor, one
//! encryptor per local track, the WebCrypto copies of those keys, and per-transform counters.
//!
//! One per worker, behind `Rc<RefCell<_>>`: transforms run one frame at a time on the worker's
//! single thread and never hold the borrow across a call out to JavaScript that could re-enter.
//!
//! Key changes (a `key` message) start a new *generation*: all encryptors get fresh KIDs, the
//! decryptor starts over, and a WebCrypto import that finishes for an older generation is
//! thrown away.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use veilig_e2ee::suite::KeyMaterial;
use veilig_e2ee::{BaseKey, CipherSuite, Counter, FrameDecryptor, FrameEncryptor, Kid, SourceId};
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
        }))
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
            let base = BaseKey::new(key);
            ring.generation += 1;
            ring.policy = match (policy, ring.crossover) {
                (EnginePolicy::Auto { .. }, Some(webcrypto_from)) => {
                    EnginePolicy::Auto { webcrypto_from }
                }
                _ => policy,
            };
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

    /// Gives local track `id` an encryptor under the KID the page chose for it, or else a fresh
    /// random one, if there is a key.
    pub fn add_sender(shared: &SharedKeyring, id: u32) {
        let (raw, generation, kid) = {
            let mut ring = shared.borrow_mut();
            let Some(base) = ring.base.clone() else {
                return;
            };
            let suite = ring.suite;
            // The page's choice (it announced it), if no one uses it yet; else a fresh random
            // KID that nobody in the room uses yet: a repeat among 2^64 values is next to
            // impossible, but `claim_local` makes sure.
            let requested = ring.requested.get(&id).copied();
            let Some(decryptor) = ring.decryptor.as_mut() else {
                return;
            };
            let kid = match requested {
                Some(kid) if decryptor.claim_local(kid).is_ok() => kid,
                _ => loop {
                    let Ok(candidate) = webcrypto::random_u64() else {
                        return;
                    };
                    if decryptor.claim_local(Kid(candidate)).is_ok() {
                        break Kid(candidate);
                    }
                },
            };
            let encryptor = FrameEncryptor::new(suite, &base, kid);
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
            let Some(decryptor) = ring.decryptor.as_ref() else {
                return;
            };
            if ring.remote.contains_key(&kid) || !decryptor.knows_remote(kid) {
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
        self.stats.remove(&id);
        self.announced.remove(&id);
        self.requested.remove(&id);
    }

    /// Transform `id`'s counters with the decryptor's for it merged in.
    pub fn transform_stats(&self, id: u32) -> TransformStats {
        let mut stats = self.stats.get(&id).map(|s| s.1).unwrap_or_default();
        if let Some(decryptor) = &self.decryptor {
            let source = decryptor.stats(SourceId(u64::from(id)));
            stats.decrypted = source.decrypted;
            stats.bad_tag = source.bad_tag;
            stats.replay = source.replay;
            stats.unknown_format += source.unknown_format;
            stats.kid_collision = source.kid_collision;
            stats.retired = source.retired;
            stats.over_limit = source.over_limit;
            stats.unannounced = source.unannounced;
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
