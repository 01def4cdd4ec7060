//! Fuzz target: the small parsers of untrusted input besides frame decryption.
//!
//! Every input goes through all of them:
//! - [`Header::parse`]: a parsed header takes `1 + KID bytes + CTR bytes` as its config byte
//!   announces, at most 17; re-encoding it reproduces the input's prefix whenever the input was
//!   the minimal encoding, and is never longer. Non-minimal encodings (an extension byte for a
//!   value below 8, leading zero bytes) are accepted by the parser: that is harmless because the
//!   header bytes as received are the AEAD's associated data, so a re-encoded header fails
//!   authentication. Truncation errors report the real length.
//! - [`Codec::clear_prefix_len`]: never longer than the frame; for H.264, the frame starts with
//!   a start code and the prefix ends in a slice's NAL header (types 1–5).
//! - [`escape_start_codes`] and [`unescape_start_codes`]: unescaping undoes escaping, the escaped
//!   bytes contain no `00 00 00`, `00 00 01` or `00 00 02` and do not end in `00 00`, and both
//!   only append to their output.
//! - [`InviteLink::parse`] (of the input as lossy UTF-8): never panics; an accepted link has a
//!   valid room id and re-parses from its own path and fragment to the same link, options aside,
//!   with the same keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilig_e2ee::codec::{escape_start_codes, unescape_start_codes};
use veilig_e2ee::header::{HeaderError, MAX_HEADER_LEN};
use veilig_e2ee::key_schedule::{LinkError, MAX_ROOM_LEN};
use veilig_e2ee::{Codec, Header, InviteLink, RoomKeys};

const CODECS: [Codec; 5] = [Codec::Opus, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::H264];

fuzz_target!(|data: &[u8]| {
    header(data);
    clear_prefixes(data);
    escaping(data);
    link(&String::from_utf8_lossy(data));
});

fn header(data: &[u8]) {
    match Header::parse(data) {
        Ok((header, len)) => {
            let config = data[0];
            let field_len = |bits: u8| {
                if bits & 0x08 == 0 {
                    0
                } else {
                    usize::from(bits & 0x07) + 1
                }
            };
            assert_eq!(len, 1 + field_len(config >> 4) + field_len(config & 0x0f));
            assert!(len <= data.len() && len <= MAX_HEADER_LEN);
            let (bytes, encoded_len) = header.to_bytes();
            assert_eq!(encoded_len, header.encoded_len());
            assert!(
                encoded_len <= len,
                "re-encoding of {:02x?} is longer",
                &data[..len]
            );
            // Each field's minimal encoding is unique, so equal lengths mean equal bytes.
            if encoded_len == len {
                assert_eq!(
                    &bytes[..len],
                    &data[..len],
                    "minimal header re-encoded differently"
                );
            }
            assert_eq!(
                Header::parse(&bytes[..encoded_len]),
                Ok((header, encoded_len))
            );
        }
        Err(HeaderError::Truncated { needed, available }) => {
            assert_eq!(available, data.len());
            assert!(needed > available && needed <= MAX_HEADER_LEN);
        }
    }
}

fn clear_prefixes(data: &[u8]) {
    for codec in CODECS {
        let Ok(prefix) = codec.clear_prefix_len(data) else {
            continue;
        };
        assert!(
            prefix <= data.len(),
            "{codec:?} prefix {prefix} of {} bytes",
            data.len()
        );
        if codec == Codec::H264 {
            assert!(data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1]));
            assert!(
                (1..=5).contains(&(data[prefix - 1] & 0x1f)),
                "H.264 prefix ends in a slice header"
            );
        }
    }
}

fn escaping(data: &[u8]) {
    // Both functions append: what `out` held before stays.
    let mut escaped = vec![0xee];
    escape_start_codes(data, &mut escaped);
    assert_eq!(escaped[0], 0xee);
    let escaped = &escaped[1..];
    let emulation = escaped
        .windows(3)
        .position(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2);
    assert_eq!(emulation, None, "start code in {escaped:02x?}");
    assert!(!escaped.ends_with(&[0, 0]), "escaped bytes end in 00 00");
    let mut back = vec![0xee];
    unescape_start_codes(escaped, &mut back).expect("escaped output is canonical");
    assert_eq!(&back[1..], data, "unescaping does not undo escaping");

    // Unescaping accepts only canonical input: whatever it accepts re-escapes to itself, so a
    // plaintext has exactly one wire form.
    let mut unescaped = Vec::new();
    if unescape_start_codes(data, &mut unescaped).is_ok() {
        let mut again = Vec::new();
        escape_start_codes(&unescaped, &mut again);
        assert_eq!(again, data, "a second wire form was accepted");
    }
}

fn link(text: &str) {
    let Ok(link) = InviteLink::parse(text) else {
        return;
    };
    let room = link.room();
    assert!(!room.is_empty() && room.len() <= MAX_ROOM_LEN);
    assert!(
        room.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "room {room:?}"
    );
    let again = InviteLink::parse(&format!("{}#{}", link.path(), link.fragment().as_str()))
        .unwrap_or_else(|e| panic!("{link:?} does not re-parse from its own parts: {e}"));
    assert_eq!(again.room(), link.room());
    assert_eq!(again.fragment(), link.fragment());
    assert_eq!(again.passphrase_required(), link.passphrase_required());
    assert!(again.options().is_empty());
    // Without a passphrase the schedule is three HKDF expansions: cheap enough to run here.
    // With one it is 600,000 PBKDF2 iterations, so only the refusal is checked.
    if link.passphrase_required() {
        assert_eq!(
            RoomKeys::derive(&link, None).unwrap_err(),
            LinkError::PassphraseRequired
        );
    } else {
        let keys = RoomKeys::derive(&link, None).expect("a link without passphrase derives");
        let keys_again = RoomKeys::derive(&again, None).expect("and so does its copy");
        assert_eq!(keys.safety_code, keys_again.safety_code);
        assert_eq!(keys.media.as_bytes(), keys_again.media.as_bytes());
        assert_eq!(
            RoomKeys::derive(&link, Some("pw")).unwrap_err(),
            LinkError::PassphraseNotExpected
        );
    }
}
