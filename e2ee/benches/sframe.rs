//! Per-frame cost of SFrame: our `FrameEncryptor`/`FrameDecryptor`, the `sframe` crate (2.1,
//! RustCrypto backend) and bare AES-128-GCM, side by side at 100 B, 1 KB, 10 KB and 100 KB.
//!
//! ```text
//! cargo bench -p veilig-e2ee --bench sframe
//! ```
//!
//! What each contender does, and how decryption gets fresh counters, is described in
//! `common/mod.rs`. Criterion measures the contenders one after the other, so on a shared
//! machine a burst of load can land on one and not the next; `paired_ratios.rs`
//! interleaves them to measure the ratios alone.
//!
//! Before measuring, the benchmark checks that our output and the `sframe` crate's are
//! byte-identical for the same key, KID and counters, and that each decrypts the other's.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};

use common::{decrypt_contenders, encrypt_contenders, sizes, Contender};

/// Frames pre-encrypted per decryption pass: enough that the untimed reset between passes is
/// rare, few enough that 100 KB frames (3.2 MB) stay in the cache.
const RING: usize = 32;

fn main() {
    common::assert_outputs_agree();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    measure(&mut criterion, "encrypt", encrypt_contenders);
    measure(&mut criterion, "decrypt", |size| {
        decrypt_contenders(size, RING)
    });
    criterion.final_summary();
}

/// One criterion group per operation, every contender at every size, throughput in plaintext
/// bytes.
fn measure(
    criterion: &mut Criterion,
    operation: &str,
    contenders: impl Fn(usize) -> Vec<Contender>,
) {
    let mut group = criterion.benchmark_group(operation);
    for (size, label) in sizes() {
        group.throughput(Throughput::Bytes(size as u64));
        for mut contender in contenders(size) {
            group.bench_function(BenchmarkId::new(&contender.name, &label), |b| {
                b.iter_custom(|iters| contender.time_in_passes(iters, RING))
            });
        }
    }
    group.finish();
}
