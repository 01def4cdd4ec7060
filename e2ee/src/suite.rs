//! The cipher suites Veilig speaks and the RFC 9605 §4.4.2 derivation of a per-KID key and salt
//! from a base key.
//!
//! Only the two AES-GCM suites are implemented: they are what browsers' hardware and WebCrypto
//! accelerate, and they need one primitive instead of AES-CTR plus HMAC. Suites 0x0001–0x0003
//! are refused with [`UnsupportedSuite`] rather than half-supported.
//!
//! ```text
//! sframe_secret = HKDF-Extract(salt = "", base_key)
//! sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  ‖ KID(u64 BE) ‖ suite(u16 BE), Nk)
//! sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " ‖ KID(u64 BE) ‖ suite(u16 BE), 12)
//! nonce(CTR)    = sframe_salt XOR CTR (big-endian, right-aligned in 12 bytes)
//! ```

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use core::fmt;
use hkdf::Hkdf;
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

use crate::header::{Counter, Kid};

/// Nonce length of both AES-GCM suites (Nn).
pub const NONCE_LEN: usize = 12;
/// Authentication tag length of both AES-GCM suites (Nt).
pub const TAG_LEN: usize = 16;

/// An SFrame cipher suite (RFC 9605 §4.5, IANA "SFrame Cipher Suites").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// `AES_128_GCM_SHA256_128` (0x0004): Veilig's default.
    #[default]
    Aes128GcmSha256,
    /// `AES_256_GCM_SHA512_128` (0x0005).
    Aes256GcmSha512,
}

/// A cipher suite id this crate does not implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SFrame cipher suite {0:#06x}")]
pub struct UnsupportedSuite(pub u16);

impl CipherSuite {
    /// The suite's IANA id.
    pub const fn id(self) -> u16 {
        match self {
            CipherSuite::Aes128GcmSha256 => 0x0004,
            CipherSuite::Aes256GcmSha512 => 0x0005,
        }
    }

    /// The suite with IANA id `id`, if implemented.
    pub const fn from_id(id: u16) -> Result<Self, UnsupportedSuite> {
        match id {
            0x0004 => Ok(CipherSuite::Aes128GcmSha256),
            0x0005 => Ok(CipherSuite::Aes256GcmSha512),
            other => Err(UnsupportedSuite(other)),
        }
    }

    /// AEAD key length (Nk).
    pub const fn key_len(self) -> usize {
        match self {
            CipherSuite::Aes128GcmSha256 => 16,
            CipherSuite::Aes256GcmSha512 => 32,
        }
    }
}

/// The secret an SFrame sender key is derived from (RFC 9605 `base_key`). Zeroized on drop,
/// redacted in `Debug`.
#[derive(Clone)]
pub struct BaseKey(Zeroizing<Vec<u8>>);

impl BaseKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: &[u8]) -> Self {
        BaseKey(Zeroizing::new(bytes.to_vec()))
    }

    /// The raw bytes, for deriving from.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for BaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BaseKey(<redacted>)")
    }
}

/// The per-KID key material of RFC 9605 §4.4.2, as raw bytes: what the RFC's test vectors
/// print. [`SframeKey`] is the ready-to-use form.
pub struct KeyMaterial {
    /// `sframe_key`, `Nk` bytes (the unused tail of the array stays zero).
    pub key: Zeroizing<[u8; 32]>,
    /// `sframe_salt`.
    pub salt: [u8; NONCE_LEN],
}

impl KeyMaterial {
    /// The AEAD key, `Nk` bytes of `suite`.
    pub fn key(&self, suite: CipherSuite) -> &[u8] {
        &self.key[..suite.key_len()]
    }

    /// The nonce for counter `ctr`: the salt with the counter XORed into its last eight bytes.
    pub fn nonce(&self, ctr: Counter) -> [u8; NONCE_LEN] {
        nonce(&self.salt, ctr)
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.salt.zeroize();
    }
}

fn nonce(salt: &[u8; NONCE_LEN], ctr: Counter) -> [u8; NONCE_LEN] {
    let mut nonce = *salt;
    for (n, c) in nonce[NONCE_LEN - 8..].iter_mut().zip(ctr.0.to_be_bytes()) {
        *n ^= c;
    }
    nonce
}

/// Derives `sframe_key` and `sframe_salt` for `kid` under `suite` from `base`.
pub fn derive_key_material(suite: CipherSuite, base: &BaseKey, kid: Kid) -> KeyMaterial {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut salt = [0u8; NONCE_LEN];
    let key_len = suite.key_len();
    match suite {
        CipherSuite::Aes128GcmSha256 => {
            expand_labels::<Sha256>(suite, base, kid, &mut key[..key_len], &mut salt)
        }
        CipherSuite::Aes256GcmSha512 => {
            expand_labels::<Sha512>(suite, base, kid, &mut key[..key_len], &mut salt)
        }
    }
    KeyMaterial { key, salt }
}

fn expand_labels<H: hkdf::hmac::EagerHash>(
    suite: CipherSuite,
    base: &BaseKey,
    kid: Kid,
    key: &mut [u8],
    salt: &mut [u8],
) {
    let hkdf = Hkdf::<H>::new(None, base.as_bytes());
    let mut context = [0u8; 10];
    context[..8].copy_from_slice(&kid.0.to_be_bytes());
    context[8..].copy_from_slice(&suite.id().to_be_bytes());
    // Output lengths are fixed and far below 255 × HashLen, so expansion cannot fail.
    hkdf.expand_multi_info(&[b"SFrame 1.0 Secret key ", &context], key)
        .expect("SFrame key length is valid for HKDF");
    hkdf.expand_multi_info(&[b"SFrame 1.0 Secret salt ", &context], salt)
        .expect("SFrame salt length is valid for HKDF");
}

/// A derived per-KID key, ready to seal and open frames: the AES-GCM key schedule is computed
/// once here, not per frame.
pub struct SframeKey {
    aead: Aead,
    salt: [u8; NONCE_LEN],
}

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

/// AES-GCM refused to open a ciphertext: wrong key, tampered bytes, or not ours. Deliberately
/// says nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("authentication failed")]
pub struct AuthenticationFailed;

impl SframeKey {
    /// Derives the key for `kid` under `suite` from `base`.
    pub fn derive(suite: CipherSuite, base: &BaseKey, kid: Kid) -> Self {
        Self::from_material(suite, &derive_key_material(suite, base, kid))
    }

    /// The key for already derived `material` of `suite`.
    pub fn from_material(suite: CipherSuite, material: &KeyMaterial) -> Self {
        let key = material.key(suite);
        // Lengths come from the suite itself, so construction cannot fail.
        let aead = match suite {
            CipherSuite::Aes128GcmSha256 => Aead::Aes128(Box::new(
                Aes128Gcm::new_from_slice(key).expect("16-byte key"),
            )),
            CipherSuite::Aes256GcmSha512 => Aead::Aes256(Box::new(
                Aes256Gcm::new_from_slice(key).expect("32-byte key"),
            )),
        };
        SframeKey {
            aead,
            salt: material.salt,
        }
    }

    /// The nonce for counter `ctr`: the salt with the counter XORed into its last eight bytes.
    pub fn nonce(&self, ctr: Counter) -> [u8; NONCE_LEN] {
        nonce(&self.salt, ctr)
    }

    /// Encrypts `plaintext` into `ciphertext` (same length) and returns the tag.
    ///
    /// # Panics
    /// If the two slices differ in length: a caller bug.
    pub fn seal(
        &self,
        ctr: Counter,
        aad: &[u8],
        plaintext: &[u8],
        ciphertext: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let nonce = Nonce::from(self.nonce(ctr));
        let buf = InOutBuf::new(plaintext, ciphertext).expect("equal buffer lengths");
        // AES-GCM only fails on inputs beyond 2^36 bytes, which no frame approaches.
        let tag: Tag = match &self.aead {
            Aead::Aes128(aead) => aead.encrypt_inout_detached(&nonce, aad, buf),
            Aead::Aes256(aead) => aead.encrypt_inout_detached(&nonce, aad, buf),
        }
        .expect("frame within AES-GCM limits");
        tag.into()
    }

    /// Decrypts `ciphertext` into `plaintext` (same length) if `tag` authenticates it and `aad`.
    /// On failure `plaintext` holds no plaintext (it is zeroed).
    ///
    /// # Panics
    /// If the two slices differ in length: a caller bug.
    pub fn open(
        &self,
        ctr: Counter,
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
        plaintext: &mut [u8],
    ) -> Result<(), AuthenticationFailed> {
        let nonce = Nonce::from(self.nonce(ctr));
        let tag = Tag::from(*tag);
        let buf = InOutBuf::new(ciphertext, plaintext).expect("equal buffer lengths");
        let result = match &self.aead {
            Aead::Aes128(aead) => aead.decrypt_inout_detached(&nonce, aad, buf, &tag),
            Aead::Aes256(aead) => aead.decrypt_inout_detached(&nonce, aad, buf, &tag),
        };
        result.map_err(|_| {
            plaintext.zeroize();
            AuthenticationFailed
        })
    }
}

impl fmt::Debug for SframeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SframeKey(<redacted>)")
    }
}

impl Drop for SframeKey {
    fn drop(&mut self) {
        self.salt.zeroize();
    }
}
