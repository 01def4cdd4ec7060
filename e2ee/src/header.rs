//! The SFrame header (RFC 9605 §4.3): a key id (KID) and a counter (CTR), each up to 64 bits,
//! in one config byte plus 0–16 bytes.
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//! |X|  K  |Y|  C  |   KID (K+1 bytes if X)     |   CTR (C+1 bytes if Y)    |
//! +-+-+-+-+-+-+-+-+---------------------------+---------------------------+
//! ```
//! A value below 8 is stored in the three bits of the config byte; a larger one follows it
//! big-endian in the fewest bytes that hold it. The header is sent in the clear and
//! authenticated as associated data, so this module only encodes and parses: it never decides
//! whether a KID or counter is acceptable.

use core::fmt;

/// Longest possible header: the config byte, an 8-byte KID and an 8-byte counter.
pub const MAX_HEADER_LEN: usize = 17;

/// A key id: names the sender key a frame was encrypted with. Chosen at random per track.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub u64);

/// A frame counter: rises by one per frame a sender key encrypts, and makes each nonce unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Counter(pub u64);

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({:#018x})", self.0)
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A parsed or to-be-written SFrame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Which key encrypted the frame.
    pub kid: Kid,
    /// The frame's counter under that key.
    pub ctr: Counter,
}

/// Why bytes are not an SFrame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The input ends before the header does.
    #[error("SFrame header truncated: needs {needed} bytes, has {available}")]
    Truncated {
        /// Bytes the config byte announces.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
}

impl Header {
    /// A header for `kid` and `ctr`.
    pub fn new(kid: Kid, ctr: Counter) -> Self {
        Header { kid, ctr }
    }

    /// Bytes this header takes when encoded.
    pub fn encoded_len(&self) -> usize {
        1 + extra_len(self.kid.0) + extra_len(self.ctr.0)
    }

    /// Writes the header into the front of `out` and returns how many bytes it took.
    ///
    /// # Panics
    /// If `out` is shorter than [`Header::encoded_len`]: a caller bug, never input-dependent.
    pub fn write(&self, out: &mut [u8]) -> usize {
        let (kid, ctr) = (self.kid.0, self.ctr.0);
        let (kid_len, ctr_len) = (extra_len(kid), extra_len(ctr));
        out[0] = field_bits(kid, kid_len) << 4 | field_bits(ctr, ctr_len);
        out[1..1 + kid_len].copy_from_slice(&kid.to_be_bytes()[8 - kid_len..]);
        out[1 + kid_len..1 + kid_len + ctr_len].copy_from_slice(&ctr.to_be_bytes()[8 - ctr_len..]);
        1 + kid_len + ctr_len
    }

    /// The encoded header in a fixed buffer, with its length: for callers that want it by value.
    pub fn to_bytes(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = self.write(&mut buf);
        (buf, len)
    }

    /// Parses a header from the front of `input`; returns it and the number of bytes it took.
    pub fn parse(input: &[u8]) -> Result<(Header, usize), HeaderError> {
        let config = *input.first().ok_or(HeaderError::Truncated {
            needed: 1,
            available: 0,
        })?;
        let kid_len = field_len(config >> 4);
        let ctr_len = field_len(config & 0x0f);
        let needed = 1 + kid_len + ctr_len;
        if input.len() < needed {
            return Err(HeaderError::Truncated {
                needed,
                available: input.len(),
            });
        }
        let kid = field_value(config >> 4, &input[1..1 + kid_len]);
        let ctr = field_value(config & 0x0f, &input[1 + kid_len..needed]);
        Ok((Header::new(Kid(kid), Counter(ctr)), needed))
    }
}

/// Bytes a value needs after the config byte: 0 if it fits in three bits, else its minimal
/// big-endian length.
fn extra_len(value: u64) -> usize {
    if value < 8 {
        0
    } else {
        8 - (value.leading_zeros() as usize / 8)
    }
}

/// The four config bits of one field: the value itself, or the extension flag and length − 1.
fn field_bits(value: u64, extra: usize) -> u8 {
    if extra == 0 {
        value as u8
    } else {
        0x08 | (extra as u8 - 1)
    }
}

/// Bytes a field's four config bits announce after the config byte.
fn field_len(bits: u8) -> usize {
    if bits & 0x08 == 0 {
        0
    } else {
        usize::from(bits & 0x07) + 1
    }
}

fn field_value(bits: u8, bytes: &[u8]) -> u64 {
    if bits & 0x08 == 0 {
        u64::from(bits & 0x07)
    } else {
        bytes.iter().fold(0, |acc, &b| acc << 8 | u64::from(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(kid: u64, ctr: u64, trailing in proptest::collection::vec(any::<u8>(), 0..4)) {
            let header = Header::new(Kid(kid), Counter(ctr));
            let (bytes, len) = header.to_bytes();
            prop_assert_eq!(len, header.encoded_len());
            let mut input = bytes[..len].to_vec();
            input.extend_from_slice(&trailing);
            prop_assert_eq!(Header::parse(&input), Ok((header, len)));
        }

        #[test]
        fn every_truncation_is_an_error(kid: u64, ctr: u64) {
            let (bytes, len) = Header::new(Kid(kid), Counter(ctr)).to_bytes();
            for cut in 0..len {
                let truncated = matches!(Header::parse(&bytes[..cut]), Err(HeaderError::Truncated { .. }));
                prop_assert!(truncated, "cut at {}", cut);
            }
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(input in proptest::collection::vec(any::<u8>(), 0..20)) {
            if let Ok((header, len)) = Header::parse(&input) {
                prop_assert!(len <= input.len() && len <= MAX_HEADER_LEN);
                prop_assert!(header.encoded_len() <= len);
            }
        }
    }

    #[test]
    fn small_values_live_in_the_config_byte() {
        assert_eq!(Header::new(Kid(7), Counter(5)).to_bytes().0[0], 0x75);
        assert_eq!(Header::new(Kid(7), Counter(5)).encoded_len(), 1);
    }

    #[test]
    fn largest_header_is_seventeen_bytes() {
        assert_eq!(
            Header::new(Kid(u64::MAX), Counter(u64::MAX)).encoded_len(),
            MAX_HEADER_LEN
        );
    }
}
