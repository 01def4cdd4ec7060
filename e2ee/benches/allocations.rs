//! Heap allocations per frame, ours against the `sframe` crate, in the steady state: after one
//! warm-up frame per size has grown the buffers and derived the keys, encrypt and decrypt
//! [`FRAMES`] frames of each size and count what the global allocator is asked for.
//!
//! ```text
//! cargo bench -p veilig-e2ee --bench allocations
//! ```
//!
//! Where the `sframe` crate (2.1.0) allocates: its view API twice per *decrypted* frame, 8 bytes
//! each, because its header parser collects each extended field (a KID or counter of 8 or more)
//! into a `Vec` (`VariableLengthField::from_sized_iter`); its owning API additionally copies
//! every frame into a fresh `Vec` both ways.
//!
//! Also prints SFrame's bytes of overhead per frame for a 64-bit KID as the counter grows, and
//! checks first that both implementations produce byte-identical frames.

mod common;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sframe::frame::{EncryptedFrame, MediaFrame, MonotonicCounter};
use sframe::key::{DecryptionKey, EncryptionKey};
use veilig_e2ee::header::{Counter, Header, Kid};
use veilig_e2ee::sframe::overhead;

use common::{
    frame, our_decryptor, our_encryptor, sizes, CrateReceiver, CrateSender, Layout, BASE_KEY,
    FIRST_CTR, KID, SOURCE,
};

/// Frames counted per size, layout and implementation.
const FRAMES: usize = 1_000;

struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls and requested bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocation calls and bytes requested while `step` runs `frames` times.
#[derive(Clone, Copy, Default)]
struct Count {
    calls: usize,
    bytes: usize,
    frames: usize,
}

impl Count {
    fn of(frames: usize, mut step: impl FnMut()) -> Count {
        let (calls, bytes) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
        for _ in 0..frames {
            step();
        }
        Count {
            calls: CALLS.load(Ordering::Relaxed) - calls,
            bytes: BYTES.load(Ordering::Relaxed) - bytes,
            frames,
        }
    }

    fn add(self, other: Count) -> Count {
        Count {
            calls: self.calls + other.calls,
            bytes: self.bytes + other.bytes,
            frames: self.frames + other.frames,
        }
    }

    /// `allocations/frame | bytes/frame`, as table cells.
    fn cells(self) -> String {
        let per_frame = |n: usize| n as f64 / self.frames as f64;
        format!("{} | {}", per_frame(self.calls), per_frame(self.bytes))
    }
}

fn main() {
    common::assert_outputs_agree();
    println!("byte-identical to the sframe crate (same base key, KID, counter): yes\n");

    println!("| implementation | layout | size | encrypt allocs/frame | encrypt bytes/frame | decrypt allocs/frame | decrypt bytes/frame |");
    println!("|---|---|---|---|---|---|---|");
    for layout in Layout::ALL {
        for (size, label) in sizes() {
            let frame = frame(layout, size);
            let row = |name: &str, enc: Count, dec: Count| {
                println!(
                    "| {name} | {} | {label} | {} | {} |",
                    layout.name(),
                    enc.cells(),
                    dec.cells()
                );
            };

            // Ours. Warm-up: one frame each way grows `wire` and `plain` and derives the key.
            let mut sender = our_encryptor();
            let mut receiver = our_decryptor();
            let (mut wire, mut plain) = (Vec::new(), Vec::new());
            let mut round_trip = |wire: &mut Vec<u8>, plain: &mut Vec<u8>| {
                sender.encrypt(layout.codec(), &frame, wire).unwrap();
                receiver
                    .decrypt(SOURCE, layout.codec(), wire, plain)
                    .unwrap();
            };
            round_trip(&mut wire, &mut plain);
            let enc = Count::of(FRAMES, || {
                sender.encrypt(layout.codec(), &frame, &mut wire).unwrap();
            });
            // Decrypting needs fresh counters: encrypt outside the count, decrypt inside it.
            let mut dec = Count::default();
            for _ in 0..FRAMES {
                sender.encrypt(layout.codec(), &frame, &mut wire).unwrap();
                dec = dec.add(Count::of(1, || {
                    receiver
                        .decrypt(SOURCE, layout.codec(), &wire, &mut plain)
                        .unwrap();
                }));
            }
            assert_eq!(plain, frame);
            row("veilig", enc, dec);

            // The sframe crate's view API into reused buffers, as in the benchmark.
            let mut sender = CrateSender::new();
            let mut receiver = CrateReceiver::new();
            sender.encrypt(layout, &frame, &mut wire);
            receiver.decrypt(layout, &wire, &mut plain).unwrap();
            let enc = Count::of(FRAMES, || sender.encrypt(layout, &frame, &mut wire));
            let mut dec = Count::default();
            for _ in 0..FRAMES {
                sender.encrypt(layout, &frame, &mut wire);
                dec = dec.add(Count::of(1, || {
                    receiver.decrypt(layout, &wire, &mut plain).unwrap();
                }));
            }
            assert_eq!(plain, frame);
            row("sframe crate, view API", enc, dec);

            // The sframe crate's owning API (`MediaFrame::encrypt`, `EncryptedFrame::decrypt`),
            // for comparison: what a caller gets without the view API.
            let suite = sframe::CipherSuite::AesGcm128Sha256;
            let enc_key = EncryptionKey::derive_from(suite, KID, BASE_KEY).unwrap();
            let dec_key = DecryptionKey::derive_from(suite, KID, BASE_KEY).unwrap();
            let mut counter = MonotonicCounter::with_start_value(FIRST_CTR, u64::MAX);
            let (prefix, payload) = frame.split_at(layout.prefix_len());
            let mut encrypted = None;
            let enc = Count::of(FRAMES, || {
                let media = MediaFrame::try_with_meta_data(&mut counter, payload, prefix).unwrap();
                encrypted = Some(media.encrypt(&enc_key).unwrap());
            });
            let encrypted = encrypted.expect("encrypted a frame");
            let wire = encrypted.as_ref();
            let dec = Count::of(FRAMES, || {
                let received = EncryptedFrame::try_with_meta_data(
                    &wire[layout.prefix_len()..],
                    &wire[..layout.prefix_len()],
                )
                .unwrap();
                std::hint::black_box(received.decrypt(&dec_key).unwrap());
            });
            row("sframe crate, owning API", enc, dec);
        }
    }

    println!("\nSFrame overhead per frame, 64-bit random KID (8 bytes):");
    println!("| counter | header bytes | + tag | total |");
    println!("|---|---|---|---|");
    for ctr in [0u64, 7, 8, 255, 256, 65_535, 65_536, (1 << 24) - 1, 1 << 24] {
        let header = Header::new(Kid(KID), Counter(ctr));
        println!(
            "| {ctr} | {} | 16 | {} |",
            header.encoded_len(),
            overhead(&header)
        );
    }
}
