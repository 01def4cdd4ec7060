//! What the three benchmarks share (`sframe.rs`: criterion; `paired_ratios.rs`: the ratios with
//! load cancelled out; `allocations.rs`: heap allocations per frame): the
//! frame sizes and layouts, one base key and KID, the `sframe` crate driven the cheapest correct
//! way its API allows, and the contenders as timed loops.
//!
//! Every contender uses AES_128_GCM_SHA256_128 on the same RustCrypto `aes-gcm` 0.11, so its
//! ratio to the bare AEAD is what its SFrame layer adds: header, nonce, AAD, copies, key lookup,
//! replay window. The bare AEAD runs out of place, from a fixed input into a preallocated output
//! of the same length, with a precomputed key and no associated data: the floor any SFrame
//! implementation stands on.
//!
//! Decryption needs fresh counters, because both receivers refuse a replayed one. A decryption
//! contender therefore walks a ring of frames pre-encrypted with rising counters and, before
//! each pass over it, untimed, gives its receiver a clean replay state and one warm-up frame:
//! what is timed is the steady state of a receiver that already holds the sender's key and has
//! grown its buffers. The bare AEAD walks a ring of the same size, so all contenders read their
//! input from the same depth of the cache.
//!
//! The `sframe` crate is driven through its view API, which writes into a caller-owned `Vec`
//! (`MediaFrameView::encrypt_into`, `EncryptedFrameView::validated_decrypt_into`), with the
//! room-wide receiver it offers: a `HashMap` of decryption keys by KID and a
//! `ReplayAttackProtectionStore` with the same 128-counter window as ours. That is the closest
//! match to what one [`FrameDecryptor`] does; it has no KID ownership or per-source counters.

#![allow(dead_code)] // each including target uses a different part

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Tag};

use sframe::frame::validation::{ReplayAttackProtectionStore, Tolerance};
use sframe::frame::{EncryptedFrameView, MediaFrameView, MonotonicCounter};
use sframe::header::KeyId;
use sframe::key::{DecryptionKey, EncryptionKey};
use veilig_e2ee::{BaseKey, CipherSuite, Codec, FrameDecryptor, FrameEncryptor, Kid, SourceId};

/// Plaintext frame sizes: an Opus packet, a small and a large delta frame, a key frame.
pub const SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];

/// A KID as production picks them: 64 random bits, so it takes 8 header bytes.
pub const KID: u64 = 0x9e37_79b9_7f4a_7c15;

/// The first counter used: 2^16, what a 30 fps track reaches after 36 minutes. Counters from
/// here to 2^24 take 3 header bytes, so every frame measured has the same 12-byte header.
pub const FIRST_CTR: u64 = 1 << 16;

/// The media base key (16 bytes, as the key schedule hands it out for AES-128-GCM).
pub const BASE_KEY: [u8; 16] = *b"veilig bench key";

/// The source all frames come from.
pub const SOURCE: SourceId = SourceId(1);

/// Whether `cargo bench` runs us (it passes `--bench`), rather than `cargo test --benches`, which
/// only needs to see that the benchmark works.
pub fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Every size, with a label for benchmark ids and tables.
pub fn sizes() -> impl Iterator<Item = (usize, String)> {
    SIZES.into_iter().map(|size| (size, size_label(size)))
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1_000 && s % 1_000 == 0 => format!("{} KB", s / 1_000),
        s => format!("{s} B"),
    }
}

/// How a frame is laid out for SFrame: everything encrypted, or a clear prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// VP9: no clear prefix, the whole frame is encrypted.
    NoPrefix,
    /// A VP8 delta frame: the 3-byte frame tag stays in the clear as SFrame metadata.
    Vp8Delta,
}

impl Layout {
    /// Both layouts.
    pub const ALL: [Layout; 2] = [Layout::NoPrefix, Layout::Vp8Delta];

    /// The codec our encryptor is told.
    pub fn codec(self) -> Codec {
        match self {
            Layout::NoPrefix => Codec::Vp9,
            Layout::Vp8Delta => Codec::Vp8,
        }
    }

    /// Bytes that stay in the clear; the `sframe` crate is told this directly.
    pub fn prefix_len(self) -> usize {
        match self {
            Layout::NoPrefix => 0,
            Layout::Vp8Delta => 3,
        }
    }

    /// Short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Layout::NoPrefix => "vp9",
            Layout::Vp8Delta => "vp8-delta",
        }
    }
}

/// A `size`-byte frame of pseudo-random bytes; for VP8 its first byte marks a delta frame.
pub fn frame(layout: Layout, size: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ size as u64;
    let mut bytes: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    if layout == Layout::Vp8Delta {
        // Bit 0 set: not a key frame, so the clear prefix is the 3-byte frame tag.
        bytes[0] |= 0x01;
    }
    bytes
}

/// Our encryptor for [`KID`], its next counter [`FIRST_CTR`].
pub fn our_encryptor() -> FrameEncryptor {
    let mut encryptor = FrameEncryptor::new(CipherSuite::Aes128GcmSha256, &base_key(), Kid(KID));
    encryptor.advance_counter_to(FIRST_CTR);
    encryptor
}

/// Our room decryptor, holding no key yet.
pub fn our_decryptor() -> FrameDecryptor {
    FrameDecryptor::new(CipherSuite::Aes128GcmSha256, &base_key())
}

fn base_key() -> BaseKey {
    BaseKey::new(&BASE_KEY)
}

const CRATE_SUITE: sframe::CipherSuite = sframe::CipherSuite::AesGcm128Sha256;
const REPLAY_WINDOW: usize = 128;

/// The `sframe` crate's sender: an encryption key and a counter, output into the caller's `Vec`.
pub struct CrateSender {
    key: EncryptionKey,
    counter: MonotonicCounter,
}

impl CrateSender {
    /// A sender for [`KID`], its next counter [`FIRST_CTR`].
    pub fn new() -> Self {
        CrateSender {
            key: EncryptionKey::derive_from(CRATE_SUITE, KID, BASE_KEY).expect("derive key"),
            counter: MonotonicCounter::with_start_value(FIRST_CTR, u64::MAX),
        }
    }

    /// Replaces `out` with `prefix ‖ header ‖ ciphertext ‖ tag`, the same layout as ours.
    pub fn encrypt(&mut self, layout: Layout, frame: &[u8], out: &mut Vec<u8>) {
        let (prefix, payload) = frame.split_at(layout.prefix_len());
        MediaFrameView::try_with_meta_data(&mut self.counter, payload, prefix)
            .expect("counter not exhausted")
            .encrypt_into(&self.key, out)
            .expect("encrypt");
    }
}

/// The `sframe` crate's room receiver: keys by KID and a replay window per KID.
pub struct CrateReceiver {
    keys: HashMap<KeyId, DecryptionKey>,
    replay: ReplayAttackProtectionStore,
}

impl CrateReceiver {
    /// A receiver that knows [`KID`]'s key (the crate has no derive-on-first-sight).
    pub fn new() -> Self {
        let key = DecryptionKey::derive_from(CRATE_SUITE, KID, BASE_KEY).expect("derive key");
        CrateReceiver {
            keys: HashMap::from([(KID, key)]),
            replay: ReplayAttackProtectionStore::new(Tolerance::new(REPLAY_WINDOW)),
        }
    }

    /// Forgets every counter seen, as a fresh receiver would, but keeps the keys.
    pub fn reset_replay(&mut self) {
        self.replay = ReplayAttackProtectionStore::new(Tolerance::new(REPLAY_WINDOW));
    }

    /// Replaces `out` with the frame `wire` carries, if it authenticates and is fresh.
    pub fn decrypt(
        &mut self,
        layout: Layout,
        wire: &[u8],
        out: &mut Vec<u8>,
    ) -> sframe::error::Result<()> {
        let (prefix, sframe) = wire.split_at(layout.prefix_len());
        EncryptedFrameView::try_with_meta_data(sframe, prefix)?.validated_decrypt_into(
            &self.keys,
            out,
            &mut self.replay,
        )?;
        Ok(())
    }
}

/// Encrypts the same frames with our encryptor and the `sframe` crate, from the same base key,
/// KID and counters, and panics unless the outputs are byte-identical and each side decrypts
/// the other's. Both claim RFC 9605, so a comparison of their speed is only fair if this holds.
pub fn assert_outputs_agree() {
    for layout in Layout::ALL {
        let mut ours = our_encryptor();
        let mut theirs = CrateSender::new();
        let mut our_receiver = our_decryptor();
        let mut their_receiver = CrateReceiver::new();
        let (mut our_wire, mut their_wire, mut plain) = (Vec::new(), Vec::new(), Vec::new());
        for size in SIZES {
            let frame = frame(layout, size);
            ours.encrypt(layout.codec(), &frame, &mut our_wire)
                .expect("our encrypt");
            theirs.encrypt(layout, &frame, &mut their_wire);
            assert!(
                our_wire == their_wire,
                "{layout:?} {size} B: our output differs from the sframe crate's"
            );
            our_receiver
                .decrypt(SOURCE, layout.codec(), &their_wire, &mut plain)
                .expect("we decrypt the sframe crate's frame");
            assert_eq!(plain, frame);
            their_receiver
                .decrypt(layout, &our_wire, &mut plain)
                .expect("the sframe crate decrypts our frame");
            assert_eq!(plain, frame);
        }
    }
}

/// One implementation at one size: a name, and a loop that times `n` frames (at most the ring
/// size it was built with) and returns how long they took, leaving any set-up untimed.
pub struct Contender {
    /// `veilig-vp9`, `sframe-crate-vp8-delta`, `aes-gcm`, ...
    pub name: String,
    /// Times `n` frames.
    pub time: Box<dyn FnMut(usize) -> Duration>,
}

impl Contender {
    fn new(name: impl Into<String>, time: impl FnMut(usize) -> Duration + 'static) -> Self {
        Contender {
            name: name.into(),
            time: Box::new(time),
        }
    }

    /// Times `iters` frames in passes of at most `ring` frames.
    pub fn time_in_passes(&mut self, iters: u64, ring: usize) -> Duration {
        let mut left = iters;
        let mut total = Duration::ZERO;
        while left > 0 {
            let n = left.min(ring as u64);
            total += (self.time)(n as usize);
            left -= n;
        }
        total
    }
}

type Nonce = aes_gcm::aead::Nonce<Aes128Gcm>;

fn bare_aead() -> Aes128Gcm {
    Aes128Gcm::new_from_slice(&[0x42; 16]).expect("16-byte key")
}

fn nonce(i: u64) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&i.to_be_bytes());
    Nonce::from(nonce)
}

/// Encryption of `size`-byte frames: ours and the `sframe` crate for each layout, then bare
/// AES-GCM.
pub fn encrypt_contenders(size: usize) -> Vec<Contender> {
    let mut contenders = Vec::new();
    for layout in Layout::ALL {
        let frame = frame(layout, size);
        let mut ours = our_encryptor();
        let mut out = Vec::new();
        let input = frame.clone();
        contenders.push(Contender::new(
            format!("veilig-{}", layout.name()),
            move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    ours.encrypt(layout.codec(), black_box(&input), &mut out)
                        .expect("encrypt");
                    black_box(&out);
                }
                start.elapsed()
            },
        ));

        let mut theirs = CrateSender::new();
        let mut out = Vec::new();
        contenders.push(Contender::new(
            format!("sframe-crate-{}", layout.name()),
            move |n| {
                let start = Instant::now();
                for _ in 0..n {
                    theirs.encrypt(layout, black_box(&frame), &mut out);
                    black_box(&out);
                }
                start.elapsed()
            },
        ));
    }

    let aead = bare_aead();
    let plaintext = frame(Layout::NoPrefix, size);
    let mut ciphertext = vec![0u8; size];
    let mut counter = 0u64;
    contenders.push(Contender::new("aes-gcm", move |n| {
        let start = Instant::now();
        for _ in 0..n {
            counter += 1;
            let buf = InOutBuf::new(black_box(&plaintext[..]), &mut ciphertext[..])
                .expect("equal lengths");
            let tag: Tag = aead
                .encrypt_inout_detached(&nonce(counter), &[], buf)
                .expect("encrypt");
            black_box((&ciphertext, tag));
        }
        start.elapsed()
    }));
    contenders
}

/// Decryption of `size`-byte frames, each contender walking a ring of `ring` frames: ours and
/// the `sframe` crate for each layout, then bare AES-GCM.
pub fn decrypt_contenders(size: usize, ring: usize) -> Vec<Contender> {
    let mut contenders = Vec::new();
    for layout in Layout::ALL {
        let frame = frame(layout, size);
        // Frame 0 warms a fresh receiver up; frames 1..=ring are timed.
        let mut sender = our_encryptor();
        let wires: Vec<Vec<u8>> = (0..=ring)
            .map(|_| {
                let mut wire = Vec::new();
                sender
                    .encrypt(layout.codec(), &frame, &mut wire)
                    .expect("encrypt");
                wire
            })
            .collect();
        let mut out = Vec::new();
        contenders.push(Contender::new(
            format!("veilig-{}", layout.name()),
            move |n| {
                let mut receiver = our_decryptor();
                receiver
                    .decrypt(SOURCE, layout.codec(), &wires[0], &mut out)
                    .expect("warm-up frame");
                let start = Instant::now();
                for wire in &wires[1..=n] {
                    receiver
                        .decrypt(SOURCE, layout.codec(), black_box(wire), &mut out)
                        .expect("decrypt");
                    black_box(&out);
                }
                start.elapsed()
            },
        ));

        let mut sender = CrateSender::new();
        let wires: Vec<Vec<u8>> = (0..=ring)
            .map(|_| {
                let mut wire = Vec::new();
                sender.encrypt(layout, &frame, &mut wire);
                wire
            })
            .collect();
        let mut receiver = CrateReceiver::new();
        let mut out = Vec::new();
        contenders.push(Contender::new(
            format!("sframe-crate-{}", layout.name()),
            move |n| {
                receiver.reset_replay();
                receiver
                    .decrypt(layout, &wires[0], &mut out)
                    .expect("warm-up frame");
                let start = Instant::now();
                for wire in &wires[1..=n] {
                    receiver
                        .decrypt(layout, black_box(wire), &mut out)
                        .expect("decrypt");
                    black_box(&out);
                }
                start.elapsed()
            },
        ));
    }

    let aead = bare_aead();
    let plaintext = frame(Layout::NoPrefix, size);
    let sealed: Vec<(Nonce, Vec<u8>, Tag)> = (0..ring as u64)
        .map(|i| {
            let mut ciphertext = plaintext.clone();
            let tag = aead
                .encrypt_inout_detached(&nonce(i), &[], ciphertext.as_mut_slice().into())
                .expect("encrypt");
            (nonce(i), ciphertext, tag)
        })
        .collect();
    let mut out = vec![0u8; size];
    contenders.push(Contender::new("aes-gcm", move |n| {
        let start = Instant::now();
        for (nonce, ciphertext, tag) in &sealed[..n] {
            let buf =
                InOutBuf::new(black_box(&ciphertext[..]), &mut out[..]).expect("equal lengths");
            aead.decrypt_inout_detached(nonce, &[], buf, tag)
                .expect("decrypt");
            black_box(&out);
        }
        start.elapsed()
    }));
    contenders
}
