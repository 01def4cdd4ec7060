//! From an invite link (and an optional passphrase) to the room's keys.
//!
//! An invite link is `https://HOST/<room>#<secret>[&pw=1]`. The browser never sends the fragment
//! (`#...`) to a server, so the secret stays with the people who hold the link. `pw=1` says the
//! meeting also needs a passphrase, shared over another channel, so that a leaked link alone
//! decrypts nothing.
//!
//! The schedule, all HMAC/HKDF with SHA-256 (byte strings in ASCII, `‖` is concatenation):
//! ```text
//! secret   = base64url-decode(fragment up to the first '&')          (16..=64 bytes)
//! room     = the link's single path segment, UTF-8                   ([A-Za-z0-9_-]{1,64})
//! pw_key   = PBKDF2-HMAC-SHA256(P = passphrase as UTF-8, S = "veilig/1 passphrase " ‖ room,
//!                               c = 600000, dkLen = 32)              (only with a passphrase)
//! ikm      = secret                  without a passphrase
//!          = secret ‖ pw_key         with one
//! prk      = HKDF-Extract(salt = room, ikm)
//! media    = HKDF-Expand(prk, "veilig/1 media",       32)   SFrame base_key for audio and video
//! metadata = HKDF-Expand(prk, "veilig/1 metadata",    32)   SFrame base_key for chat and names
//! code     = HKDF-Expand(prk, "veilig/1 safety code",  8)   big-endian u64, mod 10^16,
//!                                                            shown as four groups of four digits
//! access   = HKDF-Expand(prk, "veilig/1 room access", 32)   shown to the relay as 64 lowercase
//!                                                            hex digits in `join`
//! mls_psk  = HKDF-Expand(prk, "veilig/1 mls psk",     32)   the MLS group's external PSK, id
//!                                                            "veilig/1 link" (RFC 9420 §8.4)
//! ```
//! With MLS group keys (`veilig-mls`, docs/mls.md) the `mls_psk` is what binds admission to the
//! link: every commit that adds a member must carry it, and a Welcome cannot be opened without
//! it. The MLS safety code is [`SafetyCode::from_epoch_authenticator`].
//! The access value is the one output the relay sees: the first joiner of a room registers it
//! and later joiners must present the same, so that a room id alone gets nobody in. HKDF-Expand
//! under distinct labels gives independent pseudorandom outputs, so knowing `access` tells the
//! relay nothing about `media`, `metadata` or `code` (it would have to invert HMAC-SHA256 to
//! get `prk`).
//! Media frames then use RFC 9605's own derivation per KID ([`crate::suite`]) with cipher suite
//! `AES_128_GCM_SHA256_128` unless the room says otherwise.

use base64ct::{Base64UrlUnpadded, Encoding};
use core::fmt;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::suite::BaseKey;

/// PBKDF2 iterations for the passphrase: OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
pub const PASSPHRASE_ITERATIONS: u32 = 600_000;
/// Fewest secret bytes a link may carry (128 bits).
pub const MIN_SECRET_LEN: usize = 16;
/// Most secret bytes a link may carry.
pub const MAX_SECRET_LEN: usize = 64;
/// Longest room id.
pub const MAX_ROOM_LEN: usize = 64;
/// Secret bytes in a link Veilig creates.
pub const NEW_SECRET_LEN: usize = 16;

const ROOM_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
const NEW_ROOM_LEN: usize = 10;

/// Why a link cannot be used, or why keys cannot be derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// No `#...` part: the link lacks its secret.
    #[error("the link has no secret (#...)")]
    NoSecret,
    /// The secret is not base64url.
    #[error("the link's secret is not valid base64url")]
    SecretEncoding,
    /// The secret decodes to too few or too many bytes.
    #[error("the link's secret must be {MIN_SECRET_LEN}..={MAX_SECRET_LEN} bytes, not {0}")]
    SecretLength(usize),
    /// The room id is empty, too long, has more than one path segment or other characters than
    /// `A-Z a-z 0-9 _ -`.
    #[error("the link's room id is not valid")]
    InvalidRoom,
    /// The link says the meeting needs a passphrase and none was given.
    #[error("this meeting needs a passphrase")]
    PassphraseRequired,
    /// A passphrase was given for a link that does not ask for one.
    #[error("this meeting has no passphrase")]
    PassphraseNotExpected,
}

/// A parsed invite link. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteLink {
    room: String,
    secret: Zeroizing<Vec<u8>>,
    passphrase_required: bool,
    options: Vec<(String, String)>,
}

impl InviteLink {
    /// A link for `room` with `secret`.
    pub fn new(room: &str, secret: &[u8], passphrase_required: bool) -> Result<Self, LinkError> {
        validate_room(room)?;
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len()) {
            return Err(LinkError::SecretLength(secret.len()));
        }
        Ok(InviteLink {
            room: room.to_owned(),
            secret: Zeroizing::new(secret.to_vec()),
            passphrase_required,
            options: Vec::new(),
        })
    }

    /// A new meeting from the caller's CSPRNG output: a readable 10-character room id and a
    /// 128-bit secret.
    pub fn generate(
        random: &[u8; NEW_ROOM_LEN + NEW_SECRET_LEN],
        passphrase_required: bool,
    ) -> Self {
        let (room_bytes, secret) = random.split_at(NEW_ROOM_LEN);
        // 32 symbols: the low five bits of each byte choose one without bias.
        let room: String = room_bytes
            .iter()
            .map(|b| ROOM_ALPHABET[usize::from(b & 31)] as char)
            .collect();
        Self::new(&room, secret, passphrase_required).expect("generated room and secret are valid")
    }

    /// Parses `https://HOST/<room>#<fragment>`, `/<room>#<fragment>` or `<room>#<fragment>`.
    pub fn parse(link: &str) -> Result<Self, LinkError> {
        let (before, fragment) = link.split_once('#').ok_or(LinkError::NoSecret)?;
        let path = match before.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |slash| &rest[slash..]),
            None => before,
        };
        let path = path.split(['?']).next().unwrap_or_default();
        let room = path.strip_prefix('/').unwrap_or(path);
        Self::from_parts(room, fragment)
    }

    /// A link from its room id and fragment (without the `#`), as the app reads them from
    /// `location.pathname` and `location.hash`.
    pub fn from_parts(room: &str, fragment: &str) -> Result<Self, LinkError> {
        let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
        let mut parts = fragment.split('&');
        let encoded = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(LinkError::NoSecret)?;
        let secret = Zeroizing::new(
            Base64UrlUnpadded::decode_vec(encoded).map_err(|_| LinkError::SecretEncoding)?,
        );
        let mut link = Self::new(room, &secret, false)?;
        for part in parts.filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if key == "pw" {
                link.passphrase_required = value == "1";
            } else {
                link.options.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(link)
    }

    /// The room id.
    pub fn room(&self) -> &str {
        &self.room
    }

    /// Whether the meeting needs a passphrase.
    pub fn passphrase_required(&self) -> bool {
        self.passphrase_required
    }

    /// Fragment options other than the secret and `pw`, in order, undecoded.
    pub fn options(&self) -> &[(String, String)] {
        &self.options
    }

    /// The path part of the link: `/<room>`.
    pub fn path(&self) -> String {
        format!("/{}", self.room)
    }

    /// The fragment, without `#`: the secret and, if needed, `&pw=1`. Secret: handle with care.
    pub fn fragment(&self) -> Zeroizing<String> {
        let mut fragment = Zeroizing::new(Base64UrlUnpadded::encode_string(&self.secret));
        if self.passphrase_required {
            fragment.push_str("&pw=1");
        }
        fragment
    }
}

impl fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteLink")
            .field("room", &self.room)
            .field("secret", &"<redacted>")
            .field("passphrase_required", &self.passphrase_required)
            .finish()
    }
}

fn validate_room(room: &str) -> Result<(), LinkError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if room.is_empty() || room.len() > MAX_ROOM_LEN || !room.chars().all(valid_char) {
        return Err(LinkError::InvalidRoom);
    }
    Ok(())
}

/// The short code participants read aloud to check they hold the same keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SafetyCode(u64);

impl SafetyCode {
    /// The code's sixteen digits as four groups of four.
    pub fn groups(&self) -> [u16; 4] {
        let mut value = self.0;
        let mut groups = [0u16; 4];
        for group in groups.iter_mut().rev() {
            *group = (value % 10_000) as u16;
            value /= 10_000;
        }
        groups
    }
}

impl fmt::Display for SafetyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.groups();
        write!(f, "{a:04} {b:04} {c:04} {d:04}")
    }
}

impl fmt::Debug for SafetyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyCode({self})")
    }
}

impl SafetyCode {
    /// The code for an MLS epoch: the first 8 bytes of its epoch authenticator (RFC 9420 §8.7)
    /// as a big-endian u64, mod 10^16. Everyone in the same group state sees the same code; two
    /// groups a relay split apart have independent authenticators, so their codes differ.
    /// Returns `None` for an authenticator shorter than 8 bytes (no MLS suite makes one).
    pub fn from_epoch_authenticator(authenticator: &[u8]) -> Option<Self> {
        let first: [u8; 8] = authenticator.get(..8)?.try_into().ok()?;
        Some(SafetyCode(
            u64::from_be_bytes(first) % 10_000_000_000_000_000,
        ))
    }
}

/// The external pre-shared key of a meeting's MLS group (RFC 9420 §8.4), derived from the link
/// (and passphrase): only link holders can add a member or open a Welcome. Zeroized on drop,
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct MlsPsk(Zeroizing<[u8; MLS_PSK_LEN]>);

/// Bytes in an [`MlsPsk`].
pub const MLS_PSK_LEN: usize = 32;

/// The external PSK's id in the group's PSK proposals. Public (the relay sees proposals); it
/// names the kind of key, not the key.
pub const MLS_PSK_ID: &[u8] = b"veilig/1 link";

impl MlsPsk {
    /// The PSK from its bytes, as the page hands it to its own frame-crypto worker.
    pub fn from_bytes(bytes: [u8; MLS_PSK_LEN]) -> Self {
        MlsPsk(Zeroizing::new(bytes))
    }

    /// The raw bytes: secret, handle with care.
    pub fn as_bytes(&self) -> &[u8; MLS_PSK_LEN] {
        &self.0
    }
}

impl fmt::Debug for MlsPsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MlsPsk(<redacted>)")
    }
}

/// What a participant shows the relay to enter a room: derived from the link (and passphrase),
/// so only link holders have it, yet it reveals nothing about the keys (see the module docs).
/// `Debug` redacts it: it admits its holder to the room while the room lasts.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessValue(Zeroizing<[u8; ACCESS_LEN]>);

/// Bytes in an [`AccessValue`].
pub const ACCESS_LEN: usize = 32;

impl AccessValue {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; ACCESS_LEN] {
        &self.0
    }

    /// The text form sent in the protocol's `join`: 64 lowercase hex digits.
    pub fn to_text(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(2 * ACCESS_LEN);
        for byte in self.0.iter() {
            text.push(HEX[usize::from(byte >> 4)] as char);
            text.push(HEX[usize::from(byte & 15)] as char);
        }
        text
    }
}

impl fmt::Debug for AccessValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessValue(<redacted>)")
    }
}

/// Everything a room's key schedule yields.
#[derive(Debug, Clone)]
pub struct RoomKeys {
    /// SFrame base key for media frames.
    pub media: BaseKey,
    /// SFrame base key for chat messages and display names.
    pub metadata: BaseKey,
    /// The code to compare aloud.
    pub safety_code: SafetyCode,
    /// What the relay is shown to enter the room.
    pub access: AccessValue,
    /// The MLS group's external PSK.
    pub mls_psk: MlsPsk,
}

impl RoomKeys {
    /// Runs the key schedule. With a passphrase this takes PBKDF2's 600,000 iterations: on the
    /// order of a second in a browser, by design.
    pub fn derive(link: &InviteLink, passphrase: Option<&str>) -> Result<Self, LinkError> {
        let passphrase = passphrase.filter(|p| !p.is_empty());
        let mut ikm = Zeroizing::new(link.secret.to_vec());
        match (link.passphrase_required, passphrase) {
            (true, None) => return Err(LinkError::PassphraseRequired),
            (false, Some(_)) => return Err(LinkError::PassphraseNotExpected),
            (false, None) => {}
            (true, Some(passphrase)) => {
                let mut pw_key = Zeroizing::new([0u8; 32]);
                let salt = [b"veilig/1 passphrase ".as_slice(), link.room.as_bytes()].concat();
                pbkdf2::pbkdf2_hmac::<Sha256>(
                    passphrase.as_bytes(),
                    &salt,
                    PASSPHRASE_ITERATIONS,
                    &mut *pw_key,
                );
                ikm.extend_from_slice(&*pw_key);
            }
        }
        let hkdf = Hkdf::<Sha256>::new(Some(link.room.as_bytes()), &ikm);
        let expand = |label: &[u8], out: &mut [u8]| {
            hkdf.expand(label, out)
                .expect("output lengths are valid for HKDF-SHA256");
        };
        let mut media = Zeroizing::new([0u8; 32]);
        let mut metadata = Zeroizing::new([0u8; 32]);
        let mut code = [0u8; 8];
        let mut access = Zeroizing::new([0u8; ACCESS_LEN]);
        let mut mls_psk = Zeroizing::new([0u8; MLS_PSK_LEN]);
        expand(b"veilig/1 media", &mut *media);
        expand(b"veilig/1 metadata", &mut *metadata);
        expand(b"veilig/1 safety code", &mut code);
        expand(b"veilig/1 room access", &mut *access);
        expand(b"veilig/1 mls psk", &mut *mls_psk);
        Ok(RoomKeys {
            media: BaseKey::new(&*media),
            metadata: BaseKey::new(&*metadata),
            safety_code: SafetyCode(u64::from_be_bytes(code) % 10_000_000_000_000_000),
            access: AccessValue(access),
            mls_psk: MlsPsk(mls_psk),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODw";

    #[test]
    fn parses_every_link_form() {
        for link in [
            format!("https://meet.example/weekly-sync#{SECRET}"),
            format!("http://127.0.0.1:8080/weekly-sync?x=1#{SECRET}"),
            format!("/weekly-sync#{SECRET}"),
            format!("weekly-sync#{SECRET}"),
        ] {
            let parsed = InviteLink::parse(&link).unwrap_or_else(|e| panic!("{link}: {e}"));
            assert_eq!(parsed.room(), "weekly-sync");
            assert_eq!(parsed.fragment().as_str(), SECRET);
            assert!(!parsed.passphrase_required());
        }
    }

    #[test]
    fn fragment_options_are_read_and_kept() {
        let link = InviteLink::from_parts("r", &format!("#{SECRET}&pw=1&lang=nl")).unwrap();
        assert!(link.passphrase_required());
        assert_eq!(link.options(), &[("lang".to_owned(), "nl".to_owned())]);
        assert_eq!(link.fragment().as_str(), format!("{SECRET}&pw=1"));
    }

    #[test]
    fn bad_links_say_why() {
        assert_eq!(
            InviteLink::parse("https://h/room").unwrap_err(),
            LinkError::NoSecret
        );
        assert_eq!(
            InviteLink::parse("https://h/room#").unwrap_err(),
            LinkError::NoSecret
        );
        assert_eq!(
            InviteLink::parse("https://h/room#AAEC").unwrap_err(),
            LinkError::SecretLength(3)
        );
        assert_eq!(
            InviteLink::parse("https://h/room#AA=EC").unwrap_err(),
            LinkError::SecretEncoding
        );
        for room in ["", "a/b", "sp ace", "é", &"x".repeat(65)] {
            assert_eq!(
                InviteLink::from_parts(room, SECRET).unwrap_err(),
                LinkError::InvalidRoom,
                "{room:?}"
            );
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let link = InviteLink::from_parts("room", SECRET).unwrap();
        let keys = RoomKeys::derive(&link, None).unwrap();
        let printed = format!("{link:?} {keys:?}");
        assert!(
            !printed.contains(SECRET) && printed.contains("redacted"),
            "{printed}"
        );
    }

    #[test]
    fn generated_links_round_trip() {
        let random: [u8; 26] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        let link = InviteLink::generate(&random, false);
        assert_eq!(link.room().len(), 10);
        let again = InviteLink::parse(&format!(
            "https://h{}#{}",
            link.path(),
            link.fragment().as_str()
        ))
        .unwrap();
        assert_eq!(again, link);
    }

    #[test]
    fn room_secret_and_labels_separate_keys() {
        let link = InviteLink::from_parts("room", SECRET).unwrap();
        let other_room = InviteLink::from_parts("moor", SECRET).unwrap();
        let keys = RoomKeys::derive(&link, None).unwrap();
        let other = RoomKeys::derive(&other_room, None).unwrap();
        assert_ne!(keys.media.as_bytes(), keys.metadata.as_bytes());
        assert_ne!(keys.media.as_bytes(), other.media.as_bytes());
        assert_ne!(keys.safety_code, other.safety_code);
    }

    #[test]
    fn access_is_its_own_hkdf_output_and_follows_link_and_passphrase() {
        // Recomputed from the documented schedule with plain HKDF calls.
        let link = InviteLink::from_parts("room", SECRET).unwrap();
        let keys = RoomKeys::derive(&link, None).unwrap();
        let hkdf = Hkdf::<Sha256>::new(Some(b"room"), &link.secret);
        let mut expected = [0u8; ACCESS_LEN];
        hkdf.expand(b"veilig/1 room access", &mut expected).unwrap();
        assert_eq!(keys.access.as_bytes(), &expected);
        for other in [keys.media.as_bytes(), keys.metadata.as_bytes()] {
            assert_ne!(other, keys.access.as_bytes().as_slice());
        }
        let text = keys.access.to_text();
        assert_eq!(text.len(), 2 * ACCESS_LEN);
        assert!(text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        let decoded: Vec<u8> = (0..ACCESS_LEN)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(decoded, expected);
        assert!(!format!("{keys:?}").contains(&text));

        let other_room = InviteLink::from_parts("moor", SECRET).unwrap();
        let other = RoomKeys::derive(&other_room, None).unwrap();
        assert_ne!(keys.access, other.access);
        let guarded = InviteLink::from_parts("room", &format!("{SECRET}&pw=1")).unwrap();
        let right = RoomKeys::derive(&guarded, Some("paard batterij")).unwrap();
        let wrong = RoomKeys::derive(&guarded, Some("paard batterij!")).unwrap();
        assert_ne!(right.access, wrong.access);
        assert_ne!(right.access, keys.access);
        assert_eq!(
            right.access,
            RoomKeys::derive(&guarded, Some("paard batterij"))
                .unwrap()
                .access
        );
    }

    #[test]
    fn passphrase_is_required_exactly_when_the_link_says_so() {
        let plain = InviteLink::from_parts("room", SECRET).unwrap();
        let guarded = InviteLink::from_parts("room", &format!("{SECRET}&pw=1")).unwrap();
        assert_eq!(
            RoomKeys::derive(&guarded, None).unwrap_err(),
            LinkError::PassphraseRequired
        );
        assert_eq!(
            RoomKeys::derive(&guarded, Some("")).unwrap_err(),
            LinkError::PassphraseRequired
        );
        assert_eq!(
            RoomKeys::derive(&plain, Some("x")).unwrap_err(),
            LinkError::PassphraseNotExpected
        );
        let right = RoomKeys::derive(&guarded, Some("paard batterij")).unwrap();
        let wrong = RoomKeys::derive(&guarded, Some("paard batterij!")).unwrap();
        let none = RoomKeys::derive(&plain, None).unwrap();
        assert_ne!(right.media.as_bytes(), wrong.media.as_bytes());
        assert_ne!(right.media.as_bytes(), none.media.as_bytes());
        assert_ne!(right.safety_code, wrong.safety_code);
    }

    #[test]
    fn mls_psk_is_its_own_hkdf_output_and_follows_the_passphrase() {
        // Recomputed from the documented schedule with plain HKDF calls.
        let link = InviteLink::from_parts("room", SECRET).unwrap();
        let keys = RoomKeys::derive(&link, None).unwrap();
        let hkdf = Hkdf::<Sha256>::new(Some(b"room"), &link.secret);
        let mut expected = [0u8; MLS_PSK_LEN];
        hkdf.expand(b"veilig/1 mls psk", &mut expected).unwrap();
        assert_eq!(keys.mls_psk.as_bytes(), &expected);
        for other in [
            keys.media.as_bytes(),
            keys.metadata.as_bytes(),
            keys.access.as_bytes(),
        ] {
            assert_ne!(other, expected.as_slice());
        }
        let guarded = InviteLink::from_parts("room", &format!("{SECRET}&pw=1")).unwrap();
        let right = RoomKeys::derive(&guarded, Some("paard batterij")).unwrap();
        let wrong = RoomKeys::derive(&guarded, Some("paard batterij!")).unwrap();
        assert_ne!(right.mls_psk, wrong.mls_psk);
        assert_ne!(right.mls_psk, keys.mls_psk);
        assert!(format!("{keys:?}").contains("MlsPsk(<redacted>)"));
    }

    #[test]
    fn safety_code_from_an_epoch_authenticator() {
        let mut authenticator = [0u8; 32];
        authenticator[..8].copy_from_slice(&1_234_000_000_560_078u64.to_be_bytes());
        assert_eq!(
            SafetyCode::from_epoch_authenticator(&authenticator)
                .unwrap()
                .to_string(),
            "1234 0000 0056 0078"
        );
        authenticator[8] ^= 1; // only the first 8 bytes count
        assert_eq!(
            SafetyCode::from_epoch_authenticator(&authenticator)
                .unwrap()
                .to_string(),
            "1234 0000 0056 0078"
        );
        assert_eq!(
            SafetyCode::from_epoch_authenticator(&[u8::MAX; 8]),
            Some(SafetyCode(u64::MAX % 10_000_000_000_000_000))
        );
        assert_eq!(SafetyCode::from_epoch_authenticator(&[0; 7]), None);
    }

    #[test]
    fn safety_code_prints_four_groups() {
        assert_eq!(
            SafetyCode(1_234_000_000_560_078).to_string(),
            "1234 0000 0056 0078"
        );
        assert_eq!(
            SafetyCode(9_999_888_877_776_666).groups(),
            [9999, 8888, 7777, 6666]
        );
        assert_eq!(SafetyCode(42).to_string(), "0000 0000 0000 0042");
    }
}
