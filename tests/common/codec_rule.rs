//! The clear prefix each codec's rule allows, written again from the codec specifications for
//! the proofs, apart from the app's own `veilig_e2ee::Codec::clear_prefix_len`: a test that
//! asked the app how many bytes may stay in the clear would accept any prefix the app chose,
//! an over-long one included.
//!
//! The rule (README, "Frame layout"): Opus keeps its TOC byte (RFC 6716 §3.1); VP8 keeps its
//! 3-byte frame tag, and on key frames also the start code and dimensions, 10 bytes in all
//! (RFC 6386 §9.1); VP9 and AV1 keep nothing; H.264 keeps every byte up to and including the NAL
//! header of the first coded slice (types 1 to 5, ITU-T H.264 §7.4.1.2).
//!
//! What this does not do: parse more of a frame than the rule needs, or accept a frame the rule
//! cannot place (a VP8 key frame without its start code, an H.264 frame without a slice): those
//! give `None`, and the proof counts them as failures.

/// The clear-prefix length the codec rule gives for `frame` (plaintext or its encrypted form,
/// whose prefix is the same), or `None` when the frame does not fit its codec.
pub fn clear_prefix(mime: &str, frame: &[u8]) -> Option<usize> {
    let codec = mime.rsplit('/').next()?.to_ascii_lowercase();
    let prefix = match codec.as_str() {
        "opus" => 1,
        "vp9" | "av1" => 0,
        "vp8" => {
            // Bit 0 of the first byte is "show... inverse key frame": 0 means a key frame,
            // which must carry the start code 9d 01 2a after the 3-byte tag.
            let key_frame = frame.first()? & 1 == 0;
            if key_frame {
                (frame.get(3..6)? == [0x9d, 0x01, 0x2a]).then_some(10)?
            } else {
                3
            }
        }
        "h264" => return h264_first_slice_end(frame),
        _ => return None,
    };
    (frame.len() >= prefix).then_some(prefix)
}

/// Just past the NAL header of the first coded slice, in an Annex B frame that starts with a
/// start code.
fn h264_first_slice_end(frame: &[u8]) -> Option<usize> {
    if !(frame.starts_with(&[0, 0, 1]) || frame.starts_with(&[0, 0, 0, 1])) {
        return None;
    }
    let mut at = 0;
    while at + 3 <= frame.len() {
        if frame[at..at + 3] == [0, 0, 1] {
            let header = at + 3;
            let nal_type = frame.get(header)? & 0x1f;
            if (1..=5).contains(&nal_type) {
                return Some(header + 1);
            }
            at = header;
        } else {
            at += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::clear_prefix;

    #[test]
    fn the_rule_for_each_codec() {
        assert_eq!(clear_prefix("audio/opus", &[0x78, 1, 2]), Some(1));
        assert_eq!(clear_prefix("video/VP8", &[0x31, 0, 0, 9]), Some(3));
        let key = [0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 7, 7];
        assert_eq!(clear_prefix("video/VP8", &key), Some(10));
        assert_eq!(clear_prefix("video/VP8", &[0x10, 0, 0, 1, 2, 3, 4]), None);
        assert_eq!(clear_prefix("video/VP9", &[1, 2]), Some(0));
        let h264 = [0, 0, 0, 1, 0x67, 9, 0, 0, 1, 0x68, 9, 0, 0, 1, 0x65, 8, 8];
        assert_eq!(clear_prefix("video/H264", &h264), Some(15));
        assert_eq!(clear_prefix("video/H264", &[0, 0, 1, 0x67, 9]), None);
    }
}
