//! The forms a secret could take on its way to a server, for the proofs to search what the
//! browsers sent: text as itself and URL-encoded; bytes raw, in hex (both cases), and in base64
//! and base64url at each of the three positions a value can take inside a longer base64 text
//! (each encodes it differently), with or without padding.
//!
//! What this does not do: search compressed or encrypted forms (nothing the browsers send the
//! relay is compressed, and what is encrypted under the room's keys is the point).

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

/// A secret and every form of it to search for.
pub struct Secret {
    /// What it is, for the failure message.
    pub name: String,
    /// The byte strings that must not appear.
    pub forms: Vec<Vec<u8>>,
}

impl Secret {
    /// A text secret (a passphrase, a name, a chat message): as UTF-8 and URL-encoded.
    pub fn text(name: &str, text: &str) -> Secret {
        let form: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        Secret {
            name: name.to_owned(),
            forms: vec![text.into(), form.into(), percent.into()],
        }
    }

    /// A byte secret (a key, a link's secret): raw, hex, base64 and base64url.
    pub fn bytes(name: &str, bytes: &[u8]) -> Secret {
        let mut forms = vec![
            bytes.to_vec(),
            hex(bytes).into(),
            hex(bytes).to_uppercase().into(),
        ];
        for skip in 0..3 {
            // `skip` bytes before the value shift it within base64's 3-byte groups; keep only
            // the characters that depend on the value alone.
            let shifted = [&vec![0; skip][..], bytes].concat();
            let first = (skip * 8).div_ceil(6);
            let last = (shifted.len() * 8) / 6;
            for encoded in [
                Base64::encode_string(&shifted),
                Base64UrlUnpadded::encode_string(&shifted),
            ] {
                forms.push(encoded.as_bytes()[first..last].to_vec());
            }
        }
        Secret {
            name: name.to_owned(),
            forms,
        }
    }

    /// The first form of this secret found in `haystack`.
    pub fn found_in(&self, haystack: &[u8]) -> Option<&[u8]> {
        self.forms
            .iter()
            .find(|form| contains(haystack, form))
            .map(Vec::as_slice)
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_at_every_base64_position_and_in_hex() {
        let key: Vec<u8> = (1..=32).collect();
        let secret = Secret::bytes("key", &key);
        for skip in 0..3 {
            let sent = [&vec![0xee; skip][..], &key, b"tail"].concat();
            assert!(secret
                .found_in(Base64::encode_string(&sent).as_bytes())
                .is_some());
            assert!(secret
                .found_in(Base64UrlUnpadded::encode_string(&sent).as_bytes())
                .is_some());
        }
        assert!(secret
            .found_in(format!("{{\"k\":\"{}\"}}", hex(&key)).as_bytes())
            .is_some());
        assert!(secret.found_in(&[b"x".as_slice(), &key].concat()).is_some());
        assert!(secret.found_in(b"nothing of it").is_none());
        let name = Secret::text("name", "Bram de Boer");
        assert!(name.found_in(b"name=Bram+de+Boer").is_some());
        assert!(name.found_in(b"name=Bram%20de%20Boer").is_some());
    }
}
