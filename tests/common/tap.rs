//! Reading the relay's payload tap (`--features payload-tap`): every frame a browser sent the
//! relay, checked outside the browsers with nothing but the keys the invite link gives, every
//! frame of it (a failing frame is recorded and the checking goes on).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use base64ct::{Base64, Encoding};
use veilig_e2ee::receiver::DecryptorLimits;
use veilig_e2ee::{CipherSuite, Codec, FrameDecryptor, Header, RoomKeys, SourceId};
use veilig_mls::EpochKeys;

use super::{codec_rule, HarnessError};

/// The relay, started as [`super::app::start_relay`] does, with its payload tap writing to a
/// fresh file named after `test` in the temporary directory; returns the relay and the file.
pub async fn start_tapped_relay(test: &str) -> (veilig_relay::Relay, std::path::PathBuf) {
    let tap = std::env::temp_dir().join(format!("veilig-{test}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&tap);
    let tapped = tap.clone();
    let relay =
        super::app::start_relay_with(None, move |config| config.payload_tap = Some(tapped)).await;
    (relay, tap)
}

/// What the tap shows, once every frame is checked.
#[derive(Debug, Default)]
pub struct TapReport {
    /// Frames in the tap.
    pub frames: usize,
    /// Frames that decrypted, per (sender, kind).
    pub decrypted: BTreeMap<(String, String), usize>,
    /// KIDs per sender.
    pub kids: BTreeMap<String, HashSet<u64>>,
    /// In an MLS meeting: frames that decrypted, per epoch.
    pub epochs: BTreeMap<u64, usize>,
    /// In an MLS meeting: per sender, the epochs of its frames in the order the relay got them.
    pub epoch_order: BTreeMap<String, Vec<u64>>,
    /// Frames sent on lines that were not the sender's upstream slots (a lying relay's
    /// relabelled lines): each of them was checked like any other.
    pub stray: usize,
    /// Every frame that failed a check, and why: checking goes on past the first failure, so
    /// a test can say "not one frame opens" as well as "every frame opens".
    pub failures: Vec<String>,
}

impl TapReport {
    /// Frames that decrypted, all senders and kinds together.
    pub fn opened(&self) -> usize {
        self.decrypted.values().sum()
    }
}

/// Reads the tap at `path` and checks every frame against `keys`; fails unless every frame
/// passed (see [`read_tap`] for the checks).
pub fn check_tap(path: &Path, keys: &RoomKeys) -> Result<TapReport, HarnessError> {
    every_frame_passed(read_tap(path, keys)?)
}

/// `report`, if not one of its frames failed; else the first failures.
fn every_frame_passed(report: TapReport) -> Result<TapReport, HarnessError> {
    crate::ensure!(
        report.failures.is_empty(),
        "{} of {} tapped frames failed; the first: {:?}",
        report.failures.len(),
        report.frames,
        &report.failures[..report.failures.len().min(5)]
    );
    Ok(report)
}

/// Reads the tap at `path` and checks every frame against `keys`, all of them, recording each
/// failure: our layout with the clear prefix the codec rule allows (`codec_rule.rs`, not the
/// app's own count), authentic, no (KID, counter) twice, and no run of 15 bytes of the decrypted
/// frame past that prefix anywhere in what was forwarded. Fails only if the tap cannot be read
/// or holds no frame.
pub fn read_tap(path: &Path, keys: &RoomKeys) -> Result<TapReport, HarnessError> {
    // The relay's whole record, not one browser's view: a flood of KIDs (the hostile test's)
    // is checked frame by frame too, so no KID limit applies here.
    let decryptor = FrameDecryptor::with_limits(
        CipherSuite::default(),
        &keys.media,
        DecryptorLimits {
            live_per_source: 1 << 20,
            kids_per_source: 1 << 20,
            max_sources: 1 << 20,
            max_kids: 1 << 20,
        },
    );
    read_with(path, Opener::Link(Box::new(decryptor)))
}

/// [`check_tap`] in an MLS meeting, with the keys of the epochs a member held (each epoch's
/// frames open under that epoch's RFC 9605 §5.2 keys): fails unless every frame passed.
pub fn check_tap_epochs(path: &Path, epochs: &[EpochKeys]) -> Result<TapReport, HarnessError> {
    every_frame_passed(read_tap_epochs(path, epochs)?)
}

/// [`read_tap`] in an MLS meeting: a frame opens only under the keys of the epoch its KID
/// names, and only if that epoch is one of `epochs` (what a member held).
pub fn read_tap_epochs(path: &Path, epochs: &[EpochKeys]) -> Result<TapReport, HarnessError> {
    let epochs = epochs.iter().map(|keys| (keys, keys.decryptor())).collect();
    read_with(path, Opener::Epochs(epochs))
}

fn read_with(path: &Path, opener: Opener<'_>) -> Result<TapReport, HarnessError> {
    let text = std::fs::read_to_string(path)?;
    let mut checker = Checker {
        opener,
        sources: HashMap::new(),
        used: HashSet::new(),
        plain: Vec::new(),
    };
    let mut report = TapReport::default();
    for (number, line) in text.lines().enumerate() {
        report.frames += 1;
        if let Err(why) = checker.frame(line, &mut report) {
            report.failures.push(format!("tap line {number}: {why}"));
        }
    }
    crate::ensure!(report.frames > 0, "the tap recorded no frames");
    Ok(report)
}

/// What opens the frames: the link's media key, or the keys of MLS epochs.
enum Opener<'a> {
    Link(Box<FrameDecryptor>),
    Epochs(Vec<(&'a EpochKeys, FrameDecryptor)>),
}

impl Opener<'_> {
    /// Decrypts `payload` into `out`; returns its header and, in an MLS meeting, its epoch.
    fn open(
        &mut self,
        source: SourceId,
        codec: Codec,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(Header, Option<u64>), String> {
        match self {
            Opener::Link(decryptor) => match decryptor.decrypt(source, codec, payload, out) {
                Ok(Some(header)) => Ok((header, None)),
                other => Err(format!("{other:?}")),
            },
            Opener::Epochs(epochs) => {
                let prefix = codec.clear_prefix_len(payload).map_err(|e| e.to_string())?;
                let (header, _) = Header::parse(&payload[prefix..]).map_err(|e| e.to_string())?;
                let (keys, decryptor) = epochs
                    .iter_mut()
                    .find(|(keys, _)| keys.sender_of(header.kid).is_some())
                    .ok_or("no epoch held names its KID as a member's")?;
                match decryptor.decrypt(source, codec, payload, out) {
                    Ok(Some(opened)) => Ok((opened, Some(keys.epoch()))),
                    other => Err(format!("epoch {}: {other:?}", keys.epoch())),
                }
            }
        }
    }
}

/// The state kept across the tap's frames.
struct Checker<'a> {
    opener: Opener<'a>,
    sources: HashMap<(String, String), SourceId>,
    /// (epoch, KID, counter): KIDs repeat across MLS epochs, under other keys.
    used: HashSet<(Option<u64>, u64, u64)>,
    plain: Vec<u8>,
}

/// The plaintext is searched for in pieces of this many bytes, at every eighth offset past the
/// prefix: a run of 15 clear bytes or more anywhere in the frame holds one of them whole. Long
/// enough that ciphertext cannot match one by chance (2^-64 per place).
const PIECE: usize = 8;

impl Checker<'_> {
    /// Checks one tap line; counts it in `report` if it decrypts.
    fn frame(&mut self, line: &str, report: &mut TapReport) -> Result<(), String> {
        let line: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let field = |name: &str| line[name].as_str().unwrap_or_default().to_owned();
        let (sender, kind, mime) = (field("sender"), field("kind"), field("codec"));
        if line["stray"].as_bool() == Some(true) {
            report.stray += 1;
        }
        let codec = Codec::from_mime_type(&mime).ok_or(format!("codec {line}"))?;
        let payload = Base64::decode_vec(&field("payload")).map_err(|e| format!("base64: {e}"))?;
        let rule = codec_rule::clear_prefix(&mime, &payload)
            .ok_or(format!("a {mime} frame the codec rule cannot place"))?;
        let prefix = codec
            .clear_prefix_len(&payload)
            .map_err(|e| format!("prefix: {e}"))?;
        if prefix != rule {
            return Err(format!(
                "a {mime} frame with {prefix} bytes in the clear; the codec rule allows {rule}"
            ));
        }
        let (header, header_len) =
            Header::parse(&payload[prefix..]).map_err(|e| format!("no SFrame header: {e}"))?;
        let next = self.sources.len() as u64;
        let source = *self
            .sources
            .entry((sender.clone(), kind.clone()))
            .or_insert(SourceId(next));
        let epoch = match self.opener.open(source, codec, &payload, &mut self.plain) {
            Ok((opened, epoch)) if opened == header => epoch,
            other => {
                return Err(format!(
                    "{kind} from {sender} does not decrypt with these keys: {other:?}"
                ))
            }
        };
        if !self.used.insert((epoch, header.kid.0, header.ctr.0)) {
            return Err(format!(
                "KID {} counter {} used twice (epoch {epoch:?})",
                header.kid.0, header.ctr.0
            ));
        }
        if let Some(epoch) = epoch {
            *report.epochs.entry(epoch).or_default() += 1;
            report
                .epoch_order
                .entry(sender.clone())
                .or_default()
                .push(epoch);
        }
        // Past the prefix, not one run of the decrypted frame was forwarded. (The header's own
        // bytes are left out of the search: they are not ciphertext.)
        let header_at = prefix..prefix + header_len;
        let body = &self.plain[rule.min(self.plain.len())..];
        if let Some(at) = first_carried(body, &payload, rule, header_at) {
            return Err(format!(
                "{kind} from {sender}: plaintext from byte {at} was forwarded in the clear"
            ));
        }
        *report.decrypted.entry((sender.clone(), kind)).or_default() += 1;
        report.kids.entry(sender).or_default().insert(header.kid.0);
        Ok(())
    }
}

/// Where in `payload` (past `from`, outside `header`) a piece of `body` appears whole, if
/// anywhere. Every offset of the payload is tried; a 65,536-bit filter on each piece's first
/// two bytes keeps that fast in an unoptimised test build.
fn first_carried(
    body: &[u8],
    payload: &[u8],
    from: usize,
    header: std::ops::Range<usize>,
) -> Option<usize> {
    let mut pieces: Vec<&[u8]> = body.chunks_exact(PIECE).collect();
    if pieces.is_empty() {
        return None;
    }
    pieces.sort_unstable();
    let mut filter = vec![0u64; 1024];
    let slot = |piece: &[u8]| usize::from(u16::from_be_bytes([piece[0], piece[1]]));
    for piece in &pieces {
        let at = slot(piece);
        filter[at / 64] |= 1 << (at % 64);
    }
    (from..payload.len().saturating_sub(PIECE - 1))
        .filter(|at| !(header.contains(at) && at + PIECE <= header.end))
        .find(|&at| {
            let window = &payload[at..at + PIECE];
            let s = slot(window);
            filter[s / 64] & (1 << (s % 64)) != 0 && pieces.binary_search(&window).is_ok()
        })
}
