//! The steady state allocates nothing: once the output buffers have grown to the largest frame
//! and every sender's key is derived, encrypting and decrypting a frame makes no heap
//! allocation. Counted with a global allocator, on the test's own thread only (the test
//! harness allocates on its threads meanwhile), so this file holds a single test.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::frames::every_codec;
use veilig_e2ee::{BaseKey, CipherSuite, FrameDecryptor, FrameEncryptor, Kid, SourceId};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are counted. Const-initialised: reading it never
    /// allocates, which matters inside an allocator.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(std::cell::Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn encrypting_and_decrypting_frames_allocates_nothing_in_the_steady_state() {
    let base = BaseKey::new(&[7; 32]);
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &base, Kid(0x0123_4567_89ab_cdef));
    let mut receiver = FrameDecryptor::new(suite, &base);
    let frames: Vec<_> = [100, 1_000, 10_000, 100_000]
        .into_iter()
        .flat_map(every_codec)
        .collect();
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    let mut round = |sender: &mut FrameEncryptor, receiver: &mut FrameDecryptor| {
        for (codec, frame, _) in &frames {
            sender.encrypt(*codec, frame, &mut wire).unwrap();
            receiver
                .decrypt(SourceId(1), *codec, &wire, &mut plain)
                .unwrap();
            assert_eq!(&plain, frame);
        }
    };
    round(&mut sender, &mut receiver); // warm-up: buffers grow, the key is derived
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|counting| counting.set(true));
    for _ in 0..20 {
        round(&mut sender, &mut receiver);
    }
    COUNTING.with(|counting| counting.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocations,
        0,
        "{allocations} allocations for {} frames",
        20 * frames.len()
    );
}
