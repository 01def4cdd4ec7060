//! `cargo bench` (in bench/mls-eval): openmls and mls-rs side by side at 25 members, with
//! criterion, then the same `report::measure` the browser test runs, as a table.

use criterion::{criterion_group, BatchSize, Criterion};
use mls_eval::{group_of, report, Library};
use std::hint::black_box;

const MEMBERS: usize = 25;

fn library<L: Library>(c: &mut Criterion) {
    let mut group = c.benchmark_group(L::NAME);
    group.sample_size(20);
    group.bench_function("create group", |b| b.iter(|| black_box(L::create())));
    group.bench_function("key package", |b| b.iter(|| black_box(L::newcomer())));
    let (mut creator, member) = group_of::<L>(MEMBERS - 1).expect("group");
    group.bench_function("commit adding the 25th", |b| {
        b.iter_batched(
            || L::newcomer().1,
            |kp| black_box(L::add(&mut creator, &[kp], true, false).expect("commit")),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("process that commit", |b| {
        let (_, kp) = L::newcomer();
        let (commit, _) = L::add(&mut creator, &[kp], true, false).expect("commit");
        b.iter_batched(
            || L::fork(&member),
            |mut receiver| L::process(&mut receiver, &commit).expect("process"),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("join from the Welcome", |b| {
        b.iter_batched(
            || {
                let (newcomer, kp) = L::newcomer();
                let (_, welcome) = L::add(&mut creator, &[kp], true, false).expect("commit");
                (newcomer, welcome)
            },
            |(newcomer, welcome)| black_box(L::join(newcomer, &welcome).expect("join")),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    library::<mls_eval::om::OpenMls>(c);
    library::<mls_eval::mlsrs::MlsRs>(c);
}

criterion_group!(mls, benches);

fn main() {
    mls();
    Criterion::default().configure_from_args().final_summary();
    let reports = [
        report::measure::<mls_eval::om::OpenMls>(MEMBERS, 21).expect("openmls"),
        report::measure::<mls_eval::mlsrs::MlsRs>(MEMBERS, 21).expect("mls-rs"),
    ];
    println!(
        "\nnative, medians of 21, {MEMBERS} members:\n{}",
        report::table(&reports)
    );
}
