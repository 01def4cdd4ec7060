//! The measurements of issue 18, the same code natively and in the browser: medians of
//! `samples` runs, each timed alone around one call, with its setup outside the timing.

use crate::timing::{median, now_ms};
use crate::{group_of, Library};

/// One library's figures at `members` members (times in ms, sizes in bytes).
#[derive(Debug, Clone)]
pub struct Report {
    /// The library.
    pub name: &'static str,
    /// Group size after the measured add.
    pub members: usize,
    /// The first `create()` in this process or page (cold caches, lazy statics).
    pub first_create_ms: f64,
    /// Median of `create()`: signature key, credential, group.
    pub create_ms: f64,
    /// Median of making a key package (a newcomer's first step).
    pub key_package_ms: f64,
    /// Median of the commit adding the last member (with the PSK), by the creator.
    pub commit_ms: f64,
    /// Median of another member processing and applying that commit.
    pub process_ms: f64,
    /// Median of the newcomer joining from the Welcome.
    pub welcome_ms: f64,
    /// Sizes on the wire.
    pub commit_bytes: usize,
    /// The Welcome (with the ratchet tree inside).
    pub welcome_bytes: usize,
    /// A key package.
    pub key_package_bytes: usize,
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = now_ms();
    let out = f();
    (now_ms() - start, out)
}

/// Measures `L` at `members` members with `samples` samples per figure.
pub fn measure<L: Library>(members: usize, samples: usize) -> Result<Report, String> {
    let (first_create_ms, _) = time(L::create);
    let mut create = Vec::new();
    let mut kp = Vec::new();
    for _ in 0..samples {
        create.push(time(L::create).0);
        kp.push(time(L::newcomer).0);
    }
    let (mut creator, member) = group_of::<L>(members - 1)?;
    let (mut commit_t, mut process_t, mut welcome_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut sizes = (0, 0, 0);
    for _ in 0..samples {
        let (newcomer, key_package) = L::newcomer();
        let (t, out) = time(|| {
            L::add(
                &mut creator,
                std::slice::from_ref(&key_package),
                true,
                false,
            )
        });
        let (commit, welcome) = out?;
        commit_t.push(t);
        sizes = (commit.len(), welcome.len(), key_package.len());
        let mut receiver = L::fork(&member);
        let (t, out) = time(|| L::process(&mut receiver, &commit));
        out?;
        process_t.push(t);
        let (t, out) = time(|| L::join(newcomer, &welcome));
        let joined = out?;
        welcome_t.push(t);
        if L::authenticator(&joined) != L::authenticator(&receiver) {
            return Err(format!("{}: newcomer and member disagree", L::NAME));
        }
    }
    Ok(Report {
        name: L::NAME,
        members,
        first_create_ms,
        create_ms: median(&mut create),
        key_package_ms: median(&mut kp),
        commit_ms: median(&mut commit_t),
        process_ms: median(&mut process_t),
        welcome_ms: median(&mut welcome_t),
        commit_bytes: sizes.0,
        welcome_bytes: sizes.1,
        key_package_bytes: sizes.2,
    })
}

/// The reports as a Markdown table, with mls-rs / openmls ratios when both are there.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| library | first create (ms) | create | key package | commit (add 25th) | process commit | join from Welcome | commit B | Welcome B | key package B |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {:.2} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} |\n",
            r.name,
            r.first_create_ms,
            r.create_ms,
            r.key_package_ms,
            r.commit_ms,
            r.process_ms,
            r.welcome_ms,
            r.commit_bytes,
            r.welcome_bytes,
            r.key_package_bytes
        ));
    }
    if let [a, b] = reports {
        out.push_str(&format!(
            "| {} / {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            b.name,
            a.name,
            b.first_create_ms / a.first_create_ms,
            b.create_ms / a.create_ms,
            b.key_package_ms / a.key_package_ms,
            b.commit_ms / a.commit_ms,
            b.process_ms / a.process_ms,
            b.welcome_ms / a.welcome_ms,
            b.commit_bytes as f64 / a.commit_bytes as f64,
            b.welcome_bytes as f64 / a.welcome_bytes as f64,
            b.key_package_bytes as f64 / a.key_package_bytes as f64,
        ));
    }
    out
}
