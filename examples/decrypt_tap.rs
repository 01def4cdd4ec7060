//! Decrypts a relay payload tap with nothing but the invite link (and passphrase): the check
//! anyone can run on the evidence `tests/proof.rs` leaves in `target/proofs/`.
//!
//! ```sh
//! cargo run --example decrypt_tap -- target/proofs/meeting.json
//! ```
//!
//! `meeting.json` names the link, the passphrase and the tap file (JSON lines, one per
//! forwarded frame: see `docs/design.md`, "Payload tap"). Every frame is split into the codec's clear
//! prefix, the SFrame header and the ciphertext, and decrypted with the media key derived from
//! the link (README, "Key schedule"). Decrypted video goes to one IVF file per sender
//! (`<sender>.ivf` next to the tap), which ffplay or VLC can play; audio frames are counted.
//! It exits with an error if any frame fails to decrypt.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64ct::{Base64, Encoding};
use veilig_e2ee::{CipherSuite, Codec, FrameDecryptor, Header, InviteLink, RoomKeys, SourceId};

fn main() {
    let Some(meeting) = std::env::args().nth(1) else {
        eprintln!("usage: decrypt_tap target/proofs/meeting.json");
        std::process::exit(2);
    };
    if let Err(error) = run(Path::new(&meeting)) {
        eprintln!("decrypt_tap: {error}");
        std::process::exit(1);
    }
}

fn run(meeting: &Path) -> Result<(), String> {
    let read = |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"));
    let meeting_json: serde_json::Value =
        serde_json::from_str(&read(meeting)?).map_err(|e| e.to_string())?;
    let field = |name: &str| meeting_json[name].as_str().map(str::to_owned);
    let link = field("link").ok_or("meeting.json has no link")?;
    let link = InviteLink::parse(&link).map_err(|e| format!("the link: {e:?}"))?;
    let passphrase = field("passphrase");
    let keys = RoomKeys::derive(&link, passphrase.as_deref())
        .map_err(|e| format!("the key schedule: {e:?}"))?;
    println!("room {:?}, safety code {}", link.room(), keys.safety_code);
    let dir = meeting.parent().unwrap_or(Path::new("."));
    let tap = dir.join(field("tap").ok_or("meeting.json names no tap")?);

    let mut decryptor = FrameDecryptor::new(CipherSuite::default(), &keys.media);
    let mut sources: BTreeMap<(String, String), SourceId> = BTreeMap::new();
    let mut video: BTreeMap<String, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut plain = Vec::new();
    for (number, line) in read(&tap)?.lines().enumerate() {
        let line: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {number}: {e}"))?;
        let text = |name: &str| line[name].as_str().unwrap_or_default().to_owned();
        let (sender, kind) = (text("sender"), text("kind"));
        let codec = Codec::from_mime_type(&text("codec"))
            .ok_or_else(|| format!("line {number}: unknown codec"))?;
        let payload =
            Base64::decode_vec(&text("payload")).map_err(|e| format!("line {number}: {e}"))?;
        let prefix = codec
            .clear_prefix_len(&payload)
            .map_err(|e| format!("line {number}: {e}"))?;
        let (header, _) =
            Header::parse(&payload[prefix..]).map_err(|e| format!("line {number}: {e}"))?;
        let next = SourceId(sources.len() as u64);
        let source = *sources
            .entry((sender.clone(), kind.clone()))
            .or_insert(next);
        decryptor
            .decrypt(source, codec, &payload, &mut plain)
            .map_err(|e| {
                format!(
                    "line {number} ({kind} from {sender}, KID {}, counter {}): {e}",
                    header.kid.0, header.ctr.0
                )
            })?;
        if codec == Codec::Vp8 {
            let time = line["rtp_time"].as_u64().unwrap_or_default();
            video
                .entry(sender.clone())
                .or_default()
                .push((time, plain.clone()));
        }
        *counts.entry((sender, kind)).or_default() += 1;
    }
    for ((sender, kind), n) in &counts {
        println!("{sender} {kind}: {n} frames decrypted");
    }
    for (sender, frames) in &video {
        let path = dir.join(format!("{sender}.ivf"));
        write_ivf(&path, frames).map_err(|e| format!("{path:?}: {e}"))?;
        println!("{sender}: video in {}", path.display());
    }
    Ok(())
}

/// VP8 frames as an IVF file (the simplest container players read): 90 kHz RTP time stamps.
fn write_ivf(path: &Path, frames: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
    // Width and height from the first key frame (bytes 6..10 of a VP8 key frame).
    let (width, height) = frames
        .iter()
        .find(|(_, f)| f.len() >= 10 && f[0] & 1 == 0)
        .map(|(_, f)| {
            (
                u16::from_le_bytes([f[6], f[7]]) & 0x3fff,
                u16::from_le_bytes([f[8], f[9]]) & 0x3fff,
            )
        })
        .unwrap_or((640, 480));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"DKIF")?;
    out.write_all(&0u16.to_le_bytes())?;
    out.write_all(&32u16.to_le_bytes())?;
    out.write_all(b"VP80")?;
    out.write_all(&width.to_le_bytes())?;
    out.write_all(&height.to_le_bytes())?;
    out.write_all(&90_000u32.to_le_bytes())?;
    out.write_all(&1u32.to_le_bytes())?;
    out.write_all(&(frames.len() as u32).to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    let start = frames.first().map_or(0, |(t, _)| *t);
    for (time, frame) in frames {
        out.write_all(&(frame.len() as u32).to_le_bytes())?;
        out.write_all(&time.wrapping_sub(start).to_le_bytes())?;
        out.write_all(frame)?;
    }
    out.flush()
}
