//! How much of each codec's frame stays in the clear, and the H.264 start-code escaping.
//!
//! The browser's RTP packetizer and the relay (an SFU) read a few leading bytes of every frame:
//! the VP8 payload descriptor's key-frame bit and dimensions, Opus's TOC byte, H.264's NAL unit
//! headers. Those bytes stay unencrypted (but authenticated, as SFrame metadata); everything
//! else is ciphertext. The rules, per codec:
//!
//! | codec | clear prefix |
//! |-------|--------------|
//! | VP8   | 10 bytes on key frames (frame tag, start code, dimensions), 3 on delta frames (frame tag) |
//! | Opus  | 1 byte (the TOC) |
//! | VP9, AV1 | none: their RTP payload descriptors are built from encoder metadata, not the frame |
//! | H.264 | every byte up to and including the NAL header of the first slice (types 1–5) |
//!
//! H.264 is packetized by splitting the frame at start codes (`00 00 01`), so the encrypted tail
//! must not contain one. [`escape_start_codes`] applies H.264's own emulation prevention to the
//! tail: after two zero bytes, a byte ≤ 3 is preceded by an inserted `03`; and a tail that ends
//! in two zero bytes gets a final `03`, as if the end were followed by such a byte.
//! [`unescape_start_codes`] removes every `03` that follows two zeros.
//!
//! A frame shorter than its codec's prefix is malformed for that codec: it is refused, never
//! sent with its whole content in the clear.

/// A media codec whose frames Veilig encrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus audio.
    Opus,
    /// VP8 video: Veilig's default for camera and screen share.
    Vp8,
    /// VP9 video.
    Vp9,
    /// AV1 video.
    Av1,
    /// H.264 video in Annex B form (start codes between NAL units), as WebRTC hands it out.
    H264,
}

/// Why a frame does not fit its codec's clear-prefix rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The frame is shorter than the codec's clear prefix.
    #[error("{codec:?} frame of {len} bytes is shorter than its {prefix}-byte clear prefix")]
    ShorterThanPrefix {
        /// The codec.
        codec: Codec,
        /// The frame's length.
        len: usize,
        /// The prefix the codec needs.
        prefix: usize,
    },
    /// An H.264 frame that does not start with a start code.
    #[error("H.264 frame does not start with a start code")]
    NoStartCode,
    /// An H.264 frame without a coded slice.
    #[error("H.264 frame has no slice NAL unit")]
    NoSlice,
}

/// Clear-prefix lengths for VP8 (RFC 6386 §9.1: 3-byte frame tag; key frames add a 3-byte start
/// code and 4 bytes of dimensions).
const VP8_KEY_FRAME_PREFIX: usize = 10;
const VP8_DELTA_FRAME_PREFIX: usize = 3;
const OPUS_PREFIX: usize = 1;

impl Codec {
    /// The codec named by a WebRTC mime type (`video/VP8`, `audio/opus`, ...), case-insensitive.
    pub fn from_mime_type(mime: &str) -> Option<Codec> {
        let (_, name) = mime.split_once('/')?;
        [
            ("opus", Codec::Opus),
            ("vp8", Codec::Vp8),
            ("vp9", Codec::Vp9),
            ("av1", Codec::Av1),
            ("h264", Codec::H264),
        ]
        .into_iter()
        .find(|(known, _)| name.eq_ignore_ascii_case(known))
        .map(|(_, codec)| codec)
    }

    /// The WebRTC mime type of this codec.
    pub fn mime_type(self) -> &'static str {
        match self {
            Codec::Opus => "audio/opus",
            Codec::Vp8 => "video/VP8",
            Codec::Vp9 => "video/VP9",
            Codec::Av1 => "video/AV1",
            Codec::H264 => "video/H264",
        }
    }

    /// Whether the encrypted part must be escaped so that it contains no start code.
    pub fn escapes_start_codes(self) -> bool {
        self == Codec::H264
    }

    /// Number of leading bytes of `frame` that stay in the clear. Gives the same answer for a
    /// plaintext frame and for its encrypted form, whose prefix is unchanged; that is how the
    /// receiver finds where the SFrame header starts.
    pub fn clear_prefix_len(self, frame: &[u8]) -> Result<usize, CodecError> {
        let prefix = match self {
            Codec::Vp9 | Codec::Av1 => 0,
            Codec::Opus => OPUS_PREFIX,
            Codec::Vp8 => match frame.first() {
                // Bit 0 of the frame tag is the inverse key-frame flag.
                Some(tag) if tag & 0x01 == 0 => VP8_KEY_FRAME_PREFIX,
                _ => VP8_DELTA_FRAME_PREFIX,
            },
            Codec::H264 => return h264_prefix_len(frame),
        };
        if frame.len() < prefix {
            return Err(CodecError::ShorterThanPrefix {
                codec: self,
                len: frame.len(),
                prefix,
            });
        }
        Ok(prefix)
    }
}

/// Offset just past the NAL header of the first coded slice of an Annex B H.264 frame.
fn h264_prefix_len(frame: &[u8]) -> Result<usize, CodecError> {
    let mut nal_starts = annex_b_nal_starts(frame);
    match nal_starts.next() {
        Some(0) => {}
        _ => return Err(CodecError::NoStartCode),
    }
    annex_b_nal_starts(frame)
        .map(|start_code_at| nal_header_offset(frame, start_code_at))
        .find(|&header| {
            frame
                .get(header)
                .is_some_and(|&h| (1..=5).contains(&(h & 0x1f)))
        })
        .map(|header| header + 1)
        .ok_or(CodecError::NoSlice)
}

/// Offsets where a start code (`00 00 01`, or `00 00 00 01` counted from its first zero)
/// begins.
fn annex_b_nal_starts(frame: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut pos = 0;
    core::iter::from_fn(move || {
        let found = frame.get(pos..)?.windows(3).position(|w| w == [0, 0, 1])? + pos;
        pos = found + 3;
        Some(if found > 0 && frame[found - 1] == 0 {
            found - 1
        } else {
            found
        })
    })
}

/// The NAL header's offset for a start code beginning at `start`.
fn nal_header_offset(frame: &[u8], start: usize) -> usize {
    if frame[start..].starts_with(&[0, 0, 0, 1]) {
        start + 4
    } else {
        start + 3
    }
}

/// Appends `input` to `out` with H.264 emulation prevention, so `out`'s new bytes contain no
/// `00 00 00`, `00 00 01` or `00 00 02`, and do not end in `00 00`.
pub fn escape_start_codes(input: &[u8], out: &mut Vec<u8>) {
    let mut zeros = 0usize;
    for &byte in input {
        if zeros >= 2 && byte <= 3 {
            out.push(0x03);
            zeros = 0;
        }
        out.push(byte);
        zeros = if byte == 0 { zeros + 1 } else { 0 };
    }
    if zeros >= 2 {
        out.push(0x03);
    }
}

/// An escaped H.264 tail that [`escape_start_codes`] cannot have produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EscapeError {
    /// `00 00` followed by `00`, `01` or `02`: a start code inside the encrypted tail.
    #[error("start code inside an escaped H.264 tail")]
    StartCode,
    /// An inserted `03` that escapes nothing (followed by a byte above `03`), or a trailing
    /// `00 00` without its `03`: not the one canonical encoding.
    #[error("non-canonical escaping in an H.264 tail")]
    NonCanonical,
}

/// Appends `input` to `out` with every `03` that follows two zero bytes removed: the inverse of
/// [`escape_start_codes`]. Accepts only what that function produces, so every plaintext has
/// exactly one wire form: inserting or removing an escape byte cannot make a second,
/// differently-looking copy of a frame that still decrypts.
pub fn unescape_start_codes(input: &[u8], out: &mut Vec<u8>) -> Result<(), EscapeError> {
    let mut zeros = 0usize;
    let mut escaped = false;
    for &byte in input {
        if escaped && byte > 0x03 {
            return Err(EscapeError::NonCanonical);
        }
        escaped = false;
        if zeros >= 2 {
            match byte {
                0x03 => {
                    zeros = 0;
                    escaped = true;
                    continue;
                }
                0x00..=0x02 => return Err(EscapeError::StartCode),
                _ => {}
            }
        }
        out.push(byte);
        zeros = if byte == 0 { zeros + 1 } else { 0 };
    }
    if zeros >= 2 {
        return Err(EscapeError::NonCanonical);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn has_start_code_emulation(bytes: &[u8]) -> bool {
        bytes
            .windows(3)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
            || bytes.ends_with(&[0, 0])
    }

    proptest! {
        #[test]
        fn escaping_round_trips_and_leaves_no_start_code(
            input in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(3u8), any::<u8>()], 0..200)
        ) {
            let mut escaped = Vec::new();
            escape_start_codes(&input, &mut escaped);
            prop_assert!(!has_start_code_emulation(&escaped), "{escaped:02x?}");
            let mut back = Vec::new();
            prop_assert_eq!(unescape_start_codes(&escaped, &mut back), Ok(()));
            prop_assert_eq!(back, input);
        }

        /// Every accepted wire form re-escapes to itself: one encoding per plaintext.
        #[test]
        fn unescaping_accepts_only_canonical_input(
            input in proptest::collection::vec(prop_oneof![Just(0u8), Just(3u8), any::<u8>()], 0..100)
        ) {
            let mut plain = Vec::new();
            if unescape_start_codes(&input, &mut plain).is_ok() {
                let mut again = Vec::new();
                escape_start_codes(&plain, &mut again);
                prop_assert_eq!(again, input);
            }
        }
    }

    #[test]
    fn unescaping_refuses_start_codes_and_stray_escapes() {
        let mut out = Vec::new();
        assert_eq!(
            unescape_start_codes(&[7, 0, 0, 1], &mut out),
            Err(EscapeError::StartCode)
        );
        assert_eq!(
            unescape_start_codes(&[0, 0, 3, 9], &mut out),
            Err(EscapeError::NonCanonical)
        );
        assert_eq!(
            unescape_start_codes(&[5, 0, 0], &mut out),
            Err(EscapeError::NonCanonical)
        );
        out.clear();
        assert_eq!(
            unescape_start_codes(&[0, 0, 3, 3, 0, 0, 3], &mut out),
            Ok(())
        );
        assert_eq!(out, [0, 0, 3, 0, 0]);
    }

    #[test]
    fn escaping_follows_h264_emulation_prevention() {
        let cases: [(&[u8], &[u8]); 5] = [
            (&[0, 0, 1], &[0, 0, 3, 1]),
            (&[0, 0, 0, 0], &[0, 0, 3, 0, 0, 3]),
            (&[0, 0, 4], &[0, 0, 4]),
            (&[0, 0, 3], &[0, 0, 3, 3]),
            (&[7, 0], &[7, 0]),
        ];
        for (input, expected) in cases {
            let mut out = Vec::new();
            escape_start_codes(input, &mut out);
            assert_eq!(out, expected, "escaping {input:02x?}");
        }
    }

    #[test]
    fn mime_types_map_to_codecs() {
        assert_eq!(Codec::from_mime_type("video/VP8"), Some(Codec::Vp8));
        assert_eq!(Codec::from_mime_type("audio/OPUS"), Some(Codec::Opus));
        assert_eq!(Codec::from_mime_type("video/h264"), Some(Codec::H264));
        assert_eq!(Codec::from_mime_type("video/H265"), None);
        assert_eq!(Codec::from_mime_type("vp8"), None);
        for codec in [Codec::Opus, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::H264] {
            assert_eq!(Codec::from_mime_type(codec.mime_type()), Some(codec));
        }
    }

    #[test]
    fn vp8_prefix_depends_on_the_key_frame_bit() {
        let key = [
            0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xff,
        ];
        let delta = [0x51, 0x2a, 0x00, 0xff];
        assert_eq!(Codec::Vp8.clear_prefix_len(&key), Ok(10));
        assert_eq!(Codec::Vp8.clear_prefix_len(&delta), Ok(3));
        assert!(matches!(
            Codec::Vp8.clear_prefix_len(&key[..9]),
            Err(CodecError::ShorterThanPrefix { prefix: 10, .. })
        ));
    }

    #[test]
    fn h264_prefix_runs_through_the_first_slice_nal_header() {
        // SPS, PPS (4-byte start codes), then an IDR slice (3-byte start code).
        let frame = [
            0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, //
            0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, //
            0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33,
        ];
        assert_eq!(Codec::H264.clear_prefix_len(&frame), Ok(20));
        let delta = [0, 0, 0, 1, 0x41, 0x9a, 0x02];
        assert_eq!(Codec::H264.clear_prefix_len(&delta), Ok(5));
        assert_eq!(
            Codec::H264.clear_prefix_len(&[0x41, 0, 0, 1, 0x41]),
            Err(CodecError::NoStartCode)
        );
        assert_eq!(
            Codec::H264.clear_prefix_len(&frame[..16]),
            Err(CodecError::NoSlice)
        );
        assert_eq!(
            Codec::H264.clear_prefix_len(&[0, 0, 1]),
            Err(CodecError::NoSlice)
        );
    }
}
