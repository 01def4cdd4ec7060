//! Issue 18's library evaluation: the same MLS steps in `openmls` (RustCrypto provider) and
//! AWS's `mls-rs` (RustCrypto provider), behind one trait, so that the native benchmark
//! (`benches/mls.rs`, criterion) and the browser benchmark (`tests/browser.rs`, headless Chromium)
//! time exactly the same calls side by side. The figures and the decision are in `docs/mls.md`.
//!
//! Both use cipher suite 1 (`MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`), handshake messages
//! as PublicMessage (the relay orders them; they carry no secrets), the ratchet tree inside the
//! Welcome (no second fetch for a newcomer), empty basic credentials (the relay sees them: no
//! name, no device), and an external PSK that every commit adding a member must carry.
//!
//! This is an evaluation, not the app's code: errors are strings, and nothing here is reused.

#[cfg(feature = "mlsrs")]
pub mod mlsrs;
#[cfg(feature = "openmls")]
pub mod om;
pub mod report;
pub mod timing;

/// The external PSK's id and value in the evaluation (the app derives them from the link).
pub const PSK_ID: &[u8] = b"veilig/1 mls link psk";
/// The PSK's value in the evaluation.
pub const PSK: [u8; 32] = [7; 32];
/// RFC 9605 §5.2's exporter label.
pub const SFRAME_LABEL: &str = "SFrame 1.0 Base Key";

/// One library's answers to the steps the app needs.
pub trait Library {
    /// The library's name in reports.
    const NAME: &'static str;
    /// One member's state: its group, keys and storage.
    type Member;
    /// Someone who made a key package and waits for a Welcome.
    type Newcomer;

    /// A new participant that creates the meeting's group (signature key, credential, group).
    fn create() -> Self::Member;
    /// A new participant and its key package, serialized as on the wire.
    fn newcomer() -> (Self::Newcomer, Vec<u8>);
    /// A commit adding `key_packages` (with the PSK proposal if `psk`), and its Welcome, as on the
    /// wire. With `merge` the committer moves to the new epoch; without, the commit is discarded
    /// (for timing it again).
    fn add(
        member: &mut Self::Member,
        key_packages: &[Vec<u8>],
        psk: bool,
        merge: bool,
    ) -> Result<(Vec<u8>, Vec<u8>), String>;
    /// A commit removing the member at `leaf`, merged.
    fn remove(member: &mut Self::Member, leaf: u32) -> Result<Vec<u8>, String>;
    /// Processes (and applies) a commit from another member; refuses one that adds a member
    /// without the PSK.
    fn process(member: &mut Self::Member, commit: &[u8]) -> Result<(), String>;
    /// Joins from a Welcome (the PSK is known to the newcomer if `knows_psk`).
    fn join(newcomer: Self::Newcomer, welcome: &[u8]) -> Result<Self::Member, String>;
    /// A newcomer that does not know the PSK (it does not hold the link).
    fn newcomer_without_psk() -> (Self::Newcomer, Vec<u8>);
    /// An independent copy of a member's state, to time processing the same commit again.
    fn fork(member: &Self::Member) -> Self::Member;
    /// The current epoch.
    fn epoch(member: &Self::Member) -> u64;
    /// The epoch authenticator (for the safety code).
    fn authenticator(member: &Self::Member) -> Vec<u8>;
    /// RFC 9605 §5.2's base key: `MLS-Exporter("SFrame 1.0 Base Key", "", 16)`.
    fn sframe_base_key(member: &Self::Member) -> Vec<u8>;
    /// The member's own leaf index.
    fn leaf(member: &Self::Member) -> u32;
}

/// A group of `n` members made by one commit from the creator, each joined from the Welcome.
/// Returns the creator and the member at leaf 1 (the others are dropped: the measurements need
/// one committer and one receiver).
pub fn group_of<L: Library>(n: usize) -> Result<(L::Member, L::Member), String> {
    let mut creator = L::create();
    let (newcomers, kps): (Vec<_>, Vec<_>) = (1..n).map(|_| L::newcomer()).unzip();
    let (_, welcome) = L::add(&mut creator, &kps, true, true)?;
    let mut joined = None;
    for newcomer in newcomers {
        let member = L::join(newcomer, &welcome)?;
        if joined.is_none() {
            joined = Some(member);
        }
    }
    Ok((creator, joined.ok_or("n must be at least 2")?))
}

/// What the API-fit check found, per library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// The commit without the PSK was refused by the receiving member.
    pub refuses_add_without_psk: bool,
    /// A newcomer without the PSK could not join from a Welcome that used it.
    pub welcome_needs_psk: bool,
    /// Creator and joiner agree on epoch authenticator and exporter.
    pub agree: bool,
    /// The exporter and authenticator changed with the epoch.
    pub keys_change: bool,
    /// A removed member could not process the next commit.
    pub removed_is_out: bool,
}

/// Runs the API-fit scenario on three members.
pub fn fit<L: Library>() -> Result<Fit, String> {
    let (mut alice, mut bob) = group_of::<L>(2)?;
    let before = (L::authenticator(&alice), L::sframe_base_key(&alice));
    // Alice adds Carol without the PSK: Bob must refuse the commit.
    let (carol, kp) = L::newcomer();
    let (bad_commit, _) = L::add(&mut alice, &[kp], false, false)?;
    let refuses_add_without_psk = L::process(&mut L::fork(&bob), &bad_commit).is_err();
    // Alice adds Dave with the PSK, but Dave does not hold the link.
    let (dave, kp_dave) = L::newcomer_without_psk();
    let (_, welcome_dave) = L::add(&mut alice, &[kp_dave], true, false)?;
    let welcome_needs_psk = L::join(dave, &welcome_dave).is_err();
    drop(carol);
    // Alice adds Erin properly.
    let (erin, kp_erin) = L::newcomer();
    let (commit, welcome) = L::add(&mut alice, &[kp_erin], true, true)?;
    L::process(&mut bob, &commit)?;
    let erin = L::join(erin, &welcome)?;
    let agree = [&bob, &erin].iter().all(|m| {
        L::authenticator(m) == L::authenticator(&alice)
            && L::sframe_base_key(m) == L::sframe_base_key(&alice)
            && L::epoch(m) == L::epoch(&alice)
    });
    let keys_change =
        before.0 != L::authenticator(&alice) && before.1 != L::sframe_base_key(&alice);
    // Alice removes Bob; Bob cannot follow the next commit.
    let bob_leaf = L::leaf(&bob);
    let remove = L::remove(&mut alice, bob_leaf)?;
    let mut erin = erin;
    L::process(&mut erin, &remove)?;
    let (_frank, kp_frank) = L::newcomer();
    let (next, _) = L::add(&mut alice, &[kp_frank], true, true)?;
    L::process(&mut bob, &remove).ok();
    let removed_is_out = L::process(&mut bob, &next).is_err()
        && L::sframe_base_key(&bob) != L::sframe_base_key(&alice);
    Ok(Fit {
        refuses_add_without_psk,
        welcome_needs_psk,
        agree,
        keys_change,
        removed_is_out,
    })
}

/// The minimal flow the size builds export: create, add two members with the PSK, both join,
/// one leaves, the exporter and authenticator are read. Returns the epoch reached.
pub fn minimal_flow<L: Library>() -> Result<u64, String> {
    let (mut alice, mut bob) = group_of::<L>(2)?;
    let (carol, kp) = L::newcomer();
    let (commit, welcome) = L::add(&mut alice, &[kp], true, true)?;
    L::process(&mut bob, &commit)?;
    let carol = L::join(carol, &welcome)?;
    let remove = L::remove(&mut alice, L::leaf(&bob))?;
    let mut carol = carol;
    L::process(&mut carol, &remove)?;
    if L::sframe_base_key(&carol) != L::sframe_base_key(&alice)
        || L::authenticator(&carol) != L::authenticator(&alice)
    {
        return Err("members disagree".into());
    }
    Ok(L::epoch(&carol))
}

#[cfg(all(target_arch = "wasm32", feature = "openmls", not(feature = "mlsrs")))]
#[wasm_bindgen::prelude::wasm_bindgen]
/// The size build's one export (openmls alone).
pub fn run() -> f64 {
    minimal_flow::<om::OpenMls>().map_or(-1.0, |e| e as f64)
}

#[cfg(all(target_arch = "wasm32", feature = "mlsrs", not(feature = "openmls")))]
#[wasm_bindgen::prelude::wasm_bindgen]
/// The size build's one export (mls-rs alone).
pub fn run() -> f64 {
    minimal_flow::<mlsrs::MlsRs>().map_or(-1.0, |e| e as f64)
}

/// The SFrame core alone: a link's keys, one frame sealed and opened. The baseline of the
/// `veilig` size build.
#[cfg(feature = "e2ee")]
pub fn e2ee_flow(payload: &[u8]) -> usize {
    use veilig_e2ee::{Codec, FrameDecryptor, FrameEncryptor, InviteLink, Kid, RoomKeys, SourceId};
    let link = InviteLink::new("room", &[1; 16], false).expect("link");
    let keys = RoomKeys::derive(&link, None).expect("keys");
    let mut encryptor = FrameEncryptor::new(Default::default(), &keys.media, Kid(9));
    let mut decryptor = FrameDecryptor::new(Default::default(), &keys.media);
    let (mut wire, mut out) = (Vec::new(), Vec::new());
    encryptor.encrypt(Codec::Opus, payload, &mut wire).ok();
    decryptor
        .decrypt(SourceId(1), Codec::Opus, &wire, &mut out)
        .ok();
    out.len()
}

/// Veilig's MLS core: a meeting of three, a frame under the epoch's keys, a leave.
#[cfg(feature = "veilig")]
pub fn veilig_flow(payload: &[u8]) -> Result<usize, veilig_mls::Error> {
    use veilig_e2ee::{Codec, InviteLink, RoomKeys, SourceId};
    use veilig_mls::{Newcomer, Participant};
    let link = InviteLink::new("room", &[1; 16], false).expect("link");
    let psk = RoomKeys::derive(&link, None).expect("keys").mls_psk;
    let mut alice = Participant::create(&psk)?;
    let (bob, kp) = Newcomer::new(&psk)?;
    let (carol, kp2) = Newcomer::new(&psk)?;
    let out = alice.commit_add(&[&kp, &kp2])?;
    alice.apply_own()?;
    let tag = alice.link_tag()?;
    let welcome = out.welcome.unwrap_or_default();
    let bob = bob.join(&welcome, &tag)?;
    let mut carol = carol.join(&welcome, &tag)?;
    let leave = alice.commit_remove(&[bob.leaf()])?;
    alice.apply_own()?;
    carol.process(&leave.commit)?;
    let mut keys = alice.epoch_keys()?;
    let (mut wire, mut out) = (Vec::new(), Vec::new());
    keys.encryptor(0)?
        .encrypt(Codec::Opus, payload, &mut wire)
        .ok();
    carol
        .epoch_keys()?
        .decryptor()
        .decrypt(SourceId(1), Codec::Opus, &wire, &mut out)
        .ok();
    Ok(out.len() + e2ee_flow(payload))
}

#[cfg(all(target_arch = "wasm32", feature = "veilig", not(feature = "mlsrs")))]
#[wasm_bindgen::prelude::wasm_bindgen]
/// The size build's one export (Veilig's MLS core with the SFrame core).
pub fn run(payload: &[u8]) -> f64 {
    veilig_flow(payload).map_or(-1.0, |n| n as f64)
}

#[cfg(all(
    target_arch = "wasm32",
    feature = "e2ee",
    not(feature = "veilig"),
    not(feature = "mlsrs"),
    not(feature = "openmls")
))]
#[wasm_bindgen::prelude::wasm_bindgen]
/// The size build's one export (the SFrame core alone).
pub fn run(payload: &[u8]) -> f64 {
    e2ee_flow(payload) as f64
}
