//! Helpers shared by the native tests and the in-browser tests: the RFC 9605 test vectors,
//! driven from the data file, never pasted in.
#![allow(dead_code)]

pub mod frames;
pub mod readme;

use serde::Deserialize;
use veilig_e2ee::header::Header;
use veilig_e2ee::receiver::FrameDecryptor;
use veilig_e2ee::sframe;
use veilig_e2ee::suite::{derive_key_material, BaseKey, CipherSuite, SframeKey};
use veilig_e2ee::{Counter, FrameEncryptor, Kid, SourceId};

/// The official vectors, copied from the RFC's companion repository into `tests/data/`.
pub const VECTORS_JSON: &str = include_str!("../../../tests/data/sframe-rfc9605.json");

#[derive(Deserialize)]
pub struct Vectors {
    pub header: Vec<HeaderCase>,
    pub sframe: Vec<SframeCase>,
}

#[derive(Deserialize)]
pub struct HeaderCase {
    pub kid: u64,
    pub ctr: u64,
    pub encoded: String,
}

#[derive(Deserialize)]
pub struct SframeCase {
    pub cipher_suite: u16,
    pub kid: u64,
    pub ctr: u64,
    pub base_key: String,
    pub sframe_key: String,
    pub sframe_salt: String,
    pub metadata: String,
    pub nonce: String,
    pub aad: String,
    pub pt: String,
    pub ct: String,
}

pub fn vectors() -> Vectors {
    serde_json::from_str(VECTORS_JSON).expect("vector file parses")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("vector hex")
}

/// Checks every header case both ways; returns how many were checked.
pub fn check_header_vectors() -> usize {
    let cases = vectors().header;
    for case in &cases {
        let header = Header::new(Kid(case.kid), Counter(case.ctr));
        let (bytes, len) = header.to_bytes();
        assert_eq!(
            hex::encode(&bytes[..len]),
            case.encoded,
            "encoding kid {} ctr {}",
            case.kid,
            case.ctr
        );
        let encoded = unhex(&case.encoded);
        assert_eq!(
            Header::parse(&encoded),
            Ok((header, encoded.len())),
            "parsing {}",
            case.encoded
        );
    }
    cases.len()
}

/// Checks every AES-GCM case: key and salt derivation, nonce, AAD, ciphertext, and decryption
/// through both the low-level and the public sender/receiver API. Cases for suites this crate
/// does not implement must be refused. Returns how many AES-GCM cases were checked.
pub fn check_sframe_vectors() -> usize {
    let mut checked = 0;
    for case in vectors().sframe {
        let Ok(suite) = CipherSuite::from_id(case.cipher_suite) else {
            assert!(
                case.cipher_suite < 4,
                "suite {:#06x} must be implemented",
                case.cipher_suite
            );
            continue;
        };
        let what = format!("suite {:#06x}", case.cipher_suite);
        let base = BaseKey::new(&unhex(&case.base_key));
        let kid = Kid(case.kid);
        let ctr = Counter(case.ctr);
        let material = derive_key_material(suite, &base, kid);
        assert_eq!(
            hex::encode(&material.key[..suite.key_len()]),
            case.sframe_key,
            "{what}: sframe_key"
        );
        assert_eq!(
            hex::encode(material.salt),
            case.sframe_salt,
            "{what}: sframe_salt"
        );

        let key = SframeKey::derive(suite, &base, kid);
        assert_eq!(hex::encode(key.nonce(ctr)), case.nonce, "{what}: nonce");

        let header = Header::new(kid, ctr);
        let metadata = unhex(&case.metadata);
        let (mut out, mut aad) = (Vec::new(), Vec::new());
        sframe::seal(
            &key,
            header,
            &metadata,
            &unhex(&case.pt),
            &mut out,
            &mut aad,
        );
        assert_eq!(hex::encode(&aad), case.aad, "{what}: aad");
        assert_eq!(hex::encode(&out), case.ct, "{what}: ciphertext");

        let ct = unhex(&case.ct);
        let parsed = sframe::parse(&ct).expect("vector ciphertext parses");
        let mut pt = Vec::new();
        sframe::open(&key, parsed, &metadata, &ct, &mut pt, &mut aad).expect("vector opens");
        assert_eq!(hex::encode(&pt), case.pt, "{what}: plaintext");

        // The public API: a sender at the vector's counter, a receiver that has never seen it.
        let mut sender = FrameEncryptor::new(suite, &base, kid);
        sender.advance_counter_to(case.ctr);
        sender
            .seal_message(&metadata, &unhex(&case.pt), &mut out)
            .expect("seals");
        assert_eq!(
            hex::encode(&out),
            case.ct,
            "{what}: FrameEncryptor ciphertext"
        );
        let mut receiver = FrameDecryptor::new(suite, &base);
        receiver
            .open_message(SourceId(1), &metadata, &ct, &mut pt)
            .expect("FrameDecryptor opens");
        assert_eq!(
            hex::encode(&pt),
            case.pt,
            "{what}: FrameDecryptor plaintext"
        );
        checked += 1;
    }
    checked
}
