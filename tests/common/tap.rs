//! Reading the relay's payload tap (`--features payload-tap`): every frame a browser sent the
//! relay, checked outside the browsers with nothing but the keys the invite link gives.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use base64ct::{Base64, Encoding};
use veilig_e2ee::{CipherSuite, Codec, FrameDecryptor, Header, RoomKeys, SourceId};

use super::HarnessError;

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
    /// Frames that decrypted, per (sender, kind).
    pub decrypted: BTreeMap<(String, String), usize>,
    /// KIDs per sender.
    pub kids: BTreeMap<String, HashSet<u64>>,
    /// Frames sent on lines that were not the sender's upstream slots (a lying relay's
    /// relabelled lines): each of them was checked like any other.
    pub stray: usize,
}

/// Reads the tap at `path` and checks every frame against `keys`: our layout, authentic,
/// ciphertext different from the plaintext, and no (KID, counter) twice.
pub fn check_tap(path: &Path, keys: &RoomKeys) -> Result<TapReport, HarnessError> {
    let text = std::fs::read_to_string(path)?;
    let mut decryptor = FrameDecryptor::new(CipherSuite::default(), &keys.media);
    let mut sources: HashMap<(String, String), SourceId> = HashMap::new();
    let mut used: HashSet<(u64, u64)> = HashSet::new();
    let mut report = TapReport::default();
    let mut plain = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| HarnessError::Check(format!("tap line {number}: {e}")))?;
        let field = |name: &str| line[name].as_str().unwrap_or_default().to_owned();
        let (sender, kind) = (field("sender"), field("kind"));
        if line["stray"].as_bool() == Some(true) {
            report.stray += 1;
        }
        let codec = Codec::from_mime_type(&field("codec"))
            .ok_or_else(|| HarnessError::Check(format!("tap line {number}: codec {line}")))?;
        let payload = Base64::decode_vec(&field("payload"))
            .map_err(|e| HarnessError::Check(format!("tap line {number}: base64: {e}")))?;
        let prefix = codec
            .clear_prefix_len(&payload)
            .map_err(|e| HarnessError::Check(format!("tap line {number}: prefix: {e}")))?;
        let (header, header_len) = Header::parse(&payload[prefix..]).map_err(|e| {
            HarnessError::Check(format!("tap line {number}: no SFrame header: {e}"))
        })?;
        crate::ensure!(
            used.insert((header.kid.0, header.ctr.0)),
            "tap line {number}: KID {} counter {} used twice",
            header.kid.0,
            header.ctr.0
        );
        let next = sources.len() as u64;
        let source = *sources
            .entry((sender.clone(), kind.clone()))
            .or_insert(SourceId(next));
        let opened = decryptor.decrypt(source, codec, &payload, &mut plain);
        crate::ensure!(
            matches!(opened, Ok(Some(h)) if h == header),
            "tap line {number} ({kind} from {sender}) does not decrypt with the link's key: {opened:?}"
        );
        // What was encrypted is not what was forwarded (checked where a chance match of a
        // few bytes cannot happen).
        let (body, clear) = (&payload[prefix + header_len..], &plain[prefix..]);
        crate::ensure!(
            clear.len() < 8 || body[..clear.len()] != *clear,
            "tap line {number}: the plaintext was forwarded"
        );
        *report.decrypted.entry((sender.clone(), kind)).or_default() += 1;
        report.kids.entry(sender).or_default().insert(header.kid.0);
    }
    crate::ensure!(!used.is_empty(), "the tap recorded no frames");
    Ok(report)
}
