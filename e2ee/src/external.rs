//! Frames whose AES-GCM runs outside this crate, in an engine such as the browser's WebCrypto.
//!
//! Why: in the browser, this crate's AES-GCM (compiled to wasm, no AES instructions) costs about
//! 15 ns per byte, while WebCrypto costs a fixed few microseconds per call plus about 1.5 ns per
//! byte. Small frames (audio) are faster here, large ones (video) in WebCrypto. The worker picks
//! per frame; both engines must produce the same bytes, so everything but the AES-GCM call itself
//! stays here: counters, nonces, clear prefixes, the header, and every check on the receiving
//! side. The engine only ever sees a key, a nonce, associated data and a buffer.
//!
//! Sending, with [`FrameEncryptor::begin_external`](crate::FrameEncryptor::begin_external):
//! ```text
//! plan  = encryptor.begin_external(codec, frame)    // takes the counter
//! out   = engine.seal(key, plan.nonce, plan.aad(frame), plan.plaintext(frame))   // ct ‖ tag
//! frame = plan.assemble(frame, out)                 // prefix ‖ header ‖ ct ‖ tag
//! ```
//! Receiving, with [`FrameDecryptor::begin_external`](crate::FrameDecryptor::begin_external)
//! and [`FrameDecryptor::finish_external`](crate::FrameDecryptor::finish_external):
//! ```text
//! plan  = decryptor.begin_external(source, codec, frame)   // format checks, retired KIDs
//! ok    = engine.open(key(plan.header.kid), nonce, plan.aad(frame), plan.sealed(frame))
//! decryptor.finish_external(source, &plan, ok)?            // KID ownership, replay window
//! frame = plan.assemble(frame, plaintext)
//! ```
//! Codecs that escape start codes (H.264) are not offered this path: their SFrame bytes are
//! escaped and unescaped in-crate, so they always use the in-crate engine.

use crate::header::{Header, MAX_HEADER_LEN};
use crate::suite::{NONCE_LEN, TAG_LEN};

/// One frame to seal by an external engine: see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalSeal {
    /// The SFrame header the frame carries (its counter is taken).
    pub header: Header,
    /// Length of the frame's clear prefix.
    pub prefix_len: usize,
    /// The AES-GCM nonce.
    pub nonce: [u8; NONCE_LEN],
    header_bytes: [u8; MAX_HEADER_LEN],
    header_len: usize,
}

impl ExternalSeal {
    pub(crate) fn new(header: Header, prefix_len: usize, nonce: [u8; NONCE_LEN]) -> Self {
        let (header_bytes, header_len) = header.to_bytes();
        ExternalSeal {
            header,
            prefix_len,
            nonce,
            header_bytes,
            header_len,
        }
    }

    /// The encoded SFrame header.
    pub fn header_bytes(&self) -> &[u8] {
        &self.header_bytes[..self.header_len]
    }

    /// Replaces `aad` with the associated data: header ‖ clear prefix of `frame`.
    pub fn aad(&self, frame: &[u8], aad: &mut Vec<u8>) {
        aad.clear();
        aad.extend_from_slice(self.header_bytes());
        aad.extend_from_slice(&frame[..self.prefix_len]);
    }

    /// The part of `frame` to encrypt.
    pub fn plaintext<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        &frame[self.prefix_len..]
    }

    /// Length of the finished frame for a plaintext `frame` of `frame_len` bytes.
    pub fn sealed_frame_len(&self, frame_len: usize) -> usize {
        frame_len + self.header_len + TAG_LEN
    }

    /// Replaces `out` with the finished frame: clear prefix of `frame` ‖ header ‖ `sealed`, where
    /// `sealed` is the engine's `ciphertext ‖ tag`.
    pub fn assemble(&self, frame: &[u8], sealed: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&frame[..self.prefix_len]);
        out.extend_from_slice(self.header_bytes());
        out.extend_from_slice(sealed);
    }
}

/// One received frame to open by an external engine: see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalOpen {
    /// The SFrame header the frame carries.
    pub header: Header,
    /// Length of the frame's clear prefix.
    pub prefix_len: usize,
    header_len: usize,
}

impl ExternalOpen {
    pub(crate) fn new(header: Header, prefix_len: usize, header_len: usize) -> Self {
        ExternalOpen {
            header,
            prefix_len,
            header_len,
        }
    }

    /// Replaces `aad` with the associated data: header ‖ clear prefix of `frame`.
    pub fn aad(&self, frame: &[u8], aad: &mut Vec<u8>) {
        let header_end = self.prefix_len + self.header_len;
        aad.clear();
        aad.extend_from_slice(&frame[self.prefix_len..header_end]);
        aad.extend_from_slice(&frame[..self.prefix_len]);
    }

    /// Where `ciphertext ‖ tag` sits in the frame, for the engine to open.
    pub fn sealed_range(&self, frame_len: usize) -> core::ops::Range<usize> {
        self.prefix_len + self.header_len..frame_len
    }

    /// Length of the decrypted frame for an encrypted frame of `frame_len` bytes.
    pub fn opened_frame_len(&self, frame_len: usize) -> usize {
        frame_len - self.header_len - TAG_LEN
    }

    /// Replaces `out` with the decrypted frame: clear prefix of `frame` ‖ `plaintext`. Only call
    /// this after [`FrameDecryptor::finish_external`](crate::FrameDecryptor::finish_external)
    /// accepted the frame.
    pub fn assemble(&self, frame: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&frame[..self.prefix_len]);
        out.extend_from_slice(plaintext);
    }
}
