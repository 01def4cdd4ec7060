//! Encryption of one local track's frames: one KID, a counter that starts at 0 and only rises.
//!
//! The caller picks the KID with its CSPRNG when the track starts (a fresh random 64-bit value
//! per track and per join, so a KID is never reused) and registers it with the room's
//! [`FrameDecryptor`](crate::FrameDecryptor) via `claim_local`, which refuses a KID somebody
//! else already uses. Nonce uniqueness follows: a nonce is the KID's salt XOR the counter, and
//! the counter never repeats or wraps for a KID.
//!
//! Output layout of [`FrameEncryptor::encrypt`]:
//! ```text
//! ┌────────────────┬───────────────┬────────────────────────┬──────────┐
//! │ clear prefix   │ SFrame header │ ciphertext             │ tag (16) │
//! │ (codec rule)   │ (1–17 bytes)  │ (frame minus prefix)   │          │
//! └────────────────┴───────────────┴────────────────────────┴──────────┘
//!                   └──────── escaped against start codes for H.264 ────┘
//! AAD = SFrame header ‖ clear prefix   (RFC 9605: header ‖ metadata, metadata = clear prefix)
//! ```

use crate::codec::{escape_start_codes, Codec};
use crate::error::EncryptError;
use crate::external::ExternalSeal;
use crate::header::{Counter, Header, Kid};
use crate::sframe;
use crate::suite::{derive_key_material, BaseKey, CipherSuite, KeyMaterial, SframeKey};

/// Encrypts the frames of one local track.
#[derive(Debug)]
pub struct FrameEncryptor {
    kid: Kid,
    next_ctr: Option<u64>,
    suite: CipherSuite,
    material: KeyMaterial,
    key: SframeKey,
    aad: Vec<u8>,
    tail: Vec<u8>,
}

impl FrameEncryptor {
    /// An encryptor for sender key `kid`, derived from the room's media base key.
    pub fn new(suite: CipherSuite, base: &BaseKey, kid: Kid) -> Self {
        let material = derive_key_material(suite, base, kid);
        FrameEncryptor {
            kid,
            next_ctr: Some(0),
            suite,
            key: SframeKey::from_material(suite, &material),
            material,
            aad: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// This track's KID.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The counter the next frame will carry, if the key is not exhausted.
    pub fn next_counter(&self) -> Option<Counter> {
        self.next_ctr.map(Counter)
    }

    /// Replaces `out` with the encrypted form of `frame` and returns the header it carries.
    /// A zero-length frame stays zero-length and uses no counter. On error `out` is empty and
    /// the frame must be dropped.
    pub fn encrypt(
        &mut self,
        codec: Codec,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<Header>, EncryptError> {
        out.clear();
        if frame.is_empty() {
            return Ok(None);
        }
        let prefix_len = codec.clear_prefix_len(frame)?;
        let (prefix, payload) = frame.split_at(prefix_len);
        let header = self.take_header()?;
        out.extend_from_slice(prefix);
        if codec.escapes_start_codes() {
            self.tail.clear();
            sframe::seal(
                &self.key,
                header,
                prefix,
                payload,
                &mut self.tail,
                &mut self.aad,
            );
            escape_start_codes(&self.tail, out);
        } else {
            sframe::seal(&self.key, header, prefix, payload, out, &mut self.aad);
        }
        Ok(Some(header))
    }

    /// Starts encrypting `frame` with an external AES-GCM engine (see [`crate::external`]):
    /// takes the frame's counter and says what to seal. `None` for a zero-length frame, which
    /// stays zero-length and uses no counter.
    ///
    /// # Panics
    /// If `codec` escapes start codes (H.264): an external engine's output would need escaping
    /// inside this crate anyway, so such frames go through [`FrameEncryptor::encrypt`].
    pub fn begin_external(
        &mut self,
        codec: Codec,
        frame: &[u8],
    ) -> Result<Option<ExternalSeal>, EncryptError> {
        assert!(
            !codec.escapes_start_codes(),
            "{codec:?} frames are encrypted in-crate"
        );
        if frame.is_empty() {
            return Ok(None);
        }
        let prefix_len = codec.clear_prefix_len(frame)?;
        let header = self.take_header()?;
        Ok(Some(ExternalSeal::new(
            header,
            prefix_len,
            self.material.nonce(header.ctr),
        )))
    }

    /// The raw key and salt of this track, for an external AES-GCM engine to import.
    pub fn key_material(&self) -> (&KeyMaterial, CipherSuite) {
        (&self.material, self.suite)
    }

    /// Seals a message that is not a media frame (chat, display names): `header ‖ ciphertext ‖
    /// tag`, with `context` authenticated but not included, so a message cannot be replayed in
    /// another context. Uses the same counter as frames.
    pub fn seal_message(
        &mut self,
        context: &[u8],
        message: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Header, EncryptError> {
        out.clear();
        let header = self.take_header()?;
        sframe::seal(&self.key, header, context, message, out, &mut self.aad);
        Ok(header)
    }

    fn take_header(&mut self) -> Result<Header, EncryptError> {
        let ctr = self
            .next_ctr
            .ok_or(EncryptError::CounterExhausted(self.kid))?;
        self.next_ctr = ctr.checked_add(1);
        Ok(Header::new(self.kid, Counter(ctr)))
    }

    /// Moves the counter forward to `next` (never back, so no nonce can repeat). A real
    /// sender has no need for this; tests use it to reach counter exhaustion.
    pub fn advance_counter_to(&mut self, next: u64) {
        if let Some(current) = self.next_ctr {
            self.next_ctr = Some(current.max(next));
        }
    }
}
