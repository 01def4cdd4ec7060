//! The README's worked example of the key schedule and frame format, recomputed from the
//! documented formulas with plain HKDF/PBKDF2/AES-GCM calls (as an independent implementation
//! would) and checked against the crate's API.
#![allow(dead_code)]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use std::fmt::Write as _;
use veilig_e2ee::suite::{derive_key_material, SframeKey};
use veilig_e2ee::{
    CipherSuite, Codec, Counter, FrameDecryptor, FrameEncryptor, InviteLink, Kid, RoomKeys,
    SourceId,
};

const MARKER: &str = "<!-- worked-example: checked by e2ee/tests/readme_example.rs -->";

/// The README, compiled in so that the browser tests can check it too.
const README: &str = include_str!("../../../README.md");

/// The text block after the marker, if the README has one.
pub fn readme_block() -> Option<String> {
    let after = &README[README.find(MARKER)? + MARKER.len()..];
    let start = after.find("```text\n")? + "```text\n".len();
    let end = after[start..].find("```")?;
    Some(after[start..start + end].to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The worked example as the README must print it; panics if the crate disagrees with the
/// documented schedule.
pub fn render() -> String {
    let link_text = "https://veilig.example/weekly-sync#AAECAwQFBgcICQoLDA0ODw&pw=1";
    let passphrase = "paard batterij nietje";
    let link = InviteLink::parse(link_text).unwrap();
    let secret: Vec<u8> = (0u8..16).collect();

    // The schedule exactly as the README writes it.
    let mut pw_key = [0u8; 32];
    let salt = [b"veilig/1 passphrase ".as_slice(), b"weekly-sync"].concat();
    pbkdf2::pbkdf2_hmac::<Sha256>(passphrase.as_bytes(), &salt, 600_000, &mut pw_key);
    let ikm = [secret.as_slice(), &pw_key].concat();
    let (prk, hkdf) = Hkdf::<Sha256>::extract(Some(b"weekly-sync"), &ikm);
    let expand = |label: &[u8], len: usize| {
        let mut out = vec![0u8; len];
        hkdf.expand(label, &mut out).unwrap();
        out
    };
    let (media, metadata, code) = (
        expand(b"veilig/1 media", 32),
        expand(b"veilig/1 metadata", 32),
        expand(b"veilig/1 safety code", 8),
    );
    let code = u64::from_be_bytes(code.try_into().unwrap()) % 10_000_000_000_000_000;
    let code = format!(
        "{:04} {:04} {:04} {:04}",
        code / 1_000_000_000_000,
        code / 100_000_000 % 10_000,
        code / 10_000 % 10_000,
        code % 10_000
    );

    // The crate must agree.
    let keys = RoomKeys::derive(&link, Some(passphrase)).unwrap();
    assert_eq!(keys.media.as_bytes(), media.as_slice(), "media key");
    assert_eq!(
        keys.metadata.as_bytes(),
        metadata.as_slice(),
        "metadata key"
    );
    assert_eq!(keys.safety_code.to_string(), code, "safety code");
    let plain_link =
        InviteLink::parse("https://veilig.example/weekly-sync#AAECAwQFBgcICQoLDA0ODw").unwrap();
    let plain_media = RoomKeys::derive(&plain_link, None).unwrap().media;
    let (_, plain_hkdf) = Hkdf::<Sha256>::extract(Some(b"weekly-sync"), &secret);
    let mut expected_plain_media = [0u8; 32];
    plain_hkdf
        .expand(b"veilig/1 media", &mut expected_plain_media)
        .unwrap();
    assert_eq!(
        plain_media.as_bytes(),
        expected_plain_media.as_slice(),
        "media key without passphrase"
    );

    // One Opus frame: TOC byte 0x78 in the clear, then the payload.
    let suite = CipherSuite::Aes128GcmSha256;
    let kid = Kid(0x0123_4567_89ab_cdef);
    let frame = [[0x78].as_slice(), b"Goedemorgen!"].concat();
    let material = derive_key_material(suite, &keys.media, kid);
    let nonce = SframeKey::derive(suite, &keys.media, kid).nonce(Counter(0));
    let mut sender = FrameEncryptor::new(suite, &keys.media, kid);
    let mut wire = Vec::new();
    let header = sender
        .encrypt(Codec::Opus, &frame, &mut wire)
        .unwrap()
        .unwrap();
    let (header_bytes, header_len) = header.to_bytes();
    let header_bytes = &header_bytes[..header_len];
    let aad = [header_bytes, &frame[..1]].concat();

    // Independently: AES-128-GCM over the payload with that nonce and AAD.
    let aead = Aes128Gcm::new_from_slice(&material.key[..16]).unwrap();
    let mut body = frame[1..].to_vec();
    let tag = aead
        .encrypt_inout_detached(&nonce.into(), &aad, body.as_mut_slice().into())
        .unwrap();
    let independent = [&frame[..1], header_bytes, &body, tag.as_slice()].concat();
    assert_eq!(wire, independent, "frame layout");
    let mut receiver = FrameDecryptor::new(suite, &keys.media);
    let mut back = Vec::new();
    receiver
        .decrypt(SourceId(1), Codec::Opus, &wire, &mut back)
        .unwrap();
    assert_eq!(back, frame);

    let mut out = String::new();
    let mut line = |name: &str, value: &str| writeln!(out, "{name:<16}{value}").unwrap();
    line("link", link_text);
    line("passphrase", passphrase);
    line("room", "weekly-sync");
    line("secret", &hex(&secret));
    line("pw_key", &hex(&pw_key));
    line("prk", &hex(&prk));
    line("media", &hex(&media));
    line("metadata", &hex(&metadata));
    line("safety code", &code);
    line("media, no pw", &hex(&expected_plain_media));
    line("", "");
    line("codec", "Opus (1-byte clear prefix: the TOC)");
    line("kid", &format!("{:016x}", kid.0));
    line("ctr", "0");
    line("frame", &hex(&frame));
    line("sframe_key", &hex(&material.key[..16]));
    line("sframe_salt", &hex(&material.salt));
    line("nonce", &hex(&nonce));
    line("header", &hex(header_bytes));
    line("aad", &hex(&aad));
    line("wire", &hex(&wire));
    out.lines()
        .map(str::trim_end)
        .map(|l| format!("{l}\n"))
        .collect()
}
