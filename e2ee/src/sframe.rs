//! One SFrame ciphertext (RFC 9605 §4.4.3–4.4.4): `header ‖ AEAD(key, nonce, header ‖ metadata,
//! plaintext)`, codec-agnostic.
//!
//! This module knows nothing about codecs, counters' history or who sent what: it seals and opens
//! with a key it is given. [`crate::sender`] and [`crate::receiver`] add the WebRTC layout
//! (clear prefix as metadata, escaping) and the bookkeeping.
//!
//! Callers pass the output and a scratch buffer for the associated data; both are cleared and
//! reused, so encrypting a stream of frames allocates only while the buffers grow.

use crate::header::{Header, HeaderError};
use crate::suite::{AuthenticationFailed, SframeKey, TAG_LEN};

/// Bytes SFrame adds to a plaintext of any length: header plus tag.
pub fn overhead(header: &Header) -> usize {
    header.encoded_len() + TAG_LEN
}

/// Appends `header ‖ ciphertext ‖ tag` of `plaintext` to `out`, authenticating `metadata` too.
pub fn seal(
    key: &SframeKey,
    header: Header,
    metadata: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
    aad: &mut Vec<u8>,
) {
    let (header_bytes, header_len) = header.to_bytes();
    let header_bytes = &header_bytes[..header_len];
    fill_aad(aad, header_bytes, metadata);
    out.reserve(header_len + plaintext.len() + TAG_LEN);
    out.extend_from_slice(header_bytes);
    let start = out.len();
    out.resize(start + plaintext.len(), 0);
    let tag = key.seal(header.ctr, aad, plaintext, &mut out[start..]);
    out.extend_from_slice(&tag);
}

/// Why bytes are not an SFrame ciphertext we can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The header does not parse.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Too short to hold a tag after the header.
    #[error("SFrame ciphertext too short for its tag")]
    NoTag,
    /// The tag did not verify.
    #[error(transparent)]
    Authentication(#[from] AuthenticationFailed),
}

/// A parsed SFrame ciphertext: the header and where the encrypted body starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The header.
    pub header: Header,
    /// Length of the encoded header.
    pub header_len: usize,
}

/// Parses the header of an SFrame ciphertext and checks that a tag fits after it.
pub fn parse(ciphertext: &[u8]) -> Result<Parsed, OpenError> {
    let (header, header_len) = Header::parse(ciphertext)?;
    if ciphertext.len() < header_len + TAG_LEN {
        return Err(OpenError::NoTag);
    }
    Ok(Parsed { header, header_len })
}

/// Opens a `parsed` SFrame `ciphertext` and appends its plaintext to `out`. On failure `out` is
/// left as it was.
pub fn open(
    key: &SframeKey,
    parsed: Parsed,
    metadata: &[u8],
    ciphertext: &[u8],
    out: &mut Vec<u8>,
    aad: &mut Vec<u8>,
) -> Result<(), OpenError> {
    let (header_bytes, body) = ciphertext.split_at(parsed.header_len);
    let (encrypted, tag) = body.split_at(body.len() - TAG_LEN);
    let tag: &[u8; TAG_LEN] = tag.try_into().expect("split at TAG_LEN");
    fill_aad(aad, header_bytes, metadata);
    let start = out.len();
    out.resize(start + encrypted.len(), 0);
    let result = key.open(parsed.header.ctr, aad, encrypted, tag, &mut out[start..]);
    if result.is_err() {
        out.truncate(start);
    }
    Ok(result?)
}

fn fill_aad(aad: &mut Vec<u8>, header: &[u8], metadata: &[u8]) {
    aad.clear();
    aad.extend_from_slice(header);
    aad.extend_from_slice(metadata);
}
